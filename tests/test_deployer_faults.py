"""Deployer faults, through the CLI against the emulator and through botocore's Stubber: expired
credentials mid-wait, AccessDenied on upload, a bucket in another region, change set creation
refused, a throttling storm beyond the retries, Ctrl-C while a change set is created and while an
execution is followed. Each is one line (no traceback) with the right exit code, nothing is executed
that was not reviewed, and a failed upload never leaves a root pointing at a missing child."""

from __future__ import annotations

import boto3
import botocore.client
import botocore.waiter
import pytest
from botocore.exceptions import ClientError
from botocore.stub import ANY, Stubber

import generate
from deployer import execute as execute_module
from deployer.changeset import ChangeSetRef, Waiting, create_change_set
from deployer.errors import DeployerError
from deployer.execute import execute
from deployer.session import DEFAULT_MAX_ATTEMPTS, Aws
from tests.test_deployer_e2e import BUCKET, REGION, STACK, cli, clients  # noqa: F401 (fixtures)
from tests.test_deployer_units import CS_ID, NOW, STACK_ID, UPLOAD, FakeBundle

EXPIRED = "The security token included in the request is expired"


@pytest.fixture
def api(monkeypatch):
    """Every AWS call (operation, params) in order, and `api.fail[operation] = (predicate, code, message)`."""

    class Api:
        calls: list = []
        fail: dict = {}

        def operations(self, *names):
            return [op for op, _ in self.calls if op in names]

    recorder = Api()
    recorder.calls, recorder.fail = [], {}
    original = botocore.client.BaseClient._make_api_call

    def call(self, operation, params):
        recorder.calls.append((operation, params))
        if operation in recorder.fail:
            predicate, code, message = recorder.fail[operation]
            if predicate(params):
                raise ClientError(
                    {"Error": {"Code": code, "Message": message}, "ResponseMetadata": {"HTTPStatusCode": 403}},
                    operation,
                )
        return original(self, operation, params)

    monkeypatch.setattr(botocore.client.BaseClient, "_make_api_call", call)
    return recorder


def one_line_error(result) -> str:
    assert "Traceback" not in result.output
    errors = [line for line in result.output.splitlines() if line.startswith("error:")]
    assert len(errors) == 1, result.output
    return errors[0]


# ------------------------------------------------------------------ uploads


def test_access_denied_on_a_child_upload_never_puts_the_root_nor_plans(aws_env, clients, tmp_path, api):
    s3, _ = clients
    api.fail["PutObject"] = (
        lambda p: "/data." in p["Key"],
        "AccessDenied",
        "User: arn:aws:iam::123456789012:user/ci is not authorized to perform: s3:PutObject",
    )
    result = cli(aws_env, tmp_path, "deploy", "--yes")
    assert result.exit_code == 1
    assert one_line_error(result) == (
        "error: access denied for PutObject: User: arn:aws:iam::123456789012:user/ci is not authorized to perform: "
        "s3:PutObject "
        "(README.md, section Deploying, lists the permissions the deployer needs)"
    )
    put = [p["Key"] for op, p in api.calls if op == "PutObject"]
    assert any("/data." in key for key in put)
    assert not any("/root." in key for key in put)  # children first; the root is never put after a failed child
    assert not any("/root." in o["Key"] for o in s3.list_objects_v2(Bucket=BUCKET).get("Contents", []))
    assert api.operations("CreateChangeSet", "ExecuteChangeSet") == []


def test_a_bucket_in_another_region_is_refused_before_any_upload(aws_env, tmp_path, api):
    s3 = boto3.client("s3", region_name="us-west-2", endpoint_url=aws_env)
    s3.create_bucket(Bucket=BUCKET, CreateBucketConfiguration={"LocationConstraint": "us-west-2"})
    result = cli(aws_env, tmp_path, "plan")
    assert result.exit_code == 1
    assert one_line_error(result) == (
        f"error: bucket {BUCKET} is in us-west-2, the stack in {REGION}: CloudFormation reads templates from a "
        "bucket in the stack's region; "
        f"use one there (`cfn-strata bootstrap --bucket NAME --region {REGION}`)"
    )
    assert api.operations("PutObject", "CreateChangeSet") == []


# ------------------------------------------------------------------ change sets


def test_change_set_creation_refused_is_one_line_and_nothing_is_executed(aws_env, clients, tmp_path, api):
    api.fail["CreateChangeSet"] = (
        lambda p: True,
        "ValidationError",
        "Template format error: Unresolved resource dependencies [VpcId] in the Resources block of the template",
    )
    result = cli(aws_env, tmp_path, "deploy", "--yes")
    assert result.exit_code == 1
    assert (
        one_line_error(result)
        == "error: AWS error on CreateChangeSet: ValidationError: Template format error: Unresolved resource "
        "dependencies [VpcId] in the Resources block of the template"
    )
    assert api.operations("ExecuteChangeSet") == []


def test_a_throttling_storm_beyond_the_retries_is_one_line(aws_env, clients, tmp_path, monkeypatch, api):
    monkeypatch.setattr("botocore.endpoint.time.sleep", lambda seconds: None)
    monkeypatch.setattr("botocore.retries.bucket.TokenBucket._sleep_amount", lambda self, amount: 0)
    from botocore.awsrequest import AWSResponse

    throttled = []

    class Raw:
        def stream(self, **_):
            yield (
                b"<ErrorResponse><Error><Type>Sender</Type><Code>Throttling</Code>"
                b"<Message>Rate exceeded</Message></Error><RequestId>1</RequestId></ErrorResponse>"
            )

    def always(request, **_):
        throttled.append(request.url)
        return AWSResponse(request.url, 400, {}, Raw())

    original = Aws.client

    def client(self, service):
        made = original(self, service)
        if service == "cloudformation" and not getattr(made, "storm", False):
            made.meta.events.register("before-send.cloudformation.CreateChangeSet", always)
            made.storm = True
        return made

    monkeypatch.setattr(Aws, "client", client)
    result = cli(aws_env, tmp_path, "deploy", "--yes")
    assert result.exit_code == 1
    assert (
        one_line_error(result)
        == "error: AWS kept throttling CreateChangeSet beyond the retries: wait a minute and run again (or raise "
        "AWS_MAX_ATTEMPTS)"
    )
    assert (
        len(throttled) == 1 + DEFAULT_MAX_ATTEMPTS
    )  # the first attempt and every retry (botocore's max_attempts counts retries)
    assert api.operations("ExecuteChangeSet") == []


def stub_create(stub):
    stub.add_client_error("describe_stacks", "ValidationError", f"Stack with id {FakeBundle.stack_name} does not exist")
    stub.add_response(
        "create_change_set",
        {"Id": CS_ID, "StackId": STACK_ID},
        {
            "StackName": FakeBundle.stack_name,
            "ChangeSetName": "cfn-strata-20250101-120000-abababab",
            "ChangeSetType": "CREATE",
            "TemplateURL": ANY,
            "IncludeNestedStacks": True,
            "Capabilities": ANY,
            "Parameters": ANY,
            "Tags": ANY,
            "Description": ANY,
        },
    )


def test_credentials_expiring_while_the_change_set_is_created_say_so_and_how_to_review_it():
    cfn = boto3.client("cloudformation", region_name=REGION, aws_access_key_id="x", aws_secret_access_key="x")
    with Stubber(cfn) as stub:
        stub_create(stub)
        stub.add_client_error(
            "describe_change_set", "ExpiredToken", EXPIRED, 403, expected_params={"ChangeSetName": CS_ID}
        )
        with pytest.raises(DeployerError) as failed:
            create_change_set(cfn, FakeBundle(), UPLOAD, now=NOW, waiting=Waiting(delay=0, max_attempts=3))
        stub.assert_no_pending_responses()
    message = str(failed.value)
    assert "\n" not in message
    assert message.startswith("the AWS credentials have expired (")
    assert message.endswith(
        "refresh them (`aws sso login`, a new session token) and retry; the change set "
        "cfn-strata-20250101-120000-abababab may still be created: "
        "review it with `cfn-strata review product-catalog --env dev --change-set cfn-strata-20250101-120000-abababab`"
    )


def test_credentials_expiring_while_following_an_execution_say_the_operation_goes_on():
    cfn = boto3.client("cloudformation", region_name=REGION, aws_access_key_id="x", aws_secret_access_key="x")
    ref = ChangeSetRef(STACK, STACK_ID, CS_ID, "cs", "UPDATE")
    with Stubber(cfn) as stub:
        stub.add_response("describe_stack_events", {"StackEvents": []}, {"StackName": STACK_ID})
        stub.add_response("execute_change_set", {}, {"ChangeSetName": CS_ID})
        stub.add_response("describe_stack_events", {"StackEvents": []}, {"StackName": STACK_ID})
        stub.add_client_error("describe_stacks", "ExpiredToken", EXPIRED, 403)
        with pytest.raises(DeployerError) as failed:
            execute(cfn, ref, sleep=lambda s: None, delay=0, on_event=lambda e: None)
        stub.assert_no_pending_responses()
    assert str(failed.value) == (
        "the AWS credentials have expired (DescribeStacks): refresh them (`aws sso login`, a new session token) "
        "and retry; "
        f"stopped following {STACK}, its operation goes on: aws cloudformation describe-stack-events --stack-name "
        f"{STACK} --region {REGION}"
    )
    assert generate._deployer_error(failed.value) == str(failed.value)  # the CLI prints exactly this line, exit 1


# ------------------------------------------------------------------ Ctrl-C


def root_only_params(tmp_path):
    """product-catalog without its us-east-1 global stack (no CloudFront web ACL): the root's
    change set is the first one made (the global stack's Ctrl-C: tests/test_global_stack.py)."""
    import shutil

    from tests.test_deployer_e2e import PARAMS

    params = tmp_path / "params"
    shutil.copytree(PARAMS, params)
    base = params / "product-catalog" / "base.yaml"
    assert base.read_text().count("  waf:\n    cloudfront: true") == 1
    base.write_text(base.read_text().replace("  waf:\n    cloudfront: true", "  waf:\n    cloudfront: false"))
    return params


@pytest.mark.parametrize("command", ["plan", "deploy"])
def test_ctrl_c_while_the_change_set_is_created_executes_nothing_and_exits_130(
    aws_env, clients, tmp_path, monkeypatch, api, command
):
    def interrupted(self, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(botocore.waiter.Waiter, "wait", interrupted)
    result = cli(
        aws_env, tmp_path, command, *(["--yes"] if command == "deploy" else []), params=root_only_params(tmp_path)
    )
    assert result.exit_code == 130, result.output
    name = api.calls[[op for op, _ in api.calls].index("CreateChangeSet")][1]["ChangeSetName"]
    assert (
        f"stopped waiting; change set {name} is still being created on {STACK} and nothing was executed. "
        f"Review it with: cfn-strata review product-catalog --env dev --change-set {name}"
    ) in " ".join(result.output.split())
    assert "Traceback" not in result.output
    assert api.operations("ExecuteChangeSet", "SetStackPolicy") == []


def test_ctrl_c_while_following_the_execution_leaves_it_running_and_says_how_to_follow(
    aws_env, clients, tmp_path, monkeypatch, api
):
    def interrupted(self):
        raise KeyboardInterrupt

    monkeypatch.setattr(execute_module.Follower, "poll", interrupted)
    result = cli(aws_env, tmp_path, "deploy", "--yes", params=root_only_params(tmp_path))
    assert result.exit_code == 130, result.output
    assert (
        "stopped waiting; the stack operation goes on. Follow it with: aws cloudformation describe-stack-events "
        f"--stack-name {STACK} --region {REGION}" in " ".join(result.output.split())
    )
    assert api.operations("ExecuteChangeSet") == ["ExecuteChangeSet"]  # the reviewed one, once
    assert "CREATE_COMPLETE: " not in result.output

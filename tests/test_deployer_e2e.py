"""End to end over HTTP against moto's server (one per module) with real boto3 clients, through
the CLI: first deploy, nothing changed, a changed template, a stack left in REVIEW_IN_PROGRESS,
throttling retried, missing credentials, missing bucket, --fail-on exit codes."""

from __future__ import annotations

import json
import shutil
import urllib.request
from pathlib import Path

import boto3
import pytest
from click.testing import CliRunner

import generate
from deployer import flow
from deployer.bundle import load_bundle
from deployer.changeset import Waiting
from deployer.session import Aws

REGION = "eu-north-1"
BUCKET = "cfn-strata-test-templates"
STACK = "product-catalog-pr5706"
PARAMS = Path(__file__).resolve().parents[1] / "params"


@pytest.fixture
def clients(aws_env):
    session = boto3.Session(region_name=REGION)
    s3 = session.client("s3", endpoint_url=aws_env)
    s3.create_bucket(Bucket=BUCKET, CreateBucketConfiguration={"LocationConstraint": REGION})
    return s3, session.client("cloudformation", endpoint_url=aws_env)


def cli(endpoint, tmp_path, *args, params=PARAMS):
    common = [
        "--env",
        "dev",
        "--endpoint-url",
        endpoint,
        "--bucket",
        BUCKET,
        "--out",
        str(tmp_path / "dist"),
        "--params",
        str(params),
        "--skip-lint",
    ]
    return CliRunner().invoke(generate.cli, [*args, "product-catalog", *common], catch_exceptions=False)


def template_root_parameters():
    from tests.conftest import template

    return template("product-catalog", "dev", "root").get("Parameters", {})


def _expected():
    """What the current generator produces for the profile: files, root outputs, nested layers."""
    from tests.conftest import rendered, template

    manifest = rendered("product-catalog", "dev").manifest
    files = [
        entry["file"] for entry in manifest["templates"] if entry["scope"] in ("root", "nested")
    ]  # global.json goes to us-east-1 as TemplateBody
    nested = [stack for stack in manifest["stacks"] if stack["scope"] == "nested"]
    return files, set(template("product-catalog", "dev", "root").get("Outputs", {})), nested


def test_first_deploy_then_nothing_changed(aws_env, clients, tmp_path):
    s3, cfn = clients
    files, root_outputs, nested = _expected()
    first = cli(aws_env, tmp_path, "deploy", "--yes")
    assert first.exit_code == 0, first.output
    assert f"uploaded {len(files)} of {len(files)} template(s)" in first.output
    assert "CREATE_COMPLETE: product-catalog-pr5706" in first.output
    stack = cfn.describe_stacks(StackName=STACK)["Stacks"][0]
    assert stack["StackStatus"] == "CREATE_COMPLETE"
    outputs = {o["OutputKey"]: o["OutputValue"] for o in stack["Outputs"]}
    assert set(outputs) == root_outputs
    assert outputs["NetworkVpcId"].startswith("vpc-")
    keys = sorted(o["Key"] for o in s3.list_objects_v2(Bucket=BUCKET)["Contents"])
    assert [k.split(".")[0] for k in keys] == sorted(f"product-catalog/dev/{f.split('.')[0]}" for f in files)
    assert all(s3.head_object(Bucket=BUCKET, Key=k)["ServerSideEncryption"] == "AES256" for k in keys)
    by_layer = {k.split("/")[-1].split(".")[0]: k for k in keys}
    root = json.loads(s3.get_object(Bucket=BUCKET, Key=by_layer["root"])["Body"].read())
    for stack_entry in nested:
        url = root["Resources"][stack_entry["logical_id"]]["Properties"]["TemplateURL"]
        assert url == f"https://{BUCKET}.s3.{REGION}.amazonaws.com/{by_layer[stack_entry['layer']]}"
    configuration = json.loads((tmp_path / "dist/product-catalog/dev/template-configuration.json").read_text())
    assert configuration["Parameters"]["CertificateArn"] == ""
    assert set(configuration["Parameters"]) == set(template_root_parameters())
    assert configuration["Tags"] == {
        "Environment": "development",
        "EnvironmentSuffix": "pr5706",
        "Project": "catalog-api",
    }

    second = cli(aws_env, tmp_path, "deploy", "--yes")
    assert second.exit_code == 0, second.output
    assert f"uploaded 0 of {len(files)} template(s)" in second.output
    assert "no changes" in second.output
    # the empty change set was deleted: only the executed one is left
    assert [c["ExecutionStatus"] for c in cfn.list_change_sets(StackName=STACK)["Summaries"]] == ["EXECUTE_COMPLETE"]


def test_changed_template_uploads_new_keys_and_plans_changes(aws_env, clients, tmp_path):
    s3, cfn = clients
    assert cli(aws_env, tmp_path, "deploy", "--yes").exit_code == 0
    params = tmp_path / "params"
    shutil.copytree(PARAMS, params)
    (params / "product-catalog/dev.yaml").write_text("tags:\n  Environment: development-2\n")
    result = cli(aws_env, tmp_path, "plan", "-o", "json", params=params)
    assert result.exit_code == 0, result.output
    files, _, nested = _expected()
    # a changed tag changes every template's bytes: all are new keys
    assert f"uploaded {len(files)} of {len(files)} template(s)" in result.output
    review = json.loads(result.output[result.output.index("{") :])
    # the emulator reports no nested change sets: they are computed offline, per resource; a tag
    # changes in place on every layer and replaces nothing (a Ref of a resource modified in place
    # keeps its value, as CloudFormation reports with Evaluation Dynamic)
    assert {c["action"] for c in review["changes"]} == {"Modify"} and {c["replacement"] for c in review["changes"]} == {
        "False"
    }
    tagged = {
        c["layer"]
        for c in review["changes"]
        if any((p["before"], p["after"]) == ("development", "development-2") for p in c["properties"])
    }
    assert tagged == {s["layer"] for s in nested}
    assert review["highest_risk"] == "MEDIUM" and review["schema_version"] == 2
    assert len(s3.list_objects_v2(Bucket=BUCKET)["Contents"]) == 2 * len(files)
    # drift detection ran on the update and the emulator's gap is said, not hidden
    assert "drift detection is not modelled by the local emulator: drift was not checked" in review["notes"]
    assert cfn.describe_stacks(StackName=STACK)["Stacks"][0]["StackStatus"] == "CREATE_COMPLETE"  # plan never executes


def test_stack_left_in_review_in_progress_is_planned_with_create(aws_env, clients, tmp_path):
    _, cfn = clients
    cfn.create_change_set(
        StackName=STACK,
        ChangeSetName="abandoned",
        ChangeSetType="CREATE",
        TemplateBody=json.dumps({"Resources": {"T": {"Type": "AWS::SNS::Topic"}}}),
    )
    assert cfn.describe_stacks(StackName=STACK)["Stacks"][0]["StackStatus"] == "REVIEW_IN_PROGRESS"
    result = cli(aws_env, tmp_path, "deploy", "--yes")
    assert result.exit_code == 0, result.output
    assert "CREATE_COMPLETE: product-catalog-pr5706" in result.output


def test_missing_bucket_is_one_line(aws_env, tmp_path):
    result = cli(aws_env, tmp_path, "plan")
    assert result.exit_code == 1
    assert (
        f"error: bucket {BUCKET} does not exist: create it with `cfn-strata bootstrap --bucket {BUCKET}`"
        in result.output
    )
    assert "Traceback" not in result.output


def test_missing_credentials_is_one_line(aws_env, tmp_path, monkeypatch):
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN"):
        monkeypatch.delenv(name)
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    result = cli(aws_env, tmp_path, "plan")
    assert result.exit_code == 1
    assert "error: no AWS credentials found" in result.output
    assert "Traceback" not in result.output


def test_throttling_is_retried_by_botocore(aws_env, clients, tmp_path, monkeypatch):
    from botocore.awsrequest import AWSResponse

    delays = []
    monkeypatch.setattr("botocore.endpoint.time.sleep", delays.append)  # record the backoff, do not wait
    # adaptive mode then slows the client's send rate (a token bucket waiting on wall time): keep the test instant
    monkeypatch.setattr("botocore.retries.bucket.TokenBucket._sleep_amount", lambda self, amount: 0)
    generate.generate_all([("product-catalog", "dev")], str(PARAMS), tmp_path / "dist", "json")
    # the web ACL's ARN given by hand: the root's change set is created now, without the us-east-1 global stack
    bundle = load_bundle(tmp_path / "dist/product-catalog/dev").with_overrides(
        {"CloudFrontWebAclArn": "arn:aws:wafv2:us-east-1:123456789012:global/webacl/w/1"}, {}
    )
    aws = Aws(boto3.Session(region_name=REGION), aws_env)
    throttled = []

    class Raw:
        def stream(self, **_):
            yield (
                b"<ErrorResponse><Error><Type>Sender</Type><Code>Throttling</Code>"
                b"<Message>Rate exceeded</Message></Error><RequestId>1</RequestId></ErrorResponse>"
            )

    def throttle_twice(request, **_):
        if len(throttled) < 2:
            throttled.append(request.url)
            return AWSResponse(request.url, 400, {}, Raw())
        return None

    aws.client("cloudformation").meta.events.register("before-send.cloudformation.CreateChangeSet", throttle_twice)
    result = flow.plan(aws, bundle, BUCKET, waiting=Waiting(delay=0))
    assert len(throttled) == 2 and len(delays) >= 2
    assert result.outcome.type == "CREATE"
    assert cfn_status(aws) == "REVIEW_IN_PROGRESS"


def cfn_status(aws):
    return aws.client("cloudformation").describe_stacks(StackName=STACK)["Stacks"][0]["StackStatus"]


def test_fail_on_exit_codes(aws_env, clients, tmp_path, monkeypatch):
    # the web ACL's ARN by hand: the root's change set (and its review) exists without the us-east-1 global stack
    acl = ("--parameter-overrides", "CloudFrontWebAclArn=arn:aws:wafv2:us-east-1:123456789012:global/webacl/w/1")
    clean = cli(aws_env, tmp_path, "plan", "--fail-on", "high", *acl)
    assert clean.exit_code == 0, clean.output  # a first create adds stacks: LOW

    risky = _recorded_review()
    monkeypatch.setattr(flow, "review_change_set", lambda *a, **k: risky)
    assert cli(aws_env, tmp_path, "plan", "--fail-on", "high", *acl).exit_code == generate.FAIL_ON_EXIT
    assert cli(aws_env, tmp_path, "plan", "--fail-on", "medium", *acl).exit_code == generate.FAIL_ON_EXIT
    refused = cli(aws_env, tmp_path, "deploy", "--yes", *acl)
    assert refused.exit_code == 1
    assert "replaces or removes stateful resources: network/FlowLogsLogGroup (DATA LOSS)" in refused.output


def _recorded_review():
    from deployer.review import Review, resource_change

    change = {
        "Action": "Modify",
        "LogicalResourceId": "FlowLogsLogGroup",
        "ResourceType": "AWS::Logs::LogGroup",
        "Replacement": "True",
        "PolicyAction": "ReplaceAndDelete",
        "Details": [
            {
                "Target": {"Attribute": "Properties", "Name": "LogGroupName", "RequiresRecreation": "Always"},
                "ChangeSource": "DirectModification",
            }
        ],
    }
    return Review(STACK, "recorded", "UPDATE", (resource_change("network", change, frozenset()),))


def test_upload_puts_the_launch_kit_and_plan_uploads_the_review_page(aws_env, clients, tmp_path):
    """Issue 9 through the CLI: upload writes docs/LAUNCH.md with the real template URLs and puts it
    beside the templates; plan -o html --upload-review puts the page and prints a presigned URL."""
    from urllib.parse import parse_qs, urlparse

    s3, _ = clients
    # the web ACL's ARN by hand (no us-east-1 global stack in this test: tests/test_global_stack.py)
    acl = ("--parameter-overrides", "CloudFrontWebAclArn=arn:aws:wafv2:us-east-1:123456789012:global/webacl/w/1")
    result = CliRunner().invoke(
        generate.cli,
        [
            "upload",
            "product-catalog",
            "--env",
            "dev",
            "--endpoint-url",
            aws_env,
            "--bucket",
            BUCKET,
            "--out",
            str(tmp_path / "dist"),
            "--params",
            str(PARAMS),
            *acl,
        ],
        catch_exceptions=False,
    )
    assert result.exit_code == 0, result.output
    launch = (tmp_path / "dist" / "product-catalog" / "dev" / "docs" / "LAUNCH.md").read_text()
    keys = {o["Key"] for o in s3.list_objects_v2(Bucket=BUCKET)["Contents"]}
    root_keys = [k for k in keys if k.startswith("product-catalog/dev/root.") and k.endswith(".json")]
    assert len(root_keys) == 1 and "product-catalog/dev/LAUNCH.md" in keys
    assert s3.get_object(Bucket=BUCKET, Key="product-catalog/dev/LAUNCH.md")["Body"].read().decode() == launch
    links = [word.strip("()<>") for word in launch.split() if "#/stacks/quickcreate?" in word]
    root_link = next(
        link for link in links if parse_qs(urlparse(link).fragment.split("?", 1)[1])["stackName"] == [STACK]
    )
    assert parse_qs(urlparse(root_link).fragment.split("?", 1)[1])["templateURL"][0].endswith(root_keys[0])

    result = cli(aws_env, tmp_path, "plan", "-o", "html", "--upload-review", "--review-name", "build-7", *acl)
    assert result.exit_code == 0, result.output
    page = s3.get_object(Bucket=BUCKET, Key="product-catalog/dev/reviews/build-7.html")
    assert page["ContentType"].startswith("text/html") and b"<html" in page["Body"].read()
    presigned = next(line for line in result.output.split() if "reviews/build-7.html" in line and "Signature" in line)
    assert urllib.request.urlopen(presigned).read().startswith(b"<!doctype html>")

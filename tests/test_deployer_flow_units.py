"""deployer/flow.py's own decisions, through Stubber-fed boto3 clients: the template bucket's
settings call by call, what `destroy` says it removes and keeps (JSON and YAML templates), the
outputs of a stack that is not there, and when the root's change set is made again after the
global stack ran."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

import boto3
import pytest
from botocore.stub import Stubber

from deployer import flow
from deployer.changeset import ChangeSetRef, NoChanges
from deployer.errors import DeployerError, NotDeployed

REGION = "eu-north-1"
BUCKET = "team-cfn-templates"
STACK = "shop-dev"
STACK_ID = f"arn:aws:cloudformation:{REGION}:111122223333:stack/{STACK}/11111111-2222-3333-4444-555555555555"
NESTED_ID = (
    f"arn:aws:cloudformation:{REGION}:111122223333:stack/{STACK}-DataStack-X/66666666-7777-8888-9999-000000000000"
)


def client(service: str, region: str = REGION):
    return boto3.client(service, region_name=region, aws_access_key_id="x", aws_secret_access_key="x")


# ------------------------------------------------------------------ the template bucket

ALL_PUBLIC_ACCESS_BLOCKED = {
    "BlockPublicAcls": True,
    "IgnorePublicAcls": True,
    "BlockPublicPolicy": True,
    "RestrictPublicBuckets": True,
}
TLS_ONLY = {
    "Version": "2012-10-17",
    "Statement": [
        {
            "Sid": "DenyInsecureTransport",
            "Effect": "Deny",
            "Principal": "*",
            "Action": "s3:*",
            "Resource": [f"arn:aws:s3:::{BUCKET}", f"arn:aws:s3:::{BUCKET}/*"],
            "Condition": {"Bool": {"aws:SecureTransport": "false"}},
        }
    ],
}


def _bucket_settings(stub: Stubber, *, tls_only: bool) -> None:
    stub.add_response(
        "put_public_access_block", {}, {"Bucket": BUCKET, "PublicAccessBlockConfiguration": ALL_PUBLIC_ACCESS_BLOCKED}
    )
    stub.add_response("put_bucket_versioning", {}, {"Bucket": BUCKET, "VersioningConfiguration": {"Status": "Enabled"}})
    stub.add_response(
        "put_bucket_encryption",
        {},
        {
            "Bucket": BUCKET,
            "ServerSideEncryptionConfiguration": {
                "Rules": [{"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "AES256"}, "BucketKeyEnabled": True}]
            },
        },
    )
    if tls_only:
        stub.add_response("put_bucket_policy", {}, {"Bucket": BUCKET, "Policy": json.dumps(TLS_ONLY)})
    stub.add_response(
        "put_bucket_lifecycle_configuration",
        {},
        {
            "Bucket": BUCKET,
            "LifecycleConfiguration": {
                "Rules": [
                    {
                        "ID": "expire-old-template-versions",
                        "Status": "Enabled",
                        "Filter": {"Prefix": ""},
                        "NoncurrentVersionExpiration": {"NoncurrentDays": 90},
                        "AbortIncompleteMultipartUpload": {"DaysAfterInitiation": 7},
                    }
                ]
            },
        },
    )


def test_the_template_bucket_is_made_private_versioned_encrypted_tls_only_and_expiring():
    s3 = client("s3")
    with Stubber(s3) as stub:
        stub.add_response(
            "create_bucket",
            {},
            {"Bucket": BUCKET, "CreateBucketConfiguration": {"LocationConstraint": REGION}},
        )
        _bucket_settings(stub, tls_only=True)
        flow.create_bucket(s3, BUCKET, REGION)
        stub.assert_no_pending_responses()


def test_in_us_east_1_the_bucket_has_no_location_constraint_and_locally_no_tls_policy():
    s3 = client("s3", "us-east-1")
    with Stubber(s3) as stub:
        stub.add_response("create_bucket", {}, {"Bucket": BUCKET})  # us-east-1 refuses its own name as constraint
        _bucket_settings(stub, tls_only=False)
        flow.create_bucket(s3, BUCKET, "us-east-1", tls_only=False)
        stub.assert_no_pending_responses()


def test_a_bucket_already_ours_is_set_up_again_and_one_owned_by_someone_else_is_an_error():
    s3 = client("s3")
    with Stubber(s3) as stub:
        stub.add_client_error("create_bucket", "BucketAlreadyOwnedByYou", "yours", 409)
        _bucket_settings(stub, tls_only=True)
        flow.create_bucket(s3, BUCKET, REGION)
        stub.assert_no_pending_responses()
    with Stubber(s3) as stub:
        stub.add_client_error("create_bucket", "BucketAlreadyExists", "the name is taken", 409)
        with pytest.raises(Exception, match="BucketAlreadyExists"):
            flow.create_bucket(s3, BUCKET, REGION)
        stub.assert_no_pending_responses()  # nothing set on a bucket that is not ours


# ------------------------------------------------------------------ what destroy removes and keeps

ROOT_YAML = """AWSTemplateFormatVersion: '2010-09-09'
Resources:
  DataStack:
    Type: AWS::CloudFormation::Stack
    Properties:
      TemplateURL: https://example.invalid/data.yaml
  TemplateCopies:
    Type: AWS::S3::Bucket
    DeletionPolicy: Retain
    UpdateReplacePolicy: Retain
  Topic:
    Type: AWS::SNS::Topic
    Properties:
      TopicName: !Sub '${AWS::StackName}-alarms'
"""
DATA_JSON = {
    "Resources": {
        "Database": {"Type": "AWS::RDS::DBInstance", "DeletionPolicy": "Snapshot"},
        "Files": {"Type": "AWS::EFS::FileSystem", "DeletionPolicy": "RetainExceptOnCreate"},
        "Key": {"Type": "AWS::KMS::Key", "DeletionPolicy": "Delete"},
        "Logs": {"Type": "AWS::Logs::LogGroup"},
    }
}


def summary(logical_id: str, resource_type: str, physical: str | None = None, status: str = "CREATE_COMPLETE"):
    found = {
        "LogicalResourceId": logical_id,
        "ResourceType": resource_type,
        "LastUpdatedTimestamp": datetime(2026, 1, 1, tzinfo=UTC),
        "ResourceStatus": status,
    }
    return found | ({"PhysicalResourceId": physical} if physical else {})


def described(status: str, **extra) -> dict:
    return {
        "Stacks": [
            {
                "StackName": STACK,
                "StackId": STACK_ID,
                "StackStatus": status,
                "CreationTime": datetime(2026, 1, 1, tzinfo=UTC),
                **extra,
            }
        ]
    }


def _deletion_walk(stub: Stubber) -> None:
    stub.add_response("get_template", {"TemplateBody": ROOT_YAML}, {"StackName": STACK, "TemplateStage": "Original"})
    stub.add_response(
        "list_stack_resources",
        {
            "StackResourceSummaries": [
                summary("DataStack", "AWS::CloudFormation::Stack", NESTED_ID),
                summary("TemplateCopies", "AWS::S3::Bucket", "team-template-copies"),
                summary("Topic", "AWS::SNS::Topic", "arn:aws:sns:eu-north-1:111122223333:shop-dev-alarms"),
            ]
        },
        {"StackName": STACK},
    )
    stub.add_response(
        "get_template", {"TemplateBody": json.dumps(DATA_JSON)}, {"StackName": NESTED_ID, "TemplateStage": "Original"}
    )
    stub.add_response(
        "list_stack_resources",
        {
            "StackResourceSummaries": [
                summary("Database", "AWS::RDS::DBInstance", "shop-dev-db"),
                summary("Files", "AWS::EFS::FileSystem", "fs-0123456789abcdef0"),
                summary("Key", "AWS::KMS::Key", "1234abcd-12ab-34cd-56ef-1234567890ab"),
                summary("Logs", "AWS::Logs::LogGroup", "/shop/dev", status="DELETE_COMPLETE"),
            ]
        },
        {"StackName": NESTED_ID},
    )


def test_the_deletion_plan_counts_what_goes_per_stack_and_lists_what_stays_from_yaml_and_json_templates():
    cfn = client("cloudformation")
    with Stubber(cfn) as stub:
        stub.add_response("describe_stacks", described("UPDATE_COMPLETE"), {"StackName": STACK})
        _deletion_walk(stub)
        plan = flow.deletion_plan(cfn, STACK)
        stub.assert_no_pending_responses()
    assert plan.stack["StackId"] == STACK_ID
    # a snapshot stays but its database is deleted; a nested stack is not counted as a resource;
    # a resource already deleted is not counted again
    assert plan.kept == (
        "DataStack/Database (AWS::RDS::DBInstance: Snapshot)",
        "DataStack/Files (AWS::EFS::FileSystem: RetainExceptOnCreate)",
        "root/TemplateCopies (AWS::S3::Bucket: Retain)",
    )
    assert plan.deleted == {"root": 1, "DataStack": 2}
    assert list(plan.deleted) == ["root", "DataStack"]
    assert plan.protected == ()


def test_destroy_deletes_by_stack_id_waits_and_returns_what_stays():
    cfn = client("cloudformation")
    with Stubber(cfn) as stub:
        stub.add_response("describe_stacks", described("UPDATE_COMPLETE"), {"StackName": STACK})
        _deletion_walk(stub)
        stub.add_response("delete_stack", {}, {"StackName": STACK_ID})
        stub.add_response("describe_stacks", described("DELETE_COMPLETE"), {"StackName": STACK_ID})
        kept = flow.destroy(cfn, STACK, waiting=flow.Waiting(delay=0, max_attempts=2))
        stub.assert_no_pending_responses()
    assert kept == [
        "DataStack/Database (AWS::RDS::DBInstance: Snapshot)",
        "DataStack/Files (AWS::EFS::FileSystem: RetainExceptOnCreate)",
        "root/TemplateCopies (AWS::S3::Bucket: Retain)",
    ]


def test_no_deletion_plan_for_a_missing_stack_nor_one_with_termination_protection():
    cfn = client("cloudformation")
    with Stubber(cfn) as stub:
        stub.add_client_error("describe_stacks", "ValidationError", f"Stack with id {STACK} does not exist")
        with pytest.raises(NotDeployed, match=f"^stack {STACK} is not deployed: nothing to delete$"):
            flow.deletion_plan(cfn, STACK)
        stub.add_response(
            "describe_stacks", described("UPDATE_COMPLETE", EnableTerminationProtection=True), {"StackName": STACK}
        )
        with pytest.raises(DeployerError) as refused:
            flow.deletion_plan(cfn, STACK)
        stub.assert_no_pending_responses()  # nothing read beyond the stack, nothing deleted
    assert str(refused.value) == (
        f"stack {STACK} has termination protection on: turn it off in the console or with `aws cloudformation "
        f"update-termination-protection --no-enable-termination-protection --stack-name {STACK}` first"
    )


# ------------------------------------------------------------------ outputs


def test_outputs_are_sorted_and_a_stack_awaiting_its_first_review_has_none():
    cfn = client("cloudformation")
    with Stubber(cfn) as stub:
        stub.add_response(
            "describe_stacks",
            described(
                "UPDATE_COMPLETE",
                Outputs=[
                    {"OutputKey": "ServiceUrl", "OutputValue": "https://shop.example.com"},
                    {"OutputKey": "AlarmTopicArn", "OutputValue": "arn:aws:sns:eu-north-1:111122223333:a"},
                ],
            ),
            {"StackName": STACK},
        )
        found = flow.outputs(cfn, STACK)
        stub.add_response("describe_stacks", described("REVIEW_IN_PROGRESS"), {"StackName": STACK})
        with pytest.raises(NotDeployed) as first:
            flow.outputs(cfn, STACK)
        stub.add_response("describe_stacks", described("CREATE_COMPLETE"), {"StackName": STACK})
        assert flow.outputs(cfn, STACK) == {}  # deployed, no outputs
        stub.assert_no_pending_responses()
    assert list(found.items()) == [
        ("AlarmTopicArn", "arn:aws:sns:eu-north-1:111122223333:a"),
        ("ServiceUrl", "https://shop.example.com"),
    ]
    assert str(first.value) == (
        f"stack {STACK} is not deployed: it has no outputs in {REGION} (`cfn-strata deploy` creates it)"
    )


# ------------------------------------------------------------------ the root's change set again


class Aws:
    def __init__(self, cfn):
        self.cfn, self.local = cfn, False

    def client(self, service):
        assert service == "cloudformation"
        return self.cfn


class GlobalBundle:
    stack_name = STACK

    def __init__(self, values=None):
        self.values = values

    def with_global_values(self, values):
        return GlobalBundle(values)


@pytest.fixture
def replanned(monkeypatch):
    """flow.refresh_root's collaborators, recorded: the upload and the root's plan it asks for."""
    calls = []
    monkeypatch.setattr(
        flow, "upload", lambda aws, bundle, bucket, prefix: calls.append(("upload", bundle.values, prefix))
    )

    def plan_root(aws, bundle, uploaded, **kwargs):
        calls.append(("plan_root", bundle.values, kwargs["allowed"], kwargs["revert_drift"], kwargs["drift"]))
        return ChangeSetRef(STACK, STACK_ID, "cs-new", "cfn-strata-new", "UPDATE"), "the new review"

    monkeypatch.setattr(flow, "plan_root", plan_root)
    return calls


def _planned(values):
    ref = ChangeSetRef(STACK, STACK_ID, "cs-old", "cfn-strata-old", "UPDATE")
    return flow.PlanResult("old upload", ref, "the old review", (), values)


def test_the_root_change_set_stands_when_the_global_outputs_are_the_values_it_was_made_with(monkeypatch, replanned):
    monkeypatch.setattr(flow, "global_values", lambda aws, bundle: {"CloudFrontWebAclArn": "arn:acl/1"})
    cfn = client("cloudformation")
    with Stubber(cfn):  # no call: nothing deleted
        assert (
            flow.refresh_root(Aws(cfn), GlobalBundle(), BUCKET, _planned({"CloudFrontWebAclArn": "arn:acl/1"})) is None
        )
    assert replanned == []


def test_new_global_outputs_replace_the_root_change_set_with_one_made_with_them(monkeypatch, replanned):
    monkeypatch.setattr(flow, "global_values", lambda aws, bundle: {"CloudFrontWebAclArn": "arn:acl/2"})
    cfn = client("cloudformation")
    with Stubber(cfn) as stub:
        stub.add_response("delete_change_set", {}, {"ChangeSetName": "cs-old"})
        fresh = flow.refresh_root(
            Aws(cfn),
            GlobalBundle(),
            BUCKET,
            _planned({"CloudFrontWebAclArn": "arn:acl/1"}),
            allowed=("Database",),
            revert_drift=True,
        )
        stub.assert_no_pending_responses()
    assert replanned == [
        ("upload", {"CloudFrontWebAclArn": "arn:acl/2"}, ""),
        ("plan_root", {"CloudFrontWebAclArn": "arn:acl/2"}, ("Database",), True, True),
    ]
    assert fresh.outcome.change_set_id == "cs-new"
    assert (fresh.review, fresh.global_values) == ("the new review", {"CloudFrontWebAclArn": "arn:acl/2"})


def test_a_deferred_root_gets_its_first_change_set_and_a_global_stack_without_outputs_is_an_error(
    monkeypatch, replanned
):
    cfn = client("cloudformation")
    deferred = flow.PlanResult("old upload", flow.Deferred(STACK, "waits for the global stack"), None, (), None)
    monkeypatch.setattr(flow, "global_values", lambda aws, bundle: {"CloudFrontWebAclArn": "arn:acl/1"})
    with Stubber(cfn):  # no change set to delete
        fresh = flow.refresh_root(Aws(cfn), GlobalBundle(), BUCKET, deferred)
    assert fresh.outcome.change_set_id == "cs-new"
    monkeypatch.setattr(flow, "global_values", lambda aws, bundle: None)
    with pytest.raises(DeployerError, match=f"^stack {STACK}-global was executed but has no outputs to pass"):
        flow.refresh_root(Aws(cfn), GlobalBundle(), BUCKET, deferred)
    nothing = flow.PlanResult("old upload", NoChanges(STACK, "no changes"), None, (), {"CloudFrontWebAclArn": "x"})
    monkeypatch.setattr(flow, "global_values", lambda aws, bundle: {"CloudFrontWebAclArn": "y"})
    with Stubber(cfn) as stub:  # "no changes" has no change set to delete either
        assert flow.refresh_root(Aws(cfn), GlobalBundle(), BUCKET, nothing).global_values == {
            "CloudFrontWebAclArn": "y"
        }
        stub.assert_no_pending_responses()


def test_the_clock_polls_every_five_seconds_in_utc():
    import time

    clock = flow.Clock()
    assert clock.delay == 5 and clock.sleep is time.sleep
    assert clock.now().tzinfo is UTC and abs((clock.now() - datetime.now(UTC)).total_seconds()) < 60


def test_the_facts_a_review_rates_with_come_from_the_new_templates():
    """Custom names that block a replacement, per (layer, logical id), as text; the ids each stack
    policy guards; the --allow-replacement names as given (product-catalog prod's golden files)."""
    from deployer.bundle import load_bundle

    bundle = load_bundle(Path(__file__).parent / "golden" / "product-catalog" / "prod")
    known = flow.facts(bundle, ("data/DatabaseWriter",))
    assert len(known.names) == 57  # every named resource of every layer
    assert known.names[("data", "DatabaseWriter")] == "rds-writer-catalog-prod"
    assert known.names[("security", "AlbSecurityGroup")] == "security-group-alb-catalog-prod"
    assert known.names[("edge", "AccessLogsBucket")] == (
        '{"Fn::Sub":"edge-logs-catalog-prod-${AWS::AccountId}-${AWS::Region}"}'
    )
    assert not any(layer == "root" for layer, _ in known.names)  # the root names nothing
    assert {owner: sorted(ids) for owner, ids in known.guarded.items() if owner in ("data", "network", "root")} == {
        "data": ["DatabaseCluster", "DatabaseClusterLogGroupPostgresql", "DatabaseReader1", "DatabaseWriter"],
        "network": ["FlowLogsKey", "FlowLogsLogGroup"],
        "root": ["BackupStack", "CicdStack", "ComputeStack", "DataStack", "EdgeStack", "NetworkStack", "SecurityStack"],
    }
    assert len(known.guarded) == 9  # root and its eight layers
    assert known.allowed == ("data/DatabaseWriter",)


# ------------------------------------------------------------------ plan: the global stack's values


class PlanAws:
    """An Aws whose clients are a given one (a Stubber-fed client) or stand-in strings."""

    local = False
    region = REGION

    def __init__(self, cfn=None):
        self.cfn = cfn

    def client(self, service):
        return self.cfn if self.cfn is not None else f"{service} client"


class PlanBundle:
    stack_name = STACK
    global_inputs = {"CloudFrontWebAclArn": "WebAclArn", "CertificateArn": "CertificateArn"}

    def __init__(self, values=None, overrides=()):
        self.values, self.parameter_overrides = values, dict.fromkeys(overrides, "x")

    def with_global_values(self, values):
        return PlanBundle(values)


@pytest.fixture
def planned(monkeypatch):
    """plan()'s collaborators, recorded."""
    calls = []
    monkeypatch.setattr(flow, "check_pinned_images", lambda ecr, bundle: calls.append(("images", ecr)))
    monkeypatch.setattr(flow, "regional_stacks", lambda bundle: ["a vault stack in eu-west-1"])
    monkeypatch.setattr(
        flow, "plan_regional", lambda aws, bundle, now, waiting: calls.append(("regional", now)) or ["vault plan"]
    )

    def upload(aws, bundle, bucket, prefix, create, configuration):
        calls.append(("upload", bundle.values, bucket, prefix, create, configuration))
        return "uploaded"

    def plan_root(aws, bundle, uploaded, **kwargs):
        calls.append(("plan_root", bundle.values, uploaded, kwargs["drift"], kwargs["allowed"]))
        return "root change set", "root review"

    monkeypatch.setattr(flow, "upload", upload)
    monkeypatch.setattr(flow, "plan_root", plan_root)
    return calls


CLOCK = flow.Clock(now=lambda: datetime(2026, 1, 1, tzinfo=UTC))


def test_a_root_that_takes_the_global_stacks_outputs_is_planned_with_them(monkeypatch, planned):
    values = {"CloudFrontWebAclArn": "arn:acl/1", "CertificateArn": "arn:cert/1"}
    monkeypatch.setattr(flow, "global_values", lambda aws, bundle: values)
    said = []
    result = flow.plan(PlanAws(), PlanBundle(), BUCKET, "pr-7/", clock=CLOCK, progress=said.append, allowed=("Db",))
    assert planned == [
        ("images", "ecr client"),
        ("upload", values, BUCKET, "pr-7/", False, True),
        ("regional", datetime(2026, 1, 1, tzinfo=UTC)),
        ("plan_root", values, "uploaded", True, ("Db",)),
    ]
    assert said == [
        "creating the change sets of the stacks in other regions (backup copy vault, us-east-1 global stack)"
    ]
    assert result == flow.PlanResult("uploaded", "root change set", "root review", ("vault plan",), values)


def test_before_the_global_stack_exists_the_root_change_set_is_deferred(monkeypatch, planned):
    monkeypatch.setattr(flow, "global_values", lambda aws, bundle: None)
    result = flow.plan(PlanAws(), PlanBundle(), BUCKET, clock=CLOCK)
    assert [call[0] for call in planned] == ["images", "upload", "regional"]  # no root change set
    assert planned[1] == ("upload", None, BUCKET, "", False, False)  # no template configuration yet
    assert result.outcome == flow.Deferred(
        STACK,
        f"the root's parameters from the us-east-1 stack {STACK}-global (CloudFrontWebAclArn <- WebAclArn, "
        "CertificateArn <- CertificateArn) are its outputs, and it does not exist yet: `deploy` creates it first, "
        "then the root's change set",
    )
    assert (result.review, result.regional, result.global_values) == (None, ("vault plan",), None)


def test_parameter_overrides_that_give_every_global_input_plan_the_root_at_once(monkeypatch, planned):
    monkeypatch.setattr(flow, "global_values", lambda aws, bundle: None)
    bundle = PlanBundle(overrides=("CloudFrontWebAclArn", "CertificateArn"))
    result = flow.plan(PlanAws(), bundle, BUCKET, clock=CLOCK, drift=False)
    assert planned[1] == ("upload", None, BUCKET, "", False, True)
    assert planned[-1] == ("plan_root", None, "uploaded", False, ())
    assert result.global_values == {}


@pytest.mark.parametrize("local", [False, True])
def test_upload_creates_the_bucket_when_asked_and_stores_under_the_prefix(monkeypatch, local):
    calls = []
    aws = PlanAws()
    aws.local = local
    monkeypatch.setattr(flow, "create_bucket", lambda s3, bucket, region, tls_only: calls.append(("create", tls_only)))
    monkeypatch.setattr(flow, "bucket_region", lambda s3, bucket: REGION)
    monkeypatch.setattr(
        flow,
        "upload_bundle",
        lambda s3, bundle, store, configuration: calls.append(("upload", s3, store, configuration)) or "uploaded",
    )
    assert flow.upload(aws, "bundle", BUCKET, "pr-7/", create=True) == "uploaded"
    # the emulator speaks plain HTTP: no TLS-only policy there; its URLs are global ones
    assert calls == [
        ("create", not local),
        ("upload", "s3 client", flow.TemplateStore(BUCKET, "pr-7/", REGION, global_urls=local), True),
    ]
    calls.clear()
    flow.upload(aws, "bundle", BUCKET, configuration=False)
    assert calls == [("upload", "s3 client", flow.TemplateStore(BUCKET, "", REGION, global_urls=local), False)]


# ------------------------------------------------------------------ plan_root: what it asks and in which order


class RootBundle:
    stack_name = STACK

    def layer_of(self, logical_id):
        return {"DataStack": "data", "EdgeStack": "edge"}[logical_id]

    def stateful_ids(self, layer):
        return {"data": frozenset({"Database"}), "root": frozenset({"DataStack"})}.get(layer, frozenset())


@pytest.fixture
def rooted(monkeypatch):
    """plan_root's collaborators, recorded; `answers` decides what they return."""
    import deployer.offline
    from deployer.drift import DriftedResource, DriftReport
    from deployer.review import Review

    calls, answers = [], {"type": "UPDATE", "changes": ("a change",), "notes": (), "offline_changes": ("computed",)}
    ref = ChangeSetRef(STACK, STACK_ID, "cs-1", "cfn-strata-1", "UPDATE")
    monkeypatch.setattr(flow, "rollback_configuration", lambda cfn, bundle: {"RollbackTriggers": ["alarm"]})
    monkeypatch.setattr(flow, "_preflight_imports", lambda cfn, bundle: answers.get("preflight", ()))

    def create(cfn, bundle, uploaded, **kwargs):
        calls.append(("create", kwargs["rollback_configuration"], kwargs["read_events"], kwargs["revert_drift"]))
        return answers.get("outcome") or replace(ref, type=answers["type"])

    monkeypatch.setattr(flow, "create_change_set", create)
    monkeypatch.setattr(flow, "facts", lambda bundle, allowed: ("facts", allowed))

    def review(cfn, change_set_id, layer_of, stateful_ids_of, facts):
        calls.append(("review", change_set_id, facts))
        return Review(STACK, "cfn-strata-1", "", answers["changes"], answers["notes"])

    monkeypatch.setattr(flow, "review_change_set", review)
    monkeypatch.setattr(
        deployer.offline,
        "offline_review",
        lambda cfn, bundle, review, stack, known: (
            calls.append(("offline", stack, known)) or replace(review, changes=answers["offline_changes"])
        ),
    )
    monkeypatch.setattr(flow, "describe_stack", lambda cfn, name: {"StackName": name})
    monkeypatch.setattr(flow, "with_hooks", lambda cfn, review, arn, local: replace(review, hooks=(f"hooks {local}",)))
    monkeypatch.setattr(
        flow, "policy_stacks", lambda cfn, bundle, stack_id: {"root": "r", "data": "d-id", "edge": "e-id"}
    )

    def drift(cfn, stacks, delay, max_attempts):
        calls.append(("drift", stacks, delay, max_attempts))
        return DriftReport((DriftedResource("data", "Database", "AWS::RDS::DBInstance", "MODIFIED", ()),), ("n",))

    monkeypatch.setattr(flow, "detect_drift", drift)
    return calls, answers


def _plan_root(aws=None, **kwargs):
    return flow.plan_root(aws or PlanAws(), RootBundle(), "uploaded", waiting=flow.Waiting(3, 9), **kwargs)


def test_an_update_is_reviewed_with_hooks_and_the_drift_of_the_stacks_that_hold_data(rooted):
    calls, answers = rooted
    answers["preflight"] = ("import check: ok",)
    said = []
    outcome, review = _plan_root(allowed=("data/Database",), progress=said.append)
    assert said == ["detecting drift of the stacks that hold data"]
    assert calls == [
        ("create", {"RollbackTriggers": ["alarm"]}, True, False),  # AWS reports early-validation events
        ("review", "cs-1", ("facts", ("data/Database",))),
        ("drift", {"data": "d-id"}, 3, 9),  # only the layers holding stateful resources, never the root
    ]
    assert outcome.change_set_id == "cs-1"
    assert review.change_set_type == "UPDATE"  # set by the deployer: DescribeChangeSet does not say
    assert review.notes == ("import check: ok", "n")
    assert review.hooks == ("hooks False",)
    assert [d.logical_id for d in review.drifted] == ["Database"]


def test_a_create_has_no_drift_to_detect_and_locally_no_events_to_read(rooted):
    calls, answers = rooted
    answers["type"] = "CREATE"
    local = PlanAws()
    local.local = True
    outcome, review = _plan_root(local, revert_drift=False)
    assert calls == [("create", {"RollbackTriggers": ["alarm"]}, False, False), ("review", "cs-1", ("facts", ()))]
    assert (outcome.type, review.change_set_type, review.hooks) == ("CREATE", "CREATE", ("hooks True",))
    calls.clear()
    answers["type"] = "UPDATE"
    _plan_root(drift=False, revert_drift=True)
    assert [c[0] for c in calls] == ["create", "review"] and calls[0][3] is True


def test_unwalked_nested_stacks_or_an_empty_change_set_are_computed_from_the_templates(rooted):
    from deployer.review import UNWALKED_NOTE

    calls, answers = rooted
    answers["notes"] = (f"{UNWALKED_NOTE} for data",)
    _, review = _plan_root(drift=False)
    assert calls[-1] == ("offline", {"StackName": STACK}, ("facts", ()))
    assert review.changes == ("computed",)
    calls.clear()
    answers["notes"], answers["changes"] = (), ()
    _, review = _plan_root(drift=False)
    assert calls[-1][0] == "offline" and review.changes == ("computed",)
    calls.clear()
    answers["changes"] = ("a change",)
    _plan_root(drift=False)
    assert "offline" not in [c[0] for c in calls]  # reported by the endpoint: nothing to compute


def test_a_change_set_the_templates_do_not_hold_is_deleted_as_no_changes(rooted):
    calls, answers = rooted
    answers["changes"], answers["offline_changes"] = (), ()
    cfn = client("cloudformation")
    with Stubber(cfn) as stub:
        stub.add_response("delete_change_set", {}, {"ChangeSetName": "cs-1"})
        outcome, review = _plan_root(PlanAws(cfn))
        stub.assert_no_pending_responses()
    assert outcome == NoChanges(STACK, "the computed nested change sets hold no change") and review is None


def test_no_changes_from_create_change_set_is_not_reviewed(rooted):
    calls, answers = rooted
    answers["outcome"] = NoChanges(STACK, "No updates are to be performed.")
    assert _plan_root() == (NoChanges(STACK, "No updates are to be performed."), None)
    assert [c[0] for c in calls] == ["create"]


# ------------------------------------------------------------------ someone else's change set


def _reviewed(kind: str = ""):
    from deployer.review import Review

    return Review(STACK, "cfn-strata-1", kind, (), ("a note",))


@pytest.mark.parametrize(
    ("stack", "expected"),
    [(None, "CREATE"), ("REVIEW_IN_PROGRESS", "CREATE"), ("UPDATE_COMPLETE", "UPDATE"), ("CREATE_COMPLETE", "UPDATE")],
)
def test_the_type_of_a_change_set_the_deployer_did_not_make_comes_from_the_stack(stack, expected):
    cfn = client("cloudformation")
    with Stubber(cfn) as stub:
        if stack is None:
            stub.add_client_error("describe_stacks", "ValidationError", f"Stack with id {STACK} does not exist")
        else:
            stub.add_response("describe_stacks", described(stack), {"StackName": STACK})
        assert flow.with_type(cfn, _reviewed()).change_set_type == expected
        stub.assert_no_pending_responses()
    with Stubber(cfn):  # a known type is kept: nothing asked
        assert flow.with_type(cfn, _reviewed("CREATE")).change_set_type == "CREATE"


def test_hooks_are_read_on_aws_and_noted_as_not_modelled_locally():
    from deployer.checks import LOCAL_HOOKS_NOTE

    cfn = client("cloudformation")
    assert flow.with_hooks(cfn, _reviewed(), "cs-arn", local=True).notes == ("a note", LOCAL_HOOKS_NOTE)
    with Stubber(cfn) as stub:
        stub.add_response(
            "list_hook_results",
            {
                "HookResults": [
                    {
                        "TypeName": "Private::Guard::S3Encryption",
                        "Status": "HOOK_COMPLETE_FAILED",
                        "HookStatusReason": "not encrypted",
                        "FailureMode": "FAIL",
                        "InvocationPoint": "PRE_PROVISION",
                    }
                ]
            },
            {"TargetType": "CHANGE_SET", "TargetId": "cs-arn"},
        )
        review = flow.with_hooks(cfn, _reviewed(), "cs-arn", local=False)
        stub.assert_no_pending_responses()
    assert [(h.hook, h.status, h.failure_mode) for h in review.hooks] == [
        ("Private::Guard::S3Encryption", "HOOK_COMPLETE_FAILED", "FAIL")
    ]
    assert review.notes == ("a note",)


# ------------------------------------------------------------------ run: guards around the execution


class ProdBundle:
    stack_name = STACK
    cli_target = "shop --env prod"
    is_prod = True


@pytest.fixture
def guarded_run(monkeypatch):
    """run()'s collaborators around execute, recorded; `outcome` is what the execution ends in."""
    from deployer.execute import StackFailed
    from deployer.guard import Guard

    calls, outcome = [], {"status": "CREATE_COMPLETE"}

    def execute(cfn, ref, sleep, delay, on_event):
        calls.append(("execute", ref.type))
        if outcome["status"].endswith("COMPLETE") and "ROLLBACK" not in outcome["status"]:
            return outcome["status"]
        raise StackFailed(f"stack {STACK} ended in {outcome['status']}", outcome["status"])

    monkeypatch.setattr(flow, "execute", execute)
    monkeypatch.setattr(flow, "guidance", lambda cfn, status, **kwargs: None)
    monkeypatch.setattr(flow, "protect_termination", lambda cfn, name, note: calls.append(("protect", name)))
    monkeypatch.setattr(flow, "protect_after", lambda cfn, bundle, stack_id: calls.append(("policies", stack_id)))
    monkeypatch.setattr(
        flow, "guard_before_update", lambda cfn, bundle, stack_id: Guard({}, {}, ["policy of data re-set"])
    )
    return calls, outcome


def _run(kind: str, **kwargs):
    ref = ChangeSetRef(STACK, STACK_ID, "cs-1", "cfn-strata-1", kind)
    kwargs = {"on_event": print, "note": print} | kwargs
    return flow.run(PlanAws(), ProdBundle(), ref, clock=flow.Clock(sleep=lambda s: None, delay=0), **kwargs)


def test_a_prod_stack_is_protected_from_termination_once_created_then_gets_its_policies(guarded_run):
    calls, _ = guarded_run
    assert _run("CREATE") == "CREATE_COMPLETE"
    assert calls == [("execute", "CREATE"), ("protect", STACK), ("policies", STACK_ID)]


def test_a_failed_first_create_is_not_protected_since_it_is_deleted_next(guarded_run):
    from deployer.execute import StackFailed

    calls, outcome = guarded_run
    for status in ("ROLLBACK_COMPLETE", "ROLLBACK_FAILED"):
        calls.clear()
        outcome["status"] = status
        with pytest.raises(StackFailed):
            _run("CREATE")
        assert calls == [("execute", "CREATE")]
    calls.clear()
    outcome["status"] = "UPDATE_ROLLBACK_COMPLETE"  # an update that rolled back: the stack stays, protected
    with pytest.raises(StackFailed):
        _run("UPDATE")
    assert calls == [("execute", "UPDATE"), ("protect", STACK)]


def test_an_update_passes_on_the_guards_notes_and_a_create_has_nothing_to_loosen(guarded_run):
    calls, _ = guarded_run
    said = []
    _run("UPDATE", note=said.append)
    assert said == ["policy of data re-set"]
    calls.clear()
    with pytest.raises(
        DeployerError, match="^replacing resources of a stack that does not exist yet: nothing to allow$"
    ):
        _run("CREATE", allow={"data": frozenset({"Database"})})
    assert calls == [("protect", STACK)]  # nothing executed (prod: protection is still made sure of)


def test_a_change_set_that_will_fail_is_refused_with_each_reason():
    from deployer.review import Review, resource_change

    facts = flow.Facts(guarded={"data": frozenset({"Database", "Files"})})
    changes = tuple(
        resource_change(
            "data",
            {"LogicalResourceId": lid, "ResourceType": kind, "Action": "Modify", "Replacement": "True"},
            frozenset({lid}),
            facts,
        )
        for lid, kind in (("Database", "AWS::RDS::DBInstance"), ("Files", "AWS::EFS::FileSystem"))
    )
    with pytest.raises(DeployerError) as refused:
        flow.refuse_will_fail(Review(STACK, "cfn-strata-1", "UPDATE", changes))
    assert str(refused.value) == (
        "change set cfn-strata-1 cannot be executed (2 change(s) WILL FAIL): data/Database: the stack policy of data "
        "denies replacing it: pass --allow-replacement data/Database to allow it; data/Files: the stack policy of "
        "data denies replacing it: pass --allow-replacement data/Files to allow it"
    )


@pytest.mark.parametrize(
    ("status", "checked"),
    [
        ("UPDATE_COMPLETE", True),
        ("CREATE_COMPLETE", True),
        ("UPDATE_ROLLBACK_COMPLETE", True),
        ("ROLLBACK_COMPLETE", False),  # a failed first create: deleted, not updated
        ("DELETE_COMPLETE", False),
        ("UPDATE_IN_PROGRESS", False),
        (None, False),
    ],
)
def test_exports_are_checked_only_on_a_deployed_updatable_stack(monkeypatch, status, checked):
    monkeypatch.setattr(flow, "describe_stack", lambda cfn, name: status and {"StackStatus": status, "StackId": "id"})
    monkeypatch.setattr(flow, "check_imports", lambda cfn, bundle, stack_id: (f"imports of {stack_id} checked",))
    assert flow._preflight_imports("cfn", ProdBundle()) == (("imports of id checked",) if checked else ())


def test_all_outputs_are_the_roots_then_each_deployed_regional_stacks_by_layer(monkeypatch):
    from types import SimpleNamespace

    class RegionalAws:
        def client(self, service):
            return "root cfn"

        def in_region(self, region):
            return SimpleNamespace(client=lambda service: f"{region} cfn")

    monkeypatch.setattr(
        flow,
        "regional_stacks",
        lambda bundle: [
            SimpleNamespace(region="eu-west-1", stack_name=f"{STACK}-backup-copy", layer="backupcopy"),
            SimpleNamespace(region="us-east-1", stack_name=f"{STACK}-global", layer="global"),
        ],
    )
    deployed = {f"{STACK}-backup-copy": {"VaultArn": "arn:vault"}, "gid": {"WebAclArn": "arn:acl"}}
    monkeypatch.setattr(flow, "describe_stack", lambda cfn, name: {"StackName": name} if name in deployed else None)
    monkeypatch.setattr(
        flow, "outputs", lambda cfn, name: {"ServiceUrl": "https://shop"} if cfn == "root cfn" else deployed[name]
    )
    bundle = SimpleNamespace(stack_name=STACK)
    assert flow.all_outputs(RegionalAws(), bundle, {f"{STACK}-global": "gid"}) == {
        "ServiceUrl": "https://shop",
        "backupcopy.VaultArn": "arn:vault",
        "global.WebAclArn": "arn:acl",
    }
    deployed.pop("gid")  # not deployed: left out
    assert flow.all_outputs(RegionalAws(), bundle) == {"ServiceUrl": "https://shop", "backupcopy.VaultArn": "arn:vault"}


def test_with_global_values_fills_the_root_parameters_or_refuses_before_the_global_stack_exists(monkeypatch):
    class Bundle:
        def with_global_values(self, values):
            return ("with", values)

        def parameters(self):
            raise DeployerError("CloudFrontWebAclArn comes from the global stack: deploy it first")

    monkeypatch.setattr(flow, "global_values", lambda aws, bundle: {"CloudFrontWebAclArn": "arn:acl"})
    assert flow.with_global_values("aws", Bundle()) == ("with", {"CloudFrontWebAclArn": "arn:acl"})
    monkeypatch.setattr(flow, "global_values", lambda aws, bundle: None)
    with pytest.raises(DeployerError, match="deploy it first"):
        flow.with_global_values("aws", Bundle())

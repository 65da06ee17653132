"""The deploy gates the README promises, through the real deployer code and botocore's Stubber
(every AWS call and its exact parameters are expected, in order): an execution is a success only
when the root stack ends in a *_COMPLETE success state; HIGH and DATA LOSS changes execute only
when named with --allow-replacement, WILL FAIL never; the capabilities sent are the ones the
templates need; stack policies are checked, loosened for exactly the allowed ids and restored.
And through the CLI against the emulator: `deploy` without --yes executes nothing unless asked."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import boto3
import pytest
from botocore.stub import ANY, Stubber

from deployer import flow
from deployer.bundle import load_bundle
from deployer.changeset import ChangeSetRef, Waiting, capabilities, create_change_set
from deployer.errors import DeployerError
from deployer.execute import SUCCESS, StackFailed, execute, is_terminal
from deployer.guard import Guard, allowed_changes, guard_before_update, loosened, policy_body, protect_after
from deployer.review import Facts, Review, Risk, resource_change
from deployer.session import Aws
from deployer.upload import UploadedTemplate, UploadResult
from templates.safety import stack_policy
from tests.test_deployer_e2e import clients  # noqa: F401 (fixture: the emulator's template bucket)

REGION = "eu-north-1"
NAME = "product-catalog-pr5706"
ROOT = f"arn:aws:cloudformation:{REGION}:111122223333:stack/{NAME}/1"
NETWORK = f"arn:aws:cloudformation:{REGION}:111122223333:stack/{NAME}-NetworkStack-A/2"
DATA = f"arn:aws:cloudformation:{REGION}:111122223333:stack/{NAME}-DataStack-B/3"
CS = f"arn:aws:cloudformation:{REGION}:111122223333:changeSet/cs/1"
T0 = datetime(2025, 1, 1, 12, 0, tzinfo=UTC)
NO_WAIT = flow.Clock(now=lambda: T0, sleep=lambda s: None, delay=0)


def cfn_client():
    return boto3.client("cloudformation", region_name=REGION, aws_access_key_id="x", aws_secret_access_key="x")


def aws_with(cfn) -> Aws:
    aws = Aws(boto3.Session(region_name=REGION, aws_access_key_id="x", aws_secret_access_key="x"))
    aws._clients["cloudformation"] = cfn
    return aws


@pytest.fixture(scope="module")
def bundle():
    """The product-catalog dev bundle as the deployer loads it from dist/: the golden files are
    exactly what `cfn-strata generate` writes (tests/test_golden.py keeps them so)."""
    from pathlib import Path

    return load_bundle(Path(__file__).parent / "golden" / "product-catalog" / "dev")


def stack_events(stack_id: str, rows: list[tuple[str, str, str, str]], start: int = 0) -> dict:
    """rows oldest first: (logical id, type, status, reason); describe_stack_events answers newest first."""
    out = [
        {
            "StackId": stack_id,
            "EventId": f"{stack_id}-{start + n}",
            "StackName": NAME,
            "LogicalResourceId": logical,
            "PhysicalResourceId": stack_id if kind == "AWS::CloudFormation::Stack" else f"p-{logical}",
            "ResourceType": kind,
            "Timestamp": T0 + timedelta(seconds=start + n),
            "ResourceStatus": status,
            **({"ResourceStatusReason": reason} if reason else {}),
        }
        for n, (logical, kind, status, reason) in enumerate(rows)
    ]
    return {"StackEvents": list(reversed(out))}


def described(status: str) -> dict:
    return {"Stacks": [{"StackName": NAME, "StackId": ROOT, "StackStatus": status, "CreationTime": T0}]}


def stub_execution(stub, final: str, *, earlier: dict | None = None) -> None:
    """execute(): baseline of the root's events, ExecuteChangeSet, one poll, the root's status, the last poll."""
    earlier = earlier or {"StackEvents": []}
    stub.add_response("describe_stack_events", earlier, {"StackName": ROOT})
    stub.add_response("execute_change_set", {}, {"ChangeSetName": CS})
    stub.add_response(
        "describe_stack_events",
        stack_events(
            ROOT,
            [
                (NAME, "AWS::CloudFormation::Stack", "UPDATE_IN_PROGRESS", "User Initiated"),
                (
                    "Vpc",
                    "AWS::EC2::VPC",
                    "UPDATE_FAILED" if final not in SUCCESS else "UPDATE_COMPLETE",
                    'Resource handler returned message: "boom"' if final not in SUCCESS else "",
                ),
                (NAME, "AWS::CloudFormation::Stack", final, ""),
            ],
            start=100,
        ),
        {"StackName": ROOT},
    )
    stub.add_response("describe_stacks", described(final), {"StackName": ROOT})
    stub.add_response(
        "describe_stack_events",
        stack_events(ROOT, [(NAME, "AWS::CloudFormation::Stack", final, "")], start=102),
        {"StackName": ROOT},
    )


# ------------------------------------------------------------------ terminal states


FAILED_TERMINAL = [
    "UPDATE_ROLLBACK_COMPLETE",
    "ROLLBACK_COMPLETE",
    "ROLLBACK_FAILED",
    "UPDATE_ROLLBACK_FAILED",
    "UPDATE_FAILED",
    "CREATE_FAILED",
    "DELETE_FAILED",
    "IMPORT_ROLLBACK_COMPLETE",
    "UPDATE_COMPLETE_CLEANUP_IN_PROGRESS_NEVER",
]


def test_success_states_are_exactly_the_completed_operations():
    assert SUCCESS == {"CREATE_COMPLETE", "UPDATE_COMPLETE", "IMPORT_COMPLETE", "DELETE_COMPLETE"}
    assert [
        s
        for s in (
            "UPDATE_ROLLBACK_COMPLETE",
            "ROLLBACK_COMPLETE",
            "UPDATE_COMPLETE",
            "CREATE_FAILED",
            "IMPORT_ROLLBACK_COMPLETE",
        )
        if is_terminal(s)
    ] == [
        "UPDATE_ROLLBACK_COMPLETE",
        "ROLLBACK_COMPLETE",
        "UPDATE_COMPLETE",
        "CREATE_FAILED",
        "IMPORT_ROLLBACK_COMPLETE",
    ]
    assert not any(
        is_terminal(s)
        for s in (
            "UPDATE_IN_PROGRESS",
            "UPDATE_ROLLBACK_IN_PROGRESS",
            "UPDATE_COMPLETE_CLEANUP_IN_PROGRESS",
            "REVIEW_IN_PROGRESS",
            "CREATE_IN_PROGRESS",
        )
    )


@pytest.mark.parametrize("final", [s for s in FAILED_TERMINAL if not s.endswith("NEVER")])
def test_an_execution_that_ends_rolled_back_or_failed_is_a_failure_with_its_root_cause(final):
    cfn = cfn_client()
    events = []
    with Stubber(cfn) as stub:
        stub_execution(stub, final)
        with pytest.raises(StackFailed) as failed:
            execute(
                cfn, ChangeSetRef(NAME, ROOT, CS, "cs", "UPDATE"), sleep=lambda s: None, delay=0, on_event=events.append
            )
        stub.assert_no_pending_responses()
    assert failed.value.status == final
    assert (
        str(failed.value)
        == f"stack {NAME} ended in {final}: Vpc (AWS::EC2::VPC) UPDATE_FAILED: Resource handler returned "
        'message: "boom"'
    )
    assert [e.status for e in events] == ["UPDATE_IN_PROGRESS", "UPDATE_FAILED", final]


@pytest.mark.parametrize("final", ["UPDATE_COMPLETE", "CREATE_COMPLETE"])
def test_an_execution_that_completes_returns_its_state_and_streams_only_new_events(final):
    cfn = cfn_client()
    events = []
    earlier = stack_events(ROOT, [(NAME, "AWS::CloudFormation::Stack", "CREATE_COMPLETE", "")])
    with Stubber(cfn) as stub:
        stub_execution(stub, final, earlier=earlier)
        assert (
            execute(
                cfn, ChangeSetRef(NAME, ROOT, CS, "cs", "UPDATE"), sleep=lambda s: None, delay=0, on_event=events.append
            )
            == final
        )
        stub.assert_no_pending_responses()
    assert [(e.logical_id, e.status, e.depth) for e in events] == [
        (NAME, "UPDATE_IN_PROGRESS", 0),
        ("Vpc", "UPDATE_COMPLETE", 0),
        (NAME, final, 0),
    ]


def test_following_waits_between_polls_until_the_stack_is_terminal_and_streams_each_poll():
    cfn = cfn_client()
    slept, events = [], []
    started = stack_events(ROOT, [(NAME, "AWS::CloudFormation::Stack", "UPDATE_IN_PROGRESS", "User Initiated")])
    with Stubber(cfn) as stub:
        stub.add_response("describe_stack_events", {"StackEvents": []}, {"StackName": ROOT})
        stub.add_response("execute_change_set", {}, {"ChangeSetName": CS})
        stub.add_response("describe_stack_events", started, {"StackName": ROOT})
        stub.add_response("describe_stacks", described("UPDATE_IN_PROGRESS"), {"StackName": ROOT})
        stub.add_response("describe_stack_events", {"StackEvents": []}, {"StackName": ROOT})
        stub.add_response("describe_stacks", described("UPDATE_COMPLETE"), {"StackName": ROOT})
        stub.add_response(  # the last poll, once the stack is done, streams what came since
            "describe_stack_events",
            stack_events(ROOT, [(NAME, "AWS::CloudFormation::Stack", "UPDATE_COMPLETE", "")], start=1),
            {"StackName": ROOT},
        )
        assert (
            execute(
                cfn, ChangeSetRef(NAME, ROOT, CS, "cs", "UPDATE"), sleep=slept.append, delay=7, on_event=events.append
            )
            == "UPDATE_COMPLETE"
        )
        stub.assert_no_pending_responses()
    assert slept == [7]
    assert [(e.logical_id, e.status) for e in events] == [(NAME, "UPDATE_IN_PROGRESS"), (NAME, "UPDATE_COMPLETE")]


def test_ctrl_c_while_following_says_how_to_follow_the_stack_in_its_region():
    from deployer.execute import StillRunning, follow

    class Interrupted:
        root_stack_id = ROOT

        def poll(self):
            raise KeyboardInterrupt

    with pytest.raises(StillRunning) as stopped:
        follow(cfn_client(), Interrupted(), stack_name=NAME, sleep=print, delay=0, on_event=print)
    assert str(stopped.value) == (
        "stopped waiting; the stack operation goes on. Follow it with: aws cloudformation describe-stack-events "
        f"--stack-name {NAME} --region eu-north-1"
    )
    assert (stopped.value.stack_name, stopped.value.region) == (NAME, "eu-north-1")


def test_an_execution_that_rolls_back_without_a_failed_resource_says_only_its_state():
    cfn = cfn_client()
    with Stubber(cfn) as stub:
        stub.add_response("describe_stack_events", {"StackEvents": []}, {"StackName": ROOT})
        stub.add_response("execute_change_set", {}, {"ChangeSetName": CS})
        stub.add_response("describe_stack_events", {"StackEvents": []}, {"StackName": ROOT})
        stub.add_response("describe_stacks", described("UPDATE_ROLLBACK_COMPLETE"), {"StackName": ROOT})
        stub.add_response("describe_stack_events", {"StackEvents": []}, {"StackName": ROOT})
        with pytest.raises(StackFailed) as failed:
            execute(cfn, ChangeSetRef(NAME, ROOT, CS, "cs", "UPDATE"), sleep=lambda s: None, delay=0, on_event=print)
    assert str(failed.value) == f"stack {NAME} ended in UPDATE_ROLLBACK_COMPLETE"


# ------------------------------------------------------------------ capabilities


def _bundle_of(documents: dict[str, dict]):
    class Documents:
        files = dict.fromkeys(documents, b"")

        def document(self, file):
            return documents[file]

    return Documents()


def test_capabilities_are_exactly_what_the_templates_need():
    unnamed_role = {"Resources": {"Role": {"Type": "AWS::IAM::Role", "Properties": {"AssumeRolePolicyDocument": {}}}}}
    named_role = {
        "Resources": {
            "Role": {"Type": "AWS::IAM::Role", "Properties": {"RoleName": "r", "AssumeRolePolicyDocument": {}}}
        }
    }
    nested = {"Resources": {"NetworkStack": {"Type": "AWS::CloudFormation::Stack", "Properties": {"TemplateURL": "u"}}}}
    assert capabilities(_bundle_of({"a.json": {"Resources": {"Bucket": {"Type": "AWS::S3::Bucket"}}}})) == []
    assert capabilities(_bundle_of({"a.json": unnamed_role})) == ["CAPABILITY_IAM"]
    assert capabilities(_bundle_of({"a.json": named_role})) == ["CAPABILITY_IAM", "CAPABILITY_NAMED_IAM"]
    assert capabilities(_bundle_of({"a.json": nested})) == ["CAPABILITY_AUTO_EXPAND"]
    assert capabilities(_bundle_of({"a.json": {"Transform": "AWS::Serverless-2016-10-31", "Resources": {}}})) == [
        "CAPABILITY_AUTO_EXPAND"
    ]
    assert capabilities(_bundle_of({"a.json": {"Resources": {"F": {"Type": "AWS::Serverless::Function"}}}})) == [
        "CAPABILITY_AUTO_EXPAND"
    ]
    assert capabilities(_bundle_of({"root.json": nested, "security.json": named_role})) == [
        "CAPABILITY_AUTO_EXPAND",
        "CAPABILITY_IAM",
        "CAPABILITY_NAMED_IAM",
    ]


def test_the_change_set_asks_for_named_iam_from_the_generated_templates(bundle):
    """The security layer names its roles (ecs-task-api-pr5706): without CAPABILITY_NAMED_IAM
    CloudFormation refuses the change set. The exact list goes out, computed by the real code."""
    assert (
        bundle.document("security.json")["Resources"]["ServiceApiTaskRole"]["Properties"]["RoleName"]
        == "ecs-task-api-pr5706"
    )
    cfn = cfn_client()
    upload = UploadResult(
        UploadedTemplate("root.json", "k", "https://b.s3.eu-north-1.amazonaws.com/k", "cd" * 32, False), (), None
    )
    with Stubber(cfn) as stub:
        stub.add_client_error("describe_stacks", "ValidationError", f"Stack with id {NAME} does not exist")
        stub.add_response(
            "create_change_set",
            {"Id": CS, "StackId": ROOT},
            {
                "StackName": NAME,
                "ChangeSetName": "cfn-strata-20250101-120000-cdcdcdcd",
                "ChangeSetType": "CREATE",
                "TemplateURL": upload.root.url,
                "IncludeNestedStacks": True,
                "Capabilities": ["CAPABILITY_AUTO_EXPAND", "CAPABILITY_IAM", "CAPABILITY_NAMED_IAM"],
                "Parameters": ANY,
                "Tags": [
                    {"Key": "Environment", "Value": "development"},
                    {"Key": "EnvironmentSuffix", "Value": "pr5706"},
                    {"Key": "Project", "Value": "catalog-api"},
                ],
                "Description": f"cfn-strata product-catalog/dev: root {'cd' * 6} ({len(bundle.nested_stacks)} layers)",
            },
        )
        stub.add_response(
            "describe_change_set",
            {"ChangeSetId": CS, "StackName": NAME, "Status": "CREATE_COMPLETE", "ExecutionStatus": "AVAILABLE"},
            {"ChangeSetName": CS},
        )
        # the web ACL's ARN as the deployed us-east-1 global stack's output would give it
        with_acl = bundle.with_global_values(
            {"CloudFrontWebAclArn": "arn:aws:wafv2:us-east-1:123456789012:global/webacl/w/1"}
        )
        ref = create_change_set(cfn, with_acl, upload, now=T0, waiting=Waiting(delay=0, max_attempts=1))
        stub.assert_no_pending_responses()
    assert ref == ChangeSetRef(NAME, ROOT, CS, "cfn-strata-20250101-120000-cdcdcdcd", "CREATE")


# ------------------------------------------------------------------ --allow-replacement


def _change(layer, logical_id, kind, action, replacement=None, policy_action=None, facts=None):
    raw = {
        "Action": action,
        "LogicalResourceId": logical_id,
        "ResourceType": kind,
        **({"Replacement": replacement} if replacement else {}),
        **({"PolicyAction": policy_action} if policy_action else {}),
        "Details": [],
    }
    return resource_change(layer, raw, frozenset(), facts if facts is not None else Facts())


HIGH_ONLY = Review(
    NAME,
    "cs-high",
    "UPDATE",
    (
        _change("network", "FlowLogsKey", "AWS::KMS::Key", "Remove", policy_action="Retain"),
        _change("security", "AlbSecurityGroup", "AWS::EC2::SecurityGroup", "Modify", "False"),
    ),
)


def test_a_high_risk_change_is_refused_unless_named():
    assert [(c.logical_id, c.risk) for c in HIGH_ONLY.changes] == [
        ("FlowLogsKey", Risk.HIGH),
        ("AlbSecurityGroup", Risk.MEDIUM),
    ]
    with pytest.raises(DeployerError) as refused:
        flow.refuse_high_risk(HIGH_ONLY, ())
    assert str(refused.value) == (
        "change set cs-high replaces or removes stateful resources: network/FlowLogsKey (HIGH); "
        "review it and pass --allow-replacement FlowLogsKey to execute"
    )
    assert flow.refuse_high_risk(HIGH_ONLY, ("FlowLogsKey",)) == {"network": frozenset({"FlowLogsKey"})}
    assert flow.refuse_high_risk(HIGH_ONLY, ("network/FlowLogsKey",)) == {"network": frozenset({"FlowLogsKey"})}


def test_medium_and_low_changes_need_no_allow_and_an_unknown_name_is_refused():
    medium = Review(NAME, "cs-medium", "UPDATE", HIGH_ONLY.changes[1:])
    assert flow.refuse_high_risk(medium, ()) == {}
    with pytest.raises(DeployerError) as unknown:
        flow.refuse_high_risk(HIGH_ONLY, ("FlowLogsKey", "AlbSecurityGroup", "Nope"))
    assert str(unknown.value) == (
        "--allow-replacement AlbSecurityGroup Nope: not a replaced or removed stateful resource of change set cs-high "
        "(those are: network/FlowLogsKey)"
    )
    two = Review(
        NAME,
        "cs-two",
        "UPDATE",
        HIGH_ONLY.changes
        + (_change("compute/ServicesStack", "ApiLogGroup", "AWS::Logs::LogGroup", "Remove", policy_action="Retain"),),
    )
    with pytest.raises(DeployerError) as unknown:
        flow.refuse_high_risk(two, ("Nope",))
    assert str(unknown.value).endswith("(those are: network/FlowLogsKey, compute/ServicesStack/ApiLogGroup)")
    with pytest.raises(DeployerError) as refused:
        flow.refuse_high_risk(two, ())
    assert str(refused.value) == (
        "change set cs-two replaces or removes stateful resources: network/FlowLogsKey (HIGH), "
        "compute/ServicesStack/ApiLogGroup (HIGH); "
        "review it and pass --allow-replacement FlowLogsKey --allow-replacement ApiLogGroup to execute"
    )
    # a resource of a stack nested in a layer is guarded by that layer's policy
    assert flow.refuse_high_risk(two, ("FlowLogsKey", "compute/ServicesStack/ApiLogGroup")) == {
        "compute": frozenset({"ApiLogGroup"}),
        "network": frozenset({"FlowLogsKey"}),
    }
    with pytest.raises(DeployerError, match=r"\(those are: none\)"):
        flow.refuse_high_risk(medium, ("FlowLogsKey",))


def test_a_replaced_nested_stack_is_allowed_on_the_roots_policy_and_several_are_grouped_by_owner():
    data_stack = resource_change(
        "data",
        {
            "Action": "Remove",
            "LogicalResourceId": "DataStack",
            "ResourceType": "AWS::CloudFormation::Stack",
            "PolicyAction": "Delete",
        },
        frozenset({"Database"}),
    )
    review = Review(
        NAME,
        "cs",
        "UPDATE",
        (
            data_stack,
            _change("network", "FlowLogsKey", "AWS::KMS::Key", "Remove", policy_action="Retain"),
            _change("network", "FlowLogsLogGroup", "AWS::Logs::LogGroup", "Modify", "True", "ReplaceAndDelete"),
        ),
    )
    assert [c.risk for c in review.changes] == [Risk.DATA_LOSS, Risk.HIGH, Risk.DATA_LOSS]
    assert allowed_changes(review, ("DataStack", "network/FlowLogsKey", "FlowLogsLogGroup")) == {
        "network": frozenset({"FlowLogsKey", "FlowLogsLogGroup"}),
        "root": frozenset({"DataStack"}),
    }
    with pytest.raises(
        DeployerError, match=r"pass --allow-replacement DataStack --allow-replacement FlowLogsLogGroup to execute"
    ):
        allowed_changes(review, ("FlowLogsKey",))


def test_will_fail_is_refused_even_when_named():
    facts = Facts(guarded={"network": frozenset({"FlowLogsLogGroup"})})
    review = Review(
        NAME,
        "cs",
        "UPDATE",
        (_change("network", "FlowLogsLogGroup", "AWS::Logs::LogGroup", "Modify", "True", "ReplaceAndDelete", facts),),
    )
    assert review.changes[0].risk == Risk.WILL_FAIL
    with pytest.raises(DeployerError) as refused:
        flow.refuse_high_risk(review, ("FlowLogsLogGroup",))
    assert str(refused.value) == (
        "change set cs cannot be executed (1 change(s) WILL FAIL): network/FlowLogsLogGroup: the stack "
        "policy of network denies replacing it: "
        "pass --allow-replacement network/FlowLogsLogGroup to allow it"
    )


# ------------------------------------------------------------------ guards around a real update


NETWORK_TEMPLATE = {
    "Resources": {
        "FlowLogsKey": {
            "Type": "AWS::KMS::Key"
        },  # FlowLogsLogGroup is new in this update: guarded from the new template
        "OldBucket": {"Type": "AWS::S3::Bucket"},  # deployed, gone from the new templates: removing it is denied too
        "Vpc": {"Type": "AWS::EC2::VPC"},
    }
}
ROOT_GUARDS = {"CicdStack", "ComputeStack", "DataStack", "EdgeStack", "NetworkStack", "SecurityStack"}


def _body(guarded, allow=()) -> str:
    return policy_body(stack_policy(guarded, allow=allow))


def stub_guard(stub, *, root_policy: str, network_policy: str | None, root_reset: str | None = None) -> None:
    stub.add_response(
        "list_stack_resources",
        {
            "StackResourceSummaries": [
                {
                    "LogicalResourceId": "NetworkStack",
                    "PhysicalResourceId": NETWORK,
                    "ResourceType": "AWS::CloudFormation::Stack",
                    "LastUpdatedTimestamp": T0,
                    "ResourceStatus": "UPDATE_COMPLETE",
                },
                {
                    "LogicalResourceId": "Topic",
                    "PhysicalResourceId": "arn:topic",
                    "ResourceType": "AWS::SNS::Topic",
                    "LastUpdatedTimestamp": T0,
                    "ResourceStatus": "UPDATE_COMPLETE",
                },
            ]
        },
        {"StackName": ROOT},
    )
    stub.add_response("get_stack_policy", {"StackPolicyBody": root_policy}, {"StackName": ROOT})
    if root_reset:
        stub.add_response("set_stack_policy", {}, {"StackName": ROOT, "StackPolicyBody": root_reset})
    stub.add_response(
        "get_template",
        {"TemplateBody": json.dumps(NETWORK_TEMPLATE)},
        {"StackName": NETWORK, "TemplateStage": "Original"},
    )
    stub.add_response(
        "get_stack_policy", {"StackPolicyBody": network_policy} if network_policy else {}, {"StackName": NETWORK}
    )


def test_guard_before_update_re_sets_exactly_the_policies_that_do_not_deny_and_says_so(bundle):
    cfn = cfn_client()
    network_wanted = {"FlowLogsKey", "FlowLogsLogGroup", "OldBucket"}
    with Stubber(cfn) as stub:
        stub_guard(stub, root_policy=_body(ROOT_GUARDS), network_policy=_body({"FlowLogsKey"}))
        stub.add_response("set_stack_policy", {}, {"StackName": NETWORK, "StackPolicyBody": _body(network_wanted)})
        guard = guard_before_update(cfn, bundle, ROOT)
        stub.assert_no_pending_responses()  # the root's policy was right: not set again
    assert guard.stacks == {"root": ROOT, "network": NETWORK}
    assert guard.guarded == {"root": frozenset(ROOT_GUARDS), "network": frozenset(network_wanted)}
    assert guard.notes == [
        "stack policy of network did not deny replacing/deleting FlowLogsLogGroup, OldBucket: re-set"
    ]


def test_a_policy_without_any_body_is_set_and_a_right_one_is_left_alone(bundle):
    cfn = cfn_client()
    network_wanted = {"FlowLogsKey", "FlowLogsLogGroup", "OldBucket"}
    with Stubber(cfn) as stub:
        stub_guard(stub, root_policy=_body(ROOT_GUARDS), network_policy=None)
        stub.add_response("set_stack_policy", {}, {"StackName": NETWORK, "StackPolicyBody": _body(network_wanted)})
        assert guard_before_update(cfn, bundle, ROOT).notes == [
            "stack policy of network did not deny replacing/deleting FlowLogsKey, FlowLogsLogGroup, OldBucket: re-set"
        ]
        stub.assert_no_pending_responses()
    with Stubber(cfn) as stub:
        stub_guard(stub, root_policy=_body(ROOT_GUARDS), network_policy=_body(network_wanted))
        assert guard_before_update(cfn, bundle, ROOT).notes == []
        stub.assert_no_pending_responses()  # nothing set


def test_a_stricter_policy_in_force_is_re_set_without_a_note(bundle):
    """A policy that denies more than wanted differs from the wanted one: re-set, but nothing was missing."""
    cfn = cfn_client()
    with Stubber(cfn) as stub:
        stub_guard(
            stub,
            root_policy=_body(ROOT_GUARDS | {"Extra"}),
            network_policy=_body({"FlowLogsKey", "FlowLogsLogGroup", "OldBucket"}),
            root_reset=_body(ROOT_GUARDS),
        )
        assert guard_before_update(cfn, bundle, ROOT).notes == []
        stub.assert_no_pending_responses()


def test_loosened_opens_exactly_the_allowed_ids_and_restores_them_even_on_failure():
    cfn = cfn_client()
    guard = Guard(
        {"root": ROOT, "network": NETWORK, "data": DATA},
        {
            "root": frozenset({"DataStack"}),
            "network": frozenset({"FlowLogsKey", "FlowLogsLogGroup"}),
            "data": frozenset({"Db"}),
        },
    )
    notes = []
    with Stubber(cfn) as stub:
        stub.add_response("set_stack_policy", {}, {"StackName": NETWORK, "StackPolicyBody": _body(set())})
        stub.add_response("set_stack_policy", {}, {"StackName": ROOT, "StackPolicyBody": _body(set())})
        stub.add_response(
            "set_stack_policy",
            {},
            {"StackName": NETWORK, "StackPolicyBody": _body({"FlowLogsKey", "FlowLogsLogGroup"})},
        )
        stub.add_response("set_stack_policy", {}, {"StackName": ROOT, "StackPolicyBody": _body({"DataStack"})})
        with pytest.raises(StackFailed):
            with loosened(
                cfn,
                guard,
                {"network": frozenset({"FlowLogsLogGroup", "FlowLogsKey"}), "root": frozenset({"DataStack"})},
                notes.append,
            ):
                raise StackFailed("boom", "UPDATE_ROLLBACK_COMPLETE")
        stub.assert_no_pending_responses()
    assert notes == [
        "stack policy of network loosened for FlowLogsKey, FlowLogsLogGroup for this execution",
        "stack policy of root loosened for DataStack for this execution",
        "stack policy of network restored",
        "stack policy of root restored",
    ]


def test_loosened_refuses_what_it_cannot_loosen_and_does_nothing_without_allow():
    cfn = cfn_client()
    with Stubber(cfn) as stub:
        with loosened(cfn, None, {}, print):
            pass
        with pytest.raises(
            DeployerError, match="^replacing resources of a stack that does not exist yet: nothing to allow$"
        ):
            with loosened(cfn, None, {"network": frozenset({"X"})}, print):
                pass
        guard = Guard({"root": ROOT}, {"root": frozenset()})
        with pytest.raises(
            DeployerError, match="^no deployed stack for data, network: cannot loosen its stack policy$"
        ):
            with loosened(cfn, guard, {"network": frozenset({"X"}), "data": frozenset({"Y"})}, print):
                pass
        stub.assert_no_pending_responses()  # no call at all


def test_an_update_that_rolls_back_fails_the_run_inside_its_guards(bundle):
    """flow.run, the real code: guard, loosen, execute, restore. UPDATE_ROLLBACK_COMPLETE is a
    failure (exit 1 in the CLI), the policies are restored, nothing is protected after it."""
    cfn = cfn_client()
    network_wanted = {"FlowLogsKey", "FlowLogsLogGroup", "OldBucket"}
    notes = []
    with Stubber(cfn) as stub:
        stub_guard(stub, root_policy=_body(ROOT_GUARDS), network_policy=_body(network_wanted))
        stub.add_response(
            "set_stack_policy",
            {},
            {"StackName": NETWORK, "StackPolicyBody": _body(network_wanted, allow={"FlowLogsLogGroup"})},
        )
        stub_execution(stub, "UPDATE_ROLLBACK_COMPLETE")
        stub.add_response("set_stack_policy", {}, {"StackName": NETWORK, "StackPolicyBody": _body(network_wanted)})
        with pytest.raises(StackFailed) as failed:
            flow.run(
                aws_with(cfn),
                bundle,
                ChangeSetRef(NAME, ROOT, CS, "cs", "UPDATE"),
                allow={"network": frozenset({"FlowLogsLogGroup"})},
                clock=NO_WAIT,
                on_event=lambda e: None,
                note=notes.append,
            )
        stub.assert_no_pending_responses()
    assert failed.value.status == "UPDATE_ROLLBACK_COMPLETE"
    assert str(failed.value).startswith(
        f"stack {NAME} ended in UPDATE_ROLLBACK_COMPLETE: Vpc (AWS::EC2::VPC) UPDATE_FAILED"
    )
    assert notes == [
        "stack policy of network loosened for FlowLogsLogGroup for this execution",
        "stack policy of network restored",
    ]


def test_an_update_that_completes_restores_and_then_sets_the_new_templates_policies(bundle):
    cfn = cfn_client()
    network_wanted = {"FlowLogsKey", "FlowLogsLogGroup", "OldBucket"}
    with Stubber(cfn) as stub:
        stub_guard(stub, root_policy=_body(ROOT_GUARDS), network_policy=_body(network_wanted))
        stub_execution(stub, "UPDATE_COMPLETE")
        stub.add_response(
            "list_stack_resources",
            {
                "StackResourceSummaries": [
                    {
                        "LogicalResourceId": "NetworkStack",
                        "PhysicalResourceId": NETWORK,
                        "ResourceType": "AWS::CloudFormation::Stack",
                        "LastUpdatedTimestamp": T0,
                        "ResourceStatus": "UPDATE_COMPLETE",
                    },
                ]
            },
            {"StackName": ROOT},
        )
        # after the update the deployed template is the new one: its policy guards what it holds now
        stub.add_response("set_stack_policy", {}, {"StackName": ROOT, "StackPolicyBody": _body(ROOT_GUARDS)})
        stub.add_response(
            "set_stack_policy",
            {},
            {"StackName": NETWORK, "StackPolicyBody": _body({"FlowLogsKey", "FlowLogsLogGroup"})},
        )
        assert (
            flow.run(
                aws_with(cfn),
                bundle,
                ChangeSetRef(NAME, ROOT, CS, "cs", "UPDATE"),
                clock=NO_WAIT,
                on_event=print,
                note=print,
            )
            == "UPDATE_COMPLETE"
        )
        stub.assert_no_pending_responses()


def test_protect_after_gives_a_layer_without_a_policy_the_allow_all_policy(bundle):
    cfn = cfn_client()
    with Stubber(cfn) as stub:
        stub.add_response(
            "list_stack_resources",
            {
                "StackResourceSummaries": [
                    {
                        "LogicalResourceId": "SomethingNew",
                        "PhysicalResourceId": DATA,
                        "ResourceType": "AWS::CloudFormation::Stack",
                        "LastUpdatedTimestamp": T0,
                        "ResourceStatus": "CREATE_COMPLETE",
                    },
                ]
            },
            {"StackName": ROOT},
        )
        stub.add_response("set_stack_policy", {}, {"StackName": ROOT, "StackPolicyBody": _body(ROOT_GUARDS)})
        stub.add_response("set_stack_policy", {}, {"StackName": DATA, "StackPolicyBody": _body(())})
        protect_after(cfn, bundle, ROOT)
        stub.assert_no_pending_responses()


# ------------------------------------------------------------------ deploy asks before executing (CLI, emulator)


@pytest.fixture
def calls(monkeypatch):
    """Every AWS API operation the deployer calls, in order (the calls go through)."""
    import botocore.client

    recorded = []
    original = botocore.client.BaseClient._make_api_call

    def record(self, operation, params):
        recorded.append(operation)
        return original(self, operation, params)

    monkeypatch.setattr(botocore.client.BaseClient, "_make_api_call", record)
    return recorded


@pytest.mark.parametrize("answer", ["n\n", ""])  # no, and a closed stdin: both decline (exit 4)
def test_deploy_without_yes_executes_nothing_unless_the_user_says_yes(aws_env, clients, tmp_path, calls, answer):
    from click.testing import CliRunner

    import generate
    from deployer.errors import DECLINED_EXIT
    from tests.test_deployer_e2e import BUCKET, PARAMS

    # the web ACL's ARN by hand, so the root's change set is made before the question (without it,
    # the question is about the us-east-1 global stack first: tests/test_global_stack.py)
    args = [
        "deploy",
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
        "--skip-lint",
        "--skip-drift",
        "--parameter-overrides",
        "CloudFrontWebAclArn=arn:aws:wafv2:us-east-1:123456789012:global/webacl/w/1",
    ]
    result = CliRunner().invoke(generate.cli, args, input=answer, catch_exceptions=False)
    assert result.exit_code == DECLINED_EXIT == 4, result.output
    assert "CreateChangeSet" in calls and "ExecuteChangeSet" not in calls
    assert (
        "execute cfn-strata-" in result.output and f"({NAME})?" in result.output
    )  # one question names every change set
    cfn = boto3.client("cloudformation", region_name=REGION, endpoint_url=aws_env)
    assert cfn.describe_stacks(StackName=NAME)["Stacks"][0]["StackStatus"] == "REVIEW_IN_PROGRESS"
    assert "not executed" in result.output
    # and "y" executes it: the question is the only thing between the review and the execution
    result = CliRunner().invoke(generate.cli, args, input="y\n", catch_exceptions=False)
    assert result.exit_code == 0, result.output
    assert calls.count("ExecuteChangeSet") == 2  # the us-east-1 global stack's, then the root's
    assert f"CREATE_COMPLETE: {NAME}" in result.output


def test_a_policy_goes_out_as_compact_sorted_json_and_one_in_force_is_compared_by_content(bundle):
    """AWS hands back the body as it was set, in any layout: a policy in force with the same
    content in another key order and indentation is not set again."""
    assert policy_body(stack_policy({"B", "A"})) == (
        '{"Statement":[{"Action":"Update:*","Effect":"Allow","Principal":"*","Resource":"*"},'
        '{"Action":["Update:Replace","Update:Delete"],"Effect":"Deny","Principal":"*","Resource":["LogicalResourceId/A","LogicalResourceId/B"]}]}'
    )
    relaid = {
        "Statement": [
            {"Resource": s["Resource"], "Principal": s["Principal"], "Action": s["Action"], "Effect": s["Effect"]}
            for s in stack_policy(ROOT_GUARDS)["Statement"]
        ]
    }
    cfn = cfn_client()
    with Stubber(cfn) as stub:
        stub_guard(
            stub,
            root_policy=json.dumps(relaid, indent=2),
            network_policy=_body({"FlowLogsKey", "FlowLogsLogGroup", "OldBucket"}),
        )
        assert guard_before_update(cfn, bundle, ROOT).notes == []
        stub.assert_no_pending_responses()  # nothing set


def test_nested_stacks_are_those_with_a_physical_id_and_other_errors_are_not_swallowed():
    from botocore.exceptions import ClientError

    from deployer.guard import nested_stacks

    cfn = cfn_client()
    summary = {
        "ResourceType": "AWS::CloudFormation::Stack",
        "LastUpdatedTimestamp": T0,
        "ResourceStatus": "CREATE_IN_PROGRESS",
    }
    with Stubber(cfn) as stub:
        stub.add_response(
            "list_stack_resources",
            {
                "StackResourceSummaries": [
                    {**summary, "LogicalResourceId": "NetworkStack", "PhysicalResourceId": NETWORK},
                    {**summary, "LogicalResourceId": "DataStack"},  # being created: no physical id yet
                    {
                        **summary,
                        "LogicalResourceId": "Queue",
                        "PhysicalResourceId": "q",
                        "ResourceType": "AWS::SQS::Queue",
                    },
                ]
            },
            {"StackName": ROOT},
        )
        assert nested_stacks(cfn, ROOT) == {"NetworkStack": NETWORK}
        stub.add_client_error("list_stack_resources", "ValidationError", f"Stack with id {ROOT} does not exist")
        assert nested_stacks(cfn, ROOT) == {}
        stub.add_client_error("list_stack_resources", "AccessDenied", "not allowed")
        with pytest.raises(ClientError, match="AccessDenied"):
            nested_stacks(cfn, ROOT)
        stub.assert_no_pending_responses()


def test_termination_protection_is_turned_on_and_only_the_emulators_refusal_is_a_note():
    from botocore.exceptions import ClientError

    from deployer.guard import protect_termination

    cfn = cfn_client()
    notes = []
    with Stubber(cfn) as stub:
        stub.add_response(
            "update_termination_protection", {"StackId": ROOT}, {"StackName": NAME, "EnableTerminationProtection": True}
        )
        stub.add_client_error(
            "update_termination_protection",
            "NotImplemented",
            "not modelled",
            expected_params={"StackName": NAME, "EnableTerminationProtection": True},
        )
        stub.add_client_error("update_termination_protection", "AccessDenied", "not allowed")
        protect_termination(cfn, NAME, notes.append)
        assert notes == []
        protect_termination(cfn, NAME, notes.append)
        assert notes == ["termination protection is not modelled by the local emulator: not turned on"]
        with pytest.raises(ClientError, match="AccessDenied"):
            protect_termination(cfn, NAME, notes.append)
        stub.assert_no_pending_responses()


def test_rollback_triggers_watch_for_ten_minutes_by_default_and_none_without_alarms_deployed():
    from deployer.guard import MONITORING_MINUTES, rollback_configuration

    assert MONITORING_MINUTES == 10

    class NoObservability:
        nested_stacks = [{"layer": "network", "logical_id": "NetworkStack", "file": "network.json"}]

    assert (
        rollback_configuration(cfn_client(), NoObservability()) is None
    )  # no call: a Stubber-less client would fail on one


# ------------------------------------------------------------------ immutable values

# The deployer's dataclasses that change after they are made, and why; every other one is frozen:
# a change set reference, a review or a plan result cannot be altered between review and execute.
MUTABLE = {
    "Follower": "keeps the events it has streamed and the nested stacks it has found",
    "Guard": "collects its notes while it checks the policies in force",
    "Aws": "caches one client per service",
}


def test_every_value_the_deployer_passes_around_is_frozen():
    import dataclasses
    import importlib
    import pkgutil

    import deployer

    found = {}
    for info in pkgutil.iter_modules(deployer.__path__):
        module = importlib.import_module(f"deployer.{info.name}")
        for value in vars(module).values():
            if isinstance(value, type) and dataclasses.is_dataclass(value) and value.__module__ == module.__name__:
                found[value.__qualname__] = value.__dataclass_params__.frozen
    assert len(found) >= 30  # it looked: every module of the package
    assert sorted(name for name, frozen in found.items() if not frozen) == sorted(MUTABLE)

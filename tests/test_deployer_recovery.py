"""Failed-state guidance through botocore's Stubber (the emulator cannot produce these states):
ROLLBACK_COMPLETE says the create failed, why, and the delete-and-recreate commands;
UPDATE_ROLLBACK_FAILED gives continue-update-rollback with --resources-to-skip naming exactly the
resources that failed to roll back in the last update, nested ones as NestedStack.LogicalId."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import boto3
import pytest
from botocore.stub import Stubber

from deployer import flow
from deployer.changeset import ChangeSetRef, create_change_set
from deployer.errors import DeployerError
from deployer.execute import StackFailed
from deployer.recovery import resources_to_skip
from deployer.session import Aws
from tests.test_deployer_units import UPLOAD, FakeBundle

NAME = "product-catalog-pr5706"
ROOT = f"arn:aws:cloudformation:eu-north-1:111122223333:stack/{NAME}/1"
DATA = f"arn:aws:cloudformation:eu-north-1:111122223333:stack/{NAME}-DataStack-A/2"
EDGE = f"arn:aws:cloudformation:eu-north-1:111122223333:stack/{NAME}-EdgeStack-B/3"
NETWORK = f"arn:aws:cloudformation:eu-north-1:111122223333:stack/{NAME}-NetworkStack-C/4"
T0 = datetime(2025, 1, 1, 12, 0, tzinfo=UTC)


class Bundle(FakeBundle):
    manifest = {"tags": {"Project": "catalog-api"}, "application": "product-catalog", "environment": "dev"}
    is_prod = False


def cfn_client():
    return boto3.client("cloudformation", region_name="eu-north-1", aws_access_key_id="x", aws_secret_access_key="x")


def events(stack_id: str, stack_name: str, rows: list[tuple]) -> dict:
    """rows oldest first: (logical id, type, status, reason, physical id); the stack itself is `SELF`."""
    out = []
    for n, (logical, kind, status, reason, physical) in enumerate(rows):
        self_event = logical == "SELF"
        out.append(
            {
                "StackId": stack_id,
                "EventId": f"{stack_id}-{n}",
                "StackName": stack_name,
                "LogicalResourceId": stack_name if self_event else logical,
                "PhysicalResourceId": stack_id if self_event else physical,
                "ResourceType": "AWS::CloudFormation::Stack" if self_event else kind,
                "Timestamp": T0 + timedelta(seconds=n),
                "ResourceStatus": status,
                **({"ResourceStatusReason": reason} if reason else {}),
            }
        )
    return {"StackEvents": list(reversed(out))}


def described(status: str) -> dict:
    return {"Stacks": [{"StackName": NAME, "StackId": ROOT, "StackStatus": status, "CreationTime": T0}]}


STACK = "AWS::CloudFormation::Stack"
CREATE_FAILED_ROOT = events(
    ROOT,
    NAME,
    [
        ("SELF", "", "CREATE_IN_PROGRESS", "User Initiated", ""),
        ("NetworkStack", STACK, "CREATE_IN_PROGRESS", "", NETWORK),
        (
            "NetworkStack",
            STACK,
            "CREATE_FAILED",
            "Embedded stack arn:... was not successfully created: The following resource(s) failed to create: "
            "[FlowLogsLogGroup].",
            NETWORK,
        ),
        ("SELF", "", "ROLLBACK_IN_PROGRESS", "The following resource(s) failed to create: [NetworkStack].", ""),
        ("NetworkStack", STACK, "DELETE_COMPLETE", "", NETWORK),
        ("SELF", "", "ROLLBACK_COMPLETE", "", ""),
    ],
)
CREATE_FAILED_NETWORK = events(
    NETWORK,
    f"{NAME}-NetworkStack-C",
    [
        ("SELF", "", "CREATE_IN_PROGRESS", "", ""),
        ("Vpc", "AWS::EC2::VPC", "CREATE_FAILED", "Resource creation cancelled", "vpc-1"),
        (
            "FlowLogsLogGroup",
            "AWS::Logs::LogGroup",
            "CREATE_FAILED",
            "Resource handler returned message: \"Resource of type 'AWS::Logs::LogGroup' with identifier "
            "'vpc-flow-logs-pr5706' already exists.\"",
            "",
        ),
        ("SELF", "", "ROLLBACK_COMPLETE", "", ""),
    ],
)


def test_rollback_complete_at_plan_explains_the_failed_create_and_gives_the_delete_commands():
    cfn = cfn_client()
    with Stubber(cfn) as stub:
        stub.add_response("describe_stacks", described("ROLLBACK_COMPLETE"), {"StackName": NAME})
        stub.add_response("describe_stack_events", CREATE_FAILED_ROOT, {"StackName": ROOT})
        stub.add_response(
            "describe_stack_events", CREATE_FAILED_ROOT, {"StackName": ROOT}
        )  # second pass after discovering the nested stack
        stub.add_response("describe_stack_events", CREATE_FAILED_NETWORK, {"StackName": NETWORK})
        with pytest.raises(DeployerError) as failed:
            create_change_set(cfn, Bundle(), UPLOAD, now=T0)
        stub.assert_no_pending_responses()  # and no change set was created
    message = str(failed.value)
    assert message.startswith(
        f"stack {NAME} is in ROLLBACK_COMPLETE: its first create failed (FlowLogsLogGroup "
        "(AWS::Logs::LogGroup) CREATE_FAILED: Resource handler returned message: "
    )
    assert "'vpc-flow-logs-pr5706' already exists" in message
    assert "Resource creation cancelled" not in message
    assert (
        "cannot be updated, only deleted: run `cfn-strata destroy product-catalog --env dev` (or `aws "
        "cloudformation delete-stack --stack-name product-catalog-pr5706 --region eu-north-1`)" in message
    )


UPDATE_ROLLBACK_FAILED_ROOT = events(
    ROOT,
    NAME,
    [
        ("DataStack", STACK, "UPDATE_FAILED", "an older update's failure, long recovered", DATA),
        ("SELF", "", "UPDATE_IN_PROGRESS", "User Initiated", ""),
        ("DataStack", STACK, "UPDATE_IN_PROGRESS", "", DATA),
        ("EdgeStack", STACK, "UPDATE_IN_PROGRESS", "", EDGE),
        ("NetworkStack", STACK, "UPDATE_IN_PROGRESS", "", NETWORK),
        ("NetworkStack", STACK, "UPDATE_COMPLETE", "", NETWORK),
        ("DataStack", STACK, "UPDATE_FAILED", "Embedded stack was not successfully updated", DATA),
        ("SELF", "", "UPDATE_ROLLBACK_IN_PROGRESS", "The following resource(s) failed to update: [DataStack].", ""),
        ("NetworkStack", STACK, "UPDATE_COMPLETE", "", NETWORK),
        ("DataStack", STACK, "UPDATE_FAILED", "Embedded stack was not successfully rolled back", DATA),
        ("EdgeStack", STACK, "UPDATE_FAILED", "Embedded stack was not successfully rolled back", EDGE),
        (
            "SELF",
            "",
            "UPDATE_ROLLBACK_FAILED",
            "The following resource(s) failed to update: [DataStack, EdgeStack].",
            "",
        ),
    ],
)
UPDATE_ROLLBACK_FAILED_DATA = events(
    DATA,
    f"{NAME}-DataStack-A",
    [
        ("DatabaseParameterGroup", "AWS::RDS::DBClusterParameterGroup", "UPDATE_FAILED", "before this update", "pg-0"),
        ("SELF", "", "UPDATE_IN_PROGRESS", "", ""),
        ("DatabaseCluster", "AWS::RDS::DBCluster", "UPDATE_FAILED", "DB cluster is not in available state", "db-1"),
        ("SELF", "", "UPDATE_ROLLBACK_IN_PROGRESS", "", ""),
        ("DatabaseParameterGroup", "AWS::RDS::DBClusterParameterGroup", "UPDATE_COMPLETE", "", "pg-1"),
        ("DatabaseCluster", "AWS::RDS::DBCluster", "UPDATE_FAILED", "DBCluster db-1 not found", "db-1"),
        ("SELF", "", "UPDATE_ROLLBACK_FAILED", "", ""),
    ],
)
UPDATE_ROLLBACK_FAILED_EDGE = events(
    EDGE,
    f"{NAME}-EdgeStack-B",
    [
        ("SELF", "", "UPDATE_IN_PROGRESS", "", ""),
        ("Distribution", "AWS::CloudFront::Distribution", "UPDATE_FAILED", "throttled", "E1"),
        ("SELF", "", "UPDATE_ROLLBACK_IN_PROGRESS", "", ""),
        (
            "Distribution",
            "AWS::CloudFront::Distribution",
            "UPDATE_FAILED",
            "Invalid request: certificate not found",
            "E1",
        ),
        ("Firewall", "AWS::WAFv2::WebACL", "UPDATE_FAILED", "WAF busy", "w-1"),
        ("SELF", "", "UPDATE_ROLLBACK_FAILED", "", ""),
    ],
)


def stub_update_rollback_failed(stub):
    stub.add_response("describe_stack_events", UPDATE_ROLLBACK_FAILED_ROOT, {"StackName": ROOT})
    stub.add_response("describe_stack_events", UPDATE_ROLLBACK_FAILED_DATA, {"StackName": DATA})
    stub.add_response("describe_stack_events", UPDATE_ROLLBACK_FAILED_EDGE, {"StackName": EDGE})


def test_resources_to_skip_are_the_failed_ones_of_the_last_update_nested_as_parent_dot_id():
    cfn = cfn_client()
    with Stubber(cfn) as stub:
        stub_update_rollback_failed(stub)
        assert resources_to_skip(cfn, ROOT) == [
            "DataStack.DatabaseCluster",
            "EdgeStack.Distribution",
            "EdgeStack.Firewall",
        ]
        stub.assert_no_pending_responses()


def test_update_rollback_failed_at_plan_gives_continue_update_rollback():
    cfn = cfn_client()
    with Stubber(cfn) as stub:
        stub.add_response("describe_stacks", described("UPDATE_ROLLBACK_FAILED"), {"StackName": NAME})
        for response, stack in (
            (UPDATE_ROLLBACK_FAILED_ROOT, ROOT),
            (UPDATE_ROLLBACK_FAILED_DATA, DATA),
            (UPDATE_ROLLBACK_FAILED_EDGE, EDGE),
        ):
            stub.add_response("describe_stack_events", response, {"StackName": stack})
        with pytest.raises(DeployerError) as failed:
            create_change_set(cfn, Bundle(), UPLOAD, now=T0)
        stub.assert_no_pending_responses()
    message = str(failed.value)
    assert message.startswith(
        f"stack {NAME} is in UPDATE_ROLLBACK_FAILED: an update failed and its rollback failed too "
        "(DataStack.DatabaseCluster, EdgeStack.Distribution, EdgeStack.Firewall could not be rolled back)"
    )
    assert (
        "`aws cloudformation continue-update-rollback --stack-name product-catalog-pr5706 --region eu-north-1 "
        "--resources-to-skip DataStack.DatabaseCluster EdgeStack.Distribution EdgeStack.Firewall`"
    ) in message


def test_a_failed_execution_ends_with_the_recovery_command():
    """flow.run with the real execute(): the execution's events, the root's final state, then the
    guidance that reads the events again; no stack policy is set on a stack that is gone."""
    cfn = cfn_client()
    aws = Aws(boto3.Session(region_name="eu-north-1", aws_access_key_id="x", aws_secret_access_key="x"))
    aws._clients["cloudformation"] = cfn
    ref = ChangeSetRef(NAME, ROOT, "arn:cs", "cs", "CREATE")
    with Stubber(cfn) as stub:
        # execute(): no events before the create, ExecuteChangeSet, the events, the final state
        stub.add_response("describe_stack_events", {"StackEvents": []}, {"StackName": ROOT})
        stub.add_response("execute_change_set", {}, {"ChangeSetName": "arn:cs"})
        stub.add_response("describe_stack_events", CREATE_FAILED_ROOT, {"StackName": ROOT})
        stub.add_response("describe_stacks", described("ROLLBACK_COMPLETE"), {"StackName": ROOT})
        stub.add_response("describe_stack_events", CREATE_FAILED_ROOT, {"StackName": ROOT})
        stub.add_response("describe_stack_events", CREATE_FAILED_NETWORK, {"StackName": NETWORK})
        # guidance(): the first cause, read again
        stub.add_response("describe_stack_events", CREATE_FAILED_ROOT, {"StackName": ROOT})
        stub.add_response("describe_stack_events", CREATE_FAILED_ROOT, {"StackName": ROOT})
        stub.add_response("describe_stack_events", CREATE_FAILED_NETWORK, {"StackName": NETWORK})
        with pytest.raises(StackFailed) as failed:
            flow.run(aws, Bundle(), ref, clock=flow.Clock(sleep=lambda s: None, delay=0), on_event=print, note=print)
        stub.assert_no_pending_responses()  # no stack policy set on a stack that is gone
    assert failed.value.status == "ROLLBACK_COMPLETE"
    first, advice = str(failed.value).split("\n")
    assert first == (
        f"stack {NAME} ended in ROLLBACK_COMPLETE: FlowLogsLogGroup (AWS::Logs::LogGroup) CREATE_FAILED: "
        "Resource handler returned message: \"Resource of type 'AWS::Logs::LogGroup' with identifier "
        "'vpc-flow-logs-pr5706' already exists.\""
    )
    assert (
        advice.startswith(f"stack {NAME} is in ROLLBACK_COMPLETE")
        and "cfn-strata destroy product-catalog --env dev" in advice
    )


# -------------------------------------------------- ROLLBACK_FAILED: deletion protection blocked a failed first create

DB_ARN_ID = "rds-pr5706"
ALB_ARN = "arn:aws:elasticloadbalancing:eu-north-1:111122223333:loadbalancer/app/alb-pr5706/50dc6c495c0c9188"
PROTECTED_DB = (
    'Resource handler returned message: "Cannot delete protected DB Instance, please disable deletion protection '
    'and try again."'
)
PROTECTED_ALB = (
    "Resource handler returned message: \"Load balancer 'arn:...' cannot be deleted because deletion protection is "
    'enabled"'
)
ROLLBACK_FAILED_ROOT = events(
    ROOT,
    NAME,
    [
        ("SELF", "", "CREATE_IN_PROGRESS", "User Initiated", ""),
        ("DataStack", STACK, "CREATE_IN_PROGRESS", "", DATA),
        ("EdgeStack", STACK, "CREATE_IN_PROGRESS", "", EDGE),
        ("DataStack", STACK, "CREATE_COMPLETE", "", DATA),
        (
            "EdgeStack",
            STACK,
            "CREATE_FAILED",
            "Embedded stack was not successfully created: The following resource(s) failed to create: [Distribution].",
            EDGE,
        ),
        ("SELF", "", "ROLLBACK_IN_PROGRESS", "The following resource(s) failed to create: [EdgeStack].", ""),
        ("DataStack", STACK, "DELETE_FAILED", "Embedded stack was not successfully deleted", DATA),
        ("EdgeStack", STACK, "DELETE_FAILED", "Embedded stack was not successfully deleted", EDGE),
        ("SELF", "", "ROLLBACK_FAILED", "The following resource(s) failed to delete: [DataStack, EdgeStack].", ""),
    ],
)
ROLLBACK_FAILED_DATA = events(
    DATA,
    f"{NAME}-DataStack-A",
    [
        ("SELF", "", "CREATE_IN_PROGRESS", "", ""),
        ("Database", "AWS::RDS::DBInstance", "CREATE_IN_PROGRESS", "", DB_ARN_ID),
        ("Database", "AWS::RDS::DBInstance", "CREATE_COMPLETE", "", DB_ARN_ID),
        ("DatabaseReplica1", "AWS::RDS::DBInstance", "CREATE_IN_PROGRESS", "", ""),
        ("SELF", "", "CREATE_IN_PROGRESS", "", ""),
        # an instance this create did NOT make (its name existed already): never touched
        (
            "DatabaseReplica1",
            "AWS::RDS::DBInstance",
            "CREATE_FAILED",
            "Resource creation cancelled",
            "rds-replica-1-pr5706",
        ),
        ("SELF", "", "DELETE_IN_PROGRESS", "", ""),
        ("DatabaseSecretAttachment", "AWS::SecretsManager::SecretTargetAttachment", "DELETE_COMPLETE", "", "att-1"),
        ("Database", "AWS::RDS::DBInstance", "DELETE_FAILED", PROTECTED_DB, DB_ARN_ID),
        ("DatabaseReplica1", "AWS::RDS::DBInstance", "DELETE_FAILED", PROTECTED_DB, "rds-replica-1-pr5706"),
        ("SELF", "", "DELETE_FAILED", "", ""),
    ],
)
ROLLBACK_FAILED_EDGE = events(
    EDGE,
    f"{NAME}-EdgeStack-B",
    [
        ("SELF", "", "CREATE_IN_PROGRESS", "", ""),
        ("LoadBalancer", "AWS::ElasticLoadBalancingV2::LoadBalancer", "CREATE_COMPLETE", "", ALB_ARN),
        ("LoadBalancerSecurityGroupLink", "AWS::EC2::SecurityGroup", "CREATE_COMPLETE", "", "sg-0abc"),
        (
            "Distribution",
            "AWS::CloudFront::Distribution",
            "CREATE_FAILED",
            "Invalid request: certificate not found",
            "",
        ),
        ("SELF", "", "ROLLBACK_IN_PROGRESS", "", ""),
        (
            "LoadBalancerSecurityGroupLink",
            "AWS::EC2::SecurityGroup",
            "DELETE_FAILED",
            "resource sg-0abc has a dependent object",
            "sg-0abc",
        ),
        ("LoadBalancer", "AWS::ElasticLoadBalancingV2::LoadBalancer", "DELETE_FAILED", PROTECTED_ALB, ALB_ARN),
        ("SELF", "", "ROLLBACK_FAILED", "", ""),
    ],
)


def stub_rollback_failed_cause_and_walk(stub):
    # first_cause: the follower polls the root, then the root and the two nested stacks it found
    for response, stack in (
        (ROLLBACK_FAILED_ROOT, ROOT),
        (ROLLBACK_FAILED_ROOT, ROOT),
        (ROLLBACK_FAILED_DATA, DATA),
        (ROLLBACK_FAILED_EDGE, EDGE),
    ):
        stub.add_response("describe_stack_events", response, {"StackName": stack})
    stub_rollback_failed_walk(stub)


def stub_rollback_failed_walk(stub):
    for response, stack in ((ROLLBACK_FAILED_ROOT, ROOT), (ROLLBACK_FAILED_DATA, DATA), (ROLLBACK_FAILED_EDGE, EDGE)):
        stub.add_response("describe_stack_events", response, {"StackName": stack})


def test_only_what_the_failed_create_made_and_protection_blocked_is_named():
    from deployer.recovery import Protected, blocked_by_deletion_protection

    cfn = cfn_client()
    with Stubber(cfn) as stub:
        stub_rollback_failed_walk(stub)
        assert blocked_by_deletion_protection(cfn, ROOT) == [
            Protected("DataStack", "Database", "AWS::RDS::DBInstance", DB_ARN_ID),
            Protected("EdgeStack", "LoadBalancer", "AWS::ElasticLoadBalancingV2::LoadBalancer", ALB_ARN),
        ]
        stub.assert_no_pending_responses()


def test_rollback_failed_at_plan_gives_the_exact_commands_for_exactly_those_resources():
    cfn = cfn_client()
    with Stubber(cfn) as stub:
        stub.add_response("describe_stacks", described("ROLLBACK_FAILED"), {"StackName": NAME})
        stub_rollback_failed_cause_and_walk(stub)
        with pytest.raises(DeployerError) as failed:
            create_change_set(cfn, Bundle(), UPLOAD, now=T0)
        stub.assert_no_pending_responses()  # no change set on a stack that can only be deleted
    message = str(failed.value)
    assert message.startswith(
        f"stack {NAME} is in ROLLBACK_FAILED: its first create failed (Distribution "
        "(AWS::CloudFront::Distribution) CREATE_FAILED: Invalid request: certificate not found)"
    )
    assert (
        f"Deletion protection blocked the delete of DataStack.Database ({DB_ARN_ID}), EdgeStack.LoadBalancer "
        f"({ALB_ARN})" in message
    )
    commands = [line.strip() for line in message.splitlines() if line.startswith("  ")]
    assert commands == [
        f"aws rds modify-db-instance --db-instance-identifier {DB_ARN_ID} --no-deletion-protection "
        "--apply-immediately --region eu-north-1",
        f"aws elbv2 modify-load-balancer-attributes --load-balancer-arn {ALB_ARN} --attributes "
        "Key=deletion_protection.enabled,Value=false --region eu-north-1",
        f"aws cloudformation delete-stack --stack-name {NAME} --region eu-north-1",
    ]
    assert "rds-replica-1-pr5706" not in message  # it existed before this create: never touched
    assert "cfn-strata destroy product-catalog --env dev --release-failed-create" in message


def _no_templates(stub, stack_id):
    stub.add_response(
        "get_template", {"TemplateBody": '{"Resources": {}}'}, {"StackName": stack_id, "TemplateStage": "Original"}
    )
    stub.add_response("list_stack_resources", {"StackResourceSummaries": []}, {"StackName": stack_id})


def test_destroy_refuses_a_protected_failed_create_without_the_flag():
    cfn = cfn_client()
    with Stubber(cfn) as stub:
        stub.add_response("describe_stacks", described("ROLLBACK_FAILED"), {"StackName": NAME})
        stub_rollback_failed_walk(stub)
        stub_rollback_failed_cause_and_walk(stub)
        with pytest.raises(DeployerError) as refused:
            flow.destroy(cfn, NAME, command="cfn-strata destroy product-catalog --env dev")
        stub.assert_no_pending_responses()  # nothing modified, nothing deleted
    assert "--release-failed-create" in str(refused.value)


def test_destroy_with_the_flag_turns_protection_off_on_exactly_those_then_deletes():
    cfn = cfn_client()
    rds = boto3.client("rds", region_name="eu-north-1", aws_access_key_id="x", aws_secret_access_key="x")
    elbv2 = boto3.client("elbv2", region_name="eu-north-1", aws_access_key_id="x", aws_secret_access_key="x")
    notes = []
    with Stubber(cfn) as stub, Stubber(rds) as rds_stub, Stubber(elbv2) as elb_stub:
        stub.add_response("describe_stacks", described("ROLLBACK_FAILED"), {"StackName": NAME})
        stub_rollback_failed_walk(stub)
        _no_templates(stub, NAME)
        rds_stub.add_response(
            "modify_db_instance",
            {"DBInstance": {"DBInstanceIdentifier": DB_ARN_ID, "DeletionProtection": False}},
            {"DBInstanceIdentifier": DB_ARN_ID, "DeletionProtection": False, "ApplyImmediately": True},
        )
        elb_stub.add_response(
            "modify_load_balancer_attributes",
            {"Attributes": [{"Key": "deletion_protection.enabled", "Value": "false"}]},
            {"LoadBalancerArn": ALB_ARN, "Attributes": [{"Key": "deletion_protection.enabled", "Value": "false"}]},
        )
        stub.add_response("delete_stack", {}, {"StackName": ROOT})
        stub.add_response(
            "describe_stacks",
            {"Stacks": [{"StackName": NAME, "StackId": ROOT, "StackStatus": "DELETE_COMPLETE", "CreationTime": T0}]},
            {"StackName": ROOT},
        )
        kept = flow.destroy(
            cfn, NAME, release_failed_create={"rds": rds, "elbv2": elbv2}.__getitem__, note=notes.append
        )
        for s in (stub, rds_stub, elb_stub):
            s.assert_no_pending_responses()
    assert kept == []
    assert notes == [
        f"deletion protection off: DataStack.Database ({DB_ARN_ID})",
        f"deletion protection off: EdgeStack.LoadBalancer ({ALB_ARN})",
    ]

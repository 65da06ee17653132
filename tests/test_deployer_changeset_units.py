"""deployer/changeset.py through a Stubber-fed client: exactly what CreateChangeSet carries for a
create and for an update (rollback triggers, drift-aware mode, the service role, the deployed
stack for unpinned image tags), the two ways CloudFormation says "no changes", and what the user
reads when waiting fails or is interrupted."""

from __future__ import annotations

import pytest
from botocore.stub import Stubber

from deployer import changeset
from deployer.changeset import ChangeSetRef, NoChanges, Waiting, change_set_type, create_change_set
from deployer.errors import DeployerError, Interrupted
from tests.test_deployer_gates import cfn_client
from tests.test_deployer_units import CAPABILITIES, CS_ID, NOW, STACK_ID, UPLOAD, FakeBundle

STACK = FakeBundle.stack_name
NAME = "cfn-strata-20250101-120000-abababab"
ROLE = "arn:aws:iam::111122223333:role/cfn-strata-deployer"
TRIGGERS = {
    "RollbackTriggers": [
        {"Arn": "arn:aws:cloudwatch:eu-north-1:111122223333:alarm:a", "Type": "AWS::CloudWatch::Alarm"}
    ],
    "MonitoringTimeInMinutes": 10,
}
DEPLOYED = {
    "StackName": STACK,
    "StackId": STACK_ID,
    "StackStatus": "UPDATE_COMPLETE",
    "CreationTime": NOW,
    "Parameters": [{"ParameterKey": "CertificateArn", "ParameterValue": ""}],
}


class RoleBundle(FakeBundle):
    role_arn = ROLE


@pytest.fixture
def parameters_for(monkeypatch):
    """The deployed stack create_change_set hands to change_set_parameters (unpinned image tags
    keep their deployed value on an update only)."""
    seen = []

    def parameters(bundle, deployed):
        seen.append(deployed)
        return [{"ParameterKey": "CertificateArn", "ParameterValue": ""}]

    monkeypatch.setattr(changeset, "change_set_parameters", parameters)
    return seen


def expected_request(kind: str, **extra) -> dict:
    return {
        "StackName": STACK,
        "ChangeSetName": NAME,
        "ChangeSetType": kind,
        "TemplateURL": UPLOAD.root.url,
        "IncludeNestedStacks": True,
        "Capabilities": CAPABILITIES,
        "Parameters": [{"ParameterKey": "CertificateArn", "ParameterValue": ""}],
        "Tags": [{"Key": "Project", "Value": "catalog-api"}],
        "Description": f"cfn-strata product-catalog/dev: root {'ab' * 6} (1 layers)",
        **extra,
    }


def completed(stub: Stubber) -> None:
    stub.add_response(
        "describe_change_set",
        {"ChangeSetId": CS_ID, "StackName": STACK, "ExecutionStatus": "AVAILABLE", "Status": "CREATE_COMPLETE"},
        {"ChangeSetName": CS_ID},
    )


def test_an_update_carries_the_rollback_triggers_the_drift_aware_mode_and_the_role(parameters_for):
    cfn, said = cfn_client(), []
    with Stubber(cfn) as stub:
        stub.add_response("describe_stacks", {"Stacks": [DEPLOYED]}, {"StackName": STACK})
        stub.add_response(
            "create_change_set",
            {"Id": CS_ID, "StackId": STACK_ID},
            expected_request("UPDATE", RollbackConfiguration=TRIGGERS, DeploymentMode="REVERT_DRIFT", RoleARN=ROLE),
        )
        completed(stub)
        ref = create_change_set(
            cfn,
            RoleBundle(),
            UPLOAD,
            now=NOW,
            waiting=Waiting(delay=0, max_attempts=1),
            progress=said.append,
            rollback_configuration=TRIGGERS,
            revert_drift=True,
        )
        stub.assert_no_pending_responses()
    assert ref == ChangeSetRef(STACK, STACK_ID, CS_ID, NAME, "UPDATE")
    assert parameters_for == [DEPLOYED]
    assert said == [f"waiting for change set {NAME}"]


def test_a_create_carries_no_rollback_triggers_and_no_deployed_stack(parameters_for):
    cfn = cfn_client()
    with Stubber(cfn) as stub:
        stub.add_client_error("describe_stacks", "ValidationError", f"Stack with id {STACK} does not exist")
        stub.add_response("create_change_set", {"Id": CS_ID, "StackId": STACK_ID}, expected_request("CREATE"))
        completed(stub)
        ref = create_change_set(
            cfn,
            FakeBundle(),
            UPLOAD,
            now=NOW,
            waiting=Waiting(delay=0, max_attempts=1),
            rollback_configuration=TRIGGERS,
        )
        stub.assert_no_pending_responses()
    assert ref.type == "CREATE"
    assert parameters_for == [None]


@pytest.mark.parametrize(
    "message",
    [
        "No updates are to be performed.",
        "The submitted information didn't contain changes. Submit different information to create a change set.",
    ],
)
def test_no_changes_refused_by_create_change_set_itself_is_the_typed_outcome(parameters_for, message):
    cfn = cfn_client()
    with Stubber(cfn) as stub:
        stub.add_response("describe_stacks", {"Stacks": [DEPLOYED]}, {"StackName": STACK})
        stub.add_client_error("create_change_set", "ValidationError", message)
        outcome = create_change_set(cfn, FakeBundle(), UPLOAD, now=NOW, waiting=Waiting(delay=0, max_attempts=1))
        stub.assert_no_pending_responses()
    assert outcome == NoChanges(STACK, message)


def test_any_other_refusal_of_create_change_set_is_raised(parameters_for):
    cfn = cfn_client()
    with Stubber(cfn) as stub:
        stub.add_response("describe_stacks", {"Stacks": [DEPLOYED]}, {"StackName": STACK})
        stub.add_client_error("create_change_set", "InsufficientCapabilitiesException", "Requires capabilities")
        with pytest.raises(Exception, match="Requires capabilities"):
            create_change_set(cfn, FakeBundle(), UPLOAD, now=NOW, waiting=Waiting(delay=0, max_attempts=1))


def test_waiting_that_fails_on_describe_change_set_says_the_change_set_may_exist(parameters_for):
    cfn = cfn_client()
    with Stubber(cfn) as stub:
        stub.add_response("describe_stacks", {"Stacks": [DEPLOYED]}, {"StackName": STACK})
        stub.add_response("create_change_set", {"Id": CS_ID, "StackId": STACK_ID}, expected_request("UPDATE"))
        stub.add_client_error("describe_change_set", "AccessDenied", "not allowed", 403)
        with pytest.raises(DeployerError) as failed:
            create_change_set(cfn, FakeBundle(), UPLOAD, now=NOW, waiting=Waiting(delay=0, max_attempts=1))
    assert str(failed.value).endswith(
        f"; the change set {NAME} may still be created: review it with `cfn-strata review product-catalog --env dev "
        f"--change-set {NAME}`"
    )


def test_ctrl_c_while_waiting_for_the_change_set_says_nothing_was_executed(parameters_for, monkeypatch):
    cfn = cfn_client()

    class Interrupting:
        def wait(self, **kwargs):
            raise KeyboardInterrupt

    monkeypatch.setattr(cfn, "get_waiter", lambda name: Interrupting())
    with Stubber(cfn) as stub:
        stub.add_response("describe_stacks", {"Stacks": [DEPLOYED]}, {"StackName": STACK})
        stub.add_response("create_change_set", {"Id": CS_ID, "StackId": STACK_ID}, expected_request("UPDATE"))
        with pytest.raises(Interrupted) as stopped:
            create_change_set(cfn, FakeBundle(), UPLOAD, now=NOW)
    assert str(stopped.value) == (
        f"stopped waiting; change set {NAME} is still being created on {STACK} and nothing was executed. "
        f"Review it with: cfn-strata review product-catalog --env dev --change-set {NAME}"
    )


def test_states_that_cannot_be_updated_say_what_to_do():
    with pytest.raises(DeployerError) as rolled_back:
        change_set_type("shop-dev", "ROLLBACK_COMPLETE")
    assert str(rolled_back.value) == (
        "stack shop-dev is in ROLLBACK_COMPLETE (its first create failed) and cannot be updated: delete it with "
        "`cfn-strata destroy`, then plan again"
    )
    with pytest.raises(DeployerError) as busy:
        change_set_type("shop-dev", "UPDATE_ROLLBACK_IN_PROGRESS")
    assert str(busy.value) == (
        "stack shop-dev is busy (UPDATE_ROLLBACK_IN_PROGRESS): wait for it to finish, then plan again"
    )


def test_waiters_wait_five_seconds_between_checks_for_up_to_an_hour():
    assert Waiting().config() == {"Delay": 5, "MaxAttempts": 720}
    assert Waiting(delay=0, max_attempts=3).config() == {"Delay": 0, "MaxAttempts": 3}


def test_a_failed_change_set_in_local_mode_says_its_validation_details_were_not_read(parameters_for):
    cfn = cfn_client()
    with Stubber(cfn) as stub:
        stub.add_response("describe_stacks", {"Stacks": [DEPLOYED]}, {"StackName": STACK})
        stub.add_response("create_change_set", {"Id": CS_ID, "StackId": STACK_ID}, expected_request("UPDATE"))
        stub.add_response(
            "describe_change_set",
            {"ChangeSetId": CS_ID, "StackName": STACK, "Status": "FAILED", "StatusReason": "Template error"},
            {"ChangeSetName": CS_ID},
        )
        with pytest.raises(DeployerError) as failed:  # no DescribeEvents call: the emulator does not model it
            create_change_set(
                cfn, FakeBundle(), UPLOAD, now=NOW, waiting=Waiting(delay=0, max_attempts=1), read_events=False
            )
        stub.assert_no_pending_responses()
    assert str(failed.value) == (
        f"change set {NAME} failed: Template error\n"
        "note: early-validation details are not modelled by the local emulator: not read"
    )

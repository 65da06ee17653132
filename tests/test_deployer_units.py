"""Paths the emulator cannot show, through botocore's Stubber: a change set that fails with a
reason, "no changes" mapped to its typed outcome, and the guard on the moto patches."""

from __future__ import annotations

from datetime import UTC, datetime

import boto3
import moto
import pytest
from botocore.stub import ANY, Stubber

from deployer import local
from deployer.changeset import NoChanges, Waiting, change_set_name, change_set_type, create_change_set
from deployer.errors import DeployerError
from deployer.upload import UploadedTemplate, UploadResult

NOW = datetime(2025, 1, 1, 12, 0, 0, tzinfo=UTC)
CS_ID = "arn:aws:cloudformation:eu-north-1:111122223333:changeSet/cs/1"
STACK_ID = "arn:aws:cloudformation:eu-north-1:111122223333:stack/product-catalog-pr5706/1"


# What the templates need, computed by the real deployer.changeset.capabilities from FakeBundle's
# documents: a nested stack (AUTO_EXPAND) and a named role (IAM and NAMED_IAM).
CAPABILITIES = ["CAPABILITY_AUTO_EXPAND", "CAPABILITY_IAM", "CAPABILITY_NAMED_IAM"]


class FakeBundle:
    stack_name = "product-catalog-pr5706"
    label = "product-catalog/dev"
    manifest = {"tags": {"Project": "catalog-api"}}
    tags = {"Project": "catalog-api"}  # the stack tags (Bundle.tags: the profile's and --tags)
    role_arn = None  # no --role-arn
    cli_target = "product-catalog --env dev"
    nested_stacks = [{"logical_id": "NetworkStack"}]
    DOCUMENTS = {
        "root.json": {
            "Resources": {
                "NetworkStack": {
                    "Type": "AWS::CloudFormation::Stack",
                    "Properties": {"TemplateURL": "https://b.s3.eu-north-1.amazonaws.com/n"},
                }
            }
        },
        "security.json": {
            "Resources": {
                "TaskRole": {
                    "Type": "AWS::IAM::Role",
                    "Properties": {"RoleName": "ecs-task-api-pr5706", "AssumeRolePolicyDocument": {}},
                }
            }
        },
    }
    files = dict.fromkeys(DOCUMENTS, b"")

    def document(self, file):
        return self.DOCUMENTS[file]

    def parameters(self):
        return {"CertificateArn": ""}


UPLOAD = UploadResult(
    UploadedTemplate("root.json", "k", "https://b.s3.eu-north-1.amazonaws.com/k", "ab" * 32, False), (), None
)


def stubbed_plan(final_status: dict):
    cfn = boto3.client("cloudformation", region_name="eu-north-1", aws_access_key_id="x", aws_secret_access_key="x")
    with Stubber(cfn) as stub:
        stub.add_client_error(
            "describe_stacks", "ValidationError", "Stack with id product-catalog-pr5706 does not exist"
        )
        stub.add_response(
            "create_change_set",
            {"Id": CS_ID, "StackId": STACK_ID},
            {
                "StackName": "product-catalog-pr5706",
                "ChangeSetName": "cfn-strata-20250101-120000-abababab",
                "ChangeSetType": "CREATE",
                "TemplateURL": UPLOAD.root.url,
                "IncludeNestedStacks": True,
                "Capabilities": CAPABILITIES,
                "Parameters": [{"ParameterKey": "CertificateArn", "ParameterValue": ""}],
                "Tags": [{"Key": "Project", "Value": "catalog-api"}],
                "Description": ANY,
            },
        )
        stub.add_response(
            "describe_change_set",
            {
                "ChangeSetId": CS_ID,
                "StackName": "product-catalog-pr5706",
                "ExecutionStatus": "UNAVAILABLE",
                **final_status,
            },
            {"ChangeSetName": CS_ID},
        )
        if "didn't contain changes" in final_status.get("StatusReason", ""):
            stub.add_response("delete_change_set", {}, {"ChangeSetName": CS_ID})
        else:  # a failed change set: its early-validation errors are read (none for this failure)
            stub.add_response(
                "describe_events", {"OperationEvents": []}, {"ChangeSetName": CS_ID, "Filters": {"FailedEvents": True}}
            )
        try:
            return create_change_set(cfn, FakeBundle(), UPLOAD, now=NOW, waiting=Waiting(delay=0, max_attempts=1))
        finally:
            stub.assert_no_pending_responses()


def test_a_failed_change_set_reports_its_reason():
    with pytest.raises(
        DeployerError,
        match="change set cfn-strata-20250101-120000-abababab failed: .*Requires capabilities : "
        "\\[CAPABILITY_NAMED_IAM\\]",
    ):
        stubbed_plan({"Status": "FAILED", "StatusReason": "Requires capabilities : [CAPABILITY_NAMED_IAM]"})


def test_no_changes_is_a_typed_outcome_and_the_change_set_is_deleted():
    outcome = stubbed_plan(
        {
            "Status": "FAILED",
            "StatusReason": "The submitted information didn't contain changes. "
            "Submit different information to create a change set.",
        }
    )
    assert isinstance(outcome, NoChanges)


def test_change_set_name_and_type():
    assert change_set_name(NOW, "1a2b3c4d5e") == "cfn-strata-20250101-120000-1a2b3c4d"
    assert change_set_type("s", None) == "CREATE"
    assert change_set_type("s", "REVIEW_IN_PROGRESS") == "CREATE"
    assert change_set_type("s", "UPDATE_ROLLBACK_COMPLETE") == "UPDATE"
    with pytest.raises(DeployerError, match="ROLLBACK_COMPLETE"):
        change_set_type("s", "ROLLBACK_COMPLETE")
    with pytest.raises(DeployerError, match="busy"):
        change_set_type("s", "UPDATE_IN_PROGRESS")


def test_moto_patches_match_the_installed_moto():
    """Fails when moto moves: then re-measure the gaps in deployer/local.py and drop what moto fixed."""
    assert moto.__version__.startswith(local.PATCHED_MOTO), moto.__version__
    from moto.cloudformation import parsing
    from moto.cloudformation.models import CloudFormationBackend, Stack

    with local.local_endpoint():
        assert vars(Stack)["get_cfn_attribute"] is local._outputs_attribute  # moto still has none of its own
        assert getattr(parsing.clean_json, "cfn_strata_patch", False)
        assert getattr(CloudFormationBackend.execute_change_set, "cfn_strata_patch", False)
        from moto.cloudformation.responses import CloudFormationResponse

        # still unimplemented by moto: answered with NotImplemented by local mode
        assert all(
            getattr(vars(CloudFormationResponse)[action], "cfn_strata_patch", False)
            for action in local.UNMODELLED_ACTIONS
        )
    assert local.moto_needs_patch()
    from moto.rds.models import DBInstance, DBParameterGroup

    assert DBInstance.default_engine_versions["aurora-postgresql"] == "managed-by-cluster"
    assert "physical_resource_id" in vars(DBParameterGroup)

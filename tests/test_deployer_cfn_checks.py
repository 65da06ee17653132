"""What CloudFormation now returns, through botocore's Stubber with the exact requests the deployer
sends: DescribeChangeSet with IncludePropertyValues (root and nested), the early-validation errors
of a failed change set (DescribeEvents), the hooks run on the change set (ListHookResults) and the
drift-aware change set of `--revert-drift` (DeploymentMode REVERT_DRIFT), each in every view.
The emulator's answer to the two new actions (NotImplemented) is checked against moto itself."""

from __future__ import annotations

import json

import boto3
import pytest
from botocore.stub import ANY, Stubber
from click.testing import CliRunner

import generate
from deployer import changeset as changeset_module
from deployer import checks
from deployer.changeset import ChangeSetRef, Waiting, create_change_set
from deployer.checks import Validation, ValidationError, failure_message, hook_results, validation_errors
from deployer.errors import DeployerError, FlagRefused
from deployer.flow import with_hooks
from deployer.review import Review, Risk, review_change_set, to_json, to_markdown, to_table
from deployer.review_html import to_html
from tests.test_deployer_units import CAPABILITIES, NOW, STACK_ID, UPLOAD, FakeBundle

REGION = "eu-north-1"
ROOT_CS = "arn:aws:cloudformation:eu-north-1:111122223333:changeSet/cfn-strata-20250101-120000-abababab/1"
COMPUTE_CS = "arn:aws:cloudformation:eu-north-1:111122223333:changeSet/compute-nested/2"
STACK = "product-catalog-pr5706"


def cfn_client():
    return boto3.client("cloudformation", region_name=REGION, aws_access_key_id="x", aws_secret_access_key="x")


def render(table, width: int = 400) -> str:
    from rich.console import Console

    console = Console(width=width, record=True, color_system=None)
    console.print(table)
    return console.export_text()


# ------------------------------------------------------------------ IncludePropertyValues

ROOT_PAGE = {
    "ChangeSetId": ROOT_CS,
    "ChangeSetName": "cfn-strata-20250101-120000-abababab",
    "StackName": STACK,
    "Status": "CREATE_COMPLETE",
    "Changes": [
        {
            "Type": "Resource",
            "ResourceChange": {
                "Action": "Modify",
                "LogicalResourceId": "ComputeStack",
                "ResourceType": "AWS::CloudFormation::Stack",
                "Replacement": "False",
                "ChangeSetId": COMPUTE_CS,
                "Details": [],
            },
        }
    ],
}
PORT_DETAIL = {
    "ChangeSource": "DirectModification",
    "Evaluation": "Static",
    "Target": {
        "Attribute": "Properties",
        "Name": "ContainerDefinitions",
        "RequiresRecreation": "Always",
        "AttributeChangeType": "Modify",
        "Path": "/Properties/ContainerDefinitions/0/PortMappings/0/ContainerPort",
        "BeforeValue": "3000",
        "AfterValue": "8080",
    },
}
COUNT_DETAIL = {
    "ChangeSource": "DirectModification",
    "Evaluation": "Static",
    "Target": {
        "Attribute": "Properties",
        "Name": "DesiredCount",
        "RequiresRecreation": "Never",
        "AttributeChangeType": "Modify",
        "Path": "/Properties/DesiredCount",
        "BeforeValue": "2",
        "AfterValue": "3",
    },
}
COMPUTE_PAGE = {
    "ChangeSetId": COMPUTE_CS,
    "ChangeSetName": "compute-nested",
    "StackName": f"{STACK}-ComputeStack-X",
    "Status": "CREATE_COMPLETE",
    "Changes": [
        {
            "Type": "Resource",
            "ResourceChange": {
                "Action": "Modify",
                "LogicalResourceId": "ServiceApiTaskDefinition",
                "ResourceType": "AWS::ECS::TaskDefinition",
                "Replacement": "True",
                "PolicyAction": "ReplaceAndDelete",
                "Details": [PORT_DETAIL],
            },
        },
        {
            "Type": "Resource",
            "ResourceChange": {
                "Action": "Modify",
                "LogicalResourceId": "ServiceApi",
                "ResourceType": "AWS::ECS::Service",
                "Replacement": "False",
                "Details": [COUNT_DETAIL],
            },
        },
    ],
}


def stubbed_review(pages: list[tuple[dict, dict]]) -> Review:
    cfn = cfn_client()
    with Stubber(cfn) as stub:
        for page, expected in pages:
            stub.add_response("describe_change_set", page, expected)
        review = review_change_set(
            cfn,
            pages[0][0]["ChangeSetId"],
            layer_of={"ComputeStack": "compute"}.get,
            stateful_ids_of=lambda layer: frozenset(),
        )
        stub.assert_no_pending_responses()
    return review


@pytest.fixture
def values_review():
    return stubbed_review(
        [
            (ROOT_PAGE, {"ChangeSetName": ROOT_CS, "IncludePropertyValues": True}),
            (COMPUTE_PAGE, {"ChangeSetName": COMPUTE_CS, "IncludePropertyValues": True}),
        ]
    )


def test_every_walked_change_set_is_described_with_property_values(values_review):
    task = next(c for c in values_review.changes if c.logical_id == "ServiceApiTaskDefinition")
    (port,) = task.properties
    assert (port.path, port.before, port.after, port.change_type, port.requires_recreation) == (
        "/Properties/ContainerDefinitions/0/PortMappings/0/ContainerPort",
        "3000",
        "8080",
        "Modify",
        "Always",
    )
    assert str(port) == "ContainerDefinitions/0/PortMappings/0/ContainerPort: 3000 → 8080 (Always)"
    service = next(c for c in values_review.changes if c.logical_id == "ServiceApi")
    assert str(service.properties[0]) == "DesiredCount: 2 → 3"
    assert values_review.notes == ()


def test_before_and_after_values_show_in_every_view(values_review):
    port = "ContainerDefinitions/0/PortMappings/0/ContainerPort: 3000 → 8080 (Always)"
    assert port in to_markdown(values_review)
    assert port in to_html(values_review)
    assert port in render(to_table(values_review))
    document = json.loads(to_json(values_review))
    props = {c["logical_id"]: c["properties"] for c in document["changes"]}
    assert props["ServiceApi"][0] | {} == {
        "attribute": "Properties",
        "name": "DesiredCount",
        "requires_recreation": "Never",
        "change_source": "DirectModification",
        "causing_entity": None,
        "path": "/Properties/DesiredCount",
        "before": "2",
        "after": "3",
        "change_type": "Modify",
        "before_from": None,
        "actual": None,
        "previous": None,
    }


def test_a_botocore_without_include_property_values_still_reviews_and_says_so(monkeypatch):
    import deployer.review as review_module

    monkeypatch.setattr(review_module, "property_values_supported", lambda cfn: False)
    review = stubbed_review([(ROOT_PAGE, {"ChangeSetName": ROOT_CS}), (COMPUTE_PAGE, {"ChangeSetName": COMPUTE_CS})])
    assert len(review.changes) == 2
    assert review.notes == (
        "this botocore has no IncludePropertyValues: before and after values are not shown (upgrade boto3)",
    )


def test_the_pinned_botocore_has_every_shape_the_deployer_reads():
    model = cfn_client().meta.service_model
    assert "IncludePropertyValues" in model.operation_model("DescribeChangeSet").input_shape.members
    assert {"DescribeEvents", "ListHookResults"} <= set(model.operation_names)
    assert model.operation_model("CreateChangeSet").input_shape.members["DeploymentMode"].enum == ["REVERT_DRIFT"]
    target = model.shape_for("ResourceTargetDefinition").members
    assert {"Path", "BeforeValue", "AfterValue", "BeforeValueFrom", "Drift", "AttributeChangeType"} <= set(target)
    assert {"ActualValue", "PreviousValue"} <= set(model.shape_for("LiveResourceDrift").members)
    assert {"ResourceDriftStatus", "BeforeContext", "AfterContext", "PreviousDeploymentContext"} <= set(
        model.shape_for("ResourceChange").members
    )
    assert {"ValidationPath", "ValidationName", "ValidationStatusReason", "EventType"} <= set(
        model.shape_for("OperationEvent").members
    )
    assert model.shape_for("ListHookResultsTargetType").enum[0] == "CHANGE_SET"


# ------------------------------------------------------------------ early validation


def event(event_type: str, logical_id: str, **extra) -> dict:
    return {
        "EventId": f"e-{logical_id}",
        "StackId": STACK_ID,
        "OperationId": "op-1",
        "OperationType": "CREATE_CHANGESET",
        "OperationStatus": "FAILED",
        "EventType": event_type,
        "LogicalResourceId": logical_id,
        **extra,
    }


EVENTS_PAGE_1 = {
    "OperationEvents": [
        event(
            "VALIDATION_ERROR",
            "DataBucket",
            ResourceType="AWS::S3::Bucket",
            ValidationName="PropertyValidation",
            ValidationPath="/Properties/BucketName",
            ValidationStatus="FAILED",
            ValidationFailureMode="FAIL",
            ValidationStatusReason="Bucket name should not contain uppercase characters",
        ),
        event(
            "STACK_EVENT", STACK, ResourceType="AWS::CloudFormation::Stack", ResourceStatusReason="Change set failed"
        ),
    ],
    "NextToken": "page-2",
}
EVENTS_PAGE_2 = {
    "OperationEvents": [
        event(
            "VALIDATION_ERROR",
            "ApiLogGroup",
            ResourceType="AWS::Logs::LogGroup",
            ValidationName="ResourceExistenceCheck",
            ValidationStatus="FAILED",
            ResourceStatusReason=(
                "Resource of type 'AWS::Logs::LogGroup' with identifier 'api-pr5706' already exists [api-pr5706]"
            ),
        ),
    ]
}


def failing_plan(describe_events) -> str:
    """A change set that ends FAILED; `describe_events(stub)` stubs what DescribeEvents answers."""
    cfn = cfn_client()
    # the capabilities come from FakeBundle's documents, through the real code
    with Stubber(cfn) as stub:
        stub.add_client_error("describe_stacks", "ValidationError", f"Stack with id {STACK} does not exist")
        stub.add_response(
            "create_change_set",
            {"Id": ROOT_CS, "StackId": STACK_ID},
            {
                "StackName": STACK,
                "ChangeSetName": "cfn-strata-20250101-120000-abababab",
                "ChangeSetType": "CREATE",
                "TemplateURL": UPLOAD.root.url,
                "IncludeNestedStacks": True,
                "Capabilities": CAPABILITIES,
                "Parameters": ANY,
                "Tags": ANY,
                "Description": ANY,
            },
        )
        stub.add_response(
            "describe_change_set",
            {
                "ChangeSetId": ROOT_CS,
                "StackName": STACK,
                "ExecutionStatus": "UNAVAILABLE",
                "Status": "FAILED",
                "StatusReason": "The following hook(s)/validation failed: [AWS::EarlyValidation::PropertyValidation]",
            },
            {"ChangeSetName": ROOT_CS},
        )
        describe_events(stub)
        with pytest.raises(DeployerError) as failed:
            create_change_set(cfn, FakeBundle(), UPLOAD, now=NOW, waiting=Waiting(delay=0, max_attempts=1))
        stub.assert_no_pending_responses()
    return str(failed.value)


def test_a_change_set_failing_early_validation_lists_every_validation_error():
    def answer(stub):
        stub.add_response(
            "describe_events", EVENTS_PAGE_1, {"ChangeSetName": ROOT_CS, "Filters": {"FailedEvents": True}}
        )
        stub.add_response(
            "describe_events",
            EVENTS_PAGE_2,
            {"ChangeSetName": ROOT_CS, "Filters": {"FailedEvents": True}, "NextToken": "page-2"},
        )

    assert failing_plan(answer) == (
        "change set cfn-strata-20250101-120000-abababab failed: The following hook(s)/validation failed: "
        "[AWS::EarlyValidation::PropertyValidation]\n"
        "early validation found 2 error(s):\n"
        "  - DataBucket (AWS::S3::Bucket) at /Properties/BucketName: PropertyValidation: Bucket name "
        "should not contain uppercase characters\n"
        "  - ApiLogGroup (AWS::Logs::LogGroup): ResourceExistenceCheck: Resource of type "
        "'AWS::Logs::LogGroup' with identifier 'api-pr5706' already exists [api-pr5706]"
    )


@pytest.mark.parametrize("code", ["InvalidAction", "NotImplemented", "UnknownOperationException"])
def test_an_endpoint_without_describe_events_keeps_the_status_line_with_a_note(code):
    def answer(stub):
        stub.add_client_error(
            "describe_events",
            code,
            "no such action",
            400,
            expected_params={"ChangeSetName": ROOT_CS, "Filters": {"FailedEvents": True}},
        )

    assert failing_plan(answer) == (
        "change set cfn-strata-20250101-120000-abababab failed: The following hook(s)/validation failed: "
        "[AWS::EarlyValidation::PropertyValidation]\n"
        f"note: early-validation details not read: the endpoint does not offer DescribeEvents ({code})"
    )


def test_access_denied_on_describe_events_never_hides_the_failure():
    def answer(stub):
        stub.add_client_error(
            "describe_events", "AccessDenied", "not authorized to perform: cloudformation:DescribeEvents", 403
        )

    message = failing_plan(answer)
    assert (
        message.splitlines()[0]
        == "change set cfn-strata-20250101-120000-abababab failed: The following hook(s)/validation failed: "
        "[AWS::EarlyValidation::PropertyValidation]"
    )
    assert message.splitlines()[1].startswith(
        "note: early-validation details not read: access denied for DescribeEvents: not authorized"
    )


def test_a_botocore_without_describe_events_is_not_called(monkeypatch):
    monkeypatch.setattr(checks, "has_operation", lambda cfn, operation: False)
    assert failing_plan(lambda stub: None).endswith(
        "\nnote: early-validation details not read: this botocore has no DescribeEvents (upgrade boto3)"
    )


def test_the_cli_prints_each_validation_error_and_exits_1(monkeypatch, tmp_path):
    validation = Validation(
        (
            ValidationError(
                "DataBucket", "AWS::S3::Bucket", "/Properties/BucketName", "PropertyValidation", "names [a-z0-9] only"
            ),
        )
    )

    def failing(*args, **kwargs):
        raise DeployerError(failure_message("cs-1", "validation failed: [data-bucket]", validation))

    monkeypatch.setattr(generate, "_plan", failing)
    monkeypatch.setattr(generate, "_session", _no_session)
    result = CliRunner().invoke(
        generate.cli, ["plan", "product-catalog", "--env", "dev", "--bucket", "b", "--out", str(tmp_path / "dist")]
    )
    assert result.exit_code == 1, result.output
    # AWS reasons keep their brackets (rich markup would eat "[data-bucket]")
    assert "error: change set cs-1 failed: validation failed: [data-bucket]" in result.output
    assert (
        "  - DataBucket (AWS::S3::Bucket) at /Properties/BucketName: PropertyValidation: names [a-z0-9] only"
        in result.output
    )


def _no_session(*args):
    import contextlib

    @contextlib.contextmanager
    def session():
        yield None

    return session()


# ------------------------------------------------------------------ hooks

HOOKS_PAGE_1 = {
    "TargetType": "CHANGE_SET",
    "TargetId": ROOT_CS,
    "HookResults": [
        {
            "HookResultId": "11111111-2222-3333-4444-555555555555",
            "InvocationPoint": "PRE_PROVISION",
            "FailureMode": "WARN",
            "TypeName": "Private::Tagging::Required",
            "Status": "HOOK_COMPLETE_SUCCEEDED",
            "HookStatusReason": "all resources tagged",
            "TargetType": "CHANGE_SET",
            "TargetId": ROOT_CS,
        },
    ],
    "NextToken": "hooks-2",
}
HOOKS_PAGE_2 = {
    "TargetType": "CHANGE_SET",
    "TargetId": ROOT_CS,
    "HookResults": [
        {
            "HookResultId": "66666666-7777-8888-9999-000000000000",
            "InvocationPoint": "PRE_PROVISION",
            "FailureMode": "FAIL",
            "TypeName": "AWS::Hooks::GuardHook",
            "Status": "HOOK_COMPLETE_FAILED",
            "HookStatusReason": "DataBucket: BucketEncryption | missing",
            "TargetType": "CHANGE_SET",
            "TargetId": ROOT_CS,
            "HookExecutionTarget": "DataBucket",
        },
    ],
}


@pytest.fixture
def hooked_review(values_review):
    cfn = cfn_client()
    with Stubber(cfn) as stub:
        stub.add_response("list_hook_results", HOOKS_PAGE_1, {"TargetType": "CHANGE_SET", "TargetId": ROOT_CS})
        stub.add_response(
            "list_hook_results", HOOKS_PAGE_2, {"TargetType": "CHANGE_SET", "TargetId": ROOT_CS, "NextToken": "hooks-2"}
        )
        review = with_hooks(cfn, values_review, ROOT_CS, local=False)
        stub.assert_no_pending_responses()
    return review


def test_hook_results_of_the_change_set_failed_first(hooked_review):
    assert [(h.hook, h.status, h.failure_mode, h.message, h.target) for h in hooked_review.hooks] == [
        (
            "AWS::Hooks::GuardHook",
            "HOOK_COMPLETE_FAILED",
            "FAIL",
            "DataBucket: BucketEncryption | missing",
            "DataBucket",
        ),
        ("Private::Tagging::Required", "HOOK_COMPLETE_SUCCEEDED", "WARN", "all resources tagged", None),
    ]
    assert hooked_review.notes == ()


def test_hook_results_show_in_every_view(hooked_review):
    markdown = to_markdown(hooked_review)
    assert "**Hook results** (2):" in markdown
    assert (
        "| `AWS::Hooks::GuardHook` | **HOOK_COMPLETE_FAILED** | FAIL | DataBucket: BucketEncryption \\| missing |"
        in markdown
    )
    assert "| `Private::Tagging::Required` | HOOK_COMPLETE_SUCCEEDED | WARN | all resources tagged |" in markdown
    page = to_html(hooked_review)
    assert '<section id="hooks"><h2>Hook results</h2>' in page
    assert (
        '<tr class="r-HIGH"><td><code>AWS::Hooks::GuardHook</code></td>'
        "<td><b>HOOK_COMPLETE_FAILED</b></td><td>FAIL</td>"
        "<td>DataBucket: BucketEncryption | missing</td></tr>"
    ) in page
    document = json.loads(to_json(hooked_review))
    assert document["hooks"][0] == {
        "hook": "AWS::Hooks::GuardHook",
        "status": "HOOK_COMPLETE_FAILED",
        "message": "DataBucket: BucketEncryption | missing",
        "failure_mode": "FAIL",
        "invocation_point": "PRE_PROVISION",
        "target": "DataBucket",
    }
    from deployer.review import hooks_table

    table = render(hooks_table(hooked_review))
    assert (
        "AWS::Hooks::GuardHook" in table and "HOOK_COMPLETE_FAILED" in table and "Private::Tagging::Required" in table
    )


def test_local_mode_skips_hooks_with_a_note(values_review):
    cfn = cfn_client()
    with Stubber(cfn) as stub:  # no response stubbed: any call would fail
        review = with_hooks(cfn, values_review, ROOT_CS, local=True)
        stub.assert_no_pending_responses()
    assert review.hooks == ()
    assert review.notes == ("hook results are not modelled by the local emulator: not read",)
    assert "> note: hook results are not modelled by the local emulator: not read" in to_markdown(review)


def test_an_endpoint_without_list_hook_results_leaves_a_note():
    cfn = cfn_client()
    with Stubber(cfn) as stub:
        stub.add_client_error(
            "list_hook_results",
            "InvalidAction",
            "Could not find operation ListHookResults",
            400,
            expected_params={"TargetType": "CHANGE_SET", "TargetId": ROOT_CS},
        )
        assert hook_results(cfn, ROOT_CS) == (
            (),
            ("hook results not read: the endpoint does not offer ListHookResults (InvalidAction)",),
        )


def test_the_emulator_answers_not_implemented_for_both_new_actions():
    """moto 5.2.5 has neither action; local mode answers NotImplemented (deployer/local.py), which
    degrades to a note instead of botocore retrying an HTML 500 page."""
    from deployer.local import local_endpoint

    with local_endpoint() as running:
        cfn = boto3.client(
            "cloudformation",
            region_name=REGION,
            endpoint_url=running.url,
            aws_access_key_id="testing",
            aws_secret_access_key="testing",
        )
        assert validation_errors(cfn, ROOT_CS) == Validation(
            note="early-validation details not read: the endpoint does not offer DescribeEvents (NotImplemented)"
        )
        assert hook_results(cfn, ROOT_CS) == (
            (),
            ("hook results not read: the endpoint does not offer ListHookResults (NotImplemented)",),
        )


# ------------------------------------------------------------------ --revert-drift


class DeployedBundle(FakeBundle):
    manifest = {"tags": {"Project": "catalog-api"}, "application": "product-catalog", "environment": "dev"}


DEPLOYED = {
    "StackName": STACK,
    "StackId": STACK_ID,
    "StackStatus": "UPDATE_COMPLETE",
    "CreationTime": NOW,
    "Parameters": [],
}


def revert_drift_change_set(stack: dict | None):
    cfn = cfn_client()
    original = changeset_module.change_set_parameters
    changeset_module.change_set_parameters = lambda bundle, deployed: [
        {"ParameterKey": "CertificateArn", "ParameterValue": ""}
    ]
    try:
        with Stubber(cfn) as stub:
            if stack is None:
                stub.add_client_error("describe_stacks", "ValidationError", f"Stack with id {STACK} does not exist")
            else:
                stub.add_response("describe_stacks", {"Stacks": [stack]}, {"StackName": STACK})
                stub.add_response(
                    "create_change_set",
                    {"Id": ROOT_CS, "StackId": STACK_ID},
                    {
                        "StackName": STACK,
                        "ChangeSetName": "cfn-strata-20250101-120000-abababab",
                        "ChangeSetType": "UPDATE",
                        "TemplateURL": UPLOAD.root.url,
                        "IncludeNestedStacks": True,
                        "Capabilities": CAPABILITIES,
                        "Parameters": [{"ParameterKey": "CertificateArn", "ParameterValue": ""}],
                        "Tags": [{"Key": "Project", "Value": "catalog-api"}],
                        "Description": ANY,
                        "DeploymentMode": "REVERT_DRIFT",
                    },
                )
                stub.add_response(
                    "describe_change_set",
                    {
                        "ChangeSetId": ROOT_CS,
                        "StackName": STACK,
                        "ExecutionStatus": "AVAILABLE",
                        "Status": "CREATE_COMPLETE",
                    },
                    {"ChangeSetName": ROOT_CS},
                )
            ref = create_change_set(
                cfn, DeployedBundle(), UPLOAD, now=NOW, waiting=Waiting(delay=0, max_attempts=1), revert_drift=True
            )
            stub.assert_no_pending_responses()
    finally:
        changeset_module.change_set_parameters = original
    return ref


def test_revert_drift_creates_a_drift_aware_change_set_on_a_deployed_stack():
    assert revert_drift_change_set(DEPLOYED) == ChangeSetRef(
        STACK, STACK_ID, ROOT_CS, "cfn-strata-20250101-120000-abababab", "UPDATE"
    )


def test_revert_drift_on_a_stack_that_does_not_exist_is_refused_before_any_change_set():
    with pytest.raises(FlagRefused) as refused:
        revert_drift_change_set(None)
    assert refused.value.exit_code == 2
    assert str(refused.value) == (
        f"--revert-drift: stack {STACK} does not exist yet, so nothing can have drifted; a drift-aware change set "
        "(REVERT_DRIFT) applies to a deployed stack only: plan without it"
    )


def test_the_cli_exits_2_on_revert_drift_for_a_create_and_with_local(monkeypatch, tmp_path):
    def refused(*args, **kwargs):
        assert args[-1] is True or kwargs.get("revert_drift") is True  # the flag reaches the plan
        raise FlagRefused(f"--revert-drift: stack {STACK} does not exist yet, so nothing can have drifted")

    monkeypatch.setattr(generate, "_plan", refused)
    monkeypatch.setattr(generate, "_session", _no_session)
    for command in ("plan", "deploy"):
        result = CliRunner().invoke(
            generate.cli,
            [
                command,
                "product-catalog",
                "--env",
                "dev",
                "--bucket",
                "b",
                "--revert-drift",
                "--out",
                str(tmp_path / "dist"),
            ],
        )
        assert result.exit_code == 2, result.output
        assert f"error: --revert-drift: stack {STACK} does not exist yet" in result.output
        local = CliRunner().invoke(
            generate.cli,
            [command, "product-catalog", "--env", "dev", "--local", "--revert-drift", "--out", str(tmp_path / "dist")],
        )
        assert local.exit_code == 2, local.output
        assert "--revert-drift cannot be used with --local" in local.output


DRIFT_PAGE = {
    "ChangeSetId": ROOT_CS,
    "ChangeSetName": "cfn-strata-20250101-120000-abababab",
    "StackName": STACK,
    "Status": "CREATE_COMPLETE",
    "DeploymentMode": "REVERT_DRIFT",
    "Changes": [
        {
            "Type": "Resource",
            "ResourceChange": {
                "Action": "Modify",
                "LogicalResourceId": "ServiceApi",
                "ResourceType": "AWS::ECS::Service",
                "Replacement": "False",
                "ResourceDriftStatus": "MODIFIED",
                "BeforeContext": '{"DesiredCount":4}',
                "AfterContext": '{"DesiredCount":2}',
                "PreviousDeploymentContext": '{"DesiredCount":2}',
                "Details": [
                    {
                        "ChangeSource": "DirectModification",
                        "Evaluation": "Static",
                        "Target": {
                            "Attribute": "Properties",
                            "Name": "DesiredCount",
                            "RequiresRecreation": "Never",
                            "Path": "/Properties/DesiredCount",
                            "BeforeValue": "4",
                            "AfterValue": "2",
                            "BeforeValueFrom": "ACTUAL_STATE",
                            "AfterValueFrom": "TEMPLATE",
                            "AttributeChangeType": "Modify",
                            "Drift": {"PreviousValue": "2", "ActualValue": "4"},
                        },
                    }
                ],
            },
        },
        {
            "Type": "Resource",
            "ResourceChange": {
                "Action": "SyncWithActual",
                "LogicalResourceId": "ApiLogGroup",
                "ResourceType": "AWS::Logs::LogGroup",
                "Replacement": "False",
                "ResourceDriftStatus": "MODIFIED",
                "Details": [
                    {
                        "ChangeSource": "DirectModification",
                        "Evaluation": "Static",
                        "Target": {
                            "Attribute": "Properties",
                            "Name": "RetentionInDays",
                            "RequiresRecreation": "Never",
                            "Path": "/Properties/RetentionInDays",
                            "BeforeValue": "90",
                            "AfterValue": "90",
                            "BeforeValueFrom": "ACTUAL_STATE",
                            "AttributeChangeType": "SyncWithActual",
                            "Drift": {"PreviousValue": "30", "ActualValue": "90"},
                        },
                    }
                ],
            },
        },
    ],
}


@pytest.fixture
def drift_review():
    return stubbed_review([(DRIFT_PAGE, {"ChangeSetName": ROOT_CS, "IncludePropertyValues": True})])


def test_a_drift_aware_review_shows_actual_deployed_and_new_values(drift_review):
    assert drift_review.deployment_mode == "REVERT_DRIFT"
    service = next(c for c in drift_review.changes if c.logical_id == "ServiceApi")
    (count,) = service.properties
    assert (count.before_from, count.actual, count.previous, count.after) == ("ACTUAL_STATE", "4", "2", "2")
    assert str(count) == "DesiredCount: actual 4, deployed 2 → 2"
    assert (service.drift_status, service.before_context, service.after_context, service.previous_context) == (
        "MODIFIED",
        '{"DesiredCount":4}',
        '{"DesiredCount":2}',
        '{"DesiredCount":2}',
    )
    # overwriting an out-of-band change is worth a look; syncing the template to it changes nothing
    assert service.risk == Risk.MEDIUM
    assert service.reasons == ("drifted (MODIFIED): the change overwrites what was changed outside CloudFormation",)
    sync = next(c for c in drift_review.changes if c.logical_id == "ApiLogGroup")
    assert (sync.action, sync.risk, sync.reasons) == ("SyncWithActual", Risk.LOW, ())
    assert str(sync.properties[0]) == "RetentionInDays: actual 90, deployed 30 → 90"


def test_a_drift_aware_review_in_every_view(drift_review):
    markdown = to_markdown(drift_review)
    assert markdown.splitlines()[2].startswith(
        "Drift-aware change set (REVERT_DRIFT): values are compared with what is live"
    )
    assert (
        "| MEDIUM | root | `ServiceApi` | AWS::ECS::Service | Modify | False | - | DesiredCount: actual 4, "
        "deployed 2 → 2 | drifted (MODIFIED)" in markdown
    )
    page = to_html(drift_review)
    assert '<p class="meta" id="drift-aware">Drift-aware change set (REVERT_DRIFT)' in page
    assert (
        "<tr><td>root</td><td><code>ServiceApi</code></td><td>DesiredCount</td><td><code>4</code></td><td><code>2</code></td><td><code>2</code></td></tr>"
    ) in page
    assert "<td>RetentionInDays</td><td><code>90</code></td><td><code>30</code></td><td><code>90</code></td>" in page
    document = json.loads(to_json(drift_review))
    assert document["deployment_mode"] == "REVERT_DRIFT"
    service = next(c for c in document["changes"] if c["logical_id"] == "ServiceApi")
    assert (service["drift_status"], service["previous_context"], service["risk"]) == (
        "MODIFIED",
        '{"DesiredCount":2}',
        "MEDIUM",
    )
    assert (
        service["properties"][0]["actual"],
        service["properties"][0]["previous"],
        service["properties"][0]["after"],
    ) == ("4", "2", "2")
    assert "DesiredCount: actual 4, deployed 2 → 2" in render(to_table(drift_review), width=400)


def test_the_review_command_reads_property_values_and_hooks(monkeypatch, tmp_path):
    """`cfn-strata review` of someone else's change set: values and hooks as in `plan`."""
    import contextlib

    from deployer.session import Aws

    cfn = cfn_client()

    @contextlib.contextmanager
    def session(*args):
        yield Aws(
            boto3.Session(region_name=REGION, aws_access_key_id="x", aws_secret_access_key="x"),
            _clients={"cloudformation": cfn},
        )

    monkeypatch.setattr(generate, "_session", session)
    with Stubber(cfn) as stub:
        stub.add_response(
            "describe_change_set", ROOT_PAGE, {"StackName": STACK, "ChangeSetName": "cfn-strata-pipeline"}
        )
        stub.add_response("describe_change_set", ROOT_PAGE, {"ChangeSetName": ROOT_CS, "IncludePropertyValues": True})
        stub.add_response(
            "describe_change_set", COMPUTE_PAGE, {"ChangeSetName": COMPUTE_CS, "IncludePropertyValues": True}
        )
        stub.add_response("list_hook_results", HOOKS_PAGE_2, {"TargetType": "CHANGE_SET", "TargetId": ROOT_CS})
        # the change set's type (DescribeChangeSet has none) from the stack's state
        stub.add_response(
            "describe_stacks",
            {
                "Stacks": [
                    {"StackName": STACK, "StackStatus": "UPDATE_COMPLETE", "CreationTime": "2025-01-01T00:00:00Z"}
                ]
            },
            {"StackName": STACK},
        )
        result = CliRunner().invoke(
            generate.cli,
            [
                "review",
                "product-catalog",
                "--env",
                "dev",
                "--change-set",
                "cfn-strata-pipeline",
                "-o",
                "markdown",
                "--out",
                str(tmp_path / "dist"),
            ],
        )
        stub.assert_no_pending_responses()
    assert result.exit_code == 0, result.output
    assert "ContainerDefinitions/0/PortMappings/0/ContainerPort: 3000 → 8080 (Always)" in result.output
    assert (
        "| `AWS::Hooks::GuardHook` | **HOOK_COMPLETE_FAILED** | FAIL | DataBucket: BucketEncryption \\| missing |"
        in result.output
    )

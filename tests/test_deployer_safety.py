"""Deploy safety: stack policies (generated per layer, set on every nested stack, re-set before an
update, loosened for exactly --allow-replacement and restored whatever the outcome), termination
protection, rollback triggers. Pure parts on the generated templates; the flow against moto over
HTTP, recording the API calls in order."""

from __future__ import annotations

import json
import shutil

import boto3
import botocore.client
import pytest
from botocore.stub import ANY, Stubber

from deployer import flow
from deployer.bundle import load_bundle
from deployer.errors import DeployerError
from deployer.execute import StackFailed, StillRunning
from deployer.guard import allowed_changes, rollback_configuration
from resource_semantics import STATEFUL_TYPES
from templates.safety import POLICY_LIMIT, guarded_ids, key_alarms, layer_policies, stack_policy
from tests.conftest import ALL_TARGETS, rendered
from tests.test_deployer_e2e import BUCKET, PARAMS, REGION, STACK, _recorded_review, cli, clients  # noqa: F401 (fixtures)


def policies(app: str, env: str) -> dict[str, dict]:
    r = rendered(app, env)
    documents = {name: json.loads(body) for name, body in r.files.items() if name != "manifest.json"}
    return layer_policies(r.manifest, documents)


# ------------------------------------------------------------------ generated policies


def test_prod_policies_deny_replace_and_delete_on_the_stateful_resources_and_allow_the_rest():
    prod = policies("product-catalog", "prod")
    assert prod["security"] == {
        "Statement": [
            {"Effect": "Allow", "Action": "Update:*", "Principal": "*", "Resource": "*"},
            {
                "Effect": "Deny",
                "Action": ["Update:Replace", "Update:Delete"],
                "Principal": "*",
                "Resource": ["LogicalResourceId/ApplicationKey", "LogicalResourceId/DatabaseSecret"],
            },
        ]
    }
    assert guarded_ids(prod["network"]) == {"FlowLogsKey", "FlowLogsLogGroup"}
    assert guarded_ids(prod["edge"]) == {"AccessLogsBucket"}
    assert guarded_ids(prod["backup"]) == {"BackupVault"}
    assert guarded_ids(prod["data"]) == {
        "DatabaseCluster",
        "DatabaseClusterLogGroupPostgresql",
        "DatabaseWriter",
        "DatabaseReader1",
    }
    assert guarded_ids(prod["compute"]) == {"ServiceApiLogGroup", "ServiceApiRepository"}
    assert guarded_ids(prod["observability"]) == set()
    # the root guards the nested stacks that hold data, and only those
    assert guarded_ids(prod["root"]) == {
        "BackupStack",
        "CicdStack",
        "ComputeStack",
        "DataStack",
        "EdgeStack",
        "NetworkStack",
        "SecurityStack",
    }


@pytest.mark.parametrize(("app", "env"), ALL_TARGETS)
def test_every_layer_policy_guards_every_stateful_resource_and_fits_the_limit(app, env):
    r = rendered(app, env)
    generated = policies(app, env)
    for stack in r.manifest["stacks"]:
        document = json.loads(r.files[stack["file"]])
        stateful_by_type = {i for i, res in document["Resources"].items() if res["Type"] in STATEFUL_TYPES}
        if stack["scope"].startswith("region:") or stack["scope"] == "global":
            # a stack the deployer makes in another region (deployer/regional.py) gets its policy there
            from templates.safety import stack_policy, stateful_resources

            assert (
                stateful_by_type
                <= guarded_ids(stack_policy(stateful_resources(document)))
                == set(stack["stateful_resources"])
            ), stack["layer"]
            continue
        assert stateful_by_type <= guarded_ids(generated[stack["layer"]]), stack["layer"]
        assert set(stack["stateful_resources"]) == guarded_ids(generated[stack["layer"]]), stack["layer"]
    for policy in generated.values():
        assert len(json.dumps(policy)) < POLICY_LIMIT


def test_allow_takes_exactly_the_named_ids_out_of_the_deny():
    loosened = stack_policy({"FlowLogsKey", "FlowLogsLogGroup"}, allow={"FlowLogsLogGroup"})
    assert guarded_ids(loosened) == {"FlowLogsKey"}
    assert stack_policy({"A"}, allow={"A"}) == {
        "Statement": [{"Effect": "Allow", "Action": "Update:*", "Principal": "*", "Resource": "*"}]
    }


def test_allowed_changes_needs_every_risky_change_named_and_refuses_unknown_names():
    review = _recorded_review()
    assert allowed_changes(review, ("FlowLogsLogGroup",)) == {"network": frozenset({"FlowLogsLogGroup"})}
    assert allowed_changes(review, ("network/FlowLogsLogGroup",)) == {"network": frozenset({"FlowLogsLogGroup"})}
    with pytest.raises(DeployerError, match="pass --allow-replacement FlowLogsLogGroup to execute"):
        allowed_changes(review, ())
    with pytest.raises(
        DeployerError,
        match=(
            r"--allow-replacement Databse: not a replaced or removed stateful resource .* \(those are: "
            r"network/FlowLogsLogGroup\)"
        ),
    ):
        allowed_changes(review, ("FlowLogsLogGroup", "Databse"))


# ------------------------------------------------------------------ rollback triggers


def test_key_alarms_are_the_5xx_and_health_alarms_most_telling_first_at_most_five():
    from tests.test_observability import doc

    assert key_alarms(doc("product-catalog", "prod")) == [
        ("Alb5xxAlarm", "alarm-alb-5xx-catalog-prod"),
        ("ServiceApiTarget5xxAlarm", "alarm-api-target-5xx-catalog-prod"),
        ("ServiceApiUnhealthyHostsAlarm", "alarm-api-unhealthy-hosts-catalog-prod"),
        ("ServiceApiRunningTasksAlarm", "alarm-api-running-tasks-catalog-prod"),
    ]
    assert (
        len(key_alarms(doc("smart-task", "prod"))) == 5
    )  # two services: ten candidates, RollbackConfiguration takes five


class ObservedBundle:
    """A bundle with an observability layer (not in the registry until compute is merged)."""

    stack_name = "product-catalog-catalog-prod"
    nested_stacks = [{"layer": "observability", "logical_id": "ObservabilityStack", "file": "observability.json"}]

    def document(self, file):
        from tests.test_observability import doc

        return doc("product-catalog", "prod")


OBS_STACK = "arn:aws:cloudformation:eu-north-1:111122223333:stack/product-catalog-catalog-prod-ObservabilityStack-1/abc"


def test_rollback_triggers_are_the_deployed_key_alarms_by_arn():
    cfn = boto3.client("cloudformation", region_name="eu-north-1", aws_access_key_id="x", aws_secret_access_key="x")
    with Stubber(cfn) as stub:
        stub.add_response(
            "list_stack_resources",
            {
                "StackResourceSummaries": [
                    {
                        "LogicalResourceId": "ObservabilityStack",
                        "PhysicalResourceId": OBS_STACK,
                        "ResourceType": "AWS::CloudFormation::Stack",
                        "LastUpdatedTimestamp": "2025-01-01T00:00:00Z",
                        "ResourceStatus": "UPDATE_COMPLETE",
                    },
                ]
            },
            {"StackName": "product-catalog-catalog-prod"},
        )
        summary = {
            "LastUpdatedTimestamp": "2025-01-01T00:00:00Z",
            "ResourceStatus": "CREATE_COMPLETE",
            "ResourceType": "AWS::CloudWatch::Alarm",
        }
        stub.add_response(
            "list_stack_resources",
            {
                "StackResourceSummaries": [
                    {**summary, "LogicalResourceId": "Alb5xxAlarm", "PhysicalResourceId": "alarm-alb-5xx-catalog-prod"},
                    {
                        **summary,
                        "LogicalResourceId": "ServiceApiCpuAlarm",
                        "PhysicalResourceId": "alarm-api-cpu-catalog-prod",
                    },
                    # ServiceApiRunningTasksAlarm's create failed: it has no physical id, so no trigger for it
                    {
                        **summary,
                        "LogicalResourceId": "ServiceApiRunningTasksAlarm",
                        "ResourceStatus": "CREATE_FAILED",
                    },
                    {
                        **summary,
                        "LogicalResourceId": "ServiceApiTarget5xxAlarm",
                        "PhysicalResourceId": "alarm-api-target-5xx-catalog-prod",
                    },
                    {
                        **summary,
                        "LogicalResourceId": "ServiceApiUnhealthyHostsAlarm",
                        "PhysicalResourceId": "alarm-api-unhealthy-hosts-catalog-prod",
                    },
                ]
            },
            {"StackName": OBS_STACK},
        )
        configuration = rollback_configuration(cfn, ObservedBundle())
        stub.assert_no_pending_responses()
    arn = "arn:aws:cloudwatch:eu-north-1:111122223333:alarm:"
    assert configuration == {
        "MonitoringTimeInMinutes": 10,
        "RollbackTriggers": [
            {"Arn": arn + "alarm-alb-5xx-catalog-prod", "Type": "AWS::CloudWatch::Alarm"},
            {"Arn": arn + "alarm-api-target-5xx-catalog-prod", "Type": "AWS::CloudWatch::Alarm"},
            {"Arn": arn + "alarm-api-unhealthy-hosts-catalog-prod", "Type": "AWS::CloudWatch::Alarm"},
        ],
    }


def test_no_rollback_triggers_before_the_observability_stack_exists():
    cfn = boto3.client("cloudformation", region_name="eu-north-1", aws_access_key_id="x", aws_secret_access_key="x")
    with Stubber(cfn) as stub:
        stub.add_client_error(
            "list_stack_resources", "ValidationError", "Stack with id product-catalog-catalog-prod does not exist"
        )
        assert rollback_configuration(cfn, ObservedBundle()) is None
        stub.assert_no_pending_responses()


# ------------------------------------------------------------------ the flow against moto


@pytest.fixture
def calls(monkeypatch):
    """Every AWS API call the deployer makes, in order: (operation, params)."""
    recorded = []
    original = botocore.client.BaseClient._make_api_call

    def record(self, operation, params):
        recorded.append((operation, params))
        return original(self, operation, params)

    monkeypatch.setattr(botocore.client.BaseClient, "_make_api_call", record)
    return recorded


def nested_policies(cfn) -> dict[str, dict]:
    found = {"RootStack": json.loads(cfn.get_stack_policy(StackName=STACK)["StackPolicyBody"])}
    for summary in cfn.list_stack_resources(StackName=STACK)["StackResourceSummaries"]:
        if summary["ResourceType"] == "AWS::CloudFormation::Stack":
            found[summary["LogicalResourceId"]] = json.loads(
                cfn.get_stack_policy(StackName=summary["PhysicalResourceId"])["StackPolicyBody"]
            )
    return found


def test_first_deploy_sets_every_nested_stack_policy(aws_env, clients, tmp_path):
    _, cfn = clients
    assert cli(aws_env, tmp_path, "deploy", "--yes").exit_code == 0
    expected = policies("product-catalog", "dev")
    deployed = nested_policies(cfn)
    assert deployed["RootStack"] == expected["root"]
    assert deployed["NetworkStack"] == expected["network"]
    assert guarded_ids(deployed["SecurityStack"]) == {"ApplicationKey", "DatabaseSecret"}
    assert guarded_ids(deployed["EdgeStack"]) == {"AccessLogsBucket"}


def _changed_params(tmp_path):
    params = tmp_path / "params"
    shutil.copytree(PARAMS, params)
    (params / "product-catalog/dev.yaml").write_text("tags:\n  Environment: development-2\n")
    return params


def _network_stack(cfn) -> str:
    return next(
        s["PhysicalResourceId"]
        for s in cfn.list_stack_resources(StackName=STACK)["StackResourceSummaries"]
        if s["LogicalResourceId"] == "NetworkStack"
    )


@pytest.fixture
def executed(monkeypatch, calls):
    """moto executes an update by re-creating nested stacks, which collides on the edge layer's
    named bucket (BucketAlreadyExists): creates run for real, updates stop at ExecuteChangeSet,
    which is recorded, with the outcome the test chooses (`executed.outcome`)."""

    class Fake:
        outcome = "success"

    original = flow.execute

    def execute(cfn_client, ref, **kwargs):
        if ref.type == "CREATE":
            return original(cfn_client, ref, **kwargs)
        calls.append(("ExecuteChangeSet", {"ChangeSetName": ref.change_set_id}))
        if Fake.outcome == "failure":
            raise StackFailed(f"stack {ref.stack_name} ended in UPDATE_ROLLBACK_COMPLETE", "UPDATE_ROLLBACK_COMPLETE")
        if Fake.outcome == "ctrl-c":
            raise StillRunning(ref.stack_name, cfn_client.meta.region_name)
        return "UPDATE_COMPLETE"

    monkeypatch.setattr(flow, "execute", execute)
    return Fake


def test_a_tampered_policy_is_re_set_before_the_update(aws_env, clients, tmp_path, executed):
    _, cfn = clients
    assert cli(aws_env, tmp_path, "deploy", "--yes").exit_code == 0
    cfn.set_stack_policy(
        StackName=_network_stack(cfn), StackPolicyBody=json.dumps(stack_policy(()))
    )  # someone opened it
    result = cli(aws_env, tmp_path, "deploy", "--yes", params=_changed_params(tmp_path))
    assert result.exit_code == 0, result.output
    assert (
        "note: stack policy of network did not deny replacing/deleting FlowLogsKey, FlowLogsLogGroup: re-set"
        in result.output
    )
    assert guarded_ids(nested_policies(cfn)["NetworkStack"]) == {"FlowLogsKey", "FlowLogsLogGroup"}


def _policy_sets(calls, after: int = 0) -> list[tuple[str, object]]:
    """SetStackPolicy (stack, guarded ids) and ExecuteChangeSet, in order, from call `after` on."""
    out = []
    for operation, params in calls[after:]:
        if operation == "SetStackPolicy":
            out.append((params["StackName"], guarded_ids(json.loads(params["StackPolicyBody"]))))
        elif operation == "ExecuteChangeSet":
            out.append(("execute", None))
    return out


@pytest.mark.parametrize("outcome", ["success", "failure", "ctrl-c"])
def test_allow_replacement_loosens_exactly_that_resource_and_restores_whatever_the_outcome(
    aws_env, clients, tmp_path, monkeypatch, calls, executed, outcome
):
    _, cfn = clients
    executed.outcome = "success"
    assert cli(aws_env, tmp_path, "deploy", "--yes").exit_code == 0
    network = _network_stack(cfn)
    monkeypatch.setattr(
        flow, "review_change_set", lambda *a, **k: _recorded_review()
    )  # network/FlowLogsLogGroup replaced, DATA LOSS
    executed.outcome = outcome
    start = len(calls)
    result = cli(
        aws_env,
        tmp_path,
        "deploy",
        "--yes",
        "--allow-replacement",
        "FlowLogsLogGroup",
        params=_changed_params(tmp_path),
    )
    assert result.exit_code == {"success": 0, "failure": 1, "ctrl-c": 130}[outcome], result.output
    sequence = _policy_sets(calls, start)
    execute_at = (
        len(sequence) - 1 - sequence[::-1].index(("execute", None))
    )  # the root's: the us-east-1 global stack's (new tags) runs first
    assert sequence[execute_at - 1] == (network, {"FlowLogsKey"})  # loosened just before, for that resource only
    assert sequence[execute_at + 1] == (network, {"FlowLogsKey", "FlowLogsLogGroup"})  # restored right after
    assert "note: stack policy of network loosened for FlowLogsLogGroup for this execution" in result.output
    assert "note: stack policy of network restored" in result.output


def test_without_allow_replacement_nothing_is_executed(aws_env, clients, tmp_path, monkeypatch, calls):
    assert cli(aws_env, tmp_path, "deploy", "--yes").exit_code == 0
    monkeypatch.setattr(flow, "review_change_set", lambda *a, **k: _recorded_review())
    start = len(calls)
    result = cli(aws_env, tmp_path, "deploy", "--yes", params=_changed_params(tmp_path))
    assert result.exit_code == 1
    assert [op for op, _ in calls[start:] if op in ("ExecuteChangeSet", "SetStackPolicy")] == []


# ------------------------------------------------------------------ termination protection


PROD_STACK_ID = "arn:aws:cloudformation:eu-north-1:111122223333:stack/product-catalog-catalog-prod/1"


def test_destroy_refuses_while_termination_protection_is_on():
    cfn = boto3.client("cloudformation", region_name="eu-north-1", aws_access_key_id="x", aws_secret_access_key="x")
    with Stubber(cfn) as stub:
        stub.add_response(
            "describe_stacks",
            {
                "Stacks": [
                    {
                        "StackName": "product-catalog-catalog-prod",
                        "StackId": PROD_STACK_ID,
                        "StackStatus": "UPDATE_COMPLETE",
                        "CreationTime": "2025-01-01T00:00:00Z",
                        "EnableTerminationProtection": True,
                    }
                ]
            },
            {"StackName": "product-catalog-catalog-prod"},
        )
        with pytest.raises(
            DeployerError,
            match=(
                "termination protection on: .*aws cloudformation update-termination-protection "
                "--no-enable-termination-protection --stack-name product-catalog-catalog-prod"
            ),
        ):
            flow.destroy(cfn, "product-catalog-catalog-prod")
        stub.assert_no_pending_responses()  # nothing deleted


def test_prod_create_turns_termination_protection_on_and_sets_policies(tmp_path):
    import generate
    from deployer.changeset import ChangeSetRef
    from deployer.session import Aws

    generate.generate_all([("product-catalog", "prod")], str(PARAMS), tmp_path / "dist", "json")
    bundle = load_bundle(tmp_path / "dist/product-catalog/prod")
    aws = Aws(boto3.Session(region_name="eu-north-1", aws_access_key_id="x", aws_secret_access_key="x"))
    cfn = aws.client("cloudformation")
    ref = ChangeSetRef(bundle.stack_name, PROD_STACK_ID, "arn:cs", "cs", "CREATE")
    events = {"StackEvents": []}
    with Stubber(cfn) as stub:
        stub.add_response("describe_stack_events", events, {"StackName": PROD_STACK_ID})
        stub.add_response("execute_change_set", {}, {"ChangeSetName": "arn:cs"})
        stub.add_response("describe_stack_events", events, {"StackName": PROD_STACK_ID})
        stub.add_response(
            "describe_stacks",
            {
                "Stacks": [
                    {
                        "StackName": bundle.stack_name,
                        "StackId": PROD_STACK_ID,
                        "StackStatus": "CREATE_COMPLETE",
                        "CreationTime": "2025-01-01T00:00:00Z",
                    }
                ]
            },
            {"StackName": PROD_STACK_ID},
        )
        stub.add_response("describe_stack_events", events, {"StackName": PROD_STACK_ID})
        stub.add_response(
            "update_termination_protection",
            {"StackId": PROD_STACK_ID},
            {"StackName": bundle.stack_name, "EnableTerminationProtection": True},
        )
        stub.add_response(
            "list_stack_resources",
            {
                "StackResourceSummaries": [
                    {
                        "LogicalResourceId": "NetworkStack",
                        "PhysicalResourceId": PROD_STACK_ID + "-net",
                        "ResourceType": "AWS::CloudFormation::Stack",
                        "LastUpdatedTimestamp": "2025-01-01T00:00:00Z",
                        "ResourceStatus": "CREATE_COMPLETE",
                    },
                ]
            },
            {"StackName": PROD_STACK_ID},
        )
        stub.add_response("set_stack_policy", {}, {"StackName": PROD_STACK_ID, "StackPolicyBody": ANY})
        stub.add_response("set_stack_policy", {}, {"StackName": PROD_STACK_ID + "-net", "StackPolicyBody": ANY})
        clock = flow.Clock(sleep=lambda s: None, delay=0)
        assert flow.run(aws, bundle, ref, clock=clock, on_event=print, note=print) == "CREATE_COMPLETE"
        stub.assert_no_pending_responses()

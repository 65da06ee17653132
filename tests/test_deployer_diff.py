"""`cfn-strata diff`: the pure structural diff of two templates, and the command against the
emulator (deploy, change one params value, the diff names exactly that property per layer with its
old and new value; the root's content-hashed TemplateURLs are not differences)."""

from __future__ import annotations

import json
import shutil

from click.testing import CliRunner

import generate
from deployer.diff import Change, TemplateDiff, diff_templates, to_json, to_markdown
from tests.test_deployer_e2e import PARAMS, cli, clients  # noqa: F401 (fixtures)

OLD = {
    "Parameters": {"DesiredCount": {"Type": "Number", "Default": 2}, "Gone": {"Type": "String"}},
    "Resources": {
        "LogGroup": {
            "Type": "AWS::Logs::LogGroup",
            "DeletionPolicy": "Delete",
            "Properties": {"RetentionInDays": 7, "LogGroupName": "/x"},
        },
        "Service": {
            "Type": "AWS::ECS::Service",
            "Properties": {
                "NetworkConfiguration": {"AwsvpcConfiguration": {"Subnets": ["a", "b"], "AssignPublicIp": "DISABLED"}}
            },
        },
        "OldTopic": {"Type": "AWS::SNS::Topic"},
        "NetworkStack": {
            "Type": "AWS::CloudFormation::Stack",
            "Properties": {"TemplateURL": "https://b.s3.amazonaws.com/network.1111.json", "Parameters": {"A": "1"}},
        },
    },
    "Outputs": {"Url": {"Value": "old"}},
}
NEW = {
    "Parameters": {"DesiredCount": {"Type": "Number", "Default": 3}},
    "Resources": {
        "LogGroup": {
            "Type": "AWS::Logs::LogGroup",
            "DeletionPolicy": "Retain",
            "Properties": {"RetentionInDays": 14, "LogGroupName": "/x"},
        },
        "Service": {
            "Type": "AWS::ECS::Service",
            "Properties": {
                "NetworkConfiguration": {"AwsvpcConfiguration": {"Subnets": ["a", "c"], "AssignPublicIp": "DISABLED"}}
            },
        },
        "NewQueue": {"Type": "AWS::SQS::Queue"},
        "NetworkStack": {
            "Type": "AWS::CloudFormation::Stack",
            "Properties": {"TemplateURL": "https://b.s3.amazonaws.com/network.2222.json", "Parameters": {"A": "1"}},
        },
    },
    "Outputs": {"Url": {"Value": "new"}, "Extra": {"Value": "e"}},
}


def test_diff_templates_names_every_difference_with_old_and_new_values():
    assert diff_templates("compute", OLD, NEW) == [
        Change(
            "compute", "modified", "Resources", "LogGroup", "AWS::Logs::LogGroup", "DeletionPolicy", "Delete", "Retain"
        ),
        Change(
            "compute", "modified", "Resources", "LogGroup", "AWS::Logs::LogGroup", "Properties.RetentionInDays", 7, 14
        ),
        Change("compute", "added", "Resources", "NewQueue", "AWS::SQS::Queue", ""),
        Change("compute", "removed", "Resources", "OldTopic", "AWS::SNS::Topic", ""),
        Change(
            "compute",
            "modified",
            "Resources",
            "Service",
            "AWS::ECS::Service",
            "Properties.NetworkConfiguration.AwsvpcConfiguration.Subnets",
            ["a", "b"],
            ["a", "c"],
        ),
        Change("compute", "modified", "Parameters", "DesiredCount", "", "Default", 2, 3),
        Change("compute", "removed", "Parameters", "Gone", "", ""),
        Change("compute", "added", "Outputs", "Extra", "", ""),
        Change("compute", "modified", "Outputs", "Url", "", "Value", "old", "new"),
    ]  # and the nested stack's TemplateURL (a content hash) is no difference


def test_identical_templates_have_no_difference_and_a_property_added_or_removed_shows_none_on_its_side():
    assert diff_templates("x", OLD, json.loads(json.dumps(OLD))) == []
    added = {"Resources": {"T": {"Type": "AWS::SNS::Topic", "Properties": {"DisplayName": "d"}}}}
    assert diff_templates("x", {"Resources": {"T": {"Type": "AWS::SNS::Topic"}}}, added) == [
        Change("x", "modified", "Resources", "T", "AWS::SNS::Topic", "Properties", None, {"DisplayName": "d"})
    ]


def test_views():
    diff = TemplateDiff("s", tuple(diff_templates("compute", OLD, NEW)))
    markdown = to_markdown(diff)
    assert "| compute | modified | `LogGroup.Properties.RetentionInDays` | AWS::Logs::LogGroup | 7 | 14 |" in markdown
    assert "| compute | modified | `Parameters.DesiredCount.Default` | - | 2 | 3 |" in markdown
    assert (
        "**Summary:** 9 difference(s) — compute: +2 ~5 -2" in markdown
    )  # rows: NewQueue and Extra added, OldTopic and Gone removed
    assert json.loads(to_json(diff))["summary"] == {"compute": {"added": 2, "removed": 2, "modified": 5}}
    assert "no differences" in to_markdown(TemplateDiff("s", ()))


def run_diff(endpoint, tmp_path, params, *extra):
    args = [
        "diff",
        "product-catalog",
        "--env",
        "dev",
        "--endpoint-url",
        endpoint,
        "--out",
        str(tmp_path / "dist-diff"),
        "--params",
        str(params),
        *extra,
    ]
    return CliRunner().invoke(generate.cli, args, catch_exceptions=False)


def test_diff_against_the_emulator_names_the_changed_property_per_layer(aws_env, clients, tmp_path):
    _, cfn = clients
    assert cli(aws_env, tmp_path, "deploy", "--yes").exit_code == 0
    same = run_diff(aws_env, tmp_path, PARAMS, "-o", "json")
    assert same.exit_code == 0, same.output
    assert json.loads(same.output)["changes"] == []  # content-hashed TemplateURLs are no difference
    params = tmp_path / "params"
    shutil.copytree(PARAMS, params)
    (params / "product-catalog/dev.yaml").write_text(
        "tags:\n  Environment: development\nobservability:\n  log_retention_days: 14\n"
    )
    changed = run_diff(aws_env, tmp_path, params, "-o", "json")
    assert changed.exit_code == 0, changed.output
    rows = [
        (c["layer"], c["kind"], c["logical_id"], c["path"], c["old"], c["new"])
        for c in json.loads(changed.output)["changes"]
    ]
    assert rows == [
        ("cicd", "modified", "PipelineBackendImageBuildLogGroup", "Properties.RetentionInDays", 7, 14),
        ("cicd", "modified", "PipelineBackendPackageLogGroup", "Properties.RetentionInDays", 7, 14),
        ("cicd", "modified", "PipelineBackendReviewLogGroup", "Properties.RetentionInDays", 7, 14),
        ("compute", "modified", "ServiceApiLogGroup", "Properties.RetentionInDays", 7, 14),
        ("data", "modified", "DatabaseClusterLogGroupPostgresql", "Properties.RetentionInDays", 7, 14),
        # the us-east-1 global stack's WAF log group, compared with its deployed template there
        ("global (us-east-1)", "modified", "CloudFrontWafLogGroup", "Properties.RetentionInDays", 7, 14),
    ]
    table = run_diff(aws_env, tmp_path, params)
    assert table.exit_code == 0
    assert (
        "6 difference(s) — cicd: +0 ~3 -0; compute: +0 ~1 -0; data: +0 ~1 -0; global (us-east-1): +0 ~1 -0"
        in " ".join(table.output.split())
    )
    assert [c["ExecutionStatus"] for c in cfn.list_change_sets(StackName="product-catalog-pr5706")["Summaries"]] == [
        "EXECUTE_COMPLETE"
    ]  # no change set created


def test_diff_of_a_stack_not_deployed_lists_every_layer_as_new(aws_env, tmp_path):
    result = run_diff(aws_env, tmp_path, PARAMS, "-o", "markdown")
    assert result.exit_code == 0, result.output
    assert "| root | added | `root` | - | - | - |" in result.output
    assert "> note: stack product-catalog-pr5706 is not deployed: every layer is new" in result.output

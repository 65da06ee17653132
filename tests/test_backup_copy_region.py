"""Issue 13: mycandidate copies its backups to us-west-2, so the vault there must exist. The
generator writes it as its own template (scope region:us-west-2) and the deployer creates that
stack in the copy region before the root: planned first, executed first, locally too."""

from __future__ import annotations

import json
from pathlib import Path

import boto3
import pytest
from botocore.exceptions import ClientError
from click.testing import CliRunner

import generate
from templates.lint import tasks_for
from templates.render import write_profile
from tests.conftest import one, rendered, template

PARAMS = Path(__file__).resolve().parents[1] / "params"


@pytest.mark.parametrize("env", ["dev", "prod"])
def test_the_copy_vault_is_its_own_stack_in_the_copy_region_named_as_the_copy_action_expects(env):
    profile = rendered("mycandidate", env)
    (entry,) = [s for s in profile.manifest["stacks"] if s["layer"] == "backup-copy"]
    assert entry["scope"] == "region:us-west-2" and entry["file"] == "backup-copy.json"
    assert entry["stateful_resources"] == ["CopyVaultKey", "CopyVault"]
    doc = template("mycandidate", env, "backup-copy")
    _, vault = one(doc, "AWS::Backup::BackupVault")
    assert vault["Properties"]["BackupVaultName"] == f"backup-vault-mc-{env}"
    assert vault["Properties"]["EncryptionKeyArn"] == {"Fn::GetAtt": ["CopyVaultKey", "Arn"]}
    assert vault["Properties"]["BackupVaultTags"]["EnvironmentSuffix"] == f"mc-{env}"
    _, key = one(doc, "AWS::KMS::Key")
    assert key["Properties"]["EnableKeyRotation"] is True
    policies = ("RetainExceptOnCreate", "Retain") if env == "prod" else ("Delete", "Delete")
    for resource in (vault, key):
        assert (resource["DeletionPolicy"], resource["UpdateReplacePolicy"]) == policies
    # the root's copy action builds the same vault's ARN in us-west-2
    rule = template("mycandidate", env, "backup")["Resources"]["BackupPlan"]["Properties"]["BackupPlan"][
        "BackupPlanRule"
    ][0]
    default_arn = rule["CopyActions"][0]["DestinationBackupVaultArn"]["Fn::If"][1]["Fn::Sub"]
    assert default_arn.endswith(
        f":backup:us-west-2:${{AWS::AccountId}}:backup-vault:{vault['Properties']['BackupVaultName']}"
    )
    # not a nested stack of the root
    assert "BackupCopyStack" not in template("mycandidate", env, "root")["Resources"]


def test_the_copy_stack_is_linted_against_its_own_region(tmp_path):
    folder = write_profile(rendered("mycandidate", "prod"), tmp_path)
    tasks, _ = tasks_for(folder)
    regions = {task.path.name: task.region for task in tasks}
    assert regions["backup-copy.json"] == "us-west-2" and regions["backup.json"] == "us-east-1"


def test_profiles_without_a_copy_region_have_no_copy_stack():
    assert "backup-copy.json" not in rendered("smart-task", "prod").files
    assert "backup.json" in rendered("smart-task", "prod").files


# ------------------------------------------------------------------ the deployer, against the local emulator


def _cli(endpoint, tmp_path, *args):
    common = [
        "mycandidate",
        "--env",
        "prod",
        "--endpoint-url",
        endpoint,
        "--bucket",
        "copy-test-templates",
        "--out",
        str(tmp_path / "dist"),
        "--params",
        str(PARAMS),
        "--skip-lint",
    ]
    return CliRunner().invoke(generate.cli, [*args, *common], catch_exceptions=False)


def test_plan_shows_the_copy_stack_change_set_first_and_executes_nothing(aws_env, tmp_path):
    boto3.client("s3", region_name="us-east-1", endpoint_url=aws_env).create_bucket(Bucket="copy-test-templates")
    west = boto3.client("cloudformation", region_name="us-west-2", endpoint_url=aws_env)

    planned = _cli(aws_env, tmp_path, "plan", "--skip-drift", "-o", "markdown")
    assert planned.exit_code == 0, planned.output
    assert (
        "on mycandidate-mc-prod-backup-copy (us-west-2, created before the root): Add CopyVault (AWS::Backup::"
        "BackupVault, LOW); Add CopyVaultKey (AWS::KMS::Key, LOW)" in planned.output
    )
    # plan never executes: the copy stack waits in REVIEW_IN_PROGRESS with its change set
    assert (
        west.describe_stacks(StackName="mycandidate-mc-prod-backup-copy")["Stacks"][0]["StackStatus"]
        == "REVIEW_IN_PROGRESS"
    )


def test_deploy_creates_the_copy_stack_in_us_west_2_before_the_root_then_plans_no_changes(aws_env, tmp_path):
    # (a fresh emulator: moto 5.2 makes a second stack for a second CREATE change set where AWS reuses the first)
    boto3.client("s3", region_name="us-east-1", endpoint_url=aws_env).create_bucket(Bucket="copy-test-templates")
    west = boto3.client("cloudformation", region_name="us-west-2", endpoint_url=aws_env)
    east = boto3.client("cloudformation", region_name="us-east-1", endpoint_url=aws_env)
    deployed = _cli(aws_env, tmp_path, "deploy", "--yes", "--skip-drift")
    assert deployed.exit_code == 0, deployed.output
    copy_done = deployed.output.index("CREATE_COMPLETE: mycandidate-mc-prod-backup-copy (us-west-2)")
    root_done = deployed.output.index("CREATE_COMPLETE: mycandidate-mc-prod\n")
    assert copy_done < root_done
    stack = west.describe_stacks(StackName="mycandidate-mc-prod-backup-copy")["Stacks"][0]
    assert stack["StackStatus"] == "CREATE_COMPLETE"
    assert {t["Key"]: t["Value"] for t in stack["Tags"]}["EnvironmentSuffix"] == "mc-prod"
    policy = json.loads(west.get_stack_policy(StackName="mycandidate-mc-prod-backup-copy")["StackPolicyBody"])
    assert policy["Statement"][1]["Resource"] == ["LogicalResourceId/CopyVault", "LogicalResourceId/CopyVaultKey"]
    assert east.describe_stacks(StackName="mycandidate-mc-prod")["Stacks"][0]["StackStatus"] == "CREATE_COMPLETE"
    with pytest.raises(ClientError):
        east.describe_stacks(StackName="mycandidate-mc-prod-backup-copy")  # it lives only in the copy region

    again = _cli(aws_env, tmp_path, "plan", "--skip-drift")
    assert again.exit_code == 0, again.output
    assert "no changes: mycandidate-mc-prod-backup-copy (us-west-2, created before the root)" in again.output

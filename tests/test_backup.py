"""backup layer: seed 003's daily plan with cross-region copy, prod-by-default elsewhere, selection by tag."""

from __future__ import annotations

import pytest

from tests.conftest import ALL_TARGETS, one, rendered, template


def _rule(doc: dict, plan_id: str = "BackupPlan") -> dict:
    """The one rule of a plan: the daily plan, or BackupPlanRpo (seed 003's RPO)."""
    (rule,) = doc["Resources"][plan_id]["Properties"]["BackupPlan"]["BackupPlanRule"]
    return rule


@pytest.mark.parametrize("env", ["dev", "prod"])
def test_mycandidate_daily_plan_seven_days_copied_to_us_west_2(env):
    doc = template("mycandidate", env, "backup")
    rule = _rule(doc)
    assert rule["ScheduleExpression"] == "cron(0 5 * * ? *)"
    assert rule["Lifecycle"] == {"DeleteAfterDays": 7}
    assert rule["EnableContinuousBackup"] is True
    assert rule["TargetBackupVault"] == {"Ref": "BackupVault"}
    (copy,) = rule["CopyActions"]
    assert copy["Lifecycle"] == {"DeleteAfterDays": 7}
    assert copy["DestinationBackupVaultArn"] == {
        "Fn::If": [
            "DefaultCopyVault",
            {
                "Fn::Sub": f"arn:${{AWS::Partition}}:backup:us-west-2:${{AWS::AccountId}}:backup-vault:"
                f"backup-vault-mc-{env}"
            },
            {"Ref": "BackupCopyVaultArn"},
        ]
    }
    assert doc["Parameters"]["BackupCopyVaultArn"]["Default"] == ""
    _, vault = one(doc, "AWS::Backup::BackupVault")
    assert vault["Properties"]["BackupVaultName"] == f"backup-vault-mc-{env}"
    assert vault["Properties"]["EncryptionKeyArn"] == {"Ref": "KmsKeyArn"}
    assert (vault["DeletionPolicy"], vault["UpdateReplacePolicy"]) == (
        ("RetainExceptOnCreate", "Retain") if env == "prod" else ("Delete", "Delete")
    )


def test_which_environments_have_the_layer():
    with_backup = {(app, env) for app, env in ALL_TARGETS if "backup.json" in rendered(app, env).files}
    # Prod of every seed profile (platform-scale is a dev-only scale test), plus mycandidate's dev,
    # whose seed asks for backups in every environment.
    expected = {(app, env) for app, env in ALL_TARGETS if env == "prod"} | {("mycandidate", "dev")}
    assert len(expected) == 6
    assert with_backup == expected
    assert ("product-catalog", "dev") not in with_backup and ("product-catalog", "prod") in with_backup


def test_product_catalog_prod_keeps_its_copy_local_and_backs_up_the_aurora_cluster():
    doc = template("product-catalog", "prod", "backup")
    assert "CopyActions" not in _rule(doc)
    assert "BackupCopyVaultArn" not in doc.get("Parameters", {})
    _, selection = one(doc, "AWS::Backup::BackupSelection")
    assert selection["Properties"]["BackupSelection"]["Resources"] == [
        {"Fn::Sub": "arn:${AWS::Partition}:rds:${AWS::Region}:${AWS::AccountId}:cluster:*"}
    ]


def test_selection_is_by_both_tags_of_the_deployment():
    doc = template("mycandidate", "prod", "backup")
    selection = doc["Resources"]["BackupSelection"]
    spec = selection["Properties"]["BackupSelection"]
    assert spec["Conditions"] == {
        "StringEquals": [
            {"ConditionKey": "aws:ResourceTag/EnvironmentSuffix", "ConditionValue": "mc-prod"},
            {"ConditionKey": "aws:ResourceTag/Project", "ConditionValue": "mycandidate"},
        ]
    }
    assert "ListOfTags" not in spec  # ListOfTags ORs its tags; both must match
    assert spec["Resources"] == [
        {"Fn::Sub": "arn:${AWS::Partition}:rds:${AWS::Region}:${AWS::AccountId}:db:*"},
        {"Fn::Sub": "arn:${AWS::Partition}:elasticfilesystem:${AWS::Region}:${AWS::AccountId}:file-system/*"},
    ]
    assert spec["NotResources"] == [
        {"Fn::Sub": "arn:${AWS::Partition}:rds:${AWS::Region}:${AWS::AccountId}:db:*replica*"}
    ]
    assert spec["IamRoleArn"] == {"Fn::GetAtt": ["BackupRole", "Arn"]}
    _, role = one(doc, "AWS::IAM::Role")
    assert role["Properties"]["ManagedPolicyArns"] == [
        {"Fn::Sub": "arn:${AWS::Partition}:iam::aws:policy/service-role/AWSBackupServiceRolePolicyForBackup"},
        {"Fn::Sub": "arn:${AWS::Partition}:iam::aws:policy/service-role/AWSBackupServiceRolePolicyForRestores"},
    ]
    assert role["Properties"]["AssumeRolePolicyDocument"]["Statement"][0]["Principal"] == {
        "Service": "backup.amazonaws.com"
    }


def test_root_wires_the_security_key_into_the_backup_stack():
    root = template("mycandidate", "prod", "root")
    assert root["Resources"]["BackupStack"]["Properties"]["Parameters"]["KmsKeyArn"] == {
        "Fn::GetAtt": ["SecurityStack", "Outputs.KmsKeyArn"]
    }


def test_the_backup_role_trusts_aws_backup_as_its_guide_writes_it():
    """AWS Backup's confused-deputy guidance is for resource policies (SNS topics, KMS keys); its
    service role trust carries no aws:SourceAccount condition, which would deny every job if the
    service does not send the key."""
    role = template("mycandidate", "prod", "backup")["Resources"]["BackupRole"]["Properties"]
    assert role["AssumeRolePolicyDocument"] == {
        "Version": "2012-10-17",
        "Statement": [
            {"Effect": "Allow", "Principal": {"Service": "backup.amazonaws.com"}, "Action": ["sts:AssumeRole"]}
        ],
    }


# ------------------------------------------------------------------ seed 003: RPO 1 hour


@pytest.mark.parametrize("env", ["dev", "prod"])
def test_mycandidate_meets_its_one_hour_rpo(env):
    """Seed 003: "RPO: 1 hour". EFS (no continuous backup) gets a snapshot every hour in a plan
    whose selection is EFS only; the database restores to any point in time (continuous backup,
    kept within AWS Backup's 35 days) from the daily rule."""
    from templates.backup import CONTINUOUS_MAX_DAYS
    from templates.params import REPO_PARAMS, load_config

    doc = template("mycandidate", env, "backup")
    rule = _rule(doc, "BackupPlanRpo")
    assert rule["ScheduleExpression"] == "cron(0 * * * ? *)"  # minute 0 of every hour
    assert rule["RuleName"] == "every-1h"
    assert (rule["StartWindowMinutes"], rule["CompletionWindowMinutes"]) == (60, 120)
    assert rule["Lifecycle"] == {"DeleteAfterDays": 7}
    assert rule["TargetBackupVault"] == {"Ref": "BackupVault"}
    assert "EnableContinuousBackup" not in rule and "CopyActions" not in rule
    selection = doc["Resources"]["BackupSelectionRpo"]["Properties"]
    assert selection["BackupPlanId"] == {"Ref": "BackupPlanRpo"}
    spec = selection["BackupSelection"]
    assert spec["Resources"] == [
        {"Fn::Sub": "arn:${AWS::Partition}:elasticfilesystem:${AWS::Region}:${AWS::AccountId}:file-system/*"}
    ]
    assert spec["Conditions"]["StringEquals"][0] == {
        "ConditionKey": "aws:ResourceTag/EnvironmentSuffix",
        "ConditionValue": f"mc-{env}",
    }
    # The database side of the objective: point-in-time restore from the daily rule.
    daily = _rule(doc)
    assert daily["EnableContinuousBackup"] is True
    assert daily["Lifecycle"]["DeleteAfterDays"] <= CONTINUOUS_MAX_DAYS
    cfg = load_config("mycandidate", env, REPO_PARAMS)
    assert cfg.backup.rpo_hours == 1
    assert template("mycandidate", env, "data")["Resources"]["Database"]["Properties"]["BackupRetentionPeriod"] == 7


@pytest.mark.parametrize(
    ("hours", "expected"), [(1, "cron(0 * * * ? *)"), (4, "cron(0 0/4 * * ? *)"), (24, "cron(0 0/24 * * ? *)")]
)
def test_rpo_schedule_runs_at_least_every_rpo_hours(hours, expected):
    from templates.backup import rpo_schedule

    assert rpo_schedule(hours) == expected


def test_no_rpo_plan_without_rpo_hours():
    for app, env in ALL_TARGETS:
        if app == "mycandidate":
            continue
        if "backup.json" in rendered(app, env).files:
            assert "BackupPlanRpo" not in template(app, env, "backup")["Resources"], (app, env)

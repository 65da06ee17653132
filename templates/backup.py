"""backup layer: an AWS Backup vault encrypted with the application key, a daily plan with
retention, continuous backup (point-in-time restore for RDS and Aurora), a copy to a vault in a
second region, and a selection BY TAG of the deployment's databases and file systems, so the
layer needs no resource ids from the data layer.

The copy's destination vault lives in another region, which a nested stack cannot reach: it is
a second, small stack (`backup-copy`, scope `region:<backup.copy_region>`) with the vault, named by
the convention, and its own KMS key, which the deployer creates or updates in that region before
the root stack. The root's copy action points at that vault by name; BackupCopyVaultArn can point
it at another one.
"""

from __future__ import annotations

from awacs.aws import PolicyDocument
from troposphere import Equals, GetAtt, If, Ref, Sub, backup, iam, kms

from templates.common import Layer, LayerBuilder, account_administers_key, trust_policy
from templates.config import AppConfig

# What AWS Backup selects (all further filtered by the deployment's tags). ElastiCache is not an
# AWS Backup resource: its snapshots are the data layer's SnapshotRetentionLimit.
RDS_INSTANCES = "arn:${AWS::Partition}:rds:${AWS::Region}:${AWS::AccountId}:db:*"
AURORA_CLUSTERS = "arn:${AWS::Partition}:rds:${AWS::Region}:${AWS::AccountId}:cluster:*"
FILE_SYSTEMS = "arn:${AWS::Partition}:elasticfilesystem:${AWS::Region}:${AWS::AccountId}:file-system/*"
# AWS Backup cannot back up an RDS read replica; the data layer's replica identifiers contain "replica".
READ_REPLICAS = "arn:${AWS::Partition}:rds:${AWS::Region}:${AWS::AccountId}:db:*replica*"
# AWS Backup keeps continuous (point-in-time) backups for at most 35 days.
CONTINUOUS_MAX_DAYS = 35


def selected_resources(cfg: AppConfig) -> tuple[list[str], list[str]]:
    """(Resources, NotResources) ARN patterns for what this profile has: Aurora is backed up by
    cluster (its instances are not backup resources), RDS by instance without the replicas."""
    resources, excluded = [], []
    if cfg.database:
        resources.append(AURORA_CLUSTERS if cfg.database.is_aurora else RDS_INSTANCES)
        if not cfg.database.is_aurora and cfg.database.replicas:
            excluded.append(READ_REPLICAS)
    if cfg.efs:
        resources.append(FILE_SYSTEMS)
    return resources, excluded


def _copy_vault_arn(b: LayerBuilder):
    """The destination vault as a knob; empty means the same-named vault in copy_region."""
    cfg = b.cfg
    b.knob(
        "BackupCopyVaultArn",
        "Backup",
        "Copy destination vault ARN",
        f"Backup vault in {cfg.backup.copy_region} that receives the copies; empty uses {b.named('backup-vault')} "
        f"in {cfg.backup.copy_region} of this account, which the deployer's backup-copy stack creates there first",
        "",
        AllowedPattern=r"^$|^arn:aws[a-z-]*:backup:[a-z0-9-]+:\d{12}:backup-vault:[A-Za-z0-9_.-]{2,50}$",
        ConstraintDescription="empty, or a backup vault ARN",
    )
    b.template.add_condition("DefaultCopyVault", Equals(Ref("BackupCopyVaultArn"), ""))
    default = Sub(
        f"arn:${{AWS::Partition}}:backup:{cfg.backup.copy_region}:${{AWS::AccountId}}:backup-vault:{b.named('backup-vault')}"
    )
    return If("DefaultCopyVault", default, Ref("BackupCopyVaultArn"))


def rpo_schedule(hours: int) -> str:
    """A cron expression (UTC, minute 0) every `hours` hours: cron(0 * * * ? *) for 1. AWS Backup's
    shortest frequency is one hour (Backup Developer Guide, "Backup frequency")."""
    return "cron(0 * * * ? *)" if hours == 1 else f"cron(0 0/{hours} * * ? *)"


def _rpo_plan(b: LayerBuilder, vault, role, lifecycle) -> None:
    """The recovery point objective for the file systems: snapshots every `rpo_hours` in a plan of
    their own, whose selection takes only EFS. RDS and Aurora meet the objective without it: the
    daily rule's continuous backup (and RDS's own automated backups) restore to any second within
    about five minutes of the present; hourly snapshots of them would only add cost."""
    cfg, hours = b.cfg, b.cfg.backup.rpo_hours
    plan = b.add(
        backup.BackupPlan(
            "BackupPlanRpo",
            BackupPlan=backup.BackupPlanResourceType(
                BackupPlanName=b.named("backup-plan-rpo"),
                BackupPlanRule=[
                    backup.BackupRuleResourceType(
                        RuleName=f"every-{hours}h",
                        TargetBackupVault=Ref(vault),
                        ScheduleExpression=rpo_schedule(hours),
                        # A job must start within the hour (AWS Backup's shortest start window), so
                        # no job is still waiting when the next is due, and finish within two hours.
                        StartWindowMinutes=60,
                        CompletionWindowMinutes=120,
                        Lifecycle=lifecycle,
                        RecoveryPointTags={tag["Key"]: tag["Value"] for tag in b.tag_list("recovery-point")},
                    )
                ],
            ),
            BackupPlanTags={tag["Key"]: tag["Value"] for tag in b.tag_list("backup-plan-rpo")},
        )
    )
    b.add(
        backup.BackupSelection(
            "BackupSelectionRpo",
            BackupPlanId=Ref(plan),
            BackupSelection=backup.BackupSelectionResourceType(
                SelectionName=b.named("backup-selection-rpo"),
                IamRoleArn=GetAtt(role, "Arn"),
                Resources=[Sub(FILE_SYSTEMS)],
                Conditions=backup.Conditions(
                    StringEquals=[
                        backup.ConditionParameter(
                            ConditionKey="aws:ResourceTag/EnvironmentSuffix", ConditionValue=cfg.suffix
                        ),
                        backup.ConditionParameter(ConditionKey="aws:ResourceTag/Project", ConditionValue=cfg.project),
                    ]
                ),
            ),
        )
    )
    b.output("BackupPlanRpoId", Ref(plan), f"Backup plan every {hours} hour(s) for the file systems (RPO)")


def _role(b: LayerBuilder) -> iam.Role:
    return b.add(
        iam.Role(
            "BackupRole",
            RoleName=b.named("backup"),
            Description="AWS Backup: back up and restore the deployment's tagged databases and file systems",
            # AWS Backup's service role trust as its guide writes it, without a condition (see
            # SENDS_SOURCE_ACCOUNT): https://docs.aws.amazon.com/aws-backup/latest/devguide/iam-service-roles.html
            # https://docs.aws.amazon.com/aws-backup/latest/devguide/cross-service-confused-deputy-prevention.html
            AssumeRolePolicyDocument=trust_policy("backup.amazonaws.com"),
            ManagedPolicyArns=[
                Sub("arn:${AWS::Partition}:iam::aws:policy/service-role/AWSBackupServiceRolePolicyForBackup"),
                Sub("arn:${AWS::Partition}:iam::aws:policy/service-role/AWSBackupServiceRolePolicyForRestores"),
            ],
            Tags=b.tags("backup"),
        )
    )


COPY_LAYER = "backup-copy"


def copy_scope(region: str) -> str:
    """The scope of a stack the deployer creates on its own in `region`, outside the root."""
    return f"region:{region}"


def _copy_layer(cfg: AppConfig) -> Layer:
    """The copy destination in backup.copy_region: a vault named like the source one (the root's
    copy action builds its ARN from the name) and a KMS key of that region to encrypt it (a key
    never leaves its region; AWS Backup re-encrypts the copies with the destination vault's key)."""
    b = LayerBuilder(
        cfg,
        COPY_LAYER,
        f"AWS Backup copy vault and its KMS key ({cfg.backup.copy_region})",
        scope=copy_scope(cfg.backup.copy_region),
    )
    key = b.add(
        kms.Key(
            "CopyVaultKey",
            Description=f"Encrypts the backup copies of {cfg.application} {cfg.environment.name} in "
            f"{cfg.backup.copy_region}",
            EnableKeyRotation=True,
            KeyPolicy=PolicyDocument(
                Version="2012-10-17",
                Statement=[account_administers_key()],
            ),
            Tags=b.tags("kms", "backup-copy"),
        )
    )
    vault = b.add(
        backup.BackupVault(
            "CopyVault",
            BackupVaultName=b.named("backup-vault"),
            EncryptionKeyArn=GetAtt(key, "Arn"),
            BackupVaultTags={tag["Key"]: tag["Value"] for tag in b.tag_list("backup-vault")},
        )
    )
    b.output("CopyVaultName", Ref(vault), f"Backup vault in {cfg.backup.copy_region} that receives the copies")
    b.output("CopyVaultArn", GetAtt(vault, "BackupVaultArn"), f"ARN of the copy vault in {cfg.backup.copy_region}")
    return b.build()


def build(cfg: AppConfig) -> list[Layer] | None:
    resources, excluded = selected_resources(cfg)
    if not cfg.backup.enabled or not resources:  # on in prod unless the params say otherwise
        return None
    settings = cfg.backup
    b = LayerBuilder(cfg, "backup", "AWS Backup vault, daily plan with cross-region copy, selection by tag")
    key_arn = Ref(b.input("KmsKeyArn", "security.KmsKeyArn", "KMS key that encrypts the recovery points"))

    vault = b.add(
        backup.BackupVault(
            "BackupVault",
            BackupVaultName=b.named("backup-vault"),
            EncryptionKeyArn=key_arn,
            BackupVaultTags={tag["Key"]: tag["Value"] for tag in b.tag_list("backup-vault")},
        )
    )
    lifecycle = backup.LifecycleResourceType(DeleteAfterDays=settings.retention_days)
    rule = {
        "RuleName": "daily",
        "TargetBackupVault": Ref(vault),
        "ScheduleExpression": settings.schedule,
        "StartWindowMinutes": 60,
        "CompletionWindowMinutes": 720,
        "Lifecycle": lifecycle,
        # Point-in-time restore where AWS Backup supports it (RDS, Aurora); snapshots elsewhere.
        "EnableContinuousBackup": settings.retention_days <= CONTINUOUS_MAX_DAYS,
        "RecoveryPointTags": {tag["Key"]: tag["Value"] for tag in b.tag_list("recovery-point")},
    }
    if settings.copy_region:
        rule["CopyActions"] = [
            backup.CopyActionResourceType(DestinationBackupVaultArn=_copy_vault_arn(b), Lifecycle=lifecycle)
        ]
    plan = b.add(
        backup.BackupPlan(
            "BackupPlan",
            BackupPlan=backup.BackupPlanResourceType(
                BackupPlanName=b.named("backup-plan"), BackupPlanRule=[backup.BackupRuleResourceType(**rule)]
            ),
            BackupPlanTags={tag["Key"]: tag["Value"] for tag in b.tag_list("backup-plan")},
        )
    )
    role = _role(b)
    # Both tags must match (Conditions are ANDed; ListOfTags would OR them).
    b.add(
        backup.BackupSelection(
            "BackupSelection",
            BackupPlanId=Ref(plan),
            BackupSelection=backup.BackupSelectionResourceType(
                SelectionName=b.named("backup-selection"),
                IamRoleArn=GetAtt(role, "Arn"),
                Resources=[Sub(arn) for arn in resources],
                **({"NotResources": [Sub(arn) for arn in excluded]} if excluded else {}),
                Conditions=backup.Conditions(
                    StringEquals=[
                        backup.ConditionParameter(
                            ConditionKey="aws:ResourceTag/EnvironmentSuffix", ConditionValue=cfg.suffix
                        ),
                        backup.ConditionParameter(ConditionKey="aws:ResourceTag/Project", ConditionValue=cfg.project),
                    ]
                ),
            ),
        )
    )
    if settings.rpo_hours and cfg.efs:
        _rpo_plan(b, vault, role, lifecycle)
    b.output("BackupVaultName", Ref(vault), "Backup vault name")
    b.output("BackupVaultArn", GetAtt(vault, "BackupVaultArn"), "Backup vault ARN", root=True)
    b.output("BackupPlanId", Ref(plan), "Backup plan id")
    return [b.build(), _copy_layer(cfg)] if settings.copy_region else [b.build()]

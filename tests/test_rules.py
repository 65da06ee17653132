"""The project's policy rules (templates/rules): each fires on a template that breaks it, with its
exact id and a message naming the resource, and stays quiet on one that keeps it. The templates
run through the real Linter (cfn-lint plus our rules, loaded as `--append-rules` does)."""

from __future__ import annotations

import copy
import json

import pytest
from click.testing import CliRunner

from resource_semantics import SNAPSHOT_TYPES, STATEFUL_TYPES
from templates.rules import project_rules
from templates.rules._policy import secret_like

OURS = ("E9", "W9")
TAGS = [
    {"Key": "Environment", "Value": "dev"},
    {"Key": "EnvironmentSuffix", "Value": "t1"},
    {"Key": "Project", "Value": "p"},
]
NOT_TAGGABLE = {
    "AWS::EC2::SecurityGroupIngress",
    "AWS::S3::BucketPolicy",
    "AWS::IAM::ManagedPolicy",
    "AWS::IAM::Policy",
}


def res(type_: str, policy: str | None = "prod", **props) -> dict:
    """A resource with the profile tags (where taggable) and, when stateful, the stage's policies."""
    if type_ not in NOT_TAGGABLE:
        props.setdefault("Tags", TAGS)
    resource = {"Type": type_, "Properties": props}
    if type_ in STATEFUL_TYPES and policy:
        value = "Delete" if policy == "dev" else ("Snapshot" if type_ in SNAPSHOT_TYPES else "Retain")
        resource |= {"DeletionPolicy": value, "UpdateReplacePolicy": value}
    return resource


def doc(resources: dict, stage: str = "prod", **extra) -> dict:
    return {
        "AWSTemplateFormatVersion": "2010-09-09",
        "Metadata": {"cfn-strata": {"stage": stage}},
        "Resources": resources,
        **extra,
    }


def if_(then, otherwise=None) -> dict:
    return {"Fn::If": ["Switch", then, otherwise if otherwise is not None else {"Ref": "AWS::NoValue"}]}


SWITCH = {
    "Parameters": {"On": {"Type": "String", "AllowedValues": ["yes", "no"], "Default": "yes"}},
    "Conditions": {"Switch": {"Fn::Equals": [{"Ref": "On"}, "yes"]}},
}
KMS = "arn:aws:kms:us-east-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab"
VPC = "vpc-0123456789abcdef0"


def _lint(linter, tmp_path, template: dict, name: str) -> list:
    path = tmp_path / f"{name}.json"
    path.write_text(json.dumps(template, indent=1))
    findings = linter.lint_file(path, "us-east-1")
    # A rule that crashes shows up as cfn-lint's E0002, never as silence on a good template.
    assert not [f for f in findings if f.rule.startswith("E0")], "\n".join(map(str, findings))
    return [f for f in findings if f.rule.startswith(OURS)]


# ------------------------------------------------------------------ E9001 stateful policies


def _secret(**attributes) -> dict:
    return {
        **res("AWS::SecretsManager::Secret", policy=None, GenerateSecretString={"PasswordLength": 32}),
        **attributes,
    }


E9001_BAD = doc(
    {
        "DeletedInProd": _secret(DeletionPolicy="Delete", UpdateReplacePolicy="Delete"),
        "NoReplacePolicy": _secret(DeletionPolicy="Retain"),
        "ConditionallyDeleted": _secret(DeletionPolicy="Retain", UpdateReplacePolicy=if_("Retain", "Delete")),
        # UpdateReplacePolicy takes Delete, Retain or Snapshot only
        "ExceptOnCreateOnReplace": _secret(
            DeletionPolicy="RetainExceptOnCreate", UpdateReplacePolicy="RetainExceptOnCreate"
        ),
    },
    **SWITCH,
)
E9001_GOOD = doc(
    {
        "Kept": _secret(DeletionPolicy="Retain", UpdateReplacePolicy="Retain"),
        "KeptExceptOnCreate": _secret(DeletionPolicy="RetainExceptOnCreate", UpdateReplacePolicy="Retain"),
        "Db": res(
            "AWS::RDS::DBInstance",
            Engine="postgres",
            DBInstanceClass="db.t4g.micro",
            AllocatedStorage="20",
            StorageEncrypted=True,
            PubliclyAccessible=False,
            MasterUsername="app",
            ManageMasterUserPassword=True,
        ),
    }
)
E9001_GOOD_DEV = doc({"DeletedInDev": _secret(DeletionPolicy="Delete", UpdateReplacePolicy="Delete")}, stage="dev")


# ------------------------------------------------------------------ E9002 open ingress


def _rule(port: int, cidr: str = "0.0.0.0/0", protocol: str = "tcp") -> dict:
    key = "CidrIpv6" if ":" in cidr else "CidrIp"
    return {"IpProtocol": protocol, "FromPort": port, "ToPort": port, key: cidr}


def _group(*ingress, balancer: bool = False) -> dict:
    group = res("AWS::EC2::SecurityGroup", GroupDescription="test", VpcId=VPC, SecurityGroupIngress=list(ingress))
    if balancer:
        group["Metadata"] = {"cfn-strata": {"attached_to": "load-balancer"}}
    return group


E9002_BAD = doc(
    {
        "SshFromAnywhere": _group(_rule(22)),
        "BalancerOnOtherPort": _group(_rule(80), _rule(8080), balancer=True),
        "AllTrafficWhenSwitched": _group(if_(_rule(-1, protocol="-1"))),
        "AppGroup": _group(),
        "AppFromAnywhereV6": {
            "Type": "AWS::EC2::SecurityGroupIngress",
            "Properties": {"GroupId": {"Fn::GetAtt": ["AppGroup", "GroupId"]}, **_rule(443, "::/0")},
        },
    },
    **SWITCH,
)
E9002_GOOD = doc(
    {
        "AlbGroup": _group(_rule(80), if_(_rule(443)), _rule(443, "::/0"), balancer=True),
        "ReferencedGroup": _group(_rule(443)),
        "Balancer": res(
            "AWS::ElasticLoadBalancingV2::LoadBalancer",
            Subnets=["subnet-0123456789abcdef0", "subnet-0123456789abcdef1"],
            SecurityGroups=[{"Ref": "ReferencedGroup"}],
        ),
        "PrivateGroup": _group(_rule(5432, "10.0.0.0/16")),
        "FromVpc": {
            "Type": "AWS::EC2::SecurityGroupIngress",
            "Properties": {"GroupId": {"Ref": "PrivateGroup"}, **_rule(6379, "10.0.0.0/16")},
        },
    },
    **SWITCH,
)


# ------------------------------------------------------------------ E9003 buckets

ENCRYPTION = {
    "ServerSideEncryptionConfiguration": [
        {"ServerSideEncryptionByDefault": {"SSEAlgorithm": "aws:kms", "KMSMasterKeyID": KMS}}
    ]
}
BLOCK = {flag: True for flag in ("BlockPublicAcls", "BlockPublicPolicy", "IgnorePublicAcls", "RestrictPublicBuckets")}


def _tls_policy(bucket: str, condition_value="false") -> dict:
    arn = {"Fn::GetAtt": [bucket, "Arn"]}
    return res(
        "AWS::S3::BucketPolicy",
        Bucket={"Ref": bucket},
        PolicyDocument={
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Sid": "DenyInsecureTransport",
                    "Effect": "Deny",
                    "Principal": "*",
                    "Action": "s3:*",
                    "Resource": [arn, {"Fn::Join": ["", [arn, "/*"]]}],
                    "Condition": {"Bool": {"aws:SecureTransport": condition_value}},
                }
            ],
        },
    )


E9003_BAD = doc(
    {
        "Bare": res("AWS::S3::Bucket"),
        "OneFlagOff": res(
            "AWS::S3::Bucket",
            BucketEncryption=ENCRYPTION,
            PublicAccessBlockConfiguration={**BLOCK, "RestrictPublicBuckets": False},
        ),
        "OneFlagOffPolicy": _tls_policy("OneFlagOff"),
        "PolicyWithoutTls": res("AWS::S3::Bucket", BucketEncryption=ENCRYPTION, PublicAccessBlockConfiguration=BLOCK),
        "PolicyWithoutTlsPolicy": _tls_policy("PolicyWithoutTls", condition_value="true"),
    }
)
E9003_GOOD = doc(
    {
        "Data": res("AWS::S3::Bucket", BucketEncryption=ENCRYPTION, PublicAccessBlockConfiguration=BLOCK),
        "DataPolicy": _tls_policy("Data"),
    }
)


# ------------------------------------------------------------------ E9004 log groups

E9004_BAD = doc(
    {
        "NoKey": res("AWS::Logs::LogGroup", RetentionInDays=7),
        "KeptForeverWhenSwitched": res("AWS::Logs::LogGroup", RetentionInDays=if_(7), KmsKeyId=KMS),
    },
    **SWITCH,
)
E9004_GOOD = doc({"Logs": res("AWS::Logs::LogGroup", RetentionInDays=7, KmsKeyId=KMS)})


# ------------------------------------------------------------------ E9005 tags

E9005_BAD = doc(
    {
        "Untagged": res("AWS::EC2::VPC", CidrBlock="10.0.0.0/16", Tags=[]),
        "NoProjectWhenSwitched": res("AWS::EC2::VPC", CidrBlock="10.1.0.0/16", Tags=if_(TAGS, TAGS[:2])),
        "MapWithoutSuffix": res(
            "AWS::SSM::Parameter", Type="String", Value="v", Tags={"Environment": "dev", "Project": "p"}
        ),
    }
)
E9005_GOOD = doc(
    {
        "Tagged": res("AWS::EC2::VPC", CidrBlock="10.0.0.0/16"),
        "TaggedMap": res("AWS::SSM::Parameter", Type="String", Value="v", Tags={t["Key"]: t["Value"] for t in TAGS}),
        "Attachment": {
            "Type": "AWS::EC2::VPCGatewayAttachment",
            "Properties": {"VpcId": {"Ref": "Tagged"}, "InternetGatewayId": "igw-0123456789abcdef0"},
        },
    }
)


# ------------------------------------------------------------------ E9006 IAM

ASSUME = {
    "Version": "2012-10-17",
    "Statement": [{"Effect": "Allow", "Principal": {"Service": "ecs-tasks.amazonaws.com"}, "Action": "sts:AssumeRole"}],
}


def _policy_doc(action, resource="*", effect="Allow") -> dict:
    return {
        "Version": "2012-10-17",
        "Statement": [{"Sid": "Under test", "Effect": effect, "Action": action, "Resource": resource}],
    }


def _key(action) -> dict:
    return res(
        "AWS::KMS::Key",
        EnableKeyRotation=True,
        KeyPolicy={
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Sid": "Admin",
                    "Effect": "Allow",
                    "Principal": {"AWS": "arn:aws:iam::123456789012:root"},
                    "Action": action,
                    "Resource": "*",
                }
            ],
        },
    )


E9006_BAD = doc(
    {
        "AdminRole": res(
            "AWS::IAM::Role",
            AssumeRolePolicyDocument=ASSUME,
            Policies=[{"PolicyName": "all", "PolicyDocument": _policy_doc("*")}],
        ),
        "AdminPolicy": res("AWS::IAM::ManagedPolicy", PolicyDocument=_policy_doc(["s3:GetObject", "*"], ["*"])),
        "StarKey": _key("*"),
    }
)
E9006_GOOD = doc(
    {
        "ScopedRole": res(
            "AWS::IAM::Role",
            AssumeRolePolicyDocument=ASSUME,
            Policies=[
                {"PolicyName": "read", "PolicyDocument": _policy_doc("*", "arn:aws:s3:::bucket/*")},
                {"PolicyName": "deny", "PolicyDocument": _policy_doc("*", "*", effect="Deny")},
                {"PolicyName": "describe", "PolicyDocument": _policy_doc("ec2:Describe*", "*")},
            ],
        ),
        "AccountKey": _key("kms:*"),
    }
)


# ------------------------------------------------------------------ E9007 databases and caches

DB = {
    "Engine": "postgres",
    "DBInstanceClass": "db.t4g.micro",
    "AllocatedStorage": "20",
    "MasterUsername": "app",
    "ManageMasterUserPassword": True,
}
REDIS = {
    "ReplicationGroupDescription": "cache",
    "Engine": "redis",
    "CacheNodeType": "cache.t4g.micro",
    "NumCacheClusters": 2,
}

E9007_BAD = doc(
    {
        "PlainDb": res("AWS::RDS::DBInstance", **DB),
        "PublicDb": res("AWS::RDS::DBInstance", **DB, StorageEncrypted=True, PubliclyAccessible=True),
        "PlainCluster": res(
            "AWS::RDS::DBCluster", Engine="aurora-postgresql", MasterUsername="app", ManageMasterUserPassword=True
        ),
        "PlaintextCache": res("AWS::ElastiCache::ReplicationGroup", **REDIS, AtRestEncryptionEnabled=True),
        "PreferredTlsCache": res(
            "AWS::ElastiCache::ReplicationGroup",
            **REDIS,
            AtRestEncryptionEnabled=True,
            TransitEncryptionEnabled=True,
            TransitEncryptionMode="preferred",
        ),
    }
)
E9007_GOOD = doc(
    {
        "Db": res("AWS::RDS::DBInstance", **DB, StorageEncrypted=True, KmsKeyId=KMS, PubliclyAccessible=False),
        "Replica": res(
            "AWS::RDS::DBInstance",
            SourceDBInstanceIdentifier={"Ref": "Db"},
            DBInstanceClass="db.t4g.micro",
            PubliclyAccessible=False,
        ),
        "Cluster": res(
            "AWS::RDS::DBCluster",
            Engine="aurora-postgresql",
            MasterUsername="app",
            ManageMasterUserPassword=True,
            StorageEncrypted=True,
        ),
        "Writer": res(
            "AWS::RDS::DBInstance",
            Engine="aurora-postgresql",
            DBInstanceClass="db.r6g.large",
            DBClusterIdentifier={"Ref": "Cluster"},
            PubliclyAccessible=False,
            policy=None,
        ),
        "Cache": res(
            "AWS::ElastiCache::ReplicationGroup",
            **REDIS,
            AtRestEncryptionEnabled=True,
            TransitEncryptionEnabled=True,
            TransitEncryptionMode="required",
        ),
    }
)
# An Aurora member instance takes no deletion policy of its own (the cluster is snapshotted).
E9007_GOOD["Resources"]["Writer"] |= {"DeletionPolicy": "Retain", "UpdateReplacePolicy": "Retain"}


# ------------------------------------------------------------------ E9008 / W9008 containers

LOGS = {
    "LogDriver": "awslogs",
    "Options": {"awslogs-group": "app", "awslogs-region": "us-east-1", "awslogs-stream-prefix": "app"},
}


def _task(*containers, network_mode="awsvpc", metadata=None) -> dict:
    task = res(
        "AWS::ECS::TaskDefinition",
        NetworkMode=network_mode,
        RequiresCompatibilities=["FARGATE"],
        Cpu="256",
        Memory="512",
        ContainerDefinitions=list(containers),
    )
    if metadata:
        task["Metadata"] = metadata
    return task


def _container(name: str, **props) -> dict:
    return {"Name": name, "Image": "public.ecr.aws/docker/library/nginx:1.27", "Essential": True, **props}


HARDENED = {"LogConfiguration": LOGS, "ReadonlyRootFilesystem": True, "User": "1000:1000"}
E9008_BAD = doc(
    {
        "HostTask": _task(_container("app", **HARDENED), network_mode="host"),
        "PrivilegedTask": _task(_container("app", **HARDENED, Privileged=if_(True, False))),
        "SilentTask": _task(_container("app", ReadonlyRootFilesystem=True, User="1000")),
        "LeakyTask": _task(
            _container(
                "app",
                **HARDENED,
                Environment=[
                    {"Name": "DB_PASSWORD", "Value": "hunter2"},
                    {"Name": "LOG_LEVEL", "Value": "info"},
                    {"Name": "AWS_ACCESS_KEY_ID", "Value": "AKIA"},
                ],
            )
        ),
    },
    **SWITCH,
)
W9008_BAD = doc(
    {
        "WritableTask": _task(_container("app", LogConfiguration=LOGS, User="1000")),
        "RootTask": _task(_container("app", LogConfiguration=LOGS, ReadonlyRootFilesystem=True, User="root:root")),
        "UnexplainedOptOut": _task(
            _container("app", LogConfiguration=LOGS, User="1000"), metadata={"cfn-strata": {"writable_root": ["app"]}}
        ),
        "StaleOptOut": _task(
            _container("app", **HARDENED),
            metadata={"cfn-strata": {"writable_root": ["gone"], "reason": "was a sidecar"}},
        ),
        "UnexplainedRoot": _task(
            _container("app", LogConfiguration=LOGS, ReadonlyRootFilesystem=True, User="0"),
            metadata={"cfn-strata": {"root_user": ["app"]}},
        ),
        "StaleRoot": _task(
            _container("app", **HARDENED), metadata={"cfn-strata": {"root_user": ["gone"], "reason": "was a sidecar"}}
        ),
    }
)
CONTAINERS_GOOD = doc(
    {
        "AppTask": _task(
            _container(
                "app",
                **HARDENED,
                Environment=[
                    {"Name": "LOG_LEVEL", "Value": "info"},
                    {"Name": "CACHE_KEY_PREFIX", "Value": "app"},
                    {"Name": "KMS_KEY_ARN", "Value": KMS},
                ],
                Secrets=[
                    {
                        "Name": "DB_PASSWORD",
                        "ValueFrom": "arn:aws:secretsmanager:us-east-1:123456789012:secret:db-AbCdEf",
                    }
                ],
            ),
            _container("cms", LogConfiguration=LOGS, User="1000", Essential=False),
            metadata={
                "cfn-strata": {
                    "writable_root": ["cms"],
                    "reason": "the CMS writes uploaded media to its working directory",
                }
            },
        ),
        # what services.<name>.root_user_reason / writable_root_reason write (ServiceConfig.hardening_metadata)
        "RootOn80Task": _task(
            _container("web", LogConfiguration=LOGS, User="root"),
            metadata={
                "cfn-strata": {
                    "writable_root": ["web"],
                    "root_user": ["web"],
                    "reason": "writable root file system: nginx writes its pid file; runs as root: binds port 80",
                }
            },
        ),
    }
)


# (rule, bad template, the (rule, resource) findings it must give, good templates)
CASES = {
    "E9001": (
        E9001_BAD,
        {
            ("E9001", "DeletedInProd"),
            ("E9001", "NoReplacePolicy"),
            ("E9001", "ConditionallyDeleted"),
            ("E9001", "ExceptOnCreateOnReplace"),
        },
        [E9001_GOOD, E9001_GOOD_DEV],
    ),
    "E9002": (
        E9002_BAD,
        {
            ("E9002", "SshFromAnywhere"),
            ("E9002", "BalancerOnOtherPort"),
            ("E9002", "AllTrafficWhenSwitched"),
            ("E9002", "AppFromAnywhereV6"),
        },
        [E9002_GOOD],
    ),
    "E9003": (E9003_BAD, {("E9003", "Bare"), ("E9003", "OneFlagOff"), ("E9003", "PolicyWithoutTls")}, [E9003_GOOD]),
    "E9004": (E9004_BAD, {("E9004", "NoKey"), ("E9004", "KeptForeverWhenSwitched")}, [E9004_GOOD]),
    "E9005": (
        E9005_BAD,
        {("E9005", "Untagged"), ("E9005", "NoProjectWhenSwitched"), ("E9005", "MapWithoutSuffix")},
        [E9005_GOOD],
    ),
    "E9006": (E9006_BAD, {("E9006", "AdminRole"), ("E9006", "AdminPolicy"), ("E9006", "StarKey")}, [E9006_GOOD]),
    "E9007": (
        E9007_BAD,
        {
            ("E9007", "PlainDb"),
            ("E9007", "PublicDb"),
            ("E9007", "PlainCluster"),
            ("E9007", "PlaintextCache"),
            ("E9007", "PreferredTlsCache"),
        },
        [E9007_GOOD],
    ),
    "E9008": (
        E9008_BAD,
        {("E9008", "HostTask"), ("E9008", "PrivilegedTask"), ("E9008", "SilentTask"), ("E9008", "LeakyTask")},
        [CONTAINERS_GOOD],
    ),
    "W9008": (
        W9008_BAD,
        {
            ("W9008", "WritableTask"),
            ("W9008", "RootTask"),
            ("W9008", "UnexplainedOptOut"),
            ("W9008", "StaleOptOut"),
            ("W9008", "UnexplainedRoot"),
            ("W9008", "StaleRoot"),
        },
        [CONTAINERS_GOOD],
    ),
}


@pytest.mark.parametrize("rule_id", sorted(CASES))
def test_rule_fires_on_bad_template_naming_the_resource(rule_id, linter, tmp_path):
    bad, expected, _ = CASES[rule_id]
    findings = _lint(linter, tmp_path, bad, f"{rule_id}_bad")
    assert {(f.rule, f.resource) for f in findings} == expected, "\n".join(map(str, findings))
    for finding in findings:
        assert finding.message.startswith(finding.resource), finding
        assert finding.level == ("error" if rule_id.startswith("E") else "warning")


@pytest.mark.parametrize("rule_id", sorted(CASES))
def test_rule_is_quiet_on_good_template(rule_id, linter, tmp_path):
    for index, good in enumerate(CASES[rule_id][2]):
        assert _lint(linter, tmp_path, good, f"{rule_id}_good{index}") == []


def test_messages_say_what_is_wrong(linter, tmp_path):
    by_resource = {f.resource: f.message for f in _lint(linter, tmp_path, E9008_BAD, "e9008")}
    assert "DB_PASSWORD" in by_resource["LeakyTask"] and "LOG_LEVEL" not in by_resource["LeakyTask"]
    messages = [f.message for f in _lint(linter, tmp_path, E9008_BAD, "e9008") if f.resource == "LeakyTask"]
    assert sorted(m.split(" passes ")[1].split()[0] for m in messages) == ["AWS_ACCESS_KEY_ID", "DB_PASSWORD"]
    open_ports = sorted(
        f.message for f in _lint(linter, tmp_path, E9002_BAD, "e9002") if f.resource == "BalancerOnOtherPort"
    )
    assert open_ports == [
        "BalancerOnOtherPort allows ingress from 0.0.0.0/0 on tcp 8080-8080: a load balancer's group may be open "
        "on tcp 80/443 only"
    ]
    tags = {f.resource: f.message for f in _lint(linter, tmp_path, E9005_BAD, "e9005")}
    assert tags["NoProjectWhenSwitched"] == "NoProjectWhenSwitched (AWS::EC2::VPC) lacks the tag(s) Project"
    assert tags["MapWithoutSuffix"] == "MapWithoutSuffix (AWS::SSM::Parameter) lacks the tag(s) EnvironmentSuffix"


def test_stage_without_metadata_is_strict(linter, tmp_path):
    template = copy.deepcopy(E9001_GOOD_DEV)
    del template["Metadata"]
    assert {(f.rule, f.resource) for f in _lint(linter, tmp_path, template, "nostage")} == {("E9001", "DeletedInDev")}


@pytest.mark.parametrize(
    ("name", "secret"),
    [
        ("DB_PASSWORD", True),
        ("DJANGO_SECRET_KEY", True),
        ("API_KEY", True),
        ("GITHUB_TOKEN", True),
        ("AWS_ACCESS_KEY_ID", True),
        ("ECS_ENGINE_AUTH_DATA", True),
        ("db-passwd", True),
        ("STRIPE_APIKEY", True),
        ("LOG_LEVEL", False),
        ("CACHE_KEY_PREFIX", False),
        ("KMS_KEY_ARN", False),
        ("TOKENIZER_MODEL", False),
        ("MONKEY_MODE", False),
    ],
)
def test_secret_like_names(name, secret):
    assert secret_like(name) is secret


def test_rule_metadata_and_id_range():
    from cfnlint.rules import Rules

    ours = project_rules()
    assert [r.id for r in ours] == [
        "E9001",
        "E9002",
        "E9003",
        "E9004",
        "E9005",
        "E9006",
        "E9007",
        "E9008",
        "E9010",
        "E9011",
        "E9012",
        "E9013",
        "E9014",
        "E9015",
        "E9016",
        "W9008",
    ]
    builtin = Rules.create_from_module("cfnlint.rules")
    assert not [rule_id for rule_id in builtin if rule_id[1] == "9"], "cfn-lint now uses our id range"
    for rule in ours:
        assert (
            rule.shortdesc
            and rule.description
            and rule.source_url.endswith(f"#{rule.id.lower()}")
            and "cfn-strata" in rule.tags
        )


def test_generated_templates_record_their_stage():
    from tests.conftest import template

    assert template("product-catalog", "prod", "network")["Metadata"]["cfn-strata"]["stage"] == "prod"
    assert template("product-catalog", "dev", "security")["Metadata"]["cfn-strata"] == {
        "application": "product-catalog",
        "environment": "dev",
        "layer": "security",
        "stage": "dev",
    }
    assert template("smart-task", "prod", "root")["Metadata"]["cfn-strata"]["layer"] == "root"
    alb = template("product-catalog", "dev", "security")["Resources"]["AlbSecurityGroup"]
    assert alb["Metadata"]["cfn-strata"] == {"attached_to": "load-balancer"}


def test_rules_command_lists_every_rule():
    from generate import cli

    result = CliRunner().invoke(cli, ["rules"])
    assert result.exit_code == 0, result.output
    lines = [line.replace("│", " ").split() for line in result.output.splitlines()]
    lines = [words for words in lines if words and words[0].startswith(("E9", "W9"))]
    assert [(words[0], words[1]) for words in lines] == [
        (r.id, "error" if r.id[0] == "E" else "warning") for r in project_rules()
    ]


def test_rules_ship_in_the_package():
    """setup.cfg's package discovery includes templates.rules (wheel and editable installs)."""
    import configparser
    from pathlib import Path

    from setuptools import find_packages

    root = Path(__file__).resolve().parents[1]
    setup = configparser.ConfigParser()
    setup.read(root / "setup.cfg")
    include = setup["options.packages.find"]["include"].split()
    assert "templates.rules" in find_packages(str(root), include=include)
    assert setup["options.package_data"]["templates"].strip() == "rules/*.py"


def test_readme_fragment_documents_every_rule():
    from pathlib import Path

    text = (Path(__file__).resolve().parents[1] / "README.md").read_text()
    for rule in project_rules():
        assert f'<a id="{rule.id.lower()}"></a>\n#### {rule.id} ' in text


def test_editing_a_rule_misses_the_lint_cache(tmp_path, monkeypatch):
    import shutil

    import templates.rules
    from templates.lint import tasks_for
    from templates.render import write_profile
    from tests.conftest import rendered

    folder = write_profile(rendered("product-catalog", "dev"), tmp_path / "dist")
    copy_dir = tmp_path / "rules"
    shutil.copytree(templates.rules.RULES_DIR, copy_dir, ignore=shutil.ignore_patterns("__pycache__"))
    monkeypatch.setattr(templates.rules, "RULES_DIR", str(copy_dir))
    before = {t.shown: t.key for t in tasks_for(folder)[0]}
    rule = copy_dir / "LogGroupHardening.py"
    rule.write_text(rule.read_text().replace('("RetentionInDays", "KmsKeyId")', '("RetentionInDays",)'))
    after = {t.shown: t.key for t in tasks_for(folder)[0]}
    assert before.keys() == after.keys() and all(before[k] != after[k] for k in before)

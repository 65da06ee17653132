"""The seed gaps of issue 14: network ACLs (seeds 001, 003), CloudTrail (seed 003), SMS alarm
notifications (seed 002), each checked on the values that matter; and the two profiles with
network ACLs and the trail deploy to the local emulator."""

from __future__ import annotations

import boto3
import pytest
from click.testing import CliRunner

import generate
from templates.params import REPO_PARAMS, load_config
from templates.render import render
from tests.conftest import ALL_TARGETS, one, rendered, resources, template

# ------------------------------------------------------------------ network ACLs


def acl_entries(app: str, env: str, tier: str) -> set[tuple[str, int, str, int, int]]:
    """(direction, rule number, CIDR, from port, to port) of one tier's ACL."""
    doc = template(app, env, "network")
    acl = f"{tier.capitalize()}NetworkAcl"
    found = set()
    for entry in resources(doc, "AWS::EC2::NetworkAclEntry").values():
        props = entry["Properties"]
        if props["NetworkAclId"] == {"Ref": acl}:
            assert (props["Protocol"], props["RuleAction"]) == (6, "allow")
            found.add(
                (
                    "out" if props["Egress"] else "in",
                    props["RuleNumber"],
                    props["CidrBlock"],
                    props["PortRange"]["From"],
                    props["PortRange"]["To"],
                )
            )
    return found


ANY, EPH = "0.0.0.0/0", (1024, 65535)


@pytest.mark.parametrize("env", ["dev", "prod"])
def test_ecs_ec2_api_acls_allow_exactly_its_flows(env):
    """Seed 001: ALB 80/443 in public; ALB -> tasks on 3000 in the private subnets 10.0.3.0/24 and
    10.0.4.0/24; tasks -> PostgreSQL 5432 in the same subnets; HTTPS out; ephemeral returns."""
    assert acl_entries("ecs-ec2-api", env, "public") == {
        ("in", 100, ANY, 80, 80),
        ("in", 110, ANY, 443, 443),
        ("in", 120, ANY, *EPH),
        ("out", 100, ANY, *EPH),
        ("out", 110, ANY, 443, 443),
        ("out", 120, "10.0.3.0/24", 3000, 3000),
        ("out", 130, "10.0.4.0/24", 3000, 3000),
    }
    assert acl_entries("ecs-ec2-api", env, "private") == {
        ("in", 100, "10.0.1.0/24", 3000, 3000),
        ("in", 110, "10.0.2.0/24", 3000, 3000),
        ("in", 120, ANY, *EPH),
        ("in", 130, "10.0.3.0/24", 5432, 5432),
        ("in", 140, "10.0.4.0/24", 5432, 5432),
        ("out", 100, "10.0.0.0/16", *EPH),
        ("out", 110, ANY, 443, 443),
        ("out", 120, "10.0.3.0/24", 5432, 5432),
        ("out", 130, "10.0.4.0/24", 5432, 5432),
    }
    doc = template("ecs-ec2-api", env, "network")
    associations = {
        (a["Properties"]["SubnetId"]["Ref"], a["Properties"]["NetworkAclId"]["Ref"])
        for a in resources(doc, "AWS::EC2::SubnetNetworkAclAssociation").values()
    }
    assert associations == {
        ("PublicSubnet1", "PublicNetworkAcl"),
        ("PublicSubnet2", "PublicNetworkAcl"),
        ("PrivateSubnet1", "PrivateNetworkAcl"),
        ("PrivateSubnet2", "PrivateNetworkAcl"),
    }
    assert "IsolatedNetworkAcl" not in doc["Resources"]


@pytest.mark.parametrize("env", ["dev", "prod"])
def test_mycandidate_acls_cover_three_azs_the_web_port_postgres_redis_and_nfs(env):
    public = ["10.30.0.0/24", "10.30.1.0/24", "10.30.2.0/24"]
    private = ["10.30.10.0/24", "10.30.11.0/24", "10.30.12.0/24"]
    entries = acl_entries("mycandidate", env, "private")
    inbound = {(cidr, low, high) for direction, _, cidr, low, high in entries if direction == "in"}
    outbound = {(cidr, low, high) for direction, _, cidr, low, high in entries if direction == "out"}
    assert inbound == {
        *((c, 5000, 5000) for c in public),
        (ANY, *EPH),
        *((c, p, p) for p in (5432, 6379, 2049) for c in private),
    }
    assert outbound == {
        ("10.30.0.0/16", *EPH),
        (ANY, 443, 443),
        *((c, p, p) for p in (5432, 6379, 2049) for c in private),
    }
    public_out = {
        (cidr, low, high)
        for direction, _, cidr, low, high in acl_entries("mycandidate", env, "public")
        if direction == "out"
    }
    assert public_out == {(ANY, *EPH), (ANY, 443, 443), *((c, 5000, 5000) for c in private)}
    # Rule numbers per direction are 100, 110, ... without gaps or duplicates.
    for direction in ("in", "out"):
        numbers = sorted(n for d, n, *_ in entries if d == direction)
        assert numbers == list(range(100, 100 + 10 * len(numbers), 10))


def test_isolated_tier_takes_the_data_ports_and_private_sends_them_there(params_copy):
    """A profile with isolated subnets: the data ports leave the private ACL's inbound rules and
    go to the isolated ACL, from the private subnets (and from the isolated ones: proxy, replication)."""
    import yaml

    base = params_copy / "mycandidate" / "base.yaml"
    data = yaml.safe_load(base.read_text())
    data["network"]["isolated_subnets"] = ["10.30.20.0/24", "10.30.21.0/24", "10.30.22.0/24"]
    data["network"]["interface_endpoints"] = ["secretsmanager"]
    base.write_text(yaml.safe_dump(data))
    from templates.network import nacl_rules

    cfg = load_config("mycandidate", "dev", params_copy)
    rules = nacl_rules(cfg)
    isolated_in = {(r.cidr, r.ports) for r in rules["isolated"] if not r.egress}
    assert ("10.30.10.0/24", (5432, 5432)) in isolated_in and ("10.30.20.0/24", (6379, 6379)) in isolated_in
    assert not any(r.ports == (5432, 5432) for r in rules["private"] if not r.egress)
    assert {(r.cidr, r.ports) for r in rules["private"] if r.egress and r.ports == (5432, 5432)} == {
        (c, (5432, 5432)) for c in data["network"]["isolated_subnets"]
    }
    assert ("10.30.0.0/16", (443, 443)) in {
        (r.cidr, r.ports) for r in rules["isolated"] if r.egress
    }  # proxy -> Secrets Manager endpoint
    assert render(cfg).files["network.json"]


def test_too_many_acl_rules_is_a_params_error(params_copy):
    import yaml

    from templates.errors import ConfigError

    base = params_copy / "mycandidate" / "base.yaml"
    data = yaml.safe_load(base.read_text())
    data["services"].update(
        {
            f"svc{i}": {**data["services"]["web"], "port": 6000 + i, "priority": 100 + i, "path_patterns": [f"/s{i}/*"]}
            for i in range(4)
        }
    )
    data["services"]["web"].pop("efs_mount_path", None)
    base.write_text(yaml.safe_dump(data))
    with pytest.raises(
        ConfigError, match=r"network\.nacls: the private subnets' ACL needs 2\d inbound rules, over the VPC quota of 20"
    ):
        load_config("mycandidate", "dev", params_copy)


def test_profiles_without_nacls_keep_the_default_acl():
    for app, env in ALL_TARGETS:
        if app in ("ecs-ec2-api", "mycandidate"):
            continue
        assert not resources(template(app, env, "network"), "AWS::EC2::NetworkAcl"), (app, env)


# ------------------------------------------------------------------ CloudTrail


@pytest.mark.parametrize("env", ["dev", "prod"])
def test_mycandidate_trail_validated_multi_region_encrypted_to_a_private_versioned_bucket(env):
    doc = template("mycandidate", env, "audit")
    _, trail = one(doc, "AWS::CloudTrail::Trail")
    props = trail["Properties"]
    assert props["TrailName"] == f"trail-mc-{env}"
    assert (
        props["IsLogging"],
        props["EnableLogFileValidation"],
        props["IsMultiRegionTrail"],
        props["IncludeGlobalServiceEvents"],
    ) == (True, True, True, True)
    assert props["S3BucketName"] == {"Ref": "TrailBucket"}
    assert props["KMSKeyId"] == {"Fn::GetAtt": ["TrailKey", "Arn"]}
    assert trail["DependsOn"] == ["TrailBucketPolicy"]  # CloudTrail checks the policy on create

    bucket = doc["Resources"]["TrailBucket"]["Properties"]
    assert bucket["PublicAccessBlockConfiguration"] == {
        "BlockPublicAcls": True,
        "BlockPublicPolicy": True,
        "IgnorePublicAcls": True,
        "RestrictPublicBuckets": True,
    }
    assert bucket["VersioningConfiguration"] == {"Status": "Enabled"}
    assert bucket["BucketEncryption"]["ServerSideEncryptionConfiguration"][0]["ServerSideEncryptionByDefault"] == {
        "SSEAlgorithm": "AES256"
    }
    assert bucket["OwnershipControls"]["Rules"] == [{"ObjectOwnership": "BucketOwnerEnforced"}]
    expire = {r["Id"]: r for r in bucket["LifecycleConfiguration"]["Rules"]}
    assert expire["expire-trail-logs"]["ExpirationInDays"] == 365

    source = {
        "Fn::Sub": f"arn:${{AWS::Partition}}:cloudtrail:${{AWS::Region}}:${{AWS::AccountId}}:trail/trail-mc-{env}"
    }
    statements = {
        s["Sid"]: s for s in doc["Resources"]["TrailBucketPolicy"]["Properties"]["PolicyDocument"]["Statement"]
    }
    acl = statements["CloudTrailAclCheck"]
    assert (acl["Principal"], acl["Action"], acl["Resource"]) == (
        {"Service": "cloudtrail.amazonaws.com"},
        ["s3:GetBucketAcl"],
        [{"Fn::GetAtt": ["TrailBucket", "Arn"]}],
    )
    assert acl["Condition"] == {"StringEquals": {"aws:SourceArn": source}}
    write = statements["CloudTrailWrite"]
    assert write["Action"] == ["s3:PutObject"]
    assert write["Resource"] == [
        {"Fn::Join": ["", [{"Fn::GetAtt": ["TrailBucket", "Arn"]}, "/AWSLogs/", {"Ref": "AWS::AccountId"}, "/*"]]}
    ]
    assert write["Condition"] == {
        "StringEquals": {"s3:x-amz-acl": "bucket-owner-full-control", "aws:SourceArn": source}
    }
    assert statements["DenyInsecureTransport"]["Effect"] == "Deny"

    key = {s["Sid"]: s for s in doc["Resources"]["TrailKey"]["Properties"]["KeyPolicy"]["Statement"]}
    encrypt = key["CloudTrailEncryptsLogs"]
    assert encrypt["Action"] == ["kms:GenerateDataKey*"]
    assert encrypt["Condition"]["StringEquals"] == {"aws:SourceArn": source}
    assert encrypt["Condition"]["StringLike"] == {
        "kms:EncryptionContext:aws:cloudtrail:arn": {
            "Fn::Sub": "arn:${AWS::Partition}:cloudtrail:*:${AWS::AccountId}:trail/*"
        }
    }
    assert doc["Resources"]["TrailKey"]["Properties"]["EnableKeyRotation"] is True


def test_only_mycandidate_has_a_trail():
    assert {(app, env) for app, env in ALL_TARGETS if "audit.json" in rendered(app, env).files} == {
        ("mycandidate", "dev"),
        ("mycandidate", "prod"),
    }


# ------------------------------------------------------------------ SMS


def test_alarm_sms_numbers_become_sms_subscriptions(params_copy):
    import yaml

    path = params_copy / "smart-task" / "dev.yaml"
    data = yaml.safe_load(path.read_text()) or {}
    data["observability"] = {"alarm_sms": ["+15555550100", "+15555550101"]}
    path.write_text(yaml.safe_dump(data))
    import json

    doc = json.loads(render(load_config("smart-task", "dev", params_copy)).files["observability.json"])
    subs = {
        k: v["Properties"]
        for k, v in resources(doc, "AWS::SNS::Subscription").items()
        if v["Properties"]["Protocol"] == "sms"
    }
    assert subs == {
        "AlarmSmsSubscription1": {"TopicArn": {"Ref": "AlarmTopic"}, "Protocol": "sms", "Endpoint": "+15555550100"},
        "AlarmSmsSubscription2": {"TopicArn": {"Ref": "AlarmTopic"}, "Protocol": "sms", "Endpoint": "+15555550101"},
    }


def test_no_profile_ships_a_phone_number():
    for app, env in ALL_TARGETS:
        assert load_config(app, env, REPO_PARAMS).observability.alarm_sms == [], (app, env)


# ------------------------------------------------------------------ emulator


@pytest.mark.parametrize(
    ("app", "region"), [("ecs-ec2-api", "us-east-1"), ("mycandidate", "us-east-1"), ("smart-task", "us-east-1")]
)
def test_profiles_with_acls_and_trail_deploy_locally(aws_env, tmp_path, app, region):
    bucket = "cfn-strata-seed-gaps"
    session = boto3.Session(region_name=region)
    session.client("s3", endpoint_url=aws_env).create_bucket(Bucket=bucket)
    args = [
        "deploy",
        app,
        "--yes",
        "--env",
        "dev",
        "--endpoint-url",
        aws_env,
        "--bucket",
        bucket,
        "--out",
        str(tmp_path / "dist"),
        "--params",
        str(REPO_PARAMS),
        "--skip-lint",
    ]
    result = CliRunner().invoke(generate.cli, args, catch_exceptions=False)
    assert result.exit_code == 0, result.output
    name = f"{app}-{load_config(app, 'dev', REPO_PARAMS).suffix}"
    assert f"CREATE_COMPLETE: {name}" in result.output
    cfn = session.client("cloudformation", endpoint_url=aws_env)
    assert cfn.describe_stacks(StackName=name)["Stacks"][0]["StackStatus"] == "CREATE_COMPLETE"


# ------------------------------------------------------------------ seed 002: rotated database secret


@pytest.mark.parametrize("env", ["dev", "prod"])
def test_smart_task_master_password_is_rds_managed_and_every_reader_is_wired(env):
    data = template("smart-task", env, "data")
    props = data["Resources"]["Database"]["Properties"]
    assert props["ManageMasterUserPassword"] is True
    assert props["MasterUserSecret"] == {"KmsKeyId": {"Ref": "KmsKeyArn"}}
    assert props["MasterUsername"] == "app_admin"
    assert "MasterUserPassword" not in props
    secret = {"Fn::GetAtt": ["Database", "MasterUserSecret.SecretArn"]}
    assert data["Outputs"]["DatabaseSecretArn"]["Value"] == secret
    assert not resources(data, "AWS::SecretsManager::SecretTargetAttachment")  # RDS owns the secret
    assert "DatabaseSecretArn" not in data["Parameters"]
    policy = data["Resources"]["DatabaseSecretReadPolicy"]["Properties"]
    assert policy["Roles"] == [{"Ref": "TaskExecutionRoleName"}, {"Ref": "ServiceBackendTaskRoleName"}]
    read, decrypt = policy["PolicyDocument"]["Statement"]
    assert (read["Action"], read["Resource"]) == (
        ["secretsmanager:GetSecretValue", "secretsmanager:DescribeSecret"],
        [secret],
    )
    assert decrypt["Condition"] == {
        "StringEquals": {"kms:ViaService": {"Fn::Sub": "secretsmanager.${AWS::Region}.amazonaws.com"}}
    }

    security = template("smart-task", env, "security")
    assert not resources(security, "AWS::SecretsManager::Secret")
    assert "DatabaseSecretArn" not in security["Outputs"]
    assert {"TaskExecutionRoleName", "ServiceBackendTaskRoleName"} <= set(security["Outputs"])

    compute = template("smart-task", env, "compute")
    injected = {
        s["Name"]: s["ValueFrom"]
        for s in compute["Resources"]["ServiceBackendTaskDefinition"]["Properties"]["ContainerDefinitions"][0][
            "Secrets"
        ]
    }
    assert injected == {
        "DB_PASSWORD": {"Fn::Join": ["", [{"Ref": "DatabaseSecretArn"}, ":password::"]]},
        "DB_USERNAME": {"Fn::Join": ["", [{"Ref": "DatabaseSecretArn"}, ":username::"]]},
    }
    root = template("smart-task", env, "root")
    assert root["Resources"]["ComputeStack"]["Properties"]["Parameters"]["DatabaseSecretArn"] == {
        "Fn::GetAtt": ["DataStack", "Outputs.DatabaseSecretArn"]
    }
    assert root["Resources"]["DataStack"]["Properties"]["Parameters"]["TaskExecutionRoleName"] == {
        "Fn::GetAtt": ["SecurityStack", "Outputs.TaskExecutionRoleName"]
    }


def test_other_profiles_keep_the_security_layers_generated_secret():
    for app, env in ALL_TARGETS:
        if app == "smart-task" or "data.json" not in rendered(app, env).files:
            continue
        data = template(app, env, "data")
        if "DatabaseSecretArn" in data.get("Parameters", {}):
            assert resources(data, "AWS::SecretsManager::SecretTargetAttachment"), (app, env)
            assert not any(
                "ManageMasterUserPassword" in r["Properties"]
                for r in data["Resources"].values()
                if r["Type"] in ("AWS::RDS::DBInstance", "AWS::RDS::DBCluster")
            ), (app, env)


def test_managed_password_on_aurora_with_proxy_feeds_the_proxy_the_managed_secret(params_copy):
    import json

    import yaml

    base = params_copy / "product-catalog" / "base.yaml"
    data = yaml.safe_load(base.read_text())
    data["database"] |= {"managed_master_password": True, "proxy": True}
    base.write_text(yaml.safe_dump(data))
    doc = json.loads(render(load_config("product-catalog", "dev", params_copy)).files["data.json"])
    cluster = doc["Resources"]["DatabaseCluster"]["Properties"]
    assert (cluster["ManageMasterUserPassword"], cluster["MasterUserSecret"]) == (
        True,
        {"KmsKeyId": {"Ref": "KmsKeyArn"}},
    )
    secret = {"Fn::GetAtt": ["DatabaseCluster", "MasterUserSecret.SecretArn"]}
    proxy = doc["Resources"]["DatabaseProxy"]["Properties"]
    assert proxy["Auth"][0]["SecretArn"] == secret
    (statement, _) = doc["Resources"]["DatabaseProxyRole"]["Properties"]["Policies"][0]["PolicyDocument"]["Statement"]
    assert statement["Resource"] == [secret]


def test_managed_password_with_rds_read_replicas_is_refused(params_copy):
    import yaml

    from templates.errors import ConfigError

    base = params_copy / "mycandidate" / "base.yaml"
    data = yaml.safe_load(base.read_text())
    data["database"]["managed_master_password"] = True
    base.write_text(yaml.safe_dump(data))
    with pytest.raises(
        ConfigError,
        match=r"database\.managed_master_password: RDS cannot create read replicas .*database\.replicas is 1",
    ):
        load_config("mycandidate", "dev", params_copy)

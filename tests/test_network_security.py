"""Seed values of the network and security layers, per profile, read from the generated JSON."""

from __future__ import annotations

import json

import pytest

from tests.conftest import ALL_TARGETS, one, resources, template


def _subnet_cidrs(app: str, env: str, kind: str) -> list[str]:
    subnets = resources(template(app, env, "network"), "AWS::EC2::Subnet")
    return [s["Properties"]["CidrBlock"] for lid, s in sorted(subnets.items()) if lid.startswith(kind.capitalize())]


@pytest.mark.parametrize("app", ["product-catalog", "ecs-ec2-api"])
@pytest.mark.parametrize("env", ["dev", "prod"])
def test_explicit_cidrs_of_seeds_001_and_004(app, env):
    _, vpc = one(template(app, env, "network"), "AWS::EC2::VPC")
    assert vpc["Properties"]["CidrBlock"] == "10.0.0.0/16"
    assert vpc["Properties"]["EnableDnsSupport"] is True
    assert vpc["Properties"]["EnableDnsHostnames"] is True
    assert _subnet_cidrs(app, env, "public") == ["10.0.1.0/24", "10.0.2.0/24"]
    assert _subnet_cidrs(app, env, "private") == ["10.0.3.0/24", "10.0.4.0/24"]


@pytest.mark.parametrize("env", ["dev", "prod"])
def test_mycandidate_spreads_over_three_azs(env):
    network = template("mycandidate", env, "network")
    subnets = resources(network, "AWS::EC2::Subnet")
    public = [s for lid, s in sorted(subnets.items()) if lid.startswith("Public")]
    assert len(public) == 3 and len(subnets) == 6
    assert [s["Properties"]["AvailabilityZone"]["Fn::Select"][0] for s in public] == [0, 1, 2]


@pytest.mark.parametrize(
    ("app", "env", "nat_count"),
    [
        ("product-catalog", "dev", 1),  # seed 004: "NAT Gateway: Shared across AZs"
        ("product-catalog", "prod", 1),
        ("ecs-ec2-api", "dev", 1),
        ("ecs-ec2-api", "prod", 2),  # prod is per AZ unless the seed says otherwise
        ("mycandidate", "dev", 1),
        ("mycandidate", "prod", 3),
    ],
)
def test_nat_mode_per_environment(app, env, nat_count):
    network = template(app, env, "network")
    assert len(resources(network, "AWS::EC2::NatGateway")) == nat_count
    routes = resources(network, "AWS::EC2::Route")
    private_routes = [r for lid, r in routes.items() if lid.startswith("PrivateDefaultRoute")]
    assert len(private_routes) == len(_subnet_cidrs(app, env, "private"))
    assert len({str(r["Properties"]["NatGatewayId"]) for r in private_routes}) == nat_count


def test_flow_logs_and_s3_endpoint():
    network = template("product-catalog", "dev", "network")
    _, group = one(network, "AWS::Logs::LogGroup")
    assert group["Properties"]["RetentionInDays"] == 7  # seed 004: 7-day retention for every log group
    assert "KmsKeyId" in group["Properties"]
    _, flow = one(network, "AWS::EC2::FlowLog")
    assert flow["Properties"]["TrafficType"] == "ALL"
    _, endpoint = one(network, "AWS::EC2::VPCEndpoint")
    assert endpoint["Properties"]["VpcEndpointType"] == "Gateway"
    assert len(endpoint["Properties"]["RouteTableIds"]) == 2


def _rules(doc: dict, type_: str, group: str) -> list[dict]:
    """Rules between groups (conditional rules to the internet are checked on their own)."""
    return [
        r["Properties"]
        for r in resources(doc, type_).values()
        if r["Properties"]["GroupId"] == {"Fn::GetAtt": [group, "GroupId"]} and "Condition" not in r
    ]


@pytest.mark.parametrize("env", ["dev", "prod"])
def test_seed_004_security_group_chain_is_exact(env):
    sec = template("product-catalog", env, "security")
    groups = resources(sec, "AWS::EC2::SecurityGroup")
    assert sorted(groups) == ["AlbSecurityGroup", "DatabaseSecurityGroup", "ServiceApiSecurityGroup"]

    alb = groups["AlbSecurityGroup"]["Properties"]
    # Seed 004 opens 80 to the internet; CloudFront fronts this ALB, so only CloudFront's
    # origin-facing prefix list (eu-north-1) may reach it, on the port CloudFront uses (README departures).
    assert [(r["FromPort"], r["ToPort"], r["SourcePrefixListId"]) for r in alb["SecurityGroupIngress"]] == [
        (80, 80, "pl-fab65393")
    ]
    assert "AlbSecurityGroupHttpsIngress" not in sec["Resources"]
    assert [
        (r["FromPort"], r["DestinationSecurityGroupId"])
        for r in _rules(sec, "AWS::EC2::SecurityGroupEgress", "AlbSecurityGroup")
    ] == [(3000, {"Fn::GetAtt": ["ServiceApiSecurityGroup", "GroupId"]})]

    assert [
        (r["FromPort"], r["SourceSecurityGroupId"])
        for r in _rules(sec, "AWS::EC2::SecurityGroupIngress", "ServiceApiSecurityGroup")
    ] == [(3000, {"Fn::GetAtt": ["AlbSecurityGroup", "GroupId"]})]
    assert [
        (r["FromPort"], r["DestinationSecurityGroupId"])
        for r in _rules(sec, "AWS::EC2::SecurityGroupEgress", "ServiceApiSecurityGroup")
    ] == [(5432, {"Fn::GetAtt": ["DatabaseSecurityGroup", "GroupId"]})]

    db = groups["DatabaseSecurityGroup"]["Properties"]
    assert db.get("SecurityGroupIngress", []) == []
    assert [
        (r["FromPort"], r["SourceSecurityGroupId"])
        for r in _rules(sec, "AWS::EC2::SecurityGroupIngress", "DatabaseSecurityGroup")
    ] == [(5432, {"Fn::GetAtt": ["ServiceApiSecurityGroup", "GroupId"]})]
    # "Outbound: None": the only inline rule is the match-nothing rule that removes the default.
    assert db["SecurityGroupEgress"] == [
        {
            "CidrIp": "255.255.255.255/32",
            "Description": "Disallow all traffic",
            "FromPort": 252,
            "IpProtocol": "icmp",
            "ToPort": 86,
        }
    ]
    assert _rules(sec, "AWS::EC2::SecurityGroupEgress", "DatabaseSecurityGroup") == []


def test_no_group_is_open_to_the_internet_except_the_load_balancer():
    for app, env in ALL_TARGETS:
        for lid, group in resources(template(app, env, "security"), "AWS::EC2::SecurityGroup").items():
            open_rules = [r for r in group["Properties"].get("SecurityGroupIngress", []) if "0.0.0.0/0" in str(r)]
            assert not open_rules or lid == "AlbSecurityGroup", (app, env, lid)
        for lid, rule in resources(template(app, env, "security"), "AWS::EC2::SecurityGroupIngress").items():
            if "CidrIp" in rule["Properties"]:
                assert rule["Properties"]["GroupId"] == {"Fn::GetAtt": ["AlbSecurityGroup", "GroupId"]}, (app, env, lid)
                assert rule["Properties"]["FromPort"] in (80, 443)


def test_mycandidate_chain_goes_through_proxy_cache_and_efs():
    sec = template("mycandidate", "prod", "security")
    ingress = {
        (r["GroupId"]["Fn::GetAtt"][0], r["FromPort"], r["SourceSecurityGroupId"]["Fn::GetAtt"][0])
        for r in (x["Properties"] for x in resources(sec, "AWS::EC2::SecurityGroupIngress").values())
        if "SourceSecurityGroupId" in r
    }
    assert ingress == {
        ("ServiceWebSecurityGroup", 5000, "AlbSecurityGroup"),
        ("ProxySecurityGroup", 5432, "ServiceWebSecurityGroup"),
        ("DatabaseSecurityGroup", 5432, "ProxySecurityGroup"),
        (
            "DatabaseSecurityGroup",
            5432,
            "ServiceWebSecurityGroup",
        ),  # the read replica (the proxy fronts the primary only)
        ("CacheSecurityGroup", 6379, "ServiceWebSecurityGroup"),
        ("EfsSecurityGroup", 2049, "ServiceWebSecurityGroup"),
    }


@pytest.mark.parametrize(
    ("env", "window", "policies"), [("dev", 0, ("Delete", "Delete")), ("prod", 30, ("RetainExceptOnCreate", "Retain"))]
)
def test_seed_004_secret_recovery_window(env, window, policies):
    _, secret = one(template("product-catalog", env, "security"), "AWS::SecretsManager::Secret")
    assert secret["Metadata"]["cfn-strata"]["RecoveryWindowInDays"] == window
    assert (secret["DeletionPolicy"], secret["UpdateReplacePolicy"]) == policies
    generated = secret["Properties"]["GenerateSecretString"]
    assert generated["GenerateStringKey"] == "password" and generated["PasswordLength"] == 32
    # seed 004's convention {resource-type}-{environment_suffix}
    assert secret["Properties"]["Name"] == ("db-credentials-pr5706" if env == "dev" else "db-credentials-catalog-prod")


def test_seed_004_task_role_reads_only_its_secret():
    sec = template("product-catalog", "dev", "security")
    role = sec["Resources"]["ServiceApiTaskRole"]["Properties"]
    statements = role["Policies"][0]["PolicyDocument"]["Statement"]
    assert statements[0]["Action"] == ["secretsmanager:GetSecretValue", "secretsmanager:DescribeSecret"]
    assert statements[0]["Resource"] == [{"Ref": "DatabaseSecret"}]
    assert role["RoleName"] == "ecs-task-api-pr5706"


def test_kms_key_rotates():
    for app, env in ALL_TARGETS:
        _, key = one(template(app, env, "security"), "AWS::KMS::Key")
        assert key["Properties"]["EnableKeyRotation"] is True


# CloudFront's origin-facing prefix list of us-east-1 (templates/config.py, with its source).
US_EAST_1_CLOUDFRONT = "pl-3b927c52"


@pytest.mark.parametrize(("app", "env"), ALL_TARGETS)
def test_a_load_balancer_behind_cloudfront_admits_only_cloudfront(app, env):
    from tests.conftest import rendered

    cfg = rendered(app, env).cfg
    sec, edge = template(app, env, "security"), template(app, env, "edge")
    ingress = sec["Resources"]["AlbSecurityGroup"]["Properties"]["SecurityGroupIngress"]
    standalone = [
        r["Properties"]
        for doc in (sec, edge)
        for r in resources(doc, "AWS::EC2::SecurityGroupIngress").values()
        if json.dumps(r["Properties"]["GroupId"])
        in ('{"Fn::GetAtt": ["AlbSecurityGroup", "GroupId"]}', '{"Ref": "AlbSecurityGroupId"}')
    ]
    if app in ("smart-task", "mycandidate", "product-catalog"):
        assert cfg.edge.cloudfront_fronts_alb
        expected = "pl-fab65393" if app == "product-catalog" else US_EAST_1_CLOUDFRONT
        # One rule: the prefix list weighs ~55 of the group's 60 inbound rules.
        assert [(r["IpProtocol"], r["FromPort"], r["ToPort"], r["SourcePrefixListId"]) for r in ingress] == [
            ("tcp", 80, 80, expected)
        ]
        assert "0.0.0.0/0" not in json.dumps(ingress + standalone)
        # besides CloudFront, only a blue/green test listener, from inside the VPC (1 rule of the 60)
        blue_green = any(svc.deployment == "blue_green" for svc in cfg.services.values())
        assert [(r["FromPort"], r["CidrIp"]) for r in standalone] == (
            [(8080, {"Ref": "VpcCidr"})] if blue_green else []
        )
    else:
        assert not cfg.edge.cloudfront_fronts_alb
        assert [(r["FromPort"], r["CidrIp"]) for r in ingress] == [(80, "0.0.0.0/0")]
        assert "SourcePrefixListId" not in json.dumps(ingress)


@pytest.mark.parametrize(("app", "env"), ALL_TARGETS)
def test_every_taggable_resource_carries_the_profile_tags(app, env):
    from cfnlint.schema import PROVIDER_SCHEMA_MANAGER

    from tests.conftest import rendered

    cfg = rendered(app, env).cfg
    expected = cfg.all_tags
    for layer in ("network", "security"):
        for lid, resource in template(app, env, layer)["Resources"].items():
            # taggable per the resource provider schema cfn-lint ships: then it must carry the tags
            schema = PROVIDER_SCHEMA_MANAGER.get_resource_schema(cfg.region, resource["Type"]).schema
            taggable = "Tags" in schema.get("properties", {}) and schema.get("tagging", {}).get("taggable", True)
            tags = resource.get("Properties", {}).get("Tags")
            if not taggable:
                assert tags is None, (layer, lid)
                continue
            assert tags is not None, f"{layer}: {lid} ({resource['Type']}) is taggable and carries no tags"
            as_dict = {t["Key"]: t["Value"] for t in tags}
            for key, value in expected.items():
                assert as_dict.get(key) == value, (layer, lid, key)


def test_seed_004_tags_and_names():
    network = template("product-catalog", "prod", "network")
    _, vpc = one(network, "AWS::EC2::VPC")
    tags = {t["Key"]: t["Value"] for t in vpc["Properties"]["Tags"]}
    assert tags == {
        "Environment": "production",
        "Project": "catalog-api",
        "EnvironmentSuffix": "catalog-prod",
        "Name": "vpc-catalog-prod",
    }
    sec = template("product-catalog", "dev", "security")
    # EC2 refuses group names starting with sg- (CreateSecurityGroup, GroupName)
    assert sec["Resources"]["AlbSecurityGroup"]["Properties"]["GroupName"] == "security-group-alb-pr5706"
    assert sec["Resources"]["ServiceApiSecurityGroup"]["Properties"]["GroupName"] == "security-group-service-api-pr5706"


@pytest.mark.parametrize(("app", "env"), ALL_TARGETS)
def test_root_wires_outputs_into_parameters(app, env):
    root = template(app, env, "root")
    stacks = resources(root, "AWS::CloudFormation::Stack")
    assert stacks["NetworkStack"]["Properties"]["TemplateURL"] == "network.json"
    assert stacks["SecurityStack"]["Properties"]["Parameters"]["VpcId"] == {
        "Fn::GetAtt": ["NetworkStack", "Outputs.VpcId"]
    }
    # a knob of a layer is re-exposed on the root and passed by Ref
    assert stacks["EdgeStack"]["Properties"]["Parameters"]["CertificateArn"] == {"Ref": "CertificateArn"}
    assert "CertificateArn" in root["Parameters"]


@pytest.mark.parametrize(("app", "env"), ALL_TARGETS)
def test_console_launch_metadata_covers_every_parameter(app, env):
    from tests.conftest import rendered

    for file in rendered(app, env).files:
        if file == "manifest.json":
            continue
        doc = template(app, env, file.removesuffix(".json"))
        parameters = doc.get("Parameters", {})
        if not parameters:
            continue
        interface = doc["Metadata"]["AWS::CloudFormation::Interface"]
        grouped = [p for g in interface["ParameterGroups"] for p in g["Parameters"]]
        assert sorted(grouped) == sorted(parameters), file
        assert sorted(interface["ParameterLabels"]) == sorted(parameters), file
        for name, parameter in parameters.items():
            assert parameter.get("Description"), (file, name)
            constraints = {"AllowedValues", "AllowedPattern", "MinValue", "MaxValue", "MinLength", "MaxLength"}
            assert constraints & parameter.keys() or parameter["Type"].startswith(("AWS::", "List<AWS::")), (file, name)


def test_read_replicas_behind_rds_proxy_are_reachable_from_the_services():
    """mycandidate (seed 003): RDS Proxy fronts the primary only, so the app reads its replica
    directly: service -> database group on 5432, besides service -> proxy."""
    security = template("mycandidate", "prod", "security")["Resources"]
    ingress = security["DatabaseSecurityGroupFromServiceWebIngress"]["Properties"]
    assert (ingress["FromPort"], ingress["ToPort"], ingress["SourceSecurityGroupId"]) == (
        5432,
        5432,
        {"Fn::GetAtt": ["ServiceWebSecurityGroup", "GroupId"]},
    )
    assert security["ServiceWebSecurityGroupToDatabaseEgress"]["Properties"]["FromPort"] == 5432
    assert "ServiceWebSecurityGroupToProxyEgress" in security


# ------------------------------------------------------------------ issue 13: names AWS accepts,
# descriptions that never change


def _security_groups(app: str, env: str, params=None) -> dict[tuple[str, str], dict]:
    """{(template file, logical id): properties} of every security group of a profile."""
    import json

    from templates.params import load_config
    from templates.render import render

    files = render(load_config(app, env, params)).files if params else rendered_files(app, env)
    return {
        (file, lid): res["Properties"]
        for file, body in sorted(files.items())
        if file != "manifest.json"
        for lid, res in json.loads(body).get("Resources", {}).items()
        if res["Type"] == "AWS::EC2::SecurityGroup"
    }


def rendered_files(app: str, env: str) -> dict[str, bytes]:
    from tests.conftest import rendered

    return rendered(app, env).files


@pytest.mark.parametrize(("app", "env"), ALL_TARGETS)
def test_every_security_group_name_is_one_ec2_accepts(app, env):
    from templates.naming import name_problem

    named = {key: p["GroupName"] for key, p in _security_groups(app, env).items() if "GroupName" in p}
    assert named, "the security layer names its groups"
    for key, name in named.items():
        # EC2 CreateSecurityGroup: GroupName "can't start with sg-", at most 255 characters
        assert not name.lower().startswith("sg-"), key
        assert name.startswith("security-group-") and name.endswith(f"-{load_suffix(app, env)}"), key
        assert name_problem("security-group", name) is None, key


def load_suffix(app: str, env: str) -> str:
    from templates.params import REPO_PARAMS, load_config

    return load_config(app, env, REPO_PARAMS).suffix


def test_the_reserved_prefix_and_the_limits_of_a_group_name():
    from templates.naming import name_problem

    assert "starts with 'sg-'" in name_problem("security-group", "sg-alb-pr5706")
    assert "starts with 'sg-'" in name_problem("security-group", "SG-alb-pr5706")  # names are case-insensitive
    assert "at most 255" in name_problem("security-group", "a" * 256)
    assert "not a valid" in name_problem("security-group", "alb|pr5706")
    assert name_problem("security-group", "security-group-alb-pr5706") is None


def test_a_group_name_aws_refuses_is_a_params_error(monkeypatch):
    """semantic_problems checks every group name the generator emits: with a kind that made names
    start with sg- (the old convention), loading the profile fails with the key that names it."""
    from templates import security
    from templates.errors import ConfigError
    from templates.params import REPO_PARAMS, load_config

    monkeypatch.setattr(security, "SECURITY_GROUP", "sg")
    with pytest.raises(ConfigError) as refused:
        load_config("product-catalog", "dev", REPO_PARAMS)
    assert "starts with 'sg-'" in str(refused.value) and "security group name" in str(refused.value)


@pytest.mark.parametrize("app", ["product-catalog", "smart-task", "mycandidate", "product-management", "ecs-ec2-api"])
def test_a_changed_service_port_leaves_every_group_name_and_description_byte_identical(app, params_copy):
    """GroupName and GroupDescription are create-only and the groups are custom-named: if a port
    change rewrote either, CloudFormation would have to replace a custom-named group, which it refuses."""
    import yaml

    before = _security_groups(app, "prod", params_copy)
    base = params_copy / app / "base.yaml"
    document = yaml.safe_load(base.read_text())
    for service in document["services"].values():
        service["port"] = 9000 + service["port"] % 1000
    base.write_text(yaml.safe_dump(document, sort_keys=False))
    after = _security_groups(app, "prod", params_copy)
    assert sorted(before) == sorted(after)
    for key in before:
        assert before[key]["GroupName"] == after[key]["GroupName"], key
        assert before[key]["GroupDescription"] == after[key]["GroupDescription"], key
    # the port did change where it belongs (the rules), so this test would see a description that carried it
    security = [p for (file, _), p in after.items() if file == "security.json"]
    assert security and all(
        str(port) not in p["GroupDescription"] for p in security for port in (9000, 9080, 9500, 8080, 5000, 3000)
    )


def test_the_proxy_reaches_secrets_manager_over_https():
    """RDS Proxy reads the database secret from Secrets Manager from its own network interfaces."""
    sec = template("mycandidate", "prod", "security")
    egress = sec["Resources"]["ProxySecurityGroup"]["Properties"]["SecurityGroupEgress"]
    assert {
        "IpProtocol": "tcp",
        "FromPort": 443,
        "ToPort": 443,
        "CidrIp": "0.0.0.0/0",
        "Description": "HTTPS to Secrets Manager (the proxy reads the database secret)",
    } in egress
    # and to the database port, as before
    out = sec["Resources"]["ProxySecurityGroupToDatabaseEgress"]["Properties"]
    assert (out["FromPort"], out["DestinationSecurityGroupId"]) == (
        5432,
        {"Fn::GetAtt": ["DatabaseSecurityGroup", "GroupId"]},
    )


def test_a_proxy_in_isolated_subnets_needs_the_secrets_manager_endpoint(params_copy):
    import yaml

    from templates.errors import ConfigError
    from templates.params import load_config

    base = params_copy / "mycandidate" / "base.yaml"
    document = yaml.safe_load(base.read_text())
    document["network"]["isolated_subnets"] = ["10.30.20.0/24", "10.30.21.0/24", "10.30.22.0/24"]
    base.write_text(yaml.safe_dump(document, sort_keys=False))
    with pytest.raises(ConfigError) as refused:
        load_config("mycandidate", "prod", params_copy)
    assert "database.proxy" in str(refused.value) and "secretsmanager" in str(refused.value)
    document["network"]["interface_endpoints"] = ["secretsmanager"]
    base.write_text(yaml.safe_dump(document, sort_keys=False))
    assert load_config("mycandidate", "prod", params_copy).database.proxy

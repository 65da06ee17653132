"""Least privilege and wiring, read from the generated JSON of every profile: exactly which rules
admit traffic from the internet (the exact CIDR, port and group), exactly which security groups
reach the database, and exactly which subnets each consumer of a network output ends up in
(the root's wire, the network layer's output and the consumer's use, followed end to end)."""

from __future__ import annotations

import json

import pytest

from tests.conftest import ALL_TARGETS, rendered, resources

INTERNET = ("0.0.0.0/0", "::/0")


def documents(app: str, env: str) -> dict[str, dict]:
    """{file: parsed template} of every template of the profile (root included)."""
    return {name: json.loads(body) for name, body in rendered(app, env).files.items() if name != "manifest.json"}


def _group(value) -> str:
    """The logical id (GetAtt X.GroupId / Ref X) or parameter name a rule's group points at."""
    if isinstance(value, dict):
        if "Fn::GetAtt" in value:
            return value["Fn::GetAtt"][0]
        if "Ref" in value:
            return value["Ref"]
    return json.dumps(value)


def _source(rule: dict):
    for key in ("CidrIp", "CidrIpv6", "SourcePrefixListId"):
        if key in rule:
            return (key, rule[key] if isinstance(rule[key], str) else json.dumps(rule[key], sort_keys=True))
    if "SourceSecurityGroupId" in rule:
        return ("group", _group(rule["SourceSecurityGroupId"]))
    return ("none", "")


def ingress_rules(app: str, env: str) -> list[tuple]:
    """Every ingress rule of every template: (file, group, protocol, from, to, source kind, source, condition)."""
    rules = []
    for file, doc in documents(app, env).items():
        for lid, group in resources(doc, "AWS::EC2::SecurityGroup").items():
            for rule in group["Properties"].get("SecurityGroupIngress", []):
                rules.append(
                    (
                        file,
                        lid,
                        rule["IpProtocol"],
                        rule.get("FromPort"),
                        rule.get("ToPort"),
                        *_source(rule),
                        group.get("Condition"),
                    )
                )
        for rule in resources(doc, "AWS::EC2::SecurityGroupIngress").values():
            p = rule["Properties"]
            rules.append(
                (
                    file,
                    _group(p["GroupId"]),
                    p["IpProtocol"],
                    p.get("FromPort"),
                    p.get("ToPort"),
                    *_source(p),
                    rule.get("Condition"),
                )
            )
    return sorted(rules, key=json.dumps)


@pytest.mark.parametrize(("app", "env"), ALL_TARGETS)
def test_only_the_public_load_balancer_admits_the_internet_on_its_listener_ports(app, env):
    cfg = rendered(app, env).cfg
    open_rules = [r for r in ingress_rules(app, env) if r[6] in INTERNET]
    if cfg.edge.cloudfront_fronts_alb:
        assert open_rules == []
    else:
        https = cfg.edge.alb.https_port
        assert open_rules == sorted(
            [
                ("security.json", "AlbSecurityGroup", "tcp", 80, 80, "CidrIp", "0.0.0.0/0", None),
                ("security.json", "AlbSecurityGroup", "tcp", https, https, "CidrIp", "0.0.0.0/0", "HasCertificate"),
            ],
            key=json.dumps,
        )


@pytest.mark.parametrize(("app", "env"), ALL_TARGETS)
def test_every_other_address_range_rule_is_the_vpc_itself(app, env):
    """Besides the internet-facing listener: the interface endpoints' group admits HTTPS from the
    VPC's own CIDR (network layer), a blue/green test listener port 8080 from the VPC (Ref VpcCidr)."""
    cfg = rendered(app, env).cfg
    ranges = [r for r in ingress_rules(app, env) if r[5] in ("CidrIp", "CidrIpv6") and r[6] not in INTERNET]
    expected = []
    if cfg.network.interface_endpoints:
        expected.append(
            ("network.json", "EndpointSecurityGroup", "tcp", 443, 443, "CidrIp", cfg.network.vpc_cidr, None)
        )
    if cfg.edge.cloudfront_fronts_alb and any(svc.deployment == "blue_green" for svc in cfg.services.values()):
        expected.append(("edge.json", "AlbSecurityGroupId", "tcp", 8080, 8080, "CidrIp", '{"Ref": "VpcCidr"}', None))
    assert sorted({r[:8] for r in ranges}, key=json.dumps) == sorted(expected, key=json.dumps)
    assert all(r[2] != "-1" for r in ingress_rules(app, env)), "an ingress rule for every protocol and port"


def test_the_interface_endpoints_group_admits_https_from_the_vpc_only():
    """No shipped profile asks for interface endpoints: one that does, built through the params model."""
    from templates import network
    from templates.config import AppConfig
    from templates.params import REPO_PARAMS, deep_merge, load_config
    from templates.render import serialize

    data = deep_merge(
        load_config("product-catalog", "dev", REPO_PARAMS).model_dump(),
        {"network": {"interface_endpoints": ["logs", "ecr.api"]}},
    )
    doc = json.loads(serialize(network.build(AppConfig.model_validate(data)).template))
    group = doc["Resources"]["EndpointSecurityGroup"]["Properties"]
    assert group["SecurityGroupIngress"] == [
        {
            "CidrIp": "10.0.0.0/16",
            "Description": "HTTPS from the VPC",
            "FromPort": 443,
            "IpProtocol": "tcp",
            "ToPort": 443,
        }
    ]
    assert group["SecurityGroupEgress"] == [{"CidrIp": "127.0.0.1/32", "Description": "No egress", "IpProtocol": "-1"}]
    endpoints = resources(doc, "AWS::EC2::VPCEndpoint")
    interface = {
        lid: e["Properties"] for lid, e in endpoints.items() if e["Properties"]["VpcEndpointType"] == "Interface"
    }
    assert sorted(interface) == ["EcrApiEndpoint", "LogsEndpoint"]
    for props in interface.values():
        assert props["SubnetIds"] == [{"Ref": "PrivateSubnet1"}, {"Ref": "PrivateSubnet2"}]
        assert props["SecurityGroupIds"] == [{"Ref": "EndpointSecurityGroup"}]
        assert props["PrivateDnsEnabled"] is True


@pytest.mark.parametrize(("app", "env"), ALL_TARGETS)
def test_egress_to_the_internet_is_https_only_from_tasks_instances_and_the_proxy(app, env):
    out = []
    for file, doc in documents(app, env).items():
        for lid, group in resources(doc, "AWS::EC2::SecurityGroup").items():
            for rule in group["Properties"].get("SecurityGroupEgress", []):
                if rule.get("CidrIp") in INTERNET or rule.get("CidrIpv6") in INTERNET:
                    out.append((lid, rule["IpProtocol"], rule["FromPort"], rule["ToPort"]))
        assert all(
            r["Properties"].get("CidrIp") not in INTERNET
            for r in resources(doc, "AWS::EC2::SecurityGroupEgress").values()
        ), file
    cfg = rendered(app, env).cfg
    groups = [f"Service{''.join(p.capitalize() for p in name.split('-'))}SecurityGroup" for name in cfg.services]
    if "EC2" in cfg.compute.capacity_providers:
        groups.append("InstanceSecurityGroup")
    if cfg.database and cfg.database.proxy:
        groups.append("ProxySecurityGroup")
    assert sorted(out) == sorted((g, "tcp", 443, 443) for g in groups)


# Which groups reach the data stores, per profile: only the services that hold the database's
# secret (seed documents), through the proxy where there is one; the replicas directly.
DATA_INGRESS = {
    "ecs-ec2-api": {("DatabaseSecurityGroup", "ServiceApiSecurityGroup")},
    "mycandidate": {
        ("DatabaseSecurityGroup", "ProxySecurityGroup"),
        ("DatabaseSecurityGroup", "ServiceWebSecurityGroup"),
        ("ProxySecurityGroup", "ServiceWebSecurityGroup"),
        ("CacheSecurityGroup", "ServiceWebSecurityGroup"),
        ("EfsSecurityGroup", "ServiceWebSecurityGroup"),
    },
    "platform-scale": set(),
    "product-catalog": {("DatabaseSecurityGroup", "ServiceApiSecurityGroup")},
    "product-management": {
        ("DatabaseSecurityGroup", "ServiceBackendSecurityGroup"),
        ("CacheSecurityGroup", "ServiceBackendSecurityGroup"),
    },
    "smart-task": {
        ("DatabaseSecurityGroup", "ServiceBackendSecurityGroup")
    },  # not the frontend: it holds no database secret
}
DATA_GROUPS = ("DatabaseSecurityGroup", "ProxySecurityGroup", "CacheSecurityGroup", "EfsSecurityGroup")


@pytest.mark.parametrize(("app", "env"), ALL_TARGETS)
def test_exactly_the_services_that_hold_the_secret_reach_the_database(app, env):
    cfg = rendered(app, env).cfg
    rules = [r for r in ingress_rules(app, env) if r[1] in DATA_GROUPS]
    expected = set(DATA_INGRESS[app])
    if app == "smart-task" and cfg.cache:
        expected.add(("CacheSecurityGroup", "ServiceBackendSecurityGroup"))
        expected.add(("CacheSecurityGroup", "ServiceFrontendSecurityGroup"))
    assert {(r[1], r[6]) for r in rules} == expected
    assert all(r[5] == "group" for r in rules), "a data store admits an address range"
    ports = {
        "DatabaseSecurityGroup": cfg.database.port if cfg.database else None,
        "ProxySecurityGroup": cfg.database.port if cfg.database else None,
        "CacheSecurityGroup": 6379,
        "EfsSecurityGroup": 2049,
    }
    assert [(r[1], r[3], r[4]) for r in rules] == [(r[1], ports[r[1]], ports[r[1]]) for r in rules]
    # each allowed source has the matching egress rule, and no other group has one to the data stores
    security = documents(app, env)["security.json"]
    egress = {
        (
            _group(r["Properties"]["DestinationSecurityGroupId"]),
            _group(r["Properties"]["GroupId"]),
            r["Properties"]["FromPort"],
        )
        for r in resources(security, "AWS::EC2::SecurityGroupEgress").values()
        if _group(r["Properties"]["DestinationSecurityGroupId"]) in DATA_GROUPS
    }
    assert egress == {(r[1], r[6], r[3]) for r in rules}


# ------------------------------------------------------------------ subnets, end to end

SUBNET_OF_CONSUMER = {
    # (file prefix, resource type) -> the kind of subnets it must sit in
    ("edge", "AWS::ElasticLoadBalancingV2::LoadBalancer"): "public",  # internet-facing
    ("edge", "AWS::ApiGatewayV2::VpcLink"): "private",
    ("compute", "AWS::ECS::Service"): "private",
    ("compute", "AWS::AutoScaling::AutoScalingGroup"): "public",  # seed 001's container instances (ecs-ec2-api)
    ("data", "AWS::RDS::DBSubnetGroup"): "data",
    ("data", "AWS::RDS::DBProxy"): "data",
    ("data", "AWS::ElastiCache::SubnetGroup"): "data",
    ("data", "AWS::EFS::MountTarget"): "private",
}


def _subnet_kinds(network: dict) -> dict[str, list[str]]:
    subnets = sorted(
        resources(network, "AWS::EC2::Subnet"),
        key=lambda lid: (lid.rstrip("0123456789"), int(lid[len(lid.rstrip("0123456789")) :] or 0)),
    )
    kinds = {
        kind: [lid for lid in subnets if lid.startswith(kind.capitalize())]
        for kind in ("public", "private", "isolated")
    }
    kinds["data"] = kinds["isolated"] or kinds["private"]
    return kinds


def _refs(value) -> list[str]:
    """Every Ref in a value, in order."""
    if isinstance(value, dict):
        if set(value) == {"Ref"}:
            return [value["Ref"]]
        return [r for v in value.values() for r in _refs(v)]
    if isinstance(value, list):
        return [r for v in value for r in _refs(v)]
    return []


@pytest.mark.parametrize(("app", "env"), ALL_TARGETS)
def test_every_consumer_of_subnets_gets_exactly_the_subnets_of_its_kind(app, env):
    docs = documents(app, env)
    network = docs["network.json"]
    kinds = _subnet_kinds(network)
    assert kinds["public"] and kinds["private"]
    # the network layer's outputs join exactly the subnets of their kind, in AZ order
    outputs = {name: _refs(o["Value"]) for name, o in network["Outputs"].items() if name.endswith("SubnetIds")}
    assert outputs["PublicSubnetIds"] == kinds["public"]
    assert outputs["PrivateSubnetIds"] == kinds["private"]
    assert outputs["DataSubnetIds"] == kinds["data"]
    # public subnets route to the internet gateway, the others do not
    file_of = {s["logical_id"]: s["file"] for s in rendered(app, env).manifest["stacks"]}
    seen = set()
    for stack_id, stack in resources(docs["root.json"], "AWS::CloudFormation::Stack").items():
        file = file_of[stack_id]
        for parameter, wire in stack["Properties"].get("Parameters", {}).items():
            if not parameter.endswith("SubnetIds"):
                continue
            assert wire == {"Fn::GetAtt": ["NetworkStack", f"Outputs.{parameter}"]}, (stack_id, parameter)
            consumer = docs[file]
            for lid, resource in consumer["Resources"].items():
                if parameter not in _refs(resource.get("Properties", {})):
                    continue
                kind = SUBNET_OF_CONSUMER.get((file.split("-")[0].removesuffix(".json"), resource["Type"]))
                assert kind is not None, (
                    f"{file}: {lid} ({resource['Type']}) uses {parameter}: which subnets should it be in?"
                )
                assert outputs[parameter] == kinds[kind], (
                    f"{file}: {lid} ({resource['Type']}) sits in {parameter} = {outputs[parameter]}, wants "
                    f"{kind} {kinds[kind]}"
                )
                seen.add(resource["Type"])
    assert {"AWS::ECS::Service", "AWS::ElasticLoadBalancingV2::LoadBalancer"} <= seen


@pytest.mark.parametrize(("app", "env"), ALL_TARGETS)
def test_only_public_subnets_route_to_the_internet_gateway(app, env):
    network = documents(app, env)["network.json"]
    kinds = _subnet_kinds(network)
    tables = {}
    for assoc in resources(network, "AWS::EC2::SubnetRouteTableAssociation").values():
        tables[assoc["Properties"]["SubnetId"]["Ref"]] = assoc["Properties"]["RouteTableId"]["Ref"]
    to_igw = {
        r["Properties"]["RouteTableId"]["Ref"]
        for r in resources(network, "AWS::EC2::Route").values()
        if "GatewayId" in r["Properties"]
    }
    assert sorted(s for s, table in tables.items() if table in to_igw) == sorted(kinds["public"])
    assert all(
        s["Properties"].get("MapPublicIpOnLaunch") is not True
        for lid, s in resources(network, "AWS::EC2::Subnet").items()
        if lid not in kinds["public"]
    )


# ------------------------------------------------------------------ sorted keys


def _keys_sorted(pairs):
    keys = [k for k, _ in pairs]
    assert keys == sorted(keys), f"keys not sorted: {keys}"
    return dict(pairs)


@pytest.mark.parametrize(("app", "env"), ALL_TARGETS)
def test_every_json_file_has_sorted_keys_at_every_level(app, env):
    for name, body in rendered(app, env).files.items():
        json.loads(body, object_pairs_hook=_keys_sorted)
        assert body.endswith(b"}\n") and body.startswith(b'{\n  "'), name


@pytest.mark.parametrize(("app", "env"), ALL_TARGETS)
def test_the_params_time_name_check_covers_exactly_the_security_groups_generated(app, env):
    """templates/config.py checks every security group name at params time from group_roles: it
    must name exactly the groups the templates create, each with the params key that shapes it."""
    from templates.security import group_name, group_roles

    cfg = rendered(app, env).cfg
    generated = sorted(
        g["Properties"]["GroupName"]
        for doc in documents(app, env).values()
        for g in resources(doc, "AWS::EC2::SecurityGroup").values()
        if "GroupName" in g["Properties"]
    )
    roles = group_roles(cfg)
    assert sorted(group_name(cfg, role) for role in roles) == generated
    expected_keys = {
        "alb": "environment.suffix",
        "ecs-instances": "compute.capacity_providers",
        "database": "database",
        "db-proxy": "database.proxy",
        "cache": "cache",
        "efs": "efs",
        "api-vpc-link": "edge.api_gateway.integration",
    }
    for role, key in roles.items():
        assert key == (
            f"services.{role.removeprefix('service-')}" if role.startswith("service-") else expected_keys[role]
        ), role
    assert sorted(r for r in roles if r.startswith("service-")) == sorted(f"service-{name}" for name in cfg.services)

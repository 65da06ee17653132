"""E9002: no security-group ingress from the whole internet except HTTP/HTTPS on a load balancer's group."""

from __future__ import annotations

from cfnlint.rules import CloudFormationLintRule, RuleMatch

from templates.rules._policy import items, port, properties, source_url, strata, target

LISTENER_PORTS = frozenset({80, 443})


def _open_to_world(rule: dict) -> str | None:
    for key in ("CidrIp", "CidrIpv6"):
        value = rule.get(key)
        if isinstance(value, str) and value.endswith("/0"):
            return value
    return None


def _listener_only(rule: dict) -> bool:
    protocol = str(rule.get("IpProtocol", "")).lower()
    low, high = port(rule.get("FromPort")), port(rule.get("ToPort"))
    return protocol in ("tcp", "6") and low is not None and low == high and low in LISTENER_PORTS


def load_balancer_groups(cfn) -> set[str]:
    """Groups a load balancer in this template uses, and groups that declare they belong to one
    (Metadata cfn-strata.attached_to: load-balancer), for when the ALB lives in another layer."""
    groups = set()
    for balancer in cfn.get_resources(["AWS::ElasticLoadBalancingV2::LoadBalancer"]).values():
        for _, group in items(properties(balancer).get("SecurityGroups")):
            if target(group):
                groups.add(target(group))
    for name, group in cfn.get_resources(["AWS::EC2::SecurityGroup"]).items():
        if strata(group).get("attached_to") == "load-balancer":
            groups.add(name)
    return groups


class OpenIngress(CloudFormationLintRule):
    id = "E9002"
    shortdesc = "No ingress from 0.0.0.0/0 or ::/0 except the load balancer's listener ports"
    description = (
        "A security-group ingress rule (inline in AWS::EC2::SecurityGroup or an "
        "AWS::EC2::SecurityGroupIngress, in every "
        "Fn::If branch) open to any /0 range is allowed only for tcp 80 or 443 on a group a load "
        "balancer uses: one listed "
        "in an AWS::ElasticLoadBalancingV2::LoadBalancer's SecurityGroups in the same template, or one "
        "whose Metadata says "
        "cfn-strata.attached_to: load-balancer."
    )
    source_url = source_url("E9002")
    tags = ["cfn-strata", "resources", "ec2", "securitygroup"]

    def match(self, cfn):
        matches = []
        balancer_groups = load_balancer_groups(cfn)

        def check(rule: dict, group: str | None, path: list, owner: str) -> None:
            world = _open_to_world(rule)
            if world is None or (group in balancer_groups and _listener_only(rule)):
                return
            ports = f"{rule.get('IpProtocol')} {rule.get('FromPort', '*')}-{rule.get('ToPort', '*')}"
            why = (
                "only a load balancer's group may be open, on tcp 80/443"
                if group not in balancer_groups
                else "a load balancer's group may be open on tcp 80/443 only"
            )
            matches.append(RuleMatch(path, f"{owner} allows ingress from {world} on {ports}: {why}"))

        for name, group in cfn.get_resources(["AWS::EC2::SecurityGroup"]).items():
            for index, rule in items(properties(group).get("SecurityGroupIngress")):
                if isinstance(rule, dict):
                    check(rule, name, ["Resources", name, "Properties", "SecurityGroupIngress", index], name)
        for name, ingress in cfn.get_resources(["AWS::EC2::SecurityGroupIngress"]).items():
            props = properties(ingress)
            group = target(props.get("GroupId")) or target(props.get("GroupName"))
            check(
                props, group, ["Resources", name, "Properties"], f"{name} (ingress to {group or 'an external group'})"
            )
        return matches

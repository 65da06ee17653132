"""E9010: every name property of every resource type the generator emits satisfies the naming
rules of the AWS API that creates it (length, characters, reserved prefixes, suffixes and words),
resolved as a first deploy resolves it (parameter defaults, pseudo parameters with placeholders of
the right length). The constraints, each with its AWS API reference, are the one table
`resource_semantics.NAME_CONSTRAINTS`; local mode applies the same table (deployer/local_rules.py).

Sources: e.g. EC2 API reference CreateSecurityGroup (GroupName can't start with sg-), ELBv2
CreateLoadBalancer / CreateTargetGroup (32 characters, no leading/trailing hyphen, not internal-),
RDS CreateDBInstance, ElastiCache CreateReplicationGroup (40), IAM CreateRole (64), Secrets Manager
CreateSecret, S3 user guide "General purpose bucket naming rules"; every entry names its page.
"""

from __future__ import annotations

from cfnlint.rules import CloudFormationLintRule, RuleMatch

from resource_semantics import name_rules
from templates.rules._policy import source_url
from templates.rules._resolve import check_names


class NameConstraints(CloudFormationLintRule):
    id = "E9010"
    shortdesc = "Resource names satisfy the AWS API's naming rules"
    description = (
        "Every name property (resource_semantics.NAME_CONSTRAINTS: each name property of each type the "
        "generator emits) "
        "resolved with parameter defaults and placeholder account/region must pass the creating API's length, pattern, "
        "reserved prefix/suffix/word rules, as that API's reference states them."
    )
    source_url = source_url("E9010")
    tags = ["cfn-strata", "resources", "names", "preflight"]

    def match(self, cfn):
        region = cfn.regions[0] if cfn.regions else "us-east-1"
        matches = []
        for logical_id, kind, path, name, _check, what in check_names(cfn.template, region).problems:
            rule = name_rules(kind)[_rule_path(kind, path)]
            matches.append(
                RuleMatch(
                    ["Resources", logical_id, "Properties", *path.split("/")],
                    f"{logical_id} ({kind}) {path} {name!r} {what}: {rule.api} ({rule.source.split()[0]})",
                )
            )
        return matches


def _rule_path(kind: str, concrete: str) -> str:
    """The table's path ("Policies/*/PolicyName") for a concrete one ("Policies/0/PolicyName")."""
    for path in name_rules(kind):
        parts, actual = path.split("/"), concrete.split("/")
        if len(parts) == len(actual) and all(p == "*" or p == a for p, a in zip(parts, actual, strict=True)):
            return path
    return concrete

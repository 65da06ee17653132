"""E9001: stateful resources carry DeletionPolicy and UpdateReplacePolicy; in prod never Delete."""

from __future__ import annotations

from cfnlint.rules import CloudFormationLintRule, RuleMatch

from resource_semantics import STATEFUL_TYPES
from templates.rules._policy import branches, source_url, stage

# What keeps the data in prod. RetainExceptOnCreate (2023) keeps it once the stack exists and lets a
# failed first create roll back cleanly (E9016 asks for it on named resources). UpdateReplacePolicy takes
# Delete, Retain or Snapshot only (CloudFormation template reference, UpdateReplacePolicy attribute).
PROD_POLICIES = {
    "DeletionPolicy": ("Snapshot", "RetainExceptOnCreate", "Retain"),
    "UpdateReplacePolicy": ("Snapshot", "Retain"),
}


class StatefulPolicies(CloudFormationLintRule):
    id = "E9001"
    shortdesc = "Stateful resources declare deletion and replacement policies"
    description = (
        "Resources whose data outlives a deploy (databases, caches, file systems, buckets, secrets, keys, log groups, "
        "registries, user pools, backup vaults, tables) declare both DeletionPolicy and UpdateReplacePolicy; in a prod "
        "template (Metadata cfn-strata.stage, absent counts as prod) neither is Delete: DeletionPolicy is Snapshot, "
        "RetainExceptOnCreate or Retain, UpdateReplacePolicy Snapshot or Retain (it does not accept "
        "RetainExceptOnCreate)."
    )
    source_url = source_url("E9001")
    tags = ["cfn-strata", "resources", "deletionpolicy", "updatereplacepolicy"]

    def match(self, cfn):
        matches = []
        prod = stage(cfn) == "prod"
        for name, resource in cfn.get_resources(sorted(STATEFUL_TYPES)).items():
            kind = resource.get("Type")
            for attribute, allowed in PROD_POLICIES.items():
                value = resource.get(attribute)
                if value is None:
                    matches.append(
                        RuleMatch(["Resources", name], f"{name} ({kind}) is stateful and has no {attribute}")
                    )
                elif prod and any(v not in allowed for v in branches(value)):
                    matches.append(
                        RuleMatch(
                            ["Resources", name, attribute],
                            f"{name} ({kind}) {attribute} is {value!r} in a prod template; use {' or '.join(allowed)}",
                        )
                    )
        return matches

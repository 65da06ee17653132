"""E9016: a custom-named resource is not `DeletionPolicy: Retain`.

When a stack's first create fails, CloudFormation rolls back by deleting what it created; a
`Retain` resource is left behind, still holding its name, so the retry collides with it ("already
exists"). `RetainExceptOnCreate` (AWS CloudFormation user guide, "DeletionPolicy attribute",
2023) deletes it when the failure is on the stack's create and retains it ever after, which keeps
created data protected. `Snapshot` and `Delete` leave no named resource behind.
"""

from __future__ import annotations

from cfnlint.rules import CloudFormationLintRule, RuleMatch

from resource_semantics import custom_name
from templates.rules._policy import branches, properties, source_url


class RetainOnNamedResource(CloudFormationLintRule):
    id = "E9016"
    shortdesc = "Custom-named resources use RetainExceptOnCreate, not Retain"
    description = (
        "DeletionPolicy Retain on a resource with a custom name (resource_semantics.NAME_PROPERTIES): a failed first "
        "create leaves it behind and the retry collides with its name; use RetainExceptOnCreate."
    )
    source_url = source_url("E9016")
    tags = ["cfn-strata", "resources", "deletionpolicy", "preflight"]

    def match(self, cfn):
        matches = []
        for logical_id, resource in sorted((cfn.template.get("Resources") or {}).items()):
            if not isinstance(resource, dict) or "Retain" not in branches(resource.get("DeletionPolicy")):
                continue
            kind = resource.get("Type", "")
            name = custom_name(kind, properties(resource))
            if name is not None:
                matches.append(
                    RuleMatch(
                        ["Resources", logical_id, "DeletionPolicy"],
                        f"{logical_id} ({kind}) is named and DeletionPolicy Retain: a failed first "
                        "create leaves it behind "
                        "and the retry collides with its name; use RetainExceptOnCreate",
                    )
                )
        return matches

"""E9011: a custom-named resource's create-only property does not depend on a deploy-time knob.

CloudFormation replaces a resource when a create-only property changes, and refuses to replace a
resource with a custom name ("CloudFormation cannot update a stack when a custom-named resource
requires replacing", AWS CloudFormation user guide, "Name type"; createOnlyProperties from the
resource provider schemas cfn-lint ships). A Parameter with a Default is a knob someone is expected
to turn; when it feeds a create-only property of a named resource, turning it breaks the update at
execute time, after the plan looked fine. An error, not a warning: the update cannot succeed.

Task definitions are exempt: a "replaced" task definition is a new revision of the same family.
"""

from __future__ import annotations

from cfnlint.rules import CloudFormationLintRule, RuleMatch

from resource_semantics import create_only_properties, custom_name, value_at
from templates.rules._policy import properties, source_url
from templates.rules._resolve import parameters_in

REVISIONED = frozenset({"AWS::ECS::TaskDefinition"})


class CreateOnlyKnob(CloudFormationLintRule):
    id = "E9011"
    shortdesc = "Create-only properties of custom-named resources do not depend on knobs"
    description = (
        "A resource with a custom name (resource_semantics.NAME_PROPERTIES) whose create-only property "
        "(provider schema createOnlyProperties) refers to a Parameter with a Default: changing that knob needs a "
        "replacement CloudFormation refuses for a named resource."
    )
    source_url = source_url("E9011")
    tags = ["cfn-strata", "resources", "replacement", "preflight"]

    def match(self, cfn):
        region = cfn.regions[0] if cfn.regions else "us-east-1"
        knobs = {
            name for name, p in (cfn.template.get("Parameters") or {}).items() if isinstance(p, dict) and "Default" in p
        }
        matches = []
        for logical_id, resource in sorted((cfn.template.get("Resources") or {}).items()):
            kind = resource.get("Type", "") if isinstance(resource, dict) else ""
            props = properties(resource)
            if kind in REVISIONED or custom_name(kind, props) is None:
                continue
            for path in sorted(create_only_properties(kind, region)):
                used = sorted(set(parameters_in(value_at(props, path), cfn.template)) & knobs)
                if used:
                    matches.append(
                        RuleMatch(
                            ["Resources", logical_id, "Properties", *path.split("/")],
                            f"{logical_id} ({kind}) is custom-named and its create-only {path} depends "
                            f"on the knob(s) {', '.join(used)}: "
                            "changing them needs a replacement CloudFormation refuses for a named resource",
                        )
                    )
        return matches

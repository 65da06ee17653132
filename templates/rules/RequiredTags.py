"""E9005: every taggable resource carries the Environment, Project and EnvironmentSuffix tags."""

from __future__ import annotations

from cfnlint.rules import CloudFormationLintRule, RuleMatch
from cfnlint.schema import PROVIDER_SCHEMA_MANAGER

from templates.rules._policy import branches, items, present, properties, source_url

REQUIRED_TAGS = ("Environment", "EnvironmentSuffix", "Project")


def tag_property(region: str, resource_type: str) -> str | None:
    """The property holding a type's tags per its registry schema, None when it takes no tags."""
    try:
        schema = PROVIDER_SCHEMA_MANAGER.get_resource_schema(region, resource_type).schema
    except Exception:  # custom resources, modules, types unknown in the region: nothing to check
        return None
    tagging = schema.get("tagging", {})
    if tagging.get("taggable") is False:
        return None
    pointer = tagging.get("tagProperty", "/properties/Tags")
    name = pointer.rsplit("/", 1)[-1]
    return name if name in schema.get("properties", {}) else None


def _keys(tags) -> set[str] | None:
    """Tag keys of a [{Key, Value}] list or a {key: value} map; None when not literal (a Ref)."""
    if isinstance(tags, list):
        return {tag.get("Key") for _, tag in items(tags) if isinstance(tag, dict)}
    if isinstance(tags, dict) and not any(key.startswith("Fn::") or key == "Ref" for key in tags):
        return set(tags)
    return None


class RequiredTags(CloudFormationLintRule):
    id = "E9005"
    shortdesc = "Taggable resources carry Environment, Project and EnvironmentSuffix"
    description = (
        "Every resource whose registry schema (cfn-lint's provider schemas for the template's region) declares it "
        "taggable carries the tags Environment, Project and EnvironmentSuffix, in every Fn::If branch."
    )
    source_url = source_url("E9005")
    tags = ["cfn-strata", "resources", "tags"]

    def match(self, cfn):
        matches = []
        region = cfn.regions[0] if cfn.regions else "us-east-1"
        for name, resource in cfn.get_resources().items():
            kind = resource.get("Type") if isinstance(resource, dict) else None
            prop = tag_property(region, kind) if isinstance(kind, str) else None
            if prop is None:
                continue
            value = properties(resource).get(prop)
            missing: set[str] = set() if present(value) else set(REQUIRED_TAGS)
            for tags in branches(value):
                keys = _keys(tags)
                if keys is not None:
                    missing |= set(REQUIRED_TAGS) - keys
            if missing:
                matches.append(
                    RuleMatch(
                        ["Resources", name, "Properties"],
                        f"{name} ({kind}) lacks the tag(s) {', '.join(sorted(missing))}",
                    )
                )
        return matches

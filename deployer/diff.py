"""`cfn-strata diff`: the deployed templates (root and nested, GetTemplate with TemplateStage
Original) against the newly generated ones, per layer, as a structural diff: resources added and
removed, and each changed property (also parameters and outputs) with its old and new value. No
change set is created. The root's TemplateURLs differ by content hash only, so nested templates are
compared by layer, not by URL. The comparison itself is pure: `diff_templates`."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, replace

from deployer.bundle import Bundle, deployed_template
from deployer.changeset import describe_stack
from deployer.errors import not_deployed
from deployer.guard import ROOT, nested_stacks

NESTED = "AWS::CloudFormation::Stack"
MISSING = object()


@dataclass(frozen=True)
class Change:
    layer: str
    kind: str  # added | removed | modified
    section: str  # Resources | Parameters | Outputs | Layer
    logical_id: str
    resource_type: str
    path: str  # property path inside the item ("" for a whole item)
    old: object = None
    new: object = None


@dataclass(frozen=True)
class TemplateDiff:
    stack_name: str
    changes: tuple[Change, ...]
    notes: tuple[str, ...] = ()

    def counts(self) -> dict[str, dict[str, int]]:
        out: dict[str, dict[str, int]] = {}
        for c in self.changes:
            layer = out.setdefault(c.layer, {"added": 0, "removed": 0, "modified": 0})
            layer[c.kind] += 1
        return out


def _leaves(old, new, path: str):
    """(path, old, new) for every difference, descending into objects; lists compare whole."""
    if isinstance(old, dict) and isinstance(new, dict):
        for key in sorted(set(old) | set(new)):
            yield from _leaves(old.get(key, MISSING), new.get(key, MISSING), f"{path}.{key}" if path else key)
    elif old != new:
        yield path, None if old is MISSING else old, None if new is MISSING else new


def _without_template_url(resource: dict) -> dict:
    if resource.get("Type") != NESTED:
        return resource
    return resource | {"Properties": {k: v for k, v in resource.get("Properties", {}).items() if k != "TemplateURL"}}


def diff_templates(layer: str, old: dict, new: dict) -> list[Change]:
    """Pure: what changes from `old` to `new` (templates as dicts) in one layer."""
    changes: list[Change] = []
    old_resources, new_resources = old.get("Resources", {}), new.get("Resources", {})
    for logical_id in sorted(set(old_resources) | set(new_resources)):
        before, after = old_resources.get(logical_id), new_resources.get(logical_id)
        if before is None:
            changes.append(Change(layer, "added", "Resources", logical_id, after.get("Type", ""), ""))
        elif after is None:
            changes.append(Change(layer, "removed", "Resources", logical_id, before.get("Type", ""), ""))
        else:
            kind = after.get("Type", "")
            for path, a, b in _leaves(_without_template_url(before), _without_template_url(after), ""):
                changes.append(Change(layer, "modified", "Resources", logical_id, kind, path, a, b))
    for section in ("Parameters", "Outputs"):
        before_items, after_items = old.get(section, {}), new.get(section, {})
        for name in sorted(set(before_items) | set(after_items)):
            if name not in before_items:
                changes.append(Change(layer, "added", section, name, "", ""))
            elif name not in after_items:
                changes.append(Change(layer, "removed", section, name, "", ""))
            else:
                changes += [
                    Change(layer, "modified", section, name, "", path, a, b)
                    for path, a, b in _leaves(before_items[name], after_items[name], "")
                ]
    return changes


def deployed_templates(cfn, root_stack_id: str, bundle: Bundle) -> dict[str, dict]:
    """{layer: deployed template} of the root and each nested stack (layer from its logical id)."""
    found = {ROOT: deployed_template(cfn, root_stack_id)}
    for logical_id, physical in sorted(nested_stacks(cfn, root_stack_id).items()):
        found[bundle.layer_of(logical_id)] = deployed_template(cfn, physical)
    return found


def diff_stack(cfn, bundle: Bundle) -> TemplateDiff:
    new = {ROOT: bundle.document(bundle.root_file)} | {
        s["layer"]: bundle.document(s["file"]) for s in bundle.nested_stacks
    }
    stack = describe_stack(cfn, bundle.stack_name)
    if stack is None or stack["StackStatus"] == "REVIEW_IN_PROGRESS":
        changes = [Change(layer, "added", "Layer", layer, "", "") for layer in new]
        return TemplateDiff(bundle.stack_name, tuple(changes), (not_deployed(bundle.stack_name, "every layer is new"),))
    old = deployed_templates(cfn, stack["StackId"], bundle)
    changes: list[Change] = []
    for layer in [ROOT, *sorted(set(old) | set(new) - {ROOT})]:
        if layer not in old:
            changes.append(Change(layer, "added", "Layer", layer, NESTED, ""))
        elif layer not in new:
            changes.append(Change(layer, "removed", "Layer", layer, NESTED, ""))
        else:
            changes += diff_templates(layer, old[layer], new[layer])
    return TemplateDiff(bundle.stack_name, tuple(changes))


def diff_all(aws, bundle: Bundle) -> TemplateDiff:
    """diff_stack, and the stacks the deployer keeps in other regions next to the root (the backup
    copy vault, the us-east-1 global stack: deployer/regional.py), each under `<layer> (<region>)`."""
    from deployer.regional import regional_stacks

    result = diff_stack(aws.client("cloudformation"), bundle)
    changes, notes = list(result.changes), list(result.notes)
    for extra in regional_stacks(bundle):
        label = f"{extra.layer} ({extra.region})"
        cfn = aws.in_region(extra.region).client("cloudformation")
        stack = describe_stack(cfn, extra.stack_name)
        if stack is None or stack["StackStatus"] == "REVIEW_IN_PROGRESS":
            changes.append(Change(label, "added", "Layer", extra.stack_name, "", ""))
            notes.append(f"stack {extra.stack_name} ({extra.region}) is not deployed: it is new")
        else:
            changes += diff_templates(label, deployed_template(cfn, stack["StackId"]), bundle.document(extra.file))
    return replace(result, changes=tuple(changes), notes=tuple(notes))


# ------------------------------------------------------------------ views


def _value(value, limit: int | None = None) -> str:
    if value is None:
        return "-"
    text = value if isinstance(value, str) else json.dumps(value, sort_keys=True, separators=(",", ":"))
    return text if limit is None or len(text) <= limit else text[: limit - 1] + "…"


def _where(c: Change) -> str:
    item = c.logical_id if c.section in ("Resources", "Layer") else f"{c.section}.{c.logical_id}"
    return f"{item}.{c.path}" if c.path else item


SUMMARY_LEGEND = "per layer: +N added, ~N modified, -N removed"


def summary_line(diff: TemplateDiff) -> str:
    if not diff.changes:
        return "no differences: the deployed templates match the generated ones"
    parts = [f"{layer}: +{n['added']} ~{n['modified']} -{n['removed']}" for layer, n in diff.counts().items()]
    return f"{len(diff.changes)} difference(s) — " + "; ".join(parts)


def to_json(diff: TemplateDiff) -> str:
    return json.dumps(
        {
            "stack_name": diff.stack_name,
            "summary": diff.counts(),
            "changes": [asdict(c) for c in diff.changes],
            "notes": list(diff.notes),
        },
        indent=2,
        sort_keys=False,
    )


def to_markdown(diff: TemplateDiff) -> str:
    lines = [f"### Template diff of `{diff.stack_name}` (deployed → generated)", ""]
    if diff.changes:
        lines += ["| layer | change | where | type | old | new |", "|---|---|---|---|---|---|"]
        for c in diff.changes:
            cells = [c.layer, c.kind, f"`{_where(c)}`", c.resource_type or "-", _value(c.old, 200), _value(c.new, 200)]
            lines.append("| " + " | ".join(cell.replace("|", "\\|") for cell in cells) + " |")
        lines.append("")
    lines.append(f"**Summary:** {summary_line(diff)}")
    if diff.changes:
        lines.append(f"({SUMMARY_LEGEND})")
    lines += [f"> note: {n}" for n in diff.notes]
    return "\n".join(lines) + "\n"


def to_table(diff: TemplateDiff):
    from rich.table import Table

    table = Table(
        title=f"template diff of {diff.stack_name} (deployed → generated)",
        caption=f"{summary_line(diff)}\n{SUMMARY_LEGEND}" if diff.changes else summary_line(diff),
    )
    for column in ("layer", "change", "where", "type", "old", "new"):
        table.add_column(column, overflow="fold")
    style = {"added": "green", "removed": "red", "modified": "yellow"}
    for c in diff.changes:
        table.add_row(
            c.layer,
            f"[{style[c.kind]}]{c.kind}[/]",
            _where(c),
            c.resource_type or "-",
            _value(c.old, 120),
            _value(c.new, 120),
        )
    return table

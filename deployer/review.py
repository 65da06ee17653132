"""The review of a change set: every nested change set walked (all pages), every resource change
classified and rated. A data structure; table, Markdown and JSON are views of it.

Where the endpoint reports no nested change sets (the local emulator), deployer/offline.py computes
them from the deployed and the new templates in the shape DescribeChangeSet returns, and the same
`resource_change` reads them."""

from __future__ import annotations

import enum
import json
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field

from resource_semantics import SECURITY_TYPE_PREFIXES as SECURITY_TYPES_PREFIXES
from resource_semantics import SECURITY_TYPES, STATEFUL_TYPES, carries_traffic, name_property

DELETES_OLD_COPY = {"Delete", "ReplaceAndDelete"}
NESTED_STACK = "AWS::CloudFormation::Stack"
ROOT = "root"
# The JSON view's contract (README: Deploying, "The review as JSON"). 2: every risk is a label
# ("LOW" ... "WILL_FAIL"), properties carry path / before / after, changes carry blockers.
JSON_SCHEMA_VERSION = 2


class Risk(enum.IntEnum):
    LOW = 1
    MEDIUM = 2
    HIGH = 3
    DATA_LOSS = 4
    WILL_FAIL = 5  # CloudFormation cannot execute it: the update fails and rolls back

    @property
    def label(self) -> str:
        return self.name.replace("_", " ")

    @classmethod
    def parse(cls, text: str) -> Risk:
        """ "high", "data-loss", "DATA_LOSS", "will fail" -> the level."""
        return cls[text.strip().upper().replace("-", "_").replace(" ", "_")]


@dataclass(frozen=True)
class Facts:
    """What decides whether a change can execute, beyond the change set itself: the custom names
    in the new templates and the stack policies in force (deployer/flow.py builds it from the
    bundle). Empty facts rate on the change set alone."""

    names: Mapping[tuple[str, str], str] = field(default_factory=dict)  # (layer, logical id) -> its custom name
    guarded: Mapping[str, frozenset[str]] = field(
        default_factory=dict
    )  # policy owner -> ids its stack policy denies Replace/Delete on
    allowed: tuple[str, ...] = ()  # --allow-replacement specs (LogicalId or layer/LogicalId)

    def allows(self, layer: str, logical_id: str) -> bool:
        return any(spec in (logical_id, f"{layer}/{logical_id}") for spec in self.allowed)


def policy_owner(layer: str, resource_type: str) -> str:
    """Whose stack policy guards a change: the root for a nested stack itself, else its layer."""
    return ROOT if resource_type == NESTED_STACK else layer.split("/")[0]


@dataclass(frozen=True)
class PropertyChange:
    attribute: str  # Properties | Metadata | Tags | ...
    name: str | None
    requires_recreation: str | None  # Never | Conditionally | Always
    change_source: str | None
    causing_entity: str | None
    # /Properties/ContainerDefinitions/0/PortMappings/0/ContainerPort (IncludePropertyValues, or computed offline)
    path: str | None
    before: str | None  # the value before and after, as CloudFormation reports them (JSON text for objects)
    after: str | None
    change_type: str | None  # Add | Remove | Modify | SyncWithActual (AttributeChangeType)
    # drift-aware change sets (DeploymentMode REVERT_DRIFT): where `before` comes from
    # (ACTUAL_STATE | PREVIOUS_DEPLOYMENT_STATE), and the live and the previously deployed value
    # (ResourceTargetDefinition.Drift: ActualValue, PreviousValue)
    before_from: str | None
    actual: str | None
    previous: str | None

    @property
    def where(self) -> str:
        """The property path below Properties ("ContainerDefinitions/0/Image"), else its name."""
        if self.path:
            return self.path.removeprefix("/Properties/").removeprefix("/")
        return self.name or self.attribute

    @property
    def drifted(self) -> bool:
        """The live value differs from the previously deployed one (a drift-aware change set)."""
        return self.actual is not None and self.actual != self.previous

    @property
    def values(self) -> str:
        """ "3000 → 8080" when the values are known, else ""; on a drifted property of a drift-aware
        change set "actual 3000, deployed 8080 → 8080": the live value, the previously deployed
        one and the new one."""
        if self.drifted:
            return f"actual {_short(self.actual)}, deployed {_short(self.previous)} → {_short(self.after)}"
        if self.before is None and self.after is None:
            return ""
        return f"{_short(self.before)} → {_short(self.after)}"

    def __str__(self) -> str:
        detail = (
            f" ({self.requires_recreation})" if self.requires_recreation and self.requires_recreation != "Never" else ""
        )
        values = f": {self.values}" if self.values else ""
        return self.where + values + detail


def _short(value: str | None, limit: int = 60) -> str:
    if value is None:
        return "(none)"
    return value if len(value) <= limit else value[: limit - 1] + "…"


@dataclass(frozen=True)
class ResourceChange:
    layer: str
    logical_id: str
    resource_type: str
    action: str  # Add | Modify | Remove | Import | Dynamic
    replacement: str | None  # True | Conditional | False | None (not reported)
    policy_action: str | None
    physical_id: str | None
    properties: tuple[PropertyChange, ...]
    stateful: bool
    risk: Risk
    reasons: tuple[str, ...]
    blockers: tuple[str, ...]  # why it cannot execute: "custom-name" | "stack-policy"
    # drift-aware change sets: the resource's drift (ResourceDriftStatus: IN_SYNC | MODIFIED |
    # DELETED | UNKNOWN | UNSUPPORTED) and its whole state as JSON text: live before the change
    # (BeforeContext), after it (AfterContext), as last deployed (PreviousDeploymentContext)
    drift_status: str | None
    before_context: str | None
    after_context: str | None
    previous_context: str | None

    @property
    def replaces(self) -> bool:
        return self.replacement in ("True", "Conditional")

    @property
    def causes(self) -> tuple[PropertyChange, ...]:
        """The properties that cause a replacement."""
        return tuple(p for p in self.properties if p.requires_recreation in ("Always", "Conditionally"))


@dataclass(frozen=True)
class LayerSummary:
    layer: str
    adds: int
    modifies: int
    replaces: int
    removes: int
    highest: Risk | None


@dataclass(frozen=True)
class HookResult:
    """One hook invocation on the change set (ListHookResults, TargetType CHANGE_SET)."""

    hook: str  # TypeName, e.g. Private::Guard::S3Encryption
    status: str  # HOOK_IN_PROGRESS | HOOK_COMPLETE_SUCCEEDED | HOOK_COMPLETE_FAILED | HOOK_FAILED
    message: str | None  # HookStatusReason
    failure_mode: str | None  # FAIL (a failure stops the operation) | WARN
    invocation_point: str | None  # PRE_PROVISION
    target: str | None  # HookExecutionTarget

    @property
    def failed(self) -> bool:
        return self.status in ("HOOK_COMPLETE_FAILED", "HOOK_FAILED")


@dataclass(frozen=True)
class Review:
    stack_name: str
    change_set_name: str
    change_set_type: str
    changes: tuple[ResourceChange, ...]
    notes: tuple[str, ...] = field(default=())
    drifted: tuple = field(
        default=()
    )  # deployer.drift.DriftedResource: stateful resources changed outside CloudFormation
    hooks: tuple[HookResult, ...] = field(
        default=()
    )  # deployer/checks.py: the hooks CloudFormation ran on the change set
    deployment_mode: str | None = None  # REVERT_DRIFT for a drift-aware change set (plan --revert-drift)

    @property
    def highest(self) -> Risk | None:
        return max((c.risk for c in self.changes), default=None)

    def at_least(self, risk: Risk) -> tuple[ResourceChange, ...]:
        return tuple(c for c in self.changes if c.risk >= risk)

    def summaries(self) -> list[LayerSummary]:
        layers: dict[str, dict] = {}
        for c in self.changes:
            s = layers.setdefault(c.layer, {"adds": 0, "modifies": 0, "replaces": 0, "removes": 0, "highest": None})
            if c.action == "Add":
                s["adds"] += 1
            elif c.action == "Remove":
                s["removes"] += 1
            elif c.replaces:
                s["replaces"] += 1
            else:
                s["modifies"] += 1
            s["highest"] = max(c.risk, s["highest"] or c.risk)
        return [LayerSummary(layer, **counts) for layer, counts in layers.items()]


def rate(
    resource_type: str, action: str, replacement: str | None, policy_action: str | None, properties, stateful: bool
) -> tuple[Risk, tuple[str, ...]]:
    """The risk rules on the change alone, in one place (`blocked` adds what makes it fail)."""
    reasons: list[str] = []
    destructive = action == "Remove" or replacement in ("True", "Conditional")
    if stateful and destructive:
        verb = "removed" if action == "Remove" else ("replaced" if replacement == "True" else "conditionally replaced")
        if policy_action in DELETES_OLD_COPY and (action == "Remove" or replacement == "True"):
            return Risk.DATA_LOSS, (f"stateful resource {verb} and its old copy deleted ({policy_action})",)
        kept = f", old copy: {policy_action}" if policy_action else ", policy action not reported"
        return Risk.HIGH, (f"stateful resource {verb}{kept}",)
    if destructive and carries_traffic(resource_type):
        reasons.append("interrupts traffic")
    if resource_type.startswith(SECURITY_TYPES_PREFIXES) or resource_type in SECURITY_TYPES:
        reasons.append("IAM / security group / WAF change")
    if resource_type == "AWS::KMS::Key" and any(p.name == "KeyPolicy" for p in properties):
        reasons.append("KMS key policy change")
    if replacement == "Conditional":
        reasons.append("conditional replacement")
    if reasons:
        return Risk.MEDIUM, tuple(reasons)
    return Risk.LOW, ()


def blocked(
    layer: str,
    logical_id: str,
    resource_type: str,
    action: str,
    replacement: str | None,
    properties,
    stateful: bool,
    facts: Facts,
) -> tuple[Risk | None, tuple[str, ...], tuple[str, ...]]:
    """What CloudFormation will refuse at execute time: (risk it sets or None, reasons, blockers).
    - replacing a custom-named resource whose name stays: "CloudFormation cannot update a stack when
      a custom-named resource requires replacing" (AWS knowledge center, cloudformation-custom-name);
      a conditional replacement fails only if it happens: HIGH;
    - a replacement or removal the stack policy of its owner denies (Update:Replace / Update:Delete),
      unless --allow-replacement names it (the deployer then loosens that policy for the execution).
      Only an update replaces or removes anything, and stack policies act only on updates."""
    reasons: list[str] = []
    blockers: list[str] = []
    risk = None
    replaces = replacement in ("True", "Conditional")
    name = facts.names.get((layer, logical_id))
    name_path = name_property(resource_type)  # "BackupPlan/BackupPlanName": the top property is what changes
    renamed = name_path is not None and name_path.split("/")[0] in {p.name for p in properties}
    if replaces and name is not None and not renamed:
        if replacement == "True":
            risk = Risk.WILL_FAIL
            blockers.append("custom-name")
            reasons.append(
                f"custom-named ({name}): CloudFormation cannot replace it; change its name or logical id "
                "with this change"
            )
        else:  # MEDIUM, not HIGH: HIGH and above are what --allow-replacement must name
            risk = Risk.MEDIUM
            reasons.append(f"custom-named ({name}): the update fails if CloudFormation has to replace it")
    if replaces or action == "Remove":
        owner = policy_owner(layer, resource_type)
        # the deployer's guard also denies removing what the deployed stack holds (guard_before_update)
        guarded = logical_id in facts.guarded.get(owner, frozenset()) or (
            action == "Remove" and stateful and owner != ROOT and owner in facts.guarded
        )
        if guarded and not facts.allows(layer, logical_id):
            risk = Risk.WILL_FAIL
            blockers.append("stack-policy")
            verb = "removing" if action == "Remove" else "replacing"
            reasons.append(
                f"the stack policy of {owner} denies {verb} it: pass --allow-replacement "
                f"{layer}/{logical_id} to allow it"
            )
    return risk, tuple(reasons), tuple(blockers)


REVERTED_DRIFT = ("MODIFIED", "DELETED")  # ResourceDriftStatus values a REVERT_DRIFT change set overwrites


def property_change(detail: dict) -> PropertyChange:
    """One ResourceChangeDetail: with IncludePropertyValues its Target carries Path, BeforeValue and
    AfterValue; in a drift-aware change set also BeforeValueFrom and Drift (ActualValue,
    PreviousValue). The offline computation (deployer/offline.py) fills the same keys."""
    target = detail.get("Target", {})
    drift = target.get("Drift") or {}
    return PropertyChange(
        target.get("Attribute", ""),
        target.get("Name"),
        target.get("RequiresRecreation"),
        detail.get("ChangeSource"),
        detail.get("CausingEntity"),
        target.get("Path"),
        target.get("BeforeValue"),
        target.get("AfterValue"),
        target.get("AttributeChangeType"),
        target.get("BeforeValueFrom"),
        drift.get("ActualValue"),
        drift.get("PreviousValue"),
    )


def resource_change(layer: str, raw: dict, stateful_ids: frozenset[str], facts: Facts = Facts()) -> ResourceChange:
    properties = tuple(property_change(d) for d in raw.get("Details", []))
    kind = raw.get("ResourceType", "")
    # A nested stack is stateful when its layer holds stateful resources: removing it removes them.
    stateful = (
        kind in STATEFUL_TYPES
        or raw["LogicalResourceId"] in stateful_ids
        or (kind == NESTED_STACK and bool(stateful_ids))
    )
    replacement = raw.get("Replacement")
    risk, reasons = rate(kind, raw["Action"], replacement, raw.get("PolicyAction"), properties, stateful)
    failing, why, blockers = blocked(
        layer, raw["LogicalResourceId"], kind, raw["Action"], replacement, properties, stateful, facts
    )
    if failing is not None:
        risk, reasons = max(risk, failing), (*why, *reasons)
    drift = raw.get("ResourceDriftStatus")
    if drift in REVERTED_DRIFT and raw["Action"] != "SyncWithActual":
        # executing it overwrites what was changed outside CloudFormation (an incident fix, say)
        risk = max(risk, Risk.MEDIUM)
        reasons = (*reasons, f"drifted ({drift}): the change overwrites what was changed outside CloudFormation")
    return ResourceChange(
        layer,
        raw["LogicalResourceId"],
        kind,
        raw["Action"],
        replacement,
        raw.get("PolicyAction"),
        raw.get("PhysicalResourceId"),
        properties,
        stateful,
        risk,
        reasons,
        blockers,
        drift,
        raw.get("BeforeContext"),
        raw.get("AfterContext"),
        raw.get("PreviousDeploymentContext"),
    )


def property_values_supported(cfn) -> bool:
    """Whether this botocore's model has DescribeChangeSet's IncludePropertyValues (an older one
    refuses the parameter before sending anything)."""
    return "IncludePropertyValues" in cfn.meta.service_model.operation_model("DescribeChangeSet").input_shape.members


def _pages(cfn, change_set_id: str) -> list[dict]:
    """Every page of describe_change_set, with the before and after values of every changed
    property (IncludePropertyValues)."""
    pages, token = [], None
    values = {"IncludePropertyValues": True} if property_values_supported(cfn) else {}
    while True:
        page = cfn.describe_change_set(ChangeSetName=change_set_id, **values, **({"NextToken": token} if token else {}))
        pages.append(page)
        token = page.get("NextToken")
        if not token:
            return pages


def review_change_set(cfn, change_set_id: str, *, layer_of, stateful_ids_of, facts: Facts = Facts()) -> Review:
    """Walk the root change set and every nested one. `layer_of(logical_id)` names the layer of a
    root nested stack; `stateful_ids_of(layer)` gives the logical ids the manifest calls stateful;
    `facts` the custom names and stack policies that make a change fail."""
    changes: list[ResourceChange] = []
    unwalked: list[str] = []

    def walk(pages: list[dict], layer: str | None) -> None:
        for page in pages:
            for item in page.get("Changes", []):
                raw = item.get("ResourceChange")
                if not raw:
                    continue
                nested = raw.get("ChangeSetId") if raw.get("ResourceType") == "AWS::CloudFormation::Stack" else None
                child_layer = (
                    layer_of(raw["LogicalResourceId"]) if layer is None else f"{layer}/{raw['LogicalResourceId']}"
                )
                if nested:
                    walk(_pages(cfn, nested), child_layer)
                    continue
                here = layer or "root"
                if raw.get("ResourceType") == "AWS::CloudFormation::Stack":
                    here = child_layer
                    unwalked.append(child_layer)
                changes.append(resource_change(here, raw, stateful_ids_of(here), facts))

    root_pages = _pages(cfn, change_set_id)
    first = root_pages[0]
    walk(root_pages, None)
    notes = []
    if unwalked:
        notes.append(
            f"{UNWALKED_NOTE} for {', '.join(unwalked)} (the endpoint ignored IncludeNestedStacks): their "
            "resources are not listed"
        )
    if not property_values_supported(cfn):
        notes.append(
            "this botocore has no IncludePropertyValues: before and after values are not shown (upgrade boto3)"
        )
    return Review(
        first["StackName"],
        first["ChangeSetName"],
        "",  # DescribeChangeSet has no ChangeSetType: plan_root and with_type (deployer/flow.py) set it
        ordered(changes),
        tuple(notes),
        deployment_mode=first.get("DeploymentMode"),
    )


UNWALKED_NOTE = "no nested change set was reported"


def ordered(changes) -> tuple[ResourceChange, ...]:
    return tuple(sorted(changes, key=lambda c: (-c.risk, c.layer, c.logical_id)))


# ------------------------------------------------------------------ views


def to_json(review: Review) -> str:
    def plain(value):
        if isinstance(value, Risk):
            return value.name
        raise TypeError(value)

    document = {
        "schema_version": JSON_SCHEMA_VERSION,
        "stack_name": review.stack_name,
        "change_set_name": review.change_set_name,
        "change_set_type": review.change_set_type,
        "highest_risk": review.highest.name if review.highest else None,
        "summary": [asdict(s) | {"highest": s.highest.name if s.highest else None} for s in review.summaries()],
        "changes": [asdict(c) | {"risk": c.risk.name, "causes": [asdict(p) for p in c.causes]} for c in review.changes],
        "drifted": [asdict(d) for d in review.drifted],
        "deployment_mode": review.deployment_mode,
        "hooks": [asdict(h) for h in review.hooks],
        "notes": list(review.notes),
    }
    return json.dumps(document, indent=2, default=plain)


def _properties(change: ResourceChange) -> str:
    return ", ".join(str(p) for p in change.properties) or "-"


RISK_STYLES = {
    Risk.WILL_FAIL: "bold white on magenta",
    Risk.DATA_LOSS: "bold white on red",
    Risk.HIGH: "bold red",
    Risk.MEDIUM: "yellow",
    Risk.LOW: "green",
}


def _why(change: ResourceChange) -> str:
    """The reasons, and what causes a replacement."""
    return "; ".join(change.reasons + ((f"caused by {_cause(change)}",) if change.causes and change.replaces else ()))


def _cause(change: ResourceChange) -> str:
    return "; ".join(
        f"{p.name or p.attribute} ({p.requires_recreation}, "
        f"{p.change_source or '?'}{': ' + p.causing_entity if p.causing_entity else ''})"
        for p in change.causes
    )


# What the per-layer counts of summary_line mean (table caption, Markdown, HTML, README).
SUMMARY_LEGEND = "per layer: +N added, ~N modified in place, ±N replaced, -N removed"


def summary_line(review: Review) -> str:
    parts = [f"{s.layer}: +{s.adds} ~{s.modifies} ±{s.replaces} -{s.removes}" for s in review.summaries()]
    highest = review.highest.label if review.highest else "none"
    return f"{len(review.changes)} change(s) — " + "; ".join(parts) + f" — highest risk: {highest}"


def to_markdown(review: Review) -> str:
    lines = [f"### Change set `{review.change_set_name}` on `{review.stack_name}`", ""]
    if review.deployment_mode == REVERT_DRIFT:
        lines += [DRIFT_AWARE_NOTE, ""]
    lines += [
        "| risk | layer | logical id | type | action | replacement | old copy | changed properties | why |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for c in review.changes:
        cells = [
            f"**{c.risk.label}**" if c.risk >= Risk.HIGH else c.risk.label,
            c.layer,
            f"`{c.logical_id}`",
            c.resource_type,
            c.action,
            c.replacement or "-",
            c.policy_action or "-",
            _properties(c),
            _why(c) or "-",
        ]
        lines.append("| " + " | ".join(cell.replace("|", "\\|") for cell in cells) + " |")
    lines += ["", f"**Summary:** {summary_line(review)}", f"({SUMMARY_LEGEND})"]
    if review.drifted:
        lines += [
            "",
            f"**Drifted resources** ({len(review.drifted)}): changed outside CloudFormation; the change "
            "set was computed against the template, not what is deployed",
            "",
        ]
        lines += [
            f"- `{d.layer}/{d.logical_id}` {d.resource_type} **{d.status}**"
            + (f": {', '.join(d.properties)}" if d.properties else "")
            for d in review.drifted
        ]
    if review.hooks:
        lines += [
            "",
            f"**Hook results** ({len(review.hooks)}):",
            "",
            "| hook | status | failure mode | message |",
            "|---|---|---|---|",
        ]
        lines += [
            "| "
            + " | ".join(
                cell.replace("|", "\\|")
                for cell in (
                    f"`{h.hook}`",
                    f"**{h.status}**" if h.failed else h.status,
                    h.failure_mode or "-",
                    " ".join((h.message or "-").split()),
                )
            )
            + " |"
            for h in review.hooks
        ]
    lines += [f"> note: {n}" for n in review.notes]
    return "\n".join(lines) + "\n"


REVERT_DRIFT = "REVERT_DRIFT"
DRIFT_AWARE_NOTE = (
    "Drift-aware change set (REVERT_DRIFT): values are compared with what is live; a drifted property shows "
    "its actual value, the previously deployed one and the new one, and executing it reverts the drift."
)


def hooks_table(review: Review):
    from rich.markup import escape
    from rich.table import Table

    table = Table(title="hook results on the change set", title_style="bold")
    for column in ("hook", "status", "failure mode", "message"):
        table.add_column(column, overflow="fold")
    for h in review.hooks:
        table.add_row(
            escape(h.hook),
            f"[bold red]{h.status}[/]" if h.failed else h.status,
            h.failure_mode or "-",
            escape(h.message or "-"),
        )
    return table


def drift_table(review: Review):
    from rich.table import Table

    table = Table(title="drifted resources (changed outside CloudFormation)", title_style="bold red")
    for column in ("layer", "logical id", "type", "drift", "properties"):
        table.add_column(column, overflow="fold")
    for d in review.drifted:
        table.add_row(d.layer, d.logical_id, d.resource_type, d.status, ", ".join(d.properties) or "-")
    return table


def to_table(review: Review):
    from rich.table import Table

    table = Table(
        title=f"change set {review.change_set_name} on {review.stack_name}",
        caption=f"{summary_line(review)}\n{SUMMARY_LEGEND}",
    )
    for column in (
        "risk",
        "layer",
        "logical id",
        "type",
        "action",
        "replacement",
        "old copy",
        "changed properties",
        "why",
    ):
        table.add_column(column)  # printed only where it fits: no cell is wider than its column (table_for_width)
    for c in review.changes:
        table.add_row(
            f"[{RISK_STYLES[c.risk]}]{c.risk.label}[/]",
            c.layer,
            c.logical_id,
            c.resource_type,
            c.action,
            c.replacement or "-",
            c.policy_action or "-",
            _properties(c),
            _why(c) or "-",
        )
    return table


def to_compact_table(review: Review):
    """The review for narrow terminals and CI logs (below the wide table's minimum width): two
    columns, risk and the change. Each change is its headline (layer/logical id, type, action,
    replacement, old copy) and, indented below it, what changes and why. Rich wraps cells at
    spaces only and folds only a word longer than the whole column, so no word of the data is cut
    at 80 columns."""
    from rich import box
    from rich.table import Table
    from rich.text import Text

    table = Table(
        title=f"change set {review.change_set_name} on {review.stack_name}",
        caption=f"{summary_line(review)}\n{SUMMARY_LEGEND}",
        box=box.SIMPLE_HEAD,
        pad_edge=False,
        show_edge=False,
        title_justify="left",
        caption_justify="left",
    )
    table.add_column("risk", min_width=max(len(r.label) for r in Risk))  # the longest label on one line
    table.add_column("change (layer/logical id type, action, replacement, old copy)", overflow="fold")
    for c in review.changes:
        headline = [f"{c.layer}/{c.logical_id}", c.resource_type, c.action]
        if c.replacement and c.replacement != "False":
            headline.append(f"replacement: {c.replacement}")
        if c.policy_action:
            headline.append(f"old copy: {c.policy_action}")
        cell = Text.assemble((headline[0], "bold"), " " + ", ".join(headline[1:]))
        if c.properties:
            cell.append("\n  changed: " + _properties(c))
        why = _why(c)
        if why:
            cell.append("\n  why: " + why)
        table.add_row(Text(c.risk.label, style=RISK_STYLES[c.risk]), cell)
    return table


def _wide_minimum(table) -> int:
    """The narrowest width at which the wide table cuts no word: each column is held at least as
    wide as its longest word (header or cell; rich would otherwise shrink every column in
    proportion and cut the longest resource type first), plus padding and borders."""
    from rich.text import Text

    total = len(table.columns) + 1  # vertical borders
    for column in table.columns:
        cells = [column.header, *column.cells]
        words = [
            w
            for cell in cells
            for w in (cell.plain if isinstance(cell, Text) else Text.from_markup(str(cell)).plain).split()
        ]
        column.min_width = max(len(w) for w in words)  # every header has words
        total += column.min_width + 2  # padding (1, 1)
    return total


def table_for_width(review: Review, width: int):
    """The wide table when it fits `width` without cutting a word, else the compact one (80
    columns: CI logs, pipes)."""
    wide = to_table(review)
    return wide if _wide_minimum(wide) <= width else to_compact_table(review)

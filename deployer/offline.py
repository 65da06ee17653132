"""Nested change sets computed offline, for an endpoint that reports none (the local emulator
ignores IncludeNestedStacks and reports no Replacement, Details or PolicyAction).

From the deployed and the new templates and parameters, each nested stack's changes come out in
the shape DescribeChangeSet (IncludePropertyValues) returns them, so `review.resource_change` reads
them as it reads AWS's:
- Add / Remove / Modify per resource; nested stacks are matched by their logical id in the root
  (their layer), never by the content-hashed TemplateURL;
- for a Modify, one detail per changed property path with its before and after value;
- RequiresRecreation from the resource provider schemas cfn-lint ships (createOnlyProperties,
  resource_semantics.replaced_by): Always when the new value is known, Conditionally when it is
  known only after apply (a Ref or GetAtt of a resource this change set modifies or replaces, an
  output of another nested stack that may change, an intrinsic function left to deploy time);
  Replacement True / Conditional / False from them, as CloudFormation derives it;
- ChangeSource DirectModification (the template text changed), ParameterReference (a parameter's
  value changed; CausingEntity the parameter) or ResourceReference (Evaluation Dynamic;
  CausingEntity the resource);
- PolicyAction from DeletionPolicy (Remove: Delete / Retain / Snapshot) and UpdateReplacePolicy
  (replacement: ReplaceAndDelete / ReplaceAndRetain / ReplaceAndSnapshot; none for a conditional
  one, as CloudFormation reports it in tests/fixtures/changesets).

Parameters: the root's with the values passed (deployed: the stack's parameters; new: the params
file's), into each nested stack through the root's Parameters map; Fn::If on conditions that can be
evaluated, Fn::Sub, Fn::Join and Fn::Select on known values are resolved, the rest stays as written
(equal on both sides when nothing it reads changed). The comparison itself is pure: `compute`.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field

from resource_semantics import replaced_by

NESTED = "AWS::CloudFormation::Stack"
ROOT = None  # the root stack's key in the maps below (nested stacks are keyed by logical id)
AFTER_APPLY = "cfn-strata:known-after-apply"
RESOURCE_ATTRIBUTES = ("Metadata", "CreationPolicy", "UpdatePolicy", "DeletionPolicy", "UpdateReplacePolicy")
LIST_TYPES = ("CommaDelimitedList", "List<")
_NO_VALUE = object()
_MISSING = object()
_SUB = re.compile(r"\$\{([^}!][^}]*)\}")


# Attributes that change when their resource is updated in place (a new version number); any other
# attribute (an ARN, a name, an endpoint) stays while the resource is not replaced.
VOLATILE_ATTRIBUTES = frozenset({"LatestVersionNumber", "DefaultVersionNumber", "Version", "VersionId"})


def _after_apply(source: str, entity: str, *, stable=None) -> dict:
    """A value known only when the change set executes, and where it comes from. `stable`: the
    expression it stands for when it keeps its value (a Ref or GetAtt of a resource this change set
    modifies without replacing it): CloudFormation still reports it (Evaluation Dynamic), but it
    replaces nothing."""
    return {AFTER_APPLY: [source, entity]} | ({"stable": stable} if stable is not None else {})


def _settled_value(value):
    """`value` with every stable reference back to the Ref it stands for."""
    if isinstance(value, dict):
        if AFTER_APPLY in value:
            return value["stable"] if value.get("stable") is not None else value
        return {k: _settled_value(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_settled_value(v) for v in value]
    return value


def _unstable(value) -> bool:
    if isinstance(value, dict):
        if AFTER_APPLY in value:
            return value.get("stable") is None
        return any(_unstable(v) for v in value.values())
    if isinstance(value, list):
        return any(_unstable(v) for v in value)
    return False


def first_unknown(value) -> list | None:
    """[ChangeSource, CausingEntity] of the first value in `value` known only after apply."""
    if isinstance(value, dict):
        if AFTER_APPLY in value:
            return value[AFTER_APPLY]
        value = list(value.values())
    if isinstance(value, list):
        for item in value:
            found = first_unknown(item)
            if found:
                return found
    return None


def _deploy_time(value) -> bool:
    """True when the value holds an intrinsic function left for deploy time (not a Ref/GetAtt of a
    resource, which names a resource that stays what it is)."""
    if isinstance(value, dict):
        if AFTER_APPLY in value:
            return True
        if len(value) == 1:
            key = next(iter(value))
            if key in ("Ref", "Fn::GetAtt"):
                return False
            if key.startswith("Fn::"):
                return True
        return any(_deploy_time(v) for v in value.values())
    if isinstance(value, list):
        return any(_deploy_time(v) for v in value)
    return False


@dataclass(frozen=True)
class Context:
    """How a template's values read: its parameters' values, the resources this change modifies
    (their Ref/GetAtt are known only after apply) and, for the root, other stacks' outputs."""

    template: dict
    parameters: dict = field(default_factory=dict)
    changing: frozenset[str] = frozenset()  # modified by this change set
    replacing: frozenset[str] = frozenset()  # of those, replaced (or maybe replaced): a new physical id
    outputs: object = None  # (stack logical id, output name) -> value, or None to keep the GetAtt
    _conditions: dict = field(default_factory=dict)

    @classmethod
    def of(cls, template: dict, passed: dict, **kwargs) -> Context:
        values = {}
        for name, spec in (template.get("Parameters") or {}).items():
            value = passed.get(name, spec.get("Default", _MISSING))
            if value is _MISSING:
                continue
            if isinstance(value, str) and str(spec.get("Type", "")).startswith(LIST_TYPES):
                value = value.split(",") if value else []
            elif isinstance(value, (int, float)) and not isinstance(value, bool):
                value = str(value)
            values[name] = value
        return cls(template, values, **kwargs)

    def condition(self, name: str) -> bool | None:
        if name not in self._conditions:
            self._conditions[name] = None  # a cycle reads as unknown
            self._conditions[name] = self._truth((self.template.get("Conditions") or {}).get(name))
        return self._conditions[name]

    def _truth(self, expression) -> bool | None:
        if not isinstance(expression, dict) or len(expression) != 1:
            return None
        ((key, argument),) = expression.items()
        if key == "Condition":
            return self.condition(argument)
        if key == "Fn::Equals":
            left, right = (resolve(a, self) for a in argument)
            if isinstance(left, dict) or isinstance(right, dict) or _NO_VALUE in (left, right):
                return None
            return _text(left) == _text(right)
        if key == "Fn::Not":
            inner = self._truth(argument[0])
            return None if inner is None else not inner
        if key in ("Fn::And", "Fn::Or"):
            values = [self._truth(a) for a in argument]
            decisive = key == "Fn::Or"  # Or: any True decides; And: any False decides
            if decisive in values:
                return decisive
            return None if None in values else not decisive
        return None

    def present(self, resource: dict) -> bool:
        """False only when the resource's Condition is known to be false."""
        return not resource.get("Condition") or self.condition(resource["Condition"]) is not False


def resolve(node, ctx: Context):
    """The value as CloudFormation would see it, as far as it can be known before executing."""
    if isinstance(node, list):
        return [v for v in (resolve(item, ctx) for item in node) if v is not _NO_VALUE]
    if not isinstance(node, dict):
        return node
    if len(node) == 1:
        ((key, argument),) = node.items()
        if key == "Ref":
            if argument == "AWS::NoValue":
                return _NO_VALUE
            if argument in ctx.parameters:
                value = ctx.parameters[argument]
                # known after apply in the parent: here it is this parameter that changes
                return (
                    _after_apply(
                        "ParameterReference", argument, stable=None if _unstable(value) else _settled_value(value)
                    )
                    if first_unknown(value)
                    else value
                )
            if argument in ctx.changing:
                return _after_apply("ResourceReference", argument, stable=None if argument in ctx.replacing else node)
            return node
        if key == "Fn::GetAtt":
            target, attribute = argument.split(".", 1) if isinstance(argument, str) else argument
            if target in ctx.changing:
                kept = target not in ctx.replacing and str(attribute).split(".")[-1] not in VOLATILE_ATTRIBUTES
                return _after_apply(
                    "ResourceReference", target, stable={"Fn::GetAtt": [target, attribute]} if kept else None
                )
            if ctx.outputs is not None and str(attribute).startswith("Outputs."):
                value = ctx.outputs(target, attribute[len("Outputs.") :])
                if value is not None:
                    return value
            return {"Fn::GetAtt": [target, attribute]}
        if key == "Fn::If":
            name, when_true, when_false = argument
            truth = ctx.condition(name)
            if truth is not None:
                return resolve(when_true if truth else when_false, ctx)
            return {"Fn::If": [name, resolve(when_true, ctx), resolve(when_false, ctx)]}
        if key == "Fn::Sub":
            return _sub(argument, ctx)
        if key == "Fn::Join":
            items = resolve(argument[1], ctx)
            if isinstance(items, list) and all(
                isinstance(i, (str, int, float)) and not isinstance(i, bool) for i in items
            ):
                return argument[0].join(_text(i) for i in items)
            return {"Fn::Join": [argument[0], items]}
        if key == "Fn::Select":
            index, items = resolve(argument[0], ctx), resolve(argument[1], ctx)
            if isinstance(items, list) and str(index).isdigit() and int(index) < len(items):
                return items[int(index)]
            return {"Fn::Select": [index, items]}
    resolved = {}
    for key, value in node.items():
        value = resolve(value, ctx)
        if value is not _NO_VALUE:
            resolved[key] = value
    return resolved


def _sub(argument, ctx: Context):
    text, variables = (argument, {}) if isinstance(argument, str) else (argument[0], resolve(argument[1], ctx))
    unknown = []

    def substitute(match: re.Match) -> str:
        name = match.group(1)
        value = variables.get(name, ctx.parameters.get(name, _MISSING))
        if value is _MISSING and name.split(".")[0] in ctx.changing:
            unknown.append(_after_apply("ResourceReference", name.split(".")[0]))
        elif isinstance(value, str):
            return value
        elif value is not _MISSING and first_unknown(value):
            unknown.append(_after_apply("ParameterReference", name))
        return match.group(0)

    result = _SUB.sub(substitute, text)
    if unknown:
        return unknown[0]
    return result if not _SUB.search(result) else {"Fn::Sub": result}


def _text(value) -> str:
    """A value as DescribeChangeSet's BeforeValue / AfterValue show it."""
    if isinstance(value, str):
        return value
    if isinstance(value, dict) and AFTER_APPLY in value:
        return f"(known after apply: {value[AFTER_APPLY][1]})"
    return json.dumps(_shown(value), sort_keys=True, separators=(",", ":"))


def _shown(value):
    if isinstance(value, dict):
        return _text(value) if AFTER_APPLY in value else {k: _shown(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_shown(v) for v in value]
    return value


def _function(value) -> bool:
    return (
        isinstance(value, dict)
        and len(value) == 1
        and (next(iter(value)) == "Ref" or next(iter(value)).startswith("Fn::"))
    )


def _leaves(old, new, path: str):
    """(path, old, new) for every difference; into objects (not into an intrinsic function: its
    result is the value), and into lists of equal length."""
    if (
        isinstance(old, dict)
        and isinstance(new, dict)
        and AFTER_APPLY not in new
        and not _function(old)
        and not _function(new)
    ):
        for key in sorted(set(old) | set(new)):
            yield from _leaves(old.get(key, _MISSING), new.get(key, _MISSING), f"{path}/{key}")
    elif isinstance(old, list) and isinstance(new, list) and len(old) == len(new):
        for index, (a, b) in enumerate(zip(old, new, strict=True)):
            yield from _leaves(a, b, f"{path}/{index}")
    elif old != new:
        yield path, old, new


def _schema_path(path: str) -> str:
    """/Properties/ContainerDefinitions/0/PortMappings -> ContainerDefinitions/PortMappings."""
    return "/".join(part for part in path.split("/")[2:] if not part.isdigit())


def _parameters_read(node, ctx: Context) -> list[str]:
    """The parameters a template value reads (Ref and ${} in Fn::Sub), in order."""
    found: list[str] = []

    def walk(value):
        if isinstance(value, dict):
            if isinstance(value.get("Ref"), str) and value["Ref"] in ctx.parameters:
                found.append(value["Ref"])
            if "Fn::Sub" in value:
                text = value["Fn::Sub"] if isinstance(value["Fn::Sub"], str) else value["Fn::Sub"][0]
                found.extend(n for n in _SUB.findall(text) if n in ctx.parameters)
            for item in value.values():
                walk(item)
        elif isinstance(value, list):
            for item in value:
                walk(item)

    walk(node)
    return found


def _property_details(
    kind: str, logical_id: str, old: dict, new: dict, old_ctx: Context, new_ctx: Context, region: str
) -> list[dict]:
    details = []
    old_raw, new_raw = old.get("Properties") or {}, new.get("Properties") or {}
    old_props, new_props = resolve(old_raw, old_ctx), resolve(new_raw, new_ctx)
    for name in sorted(set(old_props) | set(new_props)):
        before, after = old_props.get(name, _MISSING), new_props.get(name, _MISSING)
        if before == after:
            continue
        direct = old_raw.get(name, _MISSING) != new_raw.get(name, _MISSING)
        changed_parameters = [
            p
            for p in _parameters_read(new_raw.get(name), new_ctx)
            if old_ctx.parameters.get(p, _MISSING) != new_ctx.parameters.get(p)
        ]
        for path, b, a in _leaves(before, after, f"/Properties/{name}"):
            unknown = first_unknown(a)
            create_only = replaced_by(kind, _schema_path(path), region)
            if not create_only or _settled_value(a) == b:  # a stable reference: the value stays
                requires = "Never"
            else:
                requires = (
                    "Conditionally"
                    if (_unstable(a) or _deploy_time(_settled_value(a)) or _deploy_time(b))
                    else "Always"
                )
            if direct:
                source, entity, evaluation = "DirectModification", None, "Static"
            elif unknown:
                source, entity, evaluation = unknown[0], unknown[1], "Dynamic"
            else:
                source, entity, evaluation = (
                    "ParameterReference",
                    (changed_parameters[0] if changed_parameters else None),
                    "Static",
                )
            target = {
                "Attribute": "Tags" if name == "Tags" else "Properties",
                "RequiresRecreation": requires,
                "Path": path,
                "AttributeChangeType": "Add" if b is _MISSING else "Remove" if a is _MISSING else "Modify",
            }
            if name != "Tags":
                target["Name"] = name
            if b is not _MISSING:
                target["BeforeValue"] = _text(b)
            if a is not _MISSING:
                target["AfterValue"] = _text(a)
            detail = {"ChangeSource": source, "Evaluation": evaluation, "Target": target}
            if entity:
                detail["CausingEntity"] = entity
            details.append(detail)
    for attribute in RESOURCE_ATTRIBUTES:
        before, after = resolve(old.get(attribute), old_ctx), resolve(new.get(attribute), new_ctx)
        if before != after:
            target = {
                "Attribute": attribute,
                "RequiresRecreation": "Never",
                "Path": f"/{attribute}",
                "AttributeChangeType": "Modify",
            }
            target |= {k: _text(v) for k, v in (("BeforeValue", before), ("AfterValue", after)) if v is not None}
            details.append({"ChangeSource": "DirectModification", "Evaluation": "Static", "Target": target})
    return details


def _removal_policy(resource: dict) -> str:
    policy = resource.get("DeletionPolicy", "Delete")
    return {"Retain": "Retain", "RetainExceptOnCreate": "Retain", "Snapshot": "Snapshot"}.get(policy, "Delete")


def _replacement_policy(resource: dict) -> str:
    policy = resource.get("UpdateReplacePolicy", "Delete")
    return {"Retain": "ReplaceAndRetain", "Snapshot": "ReplaceAndSnapshot"}.get(policy, "ReplaceAndDelete")


def _changes(
    old_ctx: Context, new_ctx: Context, physical: dict[str, str], region: str, *, skip_nested: bool
) -> list[dict]:
    """The resource changes of one template, in DescribeChangeSet's ResourceChange shape."""
    old_resources = {k: v for k, v in (old_ctx.template.get("Resources") or {}).items() if old_ctx.present(v)}
    new_resources = {k: v for k, v in (new_ctx.template.get("Resources") or {}).items() if new_ctx.present(v)}
    changes = []
    for logical_id in sorted(set(old_resources) | set(new_resources)):
        old, new = old_resources.get(logical_id), new_resources.get(logical_id)
        kind = (new or old).get("Type", "")
        if skip_nested and kind == NESTED:
            continue
        base = {"LogicalResourceId": logical_id, "ResourceType": kind}
        if old is None:
            changes.append(base | {"Action": "Add", "Details": [], "Scope": []})
            continue
        if physical.get(logical_id):
            base["PhysicalResourceId"] = physical[logical_id]
        if new is None:
            changes.append(
                base | {"Action": "Remove", "PolicyAction": _removal_policy(old), "Details": [], "Scope": []}
            )
            continue
        details = _property_details(kind, logical_id, old, new, old_ctx, new_ctx, region)
        if old.get("Type") != new.get("Type"):
            details.append(
                {
                    "ChangeSource": "DirectModification",
                    "Evaluation": "Static",
                    "Target": {
                        "Attribute": "Type",
                        "RequiresRecreation": "Always",
                        "BeforeValue": old.get("Type", ""),
                        "AfterValue": new.get("Type", ""),
                    },
                }
            )
        if not details:
            continue
        recreation = {d["Target"]["RequiresRecreation"] for d in details}
        replacement = "True" if "Always" in recreation else "Conditional" if "Conditionally" in recreation else "False"
        change = base | {
            "Action": "Modify",
            "Replacement": replacement,
            "Details": details,
            "Scope": sorted({d["Target"]["Attribute"] for d in details}),
        }
        if replacement == "True":  # as recorded from CloudFormation: none for a conditional replacement
            change["PolicyAction"] = _replacement_policy(new)
        changes.append(change)
    return changes


def _settle(
    old_ctx: Context, new_ctx: Context, physical: dict[str, str], region: str, *, skip_nested: bool
) -> tuple[list[dict], Context]:
    """Changes until a fixed point: what references a resource this change modifies or replaces
    reads a value known only after apply, which may change it in turn."""
    for _ in range(len(new_ctx.template.get("Resources") or {}) + 1):
        changes = _changes(old_ctx, new_ctx, physical, region, skip_nested=skip_nested)
        changing = frozenset(c["LogicalResourceId"] for c in changes if c["Action"] == "Modify")
        replacing = frozenset(
            c["LogicalResourceId"] for c in changes if c.get("Replacement") in ("True", "Conditional")
        )
        if changing <= new_ctx.changing and replacing <= new_ctx.replacing:
            return changes, new_ctx
        new_ctx = Context(
            new_ctx.template,
            new_ctx.parameters,
            new_ctx.changing | changing,
            new_ctx.replacing | replacing,
            new_ctx.outputs,
        )
    return changes, new_ctx


def _outputs_that_change(old_ctx: Context, new_ctx: Context) -> frozenset[str]:
    old_outputs, new_outputs = old_ctx.template.get("Outputs") or {}, new_ctx.template.get("Outputs") or {}
    changed = set()
    for name, output in new_outputs.items():
        after = resolve(output.get("Value"), new_ctx)
        if (
            name not in old_outputs
            or _unstable(after)
            or resolve(old_outputs[name].get("Value"), old_ctx) != _settled_value(after)
        ):
            changed.add(name)
    return frozenset(changed)


def _stack_order(root: dict) -> list[str]:
    """The root's nested stacks, each after the stacks whose outputs it reads (or DependsOn)."""
    stacks = {k: v for k, v in (root.get("Resources") or {}).items() if v.get("Type") == NESTED}

    def needs(resource: dict) -> set[str]:
        found = set()
        depends = resource.get("DependsOn") or []
        found.update([depends] if isinstance(depends, str) else depends)

        def walk(value):
            if isinstance(value, dict):
                target = value.get("Fn::GetAtt")
                if isinstance(target, list) and target:
                    found.add(target[0])
                for item in value.values():
                    walk(item)
            elif isinstance(value, list):
                for item in value:
                    walk(item)

        walk(resource.get("Properties"))
        return found & set(stacks)

    ordered: list[str] = []
    pending = dict(sorted(stacks.items()))
    while pending:
        ready = [k for k, v in pending.items() if needs(v) <= set(ordered)] or [next(iter(pending))]
        for k in ready:
            ordered.append(k)
            del pending[k]
    return ordered


@dataclass(frozen=True)
class Side:
    """One side of the comparison: the root template, its parameter values and each nested
    stack's template by its logical id in the root."""

    root: dict
    parameters: dict[str, str]
    nested: dict[str, dict]


def compute(
    old: Side, new: Side, *, physical: dict | None = None, region: str = "us-east-1"
) -> list[tuple[str | None, dict]]:
    """(nested stack logical id or None for the root, ResourceChange) for every change from `old`
    to `new`. `physical` maps a stack key (None, or a nested logical id) to {logical id: physical id}."""
    physical = physical or {}
    changed_outputs: dict[str, frozenset[str]] = {}

    def new_outputs(stack: str, name: str):
        if stack not in old.nested or name in changed_outputs.get(stack, frozenset({name})):
            return _after_apply("ResourceReference", stack)
        return None

    old_root = Context.of(old.root, old.parameters)
    new_root = Context.of(new.root, new.parameters, outputs=new_outputs)
    found: list[tuple[str | None, dict]] = []
    old_stacks = {
        k for k, v in (old.root.get("Resources") or {}).items() if v.get("Type") == NESTED and old_root.present(v)
    }
    for logical_id in _stack_order(new.root):
        resource = new.root["Resources"][logical_id]
        if not new_root.present(resource):
            continue
        template = new.nested.get(logical_id, {})
        new_ctx = Context.of(template, resolve((resource.get("Properties") or {}).get("Parameters") or {}, new_root))
        if logical_id in old_stacks and logical_id in old.nested:
            previous = old.root["Resources"][logical_id]
            old_ctx = Context.of(
                old.nested[logical_id], resolve((previous.get("Properties") or {}).get("Parameters") or {}, old_root)
            )
        else:  # a new layer: every resource is added
            old_ctx = Context.of({}, {})
        changes, settled = _settle(old_ctx, new_ctx, physical.get(logical_id, {}), region, skip_nested=False)
        changed_outputs[logical_id] = _outputs_that_change(old_ctx, settled)
        found += [(logical_id, change) for change in changes]
    for logical_id in sorted(
        old_stacks
        - {k for k, v in (new.root.get("Resources") or {}).items() if v.get("Type") == NESTED and new_root.present(v)}
    ):
        previous = old.root["Resources"][logical_id]
        change = {
            "Action": "Remove",
            "LogicalResourceId": logical_id,
            "ResourceType": NESTED,
            "PolicyAction": _removal_policy(previous),
            "Details": [],
            "Scope": [],
        }
        if physical.get(ROOT, {}).get(logical_id):
            change["PhysicalResourceId"] = physical[ROOT][logical_id]
        found.append((ROOT, change))
    root_changes, _ = _settle(old_root, new_root, physical.get(ROOT, {}), region, skip_nested=True)
    found += [(ROOT, change) for change in root_changes]
    return found


# ------------------------------------------------------------------ against a deployed stack


OFFLINE_NOTE = (
    "nested changes computed offline from the deployed and the new templates (the endpoint reported no nested "
    "change sets): replacement from the provider schemas' create-only properties, policy action from "
    "DeletionPolicy / UpdateReplacePolicy"
)


def _physical_ids(cfn, stack_id: str) -> dict[str, str]:
    found = {}
    for page in cfn.get_paginator("list_stack_resources").paginate(StackName=stack_id):
        for summary in page["StackResourceSummaries"]:
            if summary.get("PhysicalResourceId"):
                found[summary["LogicalResourceId"]] = summary["PhysicalResourceId"]
    return found


def deployed_side(cfn, stack: dict | None) -> tuple[Side, dict]:
    """The deployed root (templates as deployed, the stack's parameter values) and the physical ids;
    an empty side for a stack not created yet."""
    from deployer.bundle import deployed_template

    if stack is None or stack["StackStatus"] == "REVIEW_IN_PROGRESS":
        return Side({}, {}, {}), {}
    root_ids = _physical_ids(cfn, stack["StackId"])
    root = deployed_template(cfn, stack["StackId"])
    nested_ids = {k: v for k, v in root_ids.items() if (root.get("Resources") or {}).get(k, {}).get("Type") == NESTED}
    nested = {logical_id: deployed_template(cfn, physical) for logical_id, physical in sorted(nested_ids.items())}
    physical = {ROOT: root_ids} | {
        logical_id: _physical_ids(cfn, stack_id) for logical_id, stack_id in sorted(nested_ids.items())
    }
    parameters = {p["ParameterKey"]: p.get("ParameterValue", "") for p in stack.get("Parameters") or []}
    return Side(root, parameters, nested), physical


def new_side(bundle) -> Side:
    return Side(
        bundle.document(bundle.root_file),
        bundle.parameters(),
        {s["logical_id"]: bundle.document(s["file"]) for s in bundle.nested_stacks},
    )


def offline_review(cfn, bundle, review, stack: dict | None, facts):
    """`review` (of the root change set the endpoint reported) with every nested stack's changes
    computed offline, in the same Review structure."""
    from dataclasses import replace

    from deployer.review import ROOT as ROOT_LAYER
    from deployer.review import UNWALKED_NOTE, ordered, resource_change

    old, physical = deployed_side(cfn, stack)
    changes = []
    for key, raw in compute(old, new_side(bundle), physical=physical, region=bundle.region):
        layer = (
            bundle.layer_of(raw["LogicalResourceId"])
            if raw["ResourceType"] == NESTED
            else (ROOT_LAYER if key is ROOT else bundle.layer_of(key))
        )
        changes.append(resource_change(layer, raw, bundle.stateful_ids(layer), facts))
    notes = tuple(n for n in review.notes if not n.startswith(UNWALKED_NOTE)) + (OFFLINE_NOTE,)
    return replace(review, changes=ordered(changes), notes=notes)


def needs_offline(review) -> bool:
    """The endpoint reported nested stacks without their nested change sets."""
    from deployer.review import UNWALKED_NOTE

    return any(note.startswith(UNWALKED_NOTE) for note in review.notes)

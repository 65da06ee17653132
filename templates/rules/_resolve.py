"""Helpers for the pre-flight rules (E9010-E9016): resolve a name the way CloudFormation will on a
first deploy with the parameters' defaults, find the parameters a value depends on, and read the
templates a root nests. Not a rule (the loader skips files starting with an underscore).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from resource_semantics import NAME_CONSTRAINTS, name_problems, name_values

# Placeholders of the right length for pseudo parameters: an account id is 12 digits, the region
# is the one the template is linted (and deployed) for.
PLACEHOLDER_ACCOUNT = "123456789012"
_PSEUDO = {"AWS::AccountId": PLACEHOLDER_ACCOUNT, "AWS::Partition": "aws", "AWS::URLSuffix": "amazonaws.com"}
_SUB = re.compile(r"\$\{([^}!][^}]*)\}")


class Unresolved(Exception):
    """The value depends on something only known at deploy time (another resource, an input without a default)."""


def _ref(name: str, template: dict, region: str) -> list[str]:
    if name == "AWS::Region":
        return [region]
    if name in _PSEUDO:
        return [_PSEUDO[name]]
    parameter = (template.get("Parameters") or {}).get(name)
    if isinstance(parameter, dict) and "Default" in parameter and not isinstance(parameter["Default"], (list, dict)):
        return [str(parameter["Default"])]
    raise Unresolved(name)


def resolve(value: Any, template: dict, region: str) -> list[str]:
    """Every string `value` can become on a first deploy with default parameters (one per Fn::If
    branch), or Unresolved. AWS::NoValue branches give nothing."""
    if isinstance(value, bool):
        return [str(value).lower()]
    if isinstance(value, (str, int, float)):
        return [str(value)]
    if not isinstance(value, dict) or len(value) != 1:
        raise Unresolved(repr(value)[:60])
    ((function, argument),) = value.items()
    if function == "Ref" and isinstance(argument, str):
        return [] if argument == "AWS::NoValue" else _ref(argument, template, region)
    if function == "Fn::If" and isinstance(argument, list) and len(argument) == 3:
        return resolve(argument[1], template, region) + resolve(argument[2], template, region)
    if function == "Fn::Join" and isinstance(argument, list) and len(argument) == 2 and isinstance(argument[1], list):
        results = [""]
        for index, part in enumerate(argument[1]):
            results = [r + (argument[0] if index else "") + p for r in results for p in resolve(part, template, region)]
        return results
    if function == "Fn::Sub":
        text, variables = (
            (argument, {}) if isinstance(argument, str) else (argument[0], argument[1] if len(argument) > 1 else {})
        )
        results = [""]
        position = 0
        for match in _SUB.finditer(text):
            key = match.group(1)
            choices = (
                resolve(variables[key], template, region)
                if key in variables
                else (_ref(key, template, region) if "." not in key else None)
            )
            if choices is None:
                raise Unresolved(key)
            results = [r + text[position : match.start()] + c for r in results for c in choices]
            position = match.end()
        return [r + text[position:] for r in results]
    raise Unresolved(function)


@dataclass
class NameReport:
    """What the naming rule looked at in one template."""

    checked: list[tuple[str, str, str, str]] = field(default_factory=list)  # (logical id, type, path, resolved name)
    unresolved: list[tuple[str, str, str, str]] = field(default_factory=list)  # (logical id, type, path, why)
    problems: list[tuple[str, str, str, str, str, str]] = field(
        default_factory=list
    )  # (logical id, type, path, name, check, what)


def check_names(template: dict, region: str) -> NameReport:
    """Resolve and check every name property (resource_semantics.NAME_CONSTRAINTS) of every resource."""
    report = NameReport()
    for logical_id, resource in sorted((template.get("Resources") or {}).items()):
        if not isinstance(resource, dict):
            continue
        kind = resource.get("Type", "")
        properties = resource.get("Properties") if isinstance(resource.get("Properties"), dict) else {}
        for path, rule in sorted(NAME_CONSTRAINTS.get(kind, {}).items()):
            for concrete, value in name_values(properties, path):
                try:
                    names = resolve(value, template, region)
                except Unresolved as why:
                    report.unresolved.append((logical_id, kind, concrete, str(why)))
                    continue
                for name in names:
                    report.checked.append((logical_id, kind, concrete, name))
                    for check, what in name_problems(rule, name, include_advisory=False):  # refusals only (ADVISORY)
                        report.problems.append((logical_id, kind, concrete, name, check, what))
    return report


def parameters_in(value: Any, template: dict) -> Iterator[str]:
    """Names of the template's Parameters that `value` refers to (Ref, ${X} in Fn::Sub), recursively."""
    declared = template.get("Parameters") or {}
    if isinstance(value, dict):
        for key, inner in value.items():
            if key == "Ref" and isinstance(inner, str) and inner in declared:
                yield inner
            elif key == "Fn::Sub":
                text = inner if isinstance(inner, str) else (inner[0] if isinstance(inner, list) and inner else "")
                variables = (
                    inner[1] if isinstance(inner, list) and len(inner) > 1 and isinstance(inner[1], dict) else {}
                )
                for match in _SUB.finditer(text if isinstance(text, str) else ""):
                    if match.group(1) in declared and match.group(1) not in variables:
                        yield match.group(1)
                yield from parameters_in(variables, template)
            else:
                yield from parameters_in(inner, template)
    elif isinstance(value, list):
        for inner in value:
            yield from parameters_in(inner, template)


def resources_in(value: Any, template: dict) -> Iterator[str]:
    """Logical ids of the template's resources that `value` refers to (Ref, Fn::GetAtt, ${X} / ${X.Attr})."""
    declared = template.get("Resources") or {}
    if isinstance(value, dict):
        for key, inner in value.items():
            if key == "Ref" and isinstance(inner, str) and inner in declared:
                yield inner
            elif key == "Fn::GetAtt":
                target = (
                    inner[0]
                    if isinstance(inner, list) and inner
                    else (inner.split(".", 1)[0] if isinstance(inner, str) else None)
                )
                if target in declared:
                    yield target
            elif key == "Fn::Sub":
                text = inner if isinstance(inner, str) else (inner[0] if isinstance(inner, list) and inner else "")
                for match in _SUB.finditer(text if isinstance(text, str) else ""):
                    if match.group(1).split(".", 1)[0] in declared:
                        yield match.group(1).split(".", 1)[0]
                if isinstance(inner, list) and len(inner) > 1:
                    yield from resources_in(inner[1], template)
            else:
                yield from resources_in(inner, template)
    elif isinstance(value, list):
        for inner in value:
            yield from resources_in(inner, template)


def nested_templates(cfn) -> dict[str, dict]:
    """{Stack logical id: child template} for the AWS::CloudFormation::Stack resources of a root
    whose TemplateURL is a file beside it (dist/ roots name their children by relative file name)."""
    folder = Path(getattr(cfn, "filename", "") or ".").resolve().parent
    children = {}
    for logical_id, resource in (cfn.template.get("Resources") or {}).items():
        if not isinstance(resource, dict) or resource.get("Type") != "AWS::CloudFormation::Stack":
            continue
        url = (resource.get("Properties") or {}).get("TemplateURL")
        if isinstance(url, str) and "://" not in url and (folder / url).is_file():
            try:
                children[logical_id] = json.loads((folder / url).read_text())
            except ValueError:
                continue
    return children

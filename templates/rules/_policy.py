"""Helpers the project's rules share: condition branches, references, template metadata.

Not a rule: cfn-lint's directory loader skips files whose names start with an underscore, and this
module defines no rule class (an imported rule class would be instantiated by every importer).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from typing import Any

# Every rule's documentation: the README's security-rules section has one anchor per id.
README = "README.md"  # the anchors live in the README shipped with the package


def source_url(rule_id: str) -> str:
    return f"{README}#{rule_id.lower()}"


def _no_value(value: Any) -> bool:
    return value == {"Ref": "AWS::NoValue"}


def branches(value: Any) -> Iterator[Any]:
    """Every value `value` can take once Fn::If is decided either way; AWS::NoValue is absent.

    A property that is absent in some branch yields nothing for that branch, so "is it set in
    every branch" is `all(...)` over branches plus `present(...)`.
    """
    if isinstance(value, dict) and len(value) == 1 and "Fn::If" in value:
        arguments = value["Fn::If"]
        if isinstance(arguments, list) and len(arguments) == 3:
            yield from branches(arguments[1])
            yield from branches(arguments[2])
            return
    if not _no_value(value):
        yield value


def present(value: Any) -> bool:
    """Set in every branch (no Fn::If branch leaves it out)."""
    if value is None or _no_value(value):
        return False
    if isinstance(value, dict) and len(value) == 1 and "Fn::If" in value:
        arguments = value["Fn::If"]
        if isinstance(arguments, list) and len(arguments) == 3:
            return present(arguments[1]) and present(arguments[2])
    return True


def items(value: Any) -> Iterator[tuple[int, Any]]:
    """(index, element) of a list property, conditional elements expanded, NoValue dropped."""
    for candidate in branches(value):
        if isinstance(candidate, list):
            for index, element in enumerate(candidate):
                for each in branches(element):
                    yield index, each
        elif candidate is not None:
            yield 0, candidate


def is_true(value: Any) -> bool:
    return value is True or (isinstance(value, str) and value.lower() == "true")


def is_false(value: Any) -> bool:
    return value is False or (isinstance(value, str) and value.lower() == "false")


def always(value: Any, test) -> bool:
    """Set in every branch and `test` holds for each."""
    return present(value) and all(test(v) for v in branches(value))


def target(value: Any) -> str | None:
    """The logical id a Ref / Fn::GetAtt points at, else None."""
    if isinstance(value, dict) and len(value) == 1:
        if "Ref" in value and isinstance(value["Ref"], str):
            return value["Ref"]
        attribute = value.get("Fn::GetAtt")
        if isinstance(attribute, list) and attribute and isinstance(attribute[0], str):
            return attribute[0]
        if isinstance(attribute, str):
            return attribute.split(".", 1)[0]
    return None


def properties(resource: Any) -> dict:
    found = resource.get("Properties", {}) if isinstance(resource, dict) else {}
    return found if isinstance(found, dict) else {}


def strata(node: Any) -> dict:
    """The `cfn-strata` entry of a Metadata block (template or resource), {} when absent."""
    metadata = node.get("Metadata", {}) if isinstance(node, dict) else {}
    found = metadata.get("cfn-strata", {}) if isinstance(metadata, dict) else {}
    return found if isinstance(found, dict) else {}


def stage(cfn) -> str:
    """The stage LayerBuilder records in the template's Metadata; unknown counts as prod (strict)."""
    return str(strata(cfn.template).get("stage", "prod"))


def statements(document: Any) -> Iterator[tuple[int, dict]]:
    """(index, statement) of a policy document (a JSON string is parsed); Fn::If expanded."""
    for candidate in branches(document):
        if isinstance(candidate, str):
            try:
                candidate = json.loads(candidate)
            except ValueError:
                continue
        if not isinstance(candidate, dict):
            continue
        for index, statement in items(candidate.get("Statement")):
            if isinstance(statement, dict):
                yield index, statement


def strings(value: Any) -> list[str]:
    """The literal strings of a string-or-list policy element (Action, Resource)."""
    return [item for _, item in items(value) if isinstance(item, str)]


def port(value: Any) -> int | None:
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


# ---------------------------------------------------------------- ECS containers (E9008, W9008)

_SECRET_WORDS = {"PASSWORD", "PASSWD", "PASSPHRASE", "SECRET", "TOKEN", "CREDENTIALS", "APIKEY"}
# AWS FSBP ECS.8 names these three; the word rules below cover the rest.
_SECRET_NAMES = {"AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "ECS_ENGINE_AUTH_DATA"}


def secret_like(name: str) -> bool:
    """An environment variable name that says it holds a secret: a word PASSWORD/SECRET/TOKEN/...,
    or KEY as the last word (API_KEY, SECRET_KEY; not KEY_PREFIX or KMS_KEY_ARN)."""
    upper = name.upper()
    if upper in _SECRET_NAMES:
        return True
    words = [w for w in re.split(r"[^A-Z0-9]+", upper) if w]
    return bool(words) and (
        any(w in _SECRET_WORDS or w.endswith(("PASSWORD", "SECRET", "TOKEN")) for w in words)
        or words[-1].endswith("KEY")
    )


def containers(task_definition: dict):
    """(index, name, container definition) of a task definition, Fn::If expanded."""
    for index, container in items(properties(task_definition).get("ContainerDefinitions")):
        if isinstance(container, dict):
            yield index, str(container.get("Name", f"container {index}")), container

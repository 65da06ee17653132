"""Pre-flight before a change set on an existing stack: exports of the deployed root and nested
stacks that the new templates drop or rename are looked up with ListImports; when another stack
imports one, the plan stops with the importers named, instead of the update failing half way."""

from __future__ import annotations

import re
from dataclasses import dataclass

from botocore.exceptions import ClientError

from deployer.bundle import Bundle
from deployer.errors import DeployerError, error_message, is_not_modelled
from deployer.guard import ROOT, nested_stacks

NOT_IMPORTED = "is not imported by any stack"
_PSEUDO = re.compile(r"\$\{([^}!]+)\}")


@dataclass(frozen=True)
class DroppedExport:
    name: str
    layer: str
    importers: tuple[str, ...]


def _name_of(stack_id: str) -> str:
    """arn:aws:cloudformation:r:a:stack/NAME/uuid -> NAME (the emulator gives names for nested stacks)."""
    return stack_id.split("/")[1] if stack_id.startswith("arn:") else stack_id


def _resolve(name, pseudo: dict[str, str]) -> str | None:
    """An Export.Name as a string: literal, Fn::Sub over pseudo parameters, Fn::Join of those; None otherwise."""
    if isinstance(name, str):
        return name
    if isinstance(name, dict) and len(name) == 1:
        ((function, argument),) = name.items()
        if function == "Fn::Sub" and isinstance(argument, str):
            unknown = [v for v in _PSEUDO.findall(argument) if v not in pseudo]
            return None if unknown else _PSEUDO.sub(lambda m: pseudo[m.group(1)], argument)
        if function == "Fn::Join" and isinstance(argument, list) and len(argument) == 2:
            parts = [_resolve(p, pseudo) for p in argument[1]] if isinstance(argument[1], list) else [None]
            return None if None in parts else argument[0].join(parts)
        if function == "Ref" and argument in pseudo:
            return pseudo[argument]
    return None


def new_exports(document: dict, pseudo: dict[str, str]) -> set[str] | None:
    """Export names a template declares; None when one cannot be resolved without deploying."""
    names = set()
    for output in document.get("Outputs", {}).values():
        if "Export" in output:
            name = _resolve(output["Export"].get("Name"), pseudo)
            if name is None:
                return None
            names.add(name)
    return names


def deployed_exports(cfn, stack_ids: dict[str, str]) -> dict[str, list[str]]:
    """{layer: [export names]} of the exports whose ExportingStackId is one of `stack_ids` ({layer: id})."""
    layer_by_name = {_name_of(stack_id): layer for layer, stack_id in stack_ids.items()}
    found: dict[str, list[str]] = {}
    for page in cfn.get_paginator("list_exports").paginate():
        for export in page["Exports"]:
            layer = layer_by_name.get(_name_of(export.get("ExportingStackId", "")))
            if layer:
                found.setdefault(layer, []).append(export["Name"])
    return found


def importers(cfn, export_name: str) -> list[str]:
    try:
        return sorted(
            name
            for page in cfn.get_paginator("list_imports").paginate(ExportName=export_name)
            for name in page["Imports"]
        )
    except ClientError as err:
        if NOT_IMPORTED in error_message(err):
            return []
        raise


def check_imports(cfn, bundle: Bundle, root_stack_id: str) -> tuple[str, ...]:
    """Raise DeployerError when a dropped or renamed export is imported; return notes otherwise."""
    stacks = {ROOT: root_stack_id} | {
        bundle.layer_of(logical_id): physical for logical_id, physical in nested_stacks(cfn, root_stack_id).items()
    }
    exported = deployed_exports(cfn, stacks)
    if not exported:
        return ()
    account = root_stack_id.split(":")[4] if root_stack_id.startswith("arn:") else ""
    files = {ROOT: bundle.root_file} | {s["layer"]: s["file"] for s in bundle.nested_stacks}
    notes: list[str] = []
    dropped: list[tuple[str, str]] = []
    for layer, names in sorted(exported.items()):
        pseudo = {
            "AWS::StackName": _name_of(stacks[layer]),
            "AWS::Region": cfn.meta.region_name,
            "AWS::AccountId": account,
            "AWS::Partition": "aws",
        }
        kept = new_exports(bundle.document(files[layer]), pseudo) if layer in files else set()
        if kept is None:
            notes.append(
                f"export names of the {layer} layer depend on values known only at deploy time: its exports were "
                "not checked for importers"
            )
            continue
        dropped += [(layer, name) for name in sorted(set(names) - kept)]
    found: list[DroppedExport] = []
    for layer, name in dropped:
        try:
            users = importers(cfn, name)
        except ClientError as err:
            if is_not_modelled(err):
                notes.append(
                    "ListImports is not modelled by the local emulator: dropped export(s) "
                    f"{', '.join(n for _, n in dropped)} were not checked for importers"
                )
                return tuple(notes)
            raise
        if users:
            found.append(DroppedExport(name, layer, tuple(users)))
    if found:
        listed = "; ".join(f"{d.name} (exported by {d.layer}) is imported by {', '.join(d.importers)}" for d in found)
        raise DeployerError(
            "the new templates drop or rename export(s) other stacks import, and the update would fail half way: "
            f"{listed}. "
            "Remove the Fn::ImportValue from those stacks first (or keep the export), then plan again"
        )
    return tuple(notes)

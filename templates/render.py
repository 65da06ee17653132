"""From config to files: build every layer, assemble the root, serialize deterministically, check
CloudFormation's limits, and write `<out>/<app>/<env>/` atomically with a manifest.
"""

from __future__ import annotations

import hashlib
import json
import os
import secrets
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from troposphere import Template

from templates import layers as layer_registry
from templates.common import Layer
from templates.config import AppConfig
from templates.errors import LimitError  # noqa: F401 (re-exported)
from templates.freshness import STAMP_FILE
from templates.limits import BODY_LIMIT, OUTPUT_LIMIT, PARAMETER_LIMIT, RESOURCE_LIMIT, S3_LIMIT, limit_problems  # noqa: F401
from templates.naming import stack_name
from templates.root import build_root

Format = Literal["json", "yaml"]
GENERATOR = "cfn-strata 0.1.0"


@dataclass(frozen=True)
class RenderedProfile:
    cfg: AppConfig
    files: dict[str, bytes]  # file name -> bytes, including manifest.json
    manifest: dict

    @property
    def stack_name(self) -> str:
        return self.manifest["stack_name"]


def serialize(template: Template | dict, fmt: Format = "json") -> bytes:
    """Sorted keys, two-space indent, trailing newline: identical input gives identical bytes."""
    document = template.to_dict() if isinstance(template, Template) else template
    text = json.dumps(document, indent=2, sort_keys=True, ensure_ascii=False) + "\n"
    if fmt == "yaml":
        from cfn_flip import to_yaml

        text = to_yaml(text, clean_up=False, long_form=False)
    return text.encode("utf-8")


def template_file(name: str, fmt: Format) -> str:
    return f"{name}.{fmt}"


def _describe(file: str, layer: str, scope: str, body: bytes, document: dict) -> dict:
    return {
        "file": file,
        "layer": layer,
        "scope": scope,
        "sha256": hashlib.sha256(body).hexdigest(),
        "bytes": len(body),
        "resources": len(document.get("Resources", {})),
        "parameters": len(document.get("Parameters", {})),
        "outputs": len(document.get("Outputs", {})),
    }


def render(cfg: AppConfig, fmt: Format = "json", *, suffix_override: str | None = None) -> RenderedProfile:
    """Every layer, the root and the manifest, in memory. Pure: no files are touched.
    `suffix_override`: cfg's suffix came from --suffix (recorded in the manifest, which then names
    a folder of its own, templates/profiles.deployment_folder)."""
    layers: list[Layer] = layer_registry.build_all(cfg)
    files: dict[str, bytes] = {}
    entries: list[dict] = []
    for layer in layers:
        document = layer.template.to_dict()  # once: troposphere's to_dict validates and copies every object
        body = serialize(document, fmt)
        name = template_file(layer.name, fmt)
        files[name] = body
        entries.append(_describe(name, layer.name, layer.scope, body, document))
    root = build_root(cfg, layers, lambda layer: template_file(layer.name, fmt))
    root_document = root.to_dict()
    root_body = serialize(root_document, fmt)
    files[template_file("root", fmt)] = root_body
    entries.insert(0, _describe(template_file("root", fmt), "root", "root", root_body, root_document))

    problems = [p for entry in entries for p in limit_problems(entry)]
    if problems:
        raise LimitError("; ".join(problems))
    manifest = {
        "generator": GENERATOR,
        "application": cfg.application,
        "environment": cfg.environment.name,
        "stage": cfg.environment.stage,
        "region": cfg.region,
        "stack_name": stack_name(cfg),
        "format": fmt,
        "root": template_file("root", fmt),
        "tags": cfg.all_tags,
        "templates": entries,
        # Layers split into parts to stay inside CloudFormation's per-template limits.
        "split": {
            family: [layer.name for layer in layers if layer.family == family]
            for family in sorted({layer.family for layer in layers if layer.family})
        },
        # Knobs the root could not re-expose (200-parameter limit): their params value applies.
        "knobs_at_defaults": root.metadata["cfn-strata"].get("knobs_at_defaults", []),
        "stacks": [
            {
                "layer": layer.name,
                "part_of": layer.kind,
                "logical_id": layer.stack_id,
                "scope": layer.scope,
                "file": template_file(layer.name, fmt),
                "inputs": {param: f"{wire.layer}.{wire.output}" for param, wire in sorted(layer.inputs.items())},
                "knobs": list(layer.knobs),
                "knob_keys": dict(sorted(layer.knob_keys.items())),
                "stateful_resources": list(layer.stateful),
            }
            for layer in layers
        ],
    }
    if suffix_override:
        manifest["suffix_override"] = (
            suffix_override  # only then: the manifests of the params files' own suffixes stay as they were
        )
    files["manifest.json"] = serialize(manifest)
    return RenderedProfile(cfg, files, manifest)


def output_dir(out: Path, cfg: AppConfig, suffix_override: str | None = None) -> Path:
    from templates.profiles import deployment_folder

    return out / cfg.application / deployment_folder(cfg.environment.name, suffix_override)


# What other commands write into OUT/<app>/<env>/ beside the generated templates: `docs`/`upload`
# (the launch kit), `plan -o html` (the review page), `upload` (CodePipeline's template
# configuration). Regeneration carries them over into the new folder (they are the record of what
# was uploaded or reviewed, and only the command that wrote one can write it again); the CLI says
# which ones describe the templates as they were.
KEPT_ON_REGENERATION = ("docs", "review.html", "template-configuration.json")


def _sibling_folder(target: Path, role: str) -> Path:
    """A new, empty folder beside `target`, created with the process's umask like any other tool's
    output (tempfile.mkdtemp would make it 0700, and the swap would keep that mode)."""
    while True:
        candidate = target.parent / f".{target.name}.{role}-{secrets.token_hex(4)}"
        try:
            candidate.mkdir()
            return candidate
        except FileExistsError:
            continue


def write_atomically(target: Path, files: dict[str, bytes], keep: tuple[str, ...] = ()) -> list[str]:
    """Write into a sibling temporary folder, then swap it in; on any failure `target` is as it was.
    The entries `keep` names are copied over from the old folder when they are there (and not among
    `files`); returns the names copied."""
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = _sibling_folder(target, "new")
    kept = []
    try:
        for name, body in files.items():
            (staging / name).write_bytes(body)
        for name in keep:
            source = target / name
            if name in files or not (source.is_file() or source.is_dir()) or source.is_symlink():
                continue
            if source.is_dir():
                shutil.copytree(source, staging / name)
            else:
                shutil.copy2(source, staging / name)
            kept.append(name)
        old = None
        if target.exists():
            old = _sibling_folder(target, "old")
            os.rmdir(old)
            os.replace(target, old)
        os.replace(staging, target)
        if old is not None:
            shutil.rmtree(old, ignore_errors=True)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return kept


def write_profile(rendered: RenderedProfile, out: Path, stamp: str | None = None) -> Path:
    """Write the profile's folder in one swap; `stamp` (templates/freshness.py) goes in with it, and
    what other commands wrote there (KEPT_ON_REGENERATION) is carried over."""
    target = output_dir(out, rendered.cfg, rendered.manifest.get("suffix_override"))
    write_atomically(
        target, rendered.files | ({STAMP_FILE: stamp.encode()} if stamp else {}), keep=KEPT_ON_REGENERATION
    )
    return target

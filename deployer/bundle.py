"""A generated environment as the deployer sees it: dist/<app>/<env>/ with its manifest."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from deployer.errors import DeployerError


@dataclass(frozen=True)
class Bundle:
    folder: Path
    manifest: dict
    files: dict[str, bytes]  # template file name -> bytes (no manifest)

    @property
    def stack_name(self) -> str:
        return self.manifest["stack_name"]

    @property
    def region(self) -> str:
        return self.manifest["region"]

    @property
    def root_file(self) -> str:
        return self.manifest["root"]

    @property
    def is_prod(self) -> bool:
        return self.manifest.get("stage") == "prod"

    @property
    def label(self) -> str:
        return f"{self.manifest['application']}/{self.manifest['environment']}"

    @property
    def nested_stacks(self) -> list[dict]:
        return [s for s in self.manifest["stacks"] if s.get("scope", "nested") == "nested"]

    def sha256(self, file: str) -> str:
        return next(t["sha256"] for t in self.manifest["templates"] if t["file"] == file)

    def document(self, file: str) -> dict:
        return parse_template(self.files[file], self.manifest.get("format", "json"))

    def layer_of(self, logical_id: str) -> str:
        """Layer name of a nested stack's logical id in the root (NetworkStack -> network)."""
        return next((s["layer"] for s in self.manifest["stacks"] if s["logical_id"] == logical_id), logical_id)

    def stateful_ids(self, layer: str) -> frozenset[str]:
        return frozenset(next((s.get("stateful_resources", []) for s in self.manifest["stacks"] if s["layer"] == layer), []))

    def policies(self) -> dict[str, dict]:
        """{layer or "root": stack policy} derived from the templates (templates/safety.py)."""
        from templates.safety import layer_policies

        return layer_policies(self.manifest, {s["file"]: self.document(s["file"]) for s in self.nested_stacks})

    def parameters(self) -> dict[str, str]:
        """Root parameters with the params file's values (the templates' defaults), as strings."""
        values = {}
        for name, spec in sorted(self.document(self.root_file).get("Parameters", {}).items()):
            if "Default" not in spec:
                raise DeployerError(f"root parameter {name} has no value in the params file (no Default)")
            default = spec["Default"]
            values[name] = ",".join(map(str, default)) if isinstance(default, list) else str(default)
        return values


def parse_template(body: bytes, fmt: str) -> dict:
    if fmt == "yaml":
        from cfn_flip import to_json

        return json.loads(to_json(body.decode("utf-8")))
    return json.loads(body)


def deployed_template(cfn, stack_id: str) -> dict:
    """The template a stack was last deployed with (GetTemplate, Original stage), parsed: JSON or YAML."""
    body = cfn.get_template(StackName=stack_id, TemplateStage="Original")["TemplateBody"]
    if isinstance(body, dict):
        return body
    try:
        return json.loads(body)
    except ValueError:
        return parse_template(body.encode("utf-8"), "yaml")


def load_bundle(folder: Path) -> Bundle:
    manifest_path = folder / "manifest.json"
    if not manifest_path.is_file():
        raise DeployerError(f"{manifest_path} not found: run `cfn-strata generate` first")
    manifest = json.loads(manifest_path.read_text())
    files = {t["file"]: (folder / t["file"]).read_bytes() for t in manifest["templates"]}
    return Bundle(folder, manifest, files)

"""A generated environment as the deployer sees it: dist/<app>/<env>/ with its manifest."""

from __future__ import annotations

import json
from dataclasses import dataclass, field, replace
from pathlib import Path

from deployer.errors import DeployerError


@dataclass(frozen=True)
class Bundle:
    folder: Path
    manifest: dict
    files: dict[str, bytes]  # template file name -> bytes (no manifest)
    # What the command line adds to the params file's values (deployer/overrides.py):
    # --parameter-overrides (root parameter -> value), --tags (stack tags the profile does not set)
    # and --role-arn (the CloudFormation service role CreateChangeSet passes as RoleARN).
    parameter_overrides: dict[str, str] = field(default_factory=dict)
    extra_tags: dict[str, str] = field(default_factory=dict)
    role_arn: str | None = None
    # Root parameters that come from the us-east-1 global stack, with the values of its outputs
    # (deployer/regional.py global_values): read from the deployed global stack, never guessed.
    global_values: dict[str, str] = field(default_factory=dict)

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
    def suffix_override(self) -> str | None:
        """The --suffix the bundle was generated with (None: the params file's suffix)."""
        return self.manifest.get("suffix_override")

    @property
    def deployment(self) -> str:
        """The deployment's folder name under OUT/<app>/ and in the bucket: dev, or dev.pr-123."""
        from templates.profiles import deployment_folder

        return deployment_folder(self.manifest["environment"], self.suffix_override)

    @property
    def label(self) -> str:
        return f"{self.manifest['application']}/{self.deployment}"

    @property
    def cli_target(self) -> str:
        """The arguments that name this deployment on the command line: `app --env dev [--suffix pr-123]`."""
        flag = f" --suffix {self.suffix_override}" if self.suffix_override else ""
        return f"{self.manifest['application']} --env {self.manifest['environment']}{flag}"

    @property
    def tags(self) -> dict[str, str]:
        """The stack tags: the profile's (manifest) and --tags, sorted by key."""
        return dict(sorted({**self.manifest["tags"], **self.extra_tags}.items()))

    def with_overrides(self, parameters: dict[str, str], tags: dict[str, str], role_arn: str | None = None) -> Bundle:
        return replace(self, parameter_overrides=dict(parameters), extra_tags=dict(tags), role_arn=role_arn)

    def with_global_values(self, values: dict[str, str]) -> Bundle:
        return replace(self, global_values=dict(values))

    @property
    def global_inputs(self) -> dict[str, str]:
        """{root parameter: output of the global stack} for every input a nested layer takes from
        the `global` layer (templates/root.py declares them as root parameters)."""
        global_layers = {s["layer"] for s in self.manifest["stacks"] if s.get("scope") == "global"}
        found = {}
        for stack in self.nested_stacks:
            for parameter, source in stack.get("inputs", {}).items():
                layer, output = source.split(".", 1)
                if layer in global_layers:
                    found[parameter] = output
        return dict(sorted(found.items()))

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
        return frozenset(
            next((s.get("stateful_resources", []) for s in self.manifest["stacks"] if s["layer"] == layer), [])
        )

    def policies(self) -> dict[str, dict]:
        """{layer or "root": stack policy} derived from the templates (templates/safety.py)."""
        from templates.safety import layer_policies

        return layer_policies(self.manifest, {s["file"]: self.document(s["file"]) for s in self.nested_stacks})

    def parameters(self) -> dict[str, str]:
        """Root parameters with the params file's values (the templates' defaults), as strings,
        the global stack's outputs for the parameters that come from it, and
        --parameter-overrides over them."""
        values = self.known_parameters()
        missing = sorted(set(self.global_inputs) - values.keys())
        if missing:
            wanted = ", ".join(f"{name} (its {self.global_inputs[name]} output)" for name in missing)
            raise DeployerError(
                f"root parameter(s) {wanted} come from the us-east-1 stack {self.stack_name}-global, which "
                "has no such output yet: "
                f"`cfn-strata deploy {self.cli_target}` creates it before the root and passes them"
            )
        return values

    def known_parameters(self) -> dict[str, str]:
        """parameters() without those of the global stack whose value is not known yet."""
        values = {}
        from_global = self.global_inputs
        for name, spec in sorted(self.document(self.root_file).get("Parameters", {}).items()):
            if name in self.parameter_overrides:
                values[name] = self.parameter_overrides[name]
                continue
            if name in from_global:
                if name in self.global_values:
                    values[name] = self.global_values[name]
                continue
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

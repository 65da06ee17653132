"""The generate command: deterministic bytes, the manifest, atomic replacement, help examples."""

from __future__ import annotations

import hashlib
import json

import pytest
from click.testing import CliRunner

from generate import cli
from templates.params import REPO_PARAMS, load_config
from templates.render import render, write_atomically
from tests.conftest import ALL_TARGETS

# Deterministic bytes across processes and hash seeds: tests/test_determinism.py.


def test_manifest_describes_every_template(tmp_path):
    result = CliRunner().invoke(
        cli, ["generate", "product-catalog", "--env", "dev", "--params", str(REPO_PARAMS), "--out", str(tmp_path)]
    )
    assert result.exit_code == 0, result.output
    folder = tmp_path / "product-catalog" / "dev"
    manifest = json.loads((folder / "manifest.json").read_text())
    assert manifest["region"] == "eu-north-1"
    assert manifest["stack_name"] == "product-catalog-pr5706"
    assert manifest["tags"] == {"Environment": "development", "EnvironmentSuffix": "pr5706", "Project": "catalog-api"}
    for entry in manifest["templates"]:
        body = (folder / entry["file"]).read_bytes()
        assert entry["sha256"] == hashlib.sha256(body).hexdigest()
        assert entry["bytes"] == len(body)
        doc = json.loads(body)
        assert entry["resources"] == len(doc["Resources"])
        assert entry["parameters"] == len(doc.get("Parameters", {}))
        assert entry["outputs"] == len(doc.get("Outputs", {}))
    # the templates, the manifest and the inputs stamp (templates/freshness.py), nothing else
    assert sorted(p.name for p in folder.iterdir()) == sorted(
        [".inputs", "manifest.json", *(e["file"] for e in manifest["templates"])]
    )


def test_atomic_write_keeps_the_old_folder_when_writing_fails(tmp_path):
    target = tmp_path / "app" / "dev"
    write_atomically(target, {"root.json": b"old\n"})
    with pytest.raises(TypeError):
        write_atomically(target, {"root.json": b"new\n", "broken.json": "not bytes"})
    assert (target / "root.json").read_bytes() == b"old\n"
    assert sorted(p.name for p in target.parent.iterdir()) == ["dev"]


def test_regenerating_replaces_stale_files(tmp_path):
    target = tmp_path / "app" / "dev"
    write_atomically(target, {"root.json": b"1", "old-layer.json": b"x"})
    write_atomically(target, {"root.json": b"2"})
    assert sorted(p.name for p in target.iterdir()) == ["root.json"]


def test_generate_without_env_writes_every_environment(tmp_path):
    result = CliRunner().invoke(cli, ["generate", "smart-task", "--params", str(REPO_PARAMS), "--out", str(tmp_path)])
    assert result.exit_code == 0, result.output
    assert sorted(p.name for p in (tmp_path / "smart-task").iterdir()) == ["dev", "prod"]


def test_unknown_profile_is_a_clear_error(tmp_path):
    result = CliRunner().invoke(cli, ["generate", "nope", "--params", str(REPO_PARAMS), "--out", str(tmp_path)])
    assert result.exit_code == 2
    assert (
        "no profile 'nope' here (base.yaml missing); profiles: ecs-ec2-api, mycandidate, "
        "platform-scale, product-catalog, product-management, smart-task" in result.stderr
    )


def test_profiles_lists_the_five_seeds():
    result = CliRunner().invoke(cli, ["profiles", "--params", str(REPO_PARAMS)])
    assert result.exit_code == 0
    for app, region in [
        ("product-catalog", "eu-north-1"),
        ("ecs-ec2-api", "us-east-1"),
        ("smart-task", "us-east-1"),
        ("mycandidate", "us-east-1"),
        ("product-management", "us-east-1"),
    ]:
        assert app in result.output and region in result.output


@pytest.mark.parametrize("command", ["generate", "lint", "profiles", "params-reference"])
def test_every_command_help_shows_an_example(command):
    result = CliRunner().invoke(cli, [command, "--help"])
    assert result.exit_code == 0
    assert "Example:" in result.output and f"cfn-strata {command}" in result.output


def test_lint_command_passes_on_a_seed_profile(tmp_path):
    result = CliRunner().invoke(
        cli, ["lint", "ecs-ec2-api", "--env", "prod", "--params", str(REPO_PARAMS), "--out", str(tmp_path)]
    )
    assert result.exit_code == 0, result.output + result.stderr
    assert "zero cfn-lint errors and warnings" in result.stderr


def test_lint_command_reports_findings_and_exits_1(tmp_path, params_copy, monkeypatch):
    """A real finding must surface as `file: resource: rule: message` and fail the command."""
    from templates import lint as lint_module

    real = lint_module.Linter.lint_file

    def lint_with_a_broken_template(self, path, region, shown=None):
        if path.name == "network.json":
            doc = json.loads(path.read_text())
            doc["Resources"]["Vpc"]["Properties"]["CidrBlock"] = "10.0.0.0/99"
            path.write_text(json.dumps(doc))
        return real(self, path, region, shown)

    monkeypatch.setattr(lint_module.Linter, "lint_file", lint_with_a_broken_template)
    result = CliRunner().invoke(
        cli, ["lint", "product-catalog", "--env", "dev", "--params", str(params_copy), "--out", str(tmp_path)]
    )
    assert result.exit_code == 1
    assert "network.json: Vpc: E" in result.output
    assert "cfn-lint error(s)/warning(s)" in result.stderr


def test_params_reference_documents_every_field():
    from templates.config import AppConfig, ServiceConfig

    result = CliRunner().invoke(cli, ["params-reference", "--markdown"])
    assert result.exit_code == 0
    for name in AppConfig.model_fields:
        assert f"| `{name}` |" in result.output
    for name in ServiceConfig.model_fields:
        assert f"| `services.<name>.{name}` |" in result.output


@pytest.mark.parametrize(("app", "env"), ALL_TARGETS)
def test_root_passes_nested_stacks_strings_only(app, env):
    """AWS::CloudFormation::Stack Parameters are strings: "you can't pass values that are of type
    CommaDelimitedList to nested stacks"; a list knob (smart-task's CallbackUrls) goes down joined."""
    root = json.loads(render(load_config(app, env, REPO_PARAMS)).files["root.json"])
    lists = {
        name
        for name, p in root["Parameters"].items()
        if p["Type"] == "CommaDelimitedList" or p["Type"].startswith("List<")
    }
    for stack in root["Resources"].values():
        for value in stack["Properties"].get("Parameters", {}).values():
            if isinstance(value, dict) and "Ref" in value:
                assert value["Ref"] not in lists, (stack, value)
            if isinstance(value, dict) and "Fn::Join" in value:
                assert value["Fn::Join"][0] == "," and value["Fn::Join"][1]["Ref"] in lists
    if app == "smart-task":
        assert root["Resources"]["AuthStack"]["Properties"]["Parameters"]["CallbackUrls"] == {
            "Fn::Join": [",", {"Ref": "CallbackUrls"}]
        }

"""Fast lint: the cache can never hide a finding, and parallel lint finds exactly what sequential finds."""

from __future__ import annotations

import json

import pytest

from templates import lint as lint_module
from templates.lint import LintCache, run_lint, tasks_for
from templates.render import write_profile
from tests.conftest import rendered


@pytest.fixture
def folder(tmp_path):
    return write_profile(rendered("product-catalog", "dev"), tmp_path / "dist")


def _keys(folder):
    return {t.shown: t.key for t in tasks_for(folder)[0]}


def test_cache_hits_when_nothing_changed(folder, tmp_path, monkeypatch):
    cache = LintCache(tmp_path / "cache")
    first = run_lint([(folder, "")], cache=cache, jobs=1)
    monkeypatch.setattr(lint_module, "Linter", lambda: pytest.fail("a warm run must not load cfn-lint"))
    assert run_lint([(folder, "")], cache=cache, jobs=1) == first


def test_changed_bytes_region_engine_or_rules_miss(folder, monkeypatch):
    before = _keys(folder)
    manifest = json.loads((folder / "manifest.json").read_text())
    child = manifest["templates"][1]["file"]
    (folder / child).write_bytes((folder / child).read_bytes() + b" ")  # a changed child template
    after = _keys(folder)
    assert after[child] != before[child]
    assert after["root.json"] != before["root.json"]  # E3043 reads the children: the root misses too
    assert (
        after["security.json" if child != "security.json" else "network.json"]
        == before["security.json" if child != "security.json" else "network.json"]
    )

    manifest["region"] = "us-east-1"
    (folder / "manifest.json").write_text(json.dumps(manifest))
    # a template of the us-east-1 global stack lints in us-east-1 whatever the profile's region
    fixed = {t["file"] for t in manifest["templates"] if t.get("scope") == "global"}
    assert fixed == {"global.json"}  # product-catalog (eu-north-1) has one: its key is the same
    moved = {name: key for name, key in _keys(folder).items() if name not in fixed}
    assert len(moved) == len(after) - 1 and set(moved.values()).isdisjoint(after.values())
    assert _keys(folder)["global.json"] == after["global.json"]

    monkeypatch.setattr(lint_module, "version", lambda name: "9.9.9")
    assert set(_keys(folder).values()).isdisjoint(after.values())
    monkeypatch.setattr(lint_module, "RULES_VERSION", "2")
    assert set(_keys(folder).values()).isdisjoint(after.values())


def test_cached_findings_are_reported_again(folder, tmp_path):
    """A template with a finding: the warm run repeats the finding, it does not turn green."""
    doc = json.loads((folder / "network.json").read_text())
    doc["Resources"]["Vpc"]["Properties"]["CidrBlock"] = "10.0.0.0/99"
    body = json.dumps(doc).encode()
    (folder / "network.json").write_bytes(body)
    cache = LintCache(tmp_path / "cache")
    cold = run_lint([(folder, "")], cache=cache, jobs=1)
    warm = run_lint([(folder, "")], cache=cache, jobs=1)
    assert any(f.file == "network.json" and f.resource == "Vpc" and f.level == "error" for f in cold)
    assert warm == cold


def test_parallel_lint_finds_exactly_what_sequential_finds(tmp_path):
    folders = []
    for app, env in [("product-catalog", "dev"), ("smart-task", "prod"), ("mycandidate", "prod")]:
        folder = write_profile(rendered(app, env), tmp_path / "dist")
        doc = json.loads((folder / "security.json").read_text())
        doc["Resources"]["ApplicationKey"]["Properties"]["EnableKeyRotation"] = "sometimes"
        (folder / "security.json").write_text(json.dumps(doc))
        folders.append((folder, f"{app}/{env}/"))
    sequential = run_lint(folders, jobs=1)
    parallel = run_lint(folders, jobs=2)
    assert parallel == sequential
    assert sum(1 for f in sequential if f.resource == "ApplicationKey") == 3


# ------------------------------------------------------------------ reusing dist/ (templates/freshness.py)


def _params_copy(tmp_path):
    import shutil

    from templates.profiles import REPO_PARAMS

    params = tmp_path / "params"
    shutil.copytree(REPO_PARAMS / "product-catalog", params / "product-catalog")
    return params


def test_dist_is_reused_only_while_every_input_and_every_template_byte_is_unchanged(tmp_path, monkeypatch):
    import generate
    from templates import freshness

    params, out = _params_copy(tmp_path), tmp_path / "dist"
    target = [("product-catalog", "dev")]
    [(folder, manifest)] = generate.up_to_date(target, str(params), out)
    assert (folder / freshness.STAMP_FILE).read_text() == freshness.inputs_digest(
        params, "product-catalog", "dev", "json"
    )

    generated = []
    real = generate.generate_all
    monkeypatch.setattr(generate, "generate_all", lambda *a: generated.append(a[0]) or real(*a))
    assert generate.up_to_date(target, str(params), out) == [(folder, manifest)]
    assert generated == []  # nothing changed: nothing generated

    overlay = params / "product-catalog" / "dev.yaml"
    overlay.write_text(overlay.read_text() + "\n# a comment is a change of input\n")
    generate.up_to_date(target, str(params), out)
    assert generated == [target]

    root = folder / "root.json"
    root.write_bytes(root.read_bytes().replace(b'"Resources"', b'"Resources" ', 1))  # hand-edited dist/
    generate.up_to_date(target, str(params), out)
    assert generated == [target, target]
    assert (
        json.loads(root.read_bytes())
        and root.read_bytes()
        == real(target, str(params), tmp_path / "again", "json")[0][1].joinpath("root.json").read_bytes()
    )


def test_the_stamp_covers_the_generator_source_and_the_library_versions(tmp_path, monkeypatch):
    from templates import freshness

    params = _params_copy(tmp_path)
    before = freshness.inputs_digest(params, "product-catalog", "dev", "json")
    assert freshness.inputs_digest(params, "product-catalog", "dev", "yaml") != before
    assert freshness.inputs_digest(params, "product-catalog", "nope", "json") is None

    import shutil

    original, package = freshness.PACKAGE, tmp_path / "package"
    shutil.copytree(original, package, ignore=shutil.ignore_patterns("__pycache__"))
    monkeypatch.setattr(freshness, "PACKAGE", package)
    assert freshness.inputs_digest(params, "product-catalog", "dev", "json") == before
    (package / "network.py").write_text((package / "network.py").read_text() + "\n# changed\n")
    assert freshness.inputs_digest(params, "product-catalog", "dev", "json") != before

    monkeypatch.setattr(freshness, "PACKAGE", original)
    monkeypatch.setattr(freshness, "_version", lambda name: "9.9.9" if name == "troposphere" else "1")
    assert freshness.inputs_digest(params, "product-catalog", "dev", "json") != before

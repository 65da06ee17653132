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
    assert after["security.json" if child != "security.json" else "network.json"] == before["security.json" if child != "security.json" else "network.json"]

    manifest["region"] = "us-east-1"
    (folder / "manifest.json").write_text(json.dumps(manifest))
    assert set(_keys(folder).values()).isdisjoint(after.values())

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

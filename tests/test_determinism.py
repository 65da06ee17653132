"""Deterministic output across processes: every profile rendered by two separate Python processes
with different PYTHONHASHSEED values gives byte-identical files (set or dict order that depends on
string hashing would differ between them; two builds inside one process share one seed and
cannot show it), and each manifest records the sha256 and size of exactly the bytes written."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from templates.params import REPO_PARAMS
from tests.conftest import ALL_TARGETS

ROOT = Path(__file__).resolve().parents[1]
RENDER = """
import sys
from pathlib import Path
import generate
from templates.params import REPO_PARAMS, available_profiles
targets = [(app, env) for app, envs in available_profiles(REPO_PARAMS).items() for env in envs]
generate.generate_all(targets, str(REPO_PARAMS), Path(sys.argv[1]) / "json", "json")
"""


def _tree(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


@pytest.fixture(scope="module")
def trees(tmp_path_factory) -> list[tuple[Path, dict[str, bytes]]]:
    """Every profile rendered by two processes with PYTHONHASHSEED 1 and 2 (run concurrently)."""
    out = tmp_path_factory.mktemp("seeds")
    running = []
    for seed in ("1", "2"):
        env = dict(os.environ, PYTHONHASHSEED=seed, PYTHONPATH=str(ROOT))
        running.append(
            (
                out / seed,
                subprocess.Popen(
                    [sys.executable, "-c", RENDER, str(out / seed)],
                    cwd=ROOT,
                    env=env,
                    stdout=subprocess.PIPE,
                    stderr=subprocess.STDOUT,
                ),
            )
        )
    for _folder, process in running:
        output, _ = process.communicate(timeout=600)
        assert process.returncode == 0, output.decode()
    return [(folder, _tree(folder)) for folder, _ in running]


def test_two_processes_with_different_hash_seeds_write_identical_bytes(trees):
    (_, first), (_, second) = trees
    assert sorted(first) == sorted(second)
    differing = [name for name in first if first[name] != second[name]]
    assert differing == []
    roots = [name for name in first if name.endswith(("root.json", "root.yaml"))]
    assert len(roots) == len(ALL_TARGETS) >= 10


def test_the_processes_write_what_the_golden_files_pin(trees):
    (folder, first), _ = trees
    golden = ROOT / "tests" / "golden"
    for app, env in ALL_TARGETS:
        for path in sorted((golden / app / env).iterdir()):
            assert first[f"json/{app}/{env}/{path.name}"] == path.read_bytes(), f"{app}/{env}/{path.name}"


def _check_manifest(target: Path, fmt: str) -> None:
    manifest = json.loads((target / "manifest.json").read_bytes())
    assert manifest["format"] == fmt
    on_disk = sorted(p.name for p in target.iterdir() if p.name not in ("manifest.json", ".inputs"))
    assert sorted(e["file"] for e in manifest["templates"]) == on_disk
    for entry in manifest["templates"]:
        body = (target / entry["file"]).read_bytes()
        assert (entry["sha256"], entry["bytes"]) == (hashlib.sha256(body).hexdigest(), len(body)), (
            f"{target}/{entry['file']}"
        )


def test_every_manifest_records_the_bytes_written(trees):
    (folder, _), _ = trees
    for app, env in ALL_TARGETS:
        _check_manifest(folder / "json" / app / env, "json")


def test_a_yaml_manifest_records_the_yaml_bytes_written(tmp_path):
    import generate

    generate.generate_all([("product-catalog", "prod")], str(REPO_PARAMS), tmp_path, "yaml")
    target = tmp_path / "product-catalog" / "prod"
    assert (target / "root.yaml").exists() and not (target / "root.json").exists()
    _check_manifest(target, "yaml")

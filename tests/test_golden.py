"""Golden files: every generated file of every profile and environment, byte for byte.

A renamed logical id replaces the resource in AWS; a changed create-only property replaces it too.
Both pass every targeted test, so the whole output is pinned here. After an intended change,
refresh with `python -m pytest tests/test_golden.py --update-golden` and review the diff of
tests/golden/ like any other change: it shows exactly what the change does to the templates.
"""

from __future__ import annotations

import difflib
import shutil
from pathlib import Path

import pytest

from tests.conftest import ALL_TARGETS, rendered

GOLDEN = Path(__file__).parent / "golden"


def _first_difference(expected: bytes, actual: bytes, name: str) -> str:
    diff = difflib.unified_diff(
        expected.decode().splitlines(),
        actual.decode().splitlines(),
        f"golden/{name}",
        f"generated/{name}",
        lineterm="",
        n=2,
    )
    return "\n".join(list(diff)[:40])


@pytest.mark.parametrize(("app", "env"), ALL_TARGETS)
def test_generated_files_equal_the_golden_files(app, env, request):
    files = rendered(app, env).files
    folder = GOLDEN / app / env
    if request.config.getoption("--update-golden"):
        shutil.rmtree(folder, ignore_errors=True)
        folder.mkdir(parents=True)
        for name, body in files.items():
            (folder / name).write_bytes(body)
        return
    assert folder.is_dir(), f"no golden files for {app}/{env}: run pytest tests/test_golden.py --update-golden"
    golden = {path.name: path.read_bytes() for path in sorted(folder.iterdir())}
    assert sorted(golden) == sorted(files), "the generated file set differs from tests/golden"
    assert len(files) >= 3  # root, at least one layer and the manifest: the comparison saw real output
    for name, body in sorted(files.items()):
        assert body == golden[name], f"{app}/{env}/{name} differs from its golden file:\n" + _first_difference(
            golden[name], body, f"{app}/{env}/{name}"
        )

"""ruff holds the code to pyproject.toml's [tool.ruff] (line length 120, import order, unused code,
bugbear, pyupgrade): the check and the formatter both, over every Python file of the repository.
It proves it looked: the files ruff checked are the repository's Python files."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def ruff() -> list[str]:
    found = shutil.which("ruff", path=str(Path(sys.executable).parent)) or shutil.which("ruff")
    assert found, "ruff is a test extra: pip install -e '.[test]'"
    return [found]


def _python_files() -> set[str]:
    listed = subprocess.run(
        ["git", "ls-files", "--cached", "--others", "--exclude-standard", "*.py"],
        cwd=ROOT,
        capture_output=True,
        text=True,
    )
    if listed.returncode != 0:
        pytest.skip("not a git checkout: the file list to compare with comes from git")
    return {name for name in listed.stdout.split() if not name.startswith("tests/golden/")}


def test_ruff_checks_every_python_file(ruff):
    shown = subprocess.run(ruff + ["check", "--show-files"], cwd=ROOT, capture_output=True, text=True, check=True)
    checked = {str(Path(line).resolve().relative_to(ROOT)) for line in shown.stdout.split()}
    expected = _python_files()
    assert len(expected) > 100 and expected <= checked, sorted(expected - checked)[:10]


def test_ruff_finds_nothing(ruff):
    done = subprocess.run(ruff + ["check", "--output-format", "concise", "."], cwd=ROOT, capture_output=True, text=True)
    assert done.returncode == 0, done.stdout[-4000:] + done.stderr[-2000:]


def test_the_code_is_formatted(ruff):
    done = subprocess.run(ruff + ["format", "--check", "."], cwd=ROOT, capture_output=True, text=True)
    assert done.returncode == 0, done.stdout[-4000:]

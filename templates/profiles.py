"""Where params live and which profiles exist: file-system work only (no YAML, no pydantic), so
commands that only need the list of targets start fast."""

from __future__ import annotations

import os
from pathlib import Path

REPO_PARAMS = Path(__file__).resolve().parent.parent / "params"


def params_root(explicit: str | os.PathLike | None = None) -> Path:
    """--params, else $CFN_STRATA_PARAMS, else ./params when present, else the repository's params/."""
    if explicit:
        return Path(explicit)
    if env := os.environ.get("CFN_STRATA_PARAMS"):
        return Path(env)
    local = Path("params")
    return local if local.is_dir() else REPO_PARAMS


def available_profiles(root: Path) -> dict[str, list[str]]:
    """{application: [environment, ...]} for every folder under root with a base.yaml."""
    profiles: dict[str, list[str]] = {}
    if root.is_dir():
        for folder in sorted(p for p in root.iterdir() if (p / "base.yaml").is_file()):
            profiles[folder.name] = sorted(p.stem for p in folder.glob("*.yaml") if p.stem != "base")
    return profiles

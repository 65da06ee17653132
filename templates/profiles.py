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


# The output folder of a deployment: OUT/<app>/<env>/, and OUT/<app>/<env>.<suffix>/ for one whose
# environment.suffix comes from --suffix (a per-PR environment from the dev overlay). "." appears
# in neither an environment name ([a-z][a-z0-9-]*) nor a suffix ([a-z0-9-]), so a suffixed folder
# never collides with an environment's, and it is a character S3 keys carry unescaped (the folder
# name is also the S3 key folder, deployer/store.py).
SUFFIX_SEPARATOR = "."


def deployment_folder(environment: str, suffix: str | None = None) -> str:
    """`dev`, or `dev.pr-123` for --suffix pr-123."""
    return f"{environment}{SUFFIX_SEPARATOR}{suffix}" if suffix else environment

"""Facts about AWS that the params model validates against: regions and RDS engine versions.

Engine versions come from the data cfn-lint ships (the same data behind its W3690/W3691
deprecation warnings), read as JSON so that loading params does not pay cfn-lint's import cost.
"""

from __future__ import annotations

import functools
import importlib.util
import json
from pathlib import Path

# Commercial, GovCloud and China partition regions CloudFormation deploys to.
REGIONS = frozenset(
    {
        "af-south-1",
        "ap-east-1",
        "ap-east-2",
        "ap-northeast-1",
        "ap-northeast-2",
        "ap-northeast-3",
        "ap-south-1",
        "ap-south-2",
        "ap-southeast-1",
        "ap-southeast-2",
        "ap-southeast-3",
        "ap-southeast-4",
        "ap-southeast-5",
        "ap-southeast-7",
        "ca-central-1",
        "ca-west-1",
        "eu-central-1",
        "eu-central-2",
        "eu-north-1",
        "eu-south-1",
        "eu-south-2",
        "eu-west-1",
        "eu-west-2",
        "eu-west-3",
        "il-central-1",
        "me-central-1",
        "me-south-1",
        "mx-central-1",
        "sa-east-1",
        "us-east-1",
        "us-east-2",
        "us-west-1",
        "us-west-2",
        "us-gov-east-1",
        "us-gov-west-1",
        "cn-north-1",
        "cn-northwest-1",
    }
)


def _extensions_dir() -> Path:
    spec = importlib.util.find_spec("cfnlint")
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError("cfn-lint is not installed; it is a dependency of cfn-strata")
    return Path(next(iter(spec.submodule_search_locations))) / "data" / "schemas" / "extensions"


def _versions_by_engine(path: Path, *, deprecated: bool) -> dict[str, list[str]]:
    document = json.loads(path.read_text(encoding="utf-8"))
    versions: dict[str, list[str]] = {}
    for clause in document["allOf"]:
        properties = clause["if"]["properties"]
        engine = properties.get("Engine", {}).get("const")
        if not engine:
            continue
        # The deprecated file lists versions in the `if`; the full file lists them in the `then`.
        holder = properties if deprecated else clause["then"]["properties"]
        versions[engine] = [str(v) for v in holder["EngineVersion"]["enum"]]
    return versions


@functools.cache
def creatable_engine_versions(resource: str) -> dict[str, tuple[str, ...]]:
    """Engine versions AWS still lets a new `resource` (dbinstance or dbcluster) be created on."""
    folder = _extensions_dir() / f"aws_rds_{resource}"
    known = _versions_by_engine(folder / "engine_version.json", deprecated=False)
    retired = _versions_by_engine(folder / "engine_version_deprecated.json", deprecated=True)
    return {
        engine: tuple(v for v in versions if v not in set(retired.get(engine, ())))
        for engine, versions in known.items()
    }


def _version_key(version: str) -> tuple:
    return tuple(int(p) if p.isdigit() else p for p in version.replace("-", ".").split("."))


def supported_versions(engine: str, major: str) -> list[str]:
    """Creatable versions of `engine` within `major` (e.g. "15"), oldest first."""
    resource = "dbcluster" if engine.startswith("aurora") else "dbinstance"
    versions = creatable_engine_versions(resource).get(engine, ())
    chosen = [v for v in versions if v.split(".")[0] == major and "limitless" not in v]
    return sorted(chosen, key=_version_key)

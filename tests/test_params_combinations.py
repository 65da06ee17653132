"""Issue 14: every combination of the params model's structural choices that the model accepts
generates, and lints clean, with no traceback on the way.

Hypothesis draws over the model's own choices, read from templates/config.py (the Literal of
`database.engine`, of `storage_type`, of `capacity_providers`, of `deployment`, of `stage`, ...):
engine (with a creatable version of it) x replicas x multi_az x proxy x storage x instance class x
launch type x a mix of web services and workers (rolling or blue/green, CPU / memory / request
targets) x cache x EFS x stage. A drawn combination the model refuses must be refused with one
ConfigError (file, key, message); one it accepts must render and lint with zero errors and
warnings. The lint runs in this process with one Linter, and a lint cache that only this test
module uses, so a template one example shares with another (network, auth, ...) is linted once.
"""

from __future__ import annotations

import shutil
import tempfile
import typing
from pathlib import Path

import pytest
import yaml
from hypothesis import HealthCheck, Phase, event, given, settings
from hypothesis import strategies as st

from templates.catalog import supported_versions
from templates.config import (
    AURORA_MYSQL_3,
    RETIRED_BY_SEED_README,
    ComputeConfig,
    ConfigError,
    DatabaseConfig,
    EnvironmentConfig,
    ServiceConfig,
)
from templates.lint import LintCache, run_lint
from templates.observability import AURORA_MYSQL_MAX_CONNECTIONS, DB_CLASS_MEMORY_GIB
from templates.params import REPO_PARAMS, load_config
from templates.render import render, write_profile

BASE = "smart-task"  # us-east-1, every layer: CloudFront + WAF, Cognito, pipelines, canaries


def _choices(model, field: str) -> tuple:
    annotation = model.model_fields[field].annotation
    if typing.get_origin(annotation) is list:
        annotation = typing.get_args(annotation)[0]
    return typing.get_args(annotation)


ENGINES = _choices(DatabaseConfig, "engine")
STORAGE = _choices(DatabaseConfig, "storage_type")
PROVIDERS = _choices(ComputeConfig, "capacity_providers")
DEPLOYMENTS = _choices(ServiceConfig, "deployment")
STAGES = _choices(EnvironmentConfig, "stage")
REPLICAS = tuple(
    sorted(
        {m.ge for m in DatabaseConfig.model_fields["replicas"].metadata if hasattr(m, "ge")}
        | {1, 2}
        | {m.le for m in DatabaseConfig.model_fields["replicas"].metadata if hasattr(m, "le")}
    )
)


def _versions(engine: str) -> list[str]:
    if engine == "aurora-mysql":
        return [v for v in supported_versions(engine, "8") if v.startswith(AURORA_MYSQL_3)]
    newest_major = {"postgres": "16", "mysql": "8", "aurora-postgresql": "16"}[engine]
    return [v for v in supported_versions(engine, newest_major) if (engine, v) not in RETIRED_BY_SEED_README]


@st.composite
def databases(draw) -> dict | None:
    if draw(st.booleans()) and draw(st.booleans()):
        return None  # a quarter of the examples: no database
    engine = draw(st.sampled_from(ENGINES))
    classes = sorted(AURORA_MYSQL_MAX_CONNECTIONS if engine == "aurora-mysql" else DB_CLASS_MEMORY_GIB)
    db = {
        "engine": engine,
        "engine_version": draw(st.sampled_from(_versions(engine))),
        "instance_class": draw(st.sampled_from(classes)),
        "multi_az": draw(st.booleans()),
        "replicas": draw(st.sampled_from(REPLICAS)),
        "proxy": draw(st.booleans()),
        "performance_insights": draw(st.booleans()),
        "monitoring_interval": draw(st.sampled_from([0, 60])),
    }
    if not engine.startswith("aurora"):
        storage = draw(st.sampled_from(STORAGE))
        db["storage_type"] = storage
        if storage in ("io1", "io2"):
            db |= {"allocated_storage": 100, "iops": draw(st.sampled_from([1000, 3000, 5000]))}
        if draw(st.booleans()):
            db["max_allocated_storage"] = 200
    return db


@st.composite
def services(draw) -> dict:
    """One to three services, each behind the load balancer (its own path) or a worker."""
    count = draw(st.integers(1, 3))
    out = {}
    for index in range(count):
        worker = draw(st.booleans())
        svc = {
            "port": 8080 + index,
            "cpu": 512,
            "memory": 1024,
            "health_check": {"path": "/health"},
            "secrets": ["database"],
        }
        scaling = {"cpu_target": draw(st.sampled_from([None, 70])), "memory_target": draw(st.sampled_from([None, 75]))}
        if worker:
            svc["path_patterns"] = []
        else:
            svc["path_patterns"] = ["/*"] if index == count - 1 else [f"/svc{index}/*"]
            svc["deployment"] = draw(st.sampled_from(DEPLOYMENTS))
            if svc["deployment"] == "rolling" and draw(st.booleans()):
                scaling["requests_per_target"] = 500
        svc["autoscaling"] = scaling
        svc["container_health_check"] = draw(st.booleans())
        out[f"svc{index}"] = svc
    return out


@st.composite
def profiles(draw) -> tuple[dict, str]:
    """A base.yaml document derived from smart-task's, and the stage its overlay asks for."""
    document = yaml.safe_load((REPO_PARAMS / BASE / "base.yaml").read_text())
    document["services"] = draw(services())
    db = draw(databases())
    if db is None:
        document.pop("database")
        for svc in document["services"].values():
            svc["secrets"] = []
    else:
        document["database"] = db
    provider = draw(st.sampled_from([[p] for p in PROVIDERS] + [["FARGATE", "FARGATE_SPOT"]]))
    document["compute"] = {"capacity_providers": provider}
    if provider == ["EC2"]:
        document["compute"]["ec2"] = {"instance_type": "t3.medium", "min_size": 1, "max_size": 4}
    if draw(st.booleans()):
        document["cache"] = {"replicas": draw(st.sampled_from([0, 1]))}
    if draw(st.booleans()):
        document["efs"] = {}
        next(iter(document["services"].values()))["efs_mount_path"] = "/data"
    return document, draw(st.sampled_from(STAGES))


@pytest.fixture(scope="module")
def lint_cache(tmp_path_factory) -> LintCache:
    return LintCache(tmp_path_factory.mktemp("combination-lint-cache"))


@settings(
    max_examples=15,
    deadline=None,
    phases=[Phase.explicit, Phase.reuse, Phase.generate],
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(profile=profiles())
def test_every_accepted_combination_generates_and_lints_clean(profile, linter, lint_cache):
    document, stage = profile
    with tempfile.TemporaryDirectory() as scratch:
        root = Path(scratch) / "params"
        shutil.copytree(REPO_PARAMS / BASE, root / BASE)
        (root / BASE / "base.yaml").write_text(yaml.safe_dump(document, sort_keys=False))
        # The overlay keeps what makes it its stage (environment, tags); the drawn base decides the rest
        # (smart-task's prod overlay would otherwise put back db.m5.large and a cache).
        overlay = yaml.safe_load((REPO_PARAMS / BASE / f"{stage}.yaml").read_text())
        (root / BASE / f"{stage}.yaml").write_text(
            yaml.safe_dump({k: v for k, v in overlay.items() if k in ("environment", "tags")}, sort_keys=False)
        )
        env = stage  # smart-task's dev and prod overlays are its dev and prod stages
        try:
            cfg = load_config(BASE, env, root)
        except ConfigError as err:  # refused: one clear error, naming the file and the key
            assert err.file.endswith((f"{BASE}/base.yaml", f"{BASE}/{env}.yaml")) and err.key and err.message
            event(f"refused at {err.key}")
            return
        event("accepted")
        profile_render = render(cfg)  # must not raise
        folder = write_profile(profile_render, Path(scratch) / "out")
        findings = [
            f for f in run_lint([(folder, "")], cache=lint_cache, linter=linter) if f.level in ("error", "warning")
        ]
        assert findings == [], yaml.safe_dump(document, sort_keys=False) + "\n" + "\n".join(map(str, findings))

"""Stage-dependent defaults are resolved once, in the params model (STAGE_DEFAULTS): layers read
plain values, and a value the params file sets always wins."""

from __future__ import annotations

import pytest

from templates.config import STAGE_DEFAULTS, AppConfig
from templates.params import REPO_PARAMS, load_config


def _unset(stage: str) -> dict:
    """mycandidate's params (every defaulted section present) with the stage-dependent keys left null."""
    data = load_config("mycandidate", "dev", REPO_PARAMS).model_dump()
    data["environment"]["stage"] = stage
    for section, key, _, _ in STAGE_DEFAULTS:
        data[section][key] = None
    data["cache"]["automatic_failover"] = None
    return data


@pytest.mark.parametrize(
    ("stage", "expected"),
    [
        (
            "dev",
            {
                "nat_gateways": "single",
                "secret_recovery_window_days": 0,
                "deletion_protection": False,
                "mfa": "OPTIONAL",
                "enabled": False,
            },
        ),
        (
            "prod",
            {
                "nat_gateways": "per_az",
                "secret_recovery_window_days": 30,
                "deletion_protection": True,
                "mfa": "ON",
                "enabled": True,
            },
        ),
    ],
)
def test_stage_defaults_are_plain_values_in_the_model(stage, expected):
    cfg = AppConfig.model_validate(_unset(stage))
    got = {key: getattr(getattr(cfg, section), key) for section, key, _, _ in STAGE_DEFAULTS}
    assert got == expected


def test_a_value_the_params_set_wins_over_the_stage_default():
    data = _unset("prod")
    data["network"]["nat_gateways"] = "single"
    data["database"]["deletion_protection"] = False
    cfg = AppConfig.model_validate(data)
    assert (cfg.network.nat_gateways, cfg.database.deletion_protection, cfg.auth.mfa) == ("single", False, "ON")


@pytest.mark.parametrize(("replicas", "failover"), [(0, False), (1, True), (5, True)])
def test_cache_failover_defaults_to_having_a_replica(replicas, failover):
    data = _unset("dev")
    data["cache"]["replicas"] = replicas
    assert AppConfig.model_validate(data).cache.automatic_failover is failover


def test_a_profile_without_a_database_gets_no_database_defaults():
    data = _unset("prod")
    data["database"] = None
    data["services"]["web"]["secrets"] = []
    assert AppConfig.model_validate(data).database is None

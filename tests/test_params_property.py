"""Property-based tests of the loader: any document either loads or raises the one ConfigError
type naming a file (and, for model errors, a key path) — never another exception."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from templates.config import AppConfig, ConfigError
from templates.params import REPO_PARAMS, deep_merge, load_config

scalars = st.one_of(
    st.none(), st.booleans(), st.integers(-(10**6), 10**6), st.floats(allow_nan=False), st.text(max_size=20)
)
documents = st.recursive(
    scalars,
    lambda inner: st.one_of(st.lists(inner, max_size=4), st.dictionaries(st.text(max_size=12), inner, max_size=5)),
    max_leaves=20,
)
KEYS = [
    "network",
    "services",
    "database",
    "region",
    "environment",
    "edge",
    "cache",
    "compute",
    "az_count",
    "port",
    "cpu",
    "api",
    "suffix",
    "public_subnets",
]


def _load(tmp: Path, overlay_text: str):
    folder = tmp / "params" / "product-catalog"
    if not folder.exists():
        shutil.copytree(REPO_PARAMS / "product-catalog", folder)
    (folder / "dev.yaml").write_text(overlay_text)
    return load_config("product-catalog", "dev", tmp / "params")


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(document=documents)
def test_any_yaml_document_loads_or_raises_config_error(tmp_path, document):
    try:
        cfg = _load(tmp_path, yaml.safe_dump(document))
    except ConfigError as err:
        assert err.file.endswith("dev.yaml") or err.file.endswith("base.yaml")
        assert err.message
    else:
        assert isinstance(cfg, AppConfig)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_mutating_a_valid_profile_loads_or_names_the_key(tmp_path, data):
    """Overlay a random value at a random real key path of a valid profile."""
    base = yaml.safe_load((REPO_PARAMS / "product-catalog" / "base.yaml").read_text())
    path = []
    node = base
    while isinstance(node, dict) and node and data.draw(st.booleans()):
        key = data.draw(st.sampled_from(sorted(node)))
        path.append(key)
        node = node[key]
    if not path:
        path = [data.draw(st.sampled_from(KEYS))]
    overlay: dict = data.draw(documents)
    for key in reversed(path):
        overlay = {key: overlay}
    try:
        cfg = _load(tmp_path, yaml.safe_dump(overlay))
    except ConfigError as err:
        # a model error always names its key path, and it is the key the overlay changed, or (a
        # cross-reference such as a service's `database` secret when the overlay removed the
        # database) a key whose message names the changed section
        assert err.key, str(err)
        assert err.file.endswith(("dev.yaml", "base.yaml")), str(err)
        changed = err.key.split(".")[0].split("[")[0] == path[0]
        assert changed or path[0] in err.message, f"overlay at {'.'.join(path)}, error names another key: {err}"
        if changed:
            assert err.file.endswith("dev.yaml"), f"the changed key is in dev.yaml: {err}"
    else:
        assert isinstance(cfg, AppConfig)
        assert cfg.environment.name and cfg.services  # a loaded profile is a whole one


def test_a_wrong_value_at_a_known_key_is_rejected_naming_that_key_and_a_right_one_arrives(tmp_path):
    with pytest.raises(ConfigError) as rejected:
        _load(tmp_path, yaml.safe_dump({"services": {"api": {"port": "not-a-port"}}}))
    assert rejected.value.file.endswith("product-catalog/dev.yaml")
    assert rejected.value.key == "services.api.port"
    assert _load(tmp_path, yaml.safe_dump({"services": {"api": {"port": 8080}}})).services["api"].port == 8080


@given(st.text(max_size=200))
@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
def test_arbitrary_text_never_escapes_as_another_exception(tmp_path, text):
    try:
        _load(tmp_path, text)
    except ConfigError:
        pass


@given(
    st.dictionaries(st.text(max_size=5), documents, max_size=4),
    st.dictionaries(st.text(max_size=5), documents, max_size=4),
)
def test_deep_merge_overlay_wins_and_keeps_base_keys(base, overlay):
    merged = deep_merge(base, overlay)
    assert set(merged) == set(base) | set(overlay)
    for key, value in overlay.items():
        if not (isinstance(value, dict) and isinstance(base.get(key), dict)):
            assert merged[key] == value

"""Shared fixtures: generated templates per profile and environment, parsed from the exact bytes
the CLI writes (rendering is pure and deterministic, so one render per session is enough)."""

from __future__ import annotations

import functools
import json
from pathlib import Path

import pytest

from templates.params import REPO_PARAMS, available_profiles, load_config
from templates.render import RenderedProfile, render, serialize

PROFILES = available_profiles(REPO_PARAMS)
ALL_TARGETS = [(app, env) for app, envs in PROFILES.items() for env in envs]


@functools.cache
def rendered(app: str, env: str) -> RenderedProfile:
    return render(load_config(app, env, REPO_PARAMS))


@functools.cache
def template(app: str, env: str, layer: str) -> dict:
    """The parsed JSON template of one layer ("root", "network", ...)."""
    return json.loads(rendered(app, env).files[f"{layer}.json"])


def parts(built) -> list:
    """A layer module's result as a list of layers (a split layer returns several)."""
    return built if isinstance(built, list) else [built]


def merged(built) -> dict:
    """One document with the resources of every part of a (possibly split) layer, parsed from the
    bytes the renderer writes; parameters and outputs are those of the first (main) part."""
    first, *rest = parts(built)
    doc = json.loads(serialize(first.template))
    for part in rest:
        doc["Resources"].update(json.loads(serialize(part.template))["Resources"])
    return doc


def resources(doc: dict, type_: str) -> dict[str, dict]:
    """{logical id: resource} of one type."""
    return {k: v for k, v in doc.get("Resources", {}).items() if v["Type"] == type_}


def one(doc: dict, type_: str) -> tuple[str, dict]:
    found = resources(doc, type_)
    assert len(found) == 1, f"expected one {type_}, found {sorted(found)}"
    return next(iter(found.items()))


@pytest.fixture(autouse=True)
def _private_lint_cache(tmp_path_factory, monkeypatch):
    """Tests never read or fill the user's lint cache: a finding a test injects through a patched
    Linter would otherwise be hidden by a clean result cached by an earlier `cfn-strata lint`."""
    monkeypatch.setenv("CFN_STRATA_CACHE", str(tmp_path_factory.mktemp("lint-cache")))


@pytest.fixture(scope="session")
def linter():
    from templates.lint import Linter

    return Linter()


@pytest.fixture
def params_copy(tmp_path: Path) -> Path:
    """A writable copy of the shipped params folder."""
    import shutil

    target = tmp_path / "params"
    shutil.copytree(REPO_PARAMS, target)
    return target


@pytest.fixture(scope="module")
def endpoint():
    """The local emulator (moto's server on loopback) for one test module; `aws_env` empties it."""
    from deployer.local import local_endpoint

    with local_endpoint() as running:
        yield running.url


@pytest.fixture
def aws_env(endpoint, monkeypatch, tmp_path):
    """An empty emulator and the environment of a machine with no AWS config: its URL."""
    import urllib.request

    urllib.request.urlopen(urllib.request.Request(f"{endpoint}/moto-api/reset", method="POST")).read()
    for name, value in {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_SESSION_TOKEN": "testing",
    }.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("AWS_PROFILE", raising=False)
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "no-config"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "no-credentials"))
    return endpoint


def pytest_addoption(parser):
    parser.addoption(
        "--update-golden",
        action="store_true",
        default=False,
        help="rewrite tests/golden/ from the generator instead of comparing against it (review the diff)",
    )

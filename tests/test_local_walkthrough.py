"""Local mode keeps its account in .cfn-strata/local/ (deployer/local.py), and the offline
walkthrough of README.md (Deploying, "An offline walkthrough") end to end through the CLI in a
temporary directory: deploy, change the container port, plan (nested changes computed offline),
deploy, outputs, diff, plan again ("no changes"), destroy."""

from __future__ import annotations

import json
import pickle
import shutil
import threading
from pathlib import Path

import boto3
import pytest
from click.testing import CliRunner

import generate
from deployer.errors import DeployerError
from deployer.local import LocalState, local_endpoint
from deployer.review import Risk

PARAMS = Path(__file__).resolve().parents[1] / "params"
BUCKET = "kept-between-commands"


def _s3(url: str):
    return boto3.client(
        "s3", endpoint_url=url, region_name="eu-north-1", aws_access_key_id="testing", aws_secret_access_key="testing"
    )


def test_the_account_is_kept_between_runs_and_reset_empties_it(tmp_path):
    state = LocalState(tmp_path / ".cfn-strata" / "local")
    with local_endpoint(state) as endpoint:
        _s3(endpoint.url).create_bucket(Bucket=BUCKET, CreateBucketConfiguration={"LocationConstraint": "eu-north-1"})
        _s3(endpoint.url).put_object(Bucket=BUCKET, Key="k", Body=b"kept")
    assert state.file.is_file()
    with local_endpoint(state) as endpoint:
        from deployer.flow import create_bucket

        create_bucket(
            _s3(endpoint.url), BUCKET, "eu-north-1", tls_only=False
        )  # what every --local command does: the bucket stays as it is
        assert _s3(endpoint.url).get_object(Bucket=BUCKET, Key="k")["Body"].read() == b"kept"
    with local_endpoint() as endpoint:  # no state: an empty account, and the kept one is untouched
        assert _s3(endpoint.url).list_buckets()["Buckets"] == []
    assert state.reset() is True
    with local_endpoint(state) as endpoint:
        assert _s3(endpoint.url).list_buckets()["Buckets"] == []
    assert state.reset() is True and state.reset() is False


def test_a_state_from_another_moto_is_refused_and_left_as_it_is(tmp_path):
    state = LocalState(tmp_path)
    tmp_path.mkdir(exist_ok=True)
    state.file.write_bytes(pickle.dumps({"format": 1, "moto": "0.0.1", "python": "3.0"}) + b"rest")
    before = state.file.read_bytes()
    with pytest.raises(DeployerError, match=r"written by another moto/Python .*cfn-strata local reset"):
        with local_endpoint(state):
            pass
    assert state.file.read_bytes() == before


def test_two_commands_in_one_directory_take_turns(tmp_path):
    state = LocalState(tmp_path)
    inside, release = threading.Event(), threading.Event()

    def holder():
        with state.locked():
            inside.set()
            release.wait(10)

    thread = threading.Thread(target=holder)
    thread.start()
    inside.wait(10)
    try:
        with pytest.raises(DeployerError, match="another cfn-strata --local command"):
            with state.locked(wait_seconds=0.3):
                pass
    finally:
        release.set()
        thread.join()
    with state.locked(wait_seconds=1):  # free again
        pass


# ------------------------------------------------------------------ the walkthrough


def run(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(generate.cli, list(args))
    return result.exit_code, result.output


def command(verb: str, *extra: str, params: Path | None = None) -> tuple[int, str]:
    common = ["product-catalog", "--env", "dev", "--local"] + (["--params", str(params)] if params else [])
    if verb in ("plan", "deploy"):
        common.append("--skip-lint")  # lint has its own tests; this one is about the emulator's account
    return run(verb, *common, *extra)


def params_with(tmp_path: Path, name: str, old: str, new: str) -> Path:
    folder = tmp_path / name
    shutil.copytree(PARAMS, folder)
    base = folder / "product-catalog" / "base.yaml"
    text = base.read_text()
    assert text.count(old) == 1, old
    base.write_text(text.replace(old, new))
    return folder


def named_resources(dist: Path) -> set[tuple[str, str]]:
    """(layer, logical id) of every resource the generated templates give a name that blocks a replacement."""
    from deployer.bundle import load_bundle
    from deployer.flow import facts

    return set(facts(load_bundle(dist / "product-catalog" / "dev")).names)


@pytest.fixture
def workdir(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    for name in ("AWS_PROFILE", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "no-config"))
    monkeypatch.setenv("COLUMNS", "200")
    return tmp_path


def test_offline_walkthrough(workdir):
    code, output = command("deploy", "--yes")
    assert code == 0, output
    assert "CREATE_COMPLETE: product-catalog-pr5706" in output
    assert (workdir / ".cfn-strata" / "local" / "emulator.pickle").is_file()

    code, output = command("outputs", "-o", "json")  # a new command, a new emulator: the same account
    assert code == 0, output
    first_outputs = json.loads(output)
    assert first_outputs["NetworkVpcId"].startswith("vpc-")

    # change the container port 3000 -> 8080 in a copy of the params folder
    port_params = params_with(workdir, "params-8080", "port: 3000", "port: 8080")
    code, output = command("plan", "-o", "json", params=port_params)
    assert code == 0, output
    review = json.loads(output[output.index("{") :])
    assert review["schema_version"] == 2
    assert {c["risk"] for c in review["changes"]} <= {r.name for r in Risk} and review["highest_risk"] in {
        r.name for r in Risk
    }
    assert not any(n.startswith("no nested change set was reported") for n in review["notes"])
    changes = {(c["layer"], c["logical_id"]): c for c in review["changes"]}
    task = changes[("compute", "ServiceApiTaskDefinition")]
    assert (task["action"], task["replacement"], task["policy_action"]) == ("Modify", "True", "ReplaceAndDelete")
    port = [
        p for p in task["properties"] if p["path"] == "/Properties/ContainerDefinitions/0/PortMappings/0/ContainerPort"
    ]
    assert [(p["before"], p["after"], p["requires_recreation"], p["change_source"]) for p in port] == [
        ("3000", "8080", "Always", "DirectModification")
    ]
    # every replacement of a custom-named resource will fail, and only those fail for their name
    named = named_resources(workdir / "dist")
    for key, change in changes.items():
        assert ("custom-name" in change["blockers"]) == (
            change["replacement"] == "True"
            and key in named
            and not any(p["name"] == name_of(change["resource_type"]) for p in change["properties"])
        ), key
        assert (change["risk"] == "WILL_FAIL") == bool(change["blockers"]), key
    # what carries traffic and is replaced is at least MEDIUM
    for change in changes.values():
        from resource_semantics import carries_traffic

        if change["replacement"] == "True" and carries_traffic(change["resource_type"]):
            assert Risk[change["risk"]] >= Risk.MEDIUM and "interrupts traffic" in change["reasons"]
    failing = [key for key, c in changes.items() if c["risk"] == "WILL_FAIL"]

    code, output = command("plan", params=port_params)  # the table: nested rows with before -> after
    assert code == 0 and "3000 → 8080" in output

    code, output = command("deploy", "--yes", params=port_params)
    if failing:  # the generator names a resource the port change replaces: refused, nothing executed
        assert code == 1, output
        assert "cannot be executed" in output and all(
            f"{layer}/{logical_id}" in " ".join(output.split()) for layer, logical_id in failing
        )
        # a change that can execute: one more task for the service (a root parameter into compute)
        deployable = params_with(workdir, "params-3-tasks", "desired_count: 2", "desired_count: 3")
        code, output = command("plan", "-o", "json", params=deployable)
        review = json.loads(output[output.index("{") :])
        service = next(c for c in review["changes"] if c["logical_id"] == "ServiceApiService")
        assert [
            (p["path"], p["before"], p["after"], p["change_source"], p["causing_entity"]) for p in service["properties"]
        ] == [("/Properties/DesiredCount", "2", "3", "ParameterReference", "ServiceApiDesiredCount")]
        assert review["highest_risk"] != "WILL_FAIL"
        code, output = command("deploy", "--yes", params=deployable)
    else:
        deployable = port_params
    assert code == 0, output
    assert "UPDATE_COMPLETE: product-catalog-pr5706" in output

    code, output = command("outputs", "-o", "json", params=deployable)
    assert code == 0, output
    assert json.loads(output)["NetworkVpcId"].startswith("vpc-")

    code, output = command("diff", params=deployable)
    assert code == 0 and "no differences" in " ".join(output.split()), output

    code, output = command("plan", params=deployable)
    assert code == 0 and "no changes: product-catalog-pr5706 is up to date" in output, output

    code, output = command("destroy", "--yes", params=deployable)
    assert code == 0 and "deleted product-catalog-pr5706" in output, output
    code, output = command("outputs", params=deployable)
    assert (
        code == 1
        and "error: stack product-catalog-pr5706 is not deployed: it has no outputs in eu-north-1 (`cfn-strata "
        "deploy` creates it)"
        in " ".join(output.split())
    )
    code, output = command("destroy", "--yes", params=deployable)
    assert code == 0 and "stack product-catalog-pr5706 is not deployed: nothing to delete in eu-north-1" in " ".join(
        output.split()
    ), output

    code, output = run("local", "reset")
    assert code == 0 and "is empty" in output
    assert not (workdir / ".cfn-strata" / "local" / "emulator.pickle").exists()


def name_of(resource_type: str) -> str | None:
    from resource_semantics import name_property

    prop = name_property(resource_type)
    return prop.split("/")[0] if prop else None

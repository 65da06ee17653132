"""Every prod environment passes checkov's CloudFormation checks with zero failures; every skip is
declared on its resource with a reason and listed in the README.

checkov is run once per environment folder: checkov 3.3.30 given several `-d` folders in one run
scans the first folder once per `-d` (the five reports of one such run all said 110 resources, the
count of ecs-ec2-api), so a single run could pass on templates it never read. Each report's
resource count is compared with the resources in that folder's templates.

checkov pins old boto3/packaging/networkx, so it lives in a virtualenv of its own
(.venv-checkov, or $CFN_STRATA_CHECKOV pointing at a checkov executable), created on first use.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from templates.render import write_profile
from tests.conftest import ALL_TARGETS, rendered

ROOT = Path(__file__).resolve().parent.parent
CHECKOV_VERSION = "3.3.30"
PROD = sorted(app for app, env in ALL_TARGETS if env == "prod")
# Two checkov processes at a time: the machine (and CI) has two cores, and one checkov run is
# mostly CPU (parsing and graph building), so more would only take turns.
CONCURRENT_RUNS = 2


@pytest.fixture(scope="session")
def checkov() -> str:
    explicit = os.environ.get("CFN_STRATA_CHECKOV")
    if explicit:
        return explicit
    venv = ROOT / ".venv-checkov"
    executable = venv / "bin" / "checkov"
    if not executable.exists():
        try:
            subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, capture_output=True)
            subprocess.run(
                [str(venv / "bin" / "pip"), "install", "-q", f"checkov=={CHECKOV_VERSION}"],
                check=True,
                capture_output=True,
                timeout=600,
            )
        except (subprocess.CalledProcessError, subprocess.TimeoutExpired) as err:
            if os.environ.get("CI"):
                raise
            pytest.skip(f"checkov could not be installed into {venv}: {err}")
    return str(executable)


def template_resources(folder: Path) -> dict[str, int]:
    """{template file: number of resources} of every CloudFormation template in the folder."""
    counts = {}
    for path in sorted(folder.glob("*.json")):
        if path.name == "manifest.json":
            continue
        counts[path.name] = len(json.loads(path.read_text())["Resources"])
    return counts


def run_checkov(checkov: str, folder: Path) -> dict:
    """One checkov run over one folder; its CloudFormation report."""
    command = [checkov, "--framework", "cloudformation", "--skip-download", "--quiet", "-o", "json", "-d", str(folder)]
    done = subprocess.run(command, capture_output=True, text=True, timeout=600)
    try:
        report = json.loads(done.stdout)
    except json.JSONDecodeError:
        raise AssertionError(
            f"checkov printed no JSON report for {folder} (exit {done.returncode}): "
            f"{done.stdout[-1000:]} {done.stderr[-2000:]}"
        ) from None
    reports = report if isinstance(report, list) else [report]
    found = [r for r in reports if r.get("check_type") == "cloudformation"]
    assert len(found) == 1, (
        f"expected one cloudformation report for {folder}, got "
        f"{[r.get('check_type') for r in reports]}: {done.stderr[-2000:]}"
    )
    return found[0]


@pytest.fixture(scope="session")
def prod_folders(tmp_path_factory) -> dict[str, Path]:
    out = tmp_path_factory.mktemp("checkov-dist")
    return {app: write_profile(rendered(app, "prod"), out) for app in PROD}


@pytest.fixture(scope="session")
def checkov_reports(checkov, prod_folders) -> dict[str, dict]:
    """One checkov process per prod environment, CONCURRENT_RUNS at a time."""
    with ThreadPoolExecutor(max_workers=CONCURRENT_RUNS) as pool:
        futures = {app: pool.submit(run_checkov, checkov, folder) for app, folder in prod_folders.items()}
        return {app: future.result() for app, future in futures.items()}


def test_every_prod_environment_is_scanned():
    assert len(PROD) == 5, PROD


@pytest.mark.parametrize("app", PROD)
def test_prod_environment_passes_checkov(app, checkov_reports, prod_folders):
    report = checkov_reports[app]
    summary = report["summary"]
    expected = template_resources(prod_folders[app])
    # checkov read every resource of this environment's templates, and only those.
    assert summary["resource_count"] == sum(expected.values()), (summary, expected)
    assert summary["parsing_errors"] == 0, summary
    failures = [
        f"{check['file_path']}: {check['resource']}: {check['check_id']}: {check['check_name']}"
        for check in report.get("results", {}).get("failed_checks", [])
    ]
    assert failures == [], "\n".join(failures)
    assert summary["failed"] == 0, summary
    assert summary["passed"] > summary["resource_count"], summary


def test_a_failure_is_reported(checkov, tmp_path):
    """The gate can fail: a bucket without versioning or logging in a folder of its own."""
    bucket = {"Type": "AWS::S3::Bucket", "Properties": {"BucketName": "plain-bucket-example"}}
    (tmp_path / "plain.json").write_text(
        json.dumps({"AWSTemplateFormatVersion": "2010-09-09", "Resources": {"Plain": bucket}})
    )
    report = run_checkov(checkov, tmp_path)
    assert report["summary"]["resource_count"] == 1
    failed = {check["check_id"] for check in report["results"]["failed_checks"]}
    assert {"CKV_AWS_18", "CKV_AWS_21"} <= failed, failed


def test_every_skip_has_a_reason_and_is_in_the_readme():
    readme = (ROOT / "README.md").read_text()
    seen = set()
    for app, env in ALL_TARGETS:
        for file, body in rendered(app, env).files.items():
            if file == "manifest.json":
                continue
            for lid, resource in json.loads(body).get("Resources", {}).items():
                for skip in resource.get("Metadata", {}).get("checkov", {}).get("skip", []):
                    assert len(skip["comment"]) > 20, (file, lid, skip)
                    seen.add(skip["id"])
    for check_id in seen:
        assert f"`{check_id}`" in readme, (
            f"{check_id} is skipped in a template but not listed in the README's security section"
        )

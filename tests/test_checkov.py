"""Every prod environment passes checkov's CloudFormation checks with zero failures; every skip is
declared on its resource with a reason and listed in the README.

checkov pins old boto3/packaging/networkx, so it lives in a virtualenv of its own
(.venv-checkov, or $CFN_STRATA_CHECKOV pointing at a checkov executable), created on first use.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from templates.render import write_profile
from tests.conftest import ALL_TARGETS, rendered

ROOT = Path(__file__).resolve().parent.parent
CHECKOV_VERSION = "3.3.30"


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
            subprocess.run([str(venv / "bin" / "pip"), "install", "-q", f"checkov=={CHECKOV_VERSION}"], check=True, capture_output=True, timeout=600)
        except (subprocess.CalledProcessError, subprocess.TimeoutExpired) as err:
            if os.environ.get("CI"):
                raise
            pytest.skip(f"checkov could not be installed into {venv}: {err}")
    return str(executable)


@pytest.fixture(scope="session")
def prod_folders(tmp_path_factory) -> list[Path]:
    out = tmp_path_factory.mktemp("checkov-dist")
    return [write_profile(rendered(app, env), out) for app, env in ALL_TARGETS if env == "prod"]


def test_prod_templates_pass_checkov(checkov, prod_folders):
    command = [checkov, "--framework", "cloudformation", "--skip-download", "--quiet", "-o", "json"]
    for folder in prod_folders:
        command += ["-d", str(folder)]
    done = subprocess.run(command, capture_output=True, text=True, timeout=900)
    reports, text, decoder = [], done.stdout.strip(), json.JSONDecoder()
    while text:  # one JSON document per -d folder, printed one after another
        report, end = decoder.raw_decode(text)
        reports.extend(report if isinstance(report, list) else [report])
        text = text[end:].strip()
    assert len(reports) == len(prod_folders), done.stderr[-2000:]
    failures = [
        f"{check['file_path']}: {check['resource']}: {check['check_id']}: {check['check_name']}"
        for report in reports
        for check in report.get("results", {}).get("failed_checks", [])
    ]
    assert failures == [], "\n".join(failures)
    passed = sum(report.get("summary", {}).get("passed", 0) for report in reports)
    assert passed > 0, "checkov scanned nothing"


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
        assert f"`{check_id}`" in readme, f"{check_id} is skipped in a template but not listed in the README's security section"

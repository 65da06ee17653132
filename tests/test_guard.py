"""Every prod environment passes a pinned selection of the AWS Guard Rules Registry's IAM,
encryption, TLS, logging and rotation rules (tests/guard-rules/, README there names the registry
commit), run by CloudFormation Guard through its Python binding (cfn-guard-rs, pinned in setup.cfg).
Every exception is declared on its resource (Metadata.guard.SuppressedRules, with
Metadata.guard.Reasons) and listed in the README.

cfn-guard-rs 0.3.3's non-verbose report comes back cut at the front for some failing inputs (seen
on the pipeline roles: the string starts in the middle of a policy), so the test reads the verbose
report, an event tree that parses whole, and takes a failure from it: a rule whose RuleCheck
failed, and under it each clause whose value check failed, outside the `let` filters.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from templates.guard import CHECKOV_TWINS, EXCEPTIONS
from tests.conftest import ALL_TARGETS, rendered

cfn_guard_rs = pytest.importorskip("cfn_guard_rs.cfn_guard_rs", reason="pip install -e '.[test]' installs cfn-guard-rs")

ROOT = Path(__file__).resolve().parent.parent
RULES_DIR = Path(__file__).resolve().parent / "guard-rules"
RULE_NAME = re.compile(r"^rule\s+([A-Z0-9_]+)", re.MULTILINE)
RESOURCE = re.compile(r"^/Resources/([^/]+)")
PROD = sorted(app for app, env in ALL_TARGETS if env == "prod")


def load_rules() -> dict[str, str]:
    """{rule file stem: text} of the pinned selection."""
    return {path.stem: path.read_text() for path in sorted(RULES_DIR.glob("*.guard"))}


RULES = load_rules()
RULE_NAMES = {name for text in RULES.values() for name in RULE_NAME.findall(text)}


def _reports_on(text: str) -> set[str]:
    """The resource types a registry rule's header says it reports on."""
    header = text.split("Reports on:", 1)[1].split("# Evaluates:", 1)[0] if "Reports on:" in text else ""
    return set(re.findall(r"AWS::[A-Za-z0-9]+::[A-Za-z0-9]+", header))


REPORTS_ON = {name: _reports_on(text) for text in RULES.values() for name in RULE_NAME.findall(text)}


def _paths(node, out: set[str]) -> None:
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "path" and isinstance(value, str):
                out.add(value)
            else:
                _paths(value, out)
    elif isinstance(node, list):
        for value in node:
            _paths(value, out)


def _failed_clauses(node, out: set[str]) -> None:
    """Resource ids in the failed value checks under `node`, not descending into filters or the
    rule's `when` condition (their failures only select resources)."""
    container = node.get("container")
    if isinstance(container, dict):
        if "Filter" in container or "RuleCondition" in container:
            return
        check = container.get("ClauseValueCheck")
        if check is not None:
            if '"status": "FAIL"' in json.dumps(check):
                paths: set[str] = set()
                _paths(check, paths)
                found = {m.group(1) for p in paths if (m := RESOURCE.match(p))}
                out.update(found or {"(template)"})
            return
    for child in node.get("children", []):
        _failed_clauses(child, out)


def evaluate(document: dict, rules: str) -> tuple[list[tuple[str, str]], set[str]]:
    """([(rule, resource id)] that failed, {resource ids guard's report visited}). A failed clause
    that looked at other resources too (a lookup by logical id) is put on the resources of the
    types the rule reports on."""
    report = json.loads(cfn_guard_rs.run_checks_rs(json.dumps(document), rules, True))
    failures: list[tuple[str, str]] = []
    for rule in report.get("children", []):
        check = (rule.get("container") or {}).get("RuleCheck")
        if check and check["status"] == "FAIL":
            resources: set[str] = set()
            _failed_clauses(rule, resources)
            kinds = REPORTS_ON.get(check["name"], set())
            reported = {lid for lid in resources if document["Resources"].get(lid, {}).get("Type") in kinds}
            resources = reported or resources
            failures += [(check["name"], resource) for resource in sorted(resources or {"(template)"})]
    visited: set[str] = set()
    _paths(report, visited)
    return failures, {m.group(1) for p in visited if (m := RESOURCE.match(p))}


def templates_of(app: str, env: str) -> dict[str, dict]:
    return {file: json.loads(body) for file, body in rendered(app, env).files.items() if file != "manifest.json"}


def test_the_rule_selection_is_pinned_and_whole():
    readme = (RULES_DIR / "README.md").read_text()
    assert re.search(r"aws-guard-rules-registry.*commit `[0-9a-f]{40}`", readme), (
        "the rules folder's README names the registry commit"
    )
    listed = set(re.findall(r"^- `([a-z0-9_]+)\.guard`", readme, re.MULTILINE))
    assert listed == set(RULES), ("README list and rule files differ", listed ^ set(RULES))
    assert len(RULES) >= 35 and all(RULE_NAME.search(text) for text in RULES.values()), "every file defines a rule"


def test_a_violation_is_found():
    """The gate can fail: a role with an inline policy, a bucket without logging or versioning."""
    document = {
        "Resources": {
            "Role": {
                "Type": "AWS::IAM::Role",
                "Properties": {"AssumeRolePolicyDocument": {}, "Policies": [{"PolicyName": "p", "PolicyDocument": {}}]},
            },
            "Bucket": {"Type": "AWS::S3::Bucket", "Properties": {}},
        }
    }
    rules = "\n".join(
        RULES[name]
        for name in ("iam_no_inline_policy_check", "s3_bucket_logging_enabled", "s3_bucket_versioning_enabled")
    )
    failures, visited = evaluate(document, rules)
    assert sorted(failures) == [
        ("IAM_NO_INLINE_POLICY_CHECK", "Role"),
        ("S3_BUCKET_LOGGING_ENABLED", "Bucket"),
        ("S3_BUCKET_VERSIONING_ENABLED", "Bucket"),
    ]
    assert visited == {"Role", "Bucket"}


@pytest.mark.parametrize("app", PROD)
def test_prod_environment_passes_the_guard_rules(app):
    failures, evaluated, expected = [], set(), set()
    rules = "\n".join(RULES.values())
    for file, document in templates_of(app, "prod").items():
        found, visited = evaluate(document, rules)
        failures += [f"{file}: {resource}: {rule}" for rule, resource in found]
        evaluated |= {f"{file}:{lid}" for lid in visited}
        expected |= {f"{file}:{lid}" for lid in document["Resources"]}
    # Guard's own report went through every resource of every template of this environment.
    assert len(evaluated) == len(expected) and evaluated == expected, sorted(expected ^ evaluated)[:20]
    assert failures == [], "\n".join(failures)


def test_every_guard_exception_has_a_reason_names_a_pinned_rule_and_is_in_the_readme():
    readme = (ROOT / "README.md").read_text()
    seen = set()
    for app, env in ALL_TARGETS:
        for file, document in templates_of(app, env).items():
            for lid, resource in document["Resources"].items():
                guard = resource.get("Metadata", {}).get("guard")
                if guard is None:
                    continue
                assert sorted(guard["Reasons"]) == guard["SuppressedRules"], (file, lid)
                for rule, reason in guard["Reasons"].items():
                    assert rule in RULE_NAMES, f"{file} {lid}: {rule} is no rule of tests/guard-rules"
                    assert len(reason) > 40, (file, lid, rule)
                    seen.add(rule)
    for rule in seen:
        assert f"`{rule}`" in readme, (
            f"{rule} is suppressed in a template but not listed in the README's security section"
        )
    declared = {rule for twins in CHECKOV_TWINS.values() for rule in twins} | {rule for _, _, rule, _ in EXCEPTIONS}
    assert declared <= RULE_NAMES, declared - RULE_NAMES

"""cfn-lint, in process: rules are loaded once and every template of every profile is checked
against its own region, from the written files (so E3043 can compare the root's nested-stack
parameters with the child templates beside it).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from templates.render import limit_problems

# Ignores are rare; each carries its reason. Keyed by (rule id, template file, path element).
IGNORED = {
    (
        "W3002",
        "root",
        "TemplateURL",
    ): "dist/ roots name their children by relative file name, as `aws cloudformation package` input does; "
    "the deployer rewrites every TemplateURL to the uploaded S3 URL before anything reaches CloudFormation",
}


@dataclass(frozen=True, order=True)
class Finding:
    file: str
    resource: str
    rule: str
    level: str  # error | warning | informational
    message: str
    line: int = 0

    def __str__(self) -> str:
        return f"{self.file}: {self.resource}: {self.rule}: {self.message}"


class Linter:
    """Holds cfn-lint's rules (loaded once) and lints files against a region."""

    def __init__(self) -> None:
        from cfnlint.config import ConfigMixIn
        from cfnlint.runner.cli import Runner

        self._config_type = ConfigMixIn
        self._rules = Runner(ConfigMixIn(cli_args=[], regions=["us-east-1"])).rules

    def lint_file(self, path: Path, region: str, shown: str | None = None) -> list[Finding]:
        from cfnlint.decode import decode
        from cfnlint.runner.template.runner import _run_template

        shown = shown or str(path)
        template, errors = decode(str(path))
        if errors:
            return [Finding(shown, "-", m.rule.id, "error", m.message, m.linenumber) for m in errors]
        config = self._config_type(cli_args=[], regions=[region])
        findings = []
        for match in _run_template(str(path), template, config, self._rules):
            if _ignored(match, path):
                continue
            where = match.path or []
            resource = str(where[1]) if len(where) > 1 and where[0] in ("Resources", "Parameters", "Outputs", "Conditions") else "-"
            findings.append(Finding(shown, resource, match.rule.id, _level(match.rule.id), match.message, match.linenumber))
        return sorted(findings)


def _level(rule_id: str) -> str:
    return {"E": "error", "W": "warning"}.get(rule_id[:1], "informational")


def _ignored(match, path: Path) -> bool:
    where = [str(p) for p in (match.path or [])]
    return any(rule == match.rule.id and path.stem == file and element in where for rule, file, element in IGNORED)


def lint_directory(linter: Linter, folder: Path, shown_prefix: str = "") -> list[Finding]:
    """Lint every template a manifest lists in `folder`, plus CloudFormation's hard limits."""
    manifest = json.loads((folder / "manifest.json").read_text())
    findings: list[Finding] = []
    for entry in manifest["templates"]:
        region = "us-east-1" if entry["scope"] == "global" else manifest["region"]
        shown = f"{shown_prefix}{entry['file']}"
        findings.extend(linter.lint_file(folder / entry["file"], region, shown))
        for problem in limit_problems(entry):
            findings.append(Finding(shown, "-", "LIMIT", "error", problem))
    return findings

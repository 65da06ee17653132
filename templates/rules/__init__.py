"""The project's policy as cfn-lint rules: one rule class per file, ids E9001-E9008 and the
pre-flight rules E9010-E9016 (errors) and W9008 (warnings), a range cfn-lint itself does not use.

cfn-lint loads them like any `--append-rules` directory (files whose names start with a letter;
`_policy.py` holds the shared helpers and is not a rule), so the same folder also works with the
plain CLI: `cfn-lint --append-rules "$(python -c 'import templates.rules as r; print(r.RULES_DIR)')" t.json`.
"""

from __future__ import annotations

from pathlib import Path

RULES_DIR = str(Path(__file__).resolve().parent)


def project_rules() -> list:
    """Instances of the project's rules, sorted by id (imports cfn-lint)."""
    from cfnlint.rules import Rules

    return sorted(Rules.create_from_directory(RULES_DIR).values(), key=lambda rule: rule.id)


def level(rule_id: str) -> str:
    return {"E": "error", "W": "warning"}.get(rule_id[:1], "informational")

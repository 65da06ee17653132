"""Every profile and environment: zero cfn-lint errors and warnings, within CloudFormation's limits."""

from __future__ import annotations

import pytest

from templates.lint import lint_directory
from templates.render import write_profile
from tests.conftest import ALL_TARGETS, rendered


@pytest.mark.parametrize(("app", "env"), ALL_TARGETS)
def test_profile_lints_clean(app, env, linter, tmp_path):
    folder = write_profile(rendered(app, env), tmp_path)
    findings = [f for f in lint_directory(linter, folder) if f.level in ("error", "warning")]
    assert findings == [], "\n".join(map(str, findings))

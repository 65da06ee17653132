"""Issue 16: the rough edges a newcomer meets in the first hour."""

from __future__ import annotations

import re

import pytest
from click.testing import CliRunner

from generate import cli


# ------------------------------------------------------------------ params-reference


def test_params_reference_prints_types_as_people_write_them():
    result = CliRunner().invoke(cli, ["params-reference"])
    assert result.exit_code == 0, result.output
    text = result.output
    assert "network.public_subnets  (list of CIDR; required)" in text
    assert "security.secret_recovery_window_days  (int or null; default null)" in text
    assert "network.nat_gateways  (one of: none, single, per_az, or null; default null)" in text
    assert "services  (map of name to section; required)" in text
    assert "security.app_secrets  (list of name (a-z, 0-9, single dashes); default [])" in text
    for internal in ("Annotated", "FieldInfo", "typing.", "Literal[", "Optional[", "NoneType", "&#124;", "\\|", "<class"):
        assert internal not in text, internal


def test_params_reference_markdown_escapes_for_markdown_only():
    from templates.reference import Row, params_reference_markdown, reference_rows

    markdown = CliRunner().invoke(cli, ["params-reference", "--markdown"]).output
    assert markdown.startswith("| key | type | default | description |\n|---|---|---|---|\n")
    assert "| `network.public_subnets` | list of CIDR | required |" in markdown
    assert "| `security.secret_recovery_window_days` | int or null | `null` |" in markdown
    assert all(internal not in markdown for internal in ("Annotated", "FieldInfo", "&#124;", "NoneType"))
    # a pipe in a description is escaped in the Markdown table and printed as it is in the text view
    import templates.reference as reference

    row = Row("x", "string", "required", "a | b")
    original = reference.reference_rows
    try:
        reference.reference_rows = lambda: [row]
        assert "| a \\| b |" in params_reference_markdown()
        assert "\\|" not in reference.params_reference_text() and "a | b" in reference.params_reference_text()
    finally:
        reference.reference_rows = original
    assert len(reference_rows()) > 150


# ------------------------------------------------------------------ W9008 opt-outs from the params


def test_a_root_service_with_a_writable_root_lints_clean_when_the_params_give_the_reasons(params_copy, tmp_path):
    """`user: root` + `readonly_root_filesystem: false` made lint refuse with advice no params key
    could follow; the reasons now land in Metadata cfn-strata and W9008 accepts them."""
    import yaml

    overlay = params_copy / "smart-task" / "dev.yaml"
    data = yaml.safe_load(overlay.read_text())
    data.setdefault("services", {}).setdefault("frontend", {}).update({
        "port": 80, "user": "root", "root_user_reason": "nginx binds port 80 and drops to its worker user",
        "readonly_root_filesystem": False, "writable_root_reason": "nginx writes its pid file and cache under /var",
    })
    overlay.write_text(yaml.safe_dump(data))
    result = CliRunner().invoke(cli, ["lint", "smart-task", "--env", "dev", "--params", str(params_copy), "--out", str(tmp_path / "dist"), "--no-cache"])
    assert result.exit_code == 0, result.output
    assert "W9008" not in result.output
    del data["services"]["frontend"]["root_user_reason"]
    overlay.write_text(yaml.safe_dump(data))
    refused = CliRunner().invoke(cli, ["generate", "smart-task", "--env", "dev", "--params", str(params_copy), "--out", str(tmp_path / "dist")])
    assert refused.exit_code == 2
    assert "services.frontend.user: 'root' is root and needs root_user_reason" in refused.stderr

"""The README's params reference is the model's, and its commands exist."""

from __future__ import annotations

from pathlib import Path

from templates.reference import params_reference_markdown

README = (Path(__file__).resolve().parent.parent / "README.md").read_text()


def test_readme_params_reference_matches_the_model():
    section = README.split("<!-- params-reference:start -->\n", 1)[1].split("<!-- params-reference:end -->", 1)[0]
    assert section.strip() == params_reference_markdown().strip(), "run: cfn-strata params-reference --readme README.md"


def test_readme_test_command_is_what_ci_runs():
    ci = (Path(__file__).resolve().parent.parent / ".ci" / "run").read_text().strip().splitlines()[-1]
    assert ci in README


def test_readme_first_command_runs_the_whole_flow_locally(tmp_path, monkeypatch):
    """The README's first command, after its install step, exactly as written."""
    import shlex

    from click.testing import CliRunner

    from generate import cli

    first = next(line for line in README.splitlines() if "cfn-strata deploy" in line and "--local" in line)
    command = shlex.split(first.split("&& cfn-strata ", 1)[1])
    assert command[:4] == ["deploy", "product-catalog", "--env", "dev"] and "--local" in command
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(cli, command)
    assert result.exit_code == 0, result.output
    assert "CREATE_COMPLETE: product-catalog-pr5706" in result.output
    assert (tmp_path / "dist" / "product-catalog" / "dev" / "root.json").exists()

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

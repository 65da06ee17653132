"""Issue 17 items 5 and 7: the review fits 80 columns without cutting a word, `deploy` shows the
review in the chosen format before it asks (stdout one JSON document with -o json), plan/deploy
reuse the lint cache, a cold lint shows progress, and conflicting or ignored flags exit 2."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from click.testing import CliRunner
from rich.console import Console

import generate
from deployer.review import Risk, _properties, _why, table_for_width, to_compact_table, to_table
from tests.test_deployer_review import recorded_review

PARAMS = Path(__file__).resolve().parents[1] / "params"
HEADERS = ("risk", "change (layer/logical id type, action, replacement, old copy)")


def render(renderable, width: int) -> list[str]:
    console = Console(width=width, color_system=None, record=True, file=open("/dev/null", "w"))
    console.print(renderable)
    return console.export_text().splitlines()


def data_words(review) -> set[str]:
    """Every whitespace-separated word the review's data, title, caption and headers hold."""
    from deployer.review import SUMMARY_LEGEND, summary_line

    texts = [
        f"change set {review.change_set_name} on {review.stack_name}",
        summary_line(review),
        SUMMARY_LEGEND,
        *HEADERS,
        "changed:",
        "why:",
        "replacement:",
        "old copy:",
    ]
    for c in review.changes:
        texts += [
            c.risk.label,
            f"{c.layer}/{c.logical_id}",
            c.resource_type,
            c.action,
            c.replacement or "",
            c.policy_action or "",
            _properties(c),
            _why(c),
        ]
    return {w for text in texts for w in text.split()}


def test_the_review_at_80_columns_fits_and_cuts_no_word():
    review = recorded_review()
    lines = render(table_for_width(review, 80), 80)
    assert max(len(line) for line in lines) <= 80
    tokens = [t.rstrip(",") for line in lines for t in line.split() if set(t) - set("─━")]
    words = {w.rstrip(",") for w in data_words(review)}
    cut = [t for t in tokens if t not in words]
    assert (
        cut == []
    )  # a word broken across lines would leave fragments ("FlowLo", "gsLogG") that are no word of the data
    for c in review.changes:  # every change is there, its id whole, on the line that starts with its risk
        assert any(line.startswith(c.risk.label) and f"{c.layer}/{c.logical_id}" in line for line in lines), (
            c.logical_id
        )
    # measured: 38 lines at 80 columns (the wide table took 120); 22 at 200 (the wide table), each with the
    # legend's line
    assert len(lines) <= 40
    wide = render(table_for_width(review, 200), 200)
    assert len(wide) == 22 and any(
        "replacement" in line and "old copy" in line and "changed properties" in line for line in wide
    )


def test_the_wide_table_is_kept_where_it_cuts_no_word_and_compact_below():
    review = recorded_review()
    assert table_for_width(review, 200).columns[1].header == "layer"  # the wide table
    assert table_for_width(review, 120).columns[1].header == HEADERS[1]
    assert to_table(review).row_count == to_compact_table(review).row_count == 10


def test_the_compact_table_keeps_what_the_wide_one_says():
    review = recorded_review()
    text = "\n".join(render(to_compact_table(review), 80))
    flat = " ".join(text.split())
    assert (
        "DATA LOSS network/FlowLogsLogGroup AWS::Logs::LogGroup, Modify, replacement: True, old copy: ReplaceAndDelete"
        in flat
    )
    assert "changed: CidrBlock (Conditionally)" in flat
    assert "why: conditional replacement; caused by CidrBlock (Conditionally, ParameterReference: VpcCidr)" in flat
    assert (
        "LOW security/ApplicationKeyAlias AWS::KMS::Alias, Modify changed: TargetKeyId" in flat
    )  # replacement False is not shown
    assert review.highest is Risk.DATA_LOSS


# ------------------------------------------------------------------ deploy shows the review first


@pytest.fixture
def workdir(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    for name in ("AWS_PROFILE", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "no-config"))
    return tmp_path


def deploy(*extra: str, input: str | None = None):
    return CliRunner().invoke(
        generate.cli,
        ["deploy", "product-catalog", "--env", "dev", "--local", "--skip-lint", "--params", str(PARAMS), *extra],
        input=input,
    )


def test_deploy_json_stdout_is_exactly_one_json_document(workdir):
    result = deploy("--yes", "-o", "json")
    assert result.exit_code == 0, result.stderr
    document = json.loads(result.stdout)  # the outputs table is not on stdout
    assert document["schema_version"] == 2
    assert document["stack_name"] == "product-catalog-pr5706"
    assert document["changes"] and all(c["risk"] in Risk.__members__ for c in document["changes"])
    assert document["highest_risk"] in Risk.__members__
    assert "CREATE_COMPLETE: product-catalog-pr5706" in result.stderr and "outputs" in result.stderr

    again = deploy("--yes", "-o", "json")  # nothing changed: still one JSON document, the empty review
    assert again.exit_code == 0, again.stderr
    empty = json.loads(again.stdout)
    assert (empty["changes"], empty["highest_risk"], empty["stack_name"]) == ([], None, "product-catalog-pr5706")
    assert "no changes" in again.stderr


def test_deploy_html_writes_the_page_and_prints_its_path_before_it_asks(workdir):
    page = workdir / "the-review.html"
    # the web ACL's ARN by hand: the root's change set is made before the question (without it the
    # root's comes after the us-east-1 global stack is executed: tests/test_global_stack.py)
    result = deploy(
        "-o",
        "html",
        "--html-file",
        str(page),
        "--parameter-overrides",
        "CloudFrontWebAclArn=arn:aws:wafv2:us-east-1:123456789012:global/webacl/w/1",
        input="n\n",
    )
    assert result.exit_code == 4, result.stderr  # declined (deployer.errors.DECLINED_EXIT)
    assert page.is_file() and "product-catalog-pr5706" in page.read_text()
    shown, asked = result.stderr.index(f"review page: {page}"), result.stderr.index("execute ")
    assert shown < asked
    assert "not executed" in result.stderr and result.stdout == ""


# ------------------------------------------------------------------ lint cache and progress


def test_plan_and_deploy_lint_through_the_cache_lint_fills(tmp_path, monkeypatch):
    from deployer.bundle import load_bundle
    from templates import lint as lint_module

    out = tmp_path / "dist"
    cold = CliRunner().invoke(
        generate.cli,
        ["lint", "product-catalog", "--env", "dev", "--params", str(PARAMS), "--out", str(out), "--jobs", "1"],
    )
    assert cold.exit_code == 0, cold.stderr
    assert re.search(
        r"cfn-lint .*9/9", cold.stderr
    )  # the cold run's progress, one step per template (root, 7 layers, global)
    monkeypatch.setattr(lint_module, "Linter", lambda: pytest.fail("plan/deploy after a lint must not load cfn-lint"))
    generate._lint_bundle(
        load_bundle(out / "product-catalog" / "dev")
    )  # raises on findings; fails the test if it lints again
    warm = CliRunner().invoke(
        generate.cli, ["lint", "product-catalog", "--env", "dev", "--params", str(PARAMS), "--out", str(out)]
    )
    assert warm.exit_code == 0 and "9/9" not in warm.stderr  # a warm run shows no progress


def test_run_lint_reports_progress_per_linted_template_only(tmp_path):
    from templates.lint import LintCache, run_lint
    from templates.render import write_profile
    from tests.conftest import rendered

    folder = write_profile(rendered("product-catalog", "dev"), tmp_path / "dist")
    cache, calls = LintCache(tmp_path / "cache"), []
    run_lint(
        [(folder, "")],
        cache=cache,
        jobs=1,
        progress=lambda done, total, task: calls.append((done, total, task and task.shown)),
    )
    files = [e["file"] for e in json.loads((folder / "manifest.json").read_text())["templates"]]
    assert calls == [(0, len(files), None), *((i + 1, len(files), f) for i, f in enumerate(files))]
    calls.clear()
    run_lint([(folder, "")], cache=cache, jobs=1, progress=lambda *a: calls.append(a))
    assert calls == []


# ------------------------------------------------------------------ conflicting or ignored flags

TARGET = ["product-catalog", "--env", "dev"]
CONFLICTS = [
    (["generate", "product-catalog", "--all"], ("PROFILE", "--all")),
    (["lint", "product-catalog", "--all"], ("PROFILE", "--all")),
    *(
        (([command, *TARGET, "--local", "--endpoint-url", "http://127.0.0.1:5000"]), ("--local", "--endpoint-url"))
        for command in ("plan", "deploy", "diff", "outputs", "upload", "destroy", "launch-url")
    ),
    *(
        (([command, *TARGET, "--local", "--profile", "dev-admin"]), ("--local", "--profile"))
        for command in ("plan", "deploy", "outputs")
    ),
    (
        ["bootstrap", "--bucket", "b", "--local", "--endpoint-url", "http://127.0.0.1:5000"],
        ("--local", "--endpoint-url"),
    ),
    (["bootstrap", "--bucket", "b", "--local", "--profile", "dev-admin"], ("--local", "--profile")),
    (["review", *TARGET, "--change-set", "cs", "--local", "--profile", "dev-admin"], ("--local", "--profile")),
    (["plan", *TARGET, "--upload-review"], ("--upload-review", "-o/--output html")),
    (["plan", *TARGET, "-o", "json", "--upload-review"], ("--upload-review", "-o/--output html")),
    (["deploy", *TARGET, "--upload-review"], ("--upload-review", "-o/--output html")),
    (
        ["review", *TARGET, "--change-set", "cs", "-o", "markdown", "--upload-review"],
        ("--upload-review", "-o/--output html"),
    ),
    (["plan", *TARGET, "--html-file", "r.html"], ("--html-file", "-o/--output html")),
    (["deploy", *TARGET, "-o", "json", "--html-file", "r.html"], ("--html-file", "-o/--output html")),
    (["plan", *TARGET, "-o", "html", "--review-name", "x"], ("--review-name", "--upload-review")),
    (["plan", *TARGET, "-o", "html", "--review-expires", "600"], ("--review-expires", "--upload-review")),
    (["review", *TARGET, "--change-set", "cs", "--bucket", "b"], ("--bucket", "--upload-review")),
    (["review", *TARGET, "--change-set", "cs", "--prefix", "p"], ("--prefix", "--upload-review")),
]


@pytest.mark.parametrize("args,flags", CONFLICTS, ids=[" ".join(a) for a, _ in CONFLICTS])
def test_conflicting_or_ignored_flags_exit_2_naming_both(args, flags, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(generate.cli, args)
    assert result.exit_code == 2, result.output
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), result.stderr
    assert all(flag in lines[0] for flag in flags), lines[0]
    assert not (tmp_path / "dist").exists() and not (tmp_path / ".cfn-strata").exists()  # refused before anything ran


def test_flags_from_the_environment_are_no_conflict(monkeypatch):
    """AWS_PROFILE and CFN_STRATA_BUCKET are set in many shells: only typed flags conflict."""
    monkeypatch.setenv("AWS_PROFILE", "dev-admin")
    monkeypatch.setenv("CFN_STRATA_BUCKET", "my-templates")
    plan = generate.cli.commands["plan"].make_context("plan", [*TARGET, "--local"])
    assert generate.check_flags(plan) is None
    review = generate.cli.commands["review"].make_context("review", [*TARGET, "--change-set", "cs"])
    assert generate.check_flags(review) is None
    # the same with the flag typed is refused
    typed = generate.cli.commands["plan"].make_context("plan", [*TARGET, "--local", "--profile", "dev-admin"])
    assert (
        generate.check_flags(typed)
        == "--local and --profile cannot be used together: --local signs with the emulator's credentials, not a "
        "named profile"
    )


def test_allowed_combinations_pass_the_check():
    for command, args in [
        ("plan", [*TARGET, "-o", "html", "--upload-review", "--review-name", "x", "--review-expires", "600"]),
        ("plan", [*TARGET, "--endpoint-url", "http://127.0.0.1:5000", "--profile", "p"]),
        ("review", [*TARGET, "--change-set", "cs", "-o", "html", "--upload-review", "--bucket", "b", "--prefix", "p"]),
        (
            "bootstrap",
            ["--bucket", "b", "--local", "--region", "eu-west-1"],
        ),  # the region is used: the bucket's LocationConstraint
        ("generate", ["--all", "--env", "dev"]),
    ]:
        assert generate.check_flags(generate.cli.commands[command].make_context(command, args)) is None, (command, args)


def test_local_mode_ignores_a_profile_this_machine_does_not_have(tmp_path, monkeypatch):
    """AWS_PROFILE naming a profile absent from ~/.aws/config used to stop every --local command
    with "The config profile (foo) could not be found"; the emulator has its own credentials."""
    from deployer.session import open_aws

    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("AWS_PROFILE", "no-such-profile-here")
    monkeypatch.setenv("AWS_DEFAULT_PROFILE", "no-such-profile-either")
    with open_aws("eu-north-1", profile=None, endpoint_url=None, local=True) as aws:
        assert aws.client("s3").list_buckets()["Buckets"] == []
        assert aws.client("s3").meta.region_name == "eu-north-1"

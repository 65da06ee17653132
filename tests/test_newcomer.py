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
    for internal in (
        "Annotated",
        "FieldInfo",
        "typing.",
        "Literal[",
        "Optional[",
        "NoneType",
        "&#124;",
        "\\|",
        "<class",
    ):
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
    data.setdefault("services", {}).setdefault("frontend", {}).update(
        {
            "port": 80,
            "user": "root",
            "root_user_reason": "nginx binds port 80 and drops to its worker user",
            "readonly_root_filesystem": False,
            "writable_root_reason": "nginx writes its pid file and cache under /var",
        }
    )
    overlay.write_text(yaml.safe_dump(data))
    result = CliRunner().invoke(
        cli,
        [
            "lint",
            "smart-task",
            "--env",
            "dev",
            "--params",
            str(params_copy),
            "--out",
            str(tmp_path / "dist"),
            "--no-cache",
        ],
    )
    assert result.exit_code == 0, result.output
    assert "W9008" not in result.output
    del data["services"]["frontend"]["root_user_reason"]
    overlay.write_text(yaml.safe_dump(data))
    refused = CliRunner().invoke(
        cli, ["generate", "smart-task", "--env", "dev", "--params", str(params_copy), "--out", str(tmp_path / "dist")]
    )
    assert refused.exit_code == 2
    assert "services.frontend.user: 'root' is root and needs root_user_reason" in refused.stderr


# ------------------------------------------------------------------ rules, review summary, review page


def test_the_rules_table_names_the_readme_headings_that_exist():
    from pathlib import Path

    readme = (Path(__file__).resolve().parent.parent / "README.md").read_text()
    headings = {line.lstrip("#").strip() for line in readme.splitlines() if line.startswith("###")}
    result = CliRunner(env={"COLUMNS": "200"}).invoke(cli, ["rules"])
    assert result.exit_code == 0, result.output
    title = result.output.splitlines()[0]
    named = re.findall(r'"([^"]+)"', title)
    assert named == ["Policy rules", "Pre-flight rules"]
    for name in named:
        assert any(h.startswith(name) for h in headings), name
    assert "Security rules" not in result.output


NO_DRIFT = (None, None, None, None)  # drift status, before, after and previous contexts


def _review(kind=""):
    from deployer.review import ResourceChange, Review, Risk

    changes = (
        ResourceChange(
            "network", "Vpc", "AWS::EC2::VPC", "Add", None, None, None, (), False, Risk.LOW, (), (), *NO_DRIFT
        ),
        ResourceChange(
            "network",
            "Subnet",
            "AWS::EC2::Subnet",
            "Modify",
            "True",
            None,
            None,
            (),
            False,
            Risk.MEDIUM,
            (),
            (),
            *NO_DRIFT,
        ),
    )
    return Review("app-pr1", "cs-1", kind, changes, ())


def test_the_summary_legend_is_under_the_summary_in_every_view():
    from rich.console import Console

    from deployer.review import SUMMARY_LEGEND, summary_line, table_for_width, to_markdown
    from deployer.review_html import to_html

    review = _review()
    assert SUMMARY_LEGEND == "per layer: +N added, ~N modified in place, ±N replaced, -N removed"
    assert summary_line(review) == "2 change(s) — network: +1 ~0 ±1 -0 — highest risk: MEDIUM"
    assert f"**Summary:** {summary_line(review)}\n({SUMMARY_LEGEND})\n" in to_markdown(review)
    assert f"{summary_line(review)} ({SUMMARY_LEGEND})" in to_html(review)
    for width in (80, 200):  # compact and wide tables
        console = Console(width=width, record=True, color_system=None, file=open("/dev/null", "w"))
        console.print(table_for_width(review, width))
        lines = console.export_text().splitlines()
        assert lines[-1].strip() == SUMMARY_LEGEND and any("network: +1 ~0 ±1 -0" in line for line in lines[-3:-1])


def test_the_review_page_header_says_the_change_set_type_or_nothing():
    from deployer.flow import with_type
    from deployer.review_html import to_html

    unknown = to_html(_review(""))
    assert "Type -" not in unknown and "Type <b>" not in unknown and 'id="kind"' not in unknown
    assert '<p class="meta">Highest risk <b id="highest">MEDIUM</b>; 2 change(s).' in unknown
    assert '<b id="kind">UPDATE</b> change set: it updates the deployed stack. Highest risk' in to_html(
        _review("UPDATE")
    )
    assert '<b id="kind">CREATE</b> change set: it creates the stack. Highest risk' in to_html(_review("CREATE"))

    class Cfn:  # DescribeChangeSet has no type: the stack's state gives it
        def __init__(self, status):
            self.status = status

        def describe_stacks(self, StackName):
            assert StackName == "app-pr1"
            return {"Stacks": [{"StackName": StackName, "StackStatus": self.status}]}

    assert with_type(Cfn("REVIEW_IN_PROGRESS"), _review()).change_set_type == "CREATE"
    assert with_type(Cfn("UPDATE_COMPLETE"), _review()).change_set_type == "UPDATE"
    assert with_type(Cfn("UPDATE_COMPLETE"), _review("CREATE")).change_set_type == "CREATE"  # a known type is kept


# ------------------------------------------------------------------ regeneration keeps what other commands wrote


def test_regeneration_keeps_the_launch_kit_review_page_and_template_configuration(params_copy, tmp_path):
    from templates.render import KEPT_ON_REGENERATION

    assert KEPT_ON_REGENERATION == ("docs", "review.html", "template-configuration.json")
    out = tmp_path / "dist"
    args = ["generate", "product-catalog", "--env", "dev", "--params", str(params_copy), "--out", str(out)]
    assert CliRunner().invoke(cli, args).exit_code == 0
    folder = out / "product-catalog" / "dev"
    (folder / "docs").mkdir()
    (folder / "docs" / "LAUNCH.md").write_text("launch kit\n")
    (folder / "review.html").write_text("<html>review</html>\n")
    (folder / "template-configuration.json").write_text('{"Parameters": {}}\n')
    (folder / "stale-layer.json").write_text("{}\n")  # not ours to keep: a layer the new templates no longer have
    overlay = params_copy / "product-catalog" / "dev.yaml"
    overlay.write_text(overlay.read_text() + "\ndescription: changed by the test\n")

    result = CliRunner().invoke(cli, args)
    assert result.exit_code == 0, result.output
    assert (folder / "docs" / "LAUNCH.md").read_text() == "launch kit\n"
    assert (folder / "review.html").read_text() == "<html>review</html>\n"
    assert (folder / "template-configuration.json").read_text() == '{"Parameters": {}}\n'
    assert not (folder / "stale-layer.json").exists()
    assert "changed by the test" in (folder / "root.json").read_text()
    note = " ".join(result.stderr.split())
    assert (
        f"note: regenerated {folder}/ and kept what other commands wrote there, which describes the "
        "previous templates until rewritten "
        "(docs/: `cfn-strata docs` or `upload`; review.html: `cfn-strata plan -o html`; "
        "template-configuration.json: `cfn-strata upload`)"
    ) in note


def test_a_fresh_generation_says_nothing_about_kept_files(tmp_path):
    result = CliRunner().invoke(cli, ["generate", "product-catalog", "--env", "dev", "--out", str(tmp_path)])
    assert result.exit_code == 0 and "kept" not in result.stderr


@pytest.mark.parametrize(("umask", "mode"), [(0o022, 0o755), (0o027, 0o750), (0o077, 0o700)])
def test_output_folders_follow_the_umask(tmp_path, umask, mode):
    import os

    from templates.render import write_atomically

    old = os.umask(umask)
    try:
        target = tmp_path / "app" / "dev"
        write_atomically(target, {"root.json": b"{}"})
        write_atomically(target / "docs", {"LAUNCH.md": b"x"})
        write_atomically(target, {"root.json": b"{}"}, keep=("docs",))  # the swap keeps the new folder's mode
    finally:
        os.umask(old)
    assert (target.stat().st_mode & 0o777, (target / "docs").stat().st_mode & 0o777) == (mode, mode)
    assert (target / "root.json").stat().st_mode & 0o777 == 0o666 & ~umask


# ------------------------------------------------------------------ questions, exit codes, Ctrl-C, not deployed


class _CtrlC:
    def readline(self):
        raise KeyboardInterrupt


def test_a_question_ends_in_yes_declined_or_interrupted():
    import io

    from deployer.errors import DECLINED_EXIT, INTERRUPTED_EXIT, Declined, Interrupted
    from deployer.prompts import confirm, type_to_confirm

    assert (DECLINED_EXIT, INTERRUPTED_EXIT) == (4, 130)
    err = io.StringIO()
    confirm(
        "go?", left_undone="nothing done", stdin=io.StringIO("maybe\ny\n"), stderr=err
    )  # returns on yes, asks again on anything else
    assert err.getvalue() == "go? [y/N]: answer y or n\ngo? [y/N]: "
    for answer, message in (
        ("n\n", "declined: nothing done"),
        ("\n", "declined: nothing done"),
        ("", "no answer (stdin is closed): nothing done; pass --yes to go ahead without asking"),
    ):
        with pytest.raises(Declined) as declined:
            confirm("go?", left_undone="nothing done", stdin=io.StringIO(answer), stderr=io.StringIO())
        assert str(declined.value) == message and declined.value.exit_code == 4
    with pytest.raises(Interrupted) as interrupted:
        confirm("go?", left_undone="nothing done", stdin=_CtrlC(), stderr=io.StringIO())
    assert str(interrupted.value) == "interrupted at the question: nothing done" and interrupted.value.exit_code == 130
    type_to_confirm(
        "type it", "stack-a", left_undone="nothing deleted", stdin=io.StringIO("stack-a\n"), stderr=io.StringIO()
    )
    with pytest.raises(Declined, match="^the name did not match: nothing deleted$"):
        type_to_confirm(
            "type it", "stack-a", left_undone="nothing deleted", stdin=io.StringIO("stack-b\n"), stderr=io.StringIO()
        )


def test_the_cli_recognises_interruption_by_type():
    import inspect

    import generate
    from deployer.execute import StillRunning

    source = inspect.getsource(generate.catch_errors)
    assert "__name__" not in source and "__module__" not in source
    assert issubclass(StillRunning, generate.Interrupted)
    assert str(StillRunning("app-pr1", "eu-north-1")) == (
        "stopped waiting; the stack operation goes on. Follow it with: "
        "aws cloudformation describe-stack-events --stack-name app-pr1 --region eu-north-1"
    )


@pytest.fixture
def local_dir(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    for name in ("AWS_PROFILE", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "no-config"))
    return tmp_path


def _local(command: str, *extra: str, input: str | None = None):
    from templates.params import REPO_PARAMS

    if command in ("plan", "deploy"):  # the web ACL's ARN by hand: the root's change set comes before any question
        extra += ("--parameter-overrides", "CloudFrontWebAclArn=arn:aws:wafv2:us-east-1:123456789012:global/webacl/w/1")
    return CliRunner().invoke(
        cli, [command, "product-catalog", "--env", "dev", "--local", "--params", str(REPO_PARAMS), *extra], input=input
    )


def test_declined_exit_code_and_not_deployed_from_deploy_destroy_and_outputs(local_dir, monkeypatch):
    # destroy before anything is deployed: said once, before any question, exit 0
    missing = _local("destroy", input="")
    assert missing.exit_code == 0, missing.output
    assert missing.stderr.strip() == "stack product-catalog-pr5706 is not deployed: nothing to delete in eu-north-1"
    not_deployed = (
        "error: stack product-catalog-pr5706 is not deployed: it has no outputs in eu-north-1 (`cfn-strata "
        "deploy` creates it)"
    )
    outputs = _local("outputs")
    assert outputs.exit_code == 1 and outputs.stderr.strip() == not_deployed

    declined = _local("deploy", "--skip-lint", input="n\n")
    assert declined.exit_code == 4, declined.output
    assert (
        "declined: not executed; the change sets stay for review" in declined.stderr
        and "Aborted!" not in declined.output
    )
    outputs = _local("outputs")  # a first change set awaits review: still not deployed
    assert outputs.exit_code == 1 and outputs.stderr.strip() == not_deployed
    # the stack that only holds change sets goes with its change sets (the emulator would otherwise
    # make a second stack of the same name for the next CREATE change set)
    pending = _local("destroy", "--yes")
    assert pending.exit_code == 0, pending.output
    assert "nothing is deployed: the stack holds only change sets awaiting review, which go with it" in pending.stderr

    deployed = _local("deploy", "--skip-lint", "--yes")
    assert deployed.exit_code == 0, deployed.output
    wrong = _local("destroy", input="another-stack\n")
    assert wrong.exit_code == 4, wrong.output
    text = wrong.stderr
    listed, asked = (
        text.index("stack product-catalog-pr5706 (CREATE_COMPLETE) and its 7 nested stack(s) will be deleted"),
        text.index("type the stack name"),
    )
    assert listed < asked
    assert re.search(r"^  NetworkStack: \d+ resource\(s\)$", text, re.M) and re.search(
        r"^  root: 0 resource\(s\)$", text, re.M
    )
    assert "the name did not match: nothing deleted" in text
    closed = _local("destroy", input="")
    assert closed.exit_code == 4, closed.output
    assert "no answer (stdin is closed): nothing deleted; pass --yes to go ahead without asking" in " ".join(
        closed.stderr.split()
    )
    assert "Aborted!" not in closed.output
    closed = _local("deploy", "--skip-lint", input="")  # nothing changed: deploy asks nothing
    assert closed.exit_code == 0 and "no changes" in closed.stderr
    assert _local("outputs").exit_code == 0  # still there
    gone = _local("destroy", input="product-catalog-pr5706\n")
    assert gone.exit_code == 0 and "deleted product-catalog-pr5706" in gone.stderr, gone.output


def test_ctrl_c_during_upload_exits_130_not_aborted(local_dir, monkeypatch):
    import deployer.flow

    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(deployer.flow, "upload_bundle", interrupted)
    result = _local("plan", "--skip-lint")
    assert result.exit_code == 130, result.output
    assert result.stderr.strip().endswith("interrupted (Ctrl-C): stopped cfn-strata plan; nothing was executed")
    assert "Aborted!" not in result.output and "Traceback" not in result.output


# ------------------------------------------------------------------ an endpoint that cannot be reached


@pytest.fixture
def closed_port():
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]  # closed when the block ends: connecting to it is refused


def test_a_refused_connection_is_tried_twice_with_each_retry_reported(closed_port):
    import boto3
    from botocore.exceptions import EndpointConnectionError

    from deployer.errors import explain
    from deployer.session import DEFAULT_MAX_ATTEMPTS, REFUSED_ATTEMPTS, Aws

    assert (REFUSED_ATTEMPTS, DEFAULT_MAX_ATTEMPTS) == (2, 10)
    heard = []
    aws = Aws(
        boto3.Session(region_name="eu-north-1", aws_access_key_id="x", aws_secret_access_key="x"),
        f"http://127.0.0.1:{closed_port}",
        on_retry=heard.append,
    )
    cfn = aws.client("cloudformation")
    assert cfn.meta.config.connect_timeout == 5
    sent = []
    cfn.meta.events.register("before-send.cloudformation", lambda **kwargs: sent.append(kwargs["request"].url))
    with pytest.raises(EndpointConnectionError) as failed:
        cfn.describe_stacks(StackName="app-pr1")
    assert len(sent) == 2  # not the ten attempts (and 36 s of backoff) of the adaptive mode
    assert heard == [f"cannot reach http://127.0.0.1:{closed_port}/ (connection refused): attempt 1 of 2 failed"]
    assert explain(failed.value) == (
        f"cannot reach http://127.0.0.1:{closed_port}/: the connection was refused (nothing listens there); "
        "check --endpoint-url and --region"
    )


def test_other_connection_failures_keep_every_retry_and_report_each():
    from botocore.exceptions import ConnectTimeoutError

    from deployer.session import RetryWatch

    heard = []
    watch = RetryWatch(10, heard.append)
    timeout = ConnectTimeoutError(endpoint_url="https://cloudformation.eu-north-1.amazonaws.com/")
    request = {"url": "https://cloudformation.eu-north-1.amazonaws.com/?x=1"}
    assert [watch(attempts=n, caught_exception=timeout, request_dict=request) for n in range(1, 11)] == [
        None
    ] * 10  # botocore's handler decides the delay
    assert (
        len(heard) == 9
        and heard[0]
        == "cannot reach https://cloudformation.eu-north-1.amazonaws.com/ (ConnectTimeoutError): attempt 1 of 10 failed"
    )
    assert (
        watch(attempts=3, caught_exception=None) is None and len(heard) == 9
    )  # an answered request (throttling, 5xx) is botocore's alone


def test_the_cli_shows_the_retry_and_fails_fast_on_a_refused_endpoint(closed_port, monkeypatch, tmp_path):
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "x")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "x")
    monkeypatch.delenv("AWS_PROFILE", raising=False)
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "no-config"))
    result = CliRunner().invoke(
        cli,
        [
            "outputs",
            "product-catalog",
            "--env",
            "dev",
            "--endpoint-url",
            f"http://127.0.0.1:{closed_port}",
            "--out",
            str(tmp_path / "dist"),
        ],
    )
    assert result.exit_code == 1, result.output
    lines = [" ".join(line.split()) for line in result.stderr.strip().splitlines()]
    assert lines == [
        f"retrying: cannot reach http://127.0.0.1:{closed_port}/ (connection refused): attempt 1 of 2 failed",
        f"error: cannot reach http://127.0.0.1:{closed_port}/: the connection was refused (nothing "
        "listens there); check --endpoint-url and --region",
    ]


# ------------------------------------------------------------------ the architecture picture in the README


def test_the_readme_architecture_section_is_what_docs_writes_for_product_catalog_prod():
    from pathlib import Path

    from templates import docs
    from tests.test_docs import bundle, documents

    readme = (Path(__file__).resolve().parent.parent / "README.md").read_text()
    section = readme.split("### Architecture (product-catalog, prod)", 1)[1].split("### Review page", 1)[0]
    b = bundle("product-catalog", "prod")
    page = docs.architecture_markdown(b.manifest, documents(b))
    expected = "#### Request path\n" + page.split("## Request path\n", 1)[1].replace("\n## Layers\n", "\n#### Layers\n")
    assert section.split("#### Request path\n", 1)[1].strip() == expected.split("#### Request path\n", 1)[1].strip()
    wiring = docs.wiring_mermaid(b.manifest, documents(b))
    assert f"{sum('-.->' in line for line in wiring.splitlines())} labelled arrows here" in " ".join(section.split())


def test_every_missing_stack_error_reads_not_deployed():
    from botocore.exceptions import ClientError

    from deployer.errors import explain, not_deployed

    def missing(message, operation):
        return ClientError({"Error": {"Code": "ValidationError", "Message": message}}, operation)

    assert (
        explain(missing("Stack with id app-pr1 does not exist", "DescribeStacks"))
        == "stack app-pr1 is not deployed: DescribeStacks found no such stack in this account and region"
    )
    assert (
        explain(missing("Stack [app-pr1] does not exist", "DescribeChangeSet"))
        == "stack app-pr1 is not deployed: DescribeChangeSet found no such stack in this account and region"
    )
    assert (
        not_deployed("app-pr1", "every layer is new") == "stack app-pr1 is not deployed: every layer is new"
    )  # diff's note

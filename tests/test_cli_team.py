"""Teams (issue 14): --suffix (a per-PR deployment from the dev overlay), --parameter-overrides,
--tags and --role-arn as `aws cloudformation deploy` takes them, and `cfn-strata init`.

End to end through the CLI against moto's server (conftest `aws_env`), asserting what reached
CloudFormation: the stack name with the suffix, the tags on the created stack, the parameter
value in the change set, the service role on the stack; and RoleARN in the exact CreateChangeSet
request with botocore's Stubber (moto's DescribeChangeSet does not return it)."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime
from pathlib import Path

import boto3
import pytest
from botocore.stub import ANY, Stubber
from click.testing import CliRunner

import generate

REGION = "eu-north-1"
BUCKET = "cfn-strata-team-templates"
PARAMS = Path(__file__).resolve().parents[1] / "params"
ROLE = "arn:aws:iam::123456789012:role/service-role/cfn-strata-deployer"


@pytest.fixture
def clients(aws_env):
    session = boto3.Session(region_name=REGION)
    s3 = session.client("s3", endpoint_url=aws_env)
    s3.create_bucket(Bucket=BUCKET, CreateBucketConfiguration={"LocationConstraint": REGION})
    return s3, session.client("cloudformation", endpoint_url=aws_env)


def run(*args):
    return CliRunner().invoke(generate.cli, list(args), catch_exceptions=False)


def deployed(endpoint, tmp_path, command, *extra):
    """`command product-catalog --env dev` against the emulator, with `extra` options."""
    return run(
        command,
        "product-catalog",
        "--env",
        "dev",
        "--endpoint-url",
        endpoint,
        "--bucket",
        BUCKET,
        "--out",
        str(tmp_path / "dist"),
        "--params",
        str(PARAMS),
        *extra,
    )


def offline(tmp_path, command, *extra):
    """A command that fails before any AWS call (the endpoint is never reached)."""
    return run(
        command,
        "product-catalog",
        "--env",
        "dev",
        "--endpoint-url",
        "http://127.0.0.1:9",
        "--bucket",
        BUCKET,
        "--out",
        str(tmp_path / "dist"),
        "--params",
        str(PARAMS),
        "--skip-lint",
        *extra,
    )


def roots(names) -> set[str]:
    """Root stacks among stack names (nested ones are <root>-<Logical>Stack-<random>)."""
    return {name for name in names if not re.search(r"-[A-Za-z]+Stack-[A-Z0-9]+$", name)}


def tags_of(stack: dict) -> dict[str, str]:
    return {t["Key"]: t["Value"] for t in stack.get("Tags") or []}


# ------------------------------------------------------------------ --suffix


def test_a_pr_environment_is_deployed_from_the_dev_overlay_and_destroyed(aws_env, clients, tmp_path):
    s3, cfn = clients
    result = deployed(
        aws_env,
        tmp_path,
        "deploy",
        "--suffix",
        "pr-123",
        "--skip-lint",
        "--yes",
        "--tags",
        "PullRequest=123",
        "Team=payments",
        "--parameter-overrides",
        "ServiceApiDesiredCount=3",
        "--role-arn",
        ROLE,
    )
    assert result.exit_code == 0, result.output
    assert "CREATE_COMPLETE: product-catalog-pr-123" in result.output
    stacks = {s["StackName"]: s for s in cfn.describe_stacks()["Stacks"]}
    assert roots(stacks) == {
        "product-catalog-pr-123"
    }  # the dev environment's own stack (product-catalog-pr5706) is not touched
    assert all(name.startswith("product-catalog-pr-123") for name in stacks)
    stack = stacks["product-catalog-pr-123"]
    assert tags_of(stack) == {
        "Environment": "development",
        "EnvironmentSuffix": "pr-123",
        "Project": "catalog-api",
        "PullRequest": "123",
        "Team": "payments",
    }
    assert {p["ParameterKey"]: p["ParameterValue"] for p in stack["Parameters"]}["ServiceApiDesiredCount"] == "3"
    assert stack["RoleARN"] == ROLE  # the service role CreateChangeSet passed, kept on the stack
    # the names come from the suffix: the load balancer and cluster of the generated templates
    folder = tmp_path / "dist/product-catalog/dev.pr-123"
    manifest = json.loads((folder / "manifest.json").read_text())
    assert manifest["stack_name"] == "product-catalog-pr-123" and manifest["suffix_override"] == "pr-123"
    assert manifest["tags"]["EnvironmentSuffix"] == "pr-123"
    bodies = "".join((folder / t["file"]).read_text() for t in manifest["templates"])
    assert '"alb-pr-123"' in bodies and '"ecs-cluster-pr-123"' in bodies and "pr5706" not in bodies
    assert not (
        tmp_path / "dist/product-catalog/dev"
    ).exists()  # its own folder: the plain dev output is never replaced
    keys = [o["Key"] for o in s3.list_objects_v2(Bucket=BUCKET)["Contents"]]
    assert keys and all(k.startswith("product-catalog/dev.pr-123/") for k in keys)

    gone = run(
        "destroy",
        "product-catalog",
        "--env",
        "dev",
        "--suffix",
        "pr-123",
        "--yes",
        "--endpoint-url",
        aws_env,
        "--out",
        str(tmp_path / "dist"),
        "--params",
        str(PARAMS),
    )
    assert gone.exit_code == 0, gone.output
    assert "deleted product-catalog-pr-123" in gone.output
    live = roots(s["StackName"] for s in cfn.list_stacks()["StackSummaries"] if s["StackStatus"] != "DELETE_COMPLETE")
    assert live == set()


def test_destroy_looks_for_the_suffixed_stack_before_it_asks(aws_env, clients, tmp_path):
    # issue 16: destroy checks that the stack exists before it asks for the name (the name mismatch
    # itself, exit 4, is tested in test_newcomer.py)
    result = CliRunner().invoke(
        generate.cli,
        [
            "destroy",
            "product-catalog",
            "--env",
            "dev",
            "--suffix",
            "pr-9",
            "--endpoint-url",
            aws_env,
            "--out",
            str(tmp_path / "dist"),
            "--params",
            str(PARAMS),
        ],
        input="product-catalog-pr5706\n",
    )
    assert result.exit_code == 0, result.output
    assert "stack product-catalog-pr-9 is not deployed: nothing to delete" in result.output
    assert "type the stack name" not in result.output


def test_generate_writes_the_suffixed_deployment_beside_the_environment(tmp_path):
    out = tmp_path / "dist"
    assert run("generate", "product-catalog", "--env", "dev", "--params", str(PARAMS), "--out", str(out)).exit_code == 0
    result = run(
        "generate", "product-catalog", "--env", "dev", "--suffix", "pr-77", "--params", str(PARAMS), "--out", str(out)
    )
    assert result.exit_code == 0, result.output
    plain = json.loads((out / "product-catalog/dev/manifest.json").read_text())
    pr = json.loads((out / "product-catalog/dev.pr-77/manifest.json").read_text())
    assert (plain["stack_name"], pr["stack_name"]) == ("product-catalog-pr5706", "product-catalog-pr-77")
    assert "suffix_override" not in plain  # the params files' own deployments are generated as before
    assert sorted(p.name for p in (out / "product-catalog").iterdir() if not p.name.startswith(".")) == [
        "dev",
        "dev.pr-77",
    ]


@pytest.mark.parametrize(
    "suffix, expected",
    [
        (
            "PR_1",
            "--suffix: environment.suffix: String should match pattern '^[a-z0-9][a-z0-9-]{0,22}[a-z0-9]$' (got "
            "'PR_1')",
        ),
        ("x", "--suffix: environment.suffix: String should match pattern"),
        (
            "pr--5",
            "--suffix: environment.suffix:",
        ),  # passes the pattern; RDS/ElastiCache names refuse "--" (the same name checks as the params value)
    ],
)
def test_a_bad_suffix_is_refused_like_the_params_value(tmp_path, suffix, expected):
    result = run(
        "generate",
        "product-catalog",
        "--env",
        "dev",
        "--suffix",
        suffix,
        "--params",
        str(PARAMS),
        "--out",
        str(tmp_path / "dist"),
    )
    assert result.exit_code == 2
    assert expected in result.output
    assert not (tmp_path / "dist").exists()


def test_a_name_too_long_with_the_suffix_names_the_file_the_key_and_the_flag(tmp_path):
    result = run(
        "generate",
        "smart-task",
        "--env",
        "dev",
        "--suffix",
        "pr-1234567890123456",
        "--params",
        str(PARAMS),
        "--out",
        str(tmp_path / "dist"),
    )
    assert result.exit_code == 2
    text = " ".join(result.output.split())
    assert (
        "params/smart-task/base.yaml: services.backend.deployment: the green target group name: "
        "'tg-backend-green-pr-1234567890123456' is 36 characters" in text
    )
    assert text.endswith("(with --suffix pr-1234567890123456)")


def test_an_empty_suffix_is_refused(tmp_path):
    result = run(
        "plan",
        "product-catalog",
        "--env",
        "dev",
        "--suffix",
        "",
        "--local",
        "--params",
        str(PARAMS),
        "--out",
        str(tmp_path / "dist"),
    )
    assert result.exit_code == 2 and "Invalid value for '--suffix': is empty" in result.output


@pytest.mark.parametrize("args", [["--all"], ["product-catalog"]])
def test_suffix_names_one_deployment(tmp_path, args):
    result = run("generate", *args, "--suffix", "pr-1", "--params", str(PARAMS), "--out", str(tmp_path / "dist"))
    assert result.exit_code == 2
    assert "--suffix names one deployment" in result.output


def test_every_command_that_names_a_deployment_takes_suffix():
    for name, command in generate.cli.commands.items():
        names_one = any(getattr(p, "name", None) == "profile" for p in command.params)
        has = any("--suffix" in getattr(p, "opts", []) for p in command.params)
        assert has == names_one, name
    assert {
        "generate",
        "lint",
        "docs",
        "upload",
        "plan",
        "deploy",
        "review",
        "diff",
        "outputs",
        "launch-url",
        "destroy",
    } <= {
        name
        for name, command in generate.cli.commands.items()
        if any("--suffix" in getattr(p, "opts", []) for p in command.params)
    }


# ------------------------------------------------------------------ --parameter-overrides, --tags, --role-arn


def test_plan_sends_the_overrides_in_the_change_set(aws_env, clients, tmp_path):
    _, cfn = clients
    result = deployed(
        aws_env,
        tmp_path,
        "plan",
        "--suffix",
        "pr-5",
        "--skip-lint",
        "--parameter-overrides",
        "ServiceApiDesiredCount=4",
        "AlarmEmail=ops@example.com",
        "CloudFrontWebAclArn=arn:aws:wafv2:us-east-1:123456789012:global/webacl/w/1",
        "--tags",
        "CostCentre=cc-42",
    )  # the web ACL's ARN by hand: no us-east-1 global stack here
    assert result.exit_code == 0, result.output
    [summary] = cfn.list_change_sets(StackName="product-catalog-pr-5")["Summaries"]
    change_set = cfn.describe_change_set(StackName="product-catalog-pr-5", ChangeSetName=summary["ChangeSetId"])
    values = {p["ParameterKey"]: p["ParameterValue"] for p in change_set["Parameters"]}
    assert values["ServiceApiDesiredCount"] == "4" and values["AlarmEmail"] == "ops@example.com"
    assert values["ServiceApiMinCount"] == "2"  # the others keep the params file's values
    # moto's DescribeChangeSet leaves Tags out; the stack the CREATE change set made (REVIEW_IN_PROGRESS) carries them
    stack = cfn.describe_stacks(StackName="product-catalog-pr-5")["Stacks"][0]
    assert stack["StackStatus"] == "REVIEW_IN_PROGRESS"
    assert tags_of(stack) == {
        "CostCentre": "cc-42",
        "Environment": "development",
        "EnvironmentSuffix": "pr-5",
        "Project": "catalog-api",
    }


def test_upload_writes_the_overrides_into_the_template_configuration(aws_env, clients, tmp_path):
    # several pairs after one flag, and the PROFILE argument after them, as the AWS CLI reads them
    result = run(
        "upload",
        "--tags",
        "Team=payments",
        "Owner=ana@example.com",
        "product-catalog",
        "--env",
        "dev",
        "--endpoint-url",
        aws_env,
        "--bucket",
        BUCKET,
        "--out",
        str(tmp_path / "dist"),
        "--params",
        str(PARAMS),
        "--parameter-overrides",
        "PriceClass=PriceClass_All",
        "--parameter-overrides",
        "ServiceApiMaxCount=20",
        "CloudFrontWebAclArn=arn:aws:wafv2:us-east-1:123456789012:global/webacl/w/1",
    )
    assert result.exit_code == 0, result.output
    configuration = json.loads((tmp_path / "dist/product-catalog/dev/template-configuration.json").read_text())
    assert configuration["Parameters"]["PriceClass"] == "PriceClass_All"
    assert configuration["Parameters"]["ServiceApiMaxCount"] == "20"
    assert configuration["Parameters"]["ServiceApiMinCount"] == "2"
    assert configuration["Tags"] == {
        "Environment": "development",
        "EnvironmentSuffix": "pr5706",
        "Owner": "ana@example.com",
        "Project": "catalog-api",
        "Team": "payments",
    }
    launch = (tmp_path / "dist/product-catalog/dev/docs/LAUNCH.md").read_text()
    assert (
        "param_PriceClass=PriceClass_All" in launch and "param_ServiceApiMaxCount=20" in launch
    )  # the quick-create links carry them too


def test_role_arn_is_sent_on_create_change_set(tmp_path):
    """CreateChangeSet carries RoleARN (ExecuteChangeSet has no such parameter: the change set's role is used)."""
    from deployer.bundle import load_bundle
    from deployer.changeset import Waiting, create_change_set
    from deployer.upload import UploadedTemplate, UploadResult

    assert (
        run("generate", "product-catalog", "--env", "dev", "--params", str(PARAMS), "--out", str(tmp_path)).exit_code
        == 0
    )
    bundle = (
        load_bundle(tmp_path / "product-catalog/dev")
        .with_overrides({}, {}, ROLE)
        .with_global_values({"CloudFrontWebAclArn": "arn:aws:wafv2:us-east-1:123456789012:global/webacl/w/1"})
    )
    root = UploadedTemplate("root.json", "k", "https://b.s3.amazonaws.com/k", "a" * 64, True)
    cfn = boto3.client("cloudformation", region_name=REGION, aws_access_key_id="x", aws_secret_access_key="x")
    stack_id = "arn:aws:cloudformation:eu-north-1:123456789012:stack/product-catalog-pr5706/1"
    change_set_id = "arn:aws:cloudformation:eu-north-1:123456789012:changeSet/cs/1"
    with Stubber(cfn) as stub:
        stub.add_client_error(
            "describe_stacks", "ValidationError", "Stack with id product-catalog-pr5706 does not exist"
        )
        stub.add_response(
            "create_change_set",
            {"Id": change_set_id, "StackId": stack_id},
            {
                "StackName": "product-catalog-pr5706",
                "ChangeSetName": ANY,
                "ChangeSetType": "CREATE",
                "TemplateURL": root.url,
                "IncludeNestedStacks": True,
                "Capabilities": ANY,
                "Parameters": ANY,
                "Tags": ANY,
                "Description": ANY,
                "RoleARN": ROLE,
            },
        )
        stub.add_response(
            "describe_change_set",
            {
                "ChangeSetId": change_set_id,
                "StackId": stack_id,
                "Status": "CREATE_COMPLETE",
                "ExecutionStatus": "AVAILABLE",
                "ChangeSetName": "cs",
                "StackName": "product-catalog-pr5706",
                "Changes": [],
            },
            {"ChangeSetName": change_set_id},
        )
        ref = create_change_set(
            cfn,
            bundle,
            UploadResult(root, (root,), tmp_path / "c.json"),
            now=datetime(2026, 12, 2, tzinfo=UTC),
            waiting=Waiting(delay=0),
        )
        stub.assert_no_pending_responses()
    assert ref.change_set_id == change_set_id


@pytest.mark.parametrize(
    "extra, message",
    [
        (
            ["--parameter-overrides", "ServiceApiDesiredCnt=3"],
            "--parameter-overrides: root.json has no parameter ServiceApiDesiredCnt; did you mean "
            "ServiceApiDesiredCount?",
        ),
        (
            ["--parameter-overrides", "ServiceApiDesiredCount=many"],
            "ServiceApiDesiredCount is a Number: 'many' is not a number",
        ),
        (
            ["--parameter-overrides", "ServiceApiDesiredCount=1001"],
            "ServiceApiDesiredCount must be at most 1000 (got 1001)",
        ),
        (
            ["--parameter-overrides", "PriceClass=PriceClass_300"],
            "PriceClass must be one of PriceClass_100, PriceClass_200, PriceClass_All (got 'PriceClass_300')",
        ),
        (
            ["--parameter-overrides", "AlarmEmail=not-an-address"],
            "AlarmEmail: 'not-an-address' is refused: empty, or an email address",
        ),
        (["--parameter-overrides", "ServiceApiDesiredCount"], "'ServiceApiDesiredCount' is not Key=Value"),
        (["--tags", "aws:team=x"], "--tags: tag key 'aws:team' starts with aws:"),
        (["--tags", "Team="], "--tags: tag Team needs a value of 1-256 characters (got 0)"),
        (["--tags", f"{'k' * 129}=v"], "must be 1-128 characters (got 129)"),
        (["--tags", "Team=a#b"], "--tags: tag value 'a#b' has '#'"),
        (["--tags", "Project=other"], "--tags: Project is already 'catalog-api' from the profile"),
        (["--tags", "EnvironmentSuffix=pr-1"], "change it with --suffix"),
        (
            ["--tags", *[f"T{i}=v" for i in range(48)]],
            "--tags: 51 stack tags with the profile's 3; CloudFormation allows at most 50",
        ),
        (
            ["--role-arn", "arn:aws:iam::12345:role/deployer"],
            "--role-arn: 'arn:aws:iam::12345:role/deployer' is not an IAM role ARN",
        ),
        (["--role-arn", "arn:aws:iam::123456789012:user/deployer"], "is not an IAM role ARN"),
        (
            ["--role-arn", "arn:aws-cn:iam::123456789012:role/deployer"],
            "--role-arn: arn:aws-cn:iam::123456789012:role/deployer is in partition aws-cn, the stack's region "
            "eu-north-1 in aws",
        ),
    ],
)
def test_bad_overrides_exit_2_before_any_aws_call(tmp_path, extra, message):
    result = offline(tmp_path, "plan", *extra)
    assert result.exit_code == 2, result.output
    assert message in " ".join(result.output.split())


def test_a_tag_the_profile_sets_with_the_same_value_is_accepted_and_sent_once(tmp_path):
    from deployer.bundle import load_bundle
    from deployer.overrides import check_tags

    assert (
        run("generate", "product-catalog", "--env", "dev", "--params", str(PARAMS), "--out", str(tmp_path)).exit_code
        == 0
    )
    bundle = load_bundle(tmp_path / "product-catalog/dev")
    extra = check_tags(bundle, {"Project": "catalog-api", "Team": "payments"})
    assert extra == {"Team": "payments"}
    assert bundle.with_overrides({}, extra).tags == {
        "Environment": "development",
        "EnvironmentSuffix": "pr5706",
        "Project": "catalog-api",
        "Team": "payments",
    }


def test_role_arn_is_not_an_upload_option():
    # the template configuration CodePipeline reads holds Parameters, Tags and StackPolicy only;
    # the pipeline's service role is its CloudFormation action's RoleArn
    result = run("upload", "product-catalog", "--env", "dev", "--role-arn", ROLE)
    assert result.exit_code == 2 and "No such option '--role-arn'" in result.output


def test_help_shows_the_team_options_with_examples():
    for command in ("plan", "deploy"):
        text = run(command, "--help").output
        for flag in ("--suffix", "--parameter-overrides", "--tags", "--role-arn"):
            assert flag in text, (command, flag)
    upload = run("upload", "--help").output
    assert "--parameter-overrides" in upload and "--tags" in upload
    assert "--suffix pr-123" in run("deploy", "--help").output and "--suffix pr-123" in run("destroy", "--help").output
    assert "cfn-strata init orders --region eu-north-1" in run("init", "--help").output


# ------------------------------------------------------------------ init


def test_init_writes_a_profile_that_generates_and_lints_clean(tmp_path):
    params = tmp_path / "params"
    result = run("init", "orders", "--region", "eu-west-1", "--params", str(params))
    assert result.exit_code == 0, result.output
    assert sorted(p.name for p in (params / "orders").iterdir()) == ["base.yaml", "dev.yaml", "prod.yaml"]
    for name in ("base.yaml", "dev.yaml", "prod.yaml"):
        assert "Params reference" in (params / "orders" / name).read_text()
    from templates.params import load_config

    dev, prod = load_config("orders", "dev", params), load_config("orders", "prod", params)
    assert (dev.region, dev.suffix, dev.environment.stage) == ("eu-west-1", "orders-dev", "dev")
    assert (prod.suffix, prod.environment.stage, prod.services["web"].desired_count) == ("orders-prod", "prod", 2)
    lint = run("lint", "orders", "--params", str(params), "--out", str(tmp_path / "dist"))
    assert lint.exit_code == 0, lint.output
    assert "zero cfn-lint errors and warnings" in lint.output


def test_init_from_a_profile_moves_it_to_the_new_region_and_names(tmp_path):
    params = tmp_path / "params"
    result = run("init", "billing", "--region", "us-east-1", "--from", "product-catalog", "--params", str(params))
    assert result.exit_code == 0, result.output
    from templates.params import load_config

    dev, prod = load_config("billing", "dev", params), load_config("billing", "prod", params)
    assert (dev.application, dev.region, dev.project, dev.suffix) == ("billing", "us-east-1", "billing", "billing-dev")
    assert (prod.suffix, prod.environment.stage) == ("billing-prod", "prod")
    assert dev.database.engine == "aurora-postgresql" and set(dev.services) == {"api"}  # the copied profile's choices
    assert "Copied from params/product-catalog/" in (params / "billing/base.yaml").read_text()
    generated = run("generate", "billing", "--params", str(params), "--out", str(tmp_path / "dist"))
    assert generated.exit_code == 0, generated.output


def test_init_refuses_an_existing_folder_and_bad_names(tmp_path):
    params = tmp_path / "params"
    (params / "orders").mkdir(parents=True)
    (params / "orders" / "base.yaml").write_text("mine\n")
    refused = run("init", "orders", "--region", "eu-west-1", "--params", str(params))
    assert refused.exit_code == 2 and "already exists; init never overwrites" in refused.output
    assert (params / "orders" / "base.yaml").read_text() == "mine\n"
    for args, message in [
        (["Orders_1", "--region", "eu-west-1"], "'Orders_1' is not an application name"),
        (["a" * 29, "--region", "eu-west-1"], "at most 28 characters"),
        (["shop", "--region", "eu-nowhere-1"], "--region: 'eu-nowhere-1' is not an AWS region"),
        (["shop", "--region", "eu-west-1", "--from", "nope"], "--from: no profile 'nope'"),
    ]:
        result = run("init", *args, "--params", str(params))
        assert result.exit_code == 2, result.output
        assert message in result.output
    assert sorted(p.name for p in params.iterdir()) == ["orders"]

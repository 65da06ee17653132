"""The us-east-1 global stack: product-catalog (eu-north-1, seed 004 "WAF Integration: Web
Application Firewall on CloudFront/ALB") puts its CloudFront-scope web ACL there, as it exists
only in us-east-1. The deployer creates `<stack>-global` in us-east-1 before the root, through a
change set, and passes its WebAclArn output as the root parameter CloudFrontWebAclArn, which the
edge layer's distribution uses as its WebACLId."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import boto3
import pytest
from botocore.exceptions import ClientError
from click.testing import CliRunner

import generate
from deployer.bundle import load_bundle
from deployer.errors import DeployerError
from templates.render import write_profile
from tests.conftest import rendered, template

PARAMS = Path(__file__).resolve().parents[1] / "params"
STACK = "product-catalog-pr5706"  # product-catalog dev
GLOBAL_STACK = f"{STACK}-global"
BUCKET = "global-stack-test-templates"
# moto does not model WAFv2: the deployer's local patches (deployer/local.py) resolve a GetAtt on
# an unmodelled resource to this visible placeholder, which is the output's real value locally.
LOCAL_WEB_ACL_ARN = "unmodelled-by-moto:CloudFrontWebAcl.Arn"


# ------------------------------------------------------------------ the templates


@pytest.mark.parametrize("env", ["dev", "prod"])
def test_the_web_acl_is_in_the_global_stack_and_reaches_the_distribution_through_a_root_parameter(env):
    manifest = rendered("product-catalog", env).manifest
    scopes = {s["layer"]: s["scope"] for s in manifest["stacks"]}
    assert scopes["global"] == "global" and scopes["edge"] == "nested"
    assert (
        next(s for s in manifest["stacks"] if s["layer"] == "edge")["inputs"]["CloudFrontWebAclArn"]
        == "global.WebAclArn"
    )
    acl = template("product-catalog", env, "global")
    assert acl["Resources"]["CloudFrontWebAcl"]["Properties"]["Scope"] == "CLOUDFRONT"
    assert acl["Outputs"]["WebAclArn"]["Value"] == {"Fn::GetAtt": ["CloudFrontWebAcl", "Arn"]}
    root = template("product-catalog", env, "root")
    assert (
        "Default" not in root["Parameters"]["CloudFrontWebAclArn"]
    )  # never a guessed value: the deployer passes the output
    assert "GlobalStack" not in root["Resources"]  # not a nested stack: it lives in another region
    assert root["Resources"]["EdgeStack"]["Properties"]["Parameters"]["CloudFrontWebAclArn"] == {
        "Ref": "CloudFrontWebAclArn"
    }
    distribution = template("product-catalog", env, "edge")["Resources"]["Distribution"]
    assert distribution["Properties"]["DistributionConfig"]["WebACLId"] == {"Ref": "CloudFrontWebAclArn"}
    assert "CKV_AWS_68" not in json.dumps(distribution.get("Metadata", {}))


def test_without_the_global_stack_the_root_parameters_are_refused_by_name(tmp_path):
    bundle = load_bundle(write_profile(rendered("product-catalog", "dev"), tmp_path))
    assert bundle.global_inputs == {"CloudFrontWebAclArn": "WebAclArn"}
    assert "CloudFrontWebAclArn" not in bundle.known_parameters()
    with pytest.raises(
        DeployerError,
        match=r"CloudFrontWebAclArn \(its WebAclArn output\) come from the us-east-1 stack "
        r"product-catalog-pr5706-global",
    ):
        bundle.parameters()
    arn = (
        "arn:aws:wafv2:us-east-1:123456789012:global/webacl/waf-cloudfront-pr5706/0a1b2c3d-0000-1111-2222-333344445555"
    )
    assert bundle.with_global_values({"CloudFrontWebAclArn": arn}).parameters()["CloudFrontWebAclArn"] == arn


def test_the_pipeline_package_role_reads_only_the_global_stack():
    document = template("product-catalog", "prod", "cicd")
    policy = document["Resources"]["PipelineBackendPackageRole"]["Properties"]["Policies"][0]["PolicyDocument"]
    reads = [s for s in policy["Statement"] if s["Action"] == ["cloudformation:DescribeStacks"]]
    assert reads == [
        {
            "Action": ["cloudformation:DescribeStacks"],
            "Effect": "Allow",
            "Resource": [
                {
                    "Fn::Sub": "arn:${AWS::Partition}:cloudformation:us-east-1:${AWS::AccountId}:stack/"
                    "product-catalog-catalog-prod-global/*"
                }
            ],
        }
    ]


# ------------------------------------------------------------------ the deployer, against the local emulator


def _cli(endpoint, tmp_path, *args, params: Path = PARAMS):
    common = [
        "product-catalog",
        "--env",
        "dev",
        "--endpoint-url",
        endpoint,
        "--out",
        str(tmp_path / "dist"),
        "--params",
        str(params),
    ]
    if args[0] in ("plan", "deploy"):
        common += ["--bucket", BUCKET]
    return CliRunner().invoke(generate.cli, [*args, *common], catch_exceptions=False)


def _clients(endpoint):
    region = lambda name: boto3.client("cloudformation", region_name=name, endpoint_url=endpoint)  # noqa: E731
    boto3.client("s3", region_name="eu-north-1", endpoint_url=endpoint).create_bucket(
        Bucket=BUCKET, CreateBucketConfiguration={"LocationConstraint": "eu-north-1"}
    )
    return region("us-east-1"), region("eu-north-1")


def _parameters(stack: dict) -> dict[str, str]:
    return {p["ParameterKey"]: p["ParameterValue"] for p in stack.get("Parameters") or []}


def _edge_stack(cfn) -> dict:
    edge = cfn.describe_stack_resource(StackName=STACK, LogicalResourceId="EdgeStack")["StackResourceDetail"][
        "PhysicalResourceId"
    ]
    return cfn.describe_stacks(StackName=edge)["Stacks"][0]


def test_plan_creates_the_global_change_set_in_us_east_1_and_defers_the_root(aws_env, tmp_path):
    east, north = _clients(aws_env)
    planned = _cli(aws_env, tmp_path, "plan", "--skip-drift", "--skip-lint", "-o", "markdown")
    assert planned.exit_code == 0, planned.output
    assert f"on {GLOBAL_STACK} (us-east-1, created before the root): " in planned.output
    assert "Add CloudFrontWebAcl (AWS::WAFv2::WebACL" in planned.output
    assert f"no change set on {STACK} yet" in " ".join(planned.output.split())
    # plan never executes: the global stack waits with its change set, and there is no root
    assert east.describe_stacks(StackName=GLOBAL_STACK)["Stacks"][0]["StackStatus"] == "REVIEW_IN_PROGRESS"
    with pytest.raises(ClientError, match="does not exist"):
        north.describe_stacks(StackName=STACK)
    assert not (tmp_path / "dist" / "product-catalog" / "dev" / "template-configuration.json").exists()
    # --fail-on weighs the global stack's change set too (a new web ACL: MEDIUM)
    assert (
        _cli(aws_env, tmp_path, "plan", "--skip-drift", "--skip-lint", "--fail-on", "medium").exit_code
        == generate.FAIL_ON_EXIT
    )
    assert _cli(aws_env, tmp_path, "plan", "--skip-drift", "--skip-lint", "--fail-on", "high").exit_code == 0
    # the pipeline's upload needs the output: refused, naming the parameter and the command
    refused = _cli(aws_env, tmp_path, "upload", "--bucket", BUCKET)
    assert refused.exit_code == 1
    assert (
        "root parameter(s) CloudFrontWebAclArn (its WebAclArn output) come from the us-east-1 stack "
        "product-catalog-pr5706-global, which has no such output yet: "
        "`cfn-strata deploy product-catalog --env dev` creates it before the root and passes them"
    ) in " ".join(refused.output.split())


def test_deploy_passes_the_global_output_to_the_root_keeps_it_on_update_and_destroy_removes_both(aws_env, tmp_path):
    east, north = _clients(aws_env)
    deployed = _cli(aws_env, tmp_path, "deploy", "--yes", "--skip-drift", "--skip-lint")
    assert deployed.exit_code == 0, deployed.output
    global_done = deployed.output.index(f"CREATE_COMPLETE: {GLOBAL_STACK} (us-east-1)")
    root_done = deployed.output.index(f"CREATE_COMPLETE: {STACK}\n")
    assert global_done < root_done

    global_stack = east.describe_stacks(StackName=GLOBAL_STACK)["Stacks"][0]
    assert global_stack["StackStatus"] == "CREATE_COMPLETE"
    assert {t["Key"]: t["Value"] for t in global_stack["Tags"]}["EnvironmentSuffix"] == "pr5706"
    arn = {o["OutputKey"]: o["OutputValue"] for o in global_stack["Outputs"]}["WebAclArn"]
    assert arn == LOCAL_WEB_ACL_ARN
    with pytest.raises(ClientError, match="does not exist"):
        north.describe_stacks(StackName=GLOBAL_STACK)  # it lives only in us-east-1
    root = north.describe_stacks(StackName=STACK)["Stacks"][0]
    assert root["StackStatus"] == "CREATE_COMPLETE"
    assert _parameters(root)["CloudFrontWebAclArn"] == arn
    # the edge nested stack got it, and its deployed distribution takes its WebACLId from it
    edge = _edge_stack(north)
    assert _parameters(edge)["CloudFrontWebAclArn"] == arn
    edge_template = north.get_template(StackName=edge["StackId"], TemplateStage="Original")["TemplateBody"]
    edge_template = json.loads(edge_template) if isinstance(edge_template, str) else edge_template
    assert edge_template["Resources"]["Distribution"]["Properties"]["DistributionConfig"]["WebACLId"] == {
        "Ref": "CloudFrontWebAclArn"
    }

    # outputs and diff see the global stack too
    # upload now writes the output into the pipeline's template configuration and the launch kit's links
    uploaded = _cli(aws_env, tmp_path, "upload", "--bucket", BUCKET)
    assert uploaded.exit_code == 0, uploaded.output
    folder = tmp_path / "dist" / "product-catalog" / "dev"
    assert json.loads((folder / "template-configuration.json").read_text())["Parameters"]["CloudFrontWebAclArn"] == arn
    assert (
        "param_CloudFrontWebAclArn=unmodelled-by-moto%3ACloudFrontWebAcl.Arn"
        in (folder / "docs" / "LAUNCH.md").read_text()
    )
    shown = _cli(aws_env, tmp_path, "outputs", "-o", "json")
    assert shown.exit_code == 0, shown.output
    assert json.loads(shown.output[shown.output.index("{") :])["global.WebAclArn"] == arn
    diffed = _cli(aws_env, tmp_path, "diff")
    assert diffed.exit_code == 0 and "no differences" in " ".join(diffed.output.split()), diffed.output

    # an update of the root (the CPU alarm at 85% instead of 80%): the global stack has no
    # changes, the value stays
    params = tmp_path / "params"
    shutil.copytree(PARAMS, params)
    base = params / "product-catalog" / "base.yaml"
    assert base.read_text().count("cpu_high_percent: 80 ") == 1
    base.write_text(base.read_text().replace("cpu_high_percent: 80 ", "cpu_high_percent: 85 "))
    updated = _cli(aws_env, tmp_path, "deploy", "--yes", "--skip-drift", "--skip-lint", params=params)
    assert updated.exit_code == 0, updated.output
    assert f"no changes: {GLOBAL_STACK} (us-east-1, created before the root)" in updated.output
    assert f"UPDATE_COMPLETE: {STACK}" in updated.output
    assert "observability/ServiceApiCpuAlarm" in updated.output
    root = north.describe_stacks(StackName=STACK)["Stacks"][0]
    assert (root["StackStatus"], _parameters(root)["CloudFrontWebAclArn"]) == ("UPDATE_COMPLETE", arn)
    assert _parameters(_edge_stack(north))["CloudFrontWebAclArn"] == arn

    destroyed = _cli(aws_env, tmp_path, "destroy", "--yes", params=params)
    assert destroyed.exit_code == 0, destroyed.output
    text = " ".join(destroyed.output.split())
    assert f"then, in other regions: {GLOBAL_STACK} (us-east-1)" in text and text.index("will be deleted") < text.index(
        "then, in other regions"
    )
    assert text.index(f"deleted {STACK}") < text.index(f"deleted {GLOBAL_STACK} (us-east-1)")
    for cfn, name in ((north, STACK), (east, GLOBAL_STACK)):
        with pytest.raises(ClientError, match="does not exist"):
            cfn.describe_stacks(StackName=name)


def test_a_new_global_output_makes_the_root_change_set_again(aws_env, tmp_path, monkeypatch):
    """On update, when executing the global stack changed its outputs (a replaced web ACL), the root's
    change set planned with the old value is dropped and made again with the new one."""
    from deployer import flow

    east, north = _clients(aws_env)
    assert _cli(aws_env, tmp_path, "deploy", "--yes", "--skip-drift", "--skip-lint").exit_code == 0
    replaced = "arn:aws:wafv2:us-east-1:123456789012:global/webacl/waf-cloudfront-pr5706/replaced"
    real = flow.global_values
    calls = []

    def after_execution(aws, bundle):
        calls.append(1)
        values = real(aws, bundle)
        return (
            values if len(calls) == 1 else {"CloudFrontWebAclArn": replaced}
        )  # plan reads the old, the refresh a new one

    monkeypatch.setattr(flow, "global_values", after_execution)
    # a change of the global stack (the rate rule at 3000 requests instead of 2000)
    params = tmp_path / "params"
    shutil.copytree(PARAMS, params)
    base = params / "product-catalog" / "base.yaml"
    base.write_text(base.read_text().replace("  waf:\n", "  waf:\n    rate_limit: 3000\n", 1))
    # executed: the global stack's change; the root's new change set is shown and left for review
    # (executing it is a nested-stack update, which moto makes a delete and create of the edge stack)
    again = CliRunner().invoke(
        generate.cli,
        [
            "deploy",
            "product-catalog",
            "--env",
            "dev",
            "--endpoint-url",
            aws_env,
            "--out",
            str(tmp_path / "dist"),
            "--params",
            str(params),
            "--bucket",
            BUCKET,
            "--skip-drift",
            "--skip-lint",
        ],
        input="y\nn\n",
        catch_exceptions=False,
    )
    assert again.exit_code == 4, again.output  # the second question (the root) declined: DECLINED_EXIT
    text = " ".join(again.output.split())
    assert f"UPDATE_COMPLETE: {GLOBAL_STACK} (us-east-1)" in text
    assert len(calls) == 2  # plan read the deployed outputs, then the refresh after the global stack's execution
    assert f"the root's parameters from {GLOBAL_STACK}: CloudFrontWebAclArn={replaced}" in text
    assert f"changed: DistributionConfig/WebACLId: {LOCAL_WEB_ACL_ARN} →" in text
    assert "declined: not executed; the change set stays for review" in text
    # one change set waits on the root: the stale one (old value) was deleted, the new one carries the new value
    [summary] = [
        c
        for c in north.list_change_sets(StackName=STACK)["Summaries"]
        if c.get("ExecutionStatus") != "EXECUTE_COMPLETE"
    ]
    passed = north.describe_change_set(StackName=STACK, ChangeSetName=summary["ChangeSetId"])["Parameters"]
    assert {p["ParameterKey"]: p.get("ParameterValue") for p in passed}["CloudFrontWebAclArn"] == replaced
    assert (
        _parameters(north.describe_stacks(StackName=STACK)["Stacks"][0])["CloudFrontWebAclArn"] == LOCAL_WEB_ACL_ARN
    )  # not executed


def test_ctrl_c_on_the_global_stack_leaves_the_root_untouched_and_exits_130(aws_env, tmp_path, monkeypatch):
    import botocore.waiter

    from deployer import execute as execute_module

    east, north = _clients(aws_env)
    waiting = botocore.waiter.Waiter.wait
    monkeypatch.setattr(botocore.waiter.Waiter, "wait", lambda self, **kwargs: (_ for _ in ()).throw(KeyboardInterrupt))
    planned = _cli(aws_env, tmp_path, "plan", "--skip-drift", "--skip-lint")
    assert planned.exit_code == 130, planned.output
    assert f"is still being created on {GLOBAL_STACK} (us-east-1) and nothing was executed" in " ".join(
        planned.output.split()
    )
    monkeypatch.setattr(botocore.waiter.Waiter, "wait", waiting)

    monkeypatch.setattr(execute_module.Follower, "poll", lambda self: (_ for _ in ()).throw(KeyboardInterrupt))
    deployed = _cli(aws_env, tmp_path, "deploy", "--yes", "--skip-drift", "--skip-lint")
    assert deployed.exit_code == 130, deployed.output
    # the hint once, for the global stack in its own region (an earlier version printed it inside a second one)
    assert " ".join(deployed.output.split()).endswith(
        "stopped waiting; the stack operation goes on. Follow it with: aws cloudformation describe-stack-events "
        f"--stack-name {GLOBAL_STACK} --region us-east-1"
    )
    with pytest.raises(ClientError, match="does not exist"):
        north.describe_stacks(StackName=STACK)  # the root was never proposed

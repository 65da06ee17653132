"""Image tags at deploy time (deployer/images.py): an unpinned tag keeps the deployed value on an
update (UsePreviousValue), a pinned tag is checked with ECR DescribeImages before anything is
uploaded or proposed. Stubber for the exact requests; the emulator for the whole flow: a first
deploy runs every service at 0 tasks, a pipeline-style change set with the built tag brings it up
to its desired count, and a later manual deploy does not take it back to 0."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import boto3
import pytest
import yaml
from botocore.stub import ANY, Stubber

from deployer.bundle import load_bundle
from deployer.changeset import Waiting, create_change_set
from deployer.errors import DeployerError
from deployer.flow import plan
from deployer.images import change_set_parameters, check_pinned_images, image_parameters
from deployer.session import Aws
from templates.params import REPO_PARAMS, deep_merge, load_config
from templates.render import render, write_profile
from tests.test_deployer_e2e import REGION, cli, clients  # noqa: F401 (fixtures)
from tests.test_deployer_faults import api  # noqa: F401 (fixture)
from tests.test_deployer_units import CS_ID, NOW, STACK_ID, UPLOAD

PINNED = {"services": {"api": {"image_tag": "v1.2.3"}}}


def params_with(tmp_path: Path, app: str, env: str, changes: dict | None) -> Path:
    """A copy of the repository's params with `changes` deep-merged into <app>/<env>.yaml."""
    params = tmp_path / "params"
    shutil.copytree(REPO_PARAMS, params)
    if changes:
        overlay = params / app / f"{env}.yaml"
        overlay.write_text(yaml.safe_dump(deep_merge(yaml.safe_load(overlay.read_text()) or {}, changes)))
    return params


def bundle_of(tmp_path: Path, app: str = "product-catalog", env: str = "prod", changes: dict | None = None):
    """The generated bundle of a profile, optionally with params changes."""
    params = params_with(tmp_path, app, env, changes)
    found = load_bundle(write_profile(render(load_config(app, env, params)), tmp_path / "dist"))
    # product-catalog's CloudFront web ACL ARN, as the deployer reads it from the us-east-1 global stack
    return found.with_global_values(
        {name: "arn:aws:wafv2:us-east-1:123456789012:global/webacl/w/1" for name in found.global_inputs}
    )


def cfn_client():
    return boto3.client("cloudformation", region_name="eu-north-1", aws_access_key_id="x", aws_secret_access_key="x")


def ecr_client():
    return boto3.client("ecr", region_name="eu-north-1", aws_access_key_id="x", aws_secret_access_key="x")


def deployed(parameters: dict[str, str]) -> dict:
    return {
        "StackName": "product-catalog-catalog-prod",
        "StackId": STACK_ID,
        "StackStatus": "UPDATE_COMPLETE",
        "CreationTime": NOW,
        "Parameters": [{"ParameterKey": k, "ParameterValue": v} for k, v in parameters.items()],
    }


# ------------------------------------------------------------------ which parameters are image tags


def test_image_parameters_name_the_params_key_and_the_repository(tmp_path):
    found = image_parameters(bundle_of(tmp_path, "smart-task", "prod"))
    assert [(p.name, p.key, p.value, p.repository) for p in found] == [
        ("ServiceBackendImageTag", "services.backend.image_tag", "", "ecr-backend-st-prod"),
        ("ServiceFrontendImageTag", "services.frontend.image_tag", "", "ecr-frontend-st-prod"),
    ]


# ------------------------------------------------------------------ UsePreviousValue


def _stubbed_change_set(bundle, stack: dict | None, expected_parameters: list[dict], kind: str):
    cfn = cfn_client()
    with Stubber(cfn) as stub:
        if stack is None:
            stub.add_client_error(
                "describe_stacks", "ValidationError", f"Stack with id {bundle.stack_name} does not exist"
            )
        else:
            stub.add_response("describe_stacks", {"Stacks": [stack]}, {"StackName": bundle.stack_name})
        stub.add_response(
            "create_change_set",
            {"Id": CS_ID, "StackId": STACK_ID},
            {
                "StackName": bundle.stack_name,
                "ChangeSetName": ANY,
                "ChangeSetType": kind,
                "TemplateURL": UPLOAD.root.url,
                "IncludeNestedStacks": True,
                "Capabilities": ANY,
                "Parameters": expected_parameters,
                "Tags": ANY,
                "Description": ANY,
            },
        )
        stub.add_response(
            "describe_change_set",
            {
                "ChangeSetId": CS_ID,
                "StackName": bundle.stack_name,
                "ExecutionStatus": "AVAILABLE",
                "Status": "CREATE_COMPLETE",
            },
            {"ChangeSetName": CS_ID},
        )
        ref = create_change_set(cfn, bundle, UPLOAD, now=NOW, waiting=Waiting(delay=0, max_attempts=1))
        stub.assert_no_pending_responses()
    return ref


def test_an_update_keeps_the_deployed_tag_of_an_unpinned_service(tmp_path):
    bundle = bundle_of(tmp_path)
    values = bundle.parameters()
    assert values["ServiceApiImageTag"] == ""
    # what the pipeline set on its last run: a manual deploy must not take the service back to 0
    stack = deployed({**values, "ServiceApiImageTag": "1a2b3c4d5e6f"})
    expected = [
        {"ParameterKey": "ServiceApiImageTag", "UsePreviousValue": True}
        if name == "ServiceApiImageTag"
        else {"ParameterKey": name, "ParameterValue": value}
        for name, value in values.items()
    ]
    ref = _stubbed_change_set(bundle, stack, expected, "UPDATE")
    assert ref.type == "UPDATE"
    # everything else is the params file's value (counts included)
    assert {"ParameterKey": "ServiceApiDesiredCount", "ParameterValue": "2"} in expected


def test_a_first_create_sends_the_empty_tag(tmp_path):
    bundle = bundle_of(tmp_path)
    expected = [{"ParameterKey": name, "ParameterValue": value} for name, value in bundle.parameters().items()]
    assert {"ParameterKey": "ServiceApiImageTag", "ParameterValue": ""} in expected
    assert _stubbed_change_set(bundle, None, expected, "CREATE").type == "CREATE"


def test_a_pinned_tag_is_sent_as_pinned_on_an_update(tmp_path):
    bundle = bundle_of(tmp_path, changes=PINNED)
    parameters = change_set_parameters(bundle, deployed({**bundle.parameters(), "ServiceApiImageTag": "1a2b3c4d5e6f"}))
    assert {"ParameterKey": "ServiceApiImageTag", "ParameterValue": "v1.2.3"} in parameters
    assert not any(p.get("UsePreviousValue") for p in parameters)


def test_a_tag_the_deployed_stack_does_not_declare_is_sent_empty(tmp_path):
    """CloudFormation refuses UsePreviousValue for a key the previous template lacks (a new service)."""
    bundle = bundle_of(tmp_path)
    old = {k: v for k, v in bundle.parameters().items() if k != "ServiceApiImageTag"}
    parameters = change_set_parameters(bundle, deployed(old))
    assert {"ParameterKey": "ServiceApiImageTag", "ParameterValue": ""} in parameters
    assert not any(p.get("UsePreviousValue") for p in parameters)


# ------------------------------------------------------------------ pinned tags: ECR DescribeImages


def _aws_with(**clients) -> Aws:
    aws = Aws(boto3.Session(region_name="eu-north-1", aws_access_key_id="x", aws_secret_access_key="x"))
    aws._clients.update(clients)
    return aws


def test_a_pinned_tag_missing_from_its_repository_is_refused_before_any_upload_or_change_set(tmp_path):
    bundle = bundle_of(tmp_path, changes=PINNED)
    ecr, cfn, s3 = (
        ecr_client(),
        cfn_client(),
        boto3.client("s3", region_name="eu-north-1", aws_access_key_id="x", aws_secret_access_key="x"),
    )
    with Stubber(ecr) as ecr_stub, Stubber(cfn) as cfn_stub, Stubber(s3) as s3_stub:
        ecr_stub.add_client_error(
            "describe_images",
            "ImageNotFoundException",
            "The image with imageId {imageDigest:'null', imageTag:'v1.2.3'} does not exist",
            expected_params={"repositoryName": "ecr-api-catalog-prod", "imageIds": [{"imageTag": "v1.2.3"}]},
        )
        with pytest.raises(DeployerError) as refused:
            plan(_aws_with(ecr=ecr, cloudformation=cfn, s3=s3), bundle, "bucket")
        ecr_stub.assert_no_pending_responses()
        # no response was queued for S3 or CloudFormation: any call (PutObject, CreateChangeSet) would have raised
        cfn_stub.assert_no_pending_responses()
        s3_stub.assert_no_pending_responses()
    assert str(refused.value) == (
        "services.api.image_tag pins 'v1.2.3', but ECR repository ecr-api-catalog-prod has no image with that tag: "
        "push it first, or leave services.api.image_tag empty to keep the tag the service runs"
    )


def test_a_pinned_tag_whose_repository_does_not_exist_yet_says_to_leave_it_empty_for_a_first_deploy(tmp_path):
    bundle = bundle_of(tmp_path, changes=PINNED)
    ecr = ecr_client()
    with Stubber(ecr) as stub:
        stub.add_client_error(
            "describe_images",
            "RepositoryNotFoundException",
            "The repository with name 'ecr-api-catalog-prod' does not exist",
        )
        with pytest.raises(DeployerError) as refused:
            check_pinned_images(ecr, bundle)
    assert str(refused.value) == (
        "services.api.image_tag pins 'v1.2.3', but ECR repository ecr-api-catalog-prod does not exist yet "
        "(this deploy creates it empty): "
        "leave services.api.image_tag empty for a first deploy; the service starts at 0 tasks and the "
        "first pipeline run pushes the image and sets the tag"
    )


def test_a_pinned_tag_that_exists_passes_and_unpinned_tags_call_nothing(tmp_path):
    ecr = ecr_client()
    with Stubber(ecr) as stub:
        stub.add_response(
            "describe_images",
            {"imageDetails": [{"imageTags": ["v1.2.3"], "imageDigest": "sha256:" + "a" * 64}]},
            {"repositoryName": "ecr-api-catalog-prod", "imageIds": [{"imageTag": "v1.2.3"}]},
        )
        check_pinned_images(ecr, bundle_of(tmp_path / "pinned", changes=PINNED))
        check_pinned_images(ecr, bundle_of(tmp_path / "unpinned"))  # nothing queued: no call allowed
        stub.assert_no_pending_responses()


# ------------------------------------------------------------------ the flow on the emulator
# moto 5.2 updates a nested stack by deleting and re-creating it, and the re-create collides with
# the named log groups it kept: an update of the compute layer cannot execute locally. The updates
# are therefore shown as plans here (the change set's request and parameters); the pipeline's
# change set with the built tag is run as a create in tests/test_buildspec.py.


def _service(endpoint: str, name: str = "ecs-service-api-pr5706") -> dict:
    ecs = boto3.client("ecs", region_name=REGION, endpoint_url=endpoint)
    return ecs.describe_services(cluster="ecs-cluster-pr5706", services=[name])["services"][0]


def _push(endpoint: str, tag: str, repository: str = "ecr-api-pr5706") -> None:
    manifest = {
        "schemaVersion": 2,
        "mediaType": "application/vnd.docker.distribution.manifest.v2+json",
        "config": {
            "mediaType": "application/vnd.docker.container.image.v1+json",
            "size": 2,
            "digest": "sha256:" + "c" * 64,
        },
        "layers": [],
    }
    boto3.client("ecr", region_name=REGION, endpoint_url=endpoint).put_image(
        repositoryName=repository, imageManifest=json.dumps(manifest), imageTag=tag
    )


def _sent_parameters(api) -> list[dict]:
    return next(p for op, p in api.calls if op == "CreateChangeSet" and "TemplateURL" in p)[
        "Parameters"
    ]  # the root's (the us-east-1 global stack's comes first)


def test_a_first_deploy_on_an_empty_account_runs_the_service_at_zero_tasks(aws_env, clients, tmp_path, api):
    _, cfn = clients
    first = cli(aws_env, tmp_path, "deploy", "--yes")
    assert first.exit_code == 0, first.output
    assert "CREATE_COMPLETE: product-catalog-pr5706" in first.output
    service = _service(aws_env)
    assert service["desiredCount"] == 0
    definition = boto3.client("ecs", region_name=REGION, endpoint_url=aws_env).describe_task_definition(
        taskDefinition=service["taskDefinition"]
    )["taskDefinition"]
    assert (
        definition["containerDefinitions"][0]["image"]
        == "123456789012.dkr.ecr.eu-north-1.amazonaws.com/ecr-api-pr5706:no-image-yet"
    )
    assert {"ParameterKey": "ServiceApiImageTag", "ParameterValue": ""} in _sent_parameters(api)
    assert api.operations("DescribeImages") == []  # nothing pinned: nothing to check

    # the next manual plan of a changed template keeps whatever tag the stack runs
    api.calls.clear()
    params = params_with(tmp_path, "product-catalog", "dev", {"tags": {"Owner": "platform"}})
    again = cli(aws_env, tmp_path, "plan", params=params)
    assert again.exit_code == 0, again.output
    assert {"ParameterKey": "ServiceApiImageTag", "UsePreviousValue": True} in _sent_parameters(api)
    assert {"ParameterKey": "ServiceApiDesiredCount", "ParameterValue": "2"} in _sent_parameters(api)


def test_a_pinned_tag_is_planned_only_once_it_is_in_the_repository(aws_env, clients, tmp_path, api):
    _, cfn = clients
    assert cli(aws_env, tmp_path, "deploy", "--yes").exit_code == 0
    params = params_with(tmp_path, "product-catalog", "dev", PINNED)
    api.calls.clear()
    refused = cli(aws_env, tmp_path, "deploy", "--yes", params=params)
    assert refused.exit_code == 1
    assert [line for line in refused.output.splitlines() if line.startswith("error:")] == [
        "error: services.api.image_tag pins 'v1.2.3', but ECR repository ecr-api-pr5706 has no image with that tag: "
        "push it first, or leave services.api.image_tag empty to keep the tag the service runs"
    ]
    assert api.operations("DescribeImages") == ["DescribeImages"]
    assert api.operations("CreateChangeSet", "PutObject") == []

    _push(aws_env, "v1.2.3")
    api.calls.clear()
    planned = cli(aws_env, tmp_path, "plan", "-o", "json", params=params)
    assert planned.exit_code == 0, planned.output
    assert {"ParameterKey": "ServiceApiImageTag", "ParameterValue": "v1.2.3"} in _sent_parameters(api)


# ------------------------------------------------------------------ the pipeline's tags into the template configuration


def _configuration(bundle) -> Path:
    from deployer.upload import template_configuration

    path = bundle.folder / "template-configuration.json"
    path.write_text(json.dumps(template_configuration(bundle), indent=2, sort_keys=True) + "\n")
    return path


def test_built_tags_go_into_the_template_configuration(tmp_path):
    from deployer.images import apply_image_tags

    bundle = bundle_of(tmp_path, "smart-task", "prod")
    path = _configuration(bundle)
    notes = apply_image_tags(
        path,
        bundle,
        {
            "ServiceBackendImageTag": "1a2b3c4d5e6f",
            "ServiceFrontendImageTag": "1a2b3c4d5e6f",
            "ServiceAdminImageTag": "1a2b3c4d5e6f",
        },
    )
    parameters = json.loads(path.read_text())["Parameters"]
    assert (parameters["ServiceBackendImageTag"], parameters["ServiceFrontendImageTag"]) == (
        "1a2b3c4d5e6f",
        "1a2b3c4d5e6f",
    )
    assert "ServiceAdminImageTag" not in parameters
    assert notes == [
        "ServiceAdminImageTag is not an image tag parameter of this root (a service the templates no "
        "longer have?): not set"
    ]


def test_a_pinned_tag_wins_over_the_built_one_and_a_bad_tag_is_refused(tmp_path):
    from deployer.images import apply_image_tags

    bundle = bundle_of(tmp_path, changes=PINNED)
    path = _configuration(bundle)
    assert apply_image_tags(path, bundle, {"ServiceApiImageTag": "1a2b3c4d5e6f"}) == [
        "services.api.image_tag pins 'v1.2.3': kept; the built '1a2b3c4d5e6f' is not deployed by this change set"
    ]
    assert json.loads(path.read_text())["Parameters"]["ServiceApiImageTag"] == "v1.2.3"
    with pytest.raises(DeployerError, match=r"^tags.json: ServiceApiImageTag: '' is not an image tag"):
        apply_image_tags(path, bundle, {"ServiceApiImageTag": ""}, source="tags.json")
    with pytest.raises(DeployerError, match=r"^tags.json: expected a JSON object"):
        apply_image_tags(path, bundle, ["1a2b3c4d5e6f"], source="tags.json")

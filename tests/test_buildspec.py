"""buildspec.yml, and the pipelines' inline image buildspec, run as CodeBuild runs them: its phase commands in
order, in one bash session (so variables persist between commands, as in buildspec version 0.2), in a copy of
the repository, with the variables the PackageInfrastructure project sets, against the local emulator (moto's
server, reached through AWS_ENDPOINT_URL as any AWS SDK or CLI would). The install phase installs
the copy into a virtualenv that sees the already-installed dependencies; pip still fetches the
build backend (setuptools) from the index for its isolated build, as on CodeBuild, so without an
index the test skips (and fails under CI=1, like the checkov test).

The image build runs with a stand-in for the docker CLI (no Docker daemon here): `build` is
recorded, `push` becomes ECR PutImage on the emulator, which refuses a tag that exists in an
IMMUTABLE repository as ECR does. Everything else (the aws CLI, ECR, the commands) is real."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from urllib.parse import urlparse

import boto3
import pytest
import yaml

from deployer.local import local_endpoint

ROOT = Path(__file__).resolve().parent.parent
APP, ENV, REGION = "product-catalog", "dev", "eu-north-1"
# the artifact bucket the pipeline passes (not the stack's own name: the stack is created below in the same account)
BUCKET = "cfn-strata-buildspec-test-artifacts"
PHASES = ("install", "pre_build", "build", "post_build")


def spec() -> dict:
    return yaml.safe_load((ROOT / "buildspec.yml").read_text())


def test_buildspec_shape_is_what_the_pipeline_consumes():
    document = spec()
    assert document["version"] == 0.2
    assert document["env"]["shell"] == "bash"
    assert document["env"]["exported-variables"] == ["ROOT_TEMPLATE_URL"]
    assert document["artifacts"] == {
        "base-directory": "pipeline",
        "files": ["root.json", "template-configuration.json", "manifest.json"],
    }
    commands = [c for phase in document["phases"].values() for c in phase["commands"]]
    assert [c.split()[1] for c in commands if c.startswith("cfn-strata")] == ["generate", "lint", "upload"]
    from templates import cicd
    from templates.params import REPO_PARAMS, load_config
    from templates.render import serialize

    # the pipeline's CloudFormation action reads exactly these two files of this artifact
    document = json.loads(serialize(cicd.build(load_config(APP, "prod", REPO_PARAMS)).template))
    create = document["Resources"]["PipelineBackend"]["Properties"]["Stages"][2]["Actions"][0]["Configuration"]
    assert (create["TemplatePath"], create["TemplateConfiguration"]) == (
        "Infrastructure::root.json",
        "Infrastructure::template-configuration.json",
    )


def _copy_repository(target: Path) -> Path:
    files = subprocess.run(
        ["git", "ls-files", "-co", "--exclude-standard"], cwd=ROOT, capture_output=True, text=True, check=True
    ).stdout.split()
    for name in files:
        source = ROOT / name
        if source.is_file() and not name.startswith((".venv", "dist/")):
            (target / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, target / name)
    return target


def _script(document: dict, exported: Path) -> str:
    lines = ["set -eo pipefail"]
    for name, value in document["env"].get("variables", {}).items():
        lines.append(f'export {name}="${{{name}:-{value}}}"')
    for phase in PHASES:
        for command in document["phases"].get(phase, {}).get("commands", []):
            lines.append(command)
    for name in document["env"].get("exported-variables", []):
        lines.append(f'printf "%s=%s\\n" {name} "${name}" >> {exported}')
    return "\n".join(lines) + "\n"


COMMIT = "1a2b3c4d5e6f7a8b9c0d1e2f3a4b5c6d7e8f9a0b"
TAG = COMMIT[:12]
ACCOUNT = "123456789012"
REGISTRY = f"{ACCOUNT}.dkr.ecr.{REGION}.amazonaws.com"
REPOSITORY = "ecr-api-pr5706"
# A stand-in for the docker CLI (see the module docstring); logs what it is asked to do.
DOCKER = """#!/usr/bin/env bash
set -eo pipefail
case "$1" in
  login) cat > /dev/null; echo "Login Succeeded" ;;
  build) echo "build ${*: -1} ${3}" >> "$DOCKER_LOG" ;;
  push)
    reference="${2#*/}"
    echo "push $2" >> "$DOCKER_LOG"
    aws ecr put-image --repository-name "${reference%:*}" --image-tag "${reference##*:}" \\
      --image-manifest "$IMAGE_MANIFEST" > /dev/null ;;
  *) echo "docker stand-in: unexpected $*" >&2; exit 1 ;;
esac
"""
MANIFEST = json.dumps(
    {
        "schemaVersion": 2,
        "mediaType": "application/vnd.docker.distribution.manifest.v2+json",
        "config": {
            "mediaType": "application/vnd.docker.container.image.v1+json",
            "size": 2,
            "digest": "sha256:" + "d" * 64,
        },
        "layers": [],
    }
)


@pytest.fixture(scope="module")
def emulator():
    with local_endpoint() as running:
        yield running.url


@pytest.fixture
def endpoint(emulator):
    """The emulator as an empty account."""
    import urllib.request

    urllib.request.urlopen(urllib.request.Request(f"{emulator}/moto-api/reset", method="POST")).read()
    return emulator


def image_spec() -> dict:
    """The inline buildspec of product-catalog's image build (its BuildImages action)."""
    from templates import cicd
    from templates.params import REPO_PARAMS, load_config

    return json.loads(cicd._image_buildspec(load_config(APP, ENV, REPO_PARAMS)))


def run_image_build(
    endpoint: str, work: Path, repository: str = REPOSITORY
) -> tuple[subprocess.CompletedProcess, Path]:
    """One BuildImages run for COMMIT in a fresh source folder, as CodeBuild runs it."""
    source = work / "src"
    (source / "api").mkdir(parents=True)
    (source / "api" / "Dockerfile").write_text("FROM scratch\n")
    bin_dir = work / "bin"
    bin_dir.mkdir()
    (bin_dir / "docker").write_text(DOCKER)
    (bin_dir / "docker").chmod(0o755)
    env = {
        "PATH": f"{bin_dir}{os.pathsep}{os.environ['PATH']}",
        "HOME": str(work),
        "DOCKER_LOG": str(work / "docker.log"),
        "IMAGE_MANIFEST": MANIFEST,
        # what the image build project of templates/cicd.py sets
        "REGISTRY": REGISTRY,
        "REPOSITORY_API": repository,
        "CONTAINER_API": "api",
        "SERVICE_API": "ecs-service-api-pr5706",
        "CLUSTER": "ecs-cluster-pr5706",
        # what CodeBuild sets
        "CODEBUILD_RESOLVED_SOURCE_VERSION": COMMIT,
        "CODEBUILD_SRC_DIR": str(source),
        "AWS_REGION": REGION,
        "AWS_DEFAULT_REGION": REGION,
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_ENDPOINT_URL": endpoint,
    }
    done = subprocess.run(
        ["bash", "-c", _script(image_spec(), work / "exported.env")],
        cwd=source,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    return done, source


def _ecr(endpoint: str):
    return boto3.client(
        "ecr", region_name=REGION, endpoint_url=endpoint, aws_access_key_id="testing", aws_secret_access_key="testing"
    )


def _immutable_repository(endpoint: str, name: str = REPOSITORY) -> None:
    ecr = _ecr(endpoint)
    if name not in [r["repositoryName"] for r in ecr.describe_repositories()["repositories"]]:
        ecr.create_repository(repositoryName=name, imageTagMutability="IMMUTABLE")


def test_the_image_build_run_twice_for_the_same_commit_pushes_once_and_succeeds_twice(endpoint, tmp_path):
    _immutable_repository(endpoint)
    first, source = run_image_build(endpoint, tmp_path / "first")
    assert first.returncode == 0, first.stdout[-3000:] + first.stderr[-3000:]
    assert (tmp_path / "first" / "docker.log").read_text().splitlines() == [
        f"build api {REGISTRY}/{REPOSITORY}:{TAG}",
        f"push {REGISTRY}/{REPOSITORY}:{TAG}",
    ]
    assert [i["imageTags"] for i in _ecr(endpoint).describe_images(repositoryName=REPOSITORY)["imageDetails"]] == [
        [TAG]
    ]
    assert json.loads((source / "image-tags.json").read_text()) == {"ServiceApiImageTag": TAG}
    assert json.loads((source / "imagedefinitions-api.json").read_text()) == [
        {"name": "api", "imageUri": f"{REGISTRY}/{REPOSITORY}:{TAG}"}
    ]
    assert dict(line.split("=", 1) for line in (tmp_path / "first" / "exported.env").read_text().splitlines()) == {
        "IMAGE_TAG": TAG
    }

    # the control: pushing the same tag again is refused by the IMMUTABLE repository...
    again = subprocess.run(
        [str(tmp_path / "first" / "bin" / "docker"), "push", f"{REGISTRY}/{REPOSITORY}:{TAG}"],
        capture_output=True,
        text=True,
        env={
            **os.environ,
            "AWS_ENDPOINT_URL": endpoint,
            "AWS_DEFAULT_REGION": REGION,
            "AWS_ACCESS_KEY_ID": "testing",
            "AWS_SECRET_ACCESS_KEY": "testing",
            "DOCKER_LOG": str(tmp_path / "control.log"),
            "IMAGE_MANIFEST": MANIFEST,
        },
    )
    assert again.returncode != 0 and "AlreadyExists" in again.stderr

    # ...so a retry of the same commit skips the build and push, and still hands over the same artifacts
    second, source = run_image_build(endpoint, tmp_path / "second")
    assert second.returncode == 0, second.stdout[-3000:] + second.stderr[-3000:]
    assert not (tmp_path / "second" / "docker.log").exists()
    assert f"api: {REPOSITORY}:{TAG} is already in ECR (same commit): not built again" in second.stdout
    assert json.loads((source / "image-tags.json").read_text()) == {"ServiceApiImageTag": TAG}
    assert json.loads((source / "imagedefinitions-api.json").read_text()) == [
        {"name": "api", "imageUri": f"{REGISTRY}/{REPOSITORY}:{TAG}"}
    ]


def test_the_image_build_fails_on_any_other_describe_images_error(endpoint, tmp_path):
    done, _ = run_image_build(endpoint, tmp_path, repository="ecr-missing-pr5706")
    assert done.returncode != 0
    assert "RepositoryNotFoundException" in done.stderr
    assert not (tmp_path / "docker.log").exists()  # nothing was built on a guess


def test_buildspec_generates_lints_uploads_and_hands_over_the_artifacts(endpoint, tmp_path):
    source = _copy_repository(tmp_path / "src")
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--system-site-packages", str(venv)], check=True)
    s3 = boto3.client(
        "s3", region_name=REGION, endpoint_url=endpoint, aws_access_key_id="testing", aws_secret_access_key="testing"
    )
    s3.create_bucket(Bucket=BUCKET, CreateBucketConfiguration={"LocationConstraint": REGION})
    # BuildImages ran first (RunOrder 1): its Images artifact is a secondary input of this action.
    # (It pushes to a repository of its own here: the stack created below creates ecr-api-pr5706.)
    _immutable_repository(endpoint, "ecr-build-pr5706")
    images_build, images = run_image_build(endpoint, tmp_path / "images", repository="ecr-build-pr5706")
    assert images_build.returncode == 0, images_build.stderr[-3000:]
    # the first `cfn-strata deploy` (README, "First deploy on a new account") made the us-east-1
    # global stack before the pipeline existed: PackageInfrastructure reads its web ACL output
    from tests.conftest import rendered

    east = boto3.client(
        "cloudformation",
        region_name="us-east-1",
        endpoint_url=endpoint,
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )
    global_name = f"{rendered(APP, ENV).manifest['stack_name']}-global"
    east.create_stack(StackName=global_name, TemplateBody=rendered(APP, ENV).files["global.json"].decode())
    web_acl_arn = {
        o["OutputKey"]: o["OutputValue"] for o in east.describe_stacks(StackName=global_name)["Stacks"][0]["Outputs"]
    }["WebAclArn"]
    exported = tmp_path / "exported.env"
    env = {
        "PATH": f"{venv / 'bin'}{os.pathsep}{os.environ['PATH']}",
        "HOME": str(tmp_path),
        "CFN_STRATA_CACHE": str(tmp_path / "lint-cache"),
        # what the PackageInfrastructure project of templates/cicd.py sets
        "APP": APP,
        "ENV": ENV,
        "CFN_STRATA_BUCKET": BUCKET,
        "CFN_STRATA_PREFIX": "templates",
        # what CodeBuild sets
        "CODEBUILD_SRC_DIR": str(source),
        "AWS_REGION": REGION,
        "AWS_DEFAULT_REGION": REGION,
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        # CodeBuild's directory of the secondary input artifact named Images
        "CODEBUILD_SRC_DIR_Images": str(images),
        # the emulator instead of AWS: every SDK and the AWS CLI honour it
        "AWS_ENDPOINT_URL": endpoint,
    }
    done = subprocess.run(
        ["bash", "-c", _script(spec(), exported)], cwd=source, env=env, capture_output=True, text=True, timeout=600
    )
    if done.returncode and "No matching distribution found for setuptools" in done.stderr and not os.environ.get("CI"):
        pytest.skip("pip could not reach a package index for the build backend")
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]

    # the installed cfn-strata is the copy's, not the developer's checkout
    shown = subprocess.run(
        [str(venv / "bin" / "python"), "-c", "import templates; print(templates.__file__)"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        check=True,
    )
    assert "/venv/" in shown.stdout, shown.stdout

    variables = dict(line.split("=", 1) for line in exported.read_text().splitlines())
    url = variables["ROOT_TEMPLATE_URL"]
    assert url.startswith(f"https://{BUCKET}.s3.{REGION}.amazonaws.com/templates/{APP}/{ENV}/root.") and url.endswith(
        ".json"
    )

    artifacts = source / "pipeline"
    assert sorted(p.name for p in artifacts.iterdir()) == ["manifest.json", "root.json", "template-configuration.json"]
    root = json.loads((artifacts / "root.json").read_text())
    uploaded_root = s3.get_object(Bucket=BUCKET, Key=urlparse(url).path.lstrip("/"))["Body"].read()
    assert json.loads(uploaded_root) == root
    manifest = json.loads((artifacts / "manifest.json").read_text())
    nested = {s["logical_id"] for s in manifest["stacks"] if s["scope"] == "nested"}
    stacks = {k: v for k, v in root["Resources"].items() if v["Type"] == "AWS::CloudFormation::Stack"}
    assert set(stacks) == nested and nested
    for logical_id, stack in stacks.items():
        parsed = urlparse(stack["Properties"]["TemplateURL"])
        assert parsed.scheme == "https" and parsed.netloc == f"{BUCKET}.s3.{REGION}.amazonaws.com", logical_id
        head = s3.head_object(Bucket=BUCKET, Key=parsed.path.lstrip("/"))
        assert head["ServerSideEncryption"] == "AES256"
        body = s3.get_object(Bucket=BUCKET, Key=parsed.path.lstrip("/"))["Body"].read()
        assert json.loads(body)["Description"].startswith(f"cfn-strata {APP}/{ENV}: "), logical_id

    configuration = json.loads((artifacts / "template-configuration.json").read_text())
    assert set(configuration) == {"Parameters", "Tags", "StackPolicy"}
    assert set(configuration["Parameters"]) == set(root.get("Parameters", {}))
    # the tag BuildImages produced; every other parameter is the params file's
    assert configuration["Parameters"]["ServiceApiImageTag"] == TAG
    assert root["Parameters"]["ServiceApiImageTag"]["Default"] == ""
    assert configuration["Parameters"]["ServiceApiDesiredCount"] == "2"
    assert configuration["Parameters"]["CloudFrontWebAclArn"] == web_acl_arn  # the global stack's output, not a default
    assert "Default" not in root["Parameters"]["CloudFrontWebAclArn"]
    assert configuration["Tags"]["EnvironmentSuffix"] == "pr5706" and configuration["Tags"]["Project"] == "catalog-api"
    assert "zero cfn-lint errors and warnings" in done.stderr

    # what the pipeline's CloudFormation action does with these two files: on an empty account the
    # services come up at their desired count with the image just built (moto cannot update a
    # nested stack holding named log groups, so the first pipeline run is shown as the create)
    cfn = boto3.client(
        "cloudformation",
        region_name=REGION,
        endpoint_url=endpoint,
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )
    created = cfn.create_change_set(
        StackName=manifest["stack_name"],
        ChangeSetName="cfn-strata-pipeline",
        ChangeSetType="CREATE",
        TemplateURL=url,
        Parameters=[{"ParameterKey": k, "ParameterValue": v} for k, v in configuration["Parameters"].items()],
        Capabilities=["CAPABILITY_IAM", "CAPABILITY_NAMED_IAM", "CAPABILITY_AUTO_EXPAND"],
    )
    cfn.get_waiter("change_set_create_complete").wait(
        ChangeSetName=created["Id"], WaiterConfig={"Delay": 1, "MaxAttempts": 60}
    )
    cfn.execute_change_set(ChangeSetName=created["Id"])
    cfn.get_waiter("stack_create_complete").wait(
        StackName=manifest["stack_name"], WaiterConfig={"Delay": 1, "MaxAttempts": 120}
    )
    ecs = boto3.client(
        "ecs", region_name=REGION, endpoint_url=endpoint, aws_access_key_id="testing", aws_secret_access_key="testing"
    )
    service = ecs.describe_services(cluster="ecs-cluster-pr5706", services=["ecs-service-api-pr5706"])["services"][0]
    assert service["desiredCount"] == 2
    definition = ecs.describe_task_definition(taskDefinition=service["taskDefinition"])["taskDefinition"]
    assert definition["containerDefinitions"][0]["image"] == f"{REGISTRY}/{REPOSITORY}:{TAG}"

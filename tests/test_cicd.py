"""cicd layer, built directly (its compute/edge inputs arrive with the compute merge): stages and
action modes in order per profile, the ECS deploy action of every service, least privilege, the artifact bucket, lint
clean alone for every target, checkov clean on prod."""

from __future__ import annotations

import functools
import json
import subprocess

import pytest

from templates import cicd
from templates.common import logical_id
from templates.params import REPO_PARAMS, load_config
from templates.render import serialize
from tests.conftest import ALL_TARGETS, resources
from tests.test_checkov import checkov  # noqa: F401  (the session fixture that finds or installs checkov)

WITH_PIPELINES = [(app, env) for app, env in ALL_TARGETS if app != "platform-scale"]
BACKEND_STAGES = ["Source", "Build", "Infrastructure", "Application"]


@functools.cache
def cfg(app: str, env: str):
    return load_config(app, env, REPO_PARAMS)


@functools.cache
def doc(app: str, env: str) -> dict:
    return json.loads(serialize(cicd.build(cfg(app, env)).template))


def stages(document: dict, pipeline: str) -> list[tuple[str, list[tuple]]]:
    """[(stage, [(action, provider, mode or None, run order), ...]), ...]"""
    found = document["Resources"][pipeline]
    assert found["Type"] == "AWS::CodePipeline::Pipeline"
    return [
        (
            stage["Name"],
            [
                (a["Name"], a["ActionTypeId"]["Provider"], a.get("Configuration", {}).get("ActionMode"), a["RunOrder"])
                for a in stage["Actions"]
            ],
        )
        for stage in found["Properties"]["Stages"]
    ]


def infrastructure_stage(document: dict, pipeline: str) -> list[tuple]:
    return dict(stages(document, pipeline))["Infrastructure"]


def test_only_the_scale_profile_has_no_pipeline():
    assert cicd.build(cfg("platform-scale", "dev")) is None
    assert {(a, e) for a, e in ALL_TARGETS if cicd.build(cfg(a, e)) is not None} == set(WITH_PIPELINES)


@pytest.mark.parametrize(("app", "env"), WITH_PIPELINES)
def test_backend_pipeline_stages_and_change_set_modes_in_order(app, env):
    document = doc(app, env)
    pipelines = sorted(resources(document, "AWS::CodePipeline::Pipeline"))
    expected = {
        "product-management": ["PipelineBackend", "PipelineFrontend"],
        "smart-task": ["PipelineApp", "PipelineFrontend"],
    }.get(app, ["PipelineBackend"])
    assert pipelines == expected
    backend = expected[0]
    assert [name for name, _ in stages(document, backend)] == BACKEND_STAGES
    source, build = dict(stages(document, backend))["Source"], dict(stages(document, backend))["Build"]
    assert source == [
        ("AppSource", "CodeStarSourceConnection", None, 1),
        ("InfraSource", "CodeStarSourceConnection", None, 1),
    ]
    # PackageInfrastructure after BuildImages: it writes the tags that build produced into the template configuration
    assert build == [("BuildImages", "CodeBuild", None, 1), ("PackageInfrastructure", "CodeBuild", None, 2)]
    assert infrastructure_stage(document, backend) == [
        ("CreateChangeSet", "CloudFormation", "CHANGE_SET_REPLACE", 1),
        ("ReviewChangeSet", "CodeBuild", None, 2),
        ("Approve", "Manual", None, 3),
        ("ExecuteChangeSet", "CloudFormation", "CHANGE_SET_EXECUTE", 4),
    ]
    props = document["Resources"][backend]["Properties"]
    assert props["Name"] == f"pipeline-{backend[len('Pipeline') :].lower()}-{cfg(app, env).suffix}"
    assert props["ArtifactStore"] == {
        "Type": "S3",
        "Location": {"Ref": "ArtifactBucket"},
        "EncryptionKey": {"Id": {"Ref": "KmsKeyArn"}, "Type": "KMS"},
    }


def test_change_set_uses_the_uploaded_root_and_template_configuration_and_approval_links_the_review():
    document = doc("product-catalog", "prod")
    actions = {a["Name"]: a for a in document["Resources"]["PipelineBackend"]["Properties"]["Stages"][2]["Actions"]}
    create = actions["CreateChangeSet"]["Configuration"]
    assert create["StackName"] == "product-catalog-catalog-prod" and create["ChangeSetName"] == cicd.CHANGE_SET_NAME
    assert create["Capabilities"] == "CAPABILITY_IAM,CAPABILITY_NAMED_IAM,CAPABILITY_AUTO_EXPAND"
    assert create["RoleArn"] == {"Fn::GetAtt": ["PipelineBackendCloudFormationRole", "Arn"]}
    # the tags come in the template configuration (PackageInfrastructure writes them), not as overrides
    assert "ParameterOverrides" not in create
    assert actions["ReviewChangeSet"]["Namespace"] == "Review"
    approve = actions["Approve"]["Configuration"]
    assert approve["ExternalEntityLink"] == "#{Review.REVIEW_URL}"
    assert "HTML review page" in approve["CustomData"] and "product-catalog-catalog-prod" in approve["CustomData"]
    assert actions["ExecuteChangeSet"]["Configuration"] == {
        "ActionMode": "CHANGE_SET_EXECUTE",
        "StackName": "product-catalog-catalog-prod",
        "ChangeSetName": cicd.CHANGE_SET_NAME,
    }
    review_spec = json.loads(document["Resources"]["PipelineBackendReview"]["Properties"]["Source"]["BuildSpec"])
    review_command, key, url = review_spec["phases"]["build"]["commands"]
    assert review_command.startswith(
        'cfn-strata review "$APP" --env "$ENV" --change-set "$CHANGE_SET" -o html --html-file review.html '
        "--upload-review "
    )
    assert '--review-name "$CODEBUILD_BUILD_NUMBER"' in review_command and '--prefix "$REVIEW_PREFIX"' in review_command
    # the approval link opens the page the review command uploaded (TemplateStore.folder + reviews/<name>.html)
    assert key == 'KEY="$REVIEW_PREFIX/$APP/$ENV/reviews/$CODEBUILD_BUILD_NUMBER.html"'
    assert url.startswith(
        'REVIEW_URL="https://s3.console.aws.amazon.com/s3/object/$CFN_STRATA_BUCKET?'
    ) and url.endswith('prefix=$KEY"')
    assert review_spec["env"]["exported-variables"] == ["REVIEW_URL"]
    package = document["Resources"]["PipelineBackendPackage"]["Properties"]
    assert package["Source"] == {"BuildSpec": "buildspec.yml", "Type": "CODEPIPELINE"}
    variables = {v["Name"]: v["Value"] for v in package["Environment"]["EnvironmentVariables"]}
    assert variables == {
        "APP": "product-catalog",
        "ENV": "prod",
        "CFN_STRATA_BUCKET": {"Ref": "ArtifactBucket"},
        "CFN_STRATA_PREFIX": "templates",
    }


TAGS_COMMAND = {
    "product-catalog": """printf '{"ServiceApiImageTag": "%s"}\\n' "$IMAGE_TAG" > image-tags.json""",
    "smart-task": (
        """printf '{"ServiceBackendImageTag": "%s", "ServiceFrontendImageTag": "%s"}\\n' """
        '"$IMAGE_TAG" "$IMAGE_TAG" > image-tags.json'
    ),
}


@pytest.mark.parametrize(("app", "services"), [("product-catalog", ["api"]), ("smart-task", ["backend", "frontend"])])
def test_the_package_step_gets_the_tags_the_image_build_produced(app, services):
    document = doc(app, "prod")
    pipeline = "PipelineBackend" if app == "product-catalog" else "PipelineApp"
    build = {a["Name"]: a for a in document["Resources"][pipeline]["Properties"]["Stages"][1]["Actions"]}
    package = build["PackageInfrastructure"]
    assert package["InputArtifacts"] == [{"Name": "InfraSource"}, {"Name": "Images"}]
    # CodePipeline: PrimarySource is required with several inputs; buildspec.yml is read from it
    assert package["Configuration"] == {"ProjectName": {"Ref": f"{pipeline}Package"}, "PrimarySource": "InfraSource"}
    assert (package["RunOrder"], build["BuildImages"]["RunOrder"]) == (2, 1)
    assert {"Name": "Images"} in build["BuildImages"]["OutputArtifacts"]
    spec = json.loads(document["Resources"][f"{pipeline}ImageBuild"]["Properties"]["Source"]["BuildSpec"])
    commands = spec["phases"]["build"]["commands"]
    assert commands[-1] == TAGS_COMMAND[app]
    files = (
        spec["artifacts"]["secondary-artifacts"]["Images"]["files"]
        if "secondary-artifacts" in spec["artifacts"]
        else spec["artifacts"]["files"]
    )
    assert files == [*(f"imagedefinitions-{svc}.json" for svc in services), "image-tags.json"]


@pytest.mark.parametrize(
    ("app", "pipeline", "services"),
    [("product-catalog", "PipelineBackend", ["api"]), ("smart-task", "PipelineApp", ["backend", "frontend"])],
)
def test_the_image_build_skips_a_tag_already_in_the_immutable_repository(app, pipeline, services):
    """A retry or "Release change" rebuilds the same commit: the push of an existing tag to an
    IMMUTABLE repository would fail, so the build checks with DescribeImages first."""
    document = doc(app, "prod")
    spec = json.loads(document["Resources"][f"{pipeline}ImageBuild"]["Properties"]["Source"]["BuildSpec"])
    commands = spec["phases"]["build"]["commands"]
    assert spec["phases"]["pre_build"]["commands"][0] == 'IMAGE_TAG="${CODEBUILD_RESOLVED_SOURCE_VERSION:0:12}"'
    for svc in services:
        var = svc.upper()
        image = f'"$REGISTRY/$REPOSITORY_{var}:$IMAGE_TAG"'
        check = commands.index(
            f'if aws ecr describe-images --repository-name "$REPOSITORY_{var}" --image-ids '
            f'imageTag="$IMAGE_TAG" > /dev/null 2> describe-{svc}.err; then BUILD_{var}=no;'
            f" elif grep -q ImageNotFoundException describe-{svc}.err; then BUILD_{var}=yes; else cat "
            f"describe-{svc}.err >&2; false; fi"
        )
        assert commands[check + 1] == (
            f'if [ "$BUILD_{var}" = yes ]; then docker build -t {image} "$CONTEXT" && docker push {image};'
            f' else echo "{svc}: $REPOSITORY_{var}:$IMAGE_TAG is already in ECR (same commit): not built again"; fi'
        )
        assert not any(c.startswith("docker push") for c in commands)  # never pushed unconditionally
    role = document["Resources"][f"{pipeline}ImageBuildRole"]["Properties"]["Policies"][0]["PolicyDocument"][
        "Statement"
    ]
    ecr = next(st for st in role if "ecr:PutImage" in st["Action"])
    assert "ecr:DescribeImages" in ecr["Action"]
    assert ecr["Resource"] == [{"Ref": f"Service{logical_id(svc)}RepositoryArn"} for svc in services]


def test_rolling_services_deploy_with_the_ecs_action():
    application = dict(stages(doc("product-catalog", "dev"), "PipelineBackend"))["Application"]
    assert application == [("DeployApi", "ECS", None, 1)]
    action = doc("product-catalog", "dev")["Resources"]["PipelineBackend"]["Properties"]["Stages"][3]["Actions"][0]
    assert action["Configuration"] == {
        "ClusterName": {"Ref": "ClusterName"},
        "ServiceName": {"Ref": "ServiceApiName"},
        "FileName": "imagedefinitions-api.json",
        "DeploymentTimeout": "30",
    }


def test_smart_task_blue_green_services_deploy_with_the_ecs_action_no_codedeploy():
    """ECS-native blue/green: the pipeline updates each service with the standard ECS action and
    ECS runs the canary the service is configured with; CloudFormation takes the new image tag of
    every service (it can update an ECS-controlled service), and no CodeDeploy is left."""
    document = doc("smart-task", "prod")
    app_stages = document["Resources"]["PipelineApp"]["Properties"]["Stages"]
    assert dict(stages(document, "PipelineApp"))["Application"] == [
        ("DeployBackend", "ECS", None, 1),
        ("DeployFrontend", "ECS", None, 1),
    ]
    assert [a["Configuration"] for a in app_stages[3]["Actions"]] == [
        {
            "ClusterName": {"Ref": "ClusterName"},
            "ServiceName": {"Ref": "ServiceBackendName"},
            "FileName": "imagedefinitions-backend.json",
            "DeploymentTimeout": "30",
        },
        {
            "ClusterName": {"Ref": "ClusterName"},
            "ServiceName": {"Ref": "ServiceFrontendName"},
            "FileName": "imagedefinitions-frontend.json",
            "DeploymentTimeout": "30",
        },
    ]
    assert [a["InputArtifacts"] for a in app_stages[3]["Actions"]] == [[{"Name": "Images"}], [{"Name": "Images"}]]
    create = dict((a["Name"], a) for a in app_stages[2]["Actions"])["CreateChangeSet"]
    # every service's new tag reaches CloudFormation through the template configuration (image-tags.json)
    assert "ParameterOverrides" not in create["Configuration"]
    assert create["Configuration"]["TemplateConfiguration"] == "Infrastructure::template-configuration.json"
    image_spec = json.loads(document["Resources"]["PipelineAppImageBuild"]["Properties"]["Source"]["BuildSpec"])
    assert image_spec["artifacts"] == {
        "files": ["imagedefinitions-backend.json", "imagedefinitions-frontend.json", "image-tags.json"]
    }
    assert not any("appspec" in c or "taskdef" in c for c in image_spec["phases"]["build"]["commands"])
    assert [a["OutputArtifacts"] for a in app_stages[1]["Actions"] if a["Name"] == "BuildImages"] == [
        [{"Name": "Images"}]
    ]
    assert not [r for r in document["Resources"].values() if r["Type"].startswith("AWS::CodeDeploy::")]
    assert not resources(document, "AWS::CloudWatch::Alarm")  # the rollback alarm lives beside its service (compute)
    for title, role in resources(document, "AWS::IAM::Role").items():
        if role["Properties"]["AssumeRolePolicyDocument"]["Statement"][0]["Principal"] == {
            "Service": "codedeploy.amazonaws.com"
        }:
            raise AssertionError("a CodeDeploy role is left")
        if title.endswith("CloudFormationRole"):
            # Keeps codedeploy:* on its own CodeDeploy resources, to delete those of stacks generated before
            # (DEPLOY_SCOPES).
            continue
        for policy in role["Properties"].get("Policies", []):
            for statement in policy["PolicyDocument"]["Statement"]:
                assert not [a for a in statement["Action"] if a.startswith("codedeploy:")]


def test_deploy_timeout_covers_the_traffic_shifting():
    from templates.config import ServiceConfig

    linear = ServiceConfig(
        port=8080,
        deployment="blue_green",
        traffic_shifting={"shift": "linear", "percent": 10, "interval_minutes": 3, "bake_time_minutes": 5},
    )
    assert cicd._deploy_timeout(linear) == 15 + 30 + 5  # start, 10 steps of 3 minutes, bake
    assert cicd._deploy_timeout(ServiceConfig(port=8080)) == 30
    slow = ServiceConfig(
        port=8080,
        deployment="blue_green",
        traffic_shifting={"shift": "canary", "interval_minutes": 40, "bake_time_minutes": 30},
    )
    assert cicd._deploy_timeout(slow) == 60  # the action's maximum (the params model refuses this with a pipeline)


@pytest.mark.parametrize(
    ("app", "pipeline"), [("smart-task", "PipelineAppRole"), ("product-catalog", "PipelineBackendRole")]
)
def test_pipeline_role_holds_the_ecs_deploy_actions_documented_minimum(app, pipeline):
    """CodePipeline user guide: Amazon ECS deploy action reference (service role permissions) and
    "Manage the CodePipeline service role" (DescribeTasks, ListTasks), scoped to ARNs where allowed."""
    config = cfg(app, "prod")
    statements = {
        s.get("Sid"): s
        for s in doc(app, "prod")["Resources"][pipeline]["Properties"]["Policies"][0]["PolicyDocument"]["Statement"]
    }
    ecs_actions = sorted(a for s in statements.values() for a in s["Action"] if a.startswith("ecs:"))
    assert ecs_actions == [
        "ecs:DescribeServices",
        "ecs:DescribeTaskDefinition",
        "ecs:DescribeTasks",
        "ecs:ListTasks",
        "ecs:RegisterTaskDefinition",
        "ecs:TagResource",
        "ecs:UpdateService",
    ]
    assert (statements["TaskDefinitions"]["Action"], statements["TaskDefinitions"]["Resource"]) == (
        ["ecs:DescribeTaskDefinition", "ecs:RegisterTaskDefinition"],
        ["*"],
    )
    services = [f"Service{''.join(p.capitalize() for p in svc.split('-'))}Name" for svc in config.services]
    assert statements["EcsServices"]["Action"] == ["ecs:DescribeServices", "ecs:UpdateService"]
    assert statements["EcsServices"]["Resource"] == [
        {
            "Fn::Sub": [
                "arn:${AWS::Partition}:ecs:${AWS::Region}:${AWS::AccountId}:service/${Cluster}/${Service}",
                {"Cluster": {"Ref": "ClusterName"}, "Service": {"Ref": name}},
            ]
        }
        for name in services
    ]
    assert statements["EcsTasks"]["Action"] == ["ecs:DescribeTasks"]
    assert statements["EcsTasks"]["Resource"] == [
        {
            "Fn::Sub": [
                "arn:${AWS::Partition}:ecs:${AWS::Region}:${AWS::AccountId}:task/${Cluster}/*",
                {"Cluster": {"Ref": "ClusterName"}},
            ]
        }
    ]
    assert (statements["EcsListTasks"]["Action"], statements["EcsListTasks"]["Resource"]) == (["ecs:ListTasks"], ["*"])
    tag = statements["TagTaskDefinitions"]
    assert tag["Action"] == ["ecs:TagResource"]
    assert tag["Resource"] == [
        {
            "Fn::Sub": f"arn:${{AWS::Partition}}:ecs:${{AWS::Region}}:${{AWS::AccountId}}:"
            f"task-definition/task-{svc}-{config.suffix}:*"
        }
        for svc in config.services
    ]
    assert tag["Condition"] == {"StringEquals": {"ecs:CreateAction": "RegisterTaskDefinition"}}
    passes = statements["PassTaskRoles"]
    assert passes["Action"] == ["iam:PassRole"]
    assert passes["Resource"] == [
        {"Ref": "TaskExecutionRoleArn"},
        *[{"Ref": name.replace("Name", "TaskRoleArn")} for name in services],
    ]
    assert passes["Condition"] == {
        "StringEquals": {"iam:PassedToService": ["ecs.amazonaws.com", "ecs-tasks.amazonaws.com"]}
    }


@pytest.mark.parametrize("app", ["product-management", "smart-task"])
def test_frontend_pipeline_builds_the_spa_deploys_to_the_bucket_and_invalidates(app):
    document = doc(app, "prod")
    assert stages(document, "PipelineFrontend") == [
        ("Source", [("AppSource", "CodeStarSourceConnection", None, 1)]),
        ("Build", [("BuildSpa", "CodeBuild", None, 1)]),
        ("Deploy", [("DeploySpa", "S3", None, 1), ("InvalidateCloudFront", "CodeBuild", None, 2)]),
    ]
    deploy = document["Resources"]["PipelineFrontend"]["Properties"]["Stages"][2]["Actions"][0]["Configuration"]
    assert deploy["BucketName"] == {"Ref": "SpaBucketName"} and deploy["Extract"] == "true"
    invalidate = document["Resources"]["PipelineFrontendInvalidate"]["Properties"]
    assert json.loads(invalidate["Source"]["BuildSpec"])["phases"]["build"]["commands"] == [
        'aws cloudfront create-invalidation --distribution-id "$DISTRIBUTION_ID" --paths "/*"'
    ]
    assert invalidate["Environment"]["EnvironmentVariables"] == [
        {"Name": "DISTRIBUTION_ID", "Type": "PLAINTEXT", "Value": {"Ref": "DistributionId"}}
    ]
    assert (
        json.loads(document["Resources"]["PipelineFrontendSpaBuild"]["Properties"]["Source"]["BuildSpec"])["artifacts"][
            "base-directory"
        ]
        == "build"
    )


def test_connection_and_repositories_are_knobs_and_the_connection_is_created_only_when_empty():
    document = doc("smart-task", "dev")
    parameters = document["Parameters"]
    assert parameters["ConnectionArn"]["Default"] == ""
    assert parameters["PipelineAppRepository"]["Default"] == "example-org/smart-task"
    assert parameters["PipelineAppBranch"]["Default"] == "main"
    assert parameters["InfrastructureRepository"]["Default"] == "example-org/cfn-strata"
    assert document["Resources"]["GitHubConnection"]["Condition"] == "CreateConnection"
    source = document["Resources"]["PipelineApp"]["Properties"]["Stages"][0]["Actions"][0]["Configuration"]
    assert source["ConnectionArn"] == {
        "Fn::If": ["CreateConnection", {"Fn::GetAtt": ["GitHubConnection", "ConnectionArn"]}, {"Ref": "ConnectionArn"}]
    }
    assert source["FullRepositoryId"] == {"Ref": "PipelineAppRepository"}


def test_artifact_bucket_is_kms_encrypted_private_versioned_tls_only_and_expires():
    document = doc("mycandidate", "prod")
    bucket = document["Resources"]["ArtifactBucket"]
    assert (bucket["DeletionPolicy"], bucket["UpdateReplacePolicy"]) == ("RetainExceptOnCreate", "Retain")
    props = bucket["Properties"]
    assert props["BucketEncryption"]["ServerSideEncryptionConfiguration"][0]["ServerSideEncryptionByDefault"] == {
        "SSEAlgorithm": "aws:kms",
        "KMSMasterKeyID": {"Ref": "KmsKeyArn"},
    }
    assert props["PublicAccessBlockConfiguration"] == {
        "BlockPublicAcls": True,
        "BlockPublicPolicy": True,
        "IgnorePublicAcls": True,
        "RestrictPublicBuckets": True,
    }
    assert props["VersioningConfiguration"] == {"Status": "Enabled"}
    assert props["LifecycleConfiguration"]["Rules"][0] == {
        "Id": "expire-artifacts",
        "Status": "Enabled",
        "ExpirationInDays": 30,
    }
    deny = document["Resources"]["ArtifactBucketPolicy"]["Properties"]["PolicyDocument"]["Statement"][0]
    assert deny["Effect"] == "Deny" and deny["Condition"] == {"Bool": {"aws:SecureTransport": False}}


# actions AWS grants only on Resource "*" (no resource-level permissions), and where they are used
STAR_ONLY = {"ecr:GetAuthorizationToken", "ecs:DescribeTaskDefinition", "ecs:RegisterTaskDefinition", "ecs:ListTasks"}


@pytest.mark.parametrize(("app", "env"), WITH_PIPELINES)
def test_least_privilege(app, env):
    document = doc(app, env)
    for title, role in resources(document, "AWS::IAM::Role").items():
        for policy in role["Properties"].get("Policies", []):
            for statement in policy["PolicyDocument"]["Statement"]:
                actions = statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]]
                assert "*" not in actions, (title, statement)
                if statement["Resource"] != ["*"]:
                    continue
                assert set(actions) <= STAR_ONLY, (title, actions)
    # the CloudFormation role's managed policies: on "*" only the actions with no resource-level permissions
    # (tests/test_pipeline_role.py checks them against the Service Authorization Reference)
    star_only = {f"{service}:{name}" for service, names in cicd.STAR_ONLY_ACTIONS.items() for name in names}
    for title, managed in resources(document, "AWS::IAM::ManagedPolicy").items():
        for statement in managed["Properties"]["PolicyDocument"]["Statement"]:
            if statement["Resource"] == ["*"] and statement["Effect"] == "Allow":
                assert set(statement["Action"]) <= star_only, (title, statement)
    pipeline_role = document["Resources"]["PipelineBackendRole" if app not in ("smart-task",) else "PipelineAppRole"][
        "Properties"
    ]["Policies"][0]["PolicyDocument"]["Statement"]
    passes = [s for s in pipeline_role if s["Action"] == ["iam:PassRole"]]
    assert [s["Condition"]["StringEquals"]["iam:PassedToService"] for s in passes] == [
        "cloudformation.amazonaws.com",
        ["ecs.amazonaws.com", "ecs-tasks.amazonaws.com"],
    ]
    assert {"Ref": "TaskExecutionRoleArn"} in passes[1]["Resource"]


@pytest.mark.parametrize(("app", "env"), WITH_PIPELINES)
def test_cicd_lint_clean_alone(app, env, linter, tmp_path):
    path = tmp_path / "cicd.json"
    path.write_bytes(serialize(cicd.build(cfg(app, env)).template))
    findings = [f for f in linter.lint_file(path, cfg(app, env).region) if f.level in ("error", "warning")]
    assert findings == [], "\n".join(map(str, findings))


def test_cicd_prod_templates_pass_checkov(checkov, tmp_path):  # noqa: F811
    for app, env in WITH_PIPELINES:
        if env == "prod":
            (tmp_path / f"{app}-cicd.json").write_bytes(serialize(cicd.build(cfg(app, env)).template))
    done = subprocess.run(
        [checkov, "--framework", "cloudformation", "--skip-download", "--quiet", "-o", "json", "-d", str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=900,
    )
    report = json.loads(done.stdout)
    report = report[0] if isinstance(report, list) else report
    failures = [
        f"{c['file_path']}: {c['resource']}: {c['check_id']}: {c['check_name']}"
        for c in report.get("results", {}).get("failed_checks", [])
    ]
    assert failures == [], "\n".join(failures)
    assert report["summary"]["passed"] > 0


def test_build_log_groups_keep_the_profiles_retention():
    from tests.conftest import template

    document = template("product-catalog", "prod", "cicd")
    groups = {name: r["Properties"] for name, r in document["Resources"].items() if r["Type"] == "AWS::Logs::LogGroup"}
    assert groups and {props["RetentionInDays"] for props in groups.values()} == {7}  # seed 004: 7 days
    assert all("KmsKeyId" in props for props in groups.values())

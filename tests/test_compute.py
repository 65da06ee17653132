"""compute layer: the seed values of every profile, read from the JSON the layer renders to, and a
clean cfn-lint of the layer template on its own for every profile and environment.

The layer is built directly (`templates.compute.build`) because its edge and data inputs come from
layers that are assembled beside it; the wiring contract with them is pinned here by name.
"""

from __future__ import annotations

import functools
import json
from types import SimpleNamespace

import pytest
from pydantic import ValidationError

from templates import compute, security
from templates.common import logical_id
from templates.config import AppConfig
from templates.params import REPO_PARAMS, deep_merge, load_config
from templates.render import serialize
from tests.conftest import ALL_TARGETS, merged, one, parts, resources


@functools.cache
def layer(app: str, env: str):
    return compute.build(load_config(app, env, REPO_PARAMS))


@functools.cache
def doc(app: str, env: str) -> dict:
    """The compute template (every part's resources when split) as parsed from the exact bytes
    the renderer writes."""
    return merged(layer(app, env))


def variant(app: str, env: str, changes: dict) -> dict:
    """The compute template of a profile with `changes` deep-merged into its params."""
    data = deep_merge(load_config(app, env, REPO_PARAMS).model_dump(), changes)
    return json.loads(serialize(compute.build(AppConfig.model_validate(data)).template))


def props(document: dict, logical_id: str) -> dict:
    return document["Resources"][logical_id]["Properties"]


def default(document: dict, parameter: str):
    return document["Parameters"][parameter]["Default"]


def container(document: dict, svc: str, name: str | None = None) -> dict:
    definition = props(document, f"Service{svc}TaskDefinition")
    return next(c for c in definition["ContainerDefinitions"] if c["Name"] == (name or svc.lower()))


def policy_targets(document: dict, svc: str) -> dict[str, float]:
    found = {}
    for policy in resources(document, "AWS::ApplicationAutoScaling::ScalingPolicy").values():
        config = policy["Properties"]["TargetTrackingScalingPolicyConfiguration"]
        if policy["Properties"]["ScalingTargetId"] == {"Ref": f"Service{svc}ScalableTarget"}:
            found[config["PredefinedMetricSpecification"]["PredefinedMetricType"]] = config["TargetValue"]
    return found


# ------------------------------------------------------------------ seed 004: product-catalog


def test_seed_004_cluster_runs_on_fargate_spot_by_default():
    d = doc("product-catalog", "dev")
    assert props(d, "Cluster")["ClusterName"] == "ecs-cluster-pr5706"
    assert props(d, "Cluster")["ClusterSettings"] == [{"Name": "containerInsights", "Value": "enabled"}]
    associations = props(d, "ClusterCapacityProviders")
    assert associations["CapacityProviders"] == ["FARGATE_SPOT"]
    assert associations["DefaultCapacityProviderStrategy"] == [
        {"CapacityProvider": "FARGATE_SPOT", "Weight": 1, "Base": 0}
    ]
    service = props(d, "ServiceApiService")
    assert service["CapacityProviderStrategy"] == [{"CapacityProvider": "FARGATE_SPOT", "Weight": 1, "Base": 0}]
    assert "LaunchType" not in service
    assert "ClusterCapacityProviders" in d["Resources"]["ServiceApiService"]["DependsOn"]
    assert resources(d, "AWS::AutoScaling::AutoScalingGroup") == {}


def test_seed_004_task_definition_sizes_port_and_container_hardening():
    d = doc("product-catalog", "dev")
    definition = props(d, "ServiceApiTaskDefinition")
    assert (definition["Cpu"], definition["Memory"]) == ("1024", "2048")
    assert definition["NetworkMode"] == "awsvpc"
    assert definition["RequiresCompatibilities"] == ["FARGATE"]
    assert definition["ExecutionRoleArn"] == {"Ref": "TaskExecutionRoleArn"}
    assert definition["TaskRoleArn"] == {"Ref": "ServiceApiTaskRoleArn"}
    assert definition["Family"] == "task-api-pr5706"
    app = container(d, "Api")
    assert app["PortMappings"] == [{"ContainerPort": 3000, "Protocol": "tcp"}]
    tag = {"Fn::If": ["ServiceApiHasImage", {"Ref": "ServiceApiImageTag"}, compute.NO_IMAGE_TAG]}
    assert app["Image"] == {"Fn::Join": [":", [{"Fn::GetAtt": ["ServiceApiRepository", "RepositoryUri"]}, tag]]}
    assert default(d, "ServiceApiImageTag") == ""  # no image pinned: the pipeline decides
    assert app["ReadonlyRootFilesystem"] is True and app["Privileged"] is False
    assert app["MountPoints"] == [{"ContainerPath": "/tmp", "ReadOnly": False, "SourceVolume": "tmp"}]
    assert definition["Volumes"] == [{"Name": "tmp"}]
    command = app["HealthCheck"]["Command"]
    assert command[0] == "CMD-SHELL" and "curl -fsS -o /dev/null http://localhost:3000/health" in command[1]
    assert app["HealthCheck"]["Interval"] == 30
    assert app["LogConfiguration"]["Options"]["awslogs-group"] == {"Ref": "ServiceApiLogGroup"}
    assert app["LogConfiguration"]["LogDriver"] == "awslogs"
    assert app["Secrets"] == [
        {"Name": "DB_PASSWORD", "ValueFrom": {"Fn::Join": ["", [{"Ref": "DatabaseSecretArn"}, ":password::"]]}},
        {"Name": "DB_USERNAME", "ValueFrom": {"Fn::Join": ["", [{"Ref": "DatabaseSecretArn"}, ":username::"]]}},
    ]
    assert [c["Name"] for c in definition["ContainerDefinitions"]] == ["api"]  # no X-Ray in seed 004


def test_seed_004_service_rolling_deployment_network_and_load_balancer():
    d = doc("product-catalog", "dev")
    service = props(d, "ServiceApiService")
    assert service["ServiceName"] == "ecs-service-api-pr5706"
    assert service["DesiredCount"] == {"Fn::If": ["ServiceApiHasImage", {"Ref": "ServiceApiDesiredCount"}, 0]}
    assert default(d, "ServiceApiDesiredCount") == 2
    assert service["DeploymentController"] == {"Type": "ECS"}
    assert service["DeploymentConfiguration"] == {
        "DeploymentCircuitBreaker": {"Enable": True, "Rollback": True},
        "MinimumHealthyPercent": 100,
        "MaximumPercent": 200,
    }
    assert service["NetworkConfiguration"]["AwsvpcConfiguration"] == {
        "AssignPublicIp": "DISABLED",
        "SecurityGroups": [{"Ref": "ServiceApiSecurityGroupId"}],
        "Subnets": {"Ref": "PrivateSubnetIds"},
    }
    assert service["LoadBalancers"] == [
        {"ContainerName": "api", "ContainerPort": 3000, "TargetGroupArn": {"Ref": "ServiceApiTargetGroupArn"}}
    ]
    assert service["HealthCheckGracePeriodSeconds"] == 60
    assert service["PropagateTags"] == "SERVICE" and service["EnableECSManagedTags"] is True
    assert "PlacementStrategies" not in service  # Fargate spreads over AZs itself


def test_seed_004_autoscaling_two_to_ten_on_cpu_70():
    d = doc("product-catalog", "dev")
    target = props(d, "ServiceApiScalableTarget")
    assert target["MinCapacity"] == {"Fn::If": ["ServiceApiHasImage", {"Ref": "ServiceApiMinCount"}, 0]}
    assert target["MaxCapacity"] == {"Fn::If": ["ServiceApiHasImage", {"Ref": "ServiceApiMaxCount"}, 0]}
    assert (default(d, "ServiceApiMinCount"), default(d, "ServiceApiMaxCount")) == (2, 10)
    assert target["ResourceId"] == {
        "Fn::Join": ["/", ["service", {"Ref": "Cluster"}, {"Fn::GetAtt": ["ServiceApiService", "Name"]}]]
    }
    assert target["ScalableDimension"] == "ecs:service:DesiredCount"
    assert policy_targets(d, "Api") == {"ECSServiceAverageCPUUtilization": 70.0}
    cpu = props(d, "ServiceApiCpuScalingPolicy")["TargetTrackingScalingPolicyConfiguration"]
    assert (cpu["ScaleInCooldown"], cpu["ScaleOutCooldown"]) == (300, 60)


def test_seed_004_log_group_seven_days_encrypted_and_tagged():
    d = doc("product-catalog", "dev")
    group = props(d, "ServiceApiLogGroup")
    assert group["LogGroupName"] == "/ecs/product-catalog/api-pr5706"
    assert group["RetentionInDays"] == 7
    assert group["KmsKeyId"] == {"Ref": "KmsKeyArn"}
    tags = {t["Key"]: t["Value"] for t in props(d, "Cluster")["Tags"]}
    assert tags == {
        "Environment": "development",
        "EnvironmentSuffix": "pr5706",
        "Name": "ecs-cluster-pr5706",
        "Project": "catalog-api",
    }


@pytest.mark.parametrize(
    ("env", "policies", "empty"),
    [("dev", ("Delete", "Delete"), True), ("prod", ("RetainExceptOnCreate", "Retain"), False)],
)
def test_repositories_and_log_groups_are_retained_in_prod_only(env, policies, empty):
    d = doc("product-catalog", env)
    for logical in ("ServiceApiRepository", "ServiceApiLogGroup"):
        assert (d["Resources"][logical]["DeletionPolicy"], d["Resources"][logical]["UpdateReplacePolicy"]) == policies
    assert props(d, "ServiceApiRepository")["EmptyOnDelete"] is empty
    assert {"ServiceApiRepository", "ServiceApiLogGroup"} <= set(layer("product-catalog", env).stateful)


def test_seed_004_prod_names_follow_the_prod_suffix():
    d = doc("product-catalog", "prod")
    assert props(d, "Cluster")["ClusterName"] == "ecs-cluster-catalog-prod"
    assert props(d, "ServiceApiRepository")["RepositoryName"] == "ecr-api-catalog-prod"


# ------------------------------------------------------------------ seed 001: ecs-ec2-api


def test_seed_001_ec2_capacity_provider_with_managed_scaling_and_termination_protection():
    d = doc("ecs-ec2-api", "dev")
    _, provider = one(d, "AWS::ECS::CapacityProvider")
    asg_provider = provider["Properties"]["AutoScalingGroupProvider"]
    assert asg_provider["AutoScalingGroupArn"] == {"Ref": "InstanceAutoScalingGroup"}
    assert asg_provider["ManagedScaling"]["Status"] == "ENABLED"
    assert asg_provider["ManagedScaling"]["TargetCapacity"] == 100
    assert asg_provider["ManagedTerminationProtection"] == "ENABLED"
    associations = props(d, "ClusterCapacityProviders")
    assert associations["CapacityProviders"] == [{"Ref": "Ec2CapacityProvider"}]
    assert props(d, "ServiceApiService")["CapacityProviderStrategy"] == [
        {"CapacityProvider": {"Ref": "Ec2CapacityProvider"}, "Weight": 1, "Base": 0}
    ]


def test_seed_001_auto_scaling_group_of_t3_medium_two_to_ten_in_public_subnets():
    d = doc("ecs-ec2-api", "dev")
    asg = props(d, "InstanceAutoScalingGroup")
    assert (asg["MinSize"], asg["MaxSize"]) == ({"Ref": "InstanceMinSize"}, {"Ref": "InstanceMaxSize"})
    assert (default(d, "InstanceMinSize"), default(d, "InstanceMaxSize")) == (2, 10)
    assert asg["NewInstancesProtectedFromScaleIn"] is True
    assert asg["VPCZoneIdentifier"] == {"Ref": "PublicSubnetIds"}
    assert layer("ecs-ec2-api", "dev").inputs["PublicSubnetIds"].output == "PublicSubnetIds"
    data = props(d, "InstanceLaunchTemplate")["LaunchTemplateData"]
    assert data["InstanceType"] == {"Ref": "InstanceType"} and default(d, "InstanceType") == "t3.medium"
    assert data["ImageId"] == "{{resolve:ssm:/aws/service/ecs/optimized-ami/amazon-linux-2023/recommended/image_id}}"
    assert data["MetadataOptions"]["HttpTokens"] == "required"
    assert data["BlockDeviceMappings"][0]["Ebs"]["Encrypted"] is True
    # Public subnets: the launch template gives the instance its own address.
    assert data["NetworkInterfaces"] == [
        {
            "AssociatePublicIpAddress": True,
            "DeleteOnTermination": True,
            "DeviceIndex": 0,
            "Groups": [{"Ref": "InstancesSecurityGroupId"}],
        }
    ]
    user_data = data["UserData"]["Fn::Base64"]["Fn::Sub"]
    assert "ECS_CLUSTER=${Cluster}" in user_data[0] and user_data[1] == {"Cluster": {"Ref": "Cluster"}}
    role = props(d, "InstanceRole")
    assert [arn["Fn::Sub"].rsplit("/", 1)[1] for arn in role["ManagedPolicyArns"]] == [
        "AmazonEC2ContainerServiceforEC2Role",
        "AmazonSSMManagedInstanceCore",
    ]
    assert data["IamInstanceProfile"] == {"Arn": {"Fn::GetAtt": ["InstanceProfile", "Arn"]}}


def test_seed_001_awsvpc_task_on_ec2_512_1024_port_3000_spread_over_zones():
    d = doc("ecs-ec2-api", "dev")
    definition = props(d, "ServiceApiTaskDefinition")
    assert definition["RequiresCompatibilities"] == ["EC2"]
    assert definition["NetworkMode"] == "awsvpc"
    assert (definition["Cpu"], definition["Memory"]) == ("512", "1024")
    assert container(d, "Api")["PortMappings"] == [{"ContainerPort": 3000, "Protocol": "tcp"}]
    assert "curl -fsS -o /dev/null http://localhost:3000/api/health" in container(d, "Api")["HealthCheck"]["Command"][1]
    assert props(d, "ServiceApiService")["PlacementStrategies"][0] == {
        "Field": "attribute:ecs.availability-zone",
        "Type": "spread",
    }
    assert policy_targets(d, "Api") == {
        "ECSServiceAverageCPUUtilization": 70.0,
        "ECSServiceAverageMemoryUtilization": 80.0,
    }
    secrets = {s["Name"]: s["ValueFrom"] for s in container(d, "Api")["Secrets"]}
    assert secrets["API_URLS"] == {"Ref": "ApiUrlsSecretArn"}
    assert sorted(secrets) == ["API_URLS", "DB_PASSWORD", "DB_USERNAME"]


def test_seed_001_repository_scans_on_push_aes256_immutable_with_lifecycle():
    d = doc("ecs-ec2-api", "dev")
    repository = props(d, "ServiceApiRepository")
    assert repository["RepositoryName"] == "ecr-api-api-dev"
    assert repository["ImageScanningConfiguration"] == {"ScanOnPush": True}
    assert repository["EncryptionConfiguration"] == {"EncryptionType": "AES256"}
    assert repository["ImageTagMutability"] == "IMMUTABLE"
    rules = json.loads(repository["LifecyclePolicy"]["LifecyclePolicyText"])["rules"]
    assert rules == [
        {
            "action": {"type": "expire"},
            "description": "Keep the last 20 images",
            "rulePriority": 1,
            "selection": {"countNumber": 20, "countType": "imageCountMoreThan", "tagStatus": "any"},
        }
    ]


def test_ec2_instances_in_private_subnets_get_no_public_address():
    d = variant("ecs-ec2-api", "dev", {"compute": {"ec2": {"subnets": "private"}}})
    data = props(d, "InstanceLaunchTemplate")["LaunchTemplateData"]
    assert "NetworkInterfaces" not in data
    assert data["SecurityGroupIds"] == [{"Ref": "InstancesSecurityGroupId"}]
    assert props(d, "InstanceAutoScalingGroup")["VPCZoneIdentifier"] == {"Ref": "PrivateSubnetIds"}
    assert "PublicSubnetIds" not in d["Parameters"]


def test_ec2_cannot_share_a_strategy_with_fargate():
    data = load_config("ecs-ec2-api", "dev", REPO_PARAMS).model_dump()
    data["compute"]["capacity_providers"] = ["EC2", "FARGATE"]
    with pytest.raises(ValidationError, match="EC2 cannot be combined with FARGATE"):
        AppConfig.model_validate(data)


# ------------------------------------------------------------------ seed 002: smart-task


def test_seed_002_two_blue_green_services_1024_2048_cpu_70():
    d = doc("smart-task", "dev")
    # frontend: 8080, not 80 - it runs as 1000:1000, which cannot bind a port below 1024
    for svc, port in (("Backend", 8080), ("Frontend", 8080)):
        definition = props(d, f"Service{svc}TaskDefinition")
        assert (definition["Cpu"], definition["Memory"]) == ("1024", "2048")
        assert container(d, svc)["PortMappings"] == [{"ContainerPort": port, "Protocol": "tcp"}]
        service = props(d, f"Service{svc}Service")
        assert service["DeploymentController"] == {"Type": "ECS"}  # ECS-native blue/green: CloudFormation can update it
        assert service["LoadBalancers"][0]["TargetGroupArn"] == {"Ref": f"Service{svc}TargetGroupArn"}
        assert policy_targets(d, svc) == {"ECSServiceAverageCPUUtilization": 70.0}
        # X-Ray on both services (seed 002).
        daemon = container(d, svc, "xray-daemon")
        assert "aws-xray-daemon" in daemon["Image"] and daemon["Essential"] is False
    assert len(resources(d, "AWS::ECR::Repository")) == 2
    assert len(resources(d, "AWS::ECS::Service")) == 2


@pytest.mark.parametrize("env", ["dev", "prod"])
def test_seed_002_canary_10_percent_5_minutes_with_alarm_rollback(env):
    """Seed 002: blue/green, zero downtime, automatic rollback: ECS shifts 10% of production traffic,
    the rest after 5 minutes, keeps the old revision 5 more minutes, and rolls back on the alarm or
    when the new tasks fail (circuit breaker)."""
    d = doc("smart-task", env)
    for svc, port in (("Backend", 8080), ("Frontend", 8080)):
        service = props(d, f"Service{svc}Service")
        assert service["DeploymentConfiguration"] == {
            "Strategy": "CANARY",
            "CanaryConfiguration": {"CanaryPercent": 10.0, "CanaryBakeTimeInMinutes": 5},
            "BakeTimeInMinutes": 5,
            "Alarms": {"AlarmNames": [{"Ref": f"Service{svc}RollbackAlarm"}], "Enable": True, "Rollback": True},
            "DeploymentCircuitBreaker": {"Enable": True, "Rollback": True},
            "MinimumHealthyPercent": 100,
            "MaximumPercent": 200,
        }
        assert service["LoadBalancers"] == [
            {
                "ContainerName": svc.lower(),
                "ContainerPort": port,
                "TargetGroupArn": {"Ref": f"Service{svc}TargetGroupArn"},
                "AdvancedConfiguration": {
                    "AlternateTargetGroupArn": {"Ref": f"Service{svc}GreenTargetGroupArn"},
                    "ProductionListenerRule": {"Ref": f"Service{svc}ProductionListenerRuleArn"},
                    "TestListenerRule": {"Ref": f"Service{svc}TestListenerRuleArn"},
                    "RoleArn": {"Fn::GetAtt": ["EcsLoadBalancerRole", "Arn"]},
                },
            }
        ]
        # the inputs those refs name are the edge layer's outputs (the root wires them by name)
        for output in (
            "GreenTargetGroupArn",
            "ProductionListenerRuleArn",
            "TestListenerRuleArn",
            "GreenTargetGroupFullName",
            "TargetGroupFullName",
        ):
            assert f"Service{svc}{output}" in d["Parameters"]
        alarm = props(d, f"Service{svc}RollbackAlarm")
        # not the CodeDeploy-era alarm-<svc>-deployment name: the cicd stack deletes that one by name
        assert alarm["AlarmName"] == f"alarm-{svc.lower()}-rollback-st-{env}"
        assert (
            alarm["Threshold"],
            alarm["EvaluationPeriods"],
            alarm["DatapointsToAlarm"],
            alarm["ComparisonOperator"],
            alarm["TreatMissingData"],
        ) == (10, 2, 2, "GreaterThanThreshold", "notBreaching")
        queries = {q["Id"]: q for q in alarm["Metrics"]}
        assert queries["errors"] == {
            "Id": "errors",
            "Expression": "FILL(blue, 0) + FILL(green, 0)",
            "Label": f"{svc.lower()} target 5xx",
            "ReturnData": True,
        }
        for key, group in (
            ("blue", f"Service{svc}TargetGroupFullName"),
            ("green", f"Service{svc}GreenTargetGroupFullName"),
        ):
            stat = queries[key]["MetricStat"]
            assert (stat["Metric"]["Namespace"], stat["Metric"]["MetricName"], stat["Period"], stat["Stat"]) == (
                "AWS/ApplicationELB",
                "HTTPCode_Target_5XX_Count",
                60,
                "Sum",
            )
            assert stat["Metric"]["Dimensions"] == [
                {"Name": "LoadBalancer", "Value": {"Ref": "LoadBalancerFullName"}},
                {"Name": "TargetGroup", "Value": {"Ref": group}},
            ]
            assert queries[key]["ReturnData"] is False
    assert not [r for r in d["Resources"].values() if r["Type"].startswith("AWS::CodeDeploy::")]


def test_blue_green_role_has_the_trust_policy_the_ecs_guide_documents():
    role = props(doc("smart-task", "prod"), "EcsLoadBalancerRole")
    assert role["RoleName"] == "ecs-lb-traffic-st-prod"
    assert role["AssumeRolePolicyDocument"]["Statement"] == [
        {
            "Sid": "EcsShiftsBlueGreenTraffic",
            "Effect": "Allow",
            "Principal": {"Service": "ecs.amazonaws.com"},
            "Action": ["sts:AssumeRole"],
        }
    ]
    assert role["ManagedPolicyArns"] == [
        {"Fn::Sub": "arn:${AWS::Partition}:iam::aws:policy/AmazonECSInfrastructureRolePolicyForLoadBalancers"}
    ]
    assert "Policies" not in role
    assert (
        "EcsLoadBalancerRole" not in doc("product-catalog", "prod")["Resources"]
    )  # rolling services need no such role


@pytest.mark.parametrize(
    ("shifting", "expected"),
    [
        (
            {"shift": "linear", "percent": 20, "interval_minutes": 3, "bake_time_minutes": 0},
            {
                "Strategy": "LINEAR",
                "LinearConfiguration": {"StepPercent": 20.0, "StepBakeTimeInMinutes": 3},
                "BakeTimeInMinutes": 0,
            },
        ),
        ({"shift": "all_at_once", "bake_time_minutes": 15}, {"Strategy": "BLUE_GREEN", "BakeTimeInMinutes": 15}),
    ],
)
def test_linear_and_all_at_once_shifting(shifting, expected):
    d = variant("smart-task", "dev", {"services": {"backend": {"traffic_shifting": shifting}}})
    deployment = props(d, "ServiceBackendService")["DeploymentConfiguration"]
    assert {
        k: v
        for k, v in deployment.items()
        if k in ("Strategy", "LinearConfiguration", "CanaryConfiguration", "BakeTimeInMinutes")
    } == expected


def test_rolling_services_keep_the_circuit_breaker_and_no_strategy():
    service = props(doc("product-catalog", "prod"), "ServiceApiService")
    assert service["DeploymentController"] == {"Type": "ECS"}
    assert service["DeploymentConfiguration"] == {
        "DeploymentCircuitBreaker": {"Enable": True, "Rollback": True},
        "MinimumHealthyPercent": 100,
        "MaximumPercent": 200,
    }
    assert "AdvancedConfiguration" not in service["LoadBalancers"][0]


# ------------------------------------------------------------------ seed 003: mycandidate


def test_seed_003_web_512_1024_two_to_ten_cpu_70_memory_80():
    d = doc("mycandidate", "dev")
    definition = props(d, "ServiceWebTaskDefinition")
    assert (definition["Cpu"], definition["Memory"]) == ("512", "1024")
    assert (default(d, "ServiceWebMinCount"), default(d, "ServiceWebMaxCount")) == (2, 10)
    assert policy_targets(d, "Web") == {
        "ECSServiceAverageCPUUtilization": 70.0,
        "ECSServiceAverageMemoryUtilization": 80.0,
    }
    assert container(d, "Web")["PortMappings"] == [{"ContainerPort": 5000, "Protocol": "tcp"}]


def test_seed_003_efs_mounted_at_app_data_through_the_access_point_with_tls_and_iam():
    d = doc("mycandidate", "dev")
    volumes = {v["Name"]: v for v in props(d, "ServiceWebTaskDefinition")["Volumes"]}
    assert volumes["efs"]["EFSVolumeConfiguration"] == {
        "FilesystemId": {"Ref": "FileSystemId"},
        "TransitEncryption": "ENABLED",
        "AuthorizationConfig": {"AccessPointId": {"Ref": "ServiceWebAccessPointId"}, "IAM": "ENABLED"},
    }
    mounts = {m["ContainerPath"]: m["SourceVolume"] for m in container(d, "Web")["MountPoints"]}
    assert mounts == {"/tmp": "tmp", "/app/data": "efs"}
    inputs = layer("mycandidate", "dev").inputs
    assert (inputs["FileSystemId"].layer, inputs["FileSystemId"].output) == ("data", "FileSystemId")
    assert (inputs["ServiceWebAccessPointId"].layer, inputs["ServiceWebAccessPointId"].output) == (
        "data",
        "ServiceWebAccessPointId",
    )
    policy = props(d, "ServiceWebEfsPolicy")
    assert policy["Roles"] == [{"Ref": "ServiceWebTaskRoleName"}]
    assert policy["PolicyDocument"]["Statement"][0]["Action"] == [
        "elasticfilesystem:ClientMount",
        "elasticfilesystem:ClientWrite",
    ]
    assert "ServiceWebEfsPolicy" in d["Resources"]["ServiceWebService"]["DependsOn"]


def test_seed_003_xray_sidecar_beside_the_app():
    d = doc("mycandidate", "dev")
    daemon = container(d, "Web", "xray-daemon")
    assert daemon["Image"] == "public.ecr.aws/xray/aws-xray-daemon:latest"
    assert daemon["PortMappings"] == [{"ContainerPort": 2000, "Protocol": "udp"}]
    assert daemon["LogConfiguration"]["Options"]["awslogs-stream-prefix"] == "xray"
    assert container(d, "Web")["Environment"] == [{"Name": "AWS_XRAY_DAEMON_ADDRESS", "Value": "localhost:2000"}]


# ------------------------------------------------------------------ seed 000: product-management


def test_seed_000_backend_two_tasks_1024_2048():
    d = doc("product-management", "dev")
    assert default(d, "ServiceBackendDesiredCount") == 2
    definition = props(d, "ServiceBackendTaskDefinition")
    assert (definition["Cpu"], definition["Memory"]) == ("1024", "2048")
    assert container(d, "Backend")["PortMappings"] == [{"ContainerPort": 8000, "Protocol": "tcp"}]
    assert policy_targets(d, "Backend") == {
        "ECSServiceAverageCPUUtilization": 70.0,
        "ECSServiceAverageMemoryUtilization": 80.0,
    }
    assert props(d, "ClusterCapacityProviders")["CapacityProviders"] == ["FARGATE"]


# ------------------------------------------------------------------ switches no profile turns


def test_requests_per_target_scales_on_the_load_balancer_and_target_group_label():
    d = variant("product-catalog", "dev", {"services": {"api": {"autoscaling": {"requests_per_target": 500}}}})
    spec = props(d, "ServiceApiRequestsScalingPolicy")["TargetTrackingScalingPolicyConfiguration"]
    assert spec["TargetValue"] == 500.0
    assert spec["PredefinedMetricSpecification"] == {
        "PredefinedMetricType": "ALBRequestCountPerTarget",
        "ResourceLabel": {
            "Fn::Join": ["/", [{"Ref": "LoadBalancerFullName"}, {"Ref": "ServiceApiTargetGroupFullName"}]]
        },
    }
    assert "LoadBalancerFullName" not in doc("product-catalog", "dev")["Parameters"]  # only declared when used


def test_kms_encrypted_repository_uses_the_application_key():
    d = variant("product-catalog", "dev", {"services": {"api": {"ecr": {"encryption": "KMS", "keep_images": 5}}}})
    repository = props(d, "ServiceApiRepository")
    assert repository["EncryptionConfiguration"] == {"EncryptionType": "KMS", "KmsKey": {"Ref": "KmsKeyArn"}}
    assert json.loads(repository["LifecyclePolicy"]["LifecyclePolicyText"])["rules"][0]["selection"]["countNumber"] == 5


def test_fargate_and_spot_together_put_the_base_task_on_the_first():
    d = variant("product-catalog", "dev", {"compute": {"capacity_providers": ["FARGATE", "FARGATE_SPOT"]}})
    assert props(d, "ClusterCapacityProviders")["DefaultCapacityProviderStrategy"] == [
        {"CapacityProvider": "FARGATE", "Weight": 1, "Base": 1},
        {"CapacityProvider": "FARGATE_SPOT", "Weight": 1, "Base": 0},
    ]


def test_container_health_check_and_read_only_root_can_be_turned_off():
    d = variant(
        "product-catalog",
        "dev",
        {
            "services": {
                "api": {
                    "container_health_check": False,
                    "readonly_root_filesystem": False,
                    "writable_root_reason": "the app unpacks plugins at start",
                }
            }
        },
    )
    app = container(d, "Api")
    assert "HealthCheck" not in app and "MountPoints" not in app
    assert app["ReadonlyRootFilesystem"] is False
    assert "Volumes" not in props(d, "ServiceApiTaskDefinition")


def test_container_insights_off():
    d = variant("product-catalog", "dev", {"compute": {"container_insights": False}})
    assert props(d, "Cluster")["ClusterSettings"] == [{"Name": "containerInsights", "Value": "disabled"}]


# ------------------------------------------------------------------ contract with the other layers


# ------------------------------------------------------------------ first deploy: no image yet


@pytest.mark.parametrize(("app", "env"), ALL_TARGETS)
def test_every_service_runs_zero_tasks_until_it_has_an_image_tag(app, env):
    """A first create on an empty account: the repositories are created in this same stack, so no
    tag can exist yet; every service starts at 0 tasks with autoscaling held at 0..0, and the
    profile's counts come back the moment a tag is given (the pipeline's change set)."""
    cfg = load_config(app, env, REPO_PARAMS)
    d = doc(app, env)
    rendered = [json.loads(serialize(part.template)) for part in parts(layer(app, env))]
    conditions = {name: cond for part in rendered for name, cond in part.get("Conditions", {}).items()}
    d = dict(d, Parameters={name: spec for part in rendered for name, spec in part.get("Parameters", {}).items()})
    for name, svc in cfg.services.items():
        x = logical_id("service", name)
        assert conditions[f"{x}HasImage"] == {"Fn::Not": [{"Fn::Equals": [{"Ref": f"{x}ImageTag"}, ""]}]}
        assert props(d, f"{x}Service")["DesiredCount"] == {"Fn::If": [f"{x}HasImage", {"Ref": f"{x}DesiredCount"}, 0]}
        target = props(d, f"{x}ScalableTarget")
        assert target["MinCapacity"] == {"Fn::If": [f"{x}HasImage", {"Ref": f"{x}MinCount"}, 0]}
        assert target["MaxCapacity"] == {"Fn::If": [f"{x}HasImage", {"Ref": f"{x}MaxCount"}, 0]}
        app_image = container(d, logical_id(name), name)["Image"]
        assert app_image == {
            "Fn::Join": [
                ":",
                [
                    {"Fn::GetAtt": [f"{x}Repository", "RepositoryUri"]},
                    {"Fn::If": [f"{x}HasImage", {"Ref": f"{x}ImageTag"}, "no-image-yet"]},
                ],
            ]
        }
        # the knobs keep the profile's values; only the tag is empty
        parameters = d["Parameters"]
        assert (default(d, f"{x}DesiredCount"), default(d, f"{x}MinCount"), default(d, f"{x}MaxCount")) == (
            svc.desired_count,
            svc.min_count,
            svc.max_count,
        )
        assert parameters[f"{x}DesiredCount"]["MinValue"] == 0 and parameters[f"{x}MaxCount"]["MinValue"] == 1
        assert default(d, f"{x}ImageTag") == "" and svc.image_tag == ""
        assert parameters[f"{x}ImageTag"]["AllowedPattern"] == "^([\\w][\\w.-]{0,127})?$"


def test_the_image_tag_parameter_admits_empty_and_tags_only():
    import re

    pattern = re.compile(compute.IMAGE_TAG_PATTERN)
    assert all(pattern.match(tag) for tag in ("", "latest", "1a2b3c4d5e6f", "v1.2.3", "release_7-rc.1", "a" * 128))
    assert not any(pattern.match(tag) for tag in ("-x", ".x", "a" * 129, "a:b", "a b", "a/b"))


@pytest.mark.parametrize("user", ["0", "0:0", "root", "root:root"])
def test_a_port_below_1024_is_allowed_for_a_root_container(user):
    d = variant(
        "smart-task",
        "dev",
        {
            "services": {
                "frontend": {"port": 80, "user": user, "root_user_reason": "binds port 80 inside the container"}
            }
        },
    )
    assert container(d, "Frontend")["PortMappings"] == [{"ContainerPort": 80, "Protocol": "tcp"}]
    assert container(d, "Frontend")["User"] == user
    assert d["Resources"]["ServiceFrontendTaskDefinition"]["Metadata"] == {
        "cfn-strata": {"root_user": ["frontend"], "reason": "runs as root: binds port 80 inside the container"}
    }


def test_root_and_a_writable_root_state_their_reasons_in_the_task_definition_metadata():
    """Issue 16: the W9008 opt-out the lint advice names is reachable from the params."""
    d = variant(
        "smart-task",
        "dev",
        {
            "services": {
                "frontend": {
                    "user": "root",
                    "root_user_reason": "the image's entrypoint drops privileges itself",
                    "readonly_root_filesystem": False,
                    "writable_root_reason": "nginx writes its pid and cache under /var",
                }
            }
        },
    )
    assert d["Resources"]["ServiceFrontendTaskDefinition"]["Metadata"] == {
        "cfn-strata": {
            "root_user": ["frontend"],
            "writable_root": ["frontend"],
            "reason": (
                "writable root file system: nginx writes its pid and cache under /var; runs as root: the "
                "image's entrypoint drops privileges itself"
            ),
        }
    }
    assert container(d, "Frontend")["ReadonlyRootFilesystem"] is False
    assert (
        "Metadata" not in variant("smart-task", "dev", {})["Resources"]["ServiceFrontendTaskDefinition"]
    )  # hardened: no opt-out


@pytest.mark.parametrize(
    ("changes", "key", "message"),
    [
        ({"readonly_root_filesystem": False}, "readonly_root_filesystem", "false needs writable_root_reason"),
        (
            {"writable_root_reason": "writes its cache to /var"},
            "writable_root_reason",
            "is only for readonly_root_filesystem: false",
        ),
        ({"user": "root"}, "user", "'root' is root and needs root_user_reason"),
        ({"root_user_reason": "binds port 80 as root"}, "root_user_reason", "is only for a root user"),
    ],
)
def test_hardening_exceptions_need_a_reason_and_only_then(changes, key, message):
    data = deep_merge(load_config("smart-task", "dev", REPO_PARAMS).model_dump(), {"services": {"frontend": changes}})
    with pytest.raises(ValidationError, match=message):
        AppConfig.model_validate(data)


@pytest.mark.parametrize(
    ("port", "user", "refused"),
    [(1023, "1000:1000", True), (1024, "1000:1000", False), (443, "app", True), (80, "10:0", True)],
)
def test_non_root_containers_cannot_take_a_privileged_port(port, user, refused):
    data = deep_merge(
        load_config("smart-task", "dev", REPO_PARAMS).model_dump(),
        {"services": {"frontend": {"port": port, "user": user}}},
    )
    if not refused:
        assert AppConfig.model_validate(data).services["frontend"].port == port
        return
    with pytest.raises(ValidationError, match=f"{port} is below 1024 and the container runs as non-root user '{user}'"):
        AppConfig.model_validate(data)


def test_a_pinned_tag_is_the_default_and_switches_the_service_on():
    d = variant("product-catalog", "prod", {"services": {"api": {"image_tag": "v1.2.3"}}})
    assert default(d, "ServiceApiImageTag") == "v1.2.3"
    # the condition is evaluated by CloudFormation; what the template says is unchanged
    assert props(d, "ServiceApiService")["DesiredCount"] == {
        "Fn::If": ["ServiceApiHasImage", {"Ref": "ServiceApiDesiredCount"}, 0]
    }


def _union(layers: list) -> SimpleNamespace:
    """Knobs, outputs, inputs and root outputs of all parts of a (possibly split) layer."""
    outputs = {name: out for part in layers for name, out in part.template.outputs.items()}
    return SimpleNamespace(
        knobs=[k for part in layers for k in part.knobs],
        template=SimpleNamespace(outputs=outputs),
        inputs={name: wire for part in layers for name, wire in part.inputs.items()},
        root_outputs=[o for part in layers for o in part.root_outputs],
    )


@pytest.mark.parametrize(("app", "env"), ALL_TARGETS)
def test_knobs_outputs_and_inputs_follow_the_contract(app, env):
    cfg = load_config(app, env, REPO_PARAMS)
    built = _union(parts(layer(app, env)))
    per_service = [
        f"Service{s}{k}"
        for s in (logical_id(n) for n in cfg.services)
        for k in ("ImageTag", "DesiredCount", "MinCount", "MaxCount")
    ]
    ec2 = ["InstanceType", "InstanceMinSize", "InstanceMaxSize"] if "EC2" in cfg.compute.capacity_providers else []
    assert sorted(built.knobs) == sorted(per_service + ec2)
    outputs = built.template.outputs
    assert {"ClusterName", "ClusterArn"} <= set(outputs)
    for name in cfg.services:
        svc = logical_id("service", name)
        assert {f"{svc}Name", f"{svc}RepositoryUri", f"{svc}LogGroupName"} <= set(outputs)
        assert built.inputs[f"{svc}TargetGroupArn"].layer == "edge"
    assert set(built.root_outputs) == {
        "ClusterArn",
        *(f"{logical_id('service', n)}RepositoryUri" for n in cfg.services),
    }
    # Every input is named after the output that feeds it, and security's exist today.
    security_outputs = security.build(cfg).template.outputs
    for parameter, wire in built.inputs.items():
        assert parameter == wire.output
        assert wire.layer in ("network", "security", "data", "edge", "compute")
        if wire.layer == "security":
            assert wire.output in security_outputs, f"security has no output {wire.output}"


@pytest.mark.parametrize(("app", "env"), ALL_TARGETS)
def test_compute_template_alone_lints_clean(app, env, linter, tmp_path):
    for part in parts(layer(app, env)):
        path = tmp_path / f"{part.name}.json"
        path.write_bytes(serialize(part.template))
        findings = [
            f
            for f in linter.lint_file(path, load_config(app, env, REPO_PARAMS).region)
            if f.level in ("error", "warning")
        ]
        assert findings == [], "\n".join(map(str, findings))


def test_split_services_take_the_blue_green_role_from_the_cluster_part():
    """Past SERVICES_PER_STACK services the role lives once, in the cluster part, and the part
    holding a blue/green service wires it in by name; parts without one do not ask for it."""
    data = load_config("platform-scale", "dev", REPO_PARAMS).model_dump()
    data = deep_merge(
        data, {"services": {"svc01": {"deployment": "blue_green", "autoscaling": {"requests_per_target": None}}}}
    )
    built = parts(compute.build(AppConfig.model_validate(data)))
    documents = {part.name: json.loads(serialize(part.template)) for part in built}
    cluster = documents["compute"]
    assert cluster["Outputs"]["LoadBalancerRoleArn"]["Value"] == {"Fn::GetAtt": ["EcsLoadBalancerRole", "Arn"]}
    holding = [name for name, d in documents.items() if "ServiceSvc01Service" in d["Resources"]]
    assert len(holding) == 1 and holding[0] != "compute"
    service = documents[holding[0]]["Resources"]["ServiceSvc01Service"]["Properties"]
    assert service["LoadBalancers"][0]["AdvancedConfiguration"]["RoleArn"] == {"Ref": "LoadBalancerRoleArn"}
    others = [d for name, d in documents.items() if name not in ("compute", holding[0])]
    assert others and all("LoadBalancerRoleArn" not in d["Parameters"] for d in others)

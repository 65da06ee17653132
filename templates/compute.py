"""compute layer: one ECR repository per service, the ECS cluster with its capacity providers
(Fargate, Fargate Spot, or an Auto Scaling group of ECS-optimized instances), and per service a
log group, a task definition, the ECS service behind its target group (a worker, with no path
patterns, behind none) and target-tracking autoscaling on CPU, memory and requests per target.
Blue/green services use ECS's native blue/green (canary, linear or all at once), which
CloudFormation manages end to end: an alarm that rolls a deployment back, and one role ECS
assumes to move traffic on the listener rules.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from awacs import elasticfilesystem as awacs_efs
from awacs.aws import Allow, Condition, PolicyDocument, Statement, StringEquals
from troposphere import (
    Base64,
    Equals,
    GetAtt,
    If,
    Join,
    Not,
    Ref,
    Region,
    Sub,
    autoscaling,
    cloudwatch,
    ec2,
    ecr,
    ecs,
    iam,
    logs,
)
from troposphere import applicationautoscaling as appscaling

from templates.common import Layer, LayerBuilder, logical_id, service_groups, trust_policy
from templates.config import AppConfig, ServiceConfig

# The ECS-optimized Amazon Linux 2023 AMI, resolved when the stack is created or updated.
ECS_AMI = "{{resolve:ssm:/aws/service/ecs/optimized-ami/amazon-linux-2023/recommended/image_id}}"
# AWS publishes the daemon on ECR Public (no Docker Hub pull limits); "latest" is its only moving tag it documents.
XRAY_IMAGE = "public.ecr.aws/xray/aws-xray-daemon:latest"
XRAY_PORT = 2000
XRAY_USER = "65534:65534"
ROOT_VOLUME_GIB = 30
SCRATCH_VOLUME = "tmp"
EFS_VOLUME = "efs"
# The AWS managed policy ECS needs to move blue/green traffic: describe listeners, rules and target
# groups, register targets, modify the listener rules (ECS developer guide, "Amazon ECS
# infrastructure IAM role for load balancers"). AWS extends it as ECS gains deployment features.
ECS_LOAD_BALANCER_POLICY = "arn:${AWS::Partition}:iam::aws:policy/AmazonECSInfrastructureRolePolicyForLoadBalancers"
# An image tag, or empty: no image pinned, the pipeline decides (params: services.<name>.image_tag).
IMAGE_TAG_PATTERN = r"^([\w][\w.-]{0,127})?$"
# The app container's tag while a service has no image (ImageTag empty). Never pulled: the service
# runs 0 tasks and autoscaling is held at 0..0 until a tag is given (`HasImage` below), so a first
# create on an empty account does not wait on an image no earlier step could have pushed.
NO_IMAGE_TAG = "no-image-yet"


def has_image(svc_name: str) -> str:
    """Name of the condition "service <name> has an image tag" (its ImageTag is not empty)."""
    return logical_id("service", svc_name, "HasImage")


def _wired(b: LayerBuilder, source: str, description: str, *, type: str = "String") -> Ref:
    """Ref to the input fed from `source` ("security.KmsKeyArn"), named after the output and
    declared once however many services use it."""
    name = source.split(".", 1)[1]
    parameter = b.template.parameters.get(name) or b.input(name, source, description, type=type)
    return Ref(parameter)


def _service_input(
    b: LayerBuilder, layer: str, svc_name: str, what: str, description: str, *, type: str = "String"
) -> Ref:
    return _wired(b, f"{layer}.{logical_id('service', svc_name, what)}", description, type=type)


# ------------------------------------------------------------------ repositories


def _lifecycle_policy(keep: int) -> str:
    rule = {
        "rulePriority": 1,
        "description": f"Keep the last {keep} images",
        "selection": {"tagStatus": "any", "countType": "imageCountMoreThan", "countNumber": keep},
        "action": {"type": "expire"},
    }
    return json.dumps({"rules": [rule]}, sort_keys=True)


def _repository(b: LayerBuilder, svc_name: str, svc: ServiceConfig, kms_key_arn) -> ecr.Repository:
    settings = svc.ecr
    encryption = (
        ecr.EncryptionConfiguration(EncryptionType="KMS", KmsKey=kms_key_arn)
        if settings.encryption == "KMS"
        else ecr.EncryptionConfiguration(EncryptionType="AES256")
    )
    repository = b.add(
        ecr.Repository(
            logical_id("service", svc_name, "Repository"),
            RepositoryName=b.named("ecr", svc_name),
            ImageScanningConfiguration=ecr.ImageScanningConfiguration(ScanOnPush=settings.scan_on_push),
            EncryptionConfiguration=encryption,
            ImageTagMutability="IMMUTABLE",
            LifecyclePolicy=ecr.LifecyclePolicy(LifecyclePolicyText=_lifecycle_policy(settings.keep_images)),
            # dev stacks delete their repositories, which ECR refuses while images remain.
            EmptyOnDelete=not b.cfg.is_prod,
            Tags=b.tags("ecr", svc_name),
        )
    )
    if settings.encryption != "KMS":
        b.skip_check(
            repository,
            "CKV_AWS_136",
            "the profile asks for AES256 (ECR-managed keys, seed 001); set "
            "services.<name>.ecr.encryption: KMS for the layer's key",
        )
    return repository


# ------------------------------------------------------------------ cluster and capacity


def _strategy(providers: list, item=ecs.CapacityProviderStrategyItem) -> list:
    """The first provider carries the base task when there are several; all share the weight."""
    several = len(providers) > 1
    return [
        item(CapacityProvider=provider, Weight=1, Base=1 if several and index == 0 else 0)
        for index, provider in enumerate(providers)
    ]


def _instance_role(b: LayerBuilder) -> iam.InstanceProfile:
    role = b.add(
        iam.Role(
            "InstanceRole",
            RoleName=b.named("ecs-instance"),
            Description="ECS container instances: register with the cluster, Session Manager instead of SSH",
            AssumeRolePolicyDocument=trust_policy("ec2.amazonaws.com"),
            ManagedPolicyArns=[
                Sub("arn:${AWS::Partition}:iam::aws:policy/service-role/AmazonEC2ContainerServiceforEC2Role"),
                Sub("arn:${AWS::Partition}:iam::aws:policy/AmazonSSMManagedInstanceCore"),
            ],
            Tags=b.tags("ecs-instance"),
        )
    )
    return b.add(iam.InstanceProfile("InstanceProfile", Roles=[Ref(role)]))


def _ec2_capacity(b: LayerBuilder, cluster: ecs.Cluster) -> ecs.CapacityProvider:
    """Launch template from the ECS-optimized AMI, Auto Scaling group, capacity provider."""
    cfg = b.cfg
    settings = cfg.compute.ec2
    assert settings is not None  # the params model requires it with EC2
    instance_type = b.knob(
        "InstanceType",
        "EC2 capacity",
        "Instance type",
        "Instance type of the ECS container instances",
        settings.instance_type,
        key="compute.ec2.instance_type",
        AllowedPattern=r"^[a-z][a-z0-9-]*\.[a-z0-9]+$",
        ConstraintDescription="an EC2 instance type, e.g. t3.medium",
    )
    min_size = b.knob(
        "InstanceMinSize",
        "EC2 capacity",
        "Minimum instances",
        "Auto Scaling group minimum size",
        settings.min_size,
        key="compute.ec2.min_size",
        MinValue=0,
        MaxValue=1000,
    )
    max_size = b.knob(
        "InstanceMaxSize",
        "EC2 capacity",
        "Maximum instances",
        "Auto Scaling group maximum size",
        settings.max_size,
        key="compute.ec2.max_size",
        MinValue=1,
        MaxValue=1000,
    )
    public = settings.subnets == "public"
    subnets = _wired(
        b,
        "network.PublicSubnetIds" if public else "network.PrivateSubnetIds",
        f"{settings.subnets.capitalize()} subnets the container instances run in",
        type="List<AWS::EC2::Subnet::Id>",
    )
    group = _wired(
        b,
        "security.InstancesSecurityGroupId",
        "Security group of the container instances",
        type="AWS::EC2::SecurityGroup::Id",
    )
    profile = _instance_role(b)

    user_data = Sub(
        "\n".join(
            [
                "#!/bin/bash",
                "cat >> /etc/ecs/ecs.config <<'EOF'",
                "ECS_CLUSTER=${Cluster}",
                "ECS_AWSVPC_BLOCK_IMDS=true",
                "ECS_ENABLE_CONTAINER_METADATA=true",
                "EOF",
                "",
            ]
        ),
        Cluster=Ref(cluster),
    )
    if public:
        # Public subnets have no NAT route: the instance needs its own address to reach ECS and ECR.
        network = {
            "NetworkInterfaces": [
                ec2.NetworkInterfaces(
                    DeviceIndex=0, AssociatePublicIpAddress=True, Groups=[group], DeleteOnTermination=True
                )
            ]
        }
    else:
        network = {"SecurityGroupIds": [group]}
    template = b.add(
        ec2.LaunchTemplate(
            "InstanceLaunchTemplate",
            LaunchTemplateName=b.named("lt-ecs"),
            LaunchTemplateData=ec2.LaunchTemplateData(
                ImageId=ECS_AMI,
                InstanceType=Ref(instance_type),
                IamInstanceProfile=ec2.IamInstanceProfile(Arn=GetAtt(profile, "Arn")),
                MetadataOptions=ec2.MetadataOptions(
                    HttpTokens="required", HttpEndpoint="enabled", HttpPutResponseHopLimit=1
                ),
                BlockDeviceMappings=[
                    ec2.LaunchTemplateBlockDeviceMapping(
                        DeviceName="/dev/xvda",
                        Ebs=ec2.EBSBlockDevice(
                            VolumeSize=ROOT_VOLUME_GIB, VolumeType="gp3", Encrypted=True, DeleteOnTermination=True
                        ),
                    )
                ],
                Monitoring=ec2.Monitoring(Enabled=True),
                UserData=Base64(user_data),
                TagSpecifications=[
                    ec2.TagSpecifications(ResourceType="instance", Tags=b.tags("ecs-instance")),
                    ec2.TagSpecifications(ResourceType="volume", Tags=b.tags("ecs-instance")),
                ],
                **network,
            ),
            TagSpecifications=[ec2.TagSpecifications(ResourceType="launch-template", Tags=b.tags("lt-ecs"))],
        )
    )
    if public:
        b.skip_check(
            template,
            "CKV_AWS_88",
            "the profile puts the ECS instances in public subnets (seed 001), which have no NAT route; "
            "their security group has no ingress at all (tasks use awsvpc and their own groups)",
        )
    group_tags = {tag["Key"]: tag["Value"] for tag in b.tag_list("asg-ecs")}
    asg = b.add(
        autoscaling.AutoScalingGroup(
            "InstanceAutoScalingGroup",
            AutoScalingGroupName=b.named("asg-ecs"),
            MinSize=Ref(min_size),
            MaxSize=Ref(max_size),
            VPCZoneIdentifier=subnets,
            LaunchTemplate=autoscaling.LaunchTemplateSpecification(
                LaunchTemplateId=Ref(template), Version=GetAtt(template, "LatestVersionNumber")
            ),
            # Managed termination protection: ECS decides which instances may go (no tasks on them).
            NewInstancesProtectedFromScaleIn=True,
            HealthCheckType="EC2",
            HealthCheckGracePeriod=120,
            Tags=autoscaling.Tags(**group_tags),
        )
    )
    return b.add(
        ecs.CapacityProvider(
            "Ec2CapacityProvider",
            Name=b.named("cp-ec2"),
            AutoScalingGroupProvider=ecs.AutoScalingGroupProvider(
                AutoScalingGroupArn=Ref(asg),
                ManagedScaling=ecs.ManagedScaling(
                    Status="ENABLED",
                    TargetCapacity=settings.target_capacity_percent,
                    MinimumScalingStepSize=1,
                    MaximumScalingStepSize=settings.max_size,
                    InstanceWarmupPeriod=180,
                ),
                ManagedTerminationProtection="ENABLED",
                ManagedDraining="ENABLED",
            ),
            Tags=b.tags("cp-ec2"),
        )
    )


def _cluster(b: LayerBuilder) -> tuple[ecs.Cluster, ecs.ClusterCapacityProviderAssociations, list]:
    cfg = b.cfg
    cluster = b.add(
        ecs.Cluster(
            "Cluster",
            ClusterName=b.named("ecs-cluster"),
            ClusterSettings=[
                ecs.ClusterSetting(
                    Name="containerInsights", Value="enabled" if cfg.compute.container_insights else "disabled"
                )
            ],
            Tags=b.tags("ecs-cluster"),
        )
    )
    providers: list = []
    for provider in cfg.compute.capacity_providers:
        providers.append(Ref(_ec2_capacity(b, cluster)) if provider == "EC2" else provider)
    associations = b.add(
        ecs.ClusterCapacityProviderAssociations(
            "ClusterCapacityProviders",
            Cluster=Ref(cluster),
            CapacityProviders=providers,
            DefaultCapacityProviderStrategy=_strategy(providers, ecs.CapacityProviderStrategy),
        )
    )
    return cluster, associations, providers


# ------------------------------------------------------------------ per service


def _log_group(b: LayerBuilder, svc_name: str, kms_key_arn) -> logs.LogGroup:
    name = f"/ecs/{b.cfg.application}/{svc_name}-{b.cfg.suffix}"
    return b.log_group(logical_id("service", svc_name, "LogGroup"), name, kms_key_arn, b.tags("log", svc_name))


def _secrets(b: LayerBuilder, svc: ServiceConfig) -> list[ecs.Secret]:
    """`database` becomes DB_USERNAME / DB_PASSWORD from its JSON keys; any other secret is
    injected whole as its name in upper case (api-urls -> API_URLS)."""
    secrets = []
    for name in sorted(svc.secrets):
        # An RDS-managed database secret is the data layer's; every other secret the security layer's.
        owner = (
            "data"
            if name == "database" and b.cfg.database is not None and b.cfg.database.managed_master_password
            else "security"
        )
        arn = _wired(b, f"{owner}." + logical_id(name, "SecretArn"), f"ARN of the {name} secret")
        if name == "database":
            secrets += [
                ecs.Secret(Name="DB_PASSWORD", ValueFrom=Join("", [arn, ":password::"])),
                ecs.Secret(Name="DB_USERNAME", ValueFrom=Join("", [arn, ":username::"])),
            ]
        else:
            secrets.append(ecs.Secret(Name=name.replace("-", "_").upper(), ValueFrom=arn))
    return secrets


def _health_command(svc: ServiceConfig) -> list[str]:
    url = f"http://localhost:{svc.port}{svc.health_check.path}"
    return ["CMD-SHELL", f"curl -fsS -o /dev/null {url} || wget -q -O /dev/null {url} || exit 1"]


def _log_configuration(group: logs.LogGroup, prefix: str) -> ecs.LogConfiguration:
    return ecs.LogConfiguration(
        LogDriver="awslogs",
        Options={
            "awslogs-group": Ref(group),
            "awslogs-region": Region,
            "awslogs-stream-prefix": prefix,
            "mode": "non-blocking",
        },
    )


def _efs_access(b: LayerBuilder, svc_name: str) -> tuple[ecs.Volume, iam.PolicyType]:
    """The profile's file system through the service's access point, TLS in transit, IAM auth."""
    file_system = _wired(b, "data.FileSystemId", "EFS file system the services mount")
    access_point = _service_input(b, "data", svc_name, "AccessPointId", f"EFS access point of service {svc_name}")
    role_name = _service_input(b, "security", svc_name, "TaskRoleName", f"Task role name of service {svc_name}")
    volume = ecs.Volume(
        Name=EFS_VOLUME,
        EFSVolumeConfiguration=ecs.EFSVolumeConfiguration(
            FilesystemId=file_system,
            TransitEncryption="ENABLED",
            AuthorizationConfig=ecs.AuthorizationConfig(AccessPointId=access_point, IAM="ENABLED"),
        ),
    )
    policy = b.add(
        iam.PolicyType(
            logical_id("service", svc_name, "EfsPolicy"),
            PolicyName="mount-efs-access-point",
            Roles=[role_name],
            PolicyDocument=PolicyDocument(
                Version="2012-10-17",
                Statement=[
                    Statement(
                        Effect=Allow,
                        Action=[awacs_efs.ClientMount, awacs_efs.ClientWrite],
                        Resource=[
                            Sub(
                                "arn:${AWS::Partition}:elasticfilesystem:${AWS::Region}:${AWS::AccountId}:file-system/${FileSystem}",
                                FileSystem=file_system,
                            )
                        ],
                        Condition=Condition(
                            StringEquals(
                                "elasticfilesystem:AccessPointArn",
                                Sub(
                                    "arn:${AWS::Partition}:elasticfilesystem:${AWS::Region}:${AWS::AccountId}:access-point/${AccessPoint}",
                                    AccessPoint=access_point,
                                ),
                            )
                        ),
                    )
                ],
            ),
        )
    )
    return volume, policy


def _app_container(
    b: LayerBuilder, svc_name: str, svc: ServiceConfig, image, group: logs.LogGroup, mounts: list
) -> ecs.ContainerDefinition:
    environment = dict(svc.environment)
    if svc.xray:
        environment.setdefault("AWS_XRAY_DAEMON_ADDRESS", f"localhost:{XRAY_PORT}")
    optional: dict = {}
    if environment:
        optional["Environment"] = [ecs.Environment(Name=key, Value=value) for key, value in sorted(environment.items())]
    if svc.secrets:
        optional["Secrets"] = _secrets(b, svc)
    if mounts:
        optional["MountPoints"] = mounts
    if svc.container_health_check:
        check = svc.health_check
        optional["HealthCheck"] = ecs.HealthCheck(
            # ECS caps a container check's timeout at 60 seconds and its start period at 300.
            Command=_health_command(svc),
            Interval=check.interval_seconds,
            Timeout=min(check.timeout_seconds, 60),
            Retries=3,
            StartPeriod=min(check.grace_period_seconds, 300),
        )
    return ecs.ContainerDefinition(
        Name=svc_name,
        Image=image,
        Essential=True,
        PortMappings=[ecs.PortMapping(ContainerPort=svc.port, Protocol="tcp")],
        LogConfiguration=_log_configuration(group, svc_name),
        ReadonlyRootFilesystem=svc.readonly_root_filesystem,
        User=svc.user,
        Privileged=False,
        LinuxParameters=ecs.LinuxParameters(InitProcessEnabled=True),
        StopTimeout=30,
        **optional,
    )


def _task_definition(
    b: LayerBuilder, svc_name: str, svc: ServiceConfig, repository: ecr.Repository, group: logs.LogGroup, execution_role
) -> tuple[ecs.TaskDefinition, list]:
    on_ec2 = "EC2" in b.cfg.compute.capacity_providers
    image_tag = b.knob(
        logical_id("service", svc_name, "ImageTag"),
        f"Service {svc_name}",
        "Image tag",
        f"Tag of the {svc_name} image in its ECR repository (the pipeline passes the tag it built). "
        "Empty: no image yet, the service runs 0 tasks",
        svc.image_tag,
        key=f"services.{svc_name}.image_tag",
        AllowedPattern=IMAGE_TAG_PATTERN,
        ConstraintDescription="empty (no image yet: 0 tasks) or an image tag: letters, digits, _ . - (up to 128)",
    )
    b.template.add_condition(has_image(svc_name), Not(Equals(Ref(image_tag), "")))
    task_role = _service_input(b, "security", svc_name, "TaskRoleArn", f"Task role of service {svc_name}")
    volumes, mounts, depends = [], [], []
    if svc.readonly_root_filesystem:
        volumes.append(ecs.Volume(Name=SCRATCH_VOLUME))
        mounts.append(ecs.MountPoint(SourceVolume=SCRATCH_VOLUME, ContainerPath="/tmp", ReadOnly=False))
    if svc.efs_mount_path:
        volume, policy = _efs_access(b, svc_name)
        volumes.append(volume)
        mounts.append(ecs.MountPoint(SourceVolume=EFS_VOLUME, ContainerPath=svc.efs_mount_path, ReadOnly=False))
        depends.append(policy.title)
    tag = If(has_image(svc_name), Ref(image_tag), NO_IMAGE_TAG)
    app = _app_container(b, svc_name, svc, Join(":", [GetAtt(repository, "RepositoryUri"), tag]), group, mounts)
    containers = [app]
    if svc.xray:
        containers.append(
            ecs.ContainerDefinition(
                Name="xray-daemon",
                Image=XRAY_IMAGE,
                Essential=False,
                Cpu=32,
                MemoryReservation=256,
                PortMappings=[ecs.PortMapping(ContainerPort=XRAY_PORT, Protocol="udp")],
                LogConfiguration=_log_configuration(group, "xray"),
                ReadonlyRootFilesystem=True,
                # The daemon is a static binary that writes nothing: the unprivileged "nobody" ids will do.
                User=XRAY_USER,
                Privileged=False,
            )
        )
    optional = {"Volumes": volumes} if volumes else {}
    exceptions = svc.hardening_metadata(svc_name)  # writable_root_reason / root_user_reason, read by lint W9008
    if exceptions:
        optional["Metadata"] = {"cfn-strata": exceptions}
    definition = b.add(
        ecs.TaskDefinition(
            logical_id("service", svc_name, "TaskDefinition"),
            Family=b.named("task", svc_name),
            NetworkMode="awsvpc",
            RequiresCompatibilities=["EC2" if on_ec2 else "FARGATE"],
            Cpu=str(svc.cpu),
            Memory=str(svc.memory),
            ExecutionRoleArn=execution_role,
            TaskRoleArn=task_role,
            ContainerDefinitions=containers,
            Tags=b.tags("task", svc_name),
            **optional,
        )
    )
    return definition, depends


def _load_balancer_role(b: LayerBuilder) -> iam.Role:
    """The role ECS assumes to shift blue/green traffic (AdvancedConfiguration.RoleArn)."""
    return b.add(
        iam.Role(
            "EcsLoadBalancerRole",
            RoleName=b.named("ecs-lb-traffic"),
            Description="ECS blue/green deployments: move traffic between the target groups on the listener rules",
            # Exactly the trust policy the ECS developer guide documents for this role ("Amazon ECS
            # infrastructure IAM role for load balancers"), without a condition (SENDS_SOURCE_ACCOUNT).
            AssumeRolePolicyDocument=trust_policy("ecs.amazonaws.com", sid="EcsShiftsBlueGreenTraffic"),
            ManagedPolicyArns=[Sub(ECS_LOAD_BALANCER_POLICY)],
            Tags=b.tags("ecs-lb-traffic"),
        )
    )


def _rollback_alarm(b: LayerBuilder, svc_name: str) -> cloudwatch.Alarm:
    """Target 5xx of the service on both of its target groups (ECS moves its traffic between them),
    over the profile's threshold for two minutes running: ECS stops the deployment and rolls back."""
    threshold = b.cfg.observability.alarms.target_5xx_count
    balancer = _wired(b, "edge.LoadBalancerFullName", "Full name of the load balancer (app/name/id)")
    groups = {
        "blue": _service_input(
            b,
            "edge",
            svc_name,
            "TargetGroupFullName",
            f"Full name of the target group of service {svc_name} (targetgroup/name/id)",
        ),
        "green": _service_input(
            b,
            "edge",
            svc_name,
            "GreenTargetGroupFullName",
            f"Full name of the alternate target group of service {svc_name}",
        ),
    }
    queries = [
        cloudwatch.MetricDataQuery(
            Id=key,
            MetricStat=cloudwatch.MetricStat(
                Metric=cloudwatch.Metric(
                    Namespace="AWS/ApplicationELB",
                    MetricName="HTTPCode_Target_5XX_Count",
                    Dimensions=[
                        cloudwatch.MetricDimension(Name="LoadBalancer", Value=balancer),
                        cloudwatch.MetricDimension(Name="TargetGroup", Value=group),
                    ],
                ),
                Period=60,
                Stat="Sum",
            ),
            ReturnData=False,
        )
        for key, group in groups.items()
    ]
    queries.append(
        cloudwatch.MetricDataQuery(
            Id="errors", Expression="FILL(blue, 0) + FILL(green, 0)", Label=f"{svc_name} target 5xx", ReturnData=True
        )
    )
    # Not the name the CodeDeploy-era alarm had in the cicd stack: alarms are upserted by name, and
    # that stack's update deletes its alarm by name after this layer created this one.
    return b.add(
        cloudwatch.Alarm(
            logical_id("service", svc_name, "RollbackAlarm"),
            AlarmName=b.named("alarm", f"{svc_name}-rollback"),
            AlarmDescription=f"Rolls a blue/green deployment of {svc_name} back: more than {threshold} target 5xx a "
            "minute, two minutes running",
            Metrics=queries,
            EvaluationPeriods=2,
            DatapointsToAlarm=2,
            Threshold=threshold,
            ComparisonOperator="GreaterThanThreshold",
            TreatMissingData="notBreaching",
            Tags=b.tags("alarm", f"{svc_name}-rollback"),
        )
    )


def _blue_green(
    b: LayerBuilder,
    svc_name: str,
    svc: ServiceConfig,
    shared: Shared,
    deployment: ecs.DeploymentConfiguration,
    balancer: ecs.LoadBalancer,
) -> None:
    """ECS-native blue/green: the strategy and its traffic shifting, alarm rollback, and the
    alternate target group with the production and test rules ECS moves traffic on (ECS developer
    guide, "Amazon ECS blue/green deployments"; AWS::ECS::Service DeploymentConfiguration and
    AdvancedConfiguration)."""
    shifting = svc.traffic_shifting
    deployment.Strategy = shifting.strategy
    deployment.BakeTimeInMinutes = shifting.bake_time_minutes
    if shifting.shift == "canary":
        deployment.CanaryConfiguration = ecs.CanaryConfiguration(
            CanaryPercent=shifting.percent, CanaryBakeTimeInMinutes=shifting.interval_minutes
        )
    elif shifting.shift == "linear":
        deployment.LinearConfiguration = ecs.LinearConfiguration(
            StepPercent=shifting.percent, StepBakeTimeInMinutes=shifting.interval_minutes
        )
    deployment.Alarms = ecs.DeploymentAlarms(AlarmNames=[Ref(_rollback_alarm(b, svc_name))], Enable=True, Rollback=True)
    balancer.AdvancedConfiguration = ecs.AdvancedConfiguration(
        AlternateTargetGroupArn=_service_input(
            b, "edge", svc_name, "GreenTargetGroupArn", f"Alternate target group of service {svc_name}"
        ),
        ProductionListenerRule=_service_input(
            b, "edge", svc_name, "ProductionListenerRuleArn", f"Production listener rule of service {svc_name}"
        ),
        TestListenerRule=_service_input(
            b, "edge", svc_name, "TestListenerRuleArn", f"Test listener rule of service {svc_name}"
        ),
        RoleArn=shared.load_balancer_role,
    )


def _service(
    b: LayerBuilder, svc_name: str, svc: ServiceConfig, shared: Shared, definition: ecs.TaskDefinition, depends: list
) -> ecs.Service:
    on_ec2 = "EC2" in b.cfg.compute.capacity_providers
    desired = b.knob(
        logical_id("service", svc_name, "DesiredCount"),
        f"Service {svc_name}",
        "Desired tasks",
        f"Tasks of {svc_name} at deploy time (autoscaling moves it between the minimum and maximum)",
        svc.desired_count,
        key=f"services.{svc_name}.desired_count",
        MinValue=0,
        MaxValue=1000,
    )
    group = _service_input(
        b,
        "security",
        svc_name,
        "SecurityGroupId",
        f"Security group of service {svc_name}",
        type="AWS::EC2::SecurityGroup::Id",
    )
    deployment = ecs.DeploymentConfiguration(
        MinimumHealthyPercent=svc.min_healthy_percent,
        MaximumPercent=svc.max_percent,
        DeploymentCircuitBreaker=ecs.DeploymentCircuitBreaker(Enable=True, Rollback=True),
    )
    behind: dict = {}
    if not svc.is_worker:
        target_group = _service_input(b, "edge", svc_name, "TargetGroupArn", f"Target group of service {svc_name}")
        balancer = ecs.LoadBalancer(ContainerName=svc_name, ContainerPort=svc.port, TargetGroupArn=target_group)
        if svc.deployment == "blue_green":
            _blue_green(b, svc_name, svc, shared, deployment, balancer)
        behind = {"LoadBalancers": [balancer], "HealthCheckGracePeriodSeconds": svc.health_check.grace_period_seconds}
    elif svc.container_health_check:
        # A worker sits behind no load balancer (the params model keeps it rolling); the grace period
        # still holds off its container health check while a task starts (ECS API reference,
        # CreateService, healthCheckGracePeriodSeconds: "... ignores unhealthy Elastic Load Balancing,
        # VPC Lattice, and container health checks after a task has first started").
        behind = {"HealthCheckGracePeriodSeconds": svc.health_check.grace_period_seconds}
    placement = {}
    if on_ec2:
        placement["PlacementStrategies"] = [
            ecs.PlacementStrategy(Type="spread", Field="attribute:ecs.availability-zone"),
            ecs.PlacementStrategy(Type="spread", Field="instanceId"),
        ]
    return b.add(
        ecs.Service(
            logical_id("service", svc_name, "Service"),
            ServiceName=b.named("ecs-service", svc_name),
            Cluster=shared.cluster,
            TaskDefinition=Ref(definition),
            DesiredCount=If(has_image(svc_name), Ref(desired), 0),
            CapacityProviderStrategy=_strategy(shared.providers),
            DeploymentController=ecs.DeploymentController(Type="ECS"),
            DeploymentConfiguration=deployment,
            NetworkConfiguration=ecs.NetworkConfiguration(
                AwsvpcConfiguration=ecs.AwsvpcConfiguration(
                    Subnets=shared.subnets, SecurityGroups=[group], AssignPublicIp="DISABLED"
                )
            ),
            PropagateTags="SERVICE",
            EnableECSManagedTags=True,
            Tags=b.tags("ecs-service", svc_name),
            DependsOn=[*shared.depends, *depends],
            **behind,
            **placement,
        )
    )


def _autoscaling(b: LayerBuilder, svc_name: str, svc: ServiceConfig, cluster, service: ecs.Service) -> None:
    scaling = svc.autoscaling
    minimum = b.knob(
        logical_id("service", svc_name, "MinCount"),
        f"Service {svc_name}",
        "Minimum tasks",
        f"Autoscaling minimum of {svc_name}",
        svc.min_count,
        key=f"services.{svc_name}.min_count",
        MinValue=0,
        MaxValue=1000,
    )
    maximum = b.knob(
        logical_id("service", svc_name, "MaxCount"),
        f"Service {svc_name}",
        "Maximum tasks",
        f"Autoscaling maximum of {svc_name}",
        svc.max_count,
        key=f"services.{svc_name}.max_count",
        MinValue=1,
        MaxValue=1000,
    )
    target = b.add(
        appscaling.ScalableTarget(
            logical_id("service", svc_name, "ScalableTarget"),
            ServiceNamespace="ecs",
            ScalableDimension="ecs:service:DesiredCount",
            ResourceId=Join("/", ["service", cluster, GetAtt(service, "Name")]),
            # Held at 0..0 while the service has no image: a minimum would start tasks that
            # cannot pull, and a policy could scale out from 0.
            MinCapacity=If(has_image(svc_name), Ref(minimum), 0),
            MaxCapacity=If(has_image(svc_name), Ref(maximum), 0),
        )
    )
    policies: list[tuple[str, int, appscaling.PredefinedMetricSpecification]] = []
    if scaling.cpu_target is not None:
        policies.append(
            (
                "Cpu",
                scaling.cpu_target,
                appscaling.PredefinedMetricSpecification(PredefinedMetricType="ECSServiceAverageCPUUtilization"),
            )
        )
    if scaling.memory_target is not None:
        policies.append(
            (
                "Memory",
                scaling.memory_target,
                appscaling.PredefinedMetricSpecification(PredefinedMetricType="ECSServiceAverageMemoryUtilization"),
            )
        )
    if scaling.requests_per_target is not None:
        balancer = _wired(b, "edge.LoadBalancerFullName", "Full name of the load balancer (app/name/id)")
        target_group = _service_input(
            b,
            "edge",
            svc_name,
            "TargetGroupFullName",
            f"Full name of the target group of service {svc_name} (targetgroup/name/id)",
        )
        # app/<lb>/<id>/targetgroup/<tg>/<id>: the label ALBRequestCountPerTarget is published under.
        label = Join("/", [balancer, target_group])
        policies.append(
            (
                "Requests",
                scaling.requests_per_target,
                appscaling.PredefinedMetricSpecification(
                    PredefinedMetricType="ALBRequestCountPerTarget", ResourceLabel=label
                ),
            )
        )
    for metric, value, specification in policies:
        b.add(
            appscaling.ScalingPolicy(
                logical_id("service", svc_name, metric, "ScalingPolicy"),
                PolicyName=b.named(f"scale-{metric.lower()}", svc_name),
                PolicyType="TargetTrackingScaling",
                ScalingTargetId=Ref(target),
                TargetTrackingScalingPolicyConfiguration=appscaling.TargetTrackingScalingPolicyConfiguration(
                    PredefinedMetricSpecification=specification,
                    TargetValue=float(value),
                    ScaleInCooldown=scaling.scale_in_cooldown,
                    ScaleOutCooldown=scaling.scale_out_cooldown,
                ),
            )
        )


# ------------------------------------------------------------------ the layer


@dataclass(frozen=True)
class Shared:
    """What every service needs from the cluster part: expressions that are Refs to resources
    when the services live beside the cluster, and Refs to inputs when they are split off."""

    cluster: Any
    providers: list
    depends: list[str]
    subnets: Any
    kms_key_arn: Any
    execution_role: Any
    load_balancer_role: Any = None


def _common_inputs(b: LayerBuilder) -> tuple:
    kms_key_arn = _wired(b, "security.KmsKeyArn", "Application KMS key (log groups, KMS-encrypted repositories)")
    execution_role = _wired(b, "security.TaskExecutionRoleArn", "Role the ECS agent uses for the tasks")
    subnets = _wired(
        b, "network.PrivateSubnetIds", "Private subnets the tasks run in", type="List<AWS::EC2::Subnet::Id>"
    )
    return kms_key_arn, execution_role, subnets


def _cluster_part(b: LayerBuilder, with_services: bool) -> Shared:
    kms_key_arn, execution_role, subnets = _common_inputs(b) if with_services else (None, None, None)
    cluster, associations, providers = _cluster(b)
    b.output("ClusterName", Ref(cluster), "ECS cluster name")
    b.output("ClusterArn", GetAtt(cluster, "Arn"), "ECS cluster ARN", root=True)
    if "EC2" in b.cfg.compute.capacity_providers:
        b.output("CapacityProviderName", providers[0], "The EC2 capacity provider (service strategies of split parts)")
    load_balancer_role = None
    if _has_blue_green(b.cfg.services):
        load_balancer_role = GetAtt(_load_balancer_role(b), "Arn")
        if not with_services:
            b.output(
                "LoadBalancerRoleArn",
                load_balancer_role,
                "Role ECS assumes to move blue/green traffic (services of split parts)",
            )
    return Shared(
        Ref(cluster), providers, [associations.title], subnets, kms_key_arn, execution_role, load_balancer_role
    )


def _has_blue_green(services: dict[str, ServiceConfig]) -> bool:
    return any(svc.deployment == "blue_green" for svc in services.values())


def _services_part(b: LayerBuilder, services: dict[str, ServiceConfig]) -> Shared:
    """Inputs that stand for the cluster part's resources in a split-off group of services."""
    kms_key_arn, execution_role, subnets = _common_inputs(b)
    cluster = _wired(b, "compute.ClusterName", "ECS cluster the services run in")
    providers = [
        _wired(b, "compute.CapacityProviderName", "EC2 capacity provider") if provider == "EC2" else provider
        for provider in b.cfg.compute.capacity_providers
    ]
    load_balancer_role = (
        _wired(b, "compute.LoadBalancerRoleArn", "Role ECS assumes to move blue/green traffic")
        if _has_blue_green(services)
        else None
    )
    return Shared(cluster, providers, [], subnets, kms_key_arn, execution_role, load_balancer_role)


def _add_services(b: LayerBuilder, services: dict[str, ServiceConfig], shared: Shared) -> None:
    for svc_name, svc in services.items():
        repository = _repository(b, svc_name, svc, shared.kms_key_arn)
        group = _log_group(b, svc_name, shared.kms_key_arn)
        definition, depends = _task_definition(b, svc_name, svc, repository, group, shared.execution_role)
        service = _service(b, svc_name, svc, shared, definition, depends)
        _autoscaling(b, svc_name, svc, shared.cluster, service)

        b.output(logical_id("service", svc_name, "Name"), GetAtt(service, "Name"), f"ECS service name of {svc_name}")
        b.output(
            logical_id("service", svc_name, "RepositoryUri"),
            GetAtt(repository, "RepositoryUri"),
            f"ECR repository URI of {svc_name}",
            root=True,
        )
        b.output(
            logical_id("service", svc_name, "RepositoryName"), Ref(repository), f"ECR repository name of {svc_name}"
        )
        b.output(
            logical_id("service", svc_name, "RepositoryArn"),
            GetAtt(repository, "Arn"),
            f"ECR repository ARN of {svc_name}",
        )
        b.output(logical_id("service", svc_name, "LogGroupName"), Ref(group), f"Log group of {svc_name}")
        b.output(
            logical_id("service", svc_name, "TaskDefinitionArn"),
            Ref(definition),
            f"Task definition of {svc_name} as deployed by this stack",
        )
        b.output(
            logical_id("service", svc_name, "ContainerName"),
            svc_name,
            f"Name of the {svc_name} application container (load balancer and the pipeline's image definitions)",
        )


DESCRIPTION = "ECR repositories, ECS cluster and capacity, task definitions, services and autoscaling"


def build(cfg: AppConfig) -> Layer | list[Layer]:
    """One layer; or, past SERVICES_PER_STACK services, the cluster part plus one
    `compute-services-N` part per group of services (the root wires them by family)."""
    groups = service_groups(cfg)
    b = LayerBuilder(
        cfg,
        "compute",
        DESCRIPTION if len(groups) == 1 else "ECS cluster and capacity (services in the compute-services parts)",
    )
    shared = _cluster_part(b, with_services=len(groups) == 1)
    if len(groups) == 1:
        _add_services(b, cfg.services, shared)
        return b.build()
    parts = [b.build()]
    for number, group in enumerate(groups, 1):
        part = LayerBuilder(
            cfg,
            f"compute-services-{number}",
            f"services {next(iter(group))} to {list(group)[-1]}: ECR repositories, task definitions, "
            "services and autoscaling",
            family="compute",
        )
        _add_services(part, group, _services_part(part, group))
        parts.append(part.build())
    return parts

"""What CloudFormation resource types mean for a deploy: which hold data, which carry traffic or
identity, which property names them, which properties force a replacement. One module, standard
library only, read by the layer builder, the lint rules, the stack policies and the review, so the
generator and the deployer never disagree about a type.

`create_only_properties` reads the resource provider schemas cfn-lint ships (imported lazily, only
when asked): a change to one of those properties makes CloudFormation replace the resource.
"""

from __future__ import annotations

import re
from functools import cache

# What loses data when its old copy is deleted: every type the generator emits that holds data,
# plus the other databases, caches, file systems, queues and streams AWS offers (a review rates a
# template it did not generate too).
STATEFUL_TYPES = frozenset(
    {
        "AWS::RDS::DBInstance",
        "AWS::RDS::DBCluster",
        "AWS::ElastiCache::ReplicationGroup",
        "AWS::EFS::FileSystem",
        "AWS::S3::Bucket",
        "AWS::SecretsManager::Secret",
        "AWS::KMS::Key",
        "AWS::Logs::LogGroup",
        "AWS::Cognito::UserPool",
        "AWS::ECR::Repository",
        "AWS::Backup::BackupVault",
        "AWS::DynamoDB::Table",
        "AWS::DocDB::DBCluster",
        "AWS::DocDB::DBInstance",
        "AWS::Neptune::DBCluster",
        "AWS::ElastiCache::CacheCluster",
        "AWS::ElastiCache::ServerlessCache",
        "AWS::MemoryDB::Cluster",
        "AWS::FSx::FileSystem",
        "AWS::OpenSearchService::Domain",
        "AWS::Redshift::Cluster",
        "AWS::Kinesis::Stream",
        "AWS::SQS::Queue",
    }
)

# Types CloudFormation can snapshot on delete or replace (DeletionPolicy: Snapshot).
SNAPSHOT_TYPES = frozenset(
    {
        "AWS::RDS::DBInstance",
        "AWS::RDS::DBCluster",
        "AWS::ElastiCache::ReplicationGroup",
        "AWS::EC2::Volume",
        "AWS::Redshift::Cluster",
        "AWS::DocDB::DBCluster",
        "AWS::Neptune::DBCluster",
        "AWS::ElastiCache::CacheCluster",
    }
)

# Replacing one of these interrupts requests or sign-ins while the new copy comes up (a new DNS
# name, a new ARN that listeners, services or clients must be pointed at).
TRAFFIC_TYPES = frozenset(
    {
        "AWS::ElasticLoadBalancingV2::LoadBalancer",
        "AWS::ElasticLoadBalancingV2::Listener",
        "AWS::ElasticLoadBalancingV2::ListenerRule",
        "AWS::ElasticLoadBalancingV2::TargetGroup",
        "AWS::ECS::Service",
        "AWS::ECS::Cluster",
        "AWS::CloudFront::Distribution",
        "AWS::ApiGatewayV2::Api",
        "AWS::ApiGatewayV2::Stage",
        "AWS::ApiGatewayV2::VpcLink",
        "AWS::ApiGateway::RestApi",
        "AWS::Cognito::UserPool",
        "AWS::Cognito::UserPoolClient",
        "AWS::Cognito::UserPoolDomain",
        "AWS::Route53::RecordSet",
        "AWS::WAFv2::WebACL",
        "AWS::RDS::DBProxy",
        "AWS::EC2::NatGateway",
    }
)

SECURITY_TYPE_PREFIXES = ("AWS::IAM::", "AWS::WAFv2::", "AWS::WAF::", "AWS::WAFRegional::")
SECURITY_TYPES = frozenset(
    {"AWS::EC2::SecurityGroup", "AWS::EC2::SecurityGroupIngress", "AWS::EC2::SecurityGroupEgress"}
)

# IAM properties that give a resource a fixed name: CloudFormation asks for CAPABILITY_NAMED_IAM.
NAMED_IAM_PROPERTIES = frozenset({"RoleName", "GroupName", "UserName", "ManagedPolicyName", "InstanceProfileName"})

# The property that sets a resource's physical name, for every named type the generator emits
# (and a few neighbours). A resource with this property set has a custom name: CloudFormation
# cannot replace it ("cannot update a stack when a custom-named resource requires replacing").
NAME_PROPERTIES: dict[str, str] = {
    "AWS::ApiGatewayV2::Api": "Name",
    "AWS::ApiGatewayV2::VpcLink": "Name",
    "AWS::ApplicationAutoScaling::ScalingPolicy": "PolicyName",
    "AWS::AutoScaling::AutoScalingGroup": "AutoScalingGroupName",
    "AWS::Backup::BackupPlan": "BackupPlan/BackupPlanName",
    "AWS::Backup::BackupVault": "BackupVaultName",
    "AWS::CloudFront::CachePolicy": "CachePolicyConfig/Name",
    "AWS::CloudFront::Function": "Name",
    "AWS::CloudWatch::Alarm": "AlarmName",
    "AWS::CloudWatch::Dashboard": "DashboardName",
    "AWS::CodeBuild::Project": "Name",
    "AWS::CodeConnections::Connection": "ConnectionName",
    "AWS::CodeDeploy::Application": "ApplicationName",
    "AWS::CodeDeploy::DeploymentGroup": "DeploymentGroupName",
    "AWS::CodePipeline::Pipeline": "Name",
    "AWS::Cognito::UserPool": "UserPoolName",
    "AWS::Cognito::UserPoolDomain": "Domain",
    "AWS::EC2::LaunchTemplate": "LaunchTemplateName",
    "AWS::EC2::SecurityGroup": "GroupName",
    "AWS::ECR::Repository": "RepositoryName",
    "AWS::ECS::CapacityProvider": "Name",
    "AWS::ECS::Cluster": "ClusterName",
    "AWS::ECS::Service": "ServiceName",
    "AWS::ECS::TaskDefinition": "Family",
    "AWS::EFS::FileSystem": "FileSystemTags",
    "AWS::ElastiCache::ReplicationGroup": "ReplicationGroupId",
    "AWS::ElastiCache::SubnetGroup": "CacheSubnetGroupName",
    "AWS::ElasticLoadBalancingV2::LoadBalancer": "Name",
    "AWS::ElasticLoadBalancingV2::TargetGroup": "Name",
    "AWS::IAM::InstanceProfile": "InstanceProfileName",
    "AWS::IAM::ManagedPolicy": "ManagedPolicyName",
    "AWS::IAM::Role": "RoleName",
    "AWS::KMS::Alias": "AliasName",
    "AWS::Lambda::Function": "FunctionName",
    "AWS::Logs::LogGroup": "LogGroupName",
    "AWS::RDS::DBCluster": "DBClusterIdentifier",
    "AWS::RDS::DBClusterParameterGroup": "DBClusterParameterGroupName",
    "AWS::RDS::DBInstance": "DBInstanceIdentifier",
    "AWS::RDS::DBParameterGroup": "DBParameterGroupName",
    "AWS::RDS::DBProxy": "DBProxyName",
    "AWS::RDS::DBSubnetGroup": "DBSubnetGroupName",
    "AWS::S3::Bucket": "BucketName",
    "AWS::SNS::Topic": "TopicName",
    "AWS::SQS::Queue": "QueueName",
    "AWS::SecretsManager::Secret": "Name",
    "AWS::Synthetics::Canary": "Name",
    "AWS::WAFv2::IPSet": "Name",
    "AWS::WAFv2::WebACL": "Name",
    "AWS::XRay::Group": "GroupName",
}
# A tag is not a name: EFS "names" through a Name tag, which CloudFormation can replace freely.
NAME_PROPERTIES.pop("AWS::EFS::FileSystem")


# Named types whose name is not the resource's identity, so a replacement does not collide with the
# old copy: a task definition's Family groups revisions, and a replacement registers the next
# revision of the same family (Amazon ECS Developer Guide, "Updating a task definition").
REPLACEABLE_WHEN_NAMED = frozenset({"AWS::ECS::TaskDefinition"})

# What CreateChangeSet must acknowledge (CloudFormation API reference, CreateChangeSet, Capabilities):
# IAM resources (NAMED_IAM when one has a custom name), nested stacks and macros (AUTO_EXPAND). The
# generator's templates can need all three: the pipeline's change-set action declares them all.
CAPABILITIES = ("CAPABILITY_IAM", "CAPABILITY_NAMED_IAM", "CAPABILITY_AUTO_EXPAND")


def required_capabilities(documents: dict[str, dict]) -> dict[str, list[str]]:
    """Capability -> why, one line per template and reason (documents: file -> parsed template).
    The deployer sends the keys; the launch kit prints the reasons."""
    reasons: dict[str, list[str]] = {}
    for file, document in documents.items():
        named, unnamed, nested = [], [], []
        for logical_id, resource in sorted(document.get("Resources", {}).items()):
            kind = resource.get("Type", "")
            if kind.startswith("AWS::IAM::"):
                (named if NAMED_IAM_PROPERTIES & set(resource.get("Properties", {})) else unnamed).append(
                    f"`{logical_id}`"
                )
            if kind == "AWS::CloudFormation::Stack" or kind.startswith("AWS::Serverless::"):
                nested.append(f"`{logical_id}`")
        if named:
            reasons.setdefault("CAPABILITY_NAMED_IAM", []).append(
                f"{file}: IAM resources with fixed names ({', '.join(named)}); CloudFormation cannot rename "
                "them on replacement"
            )
        if named or unnamed:
            reasons.setdefault("CAPABILITY_IAM", []).append(
                f"{file}: creates IAM resources ({', '.join(named + unnamed)})"
            )
        if nested:
            reasons.setdefault("CAPABILITY_AUTO_EXPAND", []).append(f"{file}: nested stacks ({', '.join(nested)})")
        if document.get("Transform"):
            reasons.setdefault("CAPABILITY_AUTO_EXPAND", []).append(f"{file}: transform {document['Transform']}")
    return dict(sorted(reasons.items()))


def is_stateful(resource_type: str) -> bool:
    return resource_type in STATEFUL_TYPES


def is_security(resource_type: str) -> bool:
    return resource_type.startswith(SECURITY_TYPE_PREFIXES) or resource_type in SECURITY_TYPES


def carries_traffic(resource_type: str) -> bool:
    return resource_type in TRAFFIC_TYPES


def name_property(resource_type: str) -> str | None:
    """The property that names `resource_type`'s physical resource ("a/b" for nested), or None."""
    return NAME_PROPERTIES.get(resource_type)


def value_at(properties: dict, path: str) -> object | None:
    """The value at "a/b" in a resource's properties, or None."""
    value: object = properties
    for part in path.split("/"):
        if not isinstance(value, dict) or part not in value:
            return None
        value = value[part]
    return value


def custom_name(resource_type: str, properties: dict) -> object | None:
    """The value of the resource's name property when the template sets one, else None."""
    path = NAME_PROPERTIES.get(resource_type)
    return value_at(properties, path) if path else None


def blocking_name(resource_type: str, properties: dict) -> object | None:
    """The custom name that makes CloudFormation refuse to replace the resource ("cannot update a
    stack when a custom-named resource requires replacing"), or None."""
    if resource_type in REPLACEABLE_WHEN_NAMED:
        return None
    return custom_name(resource_type, properties)


@cache
def create_only_properties(resource_type: str, region: str = "us-east-1") -> frozenset[str]:
    """Property paths ("Port", "EncryptionConfiguration/KmsKey") whose change replaces the resource,
    from the provider schema cfn-lint ships for `region`. Empty for a type it does not know."""
    from cfnlint.schema import PROVIDER_SCHEMA_MANAGER
    from cfnlint.schema._exceptions import ResourceNotFoundError

    try:
        schema = PROVIDER_SCHEMA_MANAGER.get_resource_schema(region, resource_type).schema
    except ResourceNotFoundError:
        return frozenset()
    return frozenset(path.removeprefix("/properties/") for path in schema.get("createOnlyProperties", []))


def replaced_by(resource_type: str, changed: str, region: str = "us-east-1") -> bool:
    """True when changing property `changed` (top-level name or "a/b" path) replaces the resource:
    it is create-only, or lies inside / contains a create-only property."""
    for path in create_only_properties(resource_type, region):
        if path == changed or path.startswith(changed + "/") or changed.startswith(path + "/"):
            return True
    return False


# ------------------------------------------------------------------ name constraints
#
# What each AWS API accepts as a name, per resource type and name property, from the API reference
# of the call CloudFormation makes (the text is the SDK model's documentation, which is what the
# API reference pages are generated from; the page is in `source`). cfn-lint's schemas carry only
# some of these and moto accepts all of them; the project's naming rule (templates/rules, E9010)
# and local mode (deployer/local_rules.py) read this table, so lint, the emulator and AWS agree.
#
# A check is one of: length (min/max), `pattern` (the whole name must match), `prefixes` /
# `suffixes` the name must not start / end with (case-insensitive), `words` it must not contain
# (case-insensitive), `reserved` names it must not be, and `extra` named checks implemented in
# `name_problems`. A check marked advisory in ADVISORY is documented as a recommendation, not a
# refusal: neither lint (E9010) nor the emulator applies it; `name_problems` reports it on request.


class NameRule:
    """The constraints of one name property. Plain class (standard library, no pydantic)."""

    __slots__ = (
        "api",
        "source",
        "min",
        "max",
        "pattern",
        "says",
        "prefixes",
        "suffixes",
        "words",
        "reserved",
        "extra",
        "code",
        "member",
    )

    def __init__(
        self,
        api: str,
        source: str,
        *,
        min: int = 1,
        max: int | None = None,
        pattern: str | None = None,
        says: str = "",
        prefixes: tuple[str, ...] = (),
        suffixes: tuple[str, ...] = (),
        words: tuple[str, ...] = (),
        reserved: tuple[str, ...] = (),
        extra: tuple[str, ...] = (),
        code: str = "ValidationError",
        member: str = "",
    ) -> None:
        self.api = api  # "EC2 CreateSecurityGroup GroupName": the API call and parameter that take the name
        self.source = source  # the API reference page
        self.min, self.max, self.pattern, self.says = min, max, pattern, says
        self.prefixes, self.suffixes, self.words, self.reserved, self.extra = prefixes, suffixes, words, reserved, extra
        self.code = code  # the error code the API answers a bad name with
        self.member = member or api.rsplit(" ", 1)[-1]  # the request member the API names in its message


_EC2 = "https://docs.aws.amazon.com/AWSEC2/latest/APIReference/"
_ELB = "https://docs.aws.amazon.com/elasticloadbalancing/latest/APIReference/"
_RDS = "https://docs.aws.amazon.com/AmazonRDS/latest/APIReference/"
_IAM = "https://docs.aws.amazon.com/IAM/latest/APIReference/"
_ECS = "https://docs.aws.amazon.com/AmazonECS/latest/APIReference/"
_RDS_ID = r"[A-Za-z](?:-?[A-Za-z0-9])*"  # letter first; letters, digits, single hyphens; no trailing hyphen
_RDS_SAYS = (
    "first character a letter; only letters, digits and hyphens; not ending with a hyphen or containing two "
    "consecutive hyphens"
)


def _rds_identifier(operation: str, member: str, longest: int) -> NameRule:
    """An RDS identifier (cluster, instance, parameter group): the same letters rule and error code
    in every Create call, only the length differs."""
    return NameRule(
        f"RDS {operation} {member}",
        _RDS + f"API_{operation}.html",
        max=longest,
        pattern=_RDS_ID,
        says=f"1 to {longest} characters: " + _RDS_SAYS,
        code="InvalidParameterValue",
    )


_ECS_NAME = r"[A-Za-z0-9_-]+"
_ECS_SAYS = "up to 255 letters, numbers, underscores and hyphens"
_IAM_NAME = r"[\w+=,.@-]+"
_IAM_SAYS = "alphanumeric characters and _+=,.@- (no spaces)"

NAME_CONSTRAINTS: dict[str, dict[str, NameRule]] = {
    "AWS::ApiGatewayV2::Api": {
        "Name": NameRule(
            "API Gateway v2 CreateApi Name",
            "https://docs.aws.amazon.com/apigatewayv2/latest/api-reference/apis.html",
            says="a string (the API reference states no length or pattern)",
        )
    },
    "AWS::ApiGatewayV2::VpcLink": {
        "Name": NameRule(
            "API Gateway v2 CreateVpcLink Name",
            "https://docs.aws.amazon.com/apigatewayv2/latest/api-reference/vpclinks.html",
            says="a string (the API reference states no length or pattern)",
        )
    },
    "AWS::ApplicationAutoScaling::ScalingPolicy": {
        "PolicyName": NameRule(
            "Application Auto Scaling PutScalingPolicy PolicyName",
            "https://docs.aws.amazon.com/autoscaling/application/APIReference/API_PutScalingPolicy.html",
            max=256,
            pattern=r"[\x20-\x7e]+",
            says="printable characters",
        )
    },
    "AWS::AutoScaling::AutoScalingGroup": {
        "AutoScalingGroupName": NameRule(
            "EC2 Auto Scaling CreateAutoScalingGroup AutoScalingGroupName",
            "https://docs.aws.amazon.com/autoscaling/ec2/APIReference/API_CreateAutoScalingGroup.html",
            max=255,
            pattern=r"[\x21-\x39\x3b-\x7e]+",
            says="ASCII characters 33 to 126 except the colon",
        )
    },
    "AWS::Backup::BackupPlan": {
        "BackupPlan/BackupPlanName": NameRule(
            "Backup CreateBackupPlan BackupPlanName",
            "https://docs.aws.amazon.com/aws-backup/latest/devguide/API_BackupPlanInput.html",
            max=50,
            pattern=r"[A-Za-z0-9_.-]+",
            says="1 to 50 alphanumeric or '-_.' characters",
        )
    },
    "AWS::Backup::BackupSelection": {
        "BackupSelection/SelectionName": NameRule(
            "Backup CreateBackupSelection SelectionName",
            "https://docs.aws.amazon.com/aws-backup/latest/devguide/API_BackupSelection.html",
            max=50,
            pattern=r"[A-Za-z0-9_.-]+",
            says="1 to 50 alphanumeric or '-_.' characters",
        )
    },
    "AWS::Backup::BackupVault": {
        "BackupVaultName": NameRule(
            "Backup CreateBackupVault BackupVaultName",
            "https://docs.aws.amazon.com/aws-backup/latest/devguide/API_CreateBackupVault.html",
            min=2,
            max=50,
            pattern=r"[A-Za-z0-9_-]+",
            says="2 to 50 letters, numbers, hyphens and underscores",
        )
    },
    "AWS::CloudFront::OriginAccessControl": {
        "OriginAccessControlConfig/Name": NameRule(
            "CloudFront CreateOriginAccessControl Name",
            "https://docs.aws.amazon.com/cloudfront/latest/APIReference/API_OriginAccessControlConfig.html",
            max=64,
            says="up to 64 characters",
        )
    },
    "AWS::CloudFront::CachePolicy": {
        "CachePolicyConfig/Name": NameRule(
            "CloudFront CreateCachePolicy Name",
            "https://docs.aws.amazon.com/cloudfront/latest/APIReference/API_CachePolicyConfig.html",
            says="a string (the API reference states no length or pattern)",
        )
    },
    "AWS::CloudFront::Function": {
        "Name": NameRule(
            "CloudFront CreateFunction Name",
            "https://docs.aws.amazon.com/cloudfront/latest/APIReference/API_CreateFunction.html",
            max=64,
            pattern=r"[a-zA-Z0-9_-]{1,64}",
            says="1 to 64 letters, digits, hyphens and underscores",
            code="InvalidArgument",
        )
    },
    "AWS::CloudWatch::Alarm": {
        "AlarmName": NameRule(
            "CloudWatch PutMetricAlarm AlarmName",
            "https://docs.aws.amazon.com/AmazonCloudWatch/latest/APIReference/API_PutMetricAlarm.html",
            max=255,
            pattern=r"[^\x00-\x1f\x7f]+",
            says="UTF-8 without ASCII control characters",
        )
    },
    "AWS::CloudWatch::Dashboard": {
        "DashboardName": NameRule(
            "CloudWatch PutDashboard DashboardName",
            "https://docs.aws.amazon.com/AmazonCloudWatch/latest/APIReference/API_PutDashboard.html",
            max=255,
            pattern=r"[A-Za-z0-9_-]+",
            says="A-Z, a-z, 0-9, - and _",
            code="InvalidParameterInput",
        )
    },
    "AWS::CodeBuild::Project": {
        "Name": NameRule(
            "CodeBuild CreateProject name",
            "https://docs.aws.amazon.com/codebuild/latest/APIReference/API_CreateProject.html",
            min=2,
            max=150,
            pattern=r"[A-Za-z0-9][A-Za-z0-9_-]{1,149}",
            says="a letter or digit first, then letters, digits, - and _",
            code="InvalidInputException",
        )
    },
    "AWS::CodeConnections::Connection": {
        "ConnectionName": NameRule(
            "CodeConnections CreateConnection ConnectionName",
            "https://docs.aws.amazon.com/codeconnections/latest/APIReference/API_CreateConnection.html",
            max=32,
            says="1 to 32 characters",
        )
    },
    "AWS::CodeDeploy::Application": {
        "ApplicationName": NameRule(
            "CodeDeploy CreateApplication applicationName",
            "https://docs.aws.amazon.com/codedeploy/latest/APIReference/API_CreateApplication.html",
            max=100,
            pattern=r"[A-Za-z0-9+=,.@_-]+",
            says="letters, digits and +=,.@_-",
        )
    },
    "AWS::CodeDeploy::DeploymentGroup": {
        "DeploymentGroupName": NameRule(
            "CodeDeploy CreateDeploymentGroup deploymentGroupName",
            "https://docs.aws.amazon.com/codedeploy/latest/APIReference/API_CreateDeploymentGroup.html",
            max=100,
            pattern=r"[A-Za-z0-9+=,.@_-]+",
            says="letters, digits and +=,.@_-",
        )
    },
    "AWS::CodePipeline::Pipeline": {
        "Name": NameRule(
            "CodePipeline CreatePipeline name",
            "https://docs.aws.amazon.com/codepipeline/latest/APIReference/API_PipelineDeclaration.html",
            max=100,
            pattern=r"[A-Za-z0-9.@_-]+",
            says="letters, digits and .@-_",
        )
    },
    "AWS::Cognito::UserPool": {
        "UserPoolName": NameRule(
            "Cognito CreateUserPool PoolName",
            "https://docs.aws.amazon.com/cognito-user-identity-pools/latest/APIReference/API_CreateUserPool.html",
            max=128,
            pattern=r"[\w\s+=,.@-]+",
            says=r"word characters, spaces and +=,.@-",
            code="InvalidParameterException",
            member="PoolName",
        )
    },
    "AWS::Cognito::UserPoolClient": {
        "ClientName": NameRule(
            "Cognito CreateUserPoolClient ClientName",
            "https://docs.aws.amazon.com/cognito-user-identity-pools/latest/APIReference/API_CreateUserPoolClient.html",
            max=128,
            pattern=r"[\w\s+=,.@-]+",
            says=r"word characters, spaces and +=,.@-",
            code="InvalidParameterException",
        )
    },
    # A prefix domain (no dot) is `<prefix>.auth.<region>.amazoncognito.com`: lowercase letters,
    # digits and inner hyphens, and (Cognito developer guide, "Using the Amazon Cognito prefix
    # domain") it can't contain the text aws, amazon or cognito. A custom domain is an FQDN.
    "AWS::Cognito::UserPoolDomain": {
        "Domain": NameRule(
            "Cognito CreateUserPoolDomain Domain",
            "https://docs.aws.amazon.com/cognito-user-identity-pools/latest/APIReference/API_CreateUserPoolDomain.html https://docs.aws.amazon.com/cognito/latest/developerguide/cognito-user-pools-assign-domain-prefix.html",
            max=63,
            extra=("cognito-prefix",),
            says="a prefix of lowercase letters, digits and hyphens, not starting or ending with a hyphen, without "
            "the words aws, amazon or cognito",
            code="InvalidParameterException",
        )
    },
    "AWS::EC2::LaunchTemplate": {
        "LaunchTemplateName": NameRule(
            "EC2 CreateLaunchTemplate LaunchTemplateName",
            _EC2 + "API_CreateLaunchTemplate.html",
            min=3,
            max=128,
            pattern=r"[A-Za-z0-9().\-/_]+",
            says="3 to 128 of a-z, A-Z, 0-9, ( ) . - / _",
            code="InvalidLaunchTemplateName.MalformedException",
        )
    },
    "AWS::EC2::SecurityGroup": {
        "GroupName": NameRule(
            "EC2 CreateSecurityGroup GroupName",
            _EC2 + "API_CreateSecurityGroup.html",
            max=255,
            pattern=r"[A-Za-z0-9 ._\-:/()#,@\[\]+=&;{}!$*]+",
            says="a-z, A-Z, 0-9, spaces and ._-:/()#,@[]+=&;{}!$*",
            prefixes=("sg-",),
            code="InvalidParameterValue",
        )
    },
    "AWS::ECR::Repository": {
        "RepositoryName": NameRule(
            "ECR CreateRepository repositoryName",
            "https://docs.aws.amazon.com/AmazonECR/latest/APIReference/API_CreateRepository.html",
            min=2,
            max=256,
            pattern=r"[a-z0-9]+(?:(?:\.|_|__|-+)[a-z0-9]+)*(?:/[a-z0-9]+(?:(?:\.|_|__|-+)[a-z0-9]+)*)*",
            says="lowercase letters, digits, and single . _ or - between them, / between path parts",
            code="InvalidParameterException",
        )
    },
    "AWS::ECS::CapacityProvider": {
        "Name": NameRule(
            "ECS CreateCapacityProvider name",
            _ECS + "API_CreateCapacityProvider.html",
            max=255,
            pattern=_ECS_NAME,
            says=_ECS_SAYS,
            prefixes=("aws", "ecs", "fargate"),
            code="ClientException",
            member="name",
        )
    },
    "AWS::ECS::Cluster": {
        "ClusterName": NameRule(
            "ECS CreateCluster clusterName",
            _ECS + "API_CreateCluster.html",
            max=255,
            pattern=_ECS_NAME,
            says=_ECS_SAYS,
            code="InvalidParameterException",
        )
    },
    "AWS::ECS::Service": {
        "ServiceName": NameRule(
            "ECS CreateService serviceName",
            _ECS + "API_CreateService.html",
            max=255,
            pattern=_ECS_NAME,
            says=_ECS_SAYS,
            code="InvalidParameterException",
        )
    },
    "AWS::ECS::TaskDefinition": {
        "Family": NameRule(
            "ECS RegisterTaskDefinition family",
            _ECS + "API_RegisterTaskDefinition.html",
            max=255,
            pattern=_ECS_NAME,
            says=_ECS_SAYS,
            code="ClientException",
        )
    },
    "AWS::ElastiCache::ReplicationGroup": {
        "ReplicationGroupId": NameRule(
            "ElastiCache CreateReplicationGroup ReplicationGroupId",
            "https://docs.aws.amazon.com/AmazonElastiCache/latest/APIReference/API_CreateReplicationGroup.html",
            max=40,
            pattern=_RDS_ID,
            says="1 to 40 alphanumeric characters or hyphens, a letter first, not ending with a hyphen or "
            "containing two consecutive hyphens",
            code="InvalidParameterValue",
        )
    },
    "AWS::ElastiCache::SubnetGroup": {
        "CacheSubnetGroupName": NameRule(
            "ElastiCache CreateCacheSubnetGroup CacheSubnetGroupName",
            "https://docs.aws.amazon.com/AmazonElastiCache/latest/APIReference/API_CreateCacheSubnetGroup.html",
            max=255,
            pattern=r"[A-Za-z0-9-]+",
            says="no more than 255 alphanumeric characters or hyphens",
            code="InvalidParameterValue",
        )
    },
    "AWS::ElasticLoadBalancingV2::LoadBalancer": {
        "Name": NameRule(
            "ELBv2 CreateLoadBalancer Name",
            _ELB + "API_CreateLoadBalancer.html",
            max=32,
            pattern=r"[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?",
            says="at most 32 alphanumeric characters or hyphens, not beginning or ending with a hyphen",
            prefixes=("internal-",),
        )
    },
    "AWS::ElasticLoadBalancingV2::TargetGroup": {
        "Name": NameRule(
            "ELBv2 CreateTargetGroup Name",
            _ELB + "API_CreateTargetGroup.html",
            max=32,
            pattern=r"[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?",
            says="at most 32 alphanumeric characters or hyphens, not beginning or ending with a hyphen",
        )
    },
    "AWS::IAM::InstanceProfile": {
        "InstanceProfileName": NameRule(
            "IAM CreateInstanceProfile InstanceProfileName",
            _IAM + "API_CreateInstanceProfile.html",
            max=128,
            pattern=_IAM_NAME,
            says=_IAM_SAYS,
            member="instanceProfileName",
        )
    },
    "AWS::IAM::ManagedPolicy": {
        "ManagedPolicyName": NameRule(
            "IAM CreatePolicy PolicyName",
            _IAM + "API_CreatePolicy.html",
            max=128,
            pattern=_IAM_NAME,
            says=_IAM_SAYS,
            member="policyName",
        )
    },
    "AWS::IAM::Policy": {
        "PolicyName": NameRule(
            "IAM PutRolePolicy PolicyName",
            _IAM + "API_PutRolePolicy.html",
            max=128,
            pattern=_IAM_NAME,
            says=_IAM_SAYS,
            member="policyName",
        )
    },
    "AWS::IAM::Role": {
        "RoleName": NameRule(
            "IAM CreateRole RoleName",
            _IAM + "API_CreateRole.html",
            max=64,
            pattern=_IAM_NAME,
            says=_IAM_SAYS,
            member="roleName",
        ),
        "Policies/*/PolicyName": NameRule(
            "IAM PutRolePolicy PolicyName",
            _IAM + "API_PutRolePolicy.html",
            max=128,
            pattern=_IAM_NAME,
            says=_IAM_SAYS,
            member="policyName",
        ),
    },
    "AWS::KMS::Alias": {
        "AliasName": NameRule(
            "KMS CreateAlias AliasName",
            "https://docs.aws.amazon.com/kms/latest/APIReference/API_CreateAlias.html",
            max=256,
            pattern=r"alias/[A-Za-z0-9:/_-]+",
            says="alias/ followed by alphanumerics, /, _ and -",
            prefixes=("alias/aws/",),
        )
    },
    "AWS::Lambda::Function": {
        "FunctionName": NameRule(
            "Lambda CreateFunction FunctionName",
            "https://docs.aws.amazon.com/lambda/latest/api/API_CreateFunction.html",
            max=64,
            pattern=r"[A-Za-z0-9_-]+",
            says="a function name of up to 64 letters, digits, - and _",
            code="ValidationException",
        )
    },
    "AWS::Logs::LogGroup": {
        "LogGroupName": NameRule(
            "CloudWatch Logs CreateLogGroup logGroupName",
            "https://docs.aws.amazon.com/AmazonCloudWatchLogs/latest/APIReference/API_CreateLogGroup.html",
            max=512,
            pattern=r"[A-Za-z0-9_\-/.#]+",
            says="a-z, A-Z, 0-9, _ - / . #",
            prefixes=("aws/",),
            code="InvalidParameterException",
        )
    },
    "AWS::RDS::DBCluster": {
        "DBClusterIdentifier": _rds_identifier("CreateDBCluster", "DBClusterIdentifier", 63),
    },
    "AWS::RDS::DBClusterParameterGroup": {
        "DBClusterParameterGroupName": _rds_identifier(
            "CreateDBClusterParameterGroup", "DBClusterParameterGroupName", 255
        ),
    },
    "AWS::RDS::DBInstance": {
        "DBInstanceIdentifier": _rds_identifier("CreateDBInstance", "DBInstanceIdentifier", 63),
    },
    "AWS::RDS::DBParameterGroup": {
        "DBParameterGroupName": _rds_identifier("CreateDBParameterGroup", "DBParameterGroupName", 255),
    },
    "AWS::RDS::DBProxy": {
        "DBProxyName": NameRule(
            "RDS CreateDBProxy DBProxyName",
            _RDS + "API_CreateDBProxy.html",
            max=63,
            pattern=r"[A-Za-z](?:-?[A-Za-z0-9]+)*",
            says="a letter first, only ASCII letters, digits and hyphens, not ending with a hyphen or containing "
            "two consecutive hyphens",
            code="InvalidParameterValue",
        )
    },
    "AWS::RDS::DBSubnetGroup": {
        "DBSubnetGroupName": NameRule(
            "RDS CreateDBSubnetGroup DBSubnetGroupName",
            _RDS + "API_CreateDBSubnetGroup.html",
            max=255,
            pattern=r"[A-Za-z][A-Za-z0-9._ -]*",
            says="a letter first, then letters, numbers, periods, underscores, spaces or hyphens",
            reserved=("default",),
            code="InvalidParameterValue",
        )
    },
    "AWS::S3::Bucket": {
        "BucketName": NameRule(
            "S3 CreateBucket Bucket",
            "https://docs.aws.amazon.com/AmazonS3/latest/userguide/bucketnamingrules.html",
            min=3,
            max=63,
            pattern=r"[a-z0-9](?:[a-z0-9.-]*[a-z0-9])?",
            says="3 to 63 lowercase letters, digits, dots and hyphens, beginning and ending with a letter or digit",
            prefixes=("xn--", "sthree-", "amzn-s3-demo-"),
            suffixes=("-s3alias", "--ol-s3", ".mrap", "--x-s3"),
            extra=("no-adjacent-dots", "not-ip-address"),
            code="InvalidBucketName",
        )
    },
    "AWS::SNS::Topic": {
        "TopicName": NameRule(
            "SNS CreateTopic Name",
            "https://docs.aws.amazon.com/sns/latest/api/API_CreateTopic.html",
            max=256,
            pattern=r"[A-Za-z0-9_-]+(?:\.fifo)?",
            says="1 to 256 ASCII letters, numbers, underscores and hyphens (.fifo for a FIFO topic)",
            code="InvalidParameter",
            member="Name",
        )
    },
    "AWS::SQS::Queue": {
        "QueueName": NameRule(
            "SQS CreateQueue QueueName",
            "https://docs.aws.amazon.com/AWSSimpleQueueService/latest/APIReference/API_CreateQueue.html",
            max=80,
            pattern=r"[A-Za-z0-9_-]+(?:\.fifo)?",
            says="up to 80 alphanumeric characters, hyphens and underscores (.fifo for a FIFO queue)",
            code="InvalidParameterValue",
        )
    },
    "AWS::SecretsManager::Secret": {
        "Name": NameRule(
            "Secrets Manager CreateSecret Name",
            "https://docs.aws.amazon.com/secretsmanager/latest/apireference/API_CreateSecret.html",
            max=512,
            pattern=r"[A-Za-z0-9/_+=.@-]+",
            says="ASCII letters, numbers and /_+=.@-",
            extra=("secret-suffix",),
            code="ValidationException",
        )
    },
    # The API model allows 255, but Synthetics names the canary's Lambda function
    # cwsyn-<name>-<36-character id>, which must fit Lambda's 64: hence 21 (CloudWatch user guide,
    # "Creating a canary": "lowercase letters, numbers, hyphens, underscores ... up to 21").
    "AWS::Synthetics::Canary": {
        "Name": NameRule(
            "Synthetics CreateCanary Name",
            "https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/CloudWatch_Synthetics_Canaries_Create.html",
            max=21,
            pattern=r"[0-9a-z_-]+",
            says="up to 21 lowercase letters, digits, hyphens and underscores",
        )
    },
    "AWS::WAFv2::IPSet": {
        "Name": NameRule(
            "WAFv2 CreateIPSet Name",
            "https://docs.aws.amazon.com/waf/latest/APIReference/API_CreateIPSet.html",
            max=128,
            pattern=r"[\w-]+",
            says="1 to 128 word characters and hyphens",
            code="WAFInvalidParameterException",
        )
    },
    "AWS::WAFv2::WebACL": {
        "Name": NameRule(
            "WAFv2 CreateWebACL Name",
            "https://docs.aws.amazon.com/waf/latest/APIReference/API_CreateWebACL.html",
            max=128,
            pattern=r"[\w-]+",
            says="1 to 128 word characters and hyphens",
            code="WAFInvalidParameterException",
        )
    },
    "AWS::XRay::Group": {
        "GroupName": NameRule(
            "X-Ray CreateGroup GroupName",
            "https://docs.aws.amazon.com/xray/latest/api/API_CreateGroup.html",
            max=32,
            reserved=("Default",),
            says="1 to 32 characters; Default is reserved",
            code="InvalidRequestException",
        )
    },
    "AWS::XRay::SamplingRule": {
        "SamplingRule/RuleName": NameRule(
            "X-Ray CreateSamplingRule RuleName",
            "https://docs.aws.amazon.com/xray/latest/api/API_SamplingRule.html",
            max=32,
            says="1 to 32 characters",
            code="InvalidRequestException",
        )
    },
}

# Checks documented as advice rather than a refusal; lint and the emulator leave them out. Secrets
# Manager advises against a name ending in a hyphen and six characters (partial-ARN lookups take it
# for its random suffix); seed 004's convention `{resource-type}-{environment_suffix}` with the
# suffix pr5706 requires exactly that (db-credentials-pr5706), and the templates and task policies
# reference every secret by its full ARN, never a partial one.
ADVISORY = frozenset({"secret-suffix"})

_IP_ADDRESS = re.compile(r"\d{1,3}(?:\.\d{1,3}){3}")


def name_rules(resource_type: str) -> dict[str, NameRule]:
    """{property path: NameRule} of every name property of `resource_type` ("a/*/b": each list element)."""
    return NAME_CONSTRAINTS.get(resource_type, {})


def name_values(properties: dict, path: str) -> list[tuple[str, object]]:
    """(concrete path, value) of a name property path in `properties`; "*" walks each list element."""
    found: list[tuple[str, object]] = [("", properties)]
    for part in path.split("/"):
        step: list[tuple[str, object]] = []
        for where, value in found:
            if part == "*" and isinstance(value, list):
                step.extend((f"{where}/{i}".lstrip("/"), v) for i, v in enumerate(value))
            elif isinstance(value, dict) and part in value:
                step.append((f"{where}/{part}".lstrip("/"), value[part]))
        found = step
    return found


def name_problems(rule: NameRule, name: str, *, include_advisory: bool = True) -> list[tuple[str, str]]:
    """(check, what is wrong) for each constraint of `rule` that `name` breaks; [] when it is valid."""
    problems: list[tuple[str, str]] = []
    lowered = name.lower()
    if len(name) < rule.min:
        problems.append(("length", f"is {len(name)} characters; the minimum is {rule.min}"))
    if rule.max is not None and len(name) > rule.max:
        problems.append(("length", f"is {len(name)} characters; the maximum is {rule.max}"))
    if rule.pattern and name and not re.fullmatch(rule.pattern, name):
        problems.append(("pattern", f"does not match {rule.says or rule.pattern}"))
    problems += [
        ("prefix", f"starts with the reserved prefix {p!r}") for p in rule.prefixes if lowered.startswith(p.lower())
    ]
    problems += [
        ("suffix", f"ends with the reserved suffix {s!r}") for s in rule.suffixes if lowered.endswith(s.lower())
    ]
    problems += [("word", f"contains the reserved word {w!r}") for w in rule.words if w.lower() in lowered]
    problems += [
        ("reserved", f"is the reserved name {r!r}")
        for r in rule.reserved
        if (name == r if r[:1].isupper() else lowered == r)
    ]
    for check in rule.extra:
        if check == "no-adjacent-dots" and ".." in name:
            problems.append((check, "contains two adjacent periods"))
        elif check == "not-ip-address" and _IP_ADDRESS.fullmatch(name):
            problems.append((check, "is formatted as an IP address"))
        elif check == "secret-suffix" and include_advisory and len(name) > 7 and name[-7] == "-":
            problems.append(
                (
                    check,
                    "ends with a hyphen followed by six characters, which Secrets Manager's partial-ARN "
                    "lookups take for its own random suffix",
                )
            )
        elif check == "cognito-prefix" and "." not in name:  # a prefix domain; a custom domain is an FQDN
            if not re.fullmatch(r"[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?", name):
                problems.append(
                    (
                        check,
                        "is not a valid prefix: lowercase letters, digits and hyphens, not starting or ending "
                        "with a hyphen",
                    )
                )
            problems += [
                (check, f"contains the reserved word {w!r}") for w in ("aws", "amazon", "cognito") if w in lowered
            ]
    return [p for p in problems if include_advisory or p[0] not in ADVISORY]


def aws_refusal(resource_type: str, path: str, name: str) -> tuple[str, str] | None:
    """(error code, message) the AWS API answers a create with this name, or None when it accepts it.

    The EC2 security-group prefix gets EC2's own wording; the other checks are phrased as the API
    reference states the constraint, with the error code the service uses for a bad parameter."""
    rule = name_rules(resource_type).get(path)
    if rule is None:
        return None
    problems = name_problems(rule, name, include_advisory=False)
    if not problems:
        return None
    check, what = problems[0]
    if resource_type == "AWS::EC2::SecurityGroup" and check == "prefix":
        return (
            rule.code,
            f"Value ({name}) for parameter GroupName is invalid. Group names may not be in the format sg-*.",
        )
    if rule.code in ("ValidationError", "ValidationException") and check in ("length", "pattern"):
        constraint = (
            f"Member must have length less than or equal to {rule.max}"
            if "maximum" in what
            else (
                f"Member must have length greater than or equal to {rule.min}"
                if "minimum" in what
                else f"Member must satisfy regular expression pattern: {rule.pattern}"
            )
        )
        return (
            rule.code,
            f"1 validation error detected: Value '{name}' at '{rule.member}' failed to satisfy constraint: "
            f"{constraint}",
        )
    return rule.code, f"Invalid {rule.member} '{name}': it {what} ({rule.api}: {rule.says})."

"""What CloudFormation resource types mean for a deploy: which hold data, which carry traffic or
identity, which property names them, which properties force a replacement. One module, standard
library only, read by the layer builder, the lint rules, the stack policies and the review, so the
generator and the deployer never disagree about a type.

`create_only_properties` reads the resource provider schemas cfn-lint ships (imported lazily, only
when asked): a change to one of those properties makes CloudFormation replace the resource.
"""

from __future__ import annotations

from functools import lru_cache

# What loses data when its old copy is deleted: every type the generator emits that holds data,
# plus the other databases, caches, file systems, queues and streams AWS offers (a review rates a
# template it did not generate too).
STATEFUL_TYPES = frozenset(
    {
        "AWS::RDS::DBInstance", "AWS::RDS::DBCluster", "AWS::ElastiCache::ReplicationGroup",
        "AWS::EFS::FileSystem", "AWS::S3::Bucket", "AWS::SecretsManager::Secret", "AWS::KMS::Key",
        "AWS::Logs::LogGroup", "AWS::Cognito::UserPool", "AWS::ECR::Repository",
        "AWS::Backup::BackupVault", "AWS::DynamoDB::Table",
        "AWS::DocDB::DBCluster", "AWS::DocDB::DBInstance", "AWS::Neptune::DBCluster",
        "AWS::ElastiCache::CacheCluster", "AWS::ElastiCache::ServerlessCache", "AWS::MemoryDB::Cluster",
        "AWS::FSx::FileSystem", "AWS::OpenSearchService::Domain", "AWS::Redshift::Cluster",
        "AWS::Kinesis::Stream", "AWS::SQS::Queue",
    }
)

# Types CloudFormation can snapshot on delete or replace (DeletionPolicy: Snapshot).
SNAPSHOT_TYPES = frozenset(
    {"AWS::RDS::DBInstance", "AWS::RDS::DBCluster", "AWS::ElastiCache::ReplicationGroup", "AWS::EC2::Volume",
     "AWS::Redshift::Cluster", "AWS::DocDB::DBCluster", "AWS::Neptune::DBCluster", "AWS::ElastiCache::CacheCluster"}
)

# Replacing one of these interrupts requests or sign-ins while the new copy comes up (a new DNS
# name, a new ARN that listeners, services or clients must be pointed at).
TRAFFIC_TYPES = frozenset(
    {
        "AWS::ElasticLoadBalancingV2::LoadBalancer", "AWS::ElasticLoadBalancingV2::Listener",
        "AWS::ElasticLoadBalancingV2::ListenerRule", "AWS::ElasticLoadBalancingV2::TargetGroup",
        "AWS::ECS::Service", "AWS::ECS::Cluster", "AWS::CloudFront::Distribution",
        "AWS::ApiGatewayV2::Api", "AWS::ApiGatewayV2::Stage", "AWS::ApiGatewayV2::VpcLink",
        "AWS::ApiGateway::RestApi", "AWS::Cognito::UserPool", "AWS::Cognito::UserPoolClient",
        "AWS::Cognito::UserPoolDomain", "AWS::Route53::RecordSet", "AWS::WAFv2::WebACL",
        "AWS::RDS::DBProxy", "AWS::EC2::NatGateway",
    }
)

SECURITY_TYPE_PREFIXES = ("AWS::IAM::", "AWS::WAFv2::", "AWS::WAF::", "AWS::WAFRegional::")
SECURITY_TYPES = frozenset({"AWS::EC2::SecurityGroup", "AWS::EC2::SecurityGroupIngress", "AWS::EC2::SecurityGroupEgress"})

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


def is_stateful(resource_type: str) -> bool:
    return resource_type in STATEFUL_TYPES


def is_security(resource_type: str) -> bool:
    return resource_type.startswith(SECURITY_TYPE_PREFIXES) or resource_type in SECURITY_TYPES


def carries_traffic(resource_type: str) -> bool:
    return resource_type in TRAFFIC_TYPES


def name_property(resource_type: str) -> str | None:
    """The property that names `resource_type`'s physical resource ("a/b" for nested), or None."""
    return NAME_PROPERTIES.get(resource_type)


def custom_name(resource_type: str, properties: dict) -> object | None:
    """The value of the resource's name property when the template sets one, else None."""
    path = NAME_PROPERTIES.get(resource_type)
    if not path:
        return None
    value: object = properties
    for part in path.split("/"):
        if not isinstance(value, dict) or part not in value:
            return None
        value = value[part]
    return value


def blocking_name(resource_type: str, properties: dict) -> object | None:
    """The custom name that makes CloudFormation refuse to replace the resource ("cannot update a
    stack when a custom-named resource requires replacing"), or None."""
    if resource_type in REPLACEABLE_WHEN_NAMED:
        return None
    return custom_name(resource_type, properties)


@lru_cache(maxsize=None)
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

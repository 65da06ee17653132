"""Resource names: seed 004's `{resource-type}-{environment_suffix}` convention, and AWS's limits.

The params model checks every name it will produce against these limits, so a name that AWS
would refuse at deploy time fails at load time with the params key that caused it.
"""

from __future__ import annotations

import re

from resource_semantics import NAME_CONSTRAINTS

# The kinds of name the generator makes from `{resource-type}-{environment_suffix}`, as the resource
# type and name property whose rule (length, pattern, reserved prefixes, each with its AWS API
# reference) lives in resource_semantics.NAME_CONSTRAINTS: one table for the params checks, lint rule
# E9010 and the local emulator.
KINDS: dict[str, tuple[str, str]] = {
    "alb": ("AWS::ElasticLoadBalancingV2::LoadBalancer", "Name"),
    "tg": ("AWS::ElasticLoadBalancingV2::TargetGroup", "Name"),
    "ecs-cluster": ("AWS::ECS::Cluster", "ClusterName"),
    "ecs-service": ("AWS::ECS::Service", "ServiceName"),
    "rds": ("AWS::RDS::DBInstance", "DBInstanceIdentifier"),
    "rds-cluster": ("AWS::RDS::DBCluster", "DBClusterIdentifier"),
    "cache": ("AWS::ElastiCache::ReplicationGroup", "ReplicationGroupId"),
    "ecr": ("AWS::ECR::Repository", "RepositoryName"),
    "iam-role": ("AWS::IAM::Role", "RoleName"),
    "secret": ("AWS::SecretsManager::Secret", "Name"),
    "log-group": ("AWS::Logs::LogGroup", "LogGroupName"),
    "security-group": ("AWS::EC2::SecurityGroup", "GroupName"),
    "bucket-prefix": ("AWS::S3::Bucket", "BucketName"),
}
# Buckets also carry the account id and region to be globally unique: the prefix gets what is left.
BUCKET_SUFFIX = "-123456789012-ap-southeast-1"


def stack_name(cfg) -> str:
    """The root stack's name, `<application>-<environment_suffix>` (nested stacks are
    `<root>-<Layer>Stack-<random>`, named by CloudFormation)."""
    return f"{cfg.application}-{cfg.suffix}"


def layer_title(layer: str) -> str:
    """`split-network` -> `SplitNetwork`: a layer's name in logical ids and labels."""
    return "".join(part.capitalize() for part in layer.split("-"))


def stack_logical_id(layer: str) -> str:
    """The logical id of a layer's AWS::CloudFormation::Stack in the root (`NetworkStack`); its
    physical name is `<root stack>-<logical id>-<random>`, which CloudFormation chooses."""
    return layer_title(layer) + "Stack"


def cognito_domain_prefix(cfg) -> str:
    """The hosted UI's domain prefix: auth.domain_prefix, else `<application>-<environment_suffix>`."""
    return cfg.auth.domain_prefix or stack_name(cfg)


def resource_name(kind: str, suffix: str, qualifier: str | None = None) -> str:
    """`alb-pr5706`, or with a qualifier (a service name) `tg-api-pr5706`."""
    parts = [kind, qualifier, suffix] if qualifier else [kind, suffix]
    return "-".join(parts)


def name_problem(kind: str, name: str) -> str | None:
    """Why AWS would refuse `name` for a `kind` resource, or None when it is fine."""
    rule = NAME_CONSTRAINTS[KINDS[kind][0]][KINDS[kind][1]]
    limit = rule.max - len(BUCKET_SUFFIX) if kind == "bucket-prefix" else rule.max
    if len(name) > limit:
        return f"{name!r} is {len(name)} characters; a {kind} name allows at most {limit}"
    if rule.pattern and not re.fullmatch(rule.pattern, name):
        return f"{name!r} is not a valid {kind} name ({rule.says})"
    for prefix in rule.prefixes:
        if name.lower().startswith(prefix):
            return f"{name!r} starts with {prefix!r}, which AWS reserves: a {kind} name must not start with it"
    return None

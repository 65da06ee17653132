"""cicd layer: one CodePipeline per configured pipeline, the KMS-encrypted artifact bucket, the
CodeBuild projects and least-privilege roles.

A backend pipeline runs Source (the application repository and the infrastructure repository
holding cfn-strata, its params and buildspec.yml) -> Build (images pushed to ECR, unless this
commit's tag is already there; then the repository's buildspec.yml generates, lints and uploads the
templates and writes the template configuration with the tags just built) -> Infrastructure
(CloudFormation CHANGE_SET_REPLACE with the uploaded root template and that template
configuration, which brings a service from 0 tasks (no image yet) up to its desired count -> a CodeBuild step
writing the HTML review page of that change set -> manual approval linking it -> CHANGE_SET_EXECUTE)
-> Application (the ECS standard deploy action per service: UpdateService with the new image, and
ECS runs the service's own deployment, rolling or blue/green with its traffic shifting and alarm
rollback, which CloudFormation configures).
A frontend pipeline runs Source -> Build (the SPA) -> Deploy (S3 deploy into the SPA bucket, then a
CloudFront invalidation).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any

from awacs.aws import Action, Allow, Condition, Deny, PolicyDocument, Statement, StringEquals, StringLikeIfExists
from troposphere import Equals, GetAtt, If, Join, Ref, Sub, codebuild, codeconnections, encode_to_dict, iam, logs, s3
from troposphere import codepipeline as cp

from resource_semantics import CAPABILITIES
from templates.common import (
    BOUNDARY_CONDITIONED,
    BOUNDARY_SELF_ACTIONS,
    IAM_MANAGE_ACTIONS,
    PASSED_TO_SERVICES,
    SERVICE_LINKED_ROLES,
    Layer,
    LayerBuilder,
    boundary_arn,
    iam_arn,
    logical_id,
    own_iam_arns,
    trust_policy,
)
from templates.config import DEPLOY_START_MINUTES, PIPELINE_ECS_DEPLOY_MINUTES, AppConfig, PipelineConfig, ServiceConfig
from templates.edge import GLOBAL_REGION, needs_global_stack
from templates.naming import stack_name

CODEBUILD_IMAGE = "aws/codebuild/standard:7.0"
ROLLING_DEPLOY_MINUTES = 30
CHANGE_SET_NAME = "cfn-strata-pipeline"
TEMPLATE_PREFIX = "templates"
REVIEW_PREFIX = "reviews"
# ------------------------------------------------------------------ the CloudFormation service role
#
# The role CloudFormation runs the pipeline's change sets with. It holds no `<service>:*` on `*` and no
# iam:*: per service, every action on the application's own resources (DEPLOY_SCOPES: ARNs by the
# application's names, `*-<suffix>` or CloudFormation's `<application>-<suffix>-*`), the few actions
# that support only Resource "*" (STAR_ONLY_ACTIONS), and in IAM only the calls CloudFormation makes
# for the application's roles, instance profiles and policies; creating or changing a role requires the
# application's permissions boundary (templates.common.BOUNDARY_CONDITIONED).
#
# DEPLOY_SCOPES: service -> ARN patterns of the application's resources ({suffix}: the environment
# suffix, {stack}: the root stack name; {stack_lower}: lower-cased, as RDS stores CloudFormation-generated
# identifiers). Resource types whose ARN holds an id AWS generates (vpc-..., key ids, fs-..., distribution
# ids, user pool ids, API ids, backup plan ids, connection ids, proxy ids) cannot be told apart by name:
# their pattern names this account, region and resource type (ID_NAMED below, in the README's table).
# ARN formats: the AWS Service Authorization Reference, "Actions, resources, and condition keys for
# <service>" (the data cfn-lint ships as data/AdditionalSpecs/Policies.json).
_P, _R, _A = "${AWS::Partition}", "${AWS::Region}", "${AWS::AccountId}"
DEPLOY_SCOPES: dict[str, tuple[str, ...]] = {
    "apigateway": (
        f"arn:{_P}:apigateway:{_R}::/apis",
        f"arn:{_P}:apigateway:{_R}::/apis/*",
        f"arn:{_P}:apigateway:{_R}::/vpclinks",
        f"arn:{_P}:apigateway:{_R}::/vpclinks/*",
        f"arn:{_P}:apigateway:{_R}::/tags/*",
    ),
    "application-autoscaling": (f"arn:{_P}:application-autoscaling:{_R}:{_A}:scalable-target/*",),
    "autoscaling": (f"arn:{_P}:autoscaling:{_R}:{_A}:autoScalingGroup:*:autoScalingGroupName/*-{{suffix}}",),
    "backup": (f"arn:{_P}:backup:{_R}:{_A}:backup-vault:*-{{suffix}}", f"arn:{_P}:backup:{_R}:{_A}:backup-plan:*"),
    "cloudformation": (
        f"arn:{_P}:cloudformation:{_R}:{_A}:stack/{{stack}}/*",
        f"arn:{_P}:cloudformation:{_R}:{_A}:stack/{{stack}}-*/*",
    ),
    "cloudtrail": (f"arn:{_P}:cloudtrail:{_R}:{_A}:trail/*-{{suffix}}",),  # the audit layer's trail (trail-<suffix>)
    "cloudfront": (
        f"arn:{_P}:cloudfront::{_A}:distribution/*",
        f"arn:{_P}:cloudfront::{_A}:function/*-{{suffix}}",
        f"arn:{_P}:cloudfront::{_A}:cache-policy/*",
        f"arn:{_P}:cloudfront::{_A}:origin-access-control/*",
    ),
    # target tracking policies create alarms TargetTracking-<resource id>-AlarmHigh-<uuid> (the ECS
    # service's id is service/<cluster>/<service>, an Auto Scaling group's its name)
    "cloudwatch": (
        f"arn:{_P}:cloudwatch:{_R}:{_A}:alarm:*-{{suffix}}",
        f"arn:{_P}:cloudwatch:{_R}:{_A}:alarm:TargetTracking-*-{{suffix}}-Alarm*",
        f"arn:{_P}:cloudwatch::{_A}:dashboard/*-{{suffix}}",
    ),
    "codebuild": (f"arn:{_P}:codebuild:{_R}:{_A}:project/*-{{suffix}}",),
    # stacks generated before ECS-native blue/green hold CodeDeploy applications and deployment groups,
    # which the first update through the pipeline deletes
    "codedeploy": (
        f"arn:{_P}:codedeploy:{_R}:{_A}:application:*-{{suffix}}",
        f"arn:{_P}:codedeploy:{_R}:{_A}:deploymentgroup:*-{{suffix}}/*",
        f"arn:{_P}:codedeploy:{_R}:{_A}:deploymentconfig:*",
    ),
    "codeconnections": (f"arn:{_P}:codeconnections:{_R}:{_A}:connection/*",),
    "codestar-connections": (f"arn:{_P}:codestar-connections:{_R}:{_A}:connection/*",),
    "codepipeline": (
        f"arn:{_P}:codepipeline:{_R}:{_A}:*-{{suffix}}",
        f"arn:{_P}:codepipeline:{_R}:{_A}:*-{{suffix}}/*",
    ),
    "cognito-idp": (f"arn:{_P}:cognito-idp:{_R}:{_A}:userpool/*",),
    "ec2": (f"arn:{_P}:ec2:{_R}:{_A}:*", f"arn:{_P}:ec2:{_R}::image/*"),
    "ecr": (f"arn:{_P}:ecr:{_R}:{_A}:repository/*-{{suffix}}",),
    "ecs": (
        f"arn:{_P}:ecs:{_R}:{_A}:cluster/*-{{suffix}}",
        f"arn:{_P}:ecs:{_R}:{_A}:service/*-{{suffix}}/*",
        f"arn:{_P}:ecs:{_R}:{_A}:task-definition/*-{{suffix}}:*",
        f"arn:{_P}:ecs:{_R}:{_A}:capacity-provider/*-{{suffix}}",
        f"arn:{_P}:ecs:{_R}:{_A}:container-instance/*-{{suffix}}/*",
        f"arn:{_P}:ecs:{_R}:{_A}:task/*-{{suffix}}/*",
    ),
    "elasticache": (
        f"arn:{_P}:elasticache:{_R}:{_A}:replicationgroup:*-{{suffix}}",
        f"arn:{_P}:elasticache:{_R}:{_A}:cluster:*-{{suffix}}-*",
        f"arn:{_P}:elasticache:{_R}:{_A}:subnetgroup:*-{{suffix}}",
        f"arn:{_P}:elasticache:{_R}:{_A}:parametergroup:*",
        f"arn:{_P}:elasticache:{_R}:{_A}:user:*",
        f"arn:{_P}:elasticache:{_R}:{_A}:usergroup:*",
    ),
    "elasticfilesystem": (
        f"arn:{_P}:elasticfilesystem:{_R}:{_A}:file-system/*",
        f"arn:{_P}:elasticfilesystem:{_R}:{_A}:access-point/*",
    ),
    "elasticloadbalancing": (
        f"arn:{_P}:elasticloadbalancing:{_R}:{_A}:loadbalancer/app/*-{{suffix}}/*",
        f"arn:{_P}:elasticloadbalancing:{_R}:{_A}:listener/app/*-{{suffix}}/*",
        f"arn:{_P}:elasticloadbalancing:{_R}:{_A}:listener-rule/app/*-{{suffix}}/*",
        f"arn:{_P}:elasticloadbalancing:{_R}:{_A}:targetgroup/*-{{suffix}}/*",
    ),
    "events": (f"arn:{_P}:events:{_R}:{_A}:rule/*-{{suffix}}", f"arn:{_P}:events:{_R}:{_A}:rule/{{stack}}-*"),
    "kms": (f"arn:{_P}:kms:{_R}:{_A}:key/*",),
    "lambda": (
        f"arn:{_P}:lambda:{_R}:{_A}:function:cwsyn-*-{{suffix}}-*",
        f"arn:{_P}:lambda:{_R}:{_A}:layer:cwsyn-*-{{suffix}}-*",
        f"arn:{_P}:lambda:{_R}:{_A}:layer:cwsyn-*-{{suffix}}-*:*",
    ),
    # log groups end with the suffix, except the RDS ones (/aws/rds/instance/<identifier>/<log>) and the
    # canaries' Lambda groups (/aws/lambda/cwsyn-<canary>-<id>)
    "logs": (
        f"arn:{_P}:logs:{_R}:{_A}:log-group:*-{{suffix}}",
        f"arn:{_P}:logs:{_R}:{_A}:log-group:*-{{suffix}}:*",
        f"arn:{_P}:logs:{_R}:{_A}:log-group:/aws/rds/*-{{suffix}}/*",
        f"arn:{_P}:logs:{_R}:{_A}:log-group:/aws/lambda/cwsyn-*-{{suffix}}-*",
    ),
    "rds": (
        f"arn:{_P}:rds:{_R}:{_A}:db:*-{{suffix}}",
        f"arn:{_P}:rds:{_R}:{_A}:db:*-{{suffix}}-*",
        f"arn:{_P}:rds:{_R}:{_A}:cluster:*-{{suffix}}",
        f"arn:{_P}:rds:{_R}:{_A}:subgrp:*-{{suffix}}",
        f"arn:{_P}:rds:{_R}:{_A}:pg:{{stack_lower}}-*",
        f"arn:{_P}:rds:{_R}:{_A}:pg:*-{{suffix}}",
        f"arn:{_P}:rds:{_R}:{_A}:cluster-pg:{{stack_lower}}-*",
        f"arn:{_P}:rds:{_R}:{_A}:cluster-pg:*-{{suffix}}",
        f"arn:{_P}:rds:{_R}:{_A}:og:default:*",
        f"arn:{_P}:rds:{_R}:{_A}:db-proxy:*",
        f"arn:{_P}:rds:{_R}:{_A}:target-group:*",
        f"arn:{_P}:rds:{_R}:{_A}:secgrp:*",
    ),
    "s3": (f"arn:{_P}:s3:::*-{{suffix}}-{_A}-{_R}", f"arn:{_P}:s3:::*-{{suffix}}-{_A}-{_R}/*"),
    "secretsmanager": (f"arn:{_P}:secretsmanager:{_R}:{_A}:secret:*-{{suffix}}-??????",),
    "sns": (
        f"arn:{_P}:sns:{_R}:{_A}:*-{{suffix}}",
        f"arn:{_P}:sns:{_R}:{_A}:*-{{suffix}}:*",
    ),  # topics, and their subscriptions (<topic arn>:<id>)
    "ssm": (f"arn:{_P}:ssm:{_R}::parameter/aws/service/*",),
    "synthetics": (f"arn:{_P}:synthetics:{_R}:{_A}:canary:*-{{suffix}}",),
    "wafv2": (
        f"arn:{_P}:wafv2:{_R}:{_A}:regional/webacl/*-{{suffix}}/*",
        f"arn:{_P}:wafv2:{_R}:{_A}:regional/ipset/*-{{suffix}}/*",
        f"arn:{_P}:wafv2:{_R}:{_A}:regional/managedruleset/*/*",
        f"arn:{_P}:wafv2:{_R}:{_A}:global/webacl/*-{{suffix}}/*",
        f"arn:{_P}:wafv2:{_R}:{_A}:global/ipset/*-{{suffix}}/*",
        f"arn:{_P}:wafv2:{_R}:{_A}:global/managedruleset/*/*",
    ),
    "xray": (f"arn:{_P}:xray:{_R}:{_A}:group/*-{{suffix}}/*", f"arn:{_P}:xray:{_R}:{_A}:sampling-rule/*-{{suffix}}"),
}
# Services whose DEPLOY_SCOPES name resource types by AWS-generated ids (not by the application's names):
# wholly, and in part (PARTLY_ID_NAMED: the resource types in parentheses).
ID_NAMED = (
    "apigateway",
    "application-autoscaling",
    "codeconnections",
    "codestar-connections",
    "cognito-idp",
    "ec2",
    "elasticfilesystem",
    "kms",
)
PARTLY_ID_NAMED = {
    "backup": "backup plans",
    "cloudfront": "distributions, cache policies, origin access controls (functions by name)",
    "elasticache": "parameter groups, users and user groups (AWS's defaults)",
    "rds": "proxies and their target groups; the default option groups",
}

# Actions the stacks need that support only Resource "*" (AWS Service Authorization Reference: no
# resource type in the action's row). Reads: the Describe/List calls CloudFormation's handlers make.
STAR_ONLY_ACTIONS: dict[str, tuple[str, ...]] = {
    # reads with no resource-level permissions
    "application-autoscaling": (
        "DescribeScalableTargets",
        "DescribeScalingActivities",
        "DescribeScalingPolicies",
        "DescribeScheduledActions",
    ),
    "autoscaling": (
        "DescribeAutoScalingGroups",
        "DescribeLaunchConfigurations",
        "DescribeScalingActivities",
        "DescribeLifecycleHooks",
        "DescribeWarmPool",
    ),
    "backup": ("ListBackupPlans", "ListBackupVaults"),
    "cloudformation": ("ListStacks", "ListExports", "ListImports"),
    "cloudtrail": ("DescribeTrails", "ListTrails"),
    "cloudwatch": ("ListDashboards",),
    "codebuild": ("ListProjects",),
    "codeconnections": ("CreateConnection",),
    "codestar-connections": ("CreateConnection",),
    "cognito-idp": ("CreateUserPool", "DescribeUserPoolDomain", "ListUserPools"),
    "ec2": (
        "DescribeAccountAttributes",
        "DescribeAddresses",
        "DescribeAddressesAttribute",
        "DescribeAvailabilityZones",
        "DescribeFlowLogs",
        "DescribeImages",
        "DescribeInstanceTypes",
        "DescribeInstances",
        "DescribeInternetGateways",
        "DescribeLaunchTemplateVersions",
        "DescribeLaunchTemplates",
        "DescribeManagedPrefixLists",
        "DescribeNatGateways",
        "DescribeNetworkAcls",
        "DescribeNetworkInterfaces",
        "DescribePrefixLists",
        "DescribeRouteTables",
        "DescribeSecurityGroupRules",
        "DescribeSecurityGroups",
        "DescribeSubnets",
        "DescribeTags",
        "DescribeVpcEndpointServices",
        "DescribeVpcEndpoints",
        "DescribeVpcs",
    ),
    "ecr": ("DescribeRegistry", "GetAuthorizationToken"),
    "ecs": ("DeregisterTaskDefinition", "DescribeTaskDefinition", "ListClusters", "ListTaskDefinitions"),
    "elasticfilesystem": ("CreateFileSystem",),
    "elasticloadbalancing": (
        "DescribeListeners",
        "DescribeLoadBalancers",
        "DescribeLoadBalancerAttributes",
        "DescribeRules",
        "DescribeTags",
        "DescribeTargetGroups",
        "DescribeTargetGroupAttributes",
        "DescribeListenerAttributes",
        "SetWebACL",
    ),
    "kms": ("CreateKey", "ListAliases", "ListKeys"),
    "logs": (
        "CreateLogDelivery",
        "DeleteLogDelivery",
        "DescribeLogGroups",
        "DescribeResourcePolicies",
        "GetLogDelivery",
        "ListLogDeliveries",
        "PutResourcePolicy",
        "DeleteResourcePolicy",
        "UpdateLogDelivery",
    ),
    "cloudfront": (
        "CreateCachePolicy",
        "CreateDistribution",
        "CreateFunction",
        "CreateOriginAccessControl",
        "ListCachePolicies",
        "ListDistributions",
        "ListFunctions",
        "ListOriginAccessControls",
    ),
    "rds": ("CreateDBProxy", "DescribeDBEngineVersions", "DescribeOrderableDBInstanceOptions"),
    "s3": ("ListAllMyBuckets",),
    "secretsmanager": ("GetRandomPassword", "ListSecrets"),
    "sns": ("ListTopics",),
    "synthetics": ("CreateCanary", "DescribeCanaries", "DescribeRuntimeVersions"),
    "wafv2": ("ListWebACLs", "ListIPSets"),
    "xray": ("GetGroups", "GetSamplingRules"),
}


def deploy_scopes(cfg: AppConfig) -> dict[str, list[str]]:
    """DEPLOY_SCOPES with this profile's suffix and stack name filled in."""
    values = {"suffix": cfg.suffix, "stack": stack_name(cfg), "stack_lower": stack_name(cfg).lower()}

    def fill(pattern: str) -> str:
        for key, value in values.items():
            pattern = pattern.replace("{" + key + "}", value)
        return pattern

    return {service: [fill(pattern) for pattern in patterns] for service, patterns in DEPLOY_SCOPES.items()}


# IAM quota: a customer managed policy holds at most 6,144 characters, white space not counted (IAM user
# guide, "IAM and AWS STS quotas"); the statements are packed into as many as they need, each measured
# with the longest partition, region and an account id substituted, and a margin.
MANAGED_POLICY_CHARS = 6144
_MEASURE = {"${AWS::Partition}": "aws-iso-b", "${AWS::Region}": "ap-southeast-5", "${AWS::AccountId}": "123456789012"}


def policy_chars(statements: list) -> int:
    """Characters of a policy document holding `statements` once CloudFormation resolves its Subs."""

    def resolve(node):
        if isinstance(node, dict):
            if set(node) == {"Fn::Sub"} and isinstance(node["Fn::Sub"], str):
                text = node["Fn::Sub"]
                for key, value in _MEASURE.items():
                    text = text.replace(key, value)
                return text
            return {k: resolve(v) for k, v in node.items()}
        if isinstance(node, list):
            return [resolve(v) for v in node]
        return node

    document = encode_to_dict(PolicyDocument(Version="2012-10-17", Statement=statements))
    return len(json.dumps(resolve(document), separators=(",", ":")))


# checkov's IAM checks read any statement on "*" as unconstrained; these are the actions AWS offers only on "*"
DEPLOY_POLICY_SKIPS = (
    (
        "CKV_AWS_107",
        "the application's secrets by name (secret:*-<suffix>-??????); on * only GetRandomPassword and "
        "ListSecrets, which have no resource-level permissions",
    ),
    (
        "CKV_AWS_108",
        "reads are on the application's resources by name; on * only Describe/List calls with no resource-level "
        "permissions (STAR_ONLY_ACTIONS)",
    ),
    (
        "CKV_AWS_109",
        "resource policies of the application's own buckets, topics and keys; on * only CloudWatch Logs resource "
        "policies for vended log delivery, which have no resource-level permissions",
    ),
    (
        "CKV_AWS_110",
        "IAM only on the application's roles and policies; creating or changing a role requires the application's "
        "permissions boundary",
    ),
    (
        "CKV_AWS_111",
        "writes are on the application's resources by name or, for AWS-generated ids, this account and region; on "
        "* only the creates with no resource-level permissions (STAR_ONLY_ACTIONS)",
    ),
)


def _deploy_policies(b: LayerBuilder, pid: str, name: str) -> list:
    """The CloudFormation role's statements in managed policies `deploy-<pipeline>-<n>-<suffix>`."""
    chunks: list[list[Statement]] = [[]]
    for statement in _deploy_statements(b.cfg):
        if chunks[-1] and policy_chars([*chunks[-1], statement]) > MANAGED_POLICY_CHARS - 300:
            chunks.append([])
        chunks[-1].append(statement)
    policies = []
    for index, chunk in enumerate(chunks, start=1):
        policy = b.add(
            iam.ManagedPolicy(
                f"{pid}CloudFormationPolicy{index}",
                ManagedPolicyName=b.named("deploy", f"{name}-{index}"),
                Description=f"Pipeline {name}: what CloudFormation may do to the application's resources "
                f"({index}/{len(chunks)})",
                PolicyDocument=PolicyDocument(Version="2012-10-17", Statement=chunk),
            )
        )
        for check, why in DEPLOY_POLICY_SKIPS:
            b.skip_check(policy, check, why)
        b.suppress_guard(
            policy,
            "IAM_MANAGEDPOLICY_NO_STATEMENTS_WITH_FULL_ACCESS",
            "<service>:* only on the application's own ARNs (DEPLOY_SCOPES: names ending in the environment suffix, or "
            "this account's AWS-generated ids), never on *; IAM is listed action by action and roles need the "
            "permissions boundary",
        )
        policies.append(policy)
    return policies


def _deploy_statements(cfg: AppConfig) -> list[Statement]:
    """The CloudFormation service role's policy (module comment above)."""
    own, boundary = own_iam_arns(cfg), boundary_arn(cfg)
    statements = [
        Statement(
            Sid=logical_id(service, "own"),
            Effect=Allow,
            Action=[Action(service, "*")],
            Resource=[Sub(p) for p in patterns],
        )
        for service, patterns in sorted(deploy_scopes(cfg).items())
    ]
    statements.append(
        Statement(
            Sid="StarOnly",
            Effect=Allow,
            Action=[Action(service, name) for service, names in sorted(STAR_ONLY_ACTIONS.items()) for name in names],
            Resource=["*"],
        )
    )
    statements += _managed_master_secret(cfg)
    statements += [
        Statement(
            Sid="RolesCarryTheBoundary",
            Effect=Allow,
            Action=_actions(*BOUNDARY_CONDITIONED),
            Resource=own["role"],
            Condition=Condition(StringEquals("iam:PermissionsBoundary", boundary)),
        ),
        Statement(
            Sid="OwnIamResources",
            Effect=Allow,
            Action=_actions(*IAM_MANAGE_ACTIONS),
            Resource=[*own["role"], *own["instance-profile"], *own["policy"]],
        ),
        Statement(
            Sid="PassOwnRoles",
            Effect=Allow,
            Action=_actions("iam:PassRole"),
            Resource=own["role"],
            Condition=Condition(StringEquals("iam:PassedToService", list(PASSED_TO_SERVICES))),
        ),
        Statement(
            Sid="ServiceLinkedRoles",
            Effect=Allow,
            Action=_actions("iam:CreateServiceLinkedRole"),
            Resource=[iam_arn("role/aws-service-role/*")],
            Condition=Condition(StringEquals("iam:AWSServiceName", list(SERVICE_LINKED_ROLES))),
        ),
        # the boundary denies these too (its DenyChangingTheBoundary); said here as well so the role's own
        # policy never allows them, whatever the boundary becomes
        Statement(
            Sid="NeverTheBoundary",
            Effect=Deny,
            Action=_actions(*BOUNDARY_SELF_ACTIONS, "iam:DeleteRolePermissionsBoundary"),
            Resource=[boundary, *own["role"]],
        ),
    ]
    return statements


# An RDS-managed master password (database.managed_master_password): RDS creates the secret in Secrets
# Manager with the caller's permissions, i.e. this role's (RDS User Guide, "Password management with
# Amazon RDS and AWS Secrets Manager", "Permissions required for Secrets Manager integration": create,
# modify and restore need secretsmanager:CreateSecret and secretsmanager:TagResource, and kms:DescribeKey,
# kms:Decrypt, kms:GenerateDataKey on a customer managed key, which the kms scope above covers). RDS names
# the secret `rds!db-<uuid>` (an instance) or `rds!cluster-<uuid>` (a cluster), so its ARN cannot carry
# the application's name: the statement is held to this account, region and name prefix, and to the tag
# RDS writes on the secret naming its database (aws:rds:primaryDBInstanceArn / aws:rds:primaryDBClusterArn),
# which must be the application's database when the request carries it (...IfExists: whether RDS's
# CreateSecret call carries its aws: tags as request tags is not documented). RotateSecret (a
# RotateMasterUserPassword modify) is not granted: the templates never ask for it; RDS rotates on its own.
MANAGED_SECRET_ACTIONS = ("secretsmanager:CreateSecret", "secretsmanager:TagResource")


def managed_secret_shape(cfg: AppConfig) -> tuple[str, str, str]:
    """(secret name prefix, tag key naming the database, ARN pattern of the application's database)."""
    if cfg.database.is_aurora:
        return "rds!cluster-", "aws:rds:primaryDBClusterArn", f"arn:{_P}:rds:{_R}:{_A}:cluster:*-{cfg.suffix}"
    return "rds!db-", "aws:rds:primaryDBInstanceArn", f"arn:{_P}:rds:{_R}:{_A}:db:*-{cfg.suffix}"


def _managed_master_secret(cfg: AppConfig) -> list[Statement]:
    if cfg.database is None or not cfg.database.managed_master_password:
        return []
    prefix, tag, database = managed_secret_shape(cfg)
    return [
        Statement(
            Sid="RdsManagedMasterSecret",
            Effect=Allow,
            Action=_actions(*MANAGED_SECRET_ACTIONS),
            Resource=[Sub(f"arn:{_P}:secretsmanager:{_R}:{_A}:secret:{prefix}*")],
            Condition=Condition(StringLikeIfExists(f"aws:RequestTag/{tag}", Sub(database))),
        )
    ]


def _actions(*names: str) -> list[Action]:
    """ "s3:GetObject" -> awacs Action."""
    return [Action(*name.split(":", 1)) for name in names]


def _role(
    b: LayerBuilder,
    title: str,
    kind: str,
    qualifier: str | None,
    service: str,
    description: str,
    statements: list[Statement],
) -> iam.Role:
    return b.add(
        iam.Role(
            title,
            RoleName=b.named(kind, qualifier),
            Description=description,
            AssumeRolePolicyDocument=trust_policy(service),
            Policies=[
                iam.Policy(
                    PolicyName="least-privilege",
                    PolicyDocument=PolicyDocument(Version="2012-10-17", Statement=statements),
                )
            ],
            Tags=b.tags(kind, qualifier),
        )
    )


def _stack_arns(cfg: AppConfig) -> list:
    """The root stack and its nested stacks (named <root>-<Layer>Stack-<random>)."""
    return [
        Sub(f"arn:${{AWS::Partition}}:cloudformation:${{AWS::Region}}:${{AWS::AccountId}}:stack/{name}/*")
        for name in (stack_name(cfg), f"{stack_name(cfg)}-*")
    ]


# ------------------------------------------------------------------ artifact bucket


def _artifact_bucket(b: LayerBuilder, key_arn) -> s3.Bucket:
    """Pipeline artifacts, the uploaded templates and the change-set reviews: KMS, private, TLS only."""
    bucket = b.add(
        s3.Bucket(
            "ArtifactBucket",
            BucketName=Sub(f"{b.named('pipeline-artifacts')}-${{AWS::AccountId}}-${{AWS::Region}}"),
            BucketEncryption=s3.BucketEncryption(
                ServerSideEncryptionConfiguration=[
                    s3.ServerSideEncryptionRule(
                        ServerSideEncryptionByDefault=s3.ServerSideEncryptionByDefault(
                            SSEAlgorithm="aws:kms", KMSMasterKeyID=key_arn
                        ),
                        BucketKeyEnabled=True,
                    )
                ]
            ),
            PublicAccessBlockConfiguration=s3.PublicAccessBlockConfiguration(
                BlockPublicAcls=True, BlockPublicPolicy=True, IgnorePublicAcls=True, RestrictPublicBuckets=True
            ),
            OwnershipControls=s3.OwnershipControls(
                Rules=[s3.OwnershipControlsRule(ObjectOwnership="BucketOwnerEnforced")]
            ),
            VersioningConfiguration=s3.VersioningConfiguration(Status="Enabled"),
            LifecycleConfiguration=s3.LifecycleConfiguration(
                Rules=[
                    s3.LifecycleRule(
                        Id="expire-artifacts", Status="Enabled", ExpirationInDays=b.cfg.cicd.artifact_expiration_days
                    ),
                    s3.LifecycleRule(
                        Id="abort-incomplete-uploads",
                        Status="Enabled",
                        AbortIncompleteMultipartUpload=s3.AbortIncompleteMultipartUpload(DaysAfterInitiation=7),
                    ),
                    s3.LifecycleRule(
                        Id="expire-old-versions",
                        Status="Enabled",
                        NoncurrentVersionExpiration=s3.NoncurrentVersionExpiration(NoncurrentDays=7),
                    ),
                ]
            ),
            Tags=b.tags("pipeline-artifacts"),
        )
    )
    b.skip_check(
        bucket,
        "CKV_AWS_18",
        "pipeline artifacts are written and read only by the pipeline's own roles, whose calls CloudTrail records; "
        "server access logs would add a log bucket per pipeline",
    )
    b.tls_only_bucket_policy(bucket)
    b.output(
        "ArtifactBucketName",
        Ref(bucket),
        "Bucket of the pipeline artifacts, uploaded templates (templates/) and change-set reviews (reviews/)",
    )
    return bucket


# ------------------------------------------------------------------ CodeBuild


def _log_group(b: LayerBuilder, title: str, qualifier: str, key_arn) -> logs.LogGroup:
    return b.log_group(title, f"/aws/codebuild/{b.named('build', qualifier)}", key_arn, b.tags("build-logs", qualifier))


def _log_statements(group: logs.LogGroup) -> list[Statement]:
    return [
        Statement(
            Effect=Allow, Action=_actions("logs:CreateLogStream", "logs:PutLogEvents"), Resource=[GetAtt(group, "Arn")]
        )
    ]


def _artifact_statements(bucket, key_arn, *, write: bool) -> list[Statement]:
    objects = Join("", [GetAtt(bucket, "Arn"), "/*"])
    s3_actions = ["s3:GetObject", "s3:GetObjectVersion", *(["s3:PutObject"] if write else [])]
    return [
        Statement(Effect=Allow, Action=_actions(*s3_actions), Resource=[objects]),
        Statement(
            Effect=Allow, Action=_actions("s3:GetBucketLocation", "s3:ListBucket"), Resource=[GetAtt(bucket, "Arn")]
        ),
        Statement(
            Effect=Allow, Action=_actions("kms:Decrypt", "kms:GenerateDataKey", "kms:DescribeKey"), Resource=[key_arn]
        ),
    ]


def _project(
    b: LayerBuilder,
    title: str,
    qualifier: str,
    description: str,
    key_arn,
    role,
    group,
    buildspec: str,
    variables: dict,
    *,
    privileged: bool = False,
) -> codebuild.Project:
    project = b.add(
        codebuild.Project(
            title,
            Name=b.named("build", qualifier),
            Description=description,
            ServiceRole=GetAtt(role, "Arn"),
            EncryptionKey=key_arn,
            Artifacts=codebuild.Artifacts(Type="CODEPIPELINE"),
            Source=codebuild.Source(Type="CODEPIPELINE", BuildSpec=buildspec),
            Environment=codebuild.Environment(
                ComputeType=b.cfg.cicd.build_compute_type,
                Image=CODEBUILD_IMAGE,
                Type="LINUX_CONTAINER",
                PrivilegedMode=privileged,
                EnvironmentVariables=[
                    codebuild.EnvironmentVariable(Name=k, Value=v, Type="PLAINTEXT")
                    for k, v in sorted(variables.items())
                ],
            ),
            LogsConfig=codebuild.LogsConfig(
                CloudWatchLogs=codebuild.CloudWatchLogs(Status="ENABLED", GroupName=Ref(group))
            ),
            TimeoutInMinutes=30,
            Tags=b.tags("build", qualifier),
        )
    )
    return project


def _project_arn(b: LayerBuilder, qualifier: str):
    return Sub(
        f"arn:${{AWS::Partition}}:codebuild:${{AWS::Region}}:${{AWS::AccountId}}:project/{b.named('build', qualifier)}"
    )


def _buildspec(document: dict) -> str:
    """An inline buildspec, rendered as JSON (YAML's superset) so it is byte-stable."""
    return json.dumps(document, indent=2, sort_keys=False)


# ------------------------------------------------------------------ sources


def _source_action(name: str, source, artifact: str, connection_arn, repository, branch) -> cp.Actions:
    if source.provider == "codecommit":
        return cp.Actions(
            Name=name,
            ActionTypeId=cp.ActionTypeId(Category="Source", Owner="AWS", Provider="CodeCommit", Version="1"),
            Configuration={
                "RepositoryName": repository,
                "BranchName": branch,
                "PollForSourceChanges": "false",
                "OutputArtifactFormat": "CODE_ZIP",
            },
            OutputArtifacts=[cp.OutputArtifacts(Name=artifact)],
            RunOrder=1,
        )
    return cp.Actions(
        Name=name,
        ActionTypeId=cp.ActionTypeId(Category="Source", Owner="AWS", Provider="CodeStarSourceConnection", Version="1"),
        Configuration={
            "ConnectionArn": connection_arn,
            "FullRepositoryId": repository,
            "BranchName": branch,
            "DetectChanges": "true",
            "OutputArtifactFormat": "CODE_ZIP",
        },
        OutputArtifacts=[cp.OutputArtifacts(Name=artifact)],
        RunOrder=1,
    )


def _source_statements(sources, connection_arn) -> list[Statement]:
    statements = []
    if any(s.provider == "github" for s in sources):
        statements.append(
            Statement(
                Effect=Allow,
                Action=_actions("codestar-connections:UseConnection", "codeconnections:UseConnection"),
                Resource=[connection_arn],
            )
        )
    for source in sources:
        if source.provider == "codecommit":
            statements.append(
                Statement(
                    Effect=Allow,
                    Action=_actions(
                        "codecommit:GetBranch",
                        "codecommit:GetCommit",
                        "codecommit:UploadArchive",
                        "codecommit:GetUploadArchiveStatus",
                    ),
                    Resource=[
                        Sub(
                            f"arn:${{AWS::Partition}}:codecommit:${{AWS::Region}}:${{AWS::AccountId}}:{source.repository}"
                        )
                    ],
                )
            )
    return statements


def _repository_knobs(b: LayerBuilder, prefix: str, label: str, source, key: str) -> tuple:
    """`key`: the params-file key of the source (cicd.pipelines.<name>.source)."""
    repository = b.knob(
        f"{prefix}Repository",
        "Pipelines",
        f"{label} repository",
        f"{label}: owner/repo on GitHub, or the CodeCommit repository name",
        source.repository,
        key=f"{key}.repository",
        AllowedPattern=r"^[\w.-]+(/[\w.-]+)?$",
        ConstraintDescription="owner/repo or a repository name",
    )
    branch = b.knob(
        f"{prefix}Branch",
        "Pipelines",
        f"{label} branch",
        f"{label}: branch whose pushes start the pipeline",
        source.branch,
        key=f"{key}.branch",
        AllowedPattern=r"^[\w./-]+$",
        ConstraintDescription="a branch name",
    )
    return Ref(repository), Ref(branch)


# ------------------------------------------------------------------ backend pipeline


IMAGE_TAGS_FILE = "image-tags.json"  # {ImageTag parameter: tag} in the Images artifact, for PackageInfrastructure


def _image_buildspec(cfg: AppConfig) -> str:
    """Build and push one image per service (its folder's Dockerfile, else the repository root's),
    tagged with the commit; write imagedefinitions-<svc>.json for the ECS deploy action and
    image-tags.json ({ImageTag parameter: tag}), which PackageInfrastructure puts into the change
    set's template configuration.

    The repositories are IMMUTABLE and the tag is the commit, so a rebuild of the same commit (a
    stage retry, "Release change", an infrastructure-only change) would fail its push with
    ImageTagAlreadyExistsException. A tag already in the repository is therefore not built again:
    same commit, same tag, same image, and the change set sees no tag change (no needless rollout).
    Any DescribeImages error other than ImageNotFoundException fails the build."""
    commands = ['aws ecr get-login-password | docker login --username AWS --password-stdin "$REGISTRY"']
    build = []
    for svc_name in cfg.services:
        var = svc_name.upper().replace("-", "_")
        image = f'"$REGISTRY/$REPOSITORY_{var}:$IMAGE_TAG"'
        build += [
            f"CONTEXT=.; if [ -f {svc_name}/Dockerfile ]; then CONTEXT={svc_name}; fi",
            f'if aws ecr describe-images --repository-name "$REPOSITORY_{var}" --image-ids imageTag="$IMAGE_TAG" > '
            f"/dev/null 2> describe-{svc_name}.err; then BUILD_{var}=no;"
            f" elif grep -q ImageNotFoundException describe-{svc_name}.err; then BUILD_{var}=yes; else cat "
            f"describe-{svc_name}.err >&2; false; fi",
            f'if [ "$BUILD_{var}" = yes ]; then docker build -t {image} "$CONTEXT" && docker push {image};'
            f' else echo "{svc_name}: $REPOSITORY_{var}:$IMAGE_TAG is already in ECR (same commit): not built '
            'again"; fi',
            f'printf \'[{{"name":"%s","imageUri":"%s"}}]\' "$CONTAINER_{var}" {image} > '
            f"imagedefinitions-{svc_name}.json",
        ]
    tags = {logical_id("service", svc, "ImageTag"): "%s" for svc in cfg.services}
    values = " ".join(['"$IMAGE_TAG"'] * len(tags))
    build.append(f"printf '{json.dumps(tags, sort_keys=True)}\\n' {values} > {IMAGE_TAGS_FILE}")
    artifacts: dict = {"files": [*(f"imagedefinitions-{svc}.json" for svc in cfg.services), IMAGE_TAGS_FILE]}
    return _buildspec(
        {
            "version": 0.2,
            "env": {"shell": "bash", "exported-variables": ["IMAGE_TAG"]},
            "phases": {
                "pre_build": {"commands": ['IMAGE_TAG="${CODEBUILD_RESOLVED_SOURCE_VERSION:0:12}"', *commands]},
                "build": {"commands": build},
            },
            "artifacts": artifacts,
        }
    )


REVIEW_BUILDSPEC = {
    "version": 0.2,
    "env": {"shell": "bash", "exported-variables": ["REVIEW_URL"]},
    "phases": {
        "install": {"runtime-versions": {"python": "3.11"}, "commands": ["python -m pip install --quiet ."]},
        "build": {
            "commands": [
                # the HTML review page goes next to the templates (<prefix>/<app>/<env>/reviews/<name>.html);
                # stdout is a presigned link for the build log, which lasts only as long as this build's
                # credentials, so the approval links the page through the S3 console (sign-in, no expiry)
                'cfn-strata review "$APP" --env "$ENV" --change-set "$CHANGE_SET" -o html --html-file review.html'
                ' --upload-review --bucket "$CFN_STRATA_BUCKET" --prefix "$REVIEW_PREFIX" --review-name '
                '"$CODEBUILD_BUILD_NUMBER"',
                'KEY="$REVIEW_PREFIX/$APP/$ENV/reviews/$CODEBUILD_BUILD_NUMBER.html"',
                'REVIEW_URL="https://s3.console.aws.amazon.com/s3/object/$CFN_STRATA_BUCKET?region=$AWS_REGION&prefix=$KEY"',
            ]
        },
    },
}


@dataclass(frozen=True)
class PipelineShared:
    """What every pipeline of the layer uses, built once by build() and passed down read-only."""

    key_arn: Any  # KMS key of the artifacts and build logs
    bucket: s3.Bucket  # the artifact bucket
    connection_arn: Any  # the GitHub connection; None when no source is on GitHub
    cluster: Any = None  # backend pipelines: the ECS cluster of the services
    execution_role: Any = None  # backend pipelines: the task execution role the deploy passes to ECS
    infra_knobs: tuple | None = None  # (repository, branch) of cicd.infrastructure, when it is set


@dataclass(frozen=True)
class ServiceInputs:
    """One service as a backend pipeline sees it: the compute and security layers' outputs."""

    name: Any
    repository: Any
    repository_arn: Any
    container: Any
    task_role: Any


@dataclass(frozen=True)
class BackendContext:
    """One backend pipeline: what its steps share (the layer's PipelineShared, its source knobs and
    its services' inputs)."""

    b: LayerBuilder
    name: str
    pipeline: PipelineConfig
    shared: PipelineShared
    app_repo: Any
    app_branch: Any
    services: Mapping[str, ServiceInputs]

    @property
    def cfg(self) -> AppConfig:
        return self.b.cfg

    @property
    def pid(self) -> str:
        return logical_id("pipeline", self.name)

    @property
    def infra_artifact(self) -> str:
        """The artifact holding cfn-strata, its params and buildspec.yml."""
        return "InfraSource" if self.cfg.cicd.infrastructure else "AppSource"


@dataclass(frozen=True)
class BackendProjects:
    image: codebuild.Project
    package: codebuild.Project
    review: codebuild.Project


def _backend_pipeline(b: LayerBuilder, name: str, pipeline: PipelineConfig, shared: PipelineShared) -> None:
    ctx = _backend_context(b, name, pipeline, shared)
    projects = BackendProjects(image=_image_project(ctx), package=_package_project(ctx), review=_review_project(ctx))
    deploy_role = _deploy_role(ctx)
    pipeline_role = _backend_pipeline_role(ctx, deploy_role)
    stages = [
        cp.Stages(Name="Source", Actions=_backend_source_actions(ctx)),
        cp.Stages(Name="Build", Actions=_backend_build_actions(ctx, projects)),
        cp.Stages(Name="Infrastructure", Actions=_infrastructure_actions(ctx, projects, deploy_role)),
        cp.Stages(Name="Application", Actions=_application_actions(ctx)),
    ]
    _pipeline(b, name, pipeline_role, stages, shared.bucket, shared.key_arn)


def _backend_context(b: LayerBuilder, name: str, pipeline: PipelineConfig, shared: PipelineShared) -> BackendContext:
    key = f"cicd.pipelines.{name}.source"
    app_repo, app_branch = _repository_knobs(b, logical_id("pipeline", name), f"Pipeline {name}", pipeline.source, key)
    services = MappingProxyType({svc: _service_inputs(b, svc) for svc in b.cfg.services})
    return BackendContext(b, name, pipeline, shared, app_repo, app_branch, services)


def _service_inputs(b: LayerBuilder, svc: str) -> ServiceInputs:
    def wire(suffix: str, layer: str, description: str):
        output = logical_id("service", svc, suffix)
        return Ref(b.input(output, f"{layer}.{output}", description))

    return ServiceInputs(
        name=wire("Name", "compute", f"ECS service name of {svc}"),
        repository=wire("RepositoryName", "compute", f"ECR repository of {svc}"),
        repository_arn=wire("RepositoryArn", "compute", f"ECR repository ARN of {svc}"),
        container=wire("ContainerName", "compute", f"Application container of {svc}"),
        task_role=wire("TaskRoleArn", "security", f"Task role of {svc} (the deploy passes it to ECS)"),
    )


def _image_project(ctx: BackendContext) -> codebuild.Project:
    """Build and push the service images (privileged: docker)."""
    b, name, pid, key_arn = ctx.b, ctx.name, ctx.pid, ctx.shared.key_arn
    group = _log_group(b, f"{pid}ImageBuildLogGroup", f"{name}-images", key_arn)
    push_actions = _actions(
        "ecr:BatchCheckLayerAvailability",
        "ecr:InitiateLayerUpload",
        "ecr:UploadLayerPart",
        "ecr:CompleteLayerUpload",
        "ecr:PutImage",
        "ecr:BatchGetImage",
        "ecr:GetDownloadUrlForLayer",
        "ecr:DescribeImages",
    )
    statements = [
        *_log_statements(group),
        *_artifact_statements(ctx.shared.bucket, key_arn, write=True),
        Statement(Effect=Allow, Action=_actions("ecr:GetAuthorizationToken"), Resource=["*"]),
        # DescribeImages: is this commit's tag already pushed (then the build skips it)
        Statement(Effect=Allow, Action=push_actions, Resource=[svc.repository_arn for svc in ctx.services.values()]),
    ]
    role = _role(
        b,
        f"{pid}ImageBuildRole",
        "build-role",
        f"{name}-images",
        "codebuild.amazonaws.com",
        f"Pipeline {name}: build and push the service images",
        statements,
    )
    variables = {"REGISTRY": Sub("${AWS::AccountId}.dkr.ecr.${AWS::Region}.amazonaws.com")}
    for svc, inputs in ctx.services.items():
        var = svc.upper().replace("-", "_")
        variables |= {f"REPOSITORY_{var}": inputs.repository, f"CONTAINER_{var}": inputs.container}
    return _project(
        b,
        f"{pid}ImageBuild",
        f"{name}-images",
        f"Pipeline {name}: build, tag with the commit and push the images to ECR",
        key_arn,
        role,
        group,
        _image_buildspec(ctx.cfg),
        variables,
        privileged=True,
    )


def _infra_variables(ctx: BackendContext) -> dict:
    cfg = ctx.cfg
    return {
        "APP": cfg.application,
        "ENV": cfg.environment.name,
        "CFN_STRATA_BUCKET": Ref(ctx.shared.bucket),
        "CFN_STRATA_PREFIX": TEMPLATE_PREFIX,
    }


def _package_project(ctx: BackendContext) -> codebuild.Project:
    """The infrastructure repository's buildspec.yml: generate, lint and upload the templates."""
    b, name, pid, key_arn, bucket = ctx.b, ctx.name, ctx.pid, ctx.shared.key_arn, ctx.shared.bucket
    group = _log_group(b, f"{pid}PackageLogGroup", f"{name}-package", key_arn)
    statements = [*_log_statements(group), *_artifact_statements(bucket, key_arn, write=True)]
    if needs_global_stack(ctx.cfg):
        # `cfn-strata upload` reads the us-east-1 global stack's outputs (the CloudFront web ACL's
        # ARN) into the template configuration: DescribeStacks on that stack only. The pipeline does
        # not deploy it (README, departures); `cfn-strata deploy` does.
        global_stack = f"{GLOBAL_REGION}:${{AWS::AccountId}}:stack/{stack_name(ctx.cfg)}-global/*"
        statements.append(
            Statement(
                Effect=Allow,
                Action=_actions("cloudformation:DescribeStacks"),
                Resource=[Sub(f"arn:${{AWS::Partition}}:cloudformation:{global_stack}")],
            )
        )
    role = _role(
        b,
        f"{pid}PackageRole",
        "build-role",
        f"{name}-package",
        "codebuild.amazonaws.com",
        f"Pipeline {name}: generate, lint and upload the templates",
        statements,
    )
    return _project(
        b,
        f"{pid}Package",
        f"{name}-package",
        f"Pipeline {name}: cfn-strata generate, lint and upload (buildspec.yml)",
        key_arn,
        role,
        group,
        "buildspec.yml",
        _infra_variables(ctx),
    )


def _review_project(ctx: BackendContext) -> codebuild.Project:
    """The HTML review page of the change set, which the approval links."""
    b, name, pid, key_arn, bucket = ctx.b, ctx.name, ctx.pid, ctx.shared.key_arn, ctx.shared.bucket
    group = _log_group(b, f"{pid}ReviewLogGroup", f"{name}-review", key_arn)
    describe = _actions("cloudformation:DescribeChangeSet", "cloudformation:DescribeStacks")
    role = _role(
        b,
        f"{pid}ReviewRole",
        "build-role",
        f"{name}-review",
        "codebuild.amazonaws.com",
        f"Pipeline {name}: write the HTML review page of the change set",
        [
            *_log_statements(group),
            *_artifact_statements(bucket, key_arn, write=True),
            Statement(Effect=Allow, Action=describe, Resource=_stack_arns(ctx.cfg)),
        ],
    )
    return _project(
        b,
        f"{pid}Review",
        f"{name}-review",
        f"Pipeline {name}: HTML review page of the change set before approval",
        key_arn,
        role,
        group,
        _buildspec(REVIEW_BUILDSPEC),
        _infra_variables(ctx) | {"CHANGE_SET": CHANGE_SET_NAME, "REVIEW_PREFIX": REVIEW_PREFIX},
    )


def _deploy_role(ctx: BackendContext) -> iam.Role:
    """The CloudFormation service role that executes the change set."""
    b, name = ctx.b, ctx.name
    policies = _deploy_policies(b, ctx.pid, name)
    return b.add(
        iam.Role(
            f"{ctx.pid}CloudFormationRole",
            RoleName=b.named("deploy-role", name),
            Description=f"Pipeline {name}: CloudFormation creates and updates the application's stacks",
            AssumeRolePolicyDocument=trust_policy("cloudformation.amazonaws.com"),
            ManagedPolicyArns=[Ref(policy) for policy in policies],
            Tags=b.tags("deploy-role", name),
        )
    )


def _backend_pipeline_role(ctx: BackendContext, deploy_role: iam.Role) -> iam.Role:
    b, name, shared, cfg = ctx.b, ctx.name, ctx.shared, ctx.cfg
    sources = [ctx.pipeline.source] + ([cfg.cicd.infrastructure] if cfg.cicd.infrastructure else [])
    projects = [f"{name}-images", f"{name}-package", f"{name}-review"]
    change_sets = _actions(
        "cloudformation:CreateChangeSet",
        "cloudformation:DescribeChangeSet",
        "cloudformation:ExecuteChangeSet",
        "cloudformation:DeleteChangeSet",
        "cloudformation:DescribeStacks",
    )
    statements = [
        *_artifact_statements(shared.bucket, shared.key_arn, write=True),
        *_source_statements(sources, shared.connection_arn),
        Statement(
            Effect=Allow,
            Action=_actions("codebuild:StartBuild", "codebuild:BatchGetBuilds"),
            Resource=[_project_arn(b, p) for p in projects],
        ),
        Statement(Effect=Allow, Action=change_sets, Resource=_stack_arns(cfg)),
        Statement(
            Effect=Allow,
            Action=_actions("iam:PassRole"),
            Resource=[GetAtt(deploy_role, "Arn")],
            Condition=Condition(StringEquals("iam:PassedToService", "cloudformation.amazonaws.com")),
        ),
    ]
    statements += _ecs_deploy_statements(b, shared.cluster, ctx.services, shared.execution_role)
    return _role(
        b,
        f"{ctx.pid}Role",
        "pipeline-role",
        name,
        "codepipeline.amazonaws.com",
        f"Pipeline {name}: run its actions",
        statements,
    )


def _backend_source_actions(ctx: BackendContext) -> list[cp.Actions]:
    connection_arn, infra = ctx.shared.connection_arn, ctx.cfg.cicd.infrastructure
    app = _source_action("AppSource", ctx.pipeline.source, "AppSource", connection_arn, ctx.app_repo, ctx.app_branch)
    actions = [app]
    if infra:
        infra_repo, infra_branch = ctx.shared.infra_knobs
        actions.append(_source_action("InfraSource", infra, "InfraSource", connection_arn, infra_repo, infra_branch))
    return actions


def _backend_build_actions(ctx: BackendContext, projects: BackendProjects) -> list[cp.Actions]:
    infra_artifact = ctx.infra_artifact
    return [
        cp.Actions(
            Name="BuildImages",
            ActionTypeId=_codebuild_type(),
            Configuration={"ProjectName": Ref(projects.image)},
            InputArtifacts=[cp.InputArtifacts(Name="AppSource")],
            OutputArtifacts=[cp.OutputArtifacts(Name="Images")],
            Namespace="Image",
            RunOrder=1,
        ),
        # After BuildImages: its Images artifact (image-tags.json, CODEBUILD_SRC_DIR_Images) gives the
        # tags this run built, which buildspec.yml writes into the template configuration, so the
        # change set sets every service's ImageTag and the services come up to their desired count.
        cp.Actions(
            Name="PackageInfrastructure",
            ActionTypeId=_codebuild_type(),
            Configuration={"ProjectName": Ref(projects.package), "PrimarySource": infra_artifact},
            InputArtifacts=[cp.InputArtifacts(Name=infra_artifact), cp.InputArtifacts(Name="Images")],
            OutputArtifacts=[cp.OutputArtifacts(Name="Infrastructure")],
            Namespace="Package",
            RunOrder=2,
        ),
    ]


def _infrastructure_actions(ctx: BackendContext, projects: BackendProjects, deploy_role: iam.Role) -> list[cp.Actions]:
    """Change set (CHANGE_SET_REPLACE) -> its HTML review -> manual approval linking it -> execute."""
    stack = stack_name(ctx.cfg)
    create = {
        "ActionMode": "CHANGE_SET_REPLACE",
        "StackName": stack,
        "ChangeSetName": CHANGE_SET_NAME,
        "Capabilities": ",".join(CAPABILITIES),
        "RoleArn": GetAtt(deploy_role, "Arn"),
        "TemplatePath": "Infrastructure::root.json",
        "TemplateConfiguration": "Infrastructure::template-configuration.json",
    }
    approval = (
        f"Review change set {CHANGE_SET_NAME} on stack {stack} (the link opens its HTML review page in the S3 console:"
        " data loss and high risks first, replacements, removals, IAM and security-group changes, drift);"
        " approve to execute it."
    )
    execute = {"ActionMode": "CHANGE_SET_EXECUTE", "StackName": stack, "ChangeSetName": CHANGE_SET_NAME}
    return [
        cp.Actions(
            Name="CreateChangeSet",
            ActionTypeId=_cloudformation_type(),
            Configuration=create,
            InputArtifacts=[cp.InputArtifacts(Name="Infrastructure")],
            RunOrder=1,
        ),
        cp.Actions(
            Name="ReviewChangeSet",
            ActionTypeId=_codebuild_type(),
            Configuration={"ProjectName": Ref(projects.review)},
            InputArtifacts=[cp.InputArtifacts(Name=ctx.infra_artifact)],
            Namespace="Review",
            RunOrder=2,
        ),
        cp.Actions(
            Name="Approve",
            ActionTypeId=cp.ActionTypeId(Category="Approval", Owner="AWS", Provider="Manual", Version="1"),
            Configuration={"CustomData": approval, "ExternalEntityLink": "#{Review.REVIEW_URL}"},
            RunOrder=3,
        ),
        cp.Actions(Name="ExecuteChangeSet", ActionTypeId=_cloudformation_type(), Configuration=execute, RunOrder=4),
    ]


def _application_actions(ctx: BackendContext) -> list[cp.Actions]:
    """The ECS standard deploy action per service (UpdateService with the new image)."""
    return [
        cp.Actions(
            Name=logical_id("deploy", svc),
            ActionTypeId=cp.ActionTypeId(Category="Deploy", Owner="AWS", Provider="ECS", Version="1"),
            Configuration={
                "ClusterName": ctx.shared.cluster,
                "ServiceName": ctx.services[svc].name,
                "FileName": f"imagedefinitions-{svc}.json",
                "DeploymentTimeout": str(_deploy_timeout(conf)),
            },
            InputArtifacts=[cp.InputArtifacts(Name="Images")],
            RunOrder=1,
        )
        for svc, conf in ctx.cfg.services.items()
    ]


def _codebuild_type() -> cp.ActionTypeId:
    return cp.ActionTypeId(Category="Build", Owner="AWS", Provider="CodeBuild", Version="1")


def _cloudformation_type() -> cp.ActionTypeId:
    return cp.ActionTypeId(Category="Deploy", Owner="AWS", Provider="CloudFormation", Version="1")


def _pipeline(b: LayerBuilder, name: str, role, stages: list, bucket, key_arn) -> cp.Pipeline:
    pipeline = b.add(
        cp.Pipeline(
            logical_id("pipeline", name),
            Name=b.named("pipeline", name),
            PipelineType="V2",
            ExecutionMode="QUEUED",
            RoleArn=GetAtt(role, "Arn"),
            ArtifactStore=cp.ArtifactStore(
                Type="S3", Location=Ref(bucket), EncryptionKey=cp.EncryptionKey(Id=key_arn, Type="KMS")
            ),
            Stages=stages,
            Tags=b.tags("pipeline", name),
        )
    )
    b.output(logical_id("pipeline", name, "Name"), Ref(pipeline), f"CodePipeline {name}", root=True)
    return pipeline


# ------------------------------------------------------------------ ECS deploy action


def _deploy_timeout(svc: ServiceConfig) -> int:
    """Minutes the ECS deploy action waits: 30 for a rolling service; for a blue/green one the time
    its tasks take to start plus its traffic shifting and bake time (the params model keeps that
    within the action's 60-minute maximum)."""
    if svc.deployment != "blue_green":
        return ROLLING_DEPLOY_MINUTES
    shifting = svc.traffic_shifting
    return min(
        PIPELINE_ECS_DEPLOY_MINUTES,
        max(ROLLING_DEPLOY_MINUTES, DEPLOY_START_MINUTES + shifting.shifting_minutes + shifting.bake_time_minutes),
    )


def _ecs_deploy_statements(
    b: LayerBuilder, cluster, services: Mapping[str, ServiceInputs], execution_role
) -> list[Statement]:
    """What the pipeline role needs to run the Amazon ECS standard deploy action on every service:
    the documented minimum (CodePipeline user guide, "Amazon Elastic Container Service deploy action
    reference", Service role permissions: DescribeTaskDefinition and RegisterTaskDefinition on *,
    DescribeServices and UpdateService on the services, TagResource on the task definitions it
    registers, iam:PassRole to ECS; and "Manage the CodePipeline service role": DescribeTasks and
    ListTasks, which the action calls while it waits for the deployment)."""
    partition_account = "arn:${AWS::Partition}:ecs:${AWS::Region}:${AWS::AccountId}"
    return [
        # No resource-level permissions: DescribeTaskDefinition has none; the documented minimum grants both on *.
        Statement(
            Sid="TaskDefinitions",
            Effect=Allow,
            Action=_actions("ecs:DescribeTaskDefinition", "ecs:RegisterTaskDefinition"),
            Resource=["*"],
        ),
        Statement(
            Sid="EcsServices",
            Effect=Allow,
            Action=_actions("ecs:DescribeServices", "ecs:UpdateService"),
            Resource=[
                Sub(f"{partition_account}:service/${{Cluster}}/${{Service}}", Cluster=cluster, Service=inputs.name)
                for inputs in services.values()
            ],
        ),
        Statement(
            Sid="EcsTasks",
            Effect=Allow,
            Action=_actions("ecs:DescribeTasks"),
            Resource=[Sub(f"{partition_account}:task/${{Cluster}}/*", Cluster=cluster)],
        ),
        # ListTasks authorizes against a container instance (ECS service authorization reference), which a
        # call listing a service's tasks does not name, and Fargate tasks have none: the guide grants it on *.
        Statement(Sid="EcsListTasks", Effect=Allow, Action=_actions("ecs:ListTasks"), Resource=["*"]),
        Statement(
            Sid="TagTaskDefinitions",
            Effect=Allow,
            Action=_actions("ecs:TagResource"),
            Resource=[Sub(f"{partition_account}:task-definition/{b.named('task', svc)}:*") for svc in services],
            Condition=Condition(StringEquals("ecs:CreateAction", "RegisterTaskDefinition")),
        ),
        Statement(
            Sid="PassTaskRoles",
            Effect=Allow,
            Action=_actions("iam:PassRole"),
            Resource=[execution_role, *[inputs.task_role for inputs in services.values()]],
            Condition=Condition(StringEquals("iam:PassedToService", ["ecs.amazonaws.com", "ecs-tasks.amazonaws.com"])),
        ),
    ]


# ------------------------------------------------------------------ frontend pipeline


@dataclass(frozen=True)
class FrontendTargets:
    """The SPA bucket and the CloudFront distribution the frontend pipelines deploy to (the edge
    layer's outputs, declared once, by the layer's first frontend pipeline)."""

    spa_bucket: Any
    distribution: Any


def _frontend_targets(b: LayerBuilder) -> FrontendTargets:
    return FrontendTargets(
        spa_bucket=Ref(b.input("SpaBucketName", "edge.SpaBucketName", "Bucket the SPA is deployed into")),
        distribution=Ref(b.input("DistributionId", "edge.DistributionId", "CloudFront distribution to invalidate")),
    )


def _frontend_pipeline(
    b: LayerBuilder, name: str, pipeline: PipelineConfig, shared: PipelineShared, targets: FrontendTargets
) -> None:
    pid = logical_id("pipeline", name)
    repo, branch = _repository_knobs(b, pid, f"Pipeline {name}", pipeline.source, f"cicd.pipelines.{name}.source")
    spa_project = _spa_project(b, name, pipeline, shared)
    invalidate_project = _invalidate_project(b, name, shared, targets)
    role = _frontend_pipeline_role(b, name, pipeline, shared, targets)
    source = _source_action("AppSource", pipeline.source, "AppSource", shared.connection_arn, repo, branch)
    build_spa = cp.Actions(
        Name="BuildSpa",
        ActionTypeId=_codebuild_type(),
        Configuration={"ProjectName": Ref(spa_project)},
        InputArtifacts=[cp.InputArtifacts(Name="AppSource")],
        OutputArtifacts=[cp.OutputArtifacts(Name="Spa")],
        RunOrder=1,
    )
    deploy_spa = cp.Actions(
        Name="DeploySpa",
        ActionTypeId=cp.ActionTypeId(Category="Deploy", Owner="AWS", Provider="S3", Version="1"),
        Configuration={"BucketName": targets.spa_bucket, "Extract": "true", "CacheControl": "public, max-age=60"},
        InputArtifacts=[cp.InputArtifacts(Name="Spa")],
        RunOrder=1,
    )
    invalidate = cp.Actions(
        Name="InvalidateCloudFront",
        ActionTypeId=_codebuild_type(),
        Configuration={"ProjectName": Ref(invalidate_project)},
        InputArtifacts=[cp.InputArtifacts(Name="Spa")],
        RunOrder=2,
    )
    stages = [
        cp.Stages(Name="Source", Actions=[source]),
        cp.Stages(Name="Build", Actions=[build_spa]),
        cp.Stages(Name="Deploy", Actions=[deploy_spa, invalidate]),
    ]
    _pipeline(b, name, role, stages, shared.bucket, shared.key_arn)


def _spa_project(b: LayerBuilder, name: str, pipeline: PipelineConfig, shared: PipelineShared) -> codebuild.Project:
    pid, key_arn = logical_id("pipeline", name), shared.key_arn
    group = _log_group(b, f"{pid}SpaBuildLogGroup", f"{name}-spa", key_arn)
    role = _role(
        b,
        f"{pid}SpaBuildRole",
        "build-role",
        f"{name}-spa",
        "codebuild.amazonaws.com",
        f"Pipeline {name}: build the SPA",
        [*_log_statements(group), *_artifact_statements(shared.bucket, key_arn, write=True)],
    )
    spec = {
        "version": 0.2,
        "phases": {
            "install": {"runtime-versions": {"nodejs": 20}, "commands": ["npm ci"]},
            "build": {"commands": ["npm test --if-present", "npm run build"]},
        },
        "artifacts": {"base-directory": pipeline.spa_build_dir, "files": ["**/*"]},
    }
    return _project(
        b,
        f"{pid}SpaBuild",
        f"{name}-spa",
        f"Pipeline {name}: test and build the SPA",
        key_arn,
        role,
        group,
        _buildspec(spec),
        {"NODE_ENV": "production"},
    )


def _invalidate_project(
    b: LayerBuilder, name: str, shared: PipelineShared, targets: FrontendTargets
) -> codebuild.Project:
    pid, key_arn = logical_id("pipeline", name), shared.key_arn
    group = _log_group(b, f"{pid}InvalidateLogGroup", f"{name}-invalidate", key_arn)
    distribution_arn = Sub(
        "arn:${AWS::Partition}:cloudfront::${AWS::AccountId}:distribution/${Id}", Id=targets.distribution
    )
    role = _role(
        b,
        f"{pid}InvalidateRole",
        "build-role",
        f"{name}-invalidate",
        "codebuild.amazonaws.com",
        f"Pipeline {name}: invalidate the CloudFront cache",
        [
            *_log_statements(group),
            *_artifact_statements(shared.bucket, key_arn, write=False),
            Statement(
                Effect=Allow,
                Action=_actions("cloudfront:CreateInvalidation", "cloudfront:GetInvalidation"),
                Resource=[distribution_arn],
            ),
        ],
    )
    command = 'aws cloudfront create-invalidation --distribution-id "$DISTRIBUTION_ID" --paths "/*"'
    spec = {"version": 0.2, "phases": {"build": {"commands": [command]}}}
    return _project(
        b,
        f"{pid}Invalidate",
        f"{name}-invalidate",
        f"Pipeline {name}: invalidate CloudFront after the deploy",
        key_arn,
        role,
        group,
        _buildspec(spec),
        {"DISTRIBUTION_ID": targets.distribution},
    )


def _frontend_pipeline_role(
    b: LayerBuilder, name: str, pipeline: PipelineConfig, shared: PipelineShared, targets: FrontendTargets
) -> iam.Role:
    spa_bucket = targets.spa_bucket
    statements = [
        *_artifact_statements(shared.bucket, shared.key_arn, write=True),
        *_source_statements([pipeline.source], shared.connection_arn),
        Statement(
            Effect=Allow,
            Action=_actions("codebuild:StartBuild", "codebuild:BatchGetBuilds"),
            Resource=[_project_arn(b, f"{name}-spa"), _project_arn(b, f"{name}-invalidate")],
        ),
        Statement(
            Effect=Allow,
            Action=_actions("s3:PutObject", "s3:PutObjectAcl"),
            Resource=[Sub("arn:${AWS::Partition}:s3:::${Bucket}/*", Bucket=spa_bucket)],
        ),
        Statement(
            Effect=Allow,
            Action=_actions("s3:ListBucket", "s3:GetBucketLocation"),
            Resource=[Sub("arn:${AWS::Partition}:s3:::${Bucket}", Bucket=spa_bucket)],
        ),
    ]
    return _role(
        b,
        f"{logical_id('pipeline', name)}Role",
        "pipeline-role",
        name,
        "codepipeline.amazonaws.com",
        f"Pipeline {name}: run its actions",
        statements,
    )


# ------------------------------------------------------------------ the layer


def build(cfg: AppConfig) -> Layer | None:
    cicd = cfg.cicd
    if not cicd.enabled or not cicd.pipelines:
        return None
    b = LayerBuilder(cfg, "cicd", "CodePipeline, CodeBuild, artifact bucket")
    key_arn = Ref(b.input("KmsKeyArn", "security.KmsKeyArn", "KMS key of the artifacts and build logs"))
    bucket = _artifact_bucket(b, key_arn)
    connection_arn = _connection_arn(b)
    cluster = execution_role = infra_knobs = None
    if any(p.kind == "backend" for p in cicd.pipelines.values()):
        cluster = Ref(b.input("ClusterName", "compute.ClusterName", "ECS cluster of the services"))
        description = "Task execution role (the deploy passes it to ECS)"
        execution_role = Ref(b.input("TaskExecutionRoleArn", "security.TaskExecutionRoleArn", description))
        if cicd.infrastructure:
            label = "Infrastructure (cfn-strata)"
            infra_knobs = _repository_knobs(b, "Infrastructure", label, cicd.infrastructure, "cicd.infrastructure")
    shared = PipelineShared(key_arn, bucket, connection_arn, cluster, execution_role, infra_knobs)
    targets: FrontendTargets | None = None
    for name, pipeline in cicd.pipelines.items():
        if pipeline.kind == "backend":
            _backend_pipeline(b, name, pipeline, shared)
        else:
            targets = targets or _frontend_targets(b)  # the first frontend pipeline declares the inputs
            _frontend_pipeline(b, name, pipeline, shared, targets)
    return b.build()


def _connection_arn(b: LayerBuilder):
    """The GitHub connection (the ConnectionArn knob, or one created when it is empty); None when no
    source is on GitHub."""
    cicd = b.cfg.cicd
    sources = [p.source for p in cicd.pipelines.values()] + ([cicd.infrastructure] if cicd.infrastructure else [])
    if not any(s.provider == "github" for s in sources):
        return None
    knob = b.knob(
        "ConnectionArn",
        "Pipelines",
        "CodeConnections connection ARN",
        "Connection to GitHub (Developer Tools > Connections); "
        "empty creates one that stays PENDING until its handshake is completed in the console",
        cicd.connection_arn,
        key="cicd.connection_arn",
        AllowedPattern=(
            r"^$|^arn:aws[a-z-]*:(codestar-connections|codeconnections):[a-z0-9-]+:\d{12}:connection/[0-9a-f-]{36}$"
        ),
        ConstraintDescription="empty, or a CodeConnections connection ARN",
    )
    b.template.add_condition("CreateConnection", Equals(Ref(knob), ""))
    connection = b.add(
        codeconnections.Connection(
            "GitHubConnection",
            Condition="CreateConnection",
            ConnectionName=b.named("github"),
            ProviderType="GitHub",
            Tags=b.tags("github"),
        ),
    )
    connection_arn = If("CreateConnection", GetAtt(connection, "ConnectionArn"), Ref(knob))
    description = "GitHub connection: complete its handshake in the console when it is PENDING"
    b.output("ConnectionArn", connection_arn, description, root=True)
    return connection_arn

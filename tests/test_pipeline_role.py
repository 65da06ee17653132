"""The pipeline's CloudFormation service role is not an administrator (issue 14).

From the generated templates of every profile with a backend pipeline, every resource the pipeline
deploys (the root and its nested stacks; the global and copy-region stacks are deployed by
`cfn-strata deploy`, not by the pipeline) is listed with the calls CloudFormation makes to create,
update, tag and delete it (NEEDS below) and the ARN those calls act on, built from the resource's own
name in the template. The role's policy (its managed policies, Fn::Sub resolved) must allow each call
on that ARN, and must not allow it on the same resource of another application (another suffix), so
the policy covers the application and nothing of another.

Whether an action supports resource-level permissions or only Resource "*" comes from the AWS Service
Authorization Reference as cfn-lint ships it (cfnlint/data/AdditionalSpecs/Policies.json). cfn-lint
1.51's provider schemas carry no `handlers` (it strips them), so the calls per type are listed here
from the CloudFormation resource reference and each service's API reference; a type the templates
gain without an entry in NEEDS fails test_every_deployed_type_is_listed.
"""

from __future__ import annotations

import functools
import json
import os
import re
from fnmatch import fnmatchcase

import cfnlint
import pytest

from templates import cicd
from templates.common import BOUNDARY_CONDITIONED, PASSED_TO_SERVICES, boundary_name
from tests.conftest import ALL_TARGETS, rendered

ACCOUNT = "123456789012"
OTHER_SUFFIX = "other-app-qa"

# Service Authorization Reference (as cfn-lint ships it): {service: {"Actions": {action lower: {"Resources": [...]}}}}
SAR = json.load(open(os.path.join(os.path.dirname(cfnlint.__file__), "data", "AdditionalSpecs", "Policies.json")))


def star_only(action: str) -> bool:
    service, name = action.split(":", 1)
    entry = SAR[service]["Actions"][name.lower()]
    return not entry.get("Resources")


# ------------------------------------------------------------------ what the pipeline deploys


def deployed(app: str, env: str) -> dict[str, dict]:
    """{file: template} of the stacks the pipeline's change set creates: the root and its nested stacks."""
    profile = rendered(app, env)
    files = [profile.manifest["root"]] + [
        s["file"] for s in profile.manifest["stacks"] if s.get("scope", "nested") == "nested"
    ]
    return {f: json.loads(profile.files[f]) for f in files}


def with_backend_pipeline() -> list[tuple[str, str]]:
    return [
        (a, e)
        for a, e in ALL_TARGETS
        if any(
            k.endswith("CloudFormationRole")
            for k in json.loads(rendered(a, e).files.get("cicd.json", b"{}") or b"{}").get("Resources", {})
        )
    ]


TARGETS = with_backend_pipeline()


@functools.cache
def policy(app: str, env: str) -> list[dict]:
    """The CloudFormation role's statements, every Fn::Sub resolved for this profile's region."""
    profile = rendered(app, env)
    cicd_doc = json.loads(profile.files["cicd.json"])
    (role_id,) = [k for k in cicd_doc["Resources"] if k.endswith("CloudFormationRole")]
    role = cicd_doc["Resources"][role_id]["Properties"]
    assert "Policies" not in role  # everything is in the attached managed policies
    statements = []
    for ref in role["ManagedPolicyArns"]:
        statements += cicd_doc["Resources"][ref["Ref"]]["Properties"]["PolicyDocument"]["Statement"]
    region = profile.manifest["region"]

    def resolve(node):
        if isinstance(node, dict) and set(node) == {"Fn::Sub"}:
            return (
                node["Fn::Sub"]
                .replace("${AWS::Partition}", "aws")
                .replace("${AWS::Region}", region)
                .replace("${AWS::AccountId}", ACCOUNT)
            )
        if isinstance(node, dict):
            return {k: resolve(v) for k, v in node.items()}
        if isinstance(node, list):
            return [resolve(v) for v in node]
        return node

    return resolve(statements)


def listed(value) -> list:
    return value if isinstance(value, list) else [value]


def _action_matches(patterns, action: str) -> bool:
    return any(fnmatchcase(action.lower(), p.lower()) for p in listed(patterns))


def _conditions_hold(statement: dict, context: dict) -> bool:
    """StringEquals/StringLike (and their Not and IfExists forms) as IAM evaluates them: a missing key
    fails the condition, except for the negated operators and ...IfExists."""
    for operator, pairs in statement.get("Condition", {}).items():
        if_exists = operator.endswith("IfExists")
        base = operator.removesuffix("IfExists")
        negated = base.startswith("StringNot")
        for key, expected in pairs.items():
            if key not in context:
                if if_exists or negated:
                    continue
                return False
            if base.endswith("Like"):
                found = any(fnmatchcase(context[key], pattern) for pattern in listed(expected))
            else:
                found = context[key] in listed(expected)
            if found == negated:
                return False
    return True


def allows(statements: list[dict], action: str, resource: str, context: dict | None = None) -> bool:
    """IAM's evaluation for one call: an explicit Deny wins, else some Allow must match action,
    resource and conditions."""
    context = context or {}
    relevant = [
        s
        for s in statements
        if _action_matches(s["Action"], action) and any(fnmatchcase(resource, p) for p in listed(s["Resource"]))
    ]
    if any(s["Effect"] == "Deny" and _conditions_hold(s, context) for s in relevant):
        return False
    return any(s["Effect"] == "Allow" and _conditions_hold(s, context) for s in relevant)


# ------------------------------------------------------------------ the calls per resource type
#
# type -> [(actions, ARN the actions act on)]. In the ARN: {region} {account}, {name} the resource's
# name property (NAME_PROPERTY), {stack} a CloudFormation-generated name in the root stack's nested
# stack, {suffix} the environment suffix. Ids AWS generates are written as fixed sample ids.

A = "arn:aws:{service}:{region}:{account}:"
NAME_PROPERTY = {
    "AWS::AutoScaling::AutoScalingGroup": "AutoScalingGroupName",
    "AWS::Backup::BackupVault": "BackupVaultName",
    "AWS::CloudFront::Function": "Name",
    "AWS::CloudWatch::Alarm": "AlarmName",
    "AWS::CloudWatch::Dashboard": "DashboardName",
    "AWS::CodeBuild::Project": "Name",
    "AWS::CodePipeline::Pipeline": "Name",
    "AWS::ECR::Repository": "RepositoryName",
    "AWS::ECS::CapacityProvider": "Name",
    "AWS::ECS::Cluster": "ClusterName",
    "AWS::ECS::Service": "ServiceName",
    "AWS::ECS::TaskDefinition": "Family",
    "AWS::ElastiCache::ReplicationGroup": "ReplicationGroupId",
    "AWS::ElastiCache::SubnetGroup": "CacheSubnetGroupName",
    "AWS::ElasticLoadBalancingV2::LoadBalancer": "Name",
    "AWS::ElasticLoadBalancingV2::TargetGroup": "Name",
    "AWS::IAM::Role": "RoleName",
    "AWS::IAM::InstanceProfile": "InstanceProfileName",
    "AWS::IAM::ManagedPolicy": "ManagedPolicyName",
    "AWS::Logs::LogGroup": "LogGroupName",
    "AWS::RDS::DBCluster": "DBClusterIdentifier",
    "AWS::RDS::DBInstance": "DBInstanceIdentifier",
    "AWS::RDS::DBSubnetGroup": "DBSubnetGroupName",
    "AWS::RDS::DBProxy": "DBProxyName",
    "AWS::S3::Bucket": "BucketName",
    "AWS::SNS::Topic": "TopicName",
    "AWS::SecretsManager::Secret": "Name",
    "AWS::Synthetics::Canary": "Name",
    "AWS::WAFv2::IPSet": "Name",
    "AWS::WAFv2::WebACL": "Name",
    "AWS::XRay::Group": "GroupName",
    "AWS::EC2::LaunchTemplate": "LaunchTemplateName",
    "AWS::EC2::SecurityGroup": "GroupName",
    "AWS::CloudTrail::Trail": "TrailName",
}
EC2 = "arn:aws:ec2:{region}:{account}:"
APIGW = "arn:aws:apigateway:{region}::"
NEEDS: dict[str, list[tuple[tuple[str, ...], str]]] = {
    "AWS::CloudFormation::Stack": [
        (
            (
                "cloudformation:CreateStack",
                "cloudformation:UpdateStack",
                "cloudformation:DeleteStack",
                "cloudformation:DescribeStacks",
                "cloudformation:DescribeStackEvents",
                "cloudformation:GetTemplate",
                "cloudformation:TagResource",
            ),
            A.replace("{service}", "cloudformation")
            + "stack/{stack}-NetworkStack-1A2B3C/0f0e0d0c-0000-1111-2222-333344445555",
        )
    ],
    "AWS::ApiGatewayV2::Api": [
        (
            ("apigateway:POST", "apigateway:GET", "apigateway:PATCH", "apigateway:PUT", "apigateway:DELETE"),
            APIGW + "/apis/a1b2c3d4e5",
        )
    ],
    "AWS::ApiGatewayV2::Integration": [
        (
            ("apigateway:POST", "apigateway:GET", "apigateway:PATCH", "apigateway:DELETE"),
            APIGW + "/apis/a1b2c3d4e5/integrations/abc123",
        )
    ],
    "AWS::ApiGatewayV2::Route": [
        (
            ("apigateway:POST", "apigateway:GET", "apigateway:PATCH", "apigateway:DELETE"),
            APIGW + "/apis/a1b2c3d4e5/routes/abc123",
        )
    ],
    "AWS::ApiGatewayV2::Stage": [
        (
            ("apigateway:POST", "apigateway:GET", "apigateway:PATCH", "apigateway:DELETE"),
            APIGW + "/apis/a1b2c3d4e5/stages/$default",
        )
    ],
    "AWS::ApiGatewayV2::VpcLink": [
        (("apigateway:POST", "apigateway:GET", "apigateway:PATCH", "apigateway:DELETE"), APIGW + "/vpclinks/abc123")
    ],
    "AWS::ApplicationAutoScaling::ScalableTarget": [
        (
            (
                "application-autoscaling:RegisterScalableTarget",
                "application-autoscaling:DeregisterScalableTarget",
                "application-autoscaling:DescribeScalableTargets",
                "application-autoscaling:TagResource",
                "application-autoscaling:UntagResource",
            ),
            A.replace("{service}", "application-autoscaling") + "scalable-target/0ec9aa3e1a1b4c5d",
        )
    ],
    "AWS::ApplicationAutoScaling::ScalingPolicy": [
        (
            (
                "application-autoscaling:PutScalingPolicy",
                "application-autoscaling:DeleteScalingPolicy",
                "application-autoscaling:DescribeScalingPolicies",
            ),
            A.replace("{service}", "application-autoscaling") + "scalable-target/0ec9aa3e1a1b4c5d",
        ),
        (
            ("cloudwatch:PutMetricAlarm", "cloudwatch:DeleteAlarms", "cloudwatch:DescribeAlarms"),
            A.replace("{service}", "cloudwatch")
            + "alarm:TargetTracking-service/ecs-cluster-{suffix}/ecs-service-api-{suffix}-AlarmHigh-"
            "1a2b3c4d-0000-1111-2222-333344445555",
        ),
    ],
    "AWS::AutoScaling::AutoScalingGroup": [
        (
            (
                "autoscaling:CreateAutoScalingGroup",
                "autoscaling:UpdateAutoScalingGroup",
                "autoscaling:DeleteAutoScalingGroup",
                "autoscaling:DescribeAutoScalingGroups",
                "autoscaling:CreateOrUpdateTags",
                "autoscaling:DeleteTags",
            ),
            A.replace("{service}", "autoscaling")
            + "autoScalingGroup:0f0e0d0c-0000-1111-2222-333344445555:autoScalingGroupName/{name}",
        )
    ],
    "AWS::Backup::BackupVault": [
        (
            (
                "backup:CreateBackupVault",
                "backup:DeleteBackupVault",
                "backup:DescribeBackupVault",
                "backup:TagResource",
                "backup:UntagResource",
                "backup:PutBackupVaultAccessPolicy",
                "backup:PutBackupVaultLockConfiguration",
            ),
            A.replace("{service}", "backup") + "backup-vault:{name}",
        )
    ],
    "AWS::Backup::BackupPlan": [
        (
            (
                "backup:CreateBackupPlan",
                "backup:UpdateBackupPlan",
                "backup:DeleteBackupPlan",
                "backup:GetBackupPlan",
                "backup:TagResource",
            ),
            A.replace("{service}", "backup") + "backup-plan:0f0e0d0c-0000-1111-2222-333344445555",
        )
    ],
    "AWS::Backup::BackupSelection": [
        (
            ("backup:CreateBackupSelection", "backup:DeleteBackupSelection", "backup:GetBackupSelection"),
            A.replace("{service}", "backup") + "backup-plan:0f0e0d0c-0000-1111-2222-333344445555",
        )
    ],
    # CloudTrail API reference (CreateTrail, UpdateTrail, StartLogging, PutEventSelectors, AddTags, ...);
    # DescribeTrails and ListTrails support no resource type
    "AWS::CloudTrail::Trail": [
        (
            (
                "cloudtrail:CreateTrail",
                "cloudtrail:UpdateTrail",
                "cloudtrail:DeleteTrail",
                "cloudtrail:GetTrail",
                "cloudtrail:GetTrailStatus",
                "cloudtrail:StartLogging",
                "cloudtrail:StopLogging",
                "cloudtrail:PutEventSelectors",
                "cloudtrail:GetEventSelectors",
                "cloudtrail:PutInsightSelectors",
                "cloudtrail:GetInsightSelectors",
                "cloudtrail:AddTags",
                "cloudtrail:RemoveTags",
                "cloudtrail:ListTags",
            ),
            A.replace("{service}", "cloudtrail") + "trail/{name}",
        ),
        (("cloudtrail:DescribeTrails", "cloudtrail:ListTrails"), "*"),
    ],
    "AWS::CloudFront::CachePolicy": [
        (("cloudfront:CreateCachePolicy",), "*"),
        (
            ("cloudfront:UpdateCachePolicy", "cloudfront:DeleteCachePolicy", "cloudfront:GetCachePolicy"),
            "arn:aws:cloudfront::{account}:cache-policy/0f0e0d0c-0000-1111-2222-333344445555",
        ),
    ],
    "AWS::CloudFront::Distribution": [
        (("cloudfront:CreateDistribution",), "*"),
        (
            (
                "cloudfront:UpdateDistribution",
                "cloudfront:DeleteDistribution",
                "cloudfront:GetDistribution",
                "cloudfront:TagResource",
                "cloudfront:UntagResource",
            ),
            "arn:aws:cloudfront::{account}:distribution/E1A2B3C4D5E6F7",
        ),
    ],
    "AWS::CloudFront::Function": [
        (("cloudfront:CreateFunction",), "*"),
        (
            (
                "cloudfront:UpdateFunction",
                "cloudfront:PublishFunction",
                "cloudfront:DeleteFunction",
                "cloudfront:DescribeFunction",
            ),
            "arn:aws:cloudfront::{account}:function/{name}",
        ),
    ],
    "AWS::CloudFront::OriginAccessControl": [
        (("cloudfront:CreateOriginAccessControl",), "*"),
        (
            (
                "cloudfront:UpdateOriginAccessControl",
                "cloudfront:DeleteOriginAccessControl",
                "cloudfront:GetOriginAccessControl",
            ),
            "arn:aws:cloudfront::{account}:origin-access-control/E1A2B3C4D5E6F7",
        ),
    ],
    "AWS::CloudWatch::Alarm": [
        (
            (
                "cloudwatch:PutMetricAlarm",
                "cloudwatch:DeleteAlarms",
                "cloudwatch:DescribeAlarms",
                "cloudwatch:TagResource",
                "cloudwatch:UntagResource",
            ),
            A.replace("{service}", "cloudwatch") + "alarm:{name}",
        )
    ],
    "AWS::CloudWatch::Dashboard": [
        (
            ("cloudwatch:PutDashboard", "cloudwatch:DeleteDashboards", "cloudwatch:GetDashboard"),
            "arn:aws:cloudwatch::{account}:dashboard/{name}",
        )
    ],
    "AWS::CodeBuild::Project": [
        (
            (
                "codebuild:CreateProject",
                "codebuild:UpdateProject",
                "codebuild:DeleteProject",
                "codebuild:BatchGetProjects",
            ),
            A.replace("{service}", "codebuild") + "project/{name}",
        )
    ],
    "AWS::CodeConnections::Connection": [
        (("codeconnections:CreateConnection",), "*"),
        (
            (
                "codeconnections:DeleteConnection",
                "codeconnections:GetConnection",
                "codeconnections:TagResource",
                "codeconnections:UntagResource",
            ),
            A.replace("{service}", "codeconnections") + "connection/0f0e0d0c-0000-1111-2222-333344445555",
        ),
    ],
    "AWS::CodePipeline::Pipeline": [
        (
            (
                "codepipeline:CreatePipeline",
                "codepipeline:UpdatePipeline",
                "codepipeline:DeletePipeline",
                "codepipeline:GetPipeline",
                "codepipeline:TagResource",
                "codepipeline:UntagResource",
            ),
            A.replace("{service}", "codepipeline") + "{name}",
        )
    ],
    "AWS::Cognito::UserPool": [
        (("cognito-idp:CreateUserPool",), "*"),
        (
            (
                "cognito-idp:UpdateUserPool",
                "cognito-idp:DeleteUserPool",
                "cognito-idp:DescribeUserPool",
                "cognito-idp:TagResource",
                "cognito-idp:SetUserPoolMfaConfig",
            ),
            A.replace("{service}", "cognito-idp") + "userpool/{region}_AbCdEfGhI",
        ),
    ],
    "AWS::Cognito::UserPoolClient": [
        (
            (
                "cognito-idp:CreateUserPoolClient",
                "cognito-idp:UpdateUserPoolClient",
                "cognito-idp:DeleteUserPoolClient",
                "cognito-idp:DescribeUserPoolClient",
            ),
            A.replace("{service}", "cognito-idp") + "userpool/{region}_AbCdEfGhI",
        )
    ],
    "AWS::Cognito::UserPoolDomain": [
        (
            (
                "cognito-idp:CreateUserPoolDomain",
                "cognito-idp:UpdateUserPoolDomain",
                "cognito-idp:DeleteUserPoolDomain",
                "cognito-idp:DescribeUserPoolDomain",
            ),
            A.replace("{service}", "cognito-idp") + "userpool/{region}_AbCdEfGhI",
        )
    ],
    "AWS::Cognito::UserPoolIdentityProvider": [
        (
            (
                "cognito-idp:CreateIdentityProvider",
                "cognito-idp:UpdateIdentityProvider",
                "cognito-idp:DeleteIdentityProvider",
                "cognito-idp:DescribeIdentityProvider",
            ),
            A.replace("{service}", "cognito-idp") + "userpool/{region}_AbCdEfGhI",
        )
    ],
    "AWS::EC2::EIP": [
        (
            ("ec2:AllocateAddress", "ec2:ReleaseAddress", "ec2:DescribeAddresses", "ec2:CreateTags", "ec2:DeleteTags"),
            EC2 + "elastic-ip/eipalloc-0123456789abcdef0",
        )
    ],
    "AWS::EC2::FlowLog": [
        (
            ("ec2:CreateFlowLogs", "ec2:DeleteFlowLogs", "ec2:DescribeFlowLogs", "ec2:CreateTags"),
            EC2 + "vpc-flow-log/fl-0123456789abcdef0",
        )
    ],
    "AWS::EC2::InternetGateway": [
        (
            (
                "ec2:CreateInternetGateway",
                "ec2:DeleteInternetGateway",
                "ec2:DescribeInternetGateways",
                "ec2:CreateTags",
                "ec2:AttachInternetGateway",
                "ec2:DetachInternetGateway",
            ),
            EC2 + "internet-gateway/igw-0123456789abcdef0",
        )
    ],
    "AWS::EC2::LaunchTemplate": [
        (
            (
                "ec2:CreateLaunchTemplate",
                "ec2:CreateLaunchTemplateVersion",
                "ec2:ModifyLaunchTemplate",
                "ec2:DeleteLaunchTemplate",
                "ec2:DescribeLaunchTemplates",
                "ec2:CreateTags",
            ),
            EC2 + "launch-template/lt-0123456789abcdef0",
        )
    ],
    "AWS::EC2::NatGateway": [
        (
            ("ec2:CreateNatGateway", "ec2:DeleteNatGateway", "ec2:DescribeNatGateways", "ec2:CreateTags"),
            EC2 + "natgateway/nat-0123456789abcdef0",
        )
    ],
    # EC2 API reference: CreateNetworkAcl acts on the ACL and its VPC; ReplaceNetworkAclAssociation (how
    # an association is made and, back to the VPC's default ACL, removed) on the ACL and the subnet
    "AWS::EC2::NetworkAcl": [
        (
            ("ec2:CreateNetworkAcl", "ec2:DeleteNetworkAcl", "ec2:CreateTags", "ec2:DeleteTags"),
            EC2 + "network-acl/acl-0123456789abcdef0",
        ),
        (("ec2:CreateNetworkAcl",), EC2 + "vpc/vpc-0123456789abcdef0"),
        (("ec2:DescribeNetworkAcls",), "*"),
    ],
    "AWS::EC2::NetworkAclEntry": [
        (
            ("ec2:CreateNetworkAclEntry", "ec2:ReplaceNetworkAclEntry", "ec2:DeleteNetworkAclEntry"),
            EC2 + "network-acl/acl-0123456789abcdef0",
        ),
        (("ec2:DescribeNetworkAcls",), "*"),
    ],
    "AWS::EC2::SubnetNetworkAclAssociation": [
        (("ec2:ReplaceNetworkAclAssociation",), EC2 + "network-acl/acl-0123456789abcdef0"),
        (("ec2:ReplaceNetworkAclAssociation",), EC2 + "subnet/subnet-0123456789abcdef0"),
        (("ec2:DescribeNetworkAcls",), "*"),
    ],
    "AWS::EC2::Route": [
        (
            ("ec2:CreateRoute", "ec2:ReplaceRoute", "ec2:DeleteRoute", "ec2:DescribeRouteTables"),
            EC2 + "route-table/rtb-0123456789abcdef0",
        )
    ],
    "AWS::EC2::RouteTable": [
        (
            (
                "ec2:CreateRouteTable",
                "ec2:DeleteRouteTable",
                "ec2:DescribeRouteTables",
                "ec2:CreateTags",
                "ec2:DeleteTags",
            ),
            EC2 + "route-table/rtb-0123456789abcdef0",
        )
    ],
    "AWS::EC2::SecurityGroup": [
        (
            (
                "ec2:CreateSecurityGroup",
                "ec2:DeleteSecurityGroup",
                "ec2:DescribeSecurityGroups",
                "ec2:AuthorizeSecurityGroupEgress",
                "ec2:RevokeSecurityGroupEgress",
                "ec2:CreateTags",
                "ec2:DeleteTags",
            ),
            EC2 + "security-group/sg-0123456789abcdef0",
        )
    ],
    "AWS::EC2::SecurityGroupEgress": [
        (
            ("ec2:AuthorizeSecurityGroupEgress", "ec2:RevokeSecurityGroupEgress", "ec2:DescribeSecurityGroupRules"),
            EC2 + "security-group/sg-0123456789abcdef0",
        )
    ],
    "AWS::EC2::SecurityGroupIngress": [
        (
            ("ec2:AuthorizeSecurityGroupIngress", "ec2:RevokeSecurityGroupIngress", "ec2:DescribeSecurityGroupRules"),
            EC2 + "security-group/sg-0123456789abcdef0",
        )
    ],
    "AWS::EC2::Subnet": [
        (
            (
                "ec2:CreateSubnet",
                "ec2:DeleteSubnet",
                "ec2:DescribeSubnets",
                "ec2:ModifySubnetAttribute",
                "ec2:CreateTags",
                "ec2:DeleteTags",
            ),
            EC2 + "subnet/subnet-0123456789abcdef0",
        )
    ],
    "AWS::EC2::SubnetRouteTableAssociation": [
        (
            ("ec2:AssociateRouteTable", "ec2:DisassociateRouteTable", "ec2:ReplaceRouteTableAssociation"),
            EC2 + "route-table/rtb-0123456789abcdef0",
        )
    ],
    "AWS::EC2::VPC": [
        (
            (
                "ec2:CreateVpc",
                "ec2:DeleteVpc",
                "ec2:DescribeVpcs",
                "ec2:ModifyVpcAttribute",
                "ec2:CreateTags",
                "ec2:DeleteTags",
            ),
            EC2 + "vpc/vpc-0123456789abcdef0",
        )
    ],
    "AWS::EC2::VPCEndpoint": [
        (
            (
                "ec2:CreateVpcEndpoint",
                "ec2:ModifyVpcEndpoint",
                "ec2:DeleteVpcEndpoints",
                "ec2:DescribeVpcEndpoints",
                "ec2:CreateTags",
            ),
            EC2 + "vpc-endpoint/vpce-0123456789abcdef0",
        )
    ],
    "AWS::EC2::VPCGatewayAttachment": [
        (
            ("ec2:AttachInternetGateway", "ec2:DetachInternetGateway", "ec2:DescribeInternetGateways"),
            EC2 + "internet-gateway/igw-0123456789abcdef0",
        )
    ],
    "AWS::ECR::Repository": [
        (
            (
                "ecr:CreateRepository",
                "ecr:DeleteRepository",
                "ecr:DescribeRepositories",
                "ecr:PutLifecyclePolicy",
                "ecr:PutImageScanningConfiguration",
                "ecr:PutImageTagMutability",
                "ecr:SetRepositoryPolicy",
                "ecr:TagResource",
                "ecr:UntagResource",
            ),
            A.replace("{service}", "ecr") + "repository/{name}",
        )
    ],
    "AWS::ECS::CapacityProvider": [
        (
            (
                "ecs:CreateCapacityProvider",
                "ecs:UpdateCapacityProvider",
                "ecs:DeleteCapacityProvider",
                "ecs:DescribeCapacityProviders",
                "ecs:TagResource",
            ),
            A.replace("{service}", "ecs") + "capacity-provider/{name}",
        )
    ],
    "AWS::ECS::Cluster": [
        (
            (
                "ecs:CreateCluster",
                "ecs:UpdateCluster",
                "ecs:UpdateClusterSettings",
                "ecs:DeleteCluster",
                "ecs:DescribeClusters",
                "ecs:TagResource",
                "ecs:UntagResource",
                "ecs:PutClusterCapacityProviders",
            ),
            A.replace("{service}", "ecs") + "cluster/{name}",
        )
    ],
    "AWS::ECS::ClusterCapacityProviderAssociations": [
        (
            ("ecs:PutClusterCapacityProviders", "ecs:DescribeClusters"),
            A.replace("{service}", "ecs") + "cluster/ecs-cluster-{suffix}",
        )
    ],
    "AWS::ECS::Service": [
        (
            (
                "ecs:CreateService",
                "ecs:UpdateService",
                "ecs:DeleteService",
                "ecs:DescribeServices",
                "ecs:TagResource",
                "ecs:UntagResource",
            ),
            A.replace("{service}", "ecs") + "service/ecs-cluster-{suffix}/{name}",
        )
    ],
    "AWS::ECS::TaskDefinition": [
        (
            (
                "ecs:RegisterTaskDefinition",
                "ecs:DeregisterTaskDefinition",
                "ecs:DescribeTaskDefinition",
                "ecs:TagResource",
                "ecs:UntagResource",
            ),
            A.replace("{service}", "ecs") + "task-definition/{name}:3",
        )
    ],
    "AWS::EFS::AccessPoint": [
        (
            (
                "elasticfilesystem:CreateAccessPoint",
                "elasticfilesystem:DeleteAccessPoint",
                "elasticfilesystem:DescribeAccessPoints",
                "elasticfilesystem:TagResource",
            ),
            A.replace("{service}", "elasticfilesystem") + "access-point/fsap-0123456789abcdef0",
        )
    ],
    "AWS::EFS::FileSystem": [
        (("elasticfilesystem:CreateFileSystem",), "*"),
        (
            (
                "elasticfilesystem:DeleteFileSystem",
                "elasticfilesystem:DescribeFileSystems",
                "elasticfilesystem:UpdateFileSystem",
                "elasticfilesystem:PutBackupPolicy",
                "elasticfilesystem:PutLifecycleConfiguration",
                "elasticfilesystem:PutFileSystemPolicy",
                "elasticfilesystem:TagResource",
            ),
            A.replace("{service}", "elasticfilesystem") + "file-system/fs-0123456789abcdef0",
        ),
    ],
    "AWS::EFS::MountTarget": [
        (
            (
                "elasticfilesystem:CreateMountTarget",
                "elasticfilesystem:DeleteMountTarget",
                "elasticfilesystem:DescribeMountTargets",
            ),
            A.replace("{service}", "elasticfilesystem") + "file-system/fs-0123456789abcdef0",
        )
    ],
    "AWS::ElastiCache::ReplicationGroup": [
        (
            (
                "elasticache:CreateReplicationGroup",
                "elasticache:ModifyReplicationGroup",
                "elasticache:DeleteReplicationGroup",
                "elasticache:DescribeReplicationGroups",
                "elasticache:AddTagsToResource",
                "elasticache:RemoveTagsFromResource",
            ),
            A.replace("{service}", "elasticache") + "replicationgroup:{name}",
        ),
        (("elasticache:CreateCacheCluster",), A.replace("{service}", "elasticache") + "cluster:{name}-001"),
    ],
    "AWS::ElastiCache::SubnetGroup": [
        (
            (
                "elasticache:CreateCacheSubnetGroup",
                "elasticache:ModifyCacheSubnetGroup",
                "elasticache:DeleteCacheSubnetGroup",
                "elasticache:DescribeCacheSubnetGroups",
                "elasticache:AddTagsToResource",
            ),
            A.replace("{service}", "elasticache") + "subnetgroup:{name}",
        )
    ],
    "AWS::ElasticLoadBalancingV2::Listener": [
        (
            (
                "elasticloadbalancing:CreateListener",
                "elasticloadbalancing:ModifyListener",
                "elasticloadbalancing:DeleteListener",
                "elasticloadbalancing:AddTags",
            ),
            A.replace("{service}", "elasticloadbalancing")
            + "listener/app/alb-{suffix}/0123456789abcdef/0123456789abcdef",
        )
    ],
    "AWS::ElasticLoadBalancingV2::ListenerRule": [
        (
            (
                "elasticloadbalancing:CreateRule",
                "elasticloadbalancing:ModifyRule",
                "elasticloadbalancing:DeleteRule",
                "elasticloadbalancing:AddTags",
            ),
            A.replace("{service}", "elasticloadbalancing")
            + "listener-rule/app/alb-{suffix}/0123456789abcdef/0123456789abcdef/0123456789abcdef",
        )
    ],
    "AWS::ElasticLoadBalancingV2::LoadBalancer": [
        (
            (
                "elasticloadbalancing:CreateLoadBalancer",
                "elasticloadbalancing:DeleteLoadBalancer",
                "elasticloadbalancing:ModifyLoadBalancerAttributes",
                "elasticloadbalancing:SetSecurityGroups",
                "elasticloadbalancing:SetSubnets",
                "elasticloadbalancing:AddTags",
                "elasticloadbalancing:RemoveTags",
            ),
            A.replace("{service}", "elasticloadbalancing") + "loadbalancer/app/{name}/0123456789abcdef",
        ),
        (("elasticloadbalancing:DescribeLoadBalancers", "elasticloadbalancing:DescribeLoadBalancerAttributes"), "*"),
    ],
    "AWS::ElasticLoadBalancingV2::TargetGroup": [
        (
            (
                "elasticloadbalancing:CreateTargetGroup",
                "elasticloadbalancing:ModifyTargetGroup",
                "elasticloadbalancing:ModifyTargetGroupAttributes",
                "elasticloadbalancing:DeleteTargetGroup",
                "elasticloadbalancing:AddTags",
            ),
            A.replace("{service}", "elasticloadbalancing") + "targetgroup/{name}/0123456789abcdef",
        ),
        (("elasticloadbalancing:DescribeTargetGroups",), "*"),
    ],
    "AWS::IAM::InstanceProfile": [
        (
            (
                "iam:CreateInstanceProfile",
                "iam:DeleteInstanceProfile",
                "iam:GetInstanceProfile",
                "iam:AddRoleToInstanceProfile",
                "iam:RemoveRoleFromInstanceProfile",
            ),
            "arn:aws:iam::{account}:instance-profile/{stack}-ComputeStack-1A2B3C-InstanceProfile-4D5E6F",
        )
    ],
    "AWS::IAM::ManagedPolicy": [
        (
            ("iam:CreatePolicy", "iam:GetPolicy", "iam:ListPolicyVersions", "iam:ListEntitiesForPolicy"),
            "arn:aws:iam::{account}:policy/{name}",
        )
    ],
    "AWS::IAM::Policy": [(("iam:GetRolePolicy",), "arn:aws:iam::{account}:role/ecs-task-api-{suffix}")],
    "AWS::IAM::Role": [
        (
            (
                "iam:GetRole",
                "iam:DeleteRole",
                "iam:UpdateRole",
                "iam:UpdateAssumeRolePolicy",
                "iam:TagRole",
                "iam:UntagRole",
                "iam:ListRolePolicies",
                "iam:ListAttachedRolePolicies",
                "iam:GetRolePolicy",
            ),
            "arn:aws:iam::{account}:role/{name}",
        )
    ],
    "AWS::KMS::Key": [
        (("kms:CreateKey",), "*"),
        (
            (
                "kms:DescribeKey",
                "kms:PutKeyPolicy",
                "kms:EnableKeyRotation",
                "kms:ScheduleKeyDeletion",
                "kms:TagResource",
                "kms:UntagResource",
                "kms:GetKeyPolicy",
                "kms:GetKeyRotationStatus",
                "kms:CreateGrant",
                "kms:Decrypt",
                "kms:GenerateDataKey",
            ),
            A.replace("{service}", "kms") + "key/0f0e0d0c-0000-1111-2222-333344445555",
        ),
    ],
    "AWS::Logs::LogGroup": [
        (
            (
                "logs:CreateLogGroup",
                "logs:DeleteLogGroup",
                "logs:PutRetentionPolicy",
                "logs:AssociateKmsKey",
                "logs:TagResource",
                "logs:UntagResource",
            ),
            A.replace("{service}", "logs") + "log-group:{name}",
        ),
        (("logs:DescribeLogGroups",), "*"),
    ],
    "AWS::RDS::DBCluster": [
        (
            (
                "rds:CreateDBCluster",
                "rds:ModifyDBCluster",
                "rds:DeleteDBCluster",
                "rds:DescribeDBClusters",
                "rds:AddTagsToResource",
                "rds:RemoveTagsFromResource",
            ),
            A.replace("{service}", "rds") + "cluster:{name}",
        )
    ],
    "AWS::RDS::DBClusterParameterGroup": [
        (
            (
                "rds:CreateDBClusterParameterGroup",
                "rds:ModifyDBClusterParameterGroup",
                "rds:DeleteDBClusterParameterGroup",
                "rds:DescribeDBClusterParameters",
                "rds:AddTagsToResource",
            ),
            A.replace("{service}", "rds")
            + "cluster-pg:{stack_lower}-datastack-1a2b3c-databaseclusterparametergroup-4d5e6f",
        )
    ],
    "AWS::RDS::DBInstance": [
        (
            (
                "rds:CreateDBInstance",
                "rds:ModifyDBInstance",
                "rds:DeleteDBInstance",
                "rds:DescribeDBInstances",
                "rds:AddTagsToResource",
                "rds:RemoveTagsFromResource",
                "rds:CreateDBInstanceReadReplica",
                "rds:RebootDBInstance",
            ),
            A.replace("{service}", "rds") + "db:{name}",
        )
    ],
    "AWS::RDS::DBParameterGroup": [
        (
            (
                "rds:CreateDBParameterGroup",
                "rds:ModifyDBParameterGroup",
                "rds:DeleteDBParameterGroup",
                "rds:DescribeDBParameters",
                "rds:AddTagsToResource",
            ),
            A.replace("{service}", "rds") + "pg:{stack_lower}-datastack-1a2b3c-databaseparametergroup-4d5e6f",
        )
    ],
    "AWS::RDS::DBProxy": [
        (("rds:CreateDBProxy",), "*"),
        (
            ("rds:ModifyDBProxy", "rds:DeleteDBProxy", "rds:AddTagsToResource"),
            A.replace("{service}", "rds") + "db-proxy:prx-0123456789abcdef0",
        ),
    ],
    "AWS::RDS::DBProxyTargetGroup": [
        (
            (
                "rds:RegisterDBProxyTargets",
                "rds:DeregisterDBProxyTargets",
                "rds:ModifyDBProxyTargetGroup",
                "rds:DescribeDBProxyTargets",
            ),
            A.replace("{service}", "rds") + "target-group:prx-tg-0123456789abcdef0",
        )
    ],
    "AWS::RDS::DBSubnetGroup": [
        (
            (
                "rds:CreateDBSubnetGroup",
                "rds:ModifyDBSubnetGroup",
                "rds:DeleteDBSubnetGroup",
                "rds:DescribeDBSubnetGroups",
                "rds:AddTagsToResource",
            ),
            A.replace("{service}", "rds") + "subgrp:{name}",
        )
    ],
    "AWS::S3::Bucket": [
        (
            (
                "s3:CreateBucket",
                "s3:DeleteBucket",
                "s3:PutEncryptionConfiguration",
                "s3:PutBucketPublicAccessBlock",
                "s3:PutBucketOwnershipControls",
                "s3:PutBucketVersioning",
                "s3:PutLifecycleConfiguration",
                "s3:PutBucketTagging",
                "s3:PutBucketLogging",
                "s3:GetBucketLocation",
            ),
            "arn:aws:s3:::{name}",
        )
    ],
    "AWS::S3::BucketPolicy": [
        (("s3:PutBucketPolicy", "s3:DeleteBucketPolicy", "s3:GetBucketPolicy"), "arn:aws:s3:::{bucket}")
    ],
    "AWS::SNS::Subscription": [
        (("sns:Subscribe", "sns:GetTopicAttributes"), A.replace("{service}", "sns") + "alarms-{suffix}"),
        (
            ("sns:Unsubscribe", "sns:GetSubscriptionAttributes", "sns:SetSubscriptionAttributes"),
            A.replace("{service}", "sns") + "alarms-{suffix}:0f0e0d0c-0000-1111-2222-333344445555",
        ),
    ],
    "AWS::SNS::Topic": [
        (
            (
                "sns:CreateTopic",
                "sns:DeleteTopic",
                "sns:GetTopicAttributes",
                "sns:SetTopicAttributes",
                "sns:TagResource",
                "sns:UntagResource",
            ),
            A.replace("{service}", "sns") + "{name}",
        )
    ],
    "AWS::SNS::TopicPolicy": [
        (("sns:SetTopicAttributes", "sns:GetTopicAttributes"), A.replace("{service}", "sns") + "alarms-{suffix}")
    ],
    "AWS::SecretsManager::Secret": [
        (
            (
                "secretsmanager:CreateSecret",
                "secretsmanager:UpdateSecret",
                "secretsmanager:DeleteSecret",
                "secretsmanager:DescribeSecret",
                "secretsmanager:PutSecretValue",
                "secretsmanager:GetSecretValue",
                "secretsmanager:TagResource",
                "secretsmanager:UntagResource",
            ),
            A.replace("{service}", "secretsmanager") + "secret:{name}-AbCdEf",
        ),
        (("secretsmanager:GetRandomPassword",), "*"),
    ],
    "AWS::SecretsManager::SecretTargetAttachment": [
        (
            ("secretsmanager:PutSecretValue", "secretsmanager:GetSecretValue", "secretsmanager:DescribeSecret"),
            A.replace("{service}", "secretsmanager") + "secret:db-credentials-{suffix}-AbCdEf",
        )
    ],
    "AWS::Synthetics::Canary": [
        (("synthetics:CreateCanary",), "*"),
        (
            (
                "synthetics:UpdateCanary",
                "synthetics:DeleteCanary",
                "synthetics:StartCanary",
                "synthetics:StopCanary",
                "synthetics:GetCanary",
                "synthetics:TagResource",
            ),
            A.replace("{service}", "synthetics") + "canary:{name}",
        ),
        (
            (
                "lambda:CreateFunction",
                "lambda:UpdateFunctionCode",
                "lambda:UpdateFunctionConfiguration",
                "lambda:DeleteFunction",
                "lambda:AddPermission",
                "lambda:GetFunction",
            ),
            A.replace("{service}", "lambda") + "function:cwsyn-{name}-0f0e0d0c-0000-1111-2222-333344445555",
        ),
        (
            ("lambda:PublishLayerVersion", "lambda:DeleteLayerVersion", "lambda:GetLayerVersion"),
            A.replace("{service}", "lambda") + "layer:cwsyn-{name}-0f0e0d0c-0000-1111-2222-333344445555:1",
        ),
    ],
    "AWS::WAFv2::IPSet": [
        (
            ("wafv2:CreateIPSet", "wafv2:UpdateIPSet", "wafv2:DeleteIPSet", "wafv2:GetIPSet", "wafv2:TagResource"),
            A.replace("{service}", "wafv2") + "{scope}/ipset/{name}/0f0e0d0c-0000-1111-2222-333344445555",
        )
    ],
    "AWS::WAFv2::WebACL": [
        (
            (
                "wafv2:CreateWebACL",
                "wafv2:UpdateWebACL",
                "wafv2:DeleteWebACL",
                "wafv2:GetWebACL",
                "wafv2:TagResource",
                "wafv2:PutLoggingConfiguration",
                "wafv2:DeleteLoggingConfiguration",
                "wafv2:GetLoggingConfiguration",
            ),
            A.replace("{service}", "wafv2") + "{scope}/webacl/{name}/0f0e0d0c-0000-1111-2222-333344445555",
        ),
        (
            ("wafv2:CreateWebACL", "wafv2:UpdateWebACL"),
            A.replace("{service}", "wafv2") + "{scope}/managedruleset/AWS/AWSManagedRulesCommonRuleSet",
        ),
    ],
    "AWS::WAFv2::LoggingConfiguration": [
        (
            ("wafv2:PutLoggingConfiguration", "wafv2:DeleteLoggingConfiguration", "wafv2:GetLoggingConfiguration"),
            A.replace("{service}", "wafv2")
            + "regional/webacl/waf-regional-{suffix}/0f0e0d0c-0000-1111-2222-333344445555",
        ),
        (
            (
                "logs:CreateLogDelivery",
                "logs:DeleteLogDelivery",
                "logs:PutResourcePolicy",
                "logs:DescribeResourcePolicies",
            ),
            "*",
        ),
    ],
    "AWS::WAFv2::WebACLAssociation": [
        (
            ("wafv2:AssociateWebACL", "wafv2:DisassociateWebACL", "wafv2:GetWebACLForResource"),
            A.replace("{service}", "wafv2")
            + "regional/webacl/waf-regional-{suffix}/0f0e0d0c-0000-1111-2222-333344445555",
        ),
        (("elasticloadbalancing:SetWebACL",), "*"),
    ],
    "AWS::XRay::Group": [
        (
            ("xray:CreateGroup", "xray:UpdateGroup", "xray:DeleteGroup", "xray:GetGroup", "xray:TagResource"),
            A.replace("{service}", "xray") + "group/{name}/0F0E0D0C",
        )
    ],
    "AWS::XRay::SamplingRule": [
        (
            ("xray:CreateSamplingRule", "xray:UpdateSamplingRule", "xray:DeleteSamplingRule", "xray:TagResource"),
            A.replace("{service}", "xray") + "sampling-rule/{rule}",
        )
    ],
}


def _name(resource: dict, type_: str, region: str) -> str | None:
    props = resource.get("Properties", {})
    value = props.get(NAME_PROPERTY.get(type_, ""))
    if isinstance(value, dict) and "Fn::Sub" in value:
        value = value["Fn::Sub"].replace("${AWS::AccountId}", ACCOUNT).replace("${AWS::Region}", region)
    return value if isinstance(value, str) else None


def calls(app: str, env: str, suffix: str | None = None) -> dict[str, list[tuple[str, str]]]:
    """{type: [(action, ARN), ...]} for every resource the pipeline deploys, ARNs from the resources'
    names (with `suffix` in place of the profile's, to stand for another application)."""
    profile = rendered(app, env)
    region, own = profile.manifest["region"], profile.cfg.suffix
    out: dict[str, list[tuple[str, str]]] = {}
    for doc in deployed(app, env).values():
        for logical, resource in doc["Resources"].items():
            type_ = resource["Type"]
            props = resource.get("Properties", {})
            values = {
                "region": region,
                "account": ACCOUNT,
                "suffix": own,
                "stack": profile.stack_name,
                "stack_lower": profile.stack_name.lower(),
                "name": _name(resource, type_, region) or f"{profile.stack_name}-{logical}-1A2B3C",
                "scope": "global" if props.get("Scope") == "CLOUDFRONT" else "regional",
                "bucket": f"bucket-{own}-{ACCOUNT}-{region}",
                "rule": props.get("SamplingRule", {}).get("RuleName", "") if type_ == "AWS::XRay::SamplingRule" else "",
            }
            for actions, arn in NEEDS.get(type_, []):
                resolved = arn
                for key, value in values.items():
                    resolved = resolved.replace("{" + key + "}", str(value))
                if suffix:
                    resolved = resolved.replace(own, suffix)
                out.setdefault(type_, []).extend((action, resolved) for action in actions)
    return out


# ------------------------------------------------------------------ tests


def test_the_profiles_with_a_backend_pipeline():
    assert TARGETS == [(a, e) for a, e in ALL_TARGETS if a != "platform-scale"]
    assert len(TARGETS) == 10


@pytest.mark.parametrize(("app", "env"), TARGETS)
def test_every_deployed_type_is_listed(app, env):
    types = {r["Type"] for doc in deployed(app, env).values() for r in doc["Resources"].values()}
    assert sorted(types - NEEDS.keys()) == []


# number of resource types each profile's pipeline deploys (root and nested stacks)
TYPES_PER_PROFILE = {
    ("ecs-ec2-api", "dev"): 52,
    ("ecs-ec2-api", "prod"): 55,
    ("mycandidate", "dev"): 66,
    ("mycandidate", "prod"): 66,
    ("product-catalog", "dev"): 48,
    ("product-catalog", "prod"): 51,
    ("product-management", "dev"): 59,
    ("product-management", "prod"): 62,
    # smart-task: RDS manages the master password (no SecretTargetAttachment; MANAGED_SECRET_CALLS below)
    ("smart-task", "dev"): 57,
    ("smart-task", "prod"): 62,
}


@pytest.mark.parametrize(("app", "env"), TARGETS)
def test_the_policy_covers_every_call_on_the_applications_resources(app, env):
    statements = policy(app, env)
    needed = calls(app, env)
    assert len(needed) == TYPES_PER_PROFILE[(app, env)]
    missing = []
    for type_, pairs in sorted(needed.items()):
        for action, arn in pairs:
            target = "*" if star_only(action) else arn
            if not allows(statements, action, target):
                missing.append((type_, action, target))
    assert missing == []


@pytest.mark.parametrize(("app", "env"), TARGETS)
def test_nothing_of_another_application(app, env):
    """The same calls on the same resources named with another application's suffix: every one whose
    ARN holds the name (not an AWS-generated id, not "*") is refused."""
    statements = policy(app, env)
    theirs = calls(app, env, suffix=OTHER_SUFFIX)
    ours = calls(app, env)
    named = 0
    for type_, pairs in theirs.items():
        for (action, arn), (_, own_arn) in zip(pairs, ours[type_], strict=True):
            if star_only(action) or arn == own_arn:
                continue  # "*" or an ARN without the name (AWS-generated id): ID_NAMED, README
            named += 1
            assert not allows(statements, action, arn), (type_, action, arn)
    assert named > 100


@pytest.mark.parametrize(("app", "env"), TARGETS)
def test_no_service_wide_action_on_every_resource_and_no_iam_star(app, env):
    statements = policy(app, env)
    for statement in statements:
        actions = listed(statement["Action"])
        assert "iam:*" not in actions and "*" not in actions
        if "*" in listed(statement["Resource"]):
            assert not [a for a in actions if a.endswith(":*")], statement
            # on "*" only actions that support no resource type (Service Authorization Reference)
            expanded = [
                f"{service}:{name}"
                for a in actions
                for service in [a.split(":")[0]]
                for name in SAR[service]["Actions"]
                if fnmatchcase(name, a.split(":")[1].lower())
            ]
            assert expanded and all(star_only(a) for a in expanded), [a for a in expanded if not star_only(a)]
        for resource in listed(statement["Resource"]):
            assert resource == "*" or resource.startswith("arn:aws:"), resource


@pytest.mark.parametrize(("app", "env"), TARGETS)
def test_roles_only_with_the_boundary_and_pass_role_only_for_its_own(app, env):
    statements = policy(app, env)
    cfg = rendered(app, env).cfg
    boundary = f"arn:aws:iam::{ACCOUNT}:policy/{boundary_name(cfg)}"
    assert boundary == f"arn:aws:iam::{ACCOUNT}:policy/permissions-boundary-{cfg.suffix}"
    role = f"arn:aws:iam::{ACCOUNT}:role/ecs-task-api-{cfg.suffix}"
    (conditioned,) = [s for s in statements if "iam:CreateRole" in listed(s["Action"])]
    assert conditioned["Condition"] == {"StringEquals": {"iam:PermissionsBoundary": boundary}}
    assert sorted(conditioned["Action"]) == sorted(BOUNDARY_CONDITIONED)
    for action in BOUNDARY_CONDITIONED:
        assert allows(statements, action, role, {"iam:PermissionsBoundary": boundary})
        assert not allows(statements, action, role)  # no boundary
        assert not allows(
            statements, action, role, {"iam:PermissionsBoundary": "arn:aws:iam::aws:policy/AdministratorAccess"}
        )
        assert not allows(
            statements, action, f"arn:aws:iam::{ACCOUNT}:role/admin", {"iam:PermissionsBoundary": boundary}
        )
    assert not allows(statements, "iam:DeleteRolePermissionsBoundary", role)
    for action in ("iam:CreatePolicyVersion", "iam:DeletePolicy", "iam:DeletePolicyVersion"):
        assert not allows(statements, action, boundary)  # never its own boundary
        assert allows(statements, action, f"arn:aws:iam::{ACCOUNT}:policy/deploy-backend-1-{cfg.suffix}")
    assert not allows(statements, "iam:SetDefaultPolicyVersion", boundary)
    for service in PASSED_TO_SERVICES:
        assert allows(statements, "iam:PassRole", role, {"iam:PassedToService": service})
    assert not allows(statements, "iam:PassRole", role, {"iam:PassedToService": "sagemaker.amazonaws.com"})
    assert not allows(
        statements,
        "iam:PassRole",
        f"arn:aws:iam::{ACCOUNT}:role/OrganizationAccountAccessRole",
        {"iam:PassedToService": "lambda.amazonaws.com"},
    )
    assert not allows(statements, "iam:CreateUser", f"arn:aws:iam::{ACCOUNT}:user/{cfg.suffix}")
    assert not allows(
        statements,
        "secretsmanager:GetSecretValue",
        f"arn:aws:secretsmanager:us-east-1:{ACCOUNT}:secret:prod/payments-AbCdEf",
    )


@pytest.mark.parametrize(("app", "env"), TARGETS)
def test_every_role_carries_the_boundary_and_is_passed_only_to_listed_services(app, env):
    profile = rendered(app, env)
    roles = 0
    for file, doc in deployed(app, env).items():
        for logical, resource in doc["Resources"].items():
            if resource["Type"] != "AWS::IAM::Role":
                continue
            roles += 1
            expected = {"Ref": "PermissionsBoundary"} if file == "network.json" else {"Ref": "PermissionsBoundaryArn"}
            assert resource["Properties"]["PermissionsBoundary"] == expected, (file, logical)
            for statement in resource["Properties"]["AssumeRolePolicyDocument"]["Statement"]:
                assert statement["Principal"]["Service"] in PASSED_TO_SERVICES, (file, logical)
            if file != "network.json":
                assert (
                    profile.manifest["stacks"][[s["file"] for s in profile.manifest["stacks"]].index(file)]["inputs"][
                        "PermissionsBoundaryArn"
                    ]
                    == "network.PermissionsBoundaryArn"
                )
    assert roles >= 9


@pytest.mark.parametrize(("app", "env"), [("smart-task", "prod"), ("mycandidate", "dev")])
def test_the_boundary_denies_escalation(app, env):
    network = json.loads(rendered(app, env).files["network.json"])
    boundary = network["Resources"]["PermissionsBoundary"]
    cfg = rendered(app, env).cfg
    assert boundary["Type"] == "AWS::IAM::ManagedPolicy"
    assert boundary["Properties"]["ManagedPolicyName"] == f"permissions-boundary-{cfg.suffix}"
    statements = {s["Sid"]: s for s in boundary["Properties"]["PolicyDocument"]["Statement"]}
    arn = {"Fn::Sub": f"arn:${{AWS::Partition}}:iam::${{AWS::AccountId}}:policy/permissions-boundary-{cfg.suffix}"}
    assert statements["DenyChangingTheBoundary"]["Effect"] == "Deny" and statements["DenyChangingTheBoundary"][
        "Resource"
    ] == [arn]
    assert set(statements["DenyChangingTheBoundary"]["Action"]) >= {
        "iam:CreatePolicyVersion",
        "iam:DeletePolicy",
        "iam:SetDefaultPolicyVersion",
        "iam:DeletePolicyVersion",
    }
    assert statements["DenyRemovingBoundaries"]["Action"] == ["iam:DeleteRolePermissionsBoundary"]
    assert statements["DenyRolesWithoutTheBoundary"]["Condition"] == {
        "StringNotEquals": {"iam:PermissionsBoundary": arn}
    }
    assert sorted(statements["DenyRolesWithoutTheBoundary"]["Action"]) == sorted(BOUNDARY_CONDITIONED)
    allowed = statements["ApplicationServices"]["Action"]
    assert "iam:*" not in allowed and "*" not in allowed and "sts:*" not in allowed and "organizations:*" not in allowed
    # what the roles do (their inline actions and the managed policies' services) is inside the boundary
    services = {a.split(":")[0] for a in allowed}
    for doc in deployed(app, env).values():
        for resource in doc["Resources"].values():
            if resource["Type"] != "AWS::IAM::Role":
                continue
            for inline in resource["Properties"].get("Policies", []):
                for statement in inline["PolicyDocument"]["Statement"]:
                    for action in listed(statement["Action"]):
                        assert action.split(":")[0] in services or action in statements["OwnIamResources"]["Action"] + [
                            "iam:PassRole"
                        ], action


def test_policy_size_within_the_managed_policy_quota():
    for app, env in TARGETS:
        doc = json.loads(rendered(app, env).files["cicd.json"])
        for resource in doc["Resources"].values():
            if resource["Type"] == "AWS::IAM::ManagedPolicy":
                statements = resource["Properties"]["PolicyDocument"]["Statement"]
                size = len(re.sub(r"\s", "", json.dumps(policy_resolved(statements))))
                assert size <= cicd.MANAGED_POLICY_CHARS, (app, env, size)


# ------------------------------------------------------------------ calls RDS makes with the role's permissions
#
# A database whose master password RDS manages (ManageMasterUserPassword): RDS creates the secret
# rds!db-<uuid> (an instance) or rds!cluster-<uuid> (a cluster) in Secrets Manager with the caller's
# permissions (RDS User Guide, "Password management with Amazon RDS and AWS Secrets Manager",
# "Permissions required for Secrets Manager integration": secretsmanager:CreateSecret and
# secretsmanager:TagResource; kms:DescribeKey, kms:Decrypt, kms:GenerateDataKey on a customer managed
# key), tagging it with the database's ARN (aws:rds:primaryDBInstanceArn / aws:rds:primaryDBClusterArn).
MANAGED_SECRET_CALLS = {
    "AWS::RDS::DBInstance": (
        "rds!db-0f0e0d0c-0000-1111-2222-333344445555-AbCdEf",
        "aws:rds:primaryDBInstanceArn",
        "db",
    ),
    "AWS::RDS::DBCluster": (
        "rds!cluster-0f0e0d0c-0000-1111-2222-333344445555-AbCdEf",
        "aws:rds:primaryDBClusterArn",
        "cluster",
    ),
}
MANAGED_SECRET_KMS = ("kms:DescribeKey", "kms:Decrypt", "kms:GenerateDataKey")


def managed_secret_calls(app: str, env: str, suffix: str | None = None) -> list[tuple[str, str, dict]]:
    """[(action, ARN, request context)] of the secrets RDS creates for the databases the pipeline deploys."""
    profile = rendered(app, env)
    region, own = profile.manifest["region"], profile.cfg.suffix
    out = []
    for doc in deployed(app, env).values():
        for resource in doc["Resources"].values():
            if resource["Type"] not in MANAGED_SECRET_CALLS or not resource.get("Properties", {}).get(
                "ManageMasterUserPassword"
            ):
                continue
            secret, tag, kind = MANAGED_SECRET_CALLS[resource["Type"]]
            name = _name(resource, resource["Type"], region)
            database = f"arn:aws:rds:{region}:{ACCOUNT}:{kind}:{name.replace(own, suffix) if suffix else name}"
            for action in ("secretsmanager:CreateSecret", "secretsmanager:TagResource"):
                out.append(
                    (
                        action,
                        f"arn:aws:secretsmanager:{region}:{ACCOUNT}:secret:{secret}",
                        {f"aws:RequestTag/{tag}": database},
                    )
                )
            for action in MANAGED_SECRET_KMS:
                out.append((action, f"arn:aws:kms:{region}:{ACCOUNT}:key/0f0e0d0c-0000-1111-2222-333344445555", {}))
    return out


def test_the_profiles_with_an_rds_managed_master_password():
    managed = [(a, e) for a, e in TARGETS if managed_secret_calls(a, e)]
    assert managed == [("smart-task", "dev"), ("smart-task", "prod")]


@pytest.mark.parametrize(("app", "env"), [("smart-task", "dev"), ("smart-task", "prod")])
def test_the_policy_covers_the_secret_rds_creates_and_no_other(app, env):
    statements = policy(app, env)
    ours = managed_secret_calls(app, env)
    assert [c[0] for c in ours] == ["secretsmanager:CreateSecret", "secretsmanager:TagResource", *MANAGED_SECRET_KMS]
    for action, arn, context in ours:
        assert allows(statements, action, arn, context), (action, arn, context)
    region = rendered(app, env).manifest["region"]
    for (action, arn, context), (_, _, own) in zip(
        managed_secret_calls(app, env, suffix=OTHER_SUFFIX), ours, strict=True
    ):
        if not context:
            continue  # the key: an AWS-generated id (ID_NAMED)
        assert not allows(statements, action, arn, context), (action, arn, context)  # another application's database
        assert not allows(
            statements, action, arn.replace("rds!db-", "rds!cluster-"), own
        )  # a cluster's secret: this one is an instance
        assert not allows(
            statements, action, f"arn:aws:secretsmanager:{region}:{ACCOUNT}:secret:prod/payments-AbCdEf", own
        )  # not RDS's
        assert not allows(
            statements, action, arn.replace(region, "eu-west-1" if region != "eu-west-1" else "us-east-1"), own
        )  # another region
    assert not allows(statements, "secretsmanager:GetSecretValue", ours[0][1], ours[0][2])  # creates it; never reads it
    assert not allows(statements, "secretsmanager:DeleteSecret", ours[0][1], ours[0][2])


def boundary_statements(app: str, env: str) -> list[dict]:
    """The permissions boundary's statements, every Fn::Sub resolved (the CloudFormation role carries it too)."""
    profile = rendered(app, env)
    document = json.loads(profile.files["network.json"])["Resources"]["PermissionsBoundary"]["Properties"][
        "PolicyDocument"
    ]
    text = json.dumps(document["Statement"])
    text = re.sub(r'\{"Fn::Sub": ("[^"]*")\}', r"\1", text)
    for key, value in (
        ("${AWS::Partition}", "aws"),
        ("${AWS::Region}", profile.manifest["region"]),
        ("${AWS::AccountId}", ACCOUNT),
    ):
        text = text.replace(key, value)
    return json.loads(text)


@pytest.mark.parametrize(("app", "env"), TARGETS)
def test_the_boundary_lets_the_cloudformation_role_make_every_call(app, env):
    """The CloudFormation role carries the application's boundary: its effective permissions are the
    intersection, so every call it needs must pass the boundary too (a service missing from
    BOUNDARY_SERVICES would fail the deploy with the policy allowing it)."""
    cicd_doc = json.loads(rendered(app, env).files["cicd.json"])
    (role,) = [v for k, v in cicd_doc["Resources"].items() if k.endswith("CloudFormationRole")]
    assert role["Properties"]["PermissionsBoundary"] == {"Ref": "PermissionsBoundaryArn"}
    boundary = boundary_statements(app, env)
    refused = sorted(
        {
            (t, action)
            for t, pairs in calls(app, env).items()
            for action, arn in pairs
            if not allows(boundary, action, "*" if star_only(action) else arn)
        }
    )
    refused += [
        (action, arn)
        for action, arn, context in managed_secret_calls(app, env)
        if not allows(boundary, action, arn, context)
    ]
    assert refused == []


@pytest.mark.parametrize(("app", "env"), [("smart-task", "dev"), ("smart-task", "prod")])
def test_the_boundary_lets_the_tasks_and_the_proxy_read_the_rds_managed_secret(app, env):
    """What the data layer grants on the RDS-managed secret (the task execution role and the services'
    task roles through DatabaseSecretReadPolicy, the proxy's role inline) passes the boundary."""
    data = json.loads(rendered(app, env).files["data.json"])["Resources"]
    region = rendered(app, env).manifest["region"]
    secret_arn = {"Fn::GetAtt": ["Database", "MasterUserSecret.SecretArn"]}
    granted = []
    documents = [r["Properties"]["PolicyDocument"] for r in data.values() if r["Type"] == "AWS::IAM::Policy"]
    documents += [
        p["PolicyDocument"]
        for r in data.values()
        if r["Type"] == "AWS::IAM::Role"
        for p in r["Properties"].get("Policies", [])
    ]
    for document in documents:
        for statement in document["Statement"]:
            if secret_arn in listed(statement["Resource"]):
                granted += listed(statement["Action"])
    assert sorted(set(granted)) == ["secretsmanager:DescribeSecret", "secretsmanager:GetSecretValue"]
    assert len(granted) == 2 * (
        1 + sum(r["Type"] == "AWS::RDS::DBProxy" for r in data.values())
    )  # the read policy, and each proxy's role
    assert data["DatabaseSecretReadPolicy"]["Properties"]["Roles"][0] == {"Ref": "TaskExecutionRoleName"}
    boundary = boundary_statements(app, env)
    arn = f"arn:aws:secretsmanager:{region}:{ACCOUNT}:secret:rds!db-0f0e0d0c-0000-1111-2222-333344445555-AbCdEf"
    for action in granted:
        assert allows(boundary, action, arn)
    assert allows(boundary, "kms:Decrypt", f"arn:aws:kms:{region}:{ACCOUNT}:key/0f0e0d0c-0000-1111-2222-333344445555")


def policy_resolved(statements):
    text = json.dumps({"Version": "2012-10-17", "Statement": statements})
    text = re.sub(r'\{"Fn::Sub": ("[^"]*")\}', r"\1", text)
    for key, value in (
        ("${AWS::Partition}", "aws-iso-b"),
        ("${AWS::Region}", "ap-southeast-5"),
        ("${AWS::AccountId}", ACCOUNT),
    ):
        text = text.replace(key, value)
    return json.loads(text)


# ------------------------------------------------------------------ E9014: the service role is no administrator


def _with_service_role_policy(statements: list[dict], boundary: bool = True) -> dict:
    """product-catalog dev's cicd template with the CloudFormation role's policies replaced."""
    document = json.loads(rendered("product-catalog", "dev").files["cicd.json"])
    resources = document["Resources"]
    for logical in [k for k, v in resources.items() if v["Type"] == "AWS::IAM::ManagedPolicy"]:
        del resources[logical]
    role = resources["PipelineBackendCloudFormationRole"]["Properties"]
    role.pop("ManagedPolicyArns")
    role["Policies"] = [{"PolicyName": "p", "PolicyDocument": {"Version": "2012-10-17", "Statement": statements}}]
    if not boundary:
        role.pop("PermissionsBoundary")
    return document


def test_e9014_refuses_an_administrator_service_role(linter, tmp_path):
    from tests.test_rules import _lint

    generated = json.loads(rendered("product-catalog", "dev").files["cicd.json"])
    assert [f for f in _lint(linter, tmp_path, generated, "good") if f.rule == "E9014"] == []
    before_issue_14 = _with_service_role_policy(
        [{"Effect": "Allow", "Action": ["ec2:*", "iam:*", "secretsmanager:*"], "Resource": "*"}], boundary=False
    )
    messages = sorted(f.message for f in _lint(linter, tmp_path, before_issue_14, "admin") if f.rule == "E9014")
    assert len(messages) == 5
    assert any("allows iam:PassRole on every role" in m for m in messages)
    assert any("carries no PermissionsBoundary" in m for m in messages)
    assert any("allows iam:* or *" in m for m in messages)
    assert any("allows ec2:*, iam:*, secretsmanager:* on every resource" in m for m in messages)
    assert any(
        "allows iam:CreateRole, iam:PutRolePolicy, iam:AttachRolePolicy" in m
        and "without a StringEquals iam:PermissionsBoundary" in m
        for m in messages
    )
    unconditioned = _with_service_role_policy(
        [{"Effect": "Allow", "Action": ["iam:CreateRole"], "Resource": "arn:aws:iam::123456789012:role/*-dev"}]
    )
    assert [f.message for f in _lint(linter, tmp_path, unconditioned, "unconditioned") if f.rule == "E9014"] == [
        "PipelineBackendCloudFormationRole (AWS::IAM::Role), the CloudFormation role of PipelineBackend action "
        "Infrastructure/CreateChangeSet, "
        "a statement allows iam:CreateRole without a StringEquals iam:PermissionsBoundary condition (README, "
        "E9014: not an administrator)"
    ]


def test_an_aurora_cluster_s_managed_secret_is_scoped_to_the_cluster():
    """No profile runs Aurora with an RDS-managed password; the statement's shape for one (rds!cluster-,
    aws:rds:primaryDBClusterArn, the application's cluster) is checked on smart-task's model."""
    from awacs.aws import PolicyDocument
    from troposphere import encode_to_dict

    cfg = rendered("smart-task", "dev").cfg
    aurora = cfg.model_copy(update={"database": cfg.database.model_copy(update={"engine": "aurora-postgresql"})})
    (statement,) = encode_to_dict(PolicyDocument(Version="2012-10-17", Statement=cicd._managed_master_secret(aurora)))[
        "Statement"
    ]
    assert statement["Action"] == ["secretsmanager:CreateSecret", "secretsmanager:TagResource"]
    assert statement["Resource"] == [
        {"Fn::Sub": "arn:${AWS::Partition}:secretsmanager:${AWS::Region}:${AWS::AccountId}:secret:rds!cluster-*"}
    ]
    assert statement["Condition"] == {
        "StringLikeIfExists": {
            "aws:RequestTag/aws:rds:primaryDBClusterArn": {
                "Fn::Sub": "arn:${AWS::Partition}:rds:${AWS::Region}:${AWS::AccountId}:cluster:*-st-dev"
            }
        }
    }
    without = cfg.model_copy(update={"database": cfg.database.model_copy(update={"managed_master_password": False})})
    assert cicd._managed_master_secret(without) == []

"""The pre-flight rules (E9010-E9016): each fires on a template AWS or CloudFormation would refuse
or break on, with its id, the resource and the message, and stays quiet on the fixed version; the
naming rule checks every name property of every generated template; local mode refuses the names
AWS refuses, with AWS's message."""

from __future__ import annotations

import copy
import json

import boto3
import pytest
from botocore.exceptions import ClientError

from resource_semantics import NAME_CONSTRAINTS, NAME_PROPERTIES, aws_refusal, custom_name, name_problems, name_rules
from templates.rules._resolve import check_names
from tests.conftest import ALL_TARGETS, rendered
from tests.test_rules import HARDENED, LOGS, TAGS, _container, _lint, doc, res

VPC = "vpc-0123456789abcdef0"


def _only(findings, rule_id):
    return [f for f in findings if f.rule == rule_id]


# ------------------------------------------------------------------ E9010 names


def _sg(name) -> dict:
    return res("AWS::EC2::SecurityGroup", GroupName=name, GroupDescription="d", VpcId=VPC)


E9010_BAD = doc(
    {
        "Params": _sg({"Ref": "GroupName"}),
        "Balancer": res(
            "AWS::ElasticLoadBalancingV2::TargetGroup",
            Name={"Fn::Sub": "targets-api-${AWS::AccountId}-${AWS::Region}"},
            Port=8080,
            Protocol="HTTP",
            VpcId=VPC,
            TargetType="ip",
        ),
        "Cache": {
            "Type": "AWS::ElastiCache::ReplicationGroup",
            "Properties": {
                "ReplicationGroupId": "cache-" + "x" * 40,
                "ReplicationGroupDescription": "c",
                "Engine": "redis",
                "CacheNodeType": "cache.t4g.micro",
                "NumCacheClusters": 2,
                "AtRestEncryptionEnabled": True,
                "TransitEncryptionEnabled": True,
                "Tags": TAGS,
            },
            "DeletionPolicy": "Snapshot",
            "UpdateReplacePolicy": "Snapshot",
        },
    },
    Parameters={"GroupName": {"Type": "String", "Default": "sg-from-default"}},
)
E9010_GOOD = doc(
    {
        "Params": _sg({"Ref": "GroupName"}),
        "Balancer": res(
            "AWS::ElasticLoadBalancingV2::TargetGroup",
            Name={"Fn::Sub": "tg-${AWS::Region}-x"},
            Port=8080,
            Protocol="HTTP",
            VpcId=VPC,
            TargetType="ip",
        ),
        # seed 004's convention: Secrets Manager only advises against "-" plus six characters (ADVISORY)
        "Secret": {
            "Type": "AWS::SecretsManager::Secret",
            "Properties": {"Name": "db-credentials-pr5706", "KmsKeyId": "alias/app", "Tags": TAGS},
            "DeletionPolicy": "Delete",
            "UpdateReplacePolicy": "Delete",
        },
    },
    Parameters={"GroupName": {"Type": "String", "Default": "alb-from-default"}},
)


def test_e9010_names_resolved_with_defaults_and_placeholders(linter, tmp_path):
    found = {f.resource: f.message for f in _only(_lint(linter, tmp_path, E9010_BAD, "e9010_bad"), "E9010")}
    assert set(found) == {"Params", "Balancer", "Cache"}
    assert found["Params"].startswith(
        "Params (AWS::EC2::SecurityGroup) GroupName 'sg-from-default' starts with the reserved prefix 'sg-'"
    )
    assert "API_CreateSecurityGroup.html" in found["Params"]
    # resolved with a 12-digit account and the linted region: 34 characters, over ELBv2's 32
    assert found["Balancer"].startswith(
        "Balancer (AWS::ElasticLoadBalancingV2::TargetGroup) Name 'targets-api-123456789012-us-east-1' is 34 "
        "characters; the maximum is 32"
    )
    assert (
        found["Cache"].startswith("Cache (AWS::ElastiCache::ReplicationGroup) ReplicationGroupId 'cache-xxxx")
        and "is 46 characters; the maximum is 40" in found["Cache"]
    )
    assert _only(_lint(linter, tmp_path, E9010_GOOD, "e9010_good"), "E9010") == []


@pytest.mark.parametrize(
    ("kind", "path", "name", "check"),
    [
        ("AWS::EC2::SecurityGroup", "GroupName", "sg-alb-prod", "prefix"),
        ("AWS::ElasticLoadBalancingV2::LoadBalancer", "Name", "internal-alb", "prefix"),
        ("AWS::ElasticLoadBalancingV2::LoadBalancer", "Name", "alb-", "pattern"),
        ("AWS::ElasticLoadBalancingV2::TargetGroup", "Name", "t" * 33, "length"),
        ("AWS::RDS::DBInstance", "DBInstanceIdentifier", "db--one", "pattern"),
        ("AWS::RDS::DBInstance", "DBInstanceIdentifier", "1db", "pattern"),
        ("AWS::RDS::DBSubnetGroup", "DBSubnetGroupName", "default", "reserved"),
        ("AWS::IAM::Role", "RoleName", "r" * 65, "length"),
        ("AWS::IAM::Role", "Policies/*/PolicyName", "has space", "pattern"),
        ("AWS::SecretsManager::Secret", "Name", "db-credentials-mc-dev", "secret-suffix"),
        ("AWS::ECR::Repository", "RepositoryName", "App/Api", "pattern"),
        ("AWS::ECS::CapacityProvider", "Name", "fargate-spot-mine", "prefix"),
        ("AWS::Synthetics::Canary", "Name", "canary-api-product-prod", "length"),
        ("AWS::Synthetics::Canary", "Name", "Canary", "pattern"),
        ("AWS::Cognito::UserPoolDomain", "Domain", "myapp-cognito-login", "cognito-prefix"),
        ("AWS::Cognito::UserPoolDomain", "Domain", "aws-login", "cognito-prefix"),
        ("AWS::S3::Bucket", "BucketName", "xn--bucket", "prefix"),
        ("AWS::S3::Bucket", "BucketName", "bucket-s3alias", "pattern"),  # ends -s3alias: also a reserved suffix
        ("AWS::S3::Bucket", "BucketName", "192.168.5.4", "not-ip-address"),
        ("AWS::S3::Bucket", "BucketName", "a..b", "no-adjacent-dots"),
        ("AWS::Logs::LogGroup", "LogGroupName", "aws/custom", "prefix"),
        ("AWS::KMS::Alias", "AliasName", "alias/aws/mine", "prefix"),
        ("AWS::XRay::Group", "GroupName", "Default", "reserved"),
        ("AWS::WAFv2::WebACL", "Name", "waf acl", "pattern"),
        ("AWS::EC2::LaunchTemplate", "LaunchTemplateName", "lt", "length"),
        ("AWS::Backup::BackupVault", "BackupVaultName", "v" * 51, "length"),
        ("AWS::CodeBuild::Project", "Name", "-build", "pattern"),
        ("AWS::ElastiCache::ReplicationGroup", "ReplicationGroupId", "c" * 41, "length"),
    ],
)
def test_name_constraints_refuse(kind, path, name, check):
    problems = name_problems(name_rules(kind)[path], name)
    assert check in [c for c, _ in problems] or (check == "pattern" and "suffix" in [c for c, _ in problems]), problems


@pytest.mark.parametrize(
    ("kind", "path", "name"),
    [
        ("AWS::EC2::SecurityGroup", "GroupName", "alb-catalog-prod"),
        ("AWS::ElasticLoadBalancingV2::LoadBalancer", "Name", "alb-catalog-prod"),
        ("AWS::RDS::DBInstance", "DBInstanceIdentifier", "rds-catalog-prod"),
        ("AWS::SecretsManager::Secret", "Name", "db-credentials-catalog-prod"),
        ("AWS::Synthetics::Canary", "Name", "cw-api-st-prod"),
        ("AWS::Cognito::UserPoolDomain", "Domain", "smart-task-st-dev"),
        ("AWS::Cognito::UserPoolDomain", "Domain", "auth.example.com"),
        ("AWS::S3::Bucket", "BucketName", "edge-logs-api-dev-123456789012-us-east-1"),
        ("AWS::Logs::LogGroup", "LogGroupName", "/aws/lambda/fn"),
        ("AWS::ECR::Repository", "RepositoryName", "ecr-api/api-prod"),
    ],
)
def test_name_constraints_accept(kind, path, name):
    assert name_problems(name_rules(kind)[path], name) == []


def test_every_name_property_has_constraints_with_a_source():
    for kind, path in NAME_PROPERTIES.items():
        rule = NAME_CONSTRAINTS[kind][path]
        assert rule.source.startswith("https://docs.aws.amazon.com/"), kind
        assert rule.api and rule.code, kind


def test_advisory_checks_are_not_refusals():
    assert aws_refusal("AWS::SecretsManager::Secret", "Name", "db-credentials-mc-dev") is None
    assert aws_refusal("AWS::EC2::SecurityGroup", "GroupName", "sg-x") == (
        "InvalidParameterValue",
        "Value (sg-x) for parameter GroupName is invalid. Group names may not be in the format sg-*.",
    )
    code, message = aws_refusal("AWS::IAM::Role", "RoleName", "r" * 65)
    assert code == "ValidationError" and message.endswith(
        "at 'roleName' failed to satisfy constraint: Member must have length less than or equal to 64"
    )


@pytest.mark.parametrize(("app", "env"), ALL_TARGETS)
def test_naming_rule_checks_every_named_resource(app, env):
    """The rule looked: per profile and environment, the primary name properties it resolved and
    checked are exactly the named resources of the generated templates, none left unresolved."""
    profile = rendered(app, env)
    checked, named, unresolved = set(), set(), []
    for entry in profile.manifest["templates"]:
        template = json.loads(profile.files[entry["file"]])
        region = "us-east-1" if entry["scope"] == "global" else profile.manifest["region"]
        report = check_names(template, region)
        unresolved += report.unresolved
        checked |= {(entry["file"], lid) for lid, kind, path, _ in report.checked if path == NAME_PROPERTIES.get(kind)}
        named |= {
            (entry["file"], lid)
            for lid, r in template.get("Resources", {}).items()
            if custom_name(r["Type"], r.get("Properties", {})) is not None
        }
    print(f"{app}/{env}: checked {len(checked)} name properties of {len(named)} named resources")
    assert unresolved == []
    assert len(named) > 20 and checked == named


# ------------------------------------------------------------------ E9011 create-only knobs


def _group_with_description(description, named=True) -> dict:
    props = {"GroupDescription": description, "VpcId": VPC}
    if named:
        props["GroupName"] = "app-group"
    return res("AWS::EC2::SecurityGroup", **props)


KNOB = {"Parameters": {"AppPort": {"Type": "Number", "Default": 8080}, "VpcInput": {"Type": "String"}}}
E9011_BAD = doc({"Named": _group_with_description({"Fn::Sub": "app on ${AppPort}"})}, **KNOB)
E9011_GOOD = doc(
    {
        "Unnamed": _group_with_description({"Fn::Sub": "app on ${AppPort}"}, named=False),
        "Literal": _group_with_description("app traffic"),
        "FromInput": res("AWS::EC2::SecurityGroup", GroupName="other", GroupDescription="d", VpcId={"Ref": "VpcInput"}),
    },
    **KNOB,
)


# ------------------------------------------------------------------ E9012 privileged ports


def _port_task(user, port=80, compat="FARGATE", **extra) -> dict:
    container = _container(
        "web",
        LogConfiguration=LOGS,
        ReadonlyRootFilesystem=True,
        PortMappings=[{"ContainerPort": port}],
        **({"User": user} if user else {}),
        **extra,
    )
    return res(
        "AWS::ECS::TaskDefinition",
        NetworkMode="awsvpc",
        RequiresCompatibilities=[compat],
        Cpu="256",
        Memory="512",
        ContainerDefinitions=[container],
    )


E9012_BAD = doc(
    {
        "NonRootOn80": _port_task("1000:1000"),
        "NamedUserOn443": _port_task("nginx", 443),
        "FargateCannotAddCap": _port_task("1000", 80, LinuxParameters={"Capabilities": {"Add": ["NET_BIND_SERVICE"]}}),
    }
)
E9012_GOOD = doc(
    {
        "NonRootOn8080": _port_task("1000:1000", 8080),
        "RootOn80": _port_task("0:0", 80),
        "ImageDefault": _port_task(None, 80),
        "Ec2WithCap": _port_task(
            "1000", 80, compat="EC2", LinuxParameters={"Capabilities": {"Add": ["NET_BIND_SERVICE"]}}
        ),
    }
)


# ------------------------------------------------------------------ E9013 first-create ordering


def _ordering(desired, minimum, with_condition=True) -> dict:
    image = {"Fn::Sub": ["${Uri}:${ImageTag}", {"Uri": {"Fn::GetAtt": ["Repo", "RepositoryUri"]}}]}
    resources = {
        "Repo": {
            **res("AWS::ECR::Repository", RepositoryName="app", EncryptionConfiguration={"EncryptionType": "AES256"}),
            "DeletionPolicy": "RetainExceptOnCreate",
            "UpdateReplacePolicy": "Retain",
        },
        "Task": res(
            "AWS::ECS::TaskDefinition",
            NetworkMode="awsvpc",
            RequiresCompatibilities=["FARGATE"],
            Cpu="256",
            Memory="512",
            ContainerDefinitions=[_container("app", **HARDENED, Image=image)],
        ),
        "Service": res(
            "AWS::ECS::Service",
            Cluster="c",
            TaskDefinition={"Ref": "Task"},
            DesiredCount=desired,
            LaunchType="FARGATE",
            NetworkConfiguration={
                "AwsvpcConfiguration": {"Subnets": ["subnet-0123456789abcdef0"], "AssignPublicIp": "DISABLED"}
            },
        ),
        "Scaling": {
            "Type": "AWS::ApplicationAutoScaling::ScalableTarget",
            "Properties": {
                "MaxCapacity": 4,
                "MinCapacity": minimum,
                "ResourceId": {"Fn::Join": ["/", ["service", "c", {"Fn::GetAtt": ["Service", "Name"]}]]},
                "ScalableDimension": "ecs:service:DesiredCount",
                "ServiceNamespace": "ecs",
            },
        },
    }
    extra = {"Parameters": {"ImageTag": {"Type": "String", "Default": ""}, "Desired": {"Type": "Number", "Default": 2}}}
    if with_condition:
        extra["Conditions"] = {"HasImage": {"Fn::Not": [{"Fn::Equals": [{"Ref": "ImageTag"}, ""]}]}}
    return doc(resources, **extra)


E9013_BAD = _ordering({"Ref": "Desired"}, 2, with_condition=False)
E9013_GOOD = _ordering({"Fn::If": ["HasImage", {"Ref": "Desired"}, 0]}, {"Fn::If": ["HasImage", {"Ref": "Desired"}, 0]})


def test_e9013_follows_the_repository_through_the_root(linter, tmp_path):
    """Repository in one layer, service in another, wired by the root: the root reports it."""
    whole = _ordering({"Ref": "Desired"}, 2, with_condition=False)
    registry = doc(
        {"Repo": whole["Resources"].pop("Repo")},
        Outputs={"RepoUri": {"Value": {"Fn::GetAtt": ["Repo", "RepositoryUri"]}}},
    )
    compute = copy.deepcopy(whole)
    compute["Parameters"]["RepoUri"] = {"Type": "String"}
    compute["Resources"]["Task"]["Properties"]["ContainerDefinitions"][0]["Image"] = {
        "Fn::Sub": "${RepoUri}:${ImageTag}"
    }
    (tmp_path / "registry.json").write_text(json.dumps(registry))
    (tmp_path / "compute.json").write_text(json.dumps(compute))
    root = doc(
        {
            "Registry": {
                "Type": "AWS::CloudFormation::Stack",
                "Properties": {"TemplateURL": "registry.json", "Tags": TAGS},
            },
            "Compute": {
                "Type": "AWS::CloudFormation::Stack",
                "Properties": {
                    "TemplateURL": "compute.json",
                    "Tags": TAGS,
                    "Parameters": {"RepoUri": {"Fn::GetAtt": ["Registry", "Outputs.RepoUri"]}},
                },
            },
        }
    )
    found = [f for f in _lint(linter, tmp_path, root, "root") if f.rule == "E9013"]
    assert {f.resource for f in found} == {"Compute"}
    assert any(
        "service Service: DesiredCount {'Ref': 'Desired'} is not 0 until an image tag is given (container app "
        "pulls from RepoUri" in f.message
        for f in found
    )


# ------------------------------------------------------------------ E9014 pipeline roles


def _pipeline(ecs_actions) -> dict:
    assume = {
        "Version": "2012-10-17",
        "Statement": [
            {"Effect": "Allow", "Principal": {"Service": "codepipeline.amazonaws.com"}, "Action": "sts:AssumeRole"}
        ],
    }
    policy = {
        "Version": "2012-10-17",
        "Statement": [
            {"Effect": "Allow", "Action": ecs_actions, "Resource": "*"},
            {"Effect": "Allow", "Action": "iam:PassRole", "Resource": "arn:aws:iam::123456789012:role/task"},
            {
                "Effect": "Allow",
                "Action": ["codestar-connections:UseConnection", "codebuild:StartBuild", "codebuild:BatchGetBuilds"],
                "Resource": "*",
            },
            {"Effect": "Allow", "Action": ["s3:GetObject", "s3:PutObject"], "Resource": "arn:aws:s3:::artifacts/*"},
        ],
    }
    stages = [
        {
            "Name": "Source",
            "Actions": [
                {
                    "Name": "Src",
                    "ActionTypeId": {
                        "Category": "Source",
                        "Owner": "AWS",
                        "Provider": "CodeStarSourceConnection",
                        "Version": "1",
                    },
                    "Configuration": {
                        "ConnectionArn": "arn:aws:codeconnections:us-east-1:123456789012:connection/x",
                        "FullRepositoryId": "o/r",
                        "BranchName": "main",
                    },
                    "OutputArtifacts": [{"Name": "Src"}],
                }
            ],
        },
        {
            "Name": "Deploy",
            "Actions": [
                {
                    "Name": "Ecs",
                    "ActionTypeId": {"Category": "Deploy", "Owner": "AWS", "Provider": "ECS", "Version": "1"},
                    "Configuration": {"ClusterName": "c", "ServiceName": "s"},
                    "InputArtifacts": [{"Name": "Src"}],
                }
            ],
        },
    ]
    return doc(
        {
            "Role": res(
                "AWS::IAM::Role",
                AssumeRolePolicyDocument=assume,
                Policies=[{"PolicyName": "p", "PolicyDocument": policy}],
            ),
            "Pipeline": res(
                "AWS::CodePipeline::Pipeline",
                RoleArn={"Fn::GetAtt": ["Role", "Arn"]},
                Stages=stages,
                ArtifactStore={"Type": "S3", "Location": "artifacts"},
            ),
        }
    )


E9014_BAD = _pipeline(
    ["ecs:DescribeServices", "ecs:UpdateService", "ecs:RegisterTaskDefinition", "ecs:DescribeTaskDefinition"]
)
E9014_GOOD = _pipeline(
    [
        "ecs:DescribeServices",
        "ecs:UpdateService",
        "ecs:RegisterTaskDefinition",
        "ecs:DescribeTaskDefinition",
        "ecs:DescribeTasks",
        "ecs:List*",
    ]
)


# ------------------------------------------------------------------ E9015 error rewrites


def _distribution(behaviours_to_alb: bool, rewrite: bool) -> dict:
    config = {
        "Enabled": True,
        "Origins": [
            {
                "Id": "spa",
                "DomainName": {"Fn::GetAtt": ["Spa", "RegionalDomainName"]},
                "S3OriginConfig": {"OriginAccessIdentity": ""},
            },
            {
                "Id": "alb",
                "DomainName": "alb-1.us-east-1.elb.amazonaws.com",
                "CustomOriginConfig": {"OriginProtocolPolicy": "https-only"},
            },
        ],
        "DefaultCacheBehavior": {
            "TargetOriginId": "spa",
            "ViewerProtocolPolicy": "redirect-to-https",
            "CachePolicyId": "658327ea-f89d-4fab-a63d-7e88639e58f6",
        },
    }
    if behaviours_to_alb:
        config["CacheBehaviors"] = [
            {
                "PathPattern": "/api/*",
                "TargetOriginId": "alb",
                "ViewerProtocolPolicy": "https-only",
                "CachePolicyId": "4135ea2d-6df8-44a3-9df3-4b5a84be39ad",
            }
        ]
    if rewrite:
        config["CustomErrorResponses"] = [
            {"ErrorCode": 403, "ResponseCode": 200, "ResponsePagePath": "/index.html"},
            {"ErrorCode": 404, "ResponseCode": 200, "ResponsePagePath": "/index.html"},
        ]
    return {
        "Spa": {
            "Type": "AWS::S3::Bucket",
            "Properties": {"Tags": TAGS},
            "DeletionPolicy": "Retain",
            "UpdateReplacePolicy": "Retain",
        },
        "Cdn": res("AWS::CloudFront::Distribution", DistributionConfig=config),
    }


E9015_BAD = doc(_distribution(True, True))
E9015_GOOD = doc({**_distribution(True, False), **{f"Only{k}": v for k, v in _distribution(False, True).items()}})


# ------------------------------------------------------------------ E9016 Retain on named resources


def _log_group(policy, name="app-logs") -> dict:
    props = {
        "RetentionInDays": 7,
        "KmsKeyId": "arn:aws:kms:us-east-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab",
        "Tags": TAGS,
    }
    if name:
        props["LogGroupName"] = name
    return {
        "Type": "AWS::Logs::LogGroup",
        "Properties": props,
        "DeletionPolicy": policy,
        "UpdateReplacePolicy": "Retain",
    }


E9016_BAD = doc({"NamedRetained": _log_group("Retain")})
E9016_GOOD = doc(
    {"NamedExceptOnCreate": _log_group("RetainExceptOnCreate"), "UnnamedRetained": _log_group("Retain", name=None)}
)


CASES = {
    "E9011": (
        E9011_BAD,
        {
            "Named": "Named (AWS::EC2::SecurityGroup) is custom-named and its create-only GroupDescription depends on "
            "the knob(s) AppPort: changing them needs a replacement CloudFormation refuses for a named resource"
        },
        E9011_GOOD,
    ),
    "E9012": (
        E9012_BAD,
        {
            "NonRootOn80": "NonRootOn80 container web runs as user 1000:1000 but listens on port 80: a "
            "non-root process "
            "cannot bind below 1024 and Fargate cannot add CAP_NET_BIND_SERVICE; use a port >= 1024",
            "NamedUserOn443": "NamedUserOn443 container web runs as user nginx but listens on port 443: a "
            "non-root process "
            "cannot bind below 1024 and Fargate cannot add CAP_NET_BIND_SERVICE; use a port >= 1024",
            "FargateCannotAddCap": "FargateCannotAddCap container web runs as user 1000 but listens on port "
            "80: a non-root process "
            "cannot bind below 1024 and Fargate cannot add CAP_NET_BIND_SERVICE; use a port >= 1024",
        },
        E9012_GOOD,
    ),
    "E9013": (
        E9013_BAD,
        {
            "Service": "Service (AWS::ECS::Service) DesiredCount {'Ref': 'Desired'} is not 0 until an image "
            "tag is given "
            "(container app pulls from Repo, created in the same deploy)"
        },
        E9013_GOOD,
    ),
    "E9014": (
        E9014_BAD,
        {
            "Pipeline": "Pipeline (AWS::CodePipeline::Pipeline) action Deploy/Ecs (Deploy/ECS) runs as Role, "
            "which lacks "
            "ecs:DescribeTasks, ecs:ListTasks (CodePipeline user guide, service role permissions for this "
            "action)"
        },
        E9014_GOOD,
    ),
    "E9015": (
        E9015_BAD,
        {
            "Cdn": "Cdn (AWS::CloudFront::Distribution) rewrites errors 403, 404 for the whole distribution while "
            "behaviours target the non-S3 origin(s) alb: their errors come back as the error page; keep the "
            "fallback on the S3 behaviour (a CloudFront Function)"
        },
        E9015_GOOD,
    ),
    "E9016": (
        E9016_BAD,
        {
            "NamedRetained": "NamedRetained (AWS::Logs::LogGroup) is named and DeletionPolicy Retain: a failed "
            "first create "
            "leaves it behind and the retry collides with its name; use RetainExceptOnCreate"
        },
        E9016_GOOD,
    ),
}


@pytest.mark.parametrize("rule_id", sorted(CASES))
def test_preflight_rule_fires_with_id_resource_and_message(rule_id, linter, tmp_path):
    bad, expected, _ = CASES[rule_id]
    found = _only(_lint(linter, tmp_path, bad, f"{rule_id}_bad"), rule_id)
    assert {f.resource for f in found} == set(expected), "\n".join(map(str, found))
    for finding in found:
        if finding.resource in expected and rule_id != "E9013":
            assert finding.message == expected[finding.resource]
        assert finding.level == "error"
    if rule_id == "E9013":  # the service gets two: its DesiredCount and its scalable target's MinCapacity
        messages = sorted(f.message for f in found)
        assert messages[0] == expected["Service"]
        assert (
            messages[1]
            == "Service (AWS::ECS::Service) its scalable target Scaling has MinCapacity 2, not 0 until an image "
            "tag is given (container app pulls from Repo, created in the same deploy)"
        )


@pytest.mark.parametrize("rule_id", sorted(CASES))
def test_preflight_rule_quiet_on_fixed_template(rule_id, linter, tmp_path):
    assert _only(_lint(linter, tmp_path, CASES[rule_id][2], f"{rule_id}_good"), rule_id) == []


# ------------------------------------------------------------------ local mode refuses what AWS refuses


@pytest.fixture(scope="module")
def local_cfn():
    from deployer.local import local_endpoint

    with local_endpoint() as running:
        yield boto3.client(
            "cloudformation",
            endpoint_url=running.url,
            region_name="eu-north-1",
            aws_access_key_id="testing",
            aws_secret_access_key="testing",
        )


def _group_template(name: str) -> str:
    return json.dumps(
        {
            "Resources": {
                "Vpc": {"Type": "AWS::EC2::VPC", "Properties": {"CidrBlock": "10.0.0.0/16"}},
                "Group": {
                    "Type": "AWS::EC2::SecurityGroup",
                    "Properties": {"GroupName": name, "GroupDescription": "d", "VpcId": {"Ref": "Vpc"}},
                },
            }
        }
    )


def test_local_deploy_of_sg_named_group_fails_with_aws_message(local_cfn):
    change_set = local_cfn.create_change_set(
        StackName="named-sg", ChangeSetName="first", ChangeSetType="CREATE", TemplateBody=_group_template("sg-x")
    )
    with pytest.raises(ClientError) as refused:
        local_cfn.execute_change_set(ChangeSetName=change_set["Id"])
    error = refused.value.response["Error"]
    assert error["Code"] == "InvalidParameterValue"
    assert (
        "Group (AWS::EC2::SecurityGroup) GroupName: Value (sg-x) for parameter GroupName is invalid. Group "
        "names may not be in the format sg-*." in error["Message"]
    )


def test_local_deploy_accepts_a_name_aws_accepts(local_cfn):
    change_set = local_cfn.create_change_set(
        StackName="named-ok", ChangeSetName="first", ChangeSetType="CREATE", TemplateBody=_group_template("app-x")
    )
    local_cfn.execute_change_set(ChangeSetName=change_set["Id"])
    assert local_cfn.describe_stacks(StackName="named-ok")["Stacks"][0]["StackStatus"] == "CREATE_COMPLETE"


def test_local_refusal_resolves_parameters(local_cfn):
    template = json.loads(_group_template({"Fn::Sub": "${Prefix}-group"}))
    template["Parameters"] = {"Prefix": {"Type": "String", "Default": "sg"}}
    with pytest.raises(ClientError) as refused:
        local_cfn.create_stack(StackName="named-param", TemplateBody=json.dumps(template))
    assert "Value (sg-group) for parameter GroupName is invalid" in refused.value.response["Error"]["Message"]

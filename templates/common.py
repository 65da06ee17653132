"""Shared vocabulary of every layer: the layer builder, parameters with console metadata, tags,
names and deletion policies. A layer never re-implements any of these.

A layer module builds with `LayerBuilder` and returns `builder.build()`:

    b = LayerBuilder(cfg, "network", "VPC, subnets, NAT and endpoints")
    vpc = b.add(ec2.VPC("Vpc", CidrBlock=..., Tags=b.tags("vpc")))
    b.output("VpcId", Ref(vpc), "The VPC")
    return b.build()

Parameters come in two kinds. `input` parameters are fed by the root template from another
layer's Outputs (`Fn::GetAtt Layer.Outputs.X`); `knob` parameters are what an operator turns at
deploy time, with the profile's value as default, and the root re-exposes them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from troposphere import AWSObject, Equals, Not, Output, Parameter, Ref, Sub, Tags, Template, logs, s3

# Which types hold data (deletion policies, stack policies) and which can snapshot: defined once in
# resource_semantics, shared with the lint rules and the review.
from resource_semantics import SNAPSHOT_TYPES, STATEFUL_TYPES
from templates.config import AppConfig
from templates.guard import CHECKOV_TWINS
from templates.guard import declare_exceptions as declare_guard_exceptions
from templates.guard import suppress as guard_suppress
from templates.naming import stack_logical_id

CFN_VERSION = "2010-09-09"


@dataclass(frozen=True)
class Wire:
    """A layer parameter fed from another layer's output."""

    layer: str
    output: str


@dataclass(frozen=True)
class Layer:
    """One layer: its template, which of its parameters come from which layer outputs, and the
    logical ids of its stateful resources (for stack policies and review)."""

    name: str
    template: Template
    inputs: dict[str, Wire]
    knobs: tuple[str, ...]
    stateful: tuple[str, ...]
    root_outputs: tuple[str, ...] = ()
    scope: str = "nested"  # "nested" in the root; "global" is a separate us-east-1 stack
    knob_keys: dict[str, str] = field(default_factory=dict)  # knob -> params-file key it comes from
    # The layer a split part belongs to ("compute" for "compute-services-2"): other layers name
    # the family in their inputs ("compute.ServiceApiName") and the root finds the part that
    # outputs it, so consumers do not change when a layer splits.
    family: str = ""

    @property
    def kind(self) -> str:
        return self.family or self.name

    @property
    def stack_id(self) -> str:
        """Logical id of this layer's AWS::CloudFormation::Stack in the root template."""
        return stack_logical_id(self.name)


@dataclass
class _Group:
    label: str
    parameters: list[str] = field(default_factory=list)


# The condition "a load balancer certificate is given" (LayerBuilder.certificate_condition).
HAS_CERTIFICATE = "HasCertificate"


def lifecycle_rule(kind: str, days: int) -> s3.LifecycleRule:
    """One S3 lifecycle rule, by what it does: `expire-<x>` (current objects after `days`),
    `expire-old-versions` (noncurrent versions after `days`), `abort-incomplete-uploads`."""
    if kind == "expire-old-versions":
        return s3.LifecycleRule(
            Id=kind, Status="Enabled", NoncurrentVersionExpiration=s3.NoncurrentVersionExpiration(NoncurrentDays=days)
        )
    if kind == "abort-incomplete-uploads":
        return s3.LifecycleRule(
            Id=kind,
            Status="Enabled",
            AbortIncompleteMultipartUpload=s3.AbortIncompleteMultipartUpload(DaysAfterInitiation=days),
        )
    assert kind.startswith("expire-"), kind
    return s3.LifecycleRule(Id=kind, Status="Enabled", ExpirationInDays=days)


class LayerBuilder:
    def __init__(self, cfg: AppConfig, name: str, description: str, *, scope: str = "nested", family: str = ""):
        self.cfg, self.name, self.scope, self.family = cfg, name, scope, family
        self.template = Template(
            Description=f"cfn-strata {cfg.application}/{cfg.environment.name}: {name} layer - {description}"
        )
        self.template.set_version(CFN_VERSION)
        self._groups: dict[str, _Group] = {}
        self._labels: dict[str, str] = {}
        self._inputs: dict[str, Wire] = {}
        self._knobs: list[str] = []
        self._knob_keys: dict[str, str] = {}
        self._stateful: list[str] = []
        self._root_outputs: list[str] = []
        self._boundary: AWSObject | None = None

    # -------------------------------------------------------------- parameters

    def _parameter(self, name: str, group: str, label: str, **props: Any) -> Parameter:
        if name in self.template.parameters:
            raise ValueError(f"{self.name} layer declares parameter {name} twice")
        self._groups.setdefault(group, _Group(group)).parameters.append(name)
        self._labels[name] = label
        return self.template.add_parameter(Parameter(name, **props))

    def input(
        self, name: str, source: str, description: str, *, type: str = "String", label: str | None = None
    ) -> Parameter:
        """A parameter the root fills from `source` ("network.VpcId"); standalone launches type it in."""
        layer, output = source.split(".", 1)
        self._inputs[name] = Wire(layer, output)
        props: dict[str, Any] = {
            "Type": type,
            "Description": f"{description} (from the {layer} layer's {output} output)",
        }
        if type in ("String", "CommaDelimitedList"):
            props |= {"AllowedPattern": r"^\S+$", "ConstraintDescription": "must not be empty"}
        return self._parameter(name, "Inputs from other layers", label or _words(name), **props)

    def log_group(
        self, title: str, name: str, key_arn, tags: Tags, *, retention_days: int | None = None
    ) -> logs.LogGroup:
        """A log group encrypted with `key_arn`, kept the profile's observability.log_retention_days
        (or `retention_days`): created by the template, never left to a service that would create
        it unencrypted and kept forever."""
        days = self.cfg.observability.log_retention_days if retention_days is None else retention_days
        return self.add(logs.LogGroup(title, LogGroupName=name, RetentionInDays=days, KmsKeyId=key_arn, Tags=tags))

    def certificate_condition(self) -> str:
        """The load balancer's certificate: the CertificateArn knob (edge.alb.certificate_arn) and
        the condition that one is given, declared once per template (security: the 443 ingress;
        edge: the HTTPS listener; observability: the canaries' scheme). Returns the condition's
        name for Condition= and If()."""
        if HAS_CERTIFICATE not in self.template.conditions:
            self.knob(
                "CertificateArn",
                "Load balancer",
                "ACM certificate ARN",
                "ACM certificate for the HTTPS listener; empty serves HTTP only on port 80",
                self.cfg.edge.alb.certificate_arn,
                key="edge.alb.certificate_arn",
                AllowedPattern=r"^$|^arn:aws[a-z-]*:acm:[a-z0-9-]+:\d{12}:certificate/[a-f0-9-]+$",
                ConstraintDescription="empty, or an ACM certificate ARN",
            )
            self.template.add_condition(HAS_CERTIFICATE, Not(Equals(Ref("CertificateArn"), "")))
        return HAS_CERTIFICATE

    def knob(
        self,
        name: str,
        group: str,
        label: str,
        description: str,
        default: Any,
        *,
        key: str | None = None,
        **constraints: Any,
    ) -> Parameter:
        """A deploy-time parameter with the profile's value as default. Needs a constraint.
        `key` is the params-file key the default comes from ("edge.cloudfront.price_class"); the
        generated parameter reference (LAUNCH.md) shows it."""
        if (
            not {"AllowedValues", "AllowedPattern", "MinValue", "MaxValue", "MinLength", "MaxLength"}
            & constraints.keys()
        ):
            raise ValueError(
                f"{self.name} parameter {name} needs a constraint (AllowedValues, AllowedPattern, Min/Max)"
            )
        constraints.setdefault(
            "Type", "Number" if isinstance(default, (int, float)) and not isinstance(default, bool) else "String"
        )
        self._knobs.append(name)
        if key:
            self._knob_keys[name] = key
        return self._parameter(name, group, label, Description=description, Default=default, **constraints)

    # -------------------------------------------------------------- resources and outputs

    def add(self, resource: AWSObject, *, stateful: bool | None = None, snapshot: bool = True) -> AWSObject:
        """Add a resource; stateful ones get deletion policies by stage and join the stack policy.
        snapshot=False: Retain even where the type could snapshot (Aurora members, read replicas).
        Every IAM role carries the application's permissions boundary (permissions_boundary)."""
        if resource.resource_type == "AWS::IAM::Role" and "PermissionsBoundary" not in resource.properties:
            resource.PermissionsBoundary = self._boundary_arn()
        self.template.add_resource(resource)
        if stateful if stateful is not None else resource.resource_type in STATEFUL_TYPES:
            self.protect(resource, snapshot=snapshot)
        return resource

    def protect(self, resource: AWSObject, *, snapshot: bool = True) -> None:
        """prod: Snapshot where the type supports it, else RetainExceptOnCreate on delete and Retain
        on replace; dev: Delete, as the seeds allow for test environments.

        RetainExceptOnCreate (CloudFormation, 2023) keeps the resource like Retain, except when
        the operation that created it rolls back: a failed first create then deletes what it
        made instead of leaving named resources for the retry to collide with. UpdateReplacePolicy
        accepts only Delete, Retain and Snapshot. Snapshot on a rolled-back create takes a final
        snapshot under a name CloudFormation generates (a retry cannot collide with it).
        https://docs.aws.amazon.com/AWSCloudFormation/latest/TemplateReference/aws-attribute-deletionpolicy.html
        https://docs.aws.amazon.com/AWSCloudFormation/latest/TemplateReference/aws-attribute-updatereplacepolicy.html"""
        if self.cfg.is_prod:
            snapshots = snapshot and resource.resource_type in SNAPSHOT_TYPES
            resource.DeletionPolicy = "Snapshot" if snapshots else "RetainExceptOnCreate"
            resource.UpdateReplacePolicy = "Snapshot" if snapshots else "Retain"
        else:
            resource.DeletionPolicy = resource.UpdateReplacePolicy = "Delete"
        if resource.title not in self._stateful:
            self._stateful.append(resource.title)

    def private_bucket(
        self,
        title: str,
        kind: str,
        lifecycle: list[s3.LifecycleRule],
        *,
        versioned: bool = True,
        acl_writers: bool = False,
    ) -> s3.Bucket:
        """A bucket `<kind>-<suffix>-<account>-<region>` (names are global): SSE-S3 encrypted, every
        public access blocked, ACLs off unless a log delivery writes through ACL grants
        (`acl_writers`: CloudFront standard logs), versioned unless told otherwise, with the given
        lifecycle rules (lifecycle_rule). Returned unadded, so the caller can give it a logging
        configuration or a skip first; add it with `add`."""
        props = dict(
            BucketName=Sub(f"{self.named(kind)}-${{AWS::AccountId}}-${{AWS::Region}}"),
            BucketEncryption=s3.BucketEncryption(
                ServerSideEncryptionConfiguration=[
                    s3.ServerSideEncryptionRule(
                        ServerSideEncryptionByDefault=s3.ServerSideEncryptionByDefault(SSEAlgorithm="AES256")
                    )
                ]
            ),
            PublicAccessBlockConfiguration=s3.PublicAccessBlockConfiguration(
                BlockPublicAcls=True, BlockPublicPolicy=True, IgnorePublicAcls=True, RestrictPublicBuckets=True
            ),
            OwnershipControls=s3.OwnershipControls(
                Rules=[
                    s3.OwnershipControlsRule(
                        ObjectOwnership="BucketOwnerPreferred" if acl_writers else "BucketOwnerEnforced"
                    )
                ]
            ),
            LifecycleConfiguration=s3.LifecycleConfiguration(Rules=lifecycle),
            Tags=self.tags(kind),
        )
        if versioned:
            props["VersioningConfiguration"] = s3.VersioningConfiguration(Status="Enabled")
        return s3.Bucket(title, **props)

    def tls_only_bucket_policy(self, bucket: AWSObject, *statements: Any) -> AWSObject:
        """`<Bucket>Policy`: deny every S3 action without TLS (what E9003 and checkov read), plus
        the given grants."""
        from awacs.aws import Bool, Condition, Deny, PolicyDocument, Principal, Statement
        from awacs.s3 import Action
        from troposphere import GetAtt, Join, Ref
        from troposphere.s3 import BucketPolicy

        tls_only = Statement(
            Sid="DenyInsecureTransport",
            Effect=Deny,
            Principal=Principal("*"),
            Action=[Action("*")],
            Resource=[GetAtt(bucket, "Arn"), Join("", [GetAtt(bucket, "Arn"), "/*"])],
            Condition=Condition(Bool("aws:SecureTransport", False)),
        )
        document = PolicyDocument(Version="2012-10-17", Statement=[tls_only, *statements])
        return self.add(BucketPolicy(f"{bucket.title}Policy", Bucket=Ref(bucket), PolicyDocument=document))

    def permissions_boundary(self) -> AWSObject:
        """The application's permissions boundary (BOUNDARY_LAYER creates it, before any of its roles);
        every other layer with a role takes its ARN as the input PermissionsBoundaryArn, so CloudFormation
        creates it before any role that names it."""
        from troposphere import iam

        if self.name != BOUNDARY_LAYER:
            raise ValueError(f"the permissions boundary belongs to the {BOUNDARY_LAYER} layer, not {self.name}")
        boundary = self.add(
            iam.ManagedPolicy(
                "PermissionsBoundary",
                ManagedPolicyName=boundary_name(self.cfg),
                Description=f"cfn-strata {self.cfg.application}/{self.cfg.environment.name}: permissions boundary "
                "of every role of the application",
                PolicyDocument=boundary_document(self.cfg),
            )
        )
        for check, why in (
            (
                "CKV_AWS_107",
                "a permissions boundary grants nothing by itself; it caps the roles' own policies, "
                "which name their resources",
            ),
            (
                "CKV_AWS_108",
                "a permissions boundary grants nothing by itself; it caps the roles' own policies, "
                "which name their resources",
            ),
            (
                "CKV_AWS_109",
                "a permissions boundary grants nothing by itself; it denies every change to itself and "
                "to any role's boundary",
            ),
            (
                "CKV_AWS_110",
                "the boundary's IAM allows name only the application's roles and policies and deny "
                "roles without this boundary",
            ),
            (
                "CKV_AWS_111",
                "a permissions boundary grants nothing by itself; it caps the roles' own policies, "
                "which name their resources",
            ),
        ):
            self.skip_check(boundary, check, why)
        self.suppress_guard(
            boundary,
            "IAM_MANAGEDPOLICY_NO_STATEMENTS_WITH_FULL_ACCESS",
            "a permissions boundary grants nothing by itself: <service>:* caps the roles to the "
            "application's services; "
            "IAM is allowed only on the application's own roles, and changes to the boundary or roles "
            "without it are denied",
        )
        self._boundary = boundary
        self.output(
            "PermissionsBoundaryArn", Ref(boundary), "Permissions boundary every role of the application carries"
        )
        return boundary

    def _boundary_arn(self) -> Any:
        if self.name == BOUNDARY_LAYER:
            if self._boundary is None:
                raise ValueError(
                    f"the {BOUNDARY_LAYER} layer adds a role before its permissions boundary (call "
                    "permissions_boundary() first)"
                )
            return Ref(self._boundary)
        if self.scope != "nested":
            # Stacks outside the root are deployed on their own, before the root on a first deploy:
            # the boundary would not exist yet when such a role is created.
            raise ValueError(
                f"{self.name} ({self.scope}) would create an IAM role outside the root stack, where the "
                "permissions boundary is not available"
            )
        if "PermissionsBoundaryArn" not in self.template.parameters:
            self.input(
                "PermissionsBoundaryArn",
                f"{BOUNDARY_LAYER}.PermissionsBoundaryArn",
                "Permissions boundary every role carries",
            )
        return Ref("PermissionsBoundaryArn")

    def skip_check(self, resource: AWSObject, check_id: str, reason: str) -> None:
        """Declare a checkov skip on the resource, with the reason a reviewer reads beside it."""
        metadata = dict(getattr(resource, "Metadata", None) or {})
        skips = [*metadata.get("checkov", {}).get("skip", []), {"id": check_id, "comment": reason}]
        metadata["checkov"] = {"skip": sorted(skips, key=lambda s: s["id"])}
        resource.Metadata = metadata
        for rule in CHECKOV_TWINS.get(check_id, ()):
            self.suppress_guard(resource, rule, reason)

    def suppress_guard(self, resource: AWSObject, rule: str, reason: str) -> None:
        """Declare an AWS Guard Rules Registry exception on the resource (templates/guard.py)."""
        guard_suppress(resource, rule, reason)

    def output(self, name: str, value: Any, description: str, *, root: bool = False) -> Output:
        """An output; root=True also shows it among the root stack's outputs (endpoints, ARNs)."""
        if root:
            self._root_outputs.append(name)
        return self.template.add_output(Output(name, Value=value, Description=description))

    # -------------------------------------------------------------- vocabulary

    def tags(self, kind: str | None = None, qualifier: str | None = None, **extra: str) -> Tags:
        """The profile's tags, sorted, plus a Name following the naming convention."""
        values = dict(self.cfg.all_tags)
        if kind:
            values["Name"] = self.cfg.name(kind, qualifier)
        values.update(extra)
        return Tags(**dict(sorted(values.items())))

    def tag_list(self, kind: str | None = None, qualifier: str | None = None) -> list[dict[str, str]]:
        """Tags as [{Key, Value}] for the few types whose Tags property is not the usual list."""
        return self.tags(kind, qualifier).to_dict()

    def named(self, kind: str, qualifier: str | None = None) -> str:
        """A physical name by the convention: named("alb") -> alb-pr5706."""
        return self.cfg.name(kind, qualifier)

    # -------------------------------------------------------------- finish

    def build(self) -> Layer:
        metadata: dict[str, Any] = {"cfn-strata": strata_metadata(self.cfg, self.name)}
        if self._groups:
            metadata["AWS::CloudFormation::Interface"] = {
                "ParameterGroups": [
                    {"Label": {"default": g.label}, "Parameters": g.parameters} for g in self._groups.values()
                ],
                "ParameterLabels": {p: {"default": label} for p, label in self._labels.items()},
            }
        self.template.set_metadata(metadata)
        declare_guard_exceptions(self.template)
        return Layer(
            self.name,
            self.template,
            dict(self._inputs),
            tuple(self._knobs),
            tuple(self._stateful),
            tuple(self._root_outputs),
            self.scope,
            dict(self._knob_keys),
            self.family,
        )


# Services per nested stack when a profile has more than this: compute declares ~8 parameters
# per service (4 knobs, 4 inputs), so 20 keep a part at ~160 of CloudFormation's 200.
SERVICES_PER_STACK = 20


def service_groups(cfg: AppConfig) -> list[dict]:
    """The profile's services in groups of SERVICES_PER_STACK, in params order; one group (all
    of them) when they fit one stack."""
    names = list(cfg.services)
    return [
        {name: cfg.services[name] for name in names[i : i + SERVICES_PER_STACK]}
        for i in range(0, len(names), SERVICES_PER_STACK)
    ] or [{}]


# Service principals whose assume-role request carries aws:SourceAccount, so a trust policy can
# require this account (confused-deputy protection). A condition on a key the service does not send
# denies every assumption, so a service is listed only where its guide documents the key:
# ecs-tasks (ECS task IAM role), vpc-flow-logs (VPC flow logs IAM role), monitoring.rds (Enhanced
# Monitoring role) and rds (RDS Proxy's secret role). Left out, as their guides write the trust without
# a condition: codebuild/codepipeline/cloudformation (the pipeline's roles), ec2 (instance profile),
# ecs (the blue/green load-balancer role: "Amazon ECS infrastructure IAM role for load balancers"),
# backup ("IAM service roles"; its confused-deputy guidance is about resource policies) and lambda
# (Synthetics "Required roles and permissions for canaries").
SENDS_SOURCE_ACCOUNT = frozenset(
    {"ecs-tasks.amazonaws.com", "vpc-flow-logs.amazonaws.com", "monitoring.rds.amazonaws.com", "rds.amazonaws.com"}
)


def trust_policy(service: str, *, sid: str | None = None):
    """The assume-role policy of a service role: `service` may assume it, for this account only where
    the service sends aws:SourceAccount (SENDS_SOURCE_ACCOUNT)."""
    from awacs.aws import Allow, Condition, PolicyDocument, Principal, Statement, StringEquals
    from awacs.sts import AssumeRole
    from troposphere import AccountId

    statement: dict[str, Any] = {"Effect": Allow, "Principal": Principal("Service", service), "Action": [AssumeRole]}
    if sid:
        statement["Sid"] = sid
    if service in SENDS_SOURCE_ACCOUNT:
        statement["Condition"] = Condition(StringEquals("aws:SourceAccount", AccountId))
    return PolicyDocument(Version="2012-10-17", Statement=[Statement(**statement)])


# ------------------------------------------------------------------ the permissions boundary
#
# Every IAM role the templates create carries one customer managed policy as its permissions boundary
# (IAM user guide, "Permissions boundaries for IAM entities"): a role's effective permissions are the
# intersection of its own policies and the boundary. The pipeline's CloudFormation role may create and
# change roles only when they carry this boundary (condition key iam:PermissionsBoundary, IAM service
# authorization reference), and the boundary denies every change to itself and every role without it,
# so no role of the application, the CloudFormation role included, can grant more than the boundary.

BOUNDARY_LAYER = "network"  # the first layer: its stack exists before any other layer's role

# What the application's roles reach, by service (the boundary allows no other service): the services
# of the resources the stacks create (the CloudFormation role carries the boundary too:
# test_the_boundary_lets_the_cloudformation_role_make_every_call), plus what the running application and
# the AWS managed policies its roles attach use: ECS exec and the SSM agent (ssmmessages, ec2messages),
# IAM database authentication (rds-db), AWS Backup's storage and tag selection (backup-storage, tag:
# AWSBackupServiceRolePolicyForBackup), CodeCommit sources (codecommit).
# iam is not among them: the boundary allows only BOUNDARY_IAM_ACTIONS on the application's own roles.
BOUNDARY_SERVICES = (
    "acm",
    "apigateway",
    "application-autoscaling",
    "autoscaling",
    "backup",
    "backup-storage",
    "cloudformation",
    "cloudfront",
    "cloudtrail",
    "cloudwatch",
    "codebuild",
    "codecommit",
    "codeconnections",
    "codedeploy",
    "codepipeline",
    "codestar-connections",
    "cognito-idp",
    "ec2",
    "ec2messages",
    "ecr",
    "ecs",
    "elasticache",
    "elasticfilesystem",
    "elasticloadbalancing",
    "events",
    "kms",
    "lambda",
    "logs",
    "rds",
    "rds-db",
    "route53",
    "s3",
    "secretsmanager",
    "sns",
    "ssm",
    "ssmmessages",
    "synthetics",
    "tag",
    "wafv2",
    "xray",
)

# The role-changing calls that carry iam:PermissionsBoundary (IAM service authorization reference,
# "Actions, resources, and condition keys for AWS Identity and Access Management": CreateRole,
# PutRolePermissionsBoundary, PutRolePolicy, DeleteRolePolicy, AttachRolePolicy, DetachRolePolicy).
BOUNDARY_CONDITIONED = (
    "iam:AttachRolePolicy",
    "iam:CreateRole",
    "iam:DeleteRolePolicy",
    "iam:DetachRolePolicy",
    "iam:PutRolePermissionsBoundary",
    "iam:PutRolePolicy",
)
# IAM calls CloudFormation makes for the application's roles, instance profiles and managed policies
# (AWS::IAM::Role, InstanceProfile, Policy and ManagedPolicy), besides BOUNDARY_CONDITIONED.
IAM_MANAGE_ACTIONS = (
    "iam:AddRoleToInstanceProfile",
    "iam:CreateInstanceProfile",
    "iam:CreatePolicy",
    "iam:CreatePolicyVersion",
    "iam:DeleteInstanceProfile",
    "iam:DeletePolicy",
    "iam:DeletePolicyVersion",
    "iam:DeleteRole",
    "iam:GetInstanceProfile",
    "iam:GetPolicy",
    "iam:GetPolicyVersion",
    "iam:GetRole",
    "iam:GetRolePolicy",
    "iam:ListAttachedRolePolicies",
    "iam:ListEntitiesForPolicy",
    "iam:ListInstanceProfilesForRole",
    "iam:ListPolicyVersions",
    "iam:ListRolePolicies",
    "iam:ListRoleTags",
    "iam:RemoveRoleFromInstanceProfile",
    "iam:TagInstanceProfile",
    "iam:TagPolicy",
    "iam:TagRole",
    "iam:UntagInstanceProfile",
    "iam:UntagPolicy",
    "iam:UntagRole",
    "iam:UpdateAssumeRolePolicy",
    "iam:UpdateRole",
    "iam:UpdateRoleDescription",
)
# Services the application's roles are passed to (iam:PassedToService): the principals of their trust
# policies, and Synthetics, which runs a canary's Lambda function with the canary's role.
PASSED_TO_SERVICES = (
    "backup.amazonaws.com",
    "cloudformation.amazonaws.com",
    "codebuild.amazonaws.com",
    "codepipeline.amazonaws.com",
    "ec2.amazonaws.com",
    "ecs-tasks.amazonaws.com",
    "ecs.amazonaws.com",
    "lambda.amazonaws.com",
    "monitoring.rds.amazonaws.com",
    "rds.amazonaws.com",
    "synthetics.amazonaws.com",
    "vpc-flow-logs.amazonaws.com",
)
# Service-linked roles the services the stacks use create on first use (iam:AWSServiceName).
SERVICE_LINKED_ROLES = (
    "autoscaling.amazonaws.com",
    "backup.amazonaws.com",
    "ecs.amazonaws.com",
    "ecs.application-autoscaling.amazonaws.com",
    "elasticache.amazonaws.com",
    "elasticfilesystem.amazonaws.com",
    "elasticloadbalancing.amazonaws.com",
    "ops.apigateway.amazonaws.com",
    "rds.amazonaws.com",
    "wafv2.amazonaws.com",
)
# The boundary's own policy versions and tags: nobody under the boundary changes it.
BOUNDARY_SELF_ACTIONS = (
    "iam:CreatePolicyVersion",
    "iam:DeletePolicy",
    "iam:DeletePolicyVersion",
    "iam:SetDefaultPolicyVersion",
    "iam:TagPolicy",
    "iam:UntagPolicy",
)


def boundary_name(cfg: AppConfig) -> str:
    return cfg.name("permissions-boundary")


def iam_arn(path: str):
    """arn:<partition>:iam::<account>:<path>"""
    from troposphere import Sub

    return Sub(f"arn:${{AWS::Partition}}:iam::${{AWS::AccountId}}:{path}")


def boundary_arn(cfg: AppConfig):
    return iam_arn(f"policy/{boundary_name(cfg)}")


def own_iam_arns(cfg: AppConfig) -> dict[str, list]:
    """The application's IAM names: roles and instance profiles named `<kind>-<suffix>`, or named by
    CloudFormation after the stack (`<application>-<suffix>-<Layer>Stack-...`), managed policies
    `<kind>-<suffix>`."""
    from templates.naming import stack_name

    suffix, stack = cfg.suffix, stack_name(cfg)
    return {
        "role": [iam_arn(f"role/*-{suffix}"), iam_arn(f"role/{stack}-*")],
        "instance-profile": [iam_arn(f"instance-profile/*-{suffix}"), iam_arn(f"instance-profile/{stack}-*")],
        "policy": [iam_arn(f"policy/*-{suffix}")],
    }


def boundary_document(cfg: AppConfig):
    """Allows the application's services and, in IAM, only its own roles, instance profiles and
    policies; denies changing the boundary, removing a boundary, and creating or changing a role that
    would not carry this boundary."""
    from awacs.aws import Action, Allow, Condition, Deny, PolicyDocument, Statement, StringEquals, StringNotEquals

    def actions(names):
        return [Action(*name.split(":", 1)) for name in names]

    own = own_iam_arns(cfg)
    arn = boundary_arn(cfg)
    return PolicyDocument(
        Version="2012-10-17",
        Statement=[
            Statement(
                Sid="ApplicationServices",
                Effect=Allow,
                Action=[Action(service, "*") for service in BOUNDARY_SERVICES],
                Resource=["*"],
            ),
            Statement(
                Sid="OwnIamResources",
                Effect=Allow,
                Action=actions(sorted({*IAM_MANAGE_ACTIONS, *BOUNDARY_CONDITIONED})),
                Resource=[*own["role"], *own["instance-profile"], *own["policy"]],
            ),
            Statement(
                Sid="PassOwnRoles",
                Effect=Allow,
                Action=actions(["iam:PassRole"]),
                Resource=own["role"],
                Condition=Condition(StringEquals("iam:PassedToService", list(PASSED_TO_SERVICES))),
            ),
            Statement(
                Sid="ServiceLinkedRoles",
                Effect=Allow,
                Action=actions(["iam:CreateServiceLinkedRole"]),
                Resource=[iam_arn("role/aws-service-role/*")],
                Condition=Condition(StringEquals("iam:AWSServiceName", list(SERVICE_LINKED_ROLES))),
            ),
            Statement(
                Sid="DenyChangingTheBoundary", Effect=Deny, Action=actions(BOUNDARY_SELF_ACTIONS), Resource=[arn]
            ),
            Statement(
                Sid="DenyRemovingBoundaries",
                Effect=Deny,
                Action=actions(["iam:DeleteRolePermissionsBoundary"]),
                Resource=["*"],
            ),
            Statement(
                Sid="DenyRolesWithoutTheBoundary",
                Effect=Deny,
                Action=actions(BOUNDARY_CONDITIONED),
                Resource=["*"],
                Condition=Condition(StringNotEquals("iam:PermissionsBoundary", arn)),
            ),
        ],
    )


def account_administers_key():
    """The key-policy statement every KMS key starts with: the account administers the key through
    IAM (KMS developer guide, "Default key policy"); grants to services follow it."""
    from awacs import kms as awacs_kms
    from awacs.aws import Allow, Principal, Statement
    from troposphere import Sub

    return Statement(
        Sid="AccountAdministersThroughIam",
        Effect=Allow,
        Principal=Principal("AWS", Sub("arn:${AWS::Partition}:iam::${AWS::AccountId}:root")),
        Action=[awacs_kms.Action("*")],
        Resource=["*"],
    )


def strata_metadata(cfg: AppConfig, layer: str) -> dict[str, str]:
    """Template-level Metadata the project's lint rules read (E9001 knows the stage from it)."""
    return {
        "application": cfg.application,
        "environment": cfg.environment.name,
        "layer": layer,
        "stage": cfg.environment.stage,
    }


def _words(name: str) -> str:
    """VpcId -> Vpc Id"""
    out = ""
    for index, char in enumerate(name):
        if char.isupper() and index and not name[index - 1].isupper():
            out += " "
        out += char
    return out


def logical_id(*parts: str) -> str:
    """("service", "api-v2", "TargetGroup") -> ServiceApiV2TargetGroup: stable, readable ids."""
    return "".join(
        word.capitalize() if word[:1].islower() else word
        for part in parts
        for word in part.replace("_", "-").split("-")
    )

"""security layer: the security-group chain (load balancer -> each service port -> database /
proxy / cache / EFS port, nothing wider), the application KMS key, IAM roles built with awacs
(task execution role, one task role per service scoped to the ARNs it reads) and the secrets.
"""

from __future__ import annotations

import json

from awacs import kms as awacs_kms
from awacs import secretsmanager as awacs_secrets
from awacs.aws import Allow, Condition, PolicyDocument, Principal, Statement, StringEquals, StringLike
from troposphere import AccountId, GetAtt, Ref, Sub, ec2, iam, kms, secretsmanager

from templates.common import Layer, LayerBuilder, account_administers_key, logical_id, trust_policy
from templates.config import CLOUDFRONT_ORIGIN_FACING_PREFIX_LISTS, AppConfig

CACHE_PORT = 6379
EFS_PORT = 2049
# CloudFormation removes a group's default allow-all egress only when some egress is declared
# inline; this rule matches no traffic (the same one the AWS CDK uses), so the group has none.
NO_EGRESS = ec2.SecurityGroupRule(
    IpProtocol="icmp", FromPort=252, ToPort=86, CidrIp="255.255.255.255/32", Description="Disallow all traffic"
)


# Security groups are named `security-group-<role>-<suffix>` (seed 004's `{resource-type}-...`):
# EC2 refuses a GroupName that starts with "sg-" (CreateSecurityGroup, GroupName), and
# templates/naming.py checks every name at params time.
SECURITY_GROUP = "security-group"


def group_name(cfg: AppConfig, role: str) -> str:
    """The GroupName of the security group for `role` ("alb", "service-api", "database", ...)."""
    return cfg.name(SECURITY_GROUP, role)


def group_roles(cfg: AppConfig) -> dict[str, str]:
    """{role: params key} of every security group the generator names, for the params-time name check."""
    roles = {"alb": "environment.suffix"}
    roles |= {f"service-{name}": f"services.{name}" for name in cfg.services}
    if "EC2" in cfg.compute.capacity_providers:
        roles["ecs-instances"] = "compute.capacity_providers"
    if cfg.database:
        roles["database"] = "database"
        if cfg.database.proxy:
            roles["db-proxy"] = "database.proxy"
    if cfg.cache:
        roles["cache"] = "cache"
    if cfg.efs:
        roles["efs"] = "efs"
    if cfg.edge.api_gateway.enabled and cfg.edge.api_gateway.integration == "vpc_link":
        roles["api-vpc-link"] = "edge.api_gateway.integration"
    return roles


def _group(
    b: LayerBuilder, title: str, role: str, description: str, vpc_id, *, ingress=None, egress=None, metadata=None
) -> ec2.SecurityGroup:
    """GroupName and GroupDescription are create-only and the group is custom-named, so a change to
    either cannot be deployed (CloudFormation refuses to replace a custom-named resource): the
    description names the role, never a port, count or other value a params change can move."""
    group = ec2.SecurityGroup(
        title,
        GroupName=group_name(b.cfg, role),
        GroupDescription=description,
        VpcId=vpc_id,
        SecurityGroupIngress=ingress or [],
        SecurityGroupEgress=egress or [NO_EGRESS],
        Tags=b.tags(SECURITY_GROUP, role),
    )
    if metadata:
        group.Metadata = metadata
    return b.add(group)


def _allow(b: LayerBuilder, source: ec2.SecurityGroup, target: ec2.SecurityGroup, port: int, why: str) -> None:
    """source may open `port` on target: one egress rule on source, one ingress rule on target."""
    b.add(
        ec2.SecurityGroupEgress(
            f"{source.title}To{target.title.removesuffix('SecurityGroup')}Egress",
            GroupId=GetAtt(source, "GroupId"),
            IpProtocol="tcp",
            FromPort=port,
            ToPort=port,
            DestinationSecurityGroupId=GetAtt(target, "GroupId"),
            Description=f"{why} (tcp {port})",
        )
    )
    b.add(
        ec2.SecurityGroupIngress(
            f"{target.title}From{source.title.removesuffix('SecurityGroup')}Ingress",
            GroupId=GetAtt(target, "GroupId"),
            IpProtocol="tcp",
            FromPort=port,
            ToPort=port,
            SourceSecurityGroupId=GetAtt(source, "GroupId"),
            Description=f"{why} (tcp {port})",
        )
    )


def _security_groups(b: LayerBuilder, vpc_id) -> dict[str, ec2.SecurityGroup]:
    cfg = b.cfg
    groups: dict[str, ec2.SecurityGroup] = {}
    edge = cfg.edge
    if edge.cloudfront_fronts_alb:
        # Only CloudFront reaches the load balancer, on the one port it uses as origin (a viewer
        # going around CloudFront would skip its web ACL). One rule: a managed prefix list counts
        # as many rules as its maximum entries (about 55 for this one) against the group's quota
        # of 60 inbound rules (VPC user guide, "Prefix lists" weight, and "Amazon VPC quotas"), so
        # a second port from the list would not fit.
        port = edge.cloudfront_origin_port
        ingress = [
            ec2.SecurityGroupRule(
                IpProtocol="tcp",
                FromPort=port,
                ToPort=port,
                SourcePrefixListId=CLOUDFRONT_ORIGIN_FACING_PREFIX_LISTS[cfg.region],
                Description="CloudFront origin-facing addresses only (com.amazonaws.global.cloudfront.origin-facing)",
            )
        ]
        description = "Load balancer: from CloudFront only, out only to the service ports"
    else:
        ingress = [
            ec2.SecurityGroupRule(
                IpProtocol="tcp", FromPort=80, ToPort=80, CidrIp="0.0.0.0/0", Description="HTTP from the internet"
            )
        ]
        description = "Load balancer: HTTP/HTTPS from the internet, out only to the service ports"
    groups["alb"] = _group(
        b,
        "AlbSecurityGroup",
        "alb",
        description,
        vpc_id,
        ingress=ingress,
        # The ALB lives in the edge layer: this declares the group is its own, which is what lets
        # rule E9002 accept the internet-facing listener ports here and nowhere else.
        metadata={"cfn-strata": {"attached_to": "load-balancer"}},
    )
    if not edge.cloudfront_fronts_alb:
        b.skip_check(
            groups["alb"],
            "CKV_AWS_260",
            "the public load balancer's HTTP listener (seed 004: HTTP 80 from the internet); it redirects to HTTPS "
            "when a certificate is given",
        )
        https = edge.alb.https_port
        b.add(
            ec2.SecurityGroupIngress(
                "AlbSecurityGroupHttpsIngress",
                Condition=b.certificate_condition(),
                GroupId=GetAtt(groups["alb"], "GroupId"),
                IpProtocol="tcp",
                FromPort=https,
                ToPort=https,
                CidrIp="0.0.0.0/0",
                Description="HTTPS from the internet (only when a certificate is given)",
            )
        )
    https_out = ec2.SecurityGroupRule(
        IpProtocol="tcp",
        FromPort=443,
        ToPort=443,
        CidrIp="0.0.0.0/0",
        Description="HTTPS to AWS APIs (image pulls, secrets, logs)",
    )
    for svc_name, svc in cfg.services.items():
        # Fargate pulls images, reads secrets and ships logs over HTTPS from the task's own ENI.
        # A worker's group has the same (create-only) description, so turning a service into a
        # worker or back never replaces its custom-named group; a worker's has no ingress at all.
        group = _group(
            b,
            logical_id("service", svc_name, "SecurityGroup"),
            f"service-{svc_name}",
            f"Service {svc_name}: its container port from the load balancer only, HTTPS out",
            vpc_id,
            egress=[https_out],
        )
        groups[f"service:{svc_name}"] = group
        if not svc.is_worker:
            _allow(b, groups["alb"], group, svc.port, f"load balancer to service {svc_name}")

    if "EC2" in cfg.compute.capacity_providers:
        groups["instances"] = _group(
            b,
            "InstanceSecurityGroup",
            "ecs-instances",
            "ECS container instances: no ingress, HTTPS out to the ECS, ECR and logs APIs",
            vpc_id,
            egress=[https_out],
        )

    db = cfg.database
    if db:
        groups["database"] = _group(
            b,
            "DatabaseSecurityGroup",
            "database",
            "Database: the database port from its clients only, no egress",
            vpc_id,
        )
        clients = [name for name, svc in cfg.services.items() if "database" in svc.secrets] or list(cfg.services)
        if db.proxy:
            # The proxy fetches the database secret from Secrets Manager over HTTPS from its own
            # ENIs ("RDS Proxy ... network prerequisites": NAT or a secretsmanager endpoint, and
            # outbound 443 in the proxy's security group); without it the target never comes up.
            secrets_out = ec2.SecurityGroupRule(
                IpProtocol="tcp",
                FromPort=443,
                ToPort=443,
                CidrIp="0.0.0.0/0",
                Description="HTTPS to Secrets Manager (the proxy reads the database secret)",
            )
            groups["proxy"] = _group(
                b,
                "ProxySecurityGroup",
                "db-proxy",
                "RDS Proxy: the database port from the services, out to the database and to Secrets Manager",
                vpc_id,
                egress=[secrets_out],
            )
            _allow(b, groups["proxy"], groups["database"], db.port, "proxy to database")
        for name in clients:
            target = groups["proxy"] if db.proxy else groups["database"]
            _allow(b, groups[f"service:{name}"], target, db.port, f"service {name} to the database")
            if db.proxy and (db.replicas or db.is_aurora):
                # The proxy's one endpoint is the writer; the read replicas (Aurora: the reader
                # endpoint) are reached directly, through the database group.
                _allow(
                    b, groups[f"service:{name}"], groups["database"], db.port, f"service {name} to the read replicas"
                )
    if cfg.cache:
        groups["cache"] = _group(
            b, "CacheSecurityGroup", "cache", "Redis: the Redis port from the services only, no egress", vpc_id
        )
        for name in cfg.services:
            _allow(b, groups[f"service:{name}"], groups["cache"], CACHE_PORT, f"service {name} to Redis")
    if cfg.efs:
        groups["efs"] = _group(
            b, "EfsSecurityGroup", "efs", "EFS: NFS from the services that mount it, no egress", vpc_id
        )
        for name, svc in cfg.services.items():
            if svc.efs_mount_path:
                _allow(b, groups[f"service:{name}"], groups["efs"], EFS_PORT, f"service {name} mounts EFS")
    return groups


def _key(b: LayerBuilder) -> kms.Key:
    cfg = b.cfg
    return b.add(
        kms.Key(
            "ApplicationKey",
            Description=f"Encrypts the data, secrets and logs of {cfg.application} {cfg.environment.name}",
            EnableKeyRotation=True,
            KeyPolicy=PolicyDocument(
                Version="2012-10-17",
                Statement=[
                    account_administers_key(),
                    Statement(
                        Sid="CloudWatchLogsEncryptsTheApplicationsLogGroups",
                        Effect=Allow,
                        Principal=Principal("Service", Sub("logs.${AWS::Region}.amazonaws.com")),
                        Action=[
                            awacs_kms.Encrypt,
                            awacs_kms.Decrypt,
                            awacs_kms.Action("ReEncrypt*"),
                            awacs_kms.Action("GenerateDataKey*"),
                            awacs_kms.DescribeKey,
                        ],
                        Resource=["*"],
                        Condition=Condition(
                            StringLike(
                                "kms:EncryptionContext:aws:logs:arn",
                                Sub("arn:${AWS::Partition}:logs:${AWS::Region}:${AWS::AccountId}:log-group:*"),
                            )
                        ),
                    ),
                    Statement(
                        Sid="CloudWatchAlarmsPublishToTheEncryptedTopic",
                        Effect=Allow,
                        Principal=Principal("Service", "cloudwatch.amazonaws.com"),
                        Action=[awacs_kms.Decrypt, awacs_kms.GenerateDataKey],
                        Resource=["*"],
                        Condition=Condition(StringEquals("aws:SourceAccount", AccountId)),
                    ),
                ],
            ),
            Tags=b.tags("kms"),
        )
    )


def _secrets(b: LayerBuilder, key: kms.Key) -> dict[str, secretsmanager.Secret]:
    cfg = b.cfg
    window = cfg.security.secret_recovery_window_days
    # CloudFormation has no recovery-window property: the window is recorded here and in the
    # manifest for `destroy`, and a 0-day (test) secret is simply deleted with its stack.
    metadata = {"cfn-strata": {"RecoveryWindowInDays": window}}
    secrets: dict[str, secretsmanager.Secret] = {}
    if cfg.database and not cfg.database.managed_master_password:  # else RDS creates it (data layer)
        secret = secretsmanager.Secret(
            "DatabaseSecret",
            Name=b.named("db-credentials"),
            Description=f"Master credentials of the {cfg.database.engine} database (generated password)",
            KmsKeyId=Ref(key),
            GenerateSecretString=secretsmanager.GenerateSecretString(
                SecretStringTemplate=json.dumps({"username": cfg.database.master_username}),
                GenerateStringKey="password",
                PasswordLength=32,
                ExcludeCharacters="\"@/\\' `",
            ),
            Metadata=metadata,
            Tags=b.tags("db-credentials"),
        )
        secrets["database"] = b.add(secret)
    for name in cfg.security.app_secrets:
        secret = secretsmanager.Secret(
            logical_id("app", name, "Secret"),
            Name=b.named(name),
            Description=f"Application secret {name}: set its value with put-secret-value after the first deploy",
            KmsKeyId=Ref(key),
            GenerateSecretString=secretsmanager.GenerateSecretString(
                SecretStringTemplate="{}", GenerateStringKey="placeholder", PasswordLength=32
            ),
            Metadata=metadata,
            Tags=b.tags(name),
        )
        secrets[name] = b.add(secret)
    return secrets


def _read_secrets(arns: list, key: kms.Key) -> iam.Policy:
    return iam.Policy(
        PolicyName="read-own-secrets",
        PolicyDocument=PolicyDocument(
            Version="2012-10-17",
            Statement=[
                Statement(
                    Effect=Allow, Action=[awacs_secrets.GetSecretValue, awacs_secrets.DescribeSecret], Resource=arns
                ),
                Statement(Effect=Allow, Action=[awacs_kms.Decrypt], Resource=[GetAtt(key, "Arn")]),
            ],
        ),
    )


def _roles(b: LayerBuilder, key: kms.Key, secrets: dict[str, secretsmanager.Secret]) -> None:
    cfg = b.cfg
    # The secrets this layer holds; an RDS-managed database secret is granted by the data layer,
    # which creates it (database.managed_master_password), to the roles named in the outputs below.
    injected = sorted({s for svc in cfg.services.values() for s in svc.secrets if s in secrets})
    managed_readers = cfg.database is not None and cfg.database.managed_master_password
    execution = b.add(
        iam.Role(
            "TaskExecutionRole",
            RoleName=b.named("ecs-task-execution"),
            Description="ECS agent: pull images, write logs, inject the services' secrets",
            AssumeRolePolicyDocument=trust_policy("ecs-tasks.amazonaws.com"),
            ManagedPolicyArns=[
                Sub("arn:${AWS::Partition}:iam::aws:policy/service-role/AmazonECSTaskExecutionRolePolicy")
            ],
            Policies=[_read_secrets([Ref(secrets[s]) for s in injected], key)] if injected else [],
            Tags=b.tags("ecs-task-execution"),
        )
    )
    b.output("TaskExecutionRoleArn", GetAtt(execution, "Arn"), "Role the ECS agent uses for the tasks")
    if managed_readers and any("database" in svc.secrets for svc in cfg.services.values()):
        b.output(
            "TaskExecutionRoleName",
            Ref(execution),
            "Task execution role name (the data layer grants it the RDS-managed database secret)",
        )
    for svc_name, svc in cfg.services.items():
        managed = [Sub("arn:${AWS::Partition}:iam::aws:policy/AWSXRayDaemonWriteAccess")] if svc.xray else []
        role = b.add(
            iam.Role(
                logical_id("service", svc_name, "TaskRole"),
                RoleName=b.named("ecs-task", svc_name),
                Description=f"Service {svc_name}: reads only its own secrets",
                AssumeRolePolicyDocument=trust_policy("ecs-tasks.amazonaws.com"),
                ManagedPolicyArns=managed,
                Policies=[_read_secrets([Ref(secrets[s]) for s in svc.secrets if s in secrets], key)]
                if any(s in secrets for s in svc.secrets)
                else [],
                Tags=b.tags("ecs-task", svc_name),
            )
        )
        b.output(
            logical_id("service", svc_name, "TaskRoleArn"), GetAtt(role, "Arn"), f"Task role of service {svc_name}"
        )
        if svc.efs_mount_path or (managed_readers and "database" in svc.secrets):
            # The compute layer attaches the EFS access policy to it, the data layer the read of an
            # RDS-managed database secret (outputs stay under 200 at scale).
            b.output(
                logical_id("service", svc_name, "TaskRoleName"),
                Ref(role),
                f"Task role name of service {svc_name} (for policies other layers attach)",
            )


def build(cfg: AppConfig) -> Layer:
    b = LayerBuilder(cfg, "security", "security groups, KMS key, IAM roles and secrets")
    vpc_id = Ref(b.input("VpcId", "network.VpcId", "VPC the security groups belong to", type="AWS::EC2::VPC::Id"))
    if not cfg.edge.cloudfront_fronts_alb:  # else no HTTPS from the internet: only CloudFront reaches the ALB
        b.certificate_condition()

    groups = _security_groups(b, vpc_id)
    key = _key(b)
    secrets = _secrets(b, key)
    _roles(b, key, secrets)

    for role, group in groups.items():
        kind, _, qualifier = role.partition(":")
        output = logical_id(kind, qualifier, "SecurityGroupId") if qualifier else logical_id(kind, "SecurityGroupId")
        b.output(output, GetAtt(group, "GroupId"), f"Security group: {group.properties['GroupDescription']}")
    b.output("KmsKeyArn", GetAtt(key, "Arn"), "Application KMS key ARN")
    b.output("KmsKeyId", Ref(key), "Application KMS key id")
    for name, secret in secrets.items():
        b.output(logical_id(name, "SecretArn"), Ref(secret), f"ARN of the {name} secret", root=name == "database")
    return b.build()

"""The params model: one typed, immutable `AppConfig` per application and environment.

Every field states its description and default here, once; the README's params reference is
generated from this module (`cfn-strata params-reference`). Structural choices (engine, AZ count,
which services exist) live here and shape the templates; knobs an operator turns at deploy time
become CloudFormation Parameters whose defaults come from these values.
"""

from __future__ import annotations

import ipaddress
import math
import re
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from templates.catalog import REGIONS, supported_versions
from templates.errors import ConfigError  # noqa: F401 (re-exported: raised by the model's validators)
from templates.naming import resource_name

IDENTIFIER = r"^[a-z][a-z0-9]*(?:-[a-z0-9]+)*$"
# Values CloudWatch Logs accepts for RetentionInDays.
LOG_RETENTION_DAYS = (
    1,
    3,
    5,
    7,
    14,
    30,
    60,
    90,
    120,
    150,
    180,
    365,
    400,
    545,
    731,
    1096,
    1827,
    2192,
    2557,
    2922,
    3288,
    3653,
)
# CPU units -> memory (MiB) Fargate accepts for that CPU.
FARGATE_MEMORY = {
    256: (512, 1024, 2048),
    512: tuple(range(1024, 4097, 1024)),
    1024: tuple(range(2048, 8193, 1024)),
    2048: tuple(range(4096, 16385, 1024)),
    4096: tuple(range(8192, 30721, 1024)),
    8192: tuple(range(16384, 61441, 4096)),
    16384: tuple(range(32768, 122881, 8192)),
}
# Seed documents name versions AWS no longer creates although cfn-lint's data still lists them.
RETIRED_BY_SEED_README = {("aurora-postgresql", "16.4")}
# Aurora MySQL version 3 engine versions (MySQL 8.0 compatible, parameter group family aurora-mysql8.0).
AURORA_MYSQL_3 = "8.0.mysql_aurora.3."
# RDS storage types with provisioned IOPS, and their smallest volume (RDS User Guide, "Amazon RDS DB instance storage").
PROVISIONED_IOPS_STORAGE = ("io1", "io2")
PROVISIONED_IOPS_MIN_GIB = 100
# Instance classes without Performance Insights on Aurora MySQL.
AURORA_MYSQL_NO_INSIGHTS = ("db.t2.", "db.t3.", "db.t4g.micro", "db.t4g.small")
# Ports below this need root or CAP_NET_BIND_SERVICE to bind (Linux ip(7), "privileged ports").
PRIVILEGED_PORTS = 1024


class KeyedError(ValueError):
    """Raised by a model validator for one of its own keys: the loader appends `key` to the path."""

    def __init__(self, key: str, message: str):
        self.key = key
        super().__init__(message)


class Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, validate_default=True)


RetentionDays = Annotated[int, Field(description="CloudWatch Logs retention in days")]
Cidr = Annotated[str, Field(description="an IPv4 CIDR block, e.g. 10.0.1.0/24")]


def _retention(value: int) -> int:
    if value not in LOG_RETENTION_DAYS:
        raise ValueError(
            f"{value} is not a CloudWatch Logs retention; allowed: {', '.join(map(str, LOG_RETENTION_DAYS))}"
        )
    return value


def _cidr(value: str) -> str:
    try:
        network = ipaddress.IPv4Network(value, strict=True)
    except ValueError as err:
        raise ValueError(f"{value!r} is not a valid IPv4 CIDR block ({err})") from None
    if not 16 <= network.prefixlen <= 28:
        raise ValueError(f"{value}: AWS allows VPC and subnet prefixes from /16 to /28")
    return str(network)


# ------------------------------------------------------------------ environment and tags


class EnvironmentConfig(Model):
    """Which deployment this is. The environment name itself is the overlay file's name."""

    name: str = Field(
        "", description="Environment name; set from the overlay file name (dev.yaml -> dev), never written by hand."
    )
    stage: Literal["dev", "prod"] = Field(
        "dev",
        description="prod: stateful resources are retained/snapshotted on delete and replace, databases get "
        "deletion protection, NAT per AZ. dev: the cheaper, disposable choices the seeds allow for test "
        "environments.",
    )
    suffix: str = Field(
        description="environment_suffix of the naming convention `{resource-type}-{environment_suffix}` (seed 004), "
        "unique per deployment, e.g. pr5706.",
        pattern=r"^[a-z0-9][a-z0-9-]{0,22}[a-z0-9]$",
    )

    @property
    def is_prod(self) -> bool:
        return self.stage == "prod"


# ------------------------------------------------------------------ network


class FlowLogsConfig(Model):
    enabled: bool = Field(True, description="Send VPC flow logs to CloudWatch Logs.")
    retention_days: int = Field(30, description="Flow-log group retention in days.")
    traffic_type: Literal["ALL", "ACCEPT", "REJECT"] = Field("ALL", description="Which traffic the flow logs record.")

    _check_retention = field_validator("retention_days")(_retention)


class NetworkConfig(Model):
    vpc_cidr: Cidr = Field("10.0.0.0/16", description="The VPC's CIDR block.")
    az_count: int = Field(2, ge=2, le=6, description="How many availability zones the subnets spread over (2 to 6).")
    availability_zones: list[str] = Field(
        [], description="Explicit AZ names (e.g. eu-north-1a); empty picks the first az_count AZs with Fn::GetAZs."
    )
    public_subnets: list[Cidr] = Field(description="One public subnet CIDR per AZ (load balancer, NAT gateways).")
    private_subnets: list[Cidr] = Field(
        description="One private subnet CIDR per AZ (tasks, databases, caches, file systems)."
    )
    isolated_subnets: list[Cidr] = Field(
        [], description="Optional subnets with no route out of the VPC, one per AZ, for data stores."
    )
    nat_gateways: Literal["none", "single", "per_az"] | None = Field(
        None,
        description="NAT for the private subnets: none, single (one shared), per_az. Default: per_az in prod, "
        "single in dev.",
    )
    s3_gateway_endpoint: bool = Field(
        True, description="Add the S3 gateway endpoint to the private and isolated route tables."
    )
    interface_endpoints: list[
        Literal["ecr.api", "ecr.dkr", "logs", "secretsmanager", "ssm", "sts", "kms", "xray", "monitoring"]
    ] = Field([], description="Interface VPC endpoints to add in the private subnets.")
    flow_logs: FlowLogsConfig = Field(FlowLogsConfig(), description="VPC flow logs.")
    nacls: bool = Field(
        False,
        description="A network ACL per subnet tier (public, private, isolated) allowing only the traffic the "
        "profile's architecture uses, ephemeral return ports included; off leaves the VPC's default ACL "
        "(allow all) and the security groups as the only filter.",
    )

    _check_cidr = field_validator("vpc_cidr")(_cidr)

    @field_validator("public_subnets", "private_subnets", "isolated_subnets")
    @classmethod
    def _check_subnets(cls, value: list[str]) -> list[str]:
        return [_cidr(v) for v in value]

    @model_validator(mode="after")
    def _subnet_layout(self) -> NetworkConfig:
        """One subnet per AZ in each tier, each inside the VPC, none overlapping another (EC2
        CreateSubnet refuses both); the first problem, with how many more there are."""
        problems: list[tuple[str, str]] = []
        vpc = ipaddress.IPv4Network(self.vpc_cidr)
        seen: list[tuple[str, ipaddress.IPv4Network]] = []
        for group in ("public_subnets", "private_subnets", "isolated_subnets"):
            cidrs = getattr(self, group)
            if (group != "isolated_subnets" or cidrs) and len(cidrs) != self.az_count:
                problems.append((group, f"{len(cidrs)} subnets for az_count {self.az_count}: give one per AZ"))
            for index, text in enumerate(cidrs):
                subnet, key = ipaddress.IPv4Network(text), f"{group}[{index}]"
                if not subnet.subnet_of(vpc):
                    problems.append((key, f"{subnet} is not inside network.vpc_cidr {vpc}"))
                other_key = next((k for k, other in seen if subnet.overlaps(other)), None)
                if other_key:
                    problems.append((key, f"{subnet} overlaps network.{other_key}"))
                seen.append((key, subnet))
        if problems:
            (key, message), more = problems[0], len(problems) - 1
            raise KeyedError(key, message + (f" (and {more} more problem{'s' if more > 1 else ''})" if more else ""))
        return self


# ------------------------------------------------------------------ security


class SecurityConfig(Model):
    secret_recovery_window_days: int | None = Field(
        None,
        description="RecoveryWindowInDays of the generated secrets: 0 deletes at once (seed 004's test "
        "environments), 7 to 30 otherwise. Default: 0 in dev, 30 in prod.",
    )
    app_secrets: list[Annotated[str, Field(pattern=IDENTIFIER)]] = Field(
        [], description="Extra application secrets to create (e.g. api-urls), readable by the services that list them."
    )

    @field_validator("secret_recovery_window_days")
    @classmethod
    def _window(cls, value: int | None) -> int | None:
        if value is not None and value != 0 and not 7 <= value <= 30:
            raise ValueError(f"{value} is not allowed: 0 (delete at once) or 7 to 30 days")
        return value


# ------------------------------------------------------------------ compute


class Ec2CapacityConfig(Model):
    instance_type: str = Field(
        "t3.medium",
        pattern=r"^[a-z][a-z0-9-]*\.[a-z0-9]+$",
        description="Instance type of the ECS container instances.",
    )
    min_size: int = Field(2, ge=0, le=1000, description="Auto Scaling group minimum.")
    max_size: int = Field(10, ge=1, le=1000, description="Auto Scaling group maximum.")
    desired_capacity: int | None = Field(None, ge=0, description="Initial desired capacity; default min_size.")
    subnets: Literal["public", "private"] = Field("private", description="Which subnets the instances run in.")
    target_capacity_percent: int = Field(
        100, ge=1, le=100, description="Managed scaling target capacity of the capacity provider."
    )

    @model_validator(mode="after")
    def _bounds(self) -> Ec2CapacityConfig:
        if self.min_size > self.max_size:
            raise KeyedError("min_size", f"{self.min_size} is above max_size {self.max_size}")
        return self


class ComputeConfig(Model):
    capacity_providers: list[Literal["FARGATE", "FARGATE_SPOT", "EC2"]] = Field(
        ["FARGATE"],
        min_length=1,
        description="Capacity providers of the cluster; the first is the default strategy's base.",
    )
    ec2: Ec2CapacityConfig | None = Field(
        None,
        description="EC2 capacity (launch template + Auto Scaling group); required when EC2 is a capacity provider.",
    )
    container_insights: bool = Field(True, description="Turn on Container Insights for the cluster.")

    @model_validator(mode="after")
    def _ec2(self) -> ComputeConfig:
        if "EC2" in self.capacity_providers and self.ec2 is None:
            raise KeyedError("ec2", "required when EC2 is one of the capacity_providers")
        if len(set(self.capacity_providers)) != len(self.capacity_providers):
            raise KeyedError("capacity_providers", "lists a provider twice")
        if "EC2" in self.capacity_providers and len(self.capacity_providers) > 1:
            # ECS refuses a capacity provider strategy that mixes Auto Scaling group and Fargate providers.
            raise KeyedError(
                "capacity_providers",
                "EC2 cannot be combined with FARGATE or FARGATE_SPOT: one capacity provider strategy holds one kind",
            )
        return self


class HealthCheckConfig(Model):
    path: str = Field("/", pattern=r"^/[\w\-./~%]*$", description="Target-group health-check path.")
    interval_seconds: int = Field(30, ge=5, le=300, description="Seconds between health checks.")
    timeout_seconds: int = Field(5, ge=2, le=120, description="Seconds before a check counts as failed.")
    healthy_threshold: int = Field(3, ge=2, le=10, description="Consecutive successes before a target is healthy.")
    unhealthy_threshold: int = Field(2, ge=2, le=10, description="Consecutive failures before a target is unhealthy.")
    matcher: str = Field(
        "200-399", pattern=r"^\d{3}(-\d{3})?(,\d{3}(-\d{3})?)*$", description="HTTP codes that mean healthy."
    )
    grace_period_seconds: int = Field(
        60, ge=0, le=2147483647, description="ECS health-check grace period after a task starts."
    )

    @model_validator(mode="after")
    def _timing(self) -> HealthCheckConfig:
        if self.timeout_seconds >= self.interval_seconds:
            raise KeyedError(
                "timeout_seconds", f"{self.timeout_seconds} must be below interval_seconds {self.interval_seconds}"
            )
        return self


class AutoscalingConfig(Model):
    cpu_target: int | None = Field(
        70, ge=10, le=95, description="Target-tracking on average CPU (percent); null turns it off."
    )
    memory_target: int | None = Field(
        None, ge=10, le=95, description="Target-tracking on average memory (percent); null turns it off."
    )
    requests_per_target: int | None = Field(
        None, ge=1, description="Target-tracking on ALB requests per target; null turns it off."
    )
    scale_in_cooldown: int = Field(300, ge=0, le=3600, description="Seconds after a scale-in before another.")
    scale_out_cooldown: int = Field(60, ge=0, le=3600, description="Seconds after a scale-out before another.")


class EcrConfig(Model):
    scan_on_push: bool = Field(True, description="Scan images for vulnerabilities on push.")
    encryption: Literal["AES256", "KMS"] = Field("AES256", description="ECR encryption type.")
    keep_images: int = Field(20, ge=1, le=1000, description="Lifecycle policy: keep the last N images.")


class TrafficShiftingConfig(Model):
    """How ECS moves production traffic in a blue/green deployment (AWS::ECS::Service
    DeploymentConfiguration: Strategy, CanaryConfiguration / LinearConfiguration, BakeTimeInMinutes;
    ECS developer guide, "Amazon ECS blue/green deployments", canary and linear deployments)."""

    shift: Literal["all_at_once", "canary", "linear"] = Field(
        "canary",
        description="all_at_once: Strategy BLUE_GREEN; canary: percent first, the rest after interval_minutes; "
        "linear: percent every interval_minutes.",
    )
    percent: float = Field(
        10.0,
        description="canary: CanaryPercent (0.1 to 100); linear: StepPercent (3 to 100); multiples of 0.1. Unused "
        "by all_at_once.",
    )
    interval_minutes: int = Field(
        5,
        ge=0,
        le=1440,
        description="canary: CanaryBakeTimeInMinutes; linear: StepBakeTimeInMinutes. Unused by all_at_once.",
    )
    bake_time_minutes: int = Field(
        5,
        ge=0,
        le=1440,
        description="BakeTimeInMinutes: the old revision keeps running this long after all traffic moved, for an "
        "instant rollback.",
    )

    @model_validator(mode="after")
    def _percent(self) -> TrafficShiftingConfig:
        low = {"canary": 0.1, "linear": 3.0}.get(self.shift)
        if low is None:
            return self
        if not low <= self.percent <= 100 or abs(self.percent * 10 - round(self.percent * 10)) > 1e-9:
            raise KeyedError(
                "percent",
                f"{self.percent:g} is not a {self.shift} percent ECS accepts: a multiple of 0.1 from {low:g} to 100",
            )
        return self

    @property
    def strategy(self) -> str:
        """DeploymentConfiguration.Strategy."""
        return {"all_at_once": "BLUE_GREEN", "canary": "CANARY", "linear": "LINEAR"}[self.shift]

    @property
    def shifting_minutes(self) -> int:
        """Minutes from the first production shift until all traffic is on the new revision."""
        if self.shift == "canary":
            return self.interval_minutes
        if self.shift == "linear":
            return math.ceil(100 / self.percent - 1e-9) * self.interval_minutes
        return 0


class ServiceConfig(Model):
    port: int = Field(ge=1, le=65535, description="Container port the service listens on.")
    cpu: int = Field(1024, description="Task CPU units (1024 = 1 vCPU).")
    memory: int = Field(2048, description="Task memory in MiB; must pair with cpu as Fargate allows.")
    desired_count: int = Field(2, ge=0, le=1000, description="Initial desired task count (a deploy-time Parameter).")
    min_count: int = Field(2, ge=0, le=1000, description="Autoscaling minimum task count.")
    max_count: int = Field(10, ge=1, le=1000, description="Autoscaling maximum task count.")
    image_tag: str = Field(
        "",
        pattern=r"^([\w][\w.-]{0,127})?$",
        description="Image tag to pin (a deploy-time Parameter). Empty (the default): the pipeline decides; until "
        "its first run the service has no image and runs 0 tasks, and `deploy` keeps the tag the stack "
        "already runs. A pinned tag must exist in the service's ECR repository (`deploy` checks it).",
    )
    health_check: HealthCheckConfig = Field(
        HealthCheckConfig(), description="Load balancer and container health checks."
    )
    path_patterns: list[str] = Field(
        ["/*"],
        max_length=5,
        description="ALB listener-rule path patterns routed to this service. Empty ([]) makes it a worker: no "
        "target group, listener rule or load-balancer health check, no ingress from the load balancer, "
        "no load-balancer alarms; it keeps its repository, task definition, logs, autoscaling on "
        "cpu_target/memory_target, its container health check (health_check.path on port) and the "
        "security groups to the data it uses. A worker deploys rolling.",
    )
    priority: int | None = Field(
        None, ge=1, le=50000, description="Listener-rule priority; default: in service order, most specific first."
    )
    autoscaling: AutoscalingConfig = Field(AutoscalingConfig(), description="Target-tracking autoscaling.")
    environment: dict[str, str] = Field({}, description="Plain environment variables (never secrets).")
    secrets: list[str] = Field(
        [], description="Secrets injected as environment variables: `database` or a name from security.app_secrets."
    )
    efs_mount_path: str | None = Field(
        None, pattern=r"^/[\w\-./]*$", description="Mount the profile's EFS file system at this path."
    )
    deployment: Literal["rolling", "blue_green"] = Field(
        "rolling",
        description="rolling: ECS rolling update with circuit breaker. blue_green: ECS-native blue/green (a second "
        "target group, listener rules ECS moves traffic on, alarm rollback), shifted as "
        "traffic_shifting says.",
    )
    traffic_shifting: TrafficShiftingConfig = Field(
        TrafficShiftingConfig(),
        description="blue_green: how ECS moves production traffic to the new revision (seed 002: canary 10% for 5 "
        "minutes).",
    )
    min_healthy_percent: int = Field(100, ge=0, le=100, description="Deployment minimum healthy percent.")
    max_percent: int = Field(200, ge=100, le=200, description="Deployment maximum percent.")
    deregistration_delay: int = Field(30, ge=0, le=3600, description="Target-group deregistration delay in seconds.")
    ecr: EcrConfig = Field(EcrConfig(), description="The service's ECR repository.")
    xray: bool = Field(False, description="Run the X-Ray daemon sidecar.")
    user: str = Field(
        "1000:1000",
        pattern=r"^[a-z_][\w.-]{0,31}(:[a-z_][\w.-]{0,31})?$|^\d{1,10}(:\d{1,10})?$",
        description="User the app container runs as (uid[:gid] or a name the image defines); non-root by default; "
        "root or 0 needs root_user_reason (lint W9008).",
    )
    readonly_root_filesystem: bool = Field(
        True,
        description="Run the container with a read-only root file system (a scratch volume is mounted at /tmp). "
        "false needs writable_root_reason.",
    )
    writable_root_reason: str | None = Field(
        None,
        min_length=10,
        max_length=300,
        description="Why the container needs a writable root file system; required with readonly_root_filesystem: "
        "false, refused otherwise. "
        "Recorded in the task definition's Metadata (cfn-strata.writable_root and cfn-strata.reason), "
        "where lint W9008 and reviewers read it.",
    )
    root_user_reason: str | None = Field(
        None,
        min_length=10,
        max_length=300,
        description="Why the container runs as root (user root or 0, e.g. to bind a port below 1024); required with "
        "such a user, refused otherwise. "
        "Recorded in the task definition's Metadata (cfn-strata.root_user and cfn-strata.reason), where "
        "lint W9008 and reviewers read it.",
    )
    container_health_check: bool = Field(
        True,
        description="Container health check: curl or wget on health_check.path inside the container (the image "
        "needs one of them).",
    )

    @property
    def is_worker(self) -> bool:
        """No path patterns: the service sits behind no load balancer (a background worker)."""
        return not self.path_patterns

    @property
    def runs_as_root(self) -> bool:
        """uid 0 or the user name root, with or without a group."""
        return self.user.split(":", 1)[0] in ("0", "root")

    @model_validator(mode="after")
    def _privileged_port(self) -> ServiceConfig:
        # Linux lets only root, or a process holding CAP_NET_BIND_SERVICE, bind ports below 1024
        # (capabilities(7)); the generator adds no capability, and Fargate would refuse it (ECS API
        # reference, KernelCapabilities.add: "Tasks launched on Fargate only support adding the
        # SYS_PTRACE kernel capability").
        if self.port < PRIVILEGED_PORTS and not self.runs_as_root:
            raise KeyedError(
                "port",
                f"{self.port} is below {PRIVILEGED_PORTS} and the container runs as non-root user "
                f"{self.user!r}, which cannot bind it; "
                f"allowed with a non-root user: {PRIVILEGED_PORTS}-65535 (e.g. 8080; the load balancer "
                "still listens on 80/443)",
            )
        return self

    @model_validator(mode="after")
    def _hardening_reasons(self) -> ServiceConfig:
        # Lint W9008 refuses a writable root file system and a root user unless the task
        # definition's Metadata names the container with a reason: the params say the reason.
        if not self.readonly_root_filesystem and not self.writable_root_reason:
            raise KeyedError(
                "readonly_root_filesystem",
                "false needs writable_root_reason: say why the container writes outside /tmp "
                "(it goes into the task definition's Metadata, which lint W9008 reads)",
            )
        if self.readonly_root_filesystem and self.writable_root_reason:
            raise KeyedError("writable_root_reason", "is only for readonly_root_filesystem: false; remove it")
        if self.runs_as_root and not self.root_user_reason:
            raise KeyedError(
                "user",
                f"{self.user!r} is root and needs root_user_reason: say why the container runs as root "
                "(it goes into the task definition's Metadata, which lint W9008 reads), or use a "
                f"non-root user (ports {PRIVILEGED_PORTS}-65535)",
            )
        if not self.runs_as_root and self.root_user_reason:
            raise KeyedError(
                "root_user_reason", f"is only for a root user (root or 0); user is {self.user!r}; remove it"
            )
        return self

    def hardening_metadata(self, container: str) -> dict:
        """The task definition's cfn-strata Metadata for the exceptions the params state, {} when none."""
        found: dict = {}
        reasons = []
        if not self.readonly_root_filesystem:
            found["writable_root"] = [container]
            reasons.append(f"writable root file system: {self.writable_root_reason}")
        if self.runs_as_root:
            found["root_user"] = [container]
            reasons.append(f"runs as root: {self.root_user_reason}")
        if reasons:
            found["reason"] = "; ".join(reasons)
        return found

    @model_validator(mode="after")
    def _counts(self) -> ServiceConfig:
        if self.min_count > self.max_count:
            raise KeyedError("min_count", f"{self.min_count} is above max_count {self.max_count}")
        if not self.min_count <= self.desired_count <= self.max_count:
            raise KeyedError(
                "desired_count",
                f"{self.desired_count} is outside min_count..max_count ({self.min_count}..{self.max_count})",
            )
        return self


# ------------------------------------------------------------------ data


class DatabaseConfig(Model):
    engine: Literal["postgres", "mysql", "aurora-postgresql", "aurora-mysql"] = Field(description="Database engine.")
    engine_version: str = Field(
        description="Engine version; must be one AWS still creates (checked against cfn-lint's data). aurora-mysql: "
        "a 3.x version, e.g. 8.0.mysql_aurora.3.08.2."
    )
    instance_class: str = Field(
        pattern=r"^db\.[a-z0-9]+\.[a-z0-9]+$", description="Instance class (a deploy-time Parameter default)."
    )
    allocated_storage: int = Field(20, ge=20, le=65536, description="Storage in GiB (RDS, not Aurora).")
    max_allocated_storage: int | None = Field(
        None, ge=21, le=65536, description="Storage autoscaling ceiling in GiB; null turns autoscaling off."
    )
    storage_type: Literal["gp2", "gp3", "io1", "io2"] = Field("gp3", description="Storage type (RDS, not Aurora).")
    iops: int | None = Field(
        None,
        ge=1000,
        le=256000,
        description="Provisioned IOPS (RDS, not Aurora): required with io1/io2 and only with them; 0.5 to 50 times "
        "allocated_storage.",
    )
    multi_az: bool = Field(True, description="Multi-AZ standby (RDS) or reader in another AZ (Aurora).")
    replicas: int = Field(0, ge=0, le=15, description="Read replicas (RDS) or reader instances (Aurora).")
    backup_retention_days: int = Field(7, ge=1, le=35, description="Automated backup retention in days.")
    backup_window: str = Field(
        "03:00-04:00", pattern=r"^\d\d:\d\d-\d\d:\d\d$", description="Daily backup window (UTC)."
    )
    maintenance_window: str = Field(
        "sun:04:30-sun:05:30",
        pattern=r"^[a-z]{3}:\d\d:\d\d-[a-z]{3}:\d\d:\d\d$",
        description="Weekly maintenance window (UTC).",
    )
    performance_insights: bool = Field(True, description="Turn on Performance Insights (7 days, free tier).")
    monitoring_interval: Literal[0, 1, 5, 10, 15, 30, 60] = Field(
        60, description="Enhanced monitoring interval in seconds; 0 turns it off."
    )
    proxy: bool = Field(
        False, description="Put an RDS Proxy (managed connection pooling, the PgBouncer of seed 003) in front."
    )
    database_name: str = Field("app", pattern=r"^[a-zA-Z][a-zA-Z0-9_]{0,62}$", description="Initial database name.")
    master_username: str = Field(
        "app_admin",
        pattern=r"^[a-zA-Z][a-zA-Z0-9_]{0,15}$",
        description="Master user name (the password is generated into Secrets Manager).",
    )
    deletion_protection: bool | None = Field(
        None, description="Deletion protection; default on in prod, off in dev (seed 004 turns it off for test)."
    )
    managed_master_password: bool = Field(
        False,
        description="RDS manages the master password in Secrets Manager (ManageMasterUserPassword) and rotates it "
        "every 7 days (seed 002: automatic rotation); the secret then belongs to the data layer and is "
        "encrypted with the application key. Not with RDS read replicas (RDS refuses them on such a "
        "source).",
    )

    @property
    def port(self) -> int:
        return 3306 if self.is_mysql else 5432

    @property
    def is_mysql(self) -> bool:
        """MySQL-compatible: RDS for MySQL or Aurora MySQL."""
        return self.engine in ("mysql", "aurora-mysql")

    @property
    def is_aurora(self) -> bool:
        return self.engine.startswith("aurora")

    @model_validator(mode="after")
    def _version(self) -> DatabaseConfig:
        major = self.engine_version.split(".")[0]
        allowed = [v for v in supported_versions(self.engine, major) if (self.engine, v) not in RETIRED_BY_SEED_README]
        if self.engine == "aurora-mysql":
            # Aurora MySQL version 3 (MySQL 8.0 compatible) only: its parameter group family
            # aurora-mysql8.0 is the one whose parameters the data layer writes; version 2 (5.7) is
            # past its end of standard support (Aurora MySQL release notes, "Preparing for Amazon
            # Aurora MySQL-Compatible Edition version 2 end of standard support").
            major = "3"
            allowed = [v for v in supported_versions(self.engine, "8") if v.startswith(AURORA_MYSQL_3)]
        if self.engine_version not in allowed:
            hint = (
                f"supported {self.engine} {major} versions: {', '.join(allowed)}"
                if allowed
                else f"{self.engine} has no creatable major version {major}"
            )
            raise KeyedError("engine_version", f"{self.engine_version} cannot be created on {self.engine}; {hint}")
        if self.max_allocated_storage is not None and self.max_allocated_storage <= self.allocated_storage:
            raise KeyedError(
                "max_allocated_storage",
                f"{self.max_allocated_storage} must be above allocated_storage {self.allocated_storage}",
            )
        self._storage()
        return self

    def _storage(self) -> None:
        """Provisioned IOPS: io1 and io2 need Iops and at least 100 GiB, and Iops must be 0.5 to 50
        times the storage (RDS API reference, CreateDBInstance, Iops: "For RDS for Db2, MariaDB,
        MySQL, Oracle, and PostgreSQL - Must be a multiple between .5 and 50 of the storage amount";
        RDS User Guide, "Provisioned IOPS SSD storage": 100 GiB to 64 TiB, 1,000 to 256,000 IOPS).
        Aurora manages its own storage: neither applies."""
        if self.is_aurora:
            if self.iops is not None:
                raise KeyedError("iops", "Aurora manages its storage; remove iops")
            return
        provisioned = self.storage_type in PROVISIONED_IOPS_STORAGE
        if provisioned and self.iops is None:
            raise KeyedError(
                "iops",
                f"required with storage_type {self.storage_type}: 1000 to 256000, 0.5 to 50 times allocated_storage",
            )
        if not provisioned and self.iops is not None:
            raise KeyedError(
                "iops", f"only with storage_type io1 or io2 (this is {self.storage_type}, whose IOPS follow its size)"
            )
        if provisioned:
            if self.allocated_storage < PROVISIONED_IOPS_MIN_GIB:
                raise KeyedError(
                    "allocated_storage",
                    f"{self.allocated_storage} GiB: {self.storage_type} storage starts at "
                    f"{PROVISIONED_IOPS_MIN_GIB} GiB",
                )
            low, high = math.ceil(self.allocated_storage / 2), self.allocated_storage * 50
            if not low <= self.iops <= high:
                raise KeyedError(
                    "iops",
                    f"{self.iops} is not 0.5 to 50 times allocated_storage {self.allocated_storage} ({low} to {high})",
                )


class CacheConfig(Model):
    engine_version: str = Field("7.1", pattern=r"^\d+\.\d+$", description="Redis engine version.")
    node_type: str = Field("cache.t3.micro", pattern=r"^cache\.[a-z0-9]+\.[a-z0-9]+$", description="Cache node type.")
    replicas: int = Field(0, ge=0, le=5, description="Read replicas of the primary (cluster mode disabled).")
    automatic_failover: bool | None = Field(
        None, description="Multi-AZ automatic failover; default on when replicas > 0."
    )
    snapshot_retention_days: int = Field(
        1, ge=0, le=35, description="Daily snapshot retention in days; 0 turns snapshots off."
    )
    snapshot_window: str = Field(
        "02:00-03:00", pattern=r"^\d\d:\d\d-\d\d:\d\d$", description="Daily snapshot window (UTC)."
    )

    @model_validator(mode="before")
    @classmethod
    def _failover_default(cls, data):
        """automatic_failover defaults to on exactly when there is a replica to fail over to."""
        if (
            isinstance(data, dict)
            and data.get("automatic_failover") is None
            and isinstance(replicas := data.get("replicas", 0), int)
        ):
            data = {**data, "automatic_failover": replicas > 0}
        return data

    @model_validator(mode="after")
    def _failover(self) -> CacheConfig:
        if self.automatic_failover and self.replicas == 0:
            raise KeyedError("automatic_failover", "needs at least one replica (cache.replicas)")
        return self


class EfsConfig(Model):
    performance_mode: Literal["generalPurpose", "maxIO"] = Field("generalPurpose", description="EFS performance mode.")
    throughput_mode: Literal["bursting", "elastic"] = Field("bursting", description="EFS throughput mode.")
    backup: bool = Field(True, description="Turn on the EFS automatic backup policy.")


# ------------------------------------------------------------------ edge

# The AWS-managed prefix list com.amazonaws.global.cloudfront.origin-facing (CloudFront's
# origin-facing addresses) has one id per region, and CloudFormation cannot look a prefix list up
# by name, so the generator writes the id of the profile's region into the template. Ids as AWS
# lists them (VPC console > Managed prefix lists, or `aws ec2 describe-managed-prefix-lists
# --filters Name=prefix-list-name,Values=com.amazonaws.global.cloudfront.origin-facing`), collected
# with the announcement "Limit access to your origins using the AWS-managed prefix list for Amazon
# CloudFront" (AWS Networking & Content Delivery blog, 2022). A region missing here is refused at
# load time (edge.cloudfront.origins), never guessed.
CLOUDFRONT_ORIGIN_FACING_PREFIX_LISTS = {
    "ap-northeast-1": "pl-58a04531",
    "ap-northeast-2": "pl-22a6434b",
    "ap-northeast-3": "pl-31a14458",
    "ap-south-1": "pl-9aa247f3",
    "ap-southeast-1": "pl-31a34658",
    "ap-southeast-2": "pl-b8a742d1",
    "ca-central-1": "pl-38a64351",
    "eu-central-1": "pl-a3a144ca",
    "eu-north-1": "pl-fab65393",
    "eu-west-1": "pl-4fa04526",
    "eu-west-2": "pl-93a247fa",
    "eu-west-3": "pl-75b1541c",
    "sa-east-1": "pl-5da64334",
    "us-east-1": "pl-3b927c52",
    "us-east-2": "pl-b6a144df",
    "us-west-1": "pl-4ea04527",
    "us-west-2": "pl-82a045eb",
}


class AccessLogsConfig(Model):
    enabled: bool = Field(True, description="Write ALB access logs to an S3 bucket.")
    expiration_days: int = Field(30, ge=1, le=3650, description="Lifecycle: delete access logs after this many days.")


class AlbConfig(Model):
    certificate_arn: str = Field(
        "", description="ACM certificate for the HTTPS listener (a Parameter default); empty serves HTTP only on 80."
    )
    https_port: int = Field(443, description="HTTPS listener port.")
    idle_timeout_seconds: int = Field(60, ge=1, le=4000, description="ALB idle timeout.")
    access_logs: AccessLogsConfig = Field(AccessLogsConfig(), description="ALB access logs.")


class CloudFrontConfig(Model):
    enabled: bool = Field(False, description="Put a CloudFront distribution in front.")
    origins: list[Literal["s3", "alb"]] = Field(
        ["alb"], min_length=1, description="Origins: the SPA bucket (through OAC) and/or the ALB."
    )
    api_path_pattern: str = Field(
        "/api/*",
        description="When both origins exist, the first one listed takes the default behaviour and this path goes "
        "to the other (s3 first: /api/* to the ALB, uncached; alb first: e.g. /static/* to the bucket, "
        "cached).",
    )
    alb_cache_policy: Literal["CachingDisabled", "ApiCaching"] = Field(
        "CachingDisabled",
        description="Cache policy of the ALB behaviour. CachingDisabled (managed) passes every request on; "
        "ApiCaching (a policy of the edge layer) caches GET/HEAD responses for as long as the origin's "
        "Cache-Control allows (nothing without it), keyed on the path, every query string, every cookie "
        "and the Authorization and Origin headers. The managed CachingOptimized is refused: its key has "
        "no query strings or cookies, so an API would get /products?page=1 for ?page=2.",
    )
    price_class: Literal["PriceClass_100", "PriceClass_200", "PriceClass_All"] = Field(
        "PriceClass_100", description="Price class (a Parameter default)."
    )
    certificate_arn: str = Field(
        "", description="us-east-1 ACM certificate for an alias; empty uses the cloudfront.net name."
    )

    @field_validator("alb_cache_policy", mode="before")
    @classmethod
    def _api_cache_key(cls, value: object) -> object:
        if value == "CachingOptimized":
            raise ValueError(
                "CachingOptimized keys the cache on the path only (no query strings, cookies or "
                "Authorization), so the load balancer's "
                "API would answer GET /products?page=2 from ?page=1 and one user's response to another; "
                "use ApiCaching (edge caching "
                "under the origin's Cache-Control, keyed on query strings, cookies and Authorization) "
                "or CachingDisabled"
            )
        return value


class ApiGatewayConfig(Model):
    enabled: bool = Field(False, description="Put API Gateway (HTTP API) in front of the ALB.")
    integration: Literal["vpc_link", "http_proxy"] = Field(
        "vpc_link", description="Private integration over a VPC link, or an HTTP proxy to the ALB's DNS name."
    )
    throttle_rate_limit: int = Field(1000, ge=1, description="Stage steady-state requests per second.")
    throttle_burst_limit: int = Field(2000, ge=1, description="Stage burst limit.")


class WafConfig(Model):
    regional: bool = Field(False, description="A regional web ACL on the ALB and API Gateway.")
    cloudfront: bool = Field(False, description="A CloudFront-scope web ACL (lives in us-east-1, in the global stack).")
    rate_limit: int = Field(
        2000, ge=10, le=2000000000, description="Requests per 5 minutes per IP before the rate rule blocks."
    )
    managed_rule_groups: list[
        Literal[
            "AWSManagedRulesCommonRuleSet",
            "AWSManagedRulesKnownBadInputsRuleSet",
            "AWSManagedRulesSQLiRuleSet",
            "AWSManagedRulesAmazonIpReputationList",
        ]
    ] = Field(
        ["AWSManagedRulesCommonRuleSet", "AWSManagedRulesKnownBadInputsRuleSet", "AWSManagedRulesSQLiRuleSet"],
        description="AWS managed rule groups to apply.",
    )
    ip_block_list: list[Cidr] = Field([], description="CIDRs to block (an IP set).")

    @field_validator("ip_block_list")
    @classmethod
    def _ips(cls, value: list[str]) -> list[str]:
        out = []
        for v in value:
            try:
                out.append(str(ipaddress.ip_network(v, strict=True)))
            except ValueError as err:
                raise ValueError(f"{v!r} is not a valid CIDR ({err})") from None
        return out


class DomainConfig(Model):
    name: str = Field(
        max_length=253,
        pattern=r"^([a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}$",
        description="Domain name served, e.g. app.example.com.",
    )
    hosted_zone_id: str = Field(pattern=r"^Z[A-Z0-9]{1,31}$", description="Route 53 hosted zone id of the domain.")


class EdgeConfig(Model):
    alb: AlbConfig = Field(AlbConfig(), description="Application Load Balancer.")
    spa_bucket: bool = Field(
        False, description="An S3 bucket for the SPA / static assets, served only through CloudFront."
    )
    cloudfront: CloudFrontConfig = Field(CloudFrontConfig(), description="CloudFront distribution.")
    api_gateway: ApiGatewayConfig = Field(ApiGatewayConfig(), description="API Gateway in front of the ALB.")
    waf: WafConfig = Field(WafConfig(), description="WAFv2 web ACLs.")
    domain: DomainConfig | None = Field(
        None,
        description="Custom domain with Route 53 alias records and ACM certificates; without it the generated DNS "
        "names are used.",
    )

    @property
    def cloudfront_fronts_alb(self) -> bool:
        """CloudFront has the load balancer as an origin: the ALB then admits only CloudFront."""
        return self.cloudfront.enabled and "alb" in self.cloudfront.origins

    @property
    def cloudfront_origin_port(self) -> int:
        """The ALB port CloudFront connects to: 80 over HTTP without a domain (no certificate covers
        the ALB's generated name), else the HTTPS listener under origin.<domain>."""
        return 80 if self.domain is None else self.alb.https_port


# ------------------------------------------------------------------ around the workload


class AuthConfig(Model):
    enabled: bool = Field(False, description="Create a Cognito user pool.")
    mfa: Literal["OFF", "OPTIONAL", "ON"] | None = Field(None, description="MFA; default OPTIONAL in dev, ON in prod.")
    google_idp: bool = Field(False, description="Add Google as an identity provider.")
    advanced_security: bool = Field(
        False, description="Cognito advanced security (threat protection) in ENFORCED mode."
    )
    callback_urls: list[str] = Field(
        ["http://localhost:3000/callback"], min_length=1, description="App client callback URLs (Parameter default)."
    )
    logout_urls: list[str] = Field(
        ["http://localhost:3000/"], min_length=1, description="App client logout URLs (Parameter default)."
    )
    protect: Literal["alb", "api", "none"] = Field(
        "none", description="Wire the pool to the ALB (authenticate-cognito) or API Gateway (JWT authorizer)."
    )
    protected_service: str | None = Field(None, description="Service whose listener rule authenticates (protect: alb).")
    alb_callback_urls: list[str] = Field(
        [],
        description="Callback URLs of the confidential app client the ALB authenticates with (protect: alb; "
        "Parameter default): https://<host>/oauth2/idpresponse. Empty uses "
        "https://<edge.domain.name>/oauth2/idpresponse.",
    )
    google_client_id: str = Field(
        "",
        pattern=r"^$|^[\w.-]+\.apps\.googleusercontent\.com$",
        description="Google OAuth client id (a Parameter default); empty leaves the Google provider out until it is "
        "set. Its secret is read from the Secrets Manager secret google-oauth-<suffix> (key "
        "client_secret), which the operator creates before the first deploy.",
    )
    domain_prefix: str | None = Field(
        None,
        pattern=r"^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$",
        description="Hosted UI domain prefix; default <application>-<suffix>.",
    )
    access_token_minutes: int = Field(60, ge=5, le=1440, description="Access token validity in minutes.")
    id_token_minutes: int = Field(60, ge=5, le=1440, description="ID token validity in minutes.")
    refresh_token_days: int = Field(30, ge=1, le=3650, description="Refresh token validity in days.")
    self_signup: bool = Field(
        True, description="Users may sign themselves up (false: only administrators create users)."
    )

    @field_validator("callback_urls", "logout_urls", "alb_callback_urls")
    @classmethod
    def _urls(cls, value: list[str]) -> list[str]:
        for url in value:
            if not re.fullmatch(r"https://[^,\s]+|http://localhost(:\d+)?[^,\s]*", url):
                raise ValueError(
                    f"{url!r}: Cognito accepts https:// URLs (http:// only for localhost), without commas or spaces"
                )
        return value


class AlarmsConfig(Model):
    cpu_high_percent: int = Field(80, ge=1, le=100, description="Service CPU alarm threshold.")
    memory_high_percent: int = Field(85, ge=1, le=100, description="Service memory alarm threshold.")
    alb_5xx_count: int = Field(10, ge=1, description="ALB 5xx per 5 minutes alarm threshold.")
    target_p95_latency_seconds: float = Field(1.0, gt=0, description="p95 target response time alarm threshold.")
    db_cpu_high_percent: int = Field(80, ge=1, le=100, description="Database CPU alarm threshold.")
    db_free_storage_gib: int = Field(5, ge=1, description="Database free storage alarm threshold (GiB).")
    db_connections_percent: int = Field(
        80, ge=1, le=100, description="Database connections alarm, percent of the class's limit."
    )
    cache_cpu_high_percent: int = Field(75, ge=1, le=100, description="Cache engine CPU alarm threshold.")
    target_5xx_count: int = Field(10, ge=1, description="Per-target-group 5xx responses per 5 minutes alarm threshold.")
    target_p99_latency_seconds: float = Field(3.0, gt=0, description="p99 target response time alarm threshold.")
    db_replica_lag_seconds: int = Field(
        60, ge=1, description="Read replica / Aurora reader lag alarm threshold in seconds."
    )
    cache_memory_high_percent: int = Field(
        80, ge=1, le=100, description="Cache DatabaseMemoryUsagePercentage alarm threshold."
    )
    cache_evictions_count: int = Field(100, ge=1, description="Cache evictions per 5 minutes alarm threshold.")
    api_5xx_count: int = Field(10, ge=1, description="API Gateway 5xx per 5 minutes alarm threshold.")
    api_p95_latency_ms: int = Field(2000, ge=1, description="API Gateway p95 latency alarm threshold (milliseconds).")
    cloudfront_5xx_rate_percent: float = Field(
        5.0, gt=0, le=100, description="CloudFront 5xx error rate alarm threshold (percent)."
    )
    cloudfront_error_rate_percent: float = Field(
        10.0, gt=0, le=100, description="CloudFront total error rate alarm threshold (percent)."
    )


class SyntheticsConfig(Model):
    enabled: bool = Field(False, description="CloudWatch Synthetics canaries.")
    schedule: str = Field(
        "rate(5 minutes)",
        pattern=r"^rate\(\d+ (minute|minutes|hour|hours)\)$",
        description="Canary schedule expression.",
    )
    api_path: str = Field("/api/health", pattern=r"^/[\w\-./~%]*$", description="Path the API canary requests.")
    ui_path: str = Field("/", pattern=r"^/[\w\-./~%]*$", description="Path the UI canary loads.")
    artifact_retention_days: int = Field(
        30,
        ge=1,
        le=3650,
        description="Lifecycle: delete canary artifacts (screenshots, HAR files, logs) after this many days.",
    )


class ObservabilityConfig(Model):
    log_retention_days: int = Field(30, description="Retention of the application log groups.")
    alarm_email: str = Field(
        "",
        pattern=r"^$|^[^\s@]+@[^\s@]+\.[^\s@]+$",
        description="Address subscribed to the alarm topic (a Parameter default); empty subscribes nobody.",
    )
    alarm_sms: list[str] = Field(
        [],
        description="Phone numbers (E.164, e.g. +15555550100) subscribed to the alarm topic by SMS; empty "
        "subscribes none. The account must be out of the SNS SMS sandbox or have the numbers verified.",
    )
    alarms: AlarmsConfig = Field(AlarmsConfig(), description="Alarm thresholds.")
    dashboard: bool = Field(True, description="One CloudWatch dashboard per application and environment.")
    xray: bool = Field(False, description="X-Ray sampling rule and group (sidecars are per service).")
    synthetics: SyntheticsConfig = Field(SyntheticsConfig(), description="Synthetics canaries.")

    _check_retention = field_validator("log_retention_days")(_retention)

    @field_validator("alarm_sms")
    @classmethod
    def _e164(cls, value: list[str]) -> list[str]:
        # SNS takes SMS endpoints in E.164: '+', a country code, at most 15 digits in all
        # (SNS Developer Guide, "Publishing to a mobile phone"; ITU-T E.164).
        for number in value:
            if not re.fullmatch(r"\+[1-9]\d{1,14}", number):
                raise ValueError(
                    f"{number!r} is not an E.164 phone number ('+', country code and number, up to 15 "
                    "digits, no spaces)"
                )
        if len(set(value)) != len(value):
            raise ValueError("a phone number is listed twice")
        return value


class PipelineSource(Model):
    provider: Literal["github", "codecommit"] = Field(
        "github", description="Source provider (GitHub through a CodeConnections connection, or CodeCommit)."
    )
    repository: str = Field(
        pattern=r"^[\w.-]+(/[\w.-]+)?$",
        description="owner/repo for GitHub, the repository name for CodeCommit (a Parameter default).",
    )
    branch: str = Field("main", description="Branch that triggers the pipeline (a Parameter default).")


class PipelineConfig(Model):
    kind: Literal["backend", "frontend"] = Field(
        "backend",
        description="backend builds images and deploys infra + services; frontend builds the SPA into the bucket.",
    )
    source: PipelineSource = Field(description="Where the code comes from.")
    spa_build_dir: str = Field(
        "build",
        pattern=r"^[\w.-]+(/[\w.-]+)*$",
        description="frontend: folder `npm run build` writes the SPA into (React: build, Vite: dist).",
    )


class CicdConfig(Model):
    enabled: bool = Field(False, description="Generate the delivery pipelines.")
    pipelines: dict[str, PipelineConfig] = Field({}, description="Pipelines by name.")
    connection_arn: str = Field(
        "",
        pattern=r"^$|^arn:aws[a-z-]*:(codestar-connections|codeconnections):[a-z0-9-]+:\d{12}:connection/[0-9a-f-]{36}$",
        description="CodeConnections connection to GitHub (a Parameter default). Empty creates one, which stays "
        "PENDING until someone completes the handshake in the console (Developer Tools > Connections).",
    )
    infrastructure: PipelineSource | None = Field(
        None,
        description="Repository holding cfn-strata, the params and buildspec.yml, which backend pipelines check out "
        "to generate and upload the templates; null: the pipeline's own repository (a monorepo).",
    )
    artifact_expiration_days: int = Field(
        30,
        ge=1,
        le=3650,
        description="Lifecycle: delete pipeline artifacts (and uploaded templates, reviews) after this many days.",
    )
    build_compute_type: Literal["BUILD_GENERAL1_SMALL", "BUILD_GENERAL1_MEDIUM", "BUILD_GENERAL1_LARGE"] = Field(
        "BUILD_GENERAL1_SMALL", description="CodeBuild compute type."
    )

    @model_validator(mode="after")
    def _pipelines(self) -> CicdConfig:
        if self.enabled and not self.pipelines:
            raise KeyedError("pipelines", "cicd is enabled but names no pipeline")
        for name in self.pipelines:
            if not re.fullmatch(IDENTIFIER, name) or len(name) > 20:
                raise KeyedError(
                    "pipelines", f"{name!r}: pipeline names are lower-case words joined by '-', up to 20 characters"
                )
        return self


class BackupConfig(Model):
    enabled: bool | None = Field(None, description="AWS Backup plan for the stateful resources; default on in prod.")
    schedule: str = Field("cron(0 5 * * ? *)", description="Backup rule schedule expression (daily).")
    retention_days: int = Field(7, ge=1, le=36500, description="Days a recovery point is kept.")
    copy_region: str | None = Field(None, description="Copy recovery points to a vault in this region.")
    rpo_hours: int | None = Field(
        None,
        ge=1,
        le=24,
        description="Recovery point objective in hours: adds a rule every this many hours for the file systems (EFS "
        "has no continuous backup); databases meet it by point-in-time recovery. Empty: the daily rule "
        "only.",
    )


class AuditConfig(Model):
    cloudtrail: bool = Field(
        False,
        description="A CloudTrail trail (API audit log) with log file validation, to a private, versioned bucket, "
        "log files encrypted with a KMS key of its own.",
    )
    multi_region: bool = Field(
        True,
        description="The trail records every region's API calls (the backup copy region, global services), not only "
        "the profile's region.",
    )
    log_retention_days: int = Field(
        365, ge=1, le=36500, description="Days the trail's log files (and their old versions) stay in the bucket."
    )


# ------------------------------------------------------------------ the application


# Defaults that depend on the stage, resolved once when the params are loaded (AppConfig's
# `_stage_defaults`), so a layer reads a plain value: (section, key, dev, prod). A params file that
# sets the key (or writes null for "the stage's default") is respected.
STAGE_DEFAULTS: tuple[tuple[str, str, object, object], ...] = (
    ("network", "nat_gateways", "single", "per_az"),
    ("security", "secret_recovery_window_days", 0, 30),
    ("database", "deletion_protection", False, True),
    ("auth", "mfa", "OPTIONAL", "ON"),
    ("backup", "enabled", False, True),
)
# Sections that are absent when the profile does not have the thing (no default to fill in).
OPTIONAL_SECTIONS = frozenset({"database"})


class AppConfig(Model):
    application: str = Field(
        pattern=IDENTIFIER,
        max_length=28,
        description="Application (profile) name; must equal its folder under params/.",
    )
    description: str = Field(
        "", max_length=900, description="What the application is; goes into the root template's Description."
    )
    project: str = Field(pattern=r"^[a-z][a-z0-9-]*$", description="Project tag value (seed 004: catalog-api).")
    region: str = Field(description="AWS region the stacks deploy to.")
    environment: EnvironmentConfig = Field(description="Which deployment: stage and naming suffix.")
    tags: dict[str, str] = Field(
        {},
        description="Tags on every taggable resource and the stacks; Environment, Project and EnvironmentSuffix are "
        "always added.",
    )
    network: NetworkConfig = Field(description="VPC and subnets.")
    security: SecurityConfig = Field(SecurityConfig(), description="Keys, secrets, security groups.")
    compute: ComputeConfig = Field(ComputeConfig(), description="ECS cluster and capacity.")
    services: dict[str, ServiceConfig] = Field(
        min_length=1, description="Containers behind the load balancer, by name."
    )
    database: DatabaseConfig | None = Field(None, description="Relational database.")
    cache: CacheConfig | None = Field(None, description="ElastiCache Redis.")
    efs: EfsConfig | None = Field(None, description="EFS file system.")
    edge: EdgeConfig = Field(EdgeConfig(), description="Load balancer, CDN, API, WAF, DNS.")
    auth: AuthConfig = Field(AuthConfig(), description="Cognito.")
    observability: ObservabilityConfig = Field(
        ObservabilityConfig(), description="Logs, alarms, dashboard, tracing, canaries."
    )
    cicd: CicdConfig = Field(CicdConfig(), description="Delivery pipelines.")
    backup: BackupConfig = Field(BackupConfig(), description="AWS Backup.")
    audit: AuditConfig = Field(AuditConfig(), description="API audit logging (CloudTrail).")

    @model_validator(mode="before")
    @classmethod
    def _stage_defaults(cls, data):
        """Fill the stage-dependent defaults (STAGE_DEFAULTS) into the raw params before validation."""
        if not isinstance(data, dict):
            return data
        environment = data.get("environment")
        stage = (
            environment.get("stage", "dev") if isinstance(environment, dict) else getattr(environment, "stage", "dev")
        )
        if stage not in ("dev", "prod"):
            return data  # the stage's own error will say what is allowed
        data = dict(data)
        for section, key, dev, prod in STAGE_DEFAULTS:
            values = data.get(section)
            if values is None and (section in OPTIONAL_SECTIONS or cls.model_fields[section].is_required()):
                continue  # an absent optional section has nothing to default; a required one has its own error
            values = {} if values is None else values
            if isinstance(values, dict) and values.get(key) is None:
                data[section] = {**values, key: prod if stage == "prod" else dev}
        return data

    @field_validator("region")
    @classmethod
    def _region(cls, value: str) -> str:
        if value not in REGIONS:
            raise ValueError(f"{value!r} is not an AWS region (e.g. us-east-1, eu-north-1)")
        return value

    @field_validator("tags")
    @classmethod
    def _tags(cls, value: dict[str, str]) -> dict[str, str]:
        for key, tag in value.items():
            if not 1 <= len(key) <= 128 or key.lower().startswith("aws:"):
                raise ValueError(f"tag key {key!r} must be 1-128 characters and not start with aws:")
            if len(str(tag)) > 256:
                raise ValueError(f"tag {key!r} value is longer than 256 characters")
        return value

    @property
    def suffix(self) -> str:
        return self.environment.suffix

    @property
    def is_prod(self) -> bool:
        return self.environment.is_prod

    @property
    def all_tags(self) -> dict[str, str]:
        """The profile's tags plus the three every resource carries, sorted by key."""
        merged = {
            "Environment": self.environment.name,
            "Project": self.project,
            **self.tags,
            "EnvironmentSuffix": self.suffix,
        }
        return dict(sorted(merged.items()))

    def name(self, kind: str, qualifier: str | None = None) -> str:
        return resource_name(kind, self.suffix, qualifier)


# ------------------------------------------------------------------ cross-field checks with exact key paths


# CodePipeline ECS deploy action: DeploymentTimeout is 1 to 60 minutes (CodePipeline user guide, Amazon ECS
# deploy action reference; AWS CDK EcsDeployActionProps.deploymentTimeout "must be between 1-60"). A
# blue/green deployment needs time to start and register the new tasks before traffic moves.
PIPELINE_ECS_DEPLOY_MINUTES = 60
DEPLOY_START_MINUTES = 15

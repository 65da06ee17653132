"""Checks that span sections of the params, or that need what a layer derives from them (the ACL
rules the network layer would write, the group names of the security layer, the database alarm's
connection ceiling): what CloudFormation would reject only at deploy time, as (key path, message).

The loader (templates/params.py) runs them after the model validated each section; they live here,
not in the model, so the model imports no layer and no layer imports back into it."""

from __future__ import annotations

import re

from templates.catalog import REGIONS
from templates.config import (
    AURORA_MYSQL_NO_INSIGHTS,
    CLOUDFRONT_ORIGIN_FACING_PREFIX_LISTS,
    DEPLOY_START_MINUTES,
    FARGATE_MEMORY,
    IDENTIFIER,
    PIPELINE_ECS_DEPLOY_MINUTES,
    AppConfig,
    ServiceConfig,
)
from templates.naming import cognito_domain_prefix, name_problem
from templates.network import NACL_RULE_QUOTA, nacl_rules
from templates.observability import max_connections_problem
from templates.security import group_name, group_roles

# Application Load Balancer quotas (per load balancer, not counting default rules).
ALB_RULES = 100
ALB_TARGET_GROUPS = 100


def _alb_quota_problems(cfg: AppConfig) -> list[tuple[str, str]]:
    """Every service gets a rule on the listener that routes, a rolling one a second rule on HTTPS
    when CloudFront reaches the ALB by its generated name (HTTP, and HTTPS once a certificate is
    given), every service one more on the blue/green test listener when there is one; and a target
    group (two with blue/green)."""
    edge = cfg.edge
    web = [svc for svc in cfg.services.values() if not svc.is_worker]  # workers have neither
    greens = sum(svc.deployment == "blue_green" for svc in web)
    plain_origin = edge.cloudfront.enabled and "alb" in edge.cloudfront.origins and edge.domain is None
    rules = len(web) + (len(web) - greens if plain_origin else 0) + (len(web) if greens else 0)
    groups = len(web) + greens
    problems = []
    if rules > ALB_RULES:
        problems.append(
            (
                "services",
                f"{len(web)} services need {rules} listener rules, over the ALB's {ALB_RULES}; split the platform "
                "into several profiles",
            )
        )
    if groups > ALB_TARGET_GROUPS:
        problems.append(
            (
                "services",
                f"{len(web)} services need {groups} target groups, over the ALB's {ALB_TARGET_GROUPS}; split the "
                "platform into several profiles",
            )
        )
    return problems


def _worker_problems(key: str, svc: ServiceConfig) -> list[tuple[str, str]]:
    """A worker (path_patterns: []) has no listener rule and no target group: what needs them is refused."""
    problems = []
    if svc.deployment == "blue_green":
        # ECS blue/green moves traffic between two target groups on listener rules (AWS::ECS::Service
        # AdvancedConfiguration: AlternateTargetGroupArn, ProductionListenerRule); a worker has neither.
        problems.append(
            (
                f"{key}.deployment",
                "blue_green needs a listener rule and two target groups, which a worker (path_patterns: []) does "
                "not have; use rolling (ECS rolling update with circuit-breaker rollback)",
            )
        )
    if svc.priority is not None:
        problems.append(
            (f"{key}.priority", "a worker (path_patterns: []) has no listener rule to give a priority; remove it")
        )
    if svc.autoscaling.requests_per_target is not None:
        problems.append(
            (
                f"{key}.autoscaling.requests_per_target",
                "a worker (path_patterns: []) receives no load-balancer requests; scale on cpu_target or memory_target",
            )
        )
    return problems


def _database_problems(cfg: AppConfig) -> list[tuple[str, str]]:
    """What the database's alarms and Performance Insights need from its instance class."""

    db = cfg.database
    problems = []
    if problem := max_connections_problem(db.engine, db.instance_class):
        problems.append(("database.instance_class", problem))
    if (
        db.engine == "aurora-mysql"
        and db.performance_insights
        and db.instance_class.startswith(AURORA_MYSQL_NO_INSIGHTS)
    ):
        # Amazon Aurora User Guide, "Amazon Aurora DB engine, Region, and instance class support for
        # Database Insights": Aurora MySQL supports no db.t2, db.t3, db.t4g.micro or db.t4g.small.
        problems.append(
            (
                "database.performance_insights",
                f"Aurora MySQL has no Performance Insights on {db.instance_class} (none on db.t2, db.t3, "
                "db.t4g.micro, db.t4g.small); choose e.g. db.t4g.medium or db.r6g.large, or set "
                "performance_insights: false",
            )
        )
    return problems


def semantic_problems(cfg: AppConfig) -> list[tuple[str, str]]:
    """What CloudFormation would reject only at deploy time, as (key path, message), in key order."""
    problems: list[tuple[str, str]] = []
    net = cfg.network
    # the subnets' layout within the VPC: NetworkConfig._subnet_layout
    if net.availability_zones:
        if len(net.availability_zones) != net.az_count:
            problems.append(
                ("network.availability_zones", f"{len(net.availability_zones)} zones for az_count {net.az_count}")
            )
        for index, zone in enumerate(net.availability_zones):
            if not re.fullmatch(re.escape(cfg.region) + r"[a-z]", zone):
                problems.append(
                    (
                        f"network.availability_zones[{index}]",
                        f"{zone!r} is not an AZ of {cfg.region} (e.g. {cfg.region}a)",
                    )
                )
    if net.nacls:
        for tier, rules in nacl_rules(cfg).items():
            for egress in (False, True):
                count = sum(1 for rule in rules if rule.egress == egress)
                if count > NACL_RULE_QUOTA:
                    problems.append(
                        (
                            "network.nacls",
                            f"the {tier} subnets' ACL needs {count} {'outbound' if egress else 'inbound'} rules, "
                            f"over the VPC quota of {NACL_RULE_QUOTA} per direction: fewer subnets or services' "
                            "ports, or nacls: false",
                        )
                    )
    if net.nat_gateways == "none" and not net.interface_endpoints and cfg.services:
        problems.append(
            (
                "network.nat_gateways",
                "none leaves tasks in private subnets without a way to pull images: add interface_endpoints "
                "ecr.api, ecr.dkr, logs (and s3_gateway_endpoint) or choose single/per_az",
            )
        )

    for kind in ("alb", "ecs-cluster", "bucket-prefix"):
        problem = name_problem(kind, cfg.name(kind if kind != "bucket-prefix" else cfg.application))
        if problem:
            problems.append(("environment.suffix", problem))
    if cfg.database:
        kind = "rds-cluster" if cfg.database.is_aurora else "rds"
        if problem := name_problem(kind, cfg.name(kind)):
            problems.append(("environment.suffix", problem))
        problems.extend(_database_problems(cfg))
        if cfg.database.managed_master_password and cfg.database.replicas and not cfg.database.is_aurora:
            # RDS User Guide, "Password management with Amazon RDS and AWS Secrets Manager",
            # limitations: no read replica of a source whose credentials Secrets Manager manages.
            problems.append(
                (
                    "database.managed_master_password",
                    "RDS cannot create read replicas of an instance whose master password it manages "
                    f"(database.replicas is {cfg.database.replicas}): turn one of them off",
                )
            )
        if cfg.database.proxy and net.isolated_subnets and "secretsmanager" not in net.interface_endpoints:
            # The proxy runs in the data (isolated) subnets, which have no route out, and reads the
            # database secret from Secrets Manager (RDS Proxy network prerequisites).
            problems.append(
                (
                    "database.proxy",
                    "the proxy runs in network.isolated_subnets, which have no route to Secrets Manager: add "
                    "secretsmanager to network.interface_endpoints",
                )
            )
    if cfg.cache and (problem := name_problem("cache", cfg.name("cache"))):
        problems.append(("environment.suffix", problem))

    for role, key in group_roles(cfg).items():
        if problem := name_problem("security-group", group_name(cfg, role)):
            problems.append((key, f"security group name: {problem}"))

    routes: dict[str, str] = {}
    priorities: dict[int, str] = {}
    fargate_only = "EC2" not in cfg.compute.capacity_providers
    for svc_name, svc in cfg.services.items():
        key = f"services.{svc_name}"
        if not re.fullmatch(IDENTIFIER, svc_name):
            problems.append((key, f"service name {svc_name!r} must be lowercase letters, digits and single hyphens"))
            continue
        for kind in ("ecs-service", "iam-role") if svc.is_worker else ("tg", "ecs-service", "iam-role"):
            if problem := name_problem(kind, cfg.name(kind, svc_name)):
                problems.append((key, problem))
        if svc.is_worker:
            problems.extend(_worker_problems(key, svc))
        if fargate_only and svc.memory not in FARGATE_MEMORY.get(svc.cpu, ()):
            allowed = FARGATE_MEMORY.get(svc.cpu)
            detail = (
                f"memory for cpu {svc.cpu} may be {allowed[0]}-{allowed[-1]} MiB in Fargate's steps"
                if allowed
                else f"Fargate cpu must be one of {', '.join(map(str, FARGATE_MEMORY))}"
            )
            problems.append(
                (
                    f"{key}.memory" if allowed else f"{key}.cpu",
                    f"{svc.cpu} CPU / {svc.memory} MiB is not a Fargate size; {detail}",
                )
            )
        for index, pattern in enumerate(svc.path_patterns):
            if pattern in routes:
                problems.append(
                    (f"{key}.path_patterns[{index}]", f"{pattern} is already routed to services.{routes[pattern]}")
                )
            routes.setdefault(pattern, svc_name)
        if svc.priority is not None:
            if svc.priority in priorities:
                problems.append(
                    (f"{key}.priority", f"{svc.priority} is already used by services.{priorities[svc.priority]}")
                )
            priorities.setdefault(svc.priority, svc_name)
        for index, secret in enumerate(svc.secrets):
            if secret == "database" and cfg.database is None:
                problems.append(
                    (f"{key}.secrets[{index}]", "database is listed but the profile has no database section")
                )
            elif secret != "database" and secret not in cfg.security.app_secrets:
                allowed = ", ".join(["database", *cfg.security.app_secrets])
                problems.append((f"{key}.secrets[{index}]", f"unknown secret {secret!r}; allowed: {allowed}"))
        if svc.efs_mount_path and cfg.efs is None:
            problems.append((f"{key}.efs_mount_path", "set, but the profile has no efs section"))
    problems.extend(_alb_quota_problems(cfg))

    edge = cfg.edge
    if edge.cloudfront.enabled and "s3" in edge.cloudfront.origins and not edge.spa_bucket:
        problems.append(("edge.cloudfront.origins", "s3 is an origin but edge.spa_bucket is false"))
    backend_pipeline = cfg.cicd.enabled and any(p.kind == "backend" for p in cfg.cicd.pipelines.values())
    for svc_name, svc in cfg.services.items():
        if svc.deployment != "blue_green" or svc.is_worker:  # a blue/green worker has its own error
            continue
        if re.fullmatch(IDENTIFIER, svc_name):
            if problem := name_problem("tg", cfg.name("tg", f"{svc_name}-green")):
                problems.append((f"services.{svc_name}.deployment", f"the green target group name: {problem}"))
        if svc.autoscaling.requests_per_target is not None:
            # ALBRequestCountPerTarget is labelled with one target group, and ECS moves production
            # traffic to the other one at every blue/green deployment.
            problems.append(
                (
                    f"services.{svc_name}.autoscaling.requests_per_target",
                    "cannot follow a blue_green service: ECS moves its traffic between two target groups; scale on "
                    "cpu_target or memory_target",
                )
            )
        shifting = svc.traffic_shifting
        if (
            backend_pipeline
            and shifting.shifting_minutes + shifting.bake_time_minutes
            > PIPELINE_ECS_DEPLOY_MINUTES - DEPLOY_START_MINUTES
        ):
            problems.append(
                (
                    f"services.{svc_name}.traffic_shifting",
                    f"shifting ({shifting.shifting_minutes} min) plus bake time ({shifting.bake_time_minutes} min) "
                    f"is over {PIPELINE_ECS_DEPLOY_MINUTES - DEPLOY_START_MINUTES} minutes: "
                    f"the pipeline's ECS deploy action waits at most {PIPELINE_ECS_DEPLOY_MINUTES} minutes "
                    f"(DeploymentTimeout 1-60), {DEPLOY_START_MINUTES} of them for the new tasks to start",
                )
            )
    if edge.cloudfront.certificate_arn and edge.domain is None:
        problems.append(
            (
                "edge.cloudfront.certificate_arn",
                "a CloudFront certificate needs edge.domain, the alias it covers; without a domain the "
                "distribution serves its cloudfront.net name under CloudFront's default certificate",
            )
        )
    if edge.waf.cloudfront and not edge.cloudfront.enabled:
        problems.append(("edge.waf.cloudfront", "a CloudFront web ACL needs edge.cloudfront.enabled"))
    if edge.cloudfront_fronts_alb:
        # The load balancer then admits only CloudFront's origin-facing addresses (issue 13).
        if cfg.region not in CLOUDFRONT_ORIGIN_FACING_PREFIX_LISTS:
            problems.append(
                (
                    "edge.cloudfront.origins",
                    f"the id of CloudFront's origin-facing prefix list in {cfg.region} is not known to the "
                    "generator (templates/config.py CLOUDFRONT_ORIGIN_FACING_PREFIX_LISTS); the load balancer "
                    "could not be restricted to CloudFront",
                )
            )
        if edge.api_gateway.enabled and edge.api_gateway.integration == "http_proxy":
            problems.append(
                (
                    "edge.api_gateway.integration",
                    "http_proxy reaches the load balancer from API Gateway's public addresses, which a load "
                    "balancer behind CloudFront refuses (it admits only CloudFront); use vpc_link",
                )
            )
        if edge.waf.regional:
            problems.append(
                (
                    "edge.waf.regional",
                    "CloudFront fronts the load balancer, which then admits only CloudFront: a regional web ACL "
                    "there would count CloudFront's addresses, not the clients'; use edge.waf.cloudfront (rate "
                    "limit per client address at the edge)",
                )
            )
    elif edge.waf.regional and edge.api_gateway.enabled and edge.api_gateway.integration == "http_proxy":
        problems.append(
            (
                "edge.waf.regional",
                "the regional web ACL rate-limits per source address, and API Gateway's http_proxy reaches the "
                "load balancer from API Gateway's shared addresses, so every client would share one limit; use "
                "edge.api_gateway.integration: vpc_link",
            )
        )
    if cfg.auth.protect == "alb":
        web = [name for name, svc in cfg.services.items() if not svc.is_worker]
        if cfg.auth.protected_service not in web:
            problems.append(
                (
                    "auth.protected_service",
                    "must name a service behind the load balancer "
                    f"({', '.join(web) or 'none: every service is a worker'}) when auth.protect is alb",
                )
            )
    if cfg.auth.enabled:
        prefix = cognito_domain_prefix(cfg)
        if len(prefix) > 63 or any(word in prefix for word in ("aws", "amazon", "cognito")):
            problems.append(
                (
                    "auth.domain_prefix",
                    f"hosted UI prefix {prefix!r} must be at most 63 characters and not contain aws, amazon or cognito",
                )
            )
    if cfg.auth.protect == "api" and not edge.api_gateway.enabled:
        problems.append(("auth.protect", "api needs edge.api_gateway.enabled"))
    if cfg.backup.copy_region is not None:
        if cfg.backup.copy_region not in REGIONS:
            problems.append(("backup.copy_region", f"{cfg.backup.copy_region!r} is not an AWS region"))
        elif cfg.backup.copy_region == cfg.region:
            problems.append(("backup.copy_region", f"must differ from region {cfg.region}"))
    for name, pipeline in cfg.cicd.pipelines.items():  # the names themselves: CicdConfig._pipelines
        if pipeline.kind == "frontend" and not edge.spa_bucket:
            problems.append((f"cicd.pipelines.{name}.kind", "a frontend pipeline needs edge.spa_bucket"))
    return problems

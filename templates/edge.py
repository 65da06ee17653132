"""edge layer: the Application Load Balancer (listeners, path rules, one target group per service
but the workers, an alternate one for blue/green services with the weighted production and test
rules ECS moves traffic on, access logs to S3), the SPA bucket behind CloudFront with
Origin Access Control, the CloudFront distribution, API Gateway (HTTP API) in front of the ALB,
WAFv2 web ACLs with their logs, and Route 53 records with ACM certificates when a domain is given.

CloudFront-scope web ACLs and CloudFront certificates exist only in us-east-1: outside that region
they go into a separate `global` layer, the stack `<stack>-global` the deployer deploys first
(deployer/regional.py); the edge layer takes their ARNs as inputs, which the root turns into root
parameters the deployer fills from that stack's outputs.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any

from awacs import kms as awacs_kms
from awacs import s3 as awacs_s3
from awacs.aws import Allow, Condition, PolicyDocument, Principal, Statement, StringEquals, StringLike
from troposphere import AccountId, Equals, GetAtt, If, Join, NoValue, Ref, Sub, ec2, kms, logs, route53, s3, wafv2
from troposphere import apigatewayv2 as apigw
from troposphere import certificatemanager as acm
from troposphere import cloudfront as cf
from troposphere import elasticloadbalancingv2 as elb

from templates.common import Layer, LayerBuilder, lifecycle_rule, logical_id
from templates.config import AppConfig
from templates.security import SECURITY_GROUP, group_name

# TLS 1.2 and 1.3 only: the ALB's recommended policy (ELB docs, "Security policies").
ALB_TLS_POLICY = "ELBSecurityPolicy-TLS13-1-2-2021-06"
CLOUDFRONT_TLS_POLICY = "TLSv1.2_2021"
DEFAULT_CERTIFICATE_TLS_REASON = (
    "no edge.domain: the distribution serves its cloudfront.net name under CloudFront's default certificate, "
    "which cannot enforce TLS 1.2 (CloudFront sets the TLSv1 policy for it whatever MinimumProtocolVersion says); "
    "with edge.domain it gets a us-east-1 ACM certificate and TLSv1.2_2021"
)
# Blue/green test traffic: during a deployment ECS points this listener's rule of the service at the
# new revision before any production traffic moves. HTTPS when the load balancer has a certificate;
# it admits the VPC only, as it is for tests, not users.
TEST_LISTENER_PORT = 8080
TEST_LISTENER_REASON = (
    "the blue/green test listener is for tests, not users: only the VPC's CIDR reaches its port "
    "(AlbSecurityGroupTestIngress); "
    "it serves HTTPS when the CertificateArn parameter gives the load balancer a certificate, else HTTP "
    "(no edge.domain, no certificate)"
)
# The default port of every target group; the tasks register with their own container port.
TARGET_GROUP_PORT = 80
# CloudFront managed policies (CloudFront developer guide, "managed cache/origin request policies").
CACHING_OPTIMIZED = "658327ea-f89d-4fab-a63d-7e88639e58f6"
CACHING_DISABLED = "4135ea2d-6df8-44a3-9df3-4b5a84be39ad"
ALL_VIEWER = "216adef6-5c7f-47e4-b989-5492eafa07d3"
# The API cache policy (ApiCaching): headers in the cache key, and the longest an API response is
# kept even when its Cache-Control asks for more (one day).
API_CACHE_KEY_HEADERS = ("Authorization", "Origin")
API_CACHE_MAX_TTL = 86400
# The SPA fallback, a CloudFront Function on the bucket's behaviour (viewer request): a path whose
# last segment has no file extension is a client-side route and gets /index.html; a file keeps its
# path, so a missing asset is a real 403/404, and the load balancer's answers are never touched.
# Runtime cloudfront-js-2.0 (CloudFront developer guide, "JavaScript runtime 2.0 features for
# CloudFront Functions"); event.request.uri carries no query string ("CloudFront Functions event
# structure"). tests/test_edge.py runs this code under node.
SPA_REWRITE_FUNCTION = """function handler(event) {
    var request = event.request;
    var last = request.uri.substring(request.uri.lastIndexOf('/') + 1);
    if (last.indexOf('.') === -1) {
        request.uri = '/index.html';
    }
    return request;
}
"""
# The fixed hosted zone of every CloudFront alias target.
CLOUDFRONT_ZONE_ID = "Z2FDTNDATAQYW2"
# ALB access-log writers of the regions opened before August 2022 (ELB docs, "Enable access logs");
# every newer region delivers through the logdelivery.elasticloadbalancing.amazonaws.com principal.
ELB_LOG_ACCOUNTS = {
    "us-east-1": "127311923021",
    "us-east-2": "033677994240",
    "us-west-1": "027434742980",
    "us-west-2": "797873946194",
    "af-south-1": "098369216593",
    "ap-east-1": "754344448648",
    "ap-south-1": "718504428378",
    "ap-northeast-1": "582318560864",
    "ap-northeast-2": "600734575887",
    "ap-northeast-3": "383597477331",
    "ap-southeast-1": "114774131450",
    "ap-southeast-2": "783225319266",
    "ca-central-1": "985666609251",
    "eu-central-1": "054676820928",
    "eu-west-1": "156460612806",
    "eu-west-2": "652711504416",
    "eu-west-3": "009996457667",
    "eu-south-1": "635631232127",
    "eu-north-1": "897822967062",
    "me-south-1": "076674570225",
    "sa-east-1": "507241528517",
}
ELB_LOG_SERVICE = "logdelivery.elasticloadbalancing.amazonaws.com"
S3_LOG_PREFIX = "s3"
ALB_LOG_PREFIX = "alb"
CLOUDFRONT_LOG_PREFIX = "cloudfront"


# ------------------------------------------------------------------ what the profile asks for


GLOBAL_REGION = "us-east-1"  # where CloudFront-scope web ACLs and CloudFront's certificates live


def needs_global_stack(cfg: AppConfig) -> bool:
    """CloudFront-scope WAF or a generated CloudFront certificate, outside us-east-1."""
    return (
        cfg.region != GLOBAL_REGION
        and cfg.edge.cloudfront.enabled
        and (cfg.edge.waf.cloudfront or _generates_cloudfront_certificate(cfg))
    )


def _generates_cloudfront_certificate(cfg: AppConfig) -> bool:
    edge = cfg.edge
    return edge.domain is not None and edge.cloudfront.enabled and not edge.cloudfront.certificate_arn


def _plain_alb_origin(cfg: AppConfig) -> bool:
    """CloudFront reaches the ALB over HTTP when there is no domain: the ALB's generated DNS name is
    covered by no certificate, so CloudFront could not verify an HTTPS origin. CloudFront is then
    the TLS endpoint (viewers are redirected to HTTPS there) and the HTTP listener must serve, not
    redirect."""
    edge = cfg.edge
    return edge.cloudfront.enabled and "alb" in edge.cloudfront.origins and edge.domain is None


def _origin_name(cfg: AppConfig) -> str:
    """The ALB's name for CloudFront when a domain exists: covered by the ALB certificate."""
    return f"origin.{cfg.edge.domain.name}"


def listener_priorities(cfg: AppConfig) -> dict[str, int]:
    """Explicit priorities stay; the others follow in service order, catch-all (/*) services last,
    in steps of 10 that skip the explicit ones."""
    web = web_services(cfg)
    explicit = {name: svc.priority for name, svc in web.items() if svc.priority is not None}
    pending = [name for name, svc in web.items() if svc.priority is None]
    pending.sort(key=lambda name: "/*" in web[name].path_patterns)  # stable: keeps service order
    priorities, step = dict(explicit), 10
    for name in pending:
        while step in explicit.values():
            step += 10
        priorities[name] = step
        step += 10
    return {name: priorities[name] for name in web}


def web_services(cfg: AppConfig) -> dict:
    """The services behind the load balancer, in params order: every one but the workers
    (path_patterns: []), which get no target group, listener rule or load-balancer health check."""
    return {name: svc for name, svc in cfg.services.items() if not svc.is_worker}


# ------------------------------------------------------------------ buckets


def _bucket(
    b: LayerBuilder,
    title: str,
    kind: str,
    *,
    versioned: bool,
    expiration_days: int | None = None,
    acl_writers: bool = False,
    log_to: s3.Bucket | None = None,
) -> s3.Bucket:
    """Encrypted (SSE-S3: ALB and CloudFront log delivery support no KMS), no public access;
    CloudFront standard logs are written through an ACL grant, so that bucket keeps ACLs on."""
    rules = [lifecycle_rule("abort-incomplete-uploads", 7)]
    if expiration_days is not None:
        rules.insert(0, lifecycle_rule("expire-logs", expiration_days))
    if versioned:
        rules.append(lifecycle_rule("expire-old-versions", 30))
    bucket = b.private_bucket(title, kind, rules, versioned=versioned, acl_writers=acl_writers)
    if log_to is not None:
        bucket.LoggingConfiguration = s3.LoggingConfiguration(
            DestinationBucketName=Ref(log_to), LogFilePrefix=f"{S3_LOG_PREFIX}/{kind}/"
        )
    return b.add(bucket)


def has_access_log_bucket(cfg: AppConfig) -> bool:
    """The edge layer keeps an access-log bucket (ALB, CloudFront and S3 server access logs)."""
    edge = cfg.edge
    return edge.alb.access_logs.enabled or edge.cloudfront.enabled or edge.spa_bucket


def _log_bucket(b: LayerBuilder) -> tuple[s3.Bucket, s3.BucketPolicy] | None:
    """One bucket for the ALB, CloudFront and S3 server access logs (the SPA bucket's, and the
    canary artifact bucket's of the observability layer), each under its own prefix."""
    edge = b.cfg.edge
    alb_logs = edge.alb.access_logs.enabled
    if not has_access_log_bucket(b.cfg):
        return None
    bucket = _bucket(
        b,
        "AccessLogsBucket",
        "edge-logs",
        versioned=True,
        expiration_days=edge.alb.access_logs.expiration_days,
        acl_writers=edge.cloudfront.enabled,
    )
    b.skip_check(
        bucket,
        "CKV_AWS_18",
        "this is the access-log bucket itself; logging it into itself would loop, and a second log bucket "
        "would need the same skip",
    )
    if b.cfg.observability.synthetics.enabled:
        b.output(
            "AccessLogsBucketName",
            Ref(bucket),
            f"Bucket of the access logs; the canary artifact bucket logs under {S3_LOG_PREFIX}/canary/",
        )
    grants = []
    if edge.spa_bucket or b.cfg.observability.synthetics.enabled:
        grants.append(
            Statement(
                Sid="S3ServerAccessLogsDelivery",
                Effect=Allow,
                Principal=Principal("Service", "logging.s3.amazonaws.com"),
                Action=[awacs_s3.PutObject],
                Resource=[Join("", [GetAtt(bucket, "Arn"), f"/{S3_LOG_PREFIX}/*"])],
                Condition=Condition(StringEquals("aws:SourceAccount", AccountId)),
            )
        )
    if alb_logs:
        account = ELB_LOG_ACCOUNTS.get(b.cfg.region)
        writer = (
            Principal("AWS", Sub(f"arn:${{AWS::Partition}}:iam::{account}:root"))
            if account
            else Principal("Service", ELB_LOG_SERVICE)
        )
        grants.append(
            Statement(
                Sid="LoadBalancerWritesAccessLogs",
                Effect=Allow,
                Principal=writer,
                Action=[awacs_s3.PutObject],
                Resource=[Join("", [GetAtt(bucket, "Arn"), f"/{ALB_LOG_PREFIX}/AWSLogs/", AccountId, "/*"])],
            )
        )
    return bucket, b.tls_only_bucket_policy(bucket, *grants)


# ------------------------------------------------------------------ load balancer


def _target_group(b: LayerBuilder, svc_name: str, vpc_id, *, green: bool = False) -> elb.TargetGroup:
    svc = b.cfg.services[svc_name]
    check = svc.health_check
    qualifier = f"{svc_name}-green" if green else svc_name
    return b.add(
        elb.TargetGroup(
            logical_id("service", svc_name, "GreenTargetGroup" if green else "TargetGroup"),
            Name=b.named("tg", qualifier),
            TargetType="ip",
            Protocol="HTTP",
            # Port is create-only and the group is custom-named, so a port taken from the service
            # would make a routine port change a replacement CloudFormation refuses. ECS registers
            # every awsvpc task by IP with the containerPort of the service's load-balancer config,
            # which overrides this default ("This port is used unless you specify a port override
            # when registering the target": ELBv2 API reference, CreateTargetGroup, Port), and the
            # health check's default traffic-port is "the port on which each target receives
            # traffic" (CreateTargetGroup, HealthCheckPort). So the group's own Port is a constant.
            Port=TARGET_GROUP_PORT,
            VpcId=vpc_id,
            HealthCheckEnabled=True,
            HealthCheckProtocol="HTTP",
            HealthCheckPath=check.path,
            HealthCheckIntervalSeconds=check.interval_seconds,
            HealthCheckTimeoutSeconds=check.timeout_seconds,
            HealthyThresholdCount=check.healthy_threshold,
            UnhealthyThresholdCount=check.unhealthy_threshold,
            Matcher=elb.Matcher(HttpCode=check.matcher),
            TargetGroupAttributes=[
                elb.TargetGroupAttribute(
                    Key="deregistration_delay.timeout_seconds", Value=str(svc.deregistration_delay)
                )
            ],
            Tags=b.tags("tg", qualifier),
        )
    )


def _forward(target_group) -> elb.Action:
    return elb.Action(Type="forward", TargetGroupArn=Ref(target_group))


def _not_found() -> elb.Action:
    return elb.Action(
        Type="fixed-response",
        FixedResponseConfig=elb.FixedResponseConfig(
            StatusCode="404", ContentType="text/plain", MessageBody="Not found"
        ),
    )


def _default_action(cfg: AppConfig, groups: dict[str, elb.TargetGroup]) -> elb.Action:
    """The catch-all (/*) service takes what no rule matches; without one, a plain 404. A blue/green
    catch-all is reached through its /* rule only: ECS moves traffic on that rule, and a default
    action pinned to one of its two target groups would send requests to the idle one after a
    deployment."""
    catch_all = next((name for name, svc in cfg.services.items() if "/*" in svc.path_patterns), None)
    if catch_all is not None and cfg.services[catch_all].deployment != "blue_green":
        return _forward(groups[catch_all])
    return _not_found()


def _rule_action(
    svc_name: str, groups: dict[str, elb.TargetGroup], alternates: dict[str, elb.TargetGroup]
) -> elb.ListenerRuleAction:
    """A blue/green service's rule forwards to both of its target groups, weight 1 and 0: the rule
    ECS rewrites as it shifts traffic (ECS developer guide, "Application Load Balancer resources for
    blue/green deployments"; "Migrating a CloudFormation CodeDeploy blue/green template")."""
    if svc_name not in alternates:
        return elb.ListenerRuleAction(Type="forward", TargetGroupArn=Ref(groups[svc_name]))
    return elb.ListenerRuleAction(
        Type="forward",
        ForwardConfig=elb.ForwardConfig(
            TargetGroups=[
                elb.TargetGroupTuple(TargetGroupArn=Ref(groups[svc_name]), Weight=1),
                elb.TargetGroupTuple(TargetGroupArn=Ref(alternates[svc_name]), Weight=0),
            ]
        ),
    )


def _rules(
    b: LayerBuilder,
    listener,
    groups: dict[str, elb.TargetGroup],
    alternates: dict[str, elb.TargetGroup],
    id_suffix: str,
    condition: str | None = None,
    *,
    services: list[str] | None = None,
) -> dict[str, elb.ListenerRule]:
    """One path rule per service (all of them, or `services`) on `listener`."""
    rules = {}
    for svc_name, priority in listener_priorities(b.cfg).items():
        if services is not None and svc_name not in services:
            continue
        rule = elb.ListenerRule(
            logical_id("service", svc_name, f"{id_suffix}ListenerRule"),
            ListenerArn=listener,
            Priority=priority,
            Conditions=[
                elb.Condition(
                    Field="path-pattern",
                    PathPatternConfig=elb.PathPatternConfig(Values=b.cfg.services[svc_name].path_patterns),
                )
            ],
            Actions=[_rule_action(svc_name, groups, alternates)],
        )
        if condition:
            rule.Condition = condition
        rules[svc_name] = b.add(rule)
    return rules


@dataclass(frozen=True)
class LoadBalancer:
    """What the rest of the edge layer uses of the load balancer."""

    alb: elb.LoadBalancer
    production: Any  # the listener that serves traffic: HTTPS with a certificate, else HTTP (maybe an If)


@dataclass(frozen=True)
class AlbContext:
    """What the load balancer's parts share: the ALB, its security group, its target groups (blue and
    green), the certificate condition and the certificate ARN its HTTPS listeners use."""

    b: LayerBuilder
    alb: elb.LoadBalancer
    alb_group: Any
    groups: Mapping[str, elb.TargetGroup]
    greens: Mapping[str, elb.TargetGroup]  # the alternate target groups of the blue/green services
    has_certificate: str  # the certificate condition's name
    certificate_arn: Any

    @property
    def cfg(self) -> AppConfig:
        return self.b.cfg


@dataclass(frozen=True)
class AlbListeners:
    http: elb.Listener
    https: elb.Listener
    production: Any
    production_rules: Mapping[str, elb.ListenerRule]  # the path rules of the production listener, per service
    test: elb.Listener | None  # the blue/green test listener, when a service deploys blue/green
    test_rules: Mapping[str, elb.ListenerRule]


def _load_balancer(b: LayerBuilder, vpc_id, public_subnets, alb_group, log_bucket) -> LoadBalancer:
    """ALB, target groups, listeners and rules; returns what the other parts of the layer need."""
    has_certificate = b.certificate_condition()
    alb = _alb(b, public_subnets, alb_group, log_bucket)
    web = web_services(b.cfg)
    groups = {name: _target_group(b, name, vpc_id) for name in web}
    greens = {
        name: _target_group(b, name, vpc_id, green=True) for name, svc in web.items() if svc.deployment == "blue_green"
    }
    certificate_arn = _alb_certificate_arn(b, alb_group, has_certificate)
    ctx = AlbContext(
        b, alb, alb_group, MappingProxyType(groups), MappingProxyType(greens), has_certificate, certificate_arn
    )
    https = _https_listener(ctx)
    http = _http_listener(ctx)
    production, production_rules = _production_rules(ctx, https, http)
    test, test_rules = _test_listener(ctx) if greens else (None, {})
    listeners = AlbListeners(
        http, https, production, MappingProxyType(production_rules), test, MappingProxyType(test_rules)
    )
    _alb_outputs(ctx, listeners)
    return LoadBalancer(alb=alb, production=production)


def _alb(b: LayerBuilder, public_subnets, alb_group, log_bucket) -> elb.LoadBalancer:
    cfg, alb_config = b.cfg, b.cfg.edge.alb
    attributes = {
        "idle_timeout.timeout_seconds": str(alb_config.idle_timeout_seconds),
        "routing.http.drop_invalid_header_fields.enabled": "true",
        "deletion_protection.enabled": "true" if cfg.is_prod else "false",
        "access_logs.s3.enabled": "true" if alb_config.access_logs.enabled else "false",
    }
    if alb_config.access_logs.enabled:
        attributes |= {"access_logs.s3.bucket": Ref(log_bucket[0]), "access_logs.s3.prefix": ALB_LOG_PREFIX}
    alb = elb.LoadBalancer(
        "LoadBalancer",
        Name=b.named("alb"),
        Type="application",
        Scheme="internet-facing",
        IpAddressType="ipv4",
        Subnets=public_subnets,
        SecurityGroups=[alb_group],
        LoadBalancerAttributes=[elb.LoadBalancerAttributes(Key=k, Value=v) for k, v in sorted(attributes.items())],
        Tags=b.tags("alb"),
    )
    if alb_config.access_logs.enabled:
        alb.DependsOn = [log_bucket[1].title]  # ELB checks it may write to the bucket when it is created
    return b.add(alb)


def _alb_certificate_arn(b: LayerBuilder, alb_group, has_certificate: str):
    """The HTTPS listeners' certificate: the CertificateArn knob, or with a domain the one generated
    when the knob is empty."""
    cfg, edge = b.cfg, b.cfg.edge
    domain = edge.domain
    if not domain:
        return Ref("CertificateArn")
    names = (domain.name, _origin_name(cfg))
    certificate = b.add(
        acm.Certificate(
            "LoadBalancerCertificate",
            DomainName=domain.name,
            SubjectAlternativeNames=[_origin_name(cfg)],
            ValidationMethod="DNS",
            DomainValidationOptions=[
                acm.DomainValidationOption(DomainName=n, HostedZoneId=domain.hosted_zone_id) for n in names
            ],
            Tags=b.tags("acm-alb"),
        )
    )
    # The security layer opens 443 only for a given CertificateArn; the generated one needs it too,
    # unless CloudFront fronts the ALB: then only CloudFront reaches it (security layer).
    if not edge.cloudfront_fronts_alb:
        b.template.add_condition("GeneratesCertificate", Equals(Ref("CertificateArn"), ""))
        b.add(
            ec2.SecurityGroupIngress(
                "AlbSecurityGroupHttpsIngress",
                Condition="GeneratesCertificate",
                GroupId=alb_group,
                IpProtocol="tcp",
                FromPort=edge.alb.https_port,
                ToPort=edge.alb.https_port,
                CidrIp="0.0.0.0/0",
                Description="HTTPS from the internet (generated certificate)",
            )
        )
    return If(has_certificate, Ref("CertificateArn"), Ref(certificate))


def _https_listener(ctx: AlbContext) -> elb.Listener:
    """Which listener serves traffic: HTTPS when a certificate exists (a domain generates one),
    HTTP otherwise, and always HTTP when CloudFront reaches the ALB without a domain. Without a
    domain the HTTPS listener exists only with a given CertificateArn."""
    https = elb.Listener(
        "HttpsListener",
        LoadBalancerArn=Ref(ctx.alb),
        Port=ctx.cfg.edge.alb.https_port,
        Protocol="HTTPS",
        SslPolicy=ALB_TLS_POLICY,
        Certificates=[elb.Certificate(CertificateArn=ctx.certificate_arn)],
        DefaultActions=[_default_action(ctx.cfg, ctx.groups)],
    )
    if not ctx.cfg.edge.domain:
        https.Condition = ctx.has_certificate
    return ctx.b.add(https)


def _http_listener(ctx: AlbContext) -> elb.Listener:
    """Port 80: the default action when CloudFront reaches the ALB over HTTP, else a redirect to
    HTTPS (with a domain always, without one when a CertificateArn is given)."""
    cfg, b = ctx.cfg, ctx.b
    redirect = elb.Action(
        Type="redirect",
        RedirectConfig=elb.RedirectConfig(
            Protocol="HTTPS",
            Port=str(cfg.edge.alb.https_port),
            Host="#{host}",
            Path="/#{path}",
            Query="#{query}",
            StatusCode="HTTP_301",
        ),
    )
    if _plain_alb_origin(cfg):
        http_action = _default_action(cfg, ctx.groups)
    elif cfg.edge.domain:
        http_action = redirect
    else:
        http_action = If(ctx.has_certificate, redirect, _default_action(cfg, ctx.groups))
    http = b.add(
        elb.Listener(
            "HttpListener", LoadBalancerArn=Ref(ctx.alb), Port=80, Protocol="HTTP", DefaultActions=[http_action]
        )
    )
    why = (
        "port 80 redirects to HTTPS when a certificate is given; without one it serves HTTP as seeds 001/004 ask, "
        "and CloudFront reaches the ALB's generated name over HTTP"
    )
    for check in ("CKV_AWS_2", "CKV_AWS_103"):
        b.skip_check(http, check, why)
    return http


def _production_rules(
    ctx: AlbContext, https: elb.Listener, http: elb.Listener
) -> tuple[Any, dict[str, elb.ListenerRule]]:
    """(the production listener, its path rules per service)."""
    b, groups, greens = ctx.b, ctx.groups, ctx.greens
    if _plain_alb_origin(ctx.cfg):
        production = Ref(http)
        production_rules = _rules(b, production, groups, greens, "")
        # ECS moves a blue/green service's traffic on one production rule: the HTTP one CloudFront
        # uses. The HTTPS listener (a given certificate) serves the rolling services only.
        rolling = [name for name in groups if name not in greens]
        _rules(b, Ref(https), groups, greens, "Https", ctx.has_certificate, services=rolling)
    elif ctx.cfg.edge.domain:
        production = Ref(https)
        production_rules = _rules(b, production, groups, greens, "")
    else:
        production = If(ctx.has_certificate, Ref(https), Ref(http))
        production_rules = _rules(b, production, groups, greens, "")
    return production, production_rules


def _test_listener(ctx: AlbContext) -> tuple[elb.Listener, dict[str, elb.ListenerRule]]:
    """The blue/green test listener, its rules and its ingress. HTTPS under the load balancer's
    certificate when there is one (a domain generates one; without a domain, the CertificateArn
    parameter), else HTTP; either way only the VPC reaches it."""
    b, has_certificate, certificate = ctx.b, ctx.has_certificate, elb.Certificate(CertificateArn=ctx.certificate_arn)
    domain = ctx.cfg.edge.domain
    if domain:
        tls = dict(Protocol="HTTPS", SslPolicy=ALB_TLS_POLICY, Certificates=[certificate])
    else:
        tls = dict(
            Protocol=If(has_certificate, "HTTPS", "HTTP"),
            SslPolicy=If(has_certificate, ALB_TLS_POLICY, NoValue),
            Certificates=If(has_certificate, [certificate], NoValue),
        )
    test = elb.Listener(
        "TestListener", LoadBalancerArn=Ref(ctx.alb), Port=TEST_LISTENER_PORT, DefaultActions=[_not_found()], **tls
    )
    if not domain:
        for check in ("CKV_AWS_2", "CKV_AWS_103"):
            b.skip_check(test, check, TEST_LISTENER_REASON)
    b.add(test)
    test_rules = _rules(b, Ref(test), ctx.groups, ctx.greens, "Test")
    description = "CIDR block of the VPC (the only source the blue/green test listener admits)"
    vpc_cidr = Ref(b.input("VpcCidr", "network.VpcCidr", description))
    b.add(
        ec2.SecurityGroupIngress(
            "AlbSecurityGroupTestIngress",
            GroupId=ctx.alb_group,
            IpProtocol="tcp",
            FromPort=TEST_LISTENER_PORT,
            ToPort=TEST_LISTENER_PORT,
            CidrIp=vpc_cidr,
            Description="blue/green test listener, from inside the VPC only",
        )
    )
    return test, test_rules


def _alb_outputs(ctx: AlbContext, listeners: AlbListeners) -> None:
    b, alb = ctx.b, ctx.alb
    b.output("LoadBalancerArn", Ref(alb), "The application load balancer")
    full_name = "app/<name>/<id>: the LoadBalancer dimension of ALB metrics"
    b.output("LoadBalancerFullName", GetAtt(alb, "LoadBalancerFullName"), full_name)
    b.output("LoadBalancerDnsName", GetAtt(alb, "DNSName"), "The load balancer's DNS name", root=True)
    b.output("HttpListenerArn", Ref(listeners.http), "The port 80 listener")
    production = "The listener that serves traffic (HTTPS with a certificate, else HTTP)"
    b.output("ProductionListenerArn", listeners.production, production)
    if listeners.test is not None:
        description = f"Blue/green test listener (port {TEST_LISTENER_PORT}), routed to the green target groups"
        b.output("TestListenerArn", Ref(listeners.test), description)
    for name, group in ctx.groups.items():
        b.output(logical_id("service", name, "TargetGroupArn"), Ref(group), f"Target group of service {name}")
        b.output(
            logical_id("service", name, "TargetGroupFullName"),
            GetAtt(group, "TargetGroupFullName"),
            f"targetgroup/<name>/<id> of service {name}, for ALBRequestCountPerTarget",
        )
    for name, group in ctx.greens.items():
        green = f"Alternate target group of blue/green service {name}"
        b.output(logical_id("service", name, "GreenTargetGroupArn"), Ref(group), green)
        b.output(
            logical_id("service", name, "GreenTargetGroupFullName"),
            GetAtt(group, "TargetGroupFullName"),
            f"targetgroup/<name>/<id> of the alternate target group of service {name} (rollback alarm)",
        )
        b.output(
            logical_id("service", name, "ProductionListenerRuleArn"),
            Ref(listeners.production_rules[name]),
            f"Production listener rule ECS shifts the traffic of service {name} on",
        )
        b.output(
            logical_id("service", name, "TestListenerRuleArn"),
            Ref(listeners.test_rules[name]),
            f"Test listener rule ECS points at the new revision of service {name} first",
        )


# ------------------------------------------------------------------ WAF


def _log_group(b: LayerBuilder, title: str, name: str, key_arn, kind: str) -> logs.LogGroup:
    return b.log_group(title, name, key_arn, b.tags(kind))


def _ip_set(
    b: LayerBuilder, title: str, name: str, kind: str, scope: str, addresses: list[str], description: str
) -> wafv2.IPSet:
    """An IPv4 WAF IP set of the web ACL's scope, named `<name>-<kind>-<suffix>`."""
    return b.add(
        wafv2.IPSet(
            title,
            Name=b.named(name, kind),
            Description=description,
            Scope=scope,
            IPAddressVersion="IPV4",
            Addresses=addresses,
            Tags=b.tags(name, kind),
        )
    )


def web_acl(b: LayerBuilder, scope: str, key_arn, *, proxy_cidr: str | None = None) -> wafv2.WebACL:
    """A web ACL with the profile's IP block list, rate rule and managed rule groups, logged to a
    KMS-encrypted `aws-waf-logs-*` group. scope: REGIONAL or CLOUDFRONT.

    The rate rule counts per source address (AggregateKeyType IP), never per X-Forwarded-For: the
    client writes that header (WAF takes its first address) and requests straight to the load
    balancer have none. At CLOUDFRONT scope the source is the client. A load balancer behind
    CloudFront admits only CloudFront and has no regional ACL (the params refuse one). proxy_cidr:
    the VPC of an API Gateway VPC link, whose interfaces forward every API client from a few
    addresses; the rate rule leaves those out (API Gateway's stage throttling limits them) and
    counts everyone who reaches the load balancer directly."""
    settings = b.cfg.edge.waf
    kind = "cloudfront" if scope == "CLOUDFRONT" else "regional"
    prefix = "CloudFront" if scope == "CLOUDFRONT" else "Regional"

    def visibility(metric: str) -> wafv2.VisibilityConfig:
        return wafv2.VisibilityConfig(
            SampledRequestsEnabled=True, CloudWatchMetricsEnabled=True, MetricName=f"{b.named('waf', kind)}-{metric}"
        )

    rules = []
    if settings.ip_block_list:
        ip_set = _ip_set(
            b,
            f"{prefix}BlockedIpSet",
            "ipset-blocked",
            kind,
            scope,
            settings.ip_block_list,
            "Addresses blocked by the profile WAF IP block list",
        )
        rules.append(
            wafv2.WebACLRule(
                Name="block-ip-list",
                Priority=0,
                Action=wafv2.RuleAction(Block=wafv2.BlockAction()),
                Statement=wafv2.Statement(
                    IPSetReferenceStatement=wafv2.IPSetReferenceStatement(Arn=GetAtt(ip_set, "Arn"))
                ),
                VisibilityConfig=visibility("block-ip-list"),
            )
        )
    rate = wafv2.RateBasedStatement(Limit=settings.rate_limit, AggregateKeyType="IP")
    if proxy_cidr is not None:
        proxies = _ip_set(
            b,
            f"{prefix}ProxyIpSet",
            "ipset-proxies",
            kind,
            scope,
            [proxy_cidr],
            "The VPC of the API Gateway VPC link, whose clients the API stage throttles instead",
        )
        rate.ScopeDownStatement = wafv2.Statement(
            NotStatement=wafv2.NotStatement(
                Statement=wafv2.Statement(
                    IPSetReferenceStatement=wafv2.IPSetReferenceStatement(Arn=GetAtt(proxies, "Arn"))
                )
            )
        )
    rules.append(
        wafv2.WebACLRule(
            Name="rate-limit",
            Priority=1,
            Action=wafv2.RuleAction(Block=wafv2.BlockAction()),
            Statement=wafv2.Statement(RateBasedStatement=rate),
            VisibilityConfig=visibility("rate-limit"),
        )
    )
    for index, group in enumerate(settings.managed_rule_groups):
        rules.append(
            wafv2.WebACLRule(
                Name=group,
                Priority=10 + index,
                OverrideAction=wafv2.OverrideAction(**{"None": {}}),
                Statement=wafv2.Statement(
                    ManagedRuleGroupStatement=wafv2.ManagedRuleGroupStatement(VendorName="AWS", Name=group)
                ),
                VisibilityConfig=visibility(group),
            )
        )
    acl = b.add(
        wafv2.WebACL(
            f"{prefix}WebAcl",
            Name=b.named("waf", kind),
            Description=(
                f"{kind} web ACL: IP block list, rate limit {settings.rate_limit}/5 min per IP, AWS managed rules"
            ),
            Scope=scope,
            DefaultAction=wafv2.DefaultAction(Allow=wafv2.AllowAction()),
            Rules=rules,
            VisibilityConfig=visibility("all"),
            Tags=b.tags("waf", kind),
        )
    )
    # WAF logs only to groups named aws-waf-logs-*.
    group = _log_group(b, f"{prefix}WafLogGroup", f"aws-waf-logs-{b.named(kind)}", key_arn, f"log-waf-{kind}")
    b.add(
        wafv2.LoggingConfiguration(
            f"{prefix}WafLogging",
            ResourceArn=GetAtt(acl, "Arn"),
            LogDestinationConfigs=[
                Sub("arn:${AWS::Partition}:logs:${AWS::Region}:${AWS::AccountId}:log-group:${Group}", Group=Ref(group))
            ],
        )
    )
    return acl


def cloudfront_certificate(b: LayerBuilder) -> acm.Certificate:
    domain = b.cfg.edge.domain
    return b.add(
        acm.Certificate(
            "CloudFrontCertificate",
            DomainName=domain.name,
            ValidationMethod="DNS",
            DomainValidationOptions=[
                acm.DomainValidationOption(DomainName=domain.name, HostedZoneId=domain.hosted_zone_id)
            ],
            Tags=b.tags("acm-cloudfront"),
        )
    )


# ------------------------------------------------------------------ CloudFront


def _spa_rewrite_function(b: LayerBuilder) -> cf.Function:
    return b.add(
        cf.Function(
            "SpaRewriteFunction",
            Name=b.named("spa-rewrite"),
            AutoPublish=True,
            FunctionCode=SPA_REWRITE_FUNCTION,
            FunctionConfig=cf.FunctionConfig(
                Comment="SPA routes (paths without a file extension) get /index.html", Runtime="cloudfront-js-2.0"
            ),
            Tags=b.tags("spa-rewrite"),
        )
    )


def _api_cache_policy(b: LayerBuilder) -> cf.CachePolicy:
    """Edge caching for the load balancer's API (seed 004 asks for CachingOptimized, whose key has
    no query strings or cookies: GET /products?page=2 would be served from ?page=1).

    The cache key holds every query string, every cookie and the Authorization and Origin headers,
    so no response reaches a viewer who sent different parameters, another session or token, or
    another CORS origin; Authorization can reach the origin only through the cache key (CloudFront
    refuses it in an origin request policy: CloudFront developer guide, "Control the cache key
    with a policy", and Knowledge Center "cloudfront-authorization-header"). MinTTL and DefaultTTL
    are 0: the API decides what is cached with Cache-Control (max-age / s-maxage), and `no-store`
    or `private` are honoured (a MinTTL above 0 would override them: CloudFront API reference,
    CreateCachePolicy). Only GET and HEAD are ever cached (CachedMethods), so writes pass through."""
    return b.add(
        cf.CachePolicy(
            "ApiCachePolicy",
            CachePolicyConfig=cf.CachePolicyConfig(
                Name=b.named("cache-api"),
                Comment=(
                    "API behind the load balancer: cached as its Cache-Control allows, keyed on query strings, "
                    "cookies, Authorization and Origin"
                ),
                MinTTL=0,
                DefaultTTL=0,
                MaxTTL=API_CACHE_MAX_TTL,
                ParametersInCacheKeyAndForwardedToOrigin=cf.ParametersInCacheKeyAndForwardedToOrigin(
                    EnableAcceptEncodingGzip=True,
                    EnableAcceptEncodingBrotli=True,
                    QueryStringsConfig=cf.CacheQueryStringsConfig(QueryStringBehavior="all"),
                    CookiesConfig=cf.CacheCookiesConfig(CookieBehavior="all"),
                    HeadersConfig=cf.CacheHeadersConfig(
                        HeaderBehavior="whitelist", Headers=list(API_CACHE_KEY_HEADERS)
                    ),
                ),
            ),
        )
    )


def _distribution(b: LayerBuilder, alb, spa, log_bucket, web_acl_arn, certificate_arn) -> cf.Distribution:
    cfg = b.cfg
    settings = cfg.edge.cloudfront
    price_class = b.knob(
        "PriceClass",
        "CDN",
        "CloudFront price class",
        "Edge locations CloudFront serves from (PriceClass_100: North America and Europe)",
        settings.price_class,
        key="edge.cloudfront.price_class",
        AllowedValues=["PriceClass_100", "PriceClass_200", "PriceClass_All"],
    )
    origins, behaviours = [], {}
    if "s3" in settings.origins:
        oac = b.add(
            cf.OriginAccessControl(
                "SpaOriginAccessControl",
                OriginAccessControlConfig=cf.OriginAccessControlConfig(
                    Name=b.named("oac-spa"),
                    Description="CloudFront signs its requests to the SPA bucket",
                    OriginAccessControlOriginType="s3",
                    SigningBehavior="always",
                    SigningProtocol="sigv4",
                ),
            )
        )
        origins.append(
            cf.Origin(
                Id="spa",
                DomainName=GetAtt(spa, "RegionalDomainName"),
                S3OriginConfig=cf.S3OriginConfig(OriginAccessIdentity=""),
                OriginAccessControlId=GetAtt(oac, "Id"),
            )
        )
        behaviours["s3"] = dict(
            TargetOriginId="spa",
            CachePolicyId=CACHING_OPTIMIZED,
            AllowedMethods=["GET", "HEAD", "OPTIONS"],
            CachedMethods=["GET", "HEAD"],
        )
        if settings.origins[0] == "s3":
            # The bucket holds a single-page app that routes on the client: its behaviour alone
            # sends client-side routes to index.html. A distribution-wide CustomErrorResponses
            # rewrite would also turn the load balancer's 403/404 into index.html with 200.
            behaviours["s3"]["FunctionAssociations"] = [
                cf.FunctionAssociation(
                    EventType="viewer-request",
                    FunctionARN=GetAtt(_spa_rewrite_function(b), "FunctionMetadata.FunctionARN"),
                )
            ]
    if "alb" in settings.origins:
        plain = _plain_alb_origin(cfg)
        origins.append(
            cf.Origin(
                Id="alb",
                DomainName=GetAtt(alb, "DNSName") if plain else _origin_name(cfg),
                CustomOriginConfig=cf.CustomOriginConfig(
                    OriginProtocolPolicy="http-only" if plain else "https-only",
                    HTTPPort=80,
                    HTTPSPort=cfg.edge.alb.https_port,
                    OriginSSLProtocols=["TLSv1.2"],
                ),
            )
        )
        # Every header, cookie and query string passed on; cached only if the profile asks (seed 004).
        # AllViewer, not AllViewerExceptHostHeader: the ALB routes by path and accepts any Host, and
        # the application sees the name the viewer used (the ALB's own name admits only CloudFront).
        cache_policy = Ref(_api_cache_policy(b)) if settings.alb_cache_policy == "ApiCaching" else CACHING_DISABLED
        behaviours["alb"] = dict(
            TargetOriginId="alb",
            CachePolicyId=cache_policy,
            OriginRequestPolicyId=ALL_VIEWER,
            AllowedMethods=["DELETE", "GET", "HEAD", "OPTIONS", "PATCH", "POST", "PUT"],
            CachedMethods=["GET", "HEAD"],
        )
    # The first origin listed takes the default behaviour, the other one api_path_pattern.
    default_origin = settings.origins[0]
    common = dict(ViewerProtocolPolicy="redirect-to-https", Compress=True)
    config = dict(
        Comment=f"{cfg.application} {cfg.environment.name}",
        Enabled=True,
        HttpVersion="http2and3",
        IPV6Enabled=True,
        PriceClass=Ref(price_class),
        Origins=origins,
        DefaultCacheBehavior=cf.DefaultCacheBehavior(**behaviours[default_origin], **common),
        Logging=cf.Logging(
            Bucket=GetAtt(log_bucket, "DomainName"), Prefix=f"{CLOUDFRONT_LOG_PREFIX}/", IncludeCookies=False
        ),
    )
    others = [origin for origin in settings.origins if origin != default_origin]
    if others:
        config["CacheBehaviors"] = [
            cf.CacheBehavior(PathPattern=settings.api_path_pattern, **behaviours[others[0]], **common)
        ]
    if default_origin == "s3":
        config["DefaultRootObject"] = "index.html"
    if certificate_arn is not None:
        config["Aliases"] = [cfg.edge.domain.name]
        config["ViewerCertificate"] = cf.ViewerCertificate(
            AcmCertificateArn=certificate_arn, SslSupportMethod="sni-only", MinimumProtocolVersion=CLOUDFRONT_TLS_POLICY
        )
    else:
        config["ViewerCertificate"] = cf.ViewerCertificate(CloudFrontDefaultCertificate=True)
    if web_acl_arn is not None:
        config["WebACLId"] = web_acl_arn
    distribution = cf.Distribution(
        "Distribution", DistributionConfig=cf.DistributionConfig(**config), Tags=b.tags("cloudfront")
    )
    if certificate_arn is None:
        # "If the distribution uses the CloudFront domain name such as d111111abcdef8.cloudfront.net
        # (you set CloudFrontDefaultCertificate to true), CloudFront automatically sets the security
        # policy to TLSv1 regardless of the value that you set here" (CloudFront API reference,
        # ViewerCertificate, MinimumProtocolVersion).
        b.skip_check(distribution, "CKV_AWS_174", DEFAULT_CERTIFICATE_TLS_REASON)
    b.add(distribution)
    b.output("DistributionId", Ref(distribution), "CloudFront distribution id (for invalidations)")
    b.output("DistributionDomainName", GetAtt(distribution, "DomainName"), "CloudFront domain name", root=True)
    return distribution


# ------------------------------------------------------------------ API Gateway


def _api_gateway(b: LayerBuilder, vpc_id, private_subnets, alb_group, alb, production, key_arn) -> None:
    """An HTTP API in front of the ALB. HTTP APIs reach an ALB listener over a VPC link directly (a
    REST API would need an NLB in between); WAFv2 cannot attach to HTTP APIs, so the regional web
    ACL on the ALB inspects the API's traffic instead (its managed rules; the stage's throttling,
    not the ACL's per-address rate rule, limits it: the VPC link forwards every client from a few
    addresses)."""
    cfg = b.cfg
    settings = cfg.edge.api_gateway
    tags = {**cfg.all_tags, "Name": b.named("api")}
    api = b.add(
        apigw.Api(
            "HttpApi",
            Name=b.named("api"),
            ProtocolType="HTTP",
            Description=f"{cfg.application} API in front of the load balancer",
            Tags=tags,
        )
    )
    if settings.integration == "vpc_link":
        link_group = b.add(
            ec2.SecurityGroup(
                "ApiVpcLinkSecurityGroup",
                GroupName=group_name(cfg, "api-vpc-link"),
                GroupDescription="API Gateway VPC link: out to the load balancer listeners only",
                VpcId=vpc_id,
                SecurityGroupEgress=[
                    ec2.SecurityGroupRule(
                        IpProtocol="tcp",
                        FromPort=port,
                        ToPort=port,
                        DestinationSecurityGroupId=alb_group,
                        Description=f"to the load balancer (tcp {port})",
                    )
                    for port in sorted({80, cfg.edge.alb.https_port})
                ],
                Tags=b.tags(SECURITY_GROUP, "api-vpc-link"),
            )
        )
        if cfg.edge.cloudfront_fronts_alb:
            # The load balancer admits only CloudFront from outside; the VPC link comes from inside.
            for port in sorted({80, cfg.edge.alb.https_port}):
                b.add(
                    ec2.SecurityGroupIngress(
                        f"AlbSecurityGroupFromApiVpcLink{port}Ingress",
                        GroupId=alb_group,
                        IpProtocol="tcp",
                        FromPort=port,
                        ToPort=port,
                        SourceSecurityGroupId=Ref(link_group),
                        Description=f"API Gateway VPC link to the load balancer (tcp {port})",
                    )
                )
        link = b.add(
            apigw.VpcLink(
                "ApiVpcLink",
                Name=b.named("vpc-link"),
                SubnetIds=private_subnets,
                SecurityGroupIds=[Ref(link_group)],
                Tags={**cfg.all_tags, "Name": b.named("vpc-link")},
            )
        )
        integration_props = dict(ConnectionType="VPC_LINK", ConnectionId=Ref(link), IntegrationUri=production)
        if cfg.edge.domain:
            integration_props["TlsConfig"] = apigw.TlsConfig(ServerNameToVerify=cfg.edge.domain.name)
    else:
        scheme = "https" if cfg.edge.domain else "http"
        integration_props = dict(
            IntegrationUri=Join(
                "", [f"{scheme}://", GetAtt(alb, "DNSName") if not cfg.edge.domain else _origin_name(cfg), "/{proxy}"]
            )
        )
    integration = b.add(
        apigw.Integration(
            "ApiAlbIntegration",
            ApiId=Ref(api),
            IntegrationType="HTTP_PROXY",
            IntegrationMethod="ANY",
            PayloadFormatVersion="1.0",
            **integration_props,
        )
    )
    route_key = "$default" if settings.integration == "vpc_link" else "ANY /{proxy+}"
    b.add(
        apigw.Route(
            "ApiDefaultRoute", ApiId=Ref(api), RouteKey=route_key, Target=Join("/", ["integrations", Ref(integration)])
        )
    )
    group = _log_group(b, "ApiAccessLogGroup", f"/aws/apigateway/{b.named('api')}", key_arn, "log-api")
    access_format = (
        '{"requestId":"$context.requestId","ip":"$context.identity.sourceIp","requestTime":"$context.requestTime",'
        '"httpMethod":"$context.httpMethod","routeKey":"$context.routeKey","status":"$context.status",'
        '"protocol":"$context.protocol","responseLength":"$context.responseLength","integrationError":"$context.integrationErrorMessage"}'
    )
    b.add(
        apigw.Stage(
            "ApiDefaultStage",
            ApiId=Ref(api),
            StageName="$default",
            AutoDeploy=True,
            DefaultRouteSettings=apigw.RouteSettings(
                ThrottlingRateLimit=float(settings.throttle_rate_limit),
                ThrottlingBurstLimit=settings.throttle_burst_limit,
            ),
            AccessLogSettings=apigw.AccessLogSettings(DestinationArn=GetAtt(group, "Arn"), Format=access_format),
            Tags=tags,
        )
    )
    b.output("HttpApiId", Ref(api), "HTTP API id (for authorizers)")
    b.output("ApiEndpoint", GetAtt(api, "ApiEndpoint"), "API Gateway endpoint", root=True)


# ------------------------------------------------------------------ DNS


def _records(b: LayerBuilder, alb, distribution) -> None:
    """The domain points at CloudFront when there is one (IPv4 and IPv6), else at the ALB (IPv4);
    origin.<domain> always names the ALB, under its certificate, for CloudFront and API Gateway."""
    domain = b.cfg.edge.domain
    to_alb = route53.AliasTarget(
        HostedZoneId=GetAtt(alb, "CanonicalHostedZoneID"), DNSName=GetAtt(alb, "DNSName"), EvaluateTargetHealth=True
    )
    if distribution is not None:
        to_cloudfront = route53.AliasTarget(
            HostedZoneId=CLOUDFRONT_ZONE_ID, DNSName=GetAtt(distribution, "DomainName"), EvaluateTargetHealth=False
        )
        records = [route53.RecordSet(Name=domain.name, Type=kind, AliasTarget=to_cloudfront) for kind in ("A", "AAAA")]
    else:
        records = [route53.RecordSet(Name=domain.name, Type="A", AliasTarget=to_alb)]
    records.append(route53.RecordSet(Name=_origin_name(b.cfg), Type="A", AliasTarget=to_alb))
    b.add(
        route53.RecordSetGroup(
            "DnsRecords",
            HostedZoneId=domain.hosted_zone_id,
            Comment=f"{b.cfg.application} {b.cfg.environment.name}",
            RecordSets=records,
        )
    )


# ------------------------------------------------------------------ layers


def _global_layer(cfg: AppConfig) -> Layer:
    """us-east-1: the CloudFront web ACL (with its own log key: the application key is regional)
    and the CloudFront certificate."""
    b = LayerBuilder(cfg, "global", "CloudFront web ACL and certificate (us-east-1)", scope="global")
    if cfg.edge.waf.cloudfront:
        key = b.add(
            kms.Key(
                "WafLogsKey",
                Description=f"Encrypts the CloudFront WAF logs of {cfg.application} {cfg.environment.name}",
                EnableKeyRotation=True,
                KeyPolicy=PolicyDocument(
                    Version="2012-10-17",
                    Statement=[
                        Statement(
                            Sid="AccountAdministers",
                            Effect=Allow,
                            Principal=Principal("AWS", Sub("arn:${AWS::Partition}:iam::${AWS::AccountId}:root")),
                            Action=[awacs_kms.Action("*")],
                            Resource=["*"],
                        ),
                        Statement(
                            Sid="CloudWatchLogsUsesKey",
                            Effect=Allow,
                            Principal=Principal("Service", Sub("logs.${AWS::Region}.amazonaws.com")),
                            Action=[
                                awacs_kms.Action(a)
                                for a in ("Encrypt", "Decrypt", "ReEncrypt*", "GenerateDataKey*", "DescribeKey")
                            ],
                            Resource=["*"],
                            Condition=Condition(
                                StringLike(
                                    "kms:EncryptionContext:aws:logs:arn",
                                    Sub(
                                        f"arn:${{AWS::Partition}}:logs:${{AWS::Region}}:${{AWS::AccountId}}:log-group:aws-waf-logs-{b.named('cloudfront')}"
                                    ),
                                )
                            ),
                        ),
                    ],
                ),
                Tags=b.tags("kms-waf-logs"),
            )
        )
        acl = web_acl(b, "CLOUDFRONT", GetAtt(key, "Arn"))
        b.output("WebAclArn", GetAtt(acl, "Arn"), "CloudFront-scope web ACL")
    if _generates_cloudfront_certificate(cfg):
        b.output("CloudFrontCertificateArn", Ref(cloudfront_certificate(b)), "CloudFront certificate (us-east-1)")
    return b.build()


def build(cfg: AppConfig) -> Layer | list[Layer]:
    b = LayerBuilder(cfg, "edge", "load balancer, CloudFront, SPA bucket, API Gateway, WAF, DNS")
    edge = cfg.edge
    # The target groups and the VPC link's security group live in the VPC; a profile of workers
    # only with no VPC link has neither (an unused parameter is a lint warning, W2001).
    needs_vpc = bool(web_services(cfg)) or (edge.api_gateway.enabled and edge.api_gateway.integration == "vpc_link")
    vpc_id = (
        Ref(b.input("VpcId", "network.VpcId", "VPC of the target groups", type="AWS::EC2::VPC::Id"))
        if needs_vpc
        else None
    )
    public_subnets = Ref(
        b.input(
            "PublicSubnetIds",
            "network.PublicSubnetIds",
            "Public subnets of the load balancer",
            type="List<AWS::EC2::Subnet::Id>",
        )
    )
    alb_group = Ref(
        b.input(
            "AlbSecurityGroupId",
            "security.AlbSecurityGroupId",
            "Security group of the load balancer",
            type="AWS::EC2::SecurityGroup::Id",
        )
    )
    needs_key = edge.api_gateway.enabled or edge.waf.regional or (edge.waf.cloudfront and cfg.region == "us-east-1")
    key_arn = Ref(b.input("KmsKeyArn", "security.KmsKeyArn", "KMS key of the log groups")) if needs_key else None
    b.certificate_condition()

    log_bucket = _log_bucket(b)
    lb = _load_balancer(b, vpc_id, public_subnets, alb_group, log_bucket)
    if edge.waf.regional:
        through_vpc_link = edge.api_gateway.enabled and edge.api_gateway.integration == "vpc_link"
        regional = web_acl(b, "REGIONAL", key_arn, proxy_cidr=cfg.network.vpc_cidr if through_vpc_link else None)
        b.add(
            wafv2.WebACLAssociation(
                "LoadBalancerWebAclAssociation", ResourceArn=Ref(lb.alb), WebACLArn=GetAtt(regional, "Arn")
            )
        )
        b.output("RegionalWebAclArn", GetAtt(regional, "Arn"), "Regional web ACL on the load balancer")

    spa = None
    if edge.spa_bucket:
        spa = _bucket(b, "SpaBucket", "spa", versioned=True, log_to=log_bucket[0] if log_bucket else None)
        b.output("SpaBucketName", Ref(spa), "Bucket the frontend pipeline deploys the SPA into")

    distribution = None
    layers: list[Layer] = []
    if edge.cloudfront.enabled:
        web_acl_arn = certificate_arn = None
        if edge.waf.cloudfront:
            if cfg.region == "us-east-1":
                web_acl_arn = GetAtt(web_acl(b, "CLOUDFRONT", key_arn), "Arn")
            else:
                web_acl_arn = Ref(
                    b.input(
                        "CloudFrontWebAclArn",
                        "global.WebAclArn",
                        "CloudFront-scope web ACL from the us-east-1 global stack",
                        label="CloudFront web ACL ARN",
                    )
                )
        if edge.domain:
            if edge.cloudfront.certificate_arn:
                certificate_arn = edge.cloudfront.certificate_arn
            elif cfg.region == "us-east-1":
                certificate_arn = Ref(cloudfront_certificate(b))
            else:
                certificate_arn = Ref(
                    b.input(
                        "CloudFrontCertificateArn",
                        "global.CloudFrontCertificateArn",
                        "CloudFront certificate from the us-east-1 global stack",
                        label="CloudFront certificate ARN",
                    )
                )
        distribution = _distribution(b, lb.alb, spa, log_bucket[0], web_acl_arn, certificate_arn)
        if needs_global_stack(cfg):
            layers.append(_global_layer(cfg))
    if spa is not None:
        readers = []
        if distribution is not None and "s3" in edge.cloudfront.origins:
            readers.append(
                Statement(
                    Sid="CloudFrontReadsThroughOriginAccessControl",
                    Effect=Allow,
                    Principal=Principal("Service", "cloudfront.amazonaws.com"),
                    Action=[awacs_s3.GetObject],
                    Resource=[Join("", [GetAtt(spa, "Arn"), "/*"])],
                    Condition=Condition(
                        StringEquals(
                            "AWS:SourceArn",
                            Sub("arn:${AWS::Partition}:cloudfront::${AWS::AccountId}:distribution/${Distribution}"),
                        )
                    ),
                )
            )
        b.tls_only_bucket_policy(spa, *readers)

    if edge.api_gateway.enabled:
        private_subnets = None
        if edge.api_gateway.integration == "vpc_link":
            private_subnets = Ref(
                b.input(
                    "PrivateSubnetIds",
                    "network.PrivateSubnetIds",
                    "Private subnets of the API's VPC link",
                    type="List<AWS::EC2::Subnet::Id>",
                )
            )
        _api_gateway(b, vpc_id, private_subnets, alb_group, lb.alb, lb.production, key_arn)
    if edge.domain:
        _records(b, lb.alb, distribution)
    return [b.build(), *layers] if layers else b.build()

"""observability layer: the alarm topic (KMS-encrypted, optional email subscription), alarms on
every hop of the request path (CloudFront, API Gateway, ALB and target groups, services,
database, cache) with thresholds from the profile, one dashboard per application and
environment, X-Ray sampling rule and group, and Synthetics canaries against the load balancer.

The services' log groups belong to the compute layer. CloudFront metrics exist only in
us-east-1: the alarms on them are here when the stacks deploy to us-east-1; elsewhere they
belong in the edge layer's global (us-east-1) stack.
"""

from __future__ import annotations

import json

from awacs import s3 as awacs_s3
from awacs import sns as awacs_sns
from awacs.aws import Allow, Bool, Condition, Deny, PolicyDocument, Principal, Statement, StringEquals
from troposphere import (
    AccountId,
    Equals,
    GetAtt,
    If,
    Join,
    Not,
    Ref,
    Select,
    Sub,
    cloudwatch,
    iam,
    s3,
    sns,
    synthetics,
    xray,
)

from templates.common import Layer, LayerBuilder, lifecycle_rule, logical_id, service_groups, trust_policy
from templates.config import AppConfig
from templates.edge import S3_LOG_PREFIX, has_access_log_bucket

GIB = 1024**3
FIVE_MINUTES = 300
# Memory (GiB) of the instance classes the profiles may choose; max_connections derives from it.
DB_CLASS_MEMORY_GIB = {
    "db.t3.micro": 1,
    "db.t3.small": 2,
    "db.t3.medium": 4,
    "db.t3.large": 8,
    "db.t3.xlarge": 16,
    "db.t3.2xlarge": 32,
    "db.t4g.micro": 1,
    "db.t4g.small": 2,
    "db.t4g.medium": 4,
    "db.t4g.large": 8,
    "db.t4g.xlarge": 16,
    "db.t4g.2xlarge": 32,
    "db.m5.large": 8,
    "db.m5.xlarge": 16,
    "db.m5.2xlarge": 32,
    "db.m5.4xlarge": 64,
    "db.m6g.large": 8,
    "db.m6g.xlarge": 16,
    "db.m6g.2xlarge": 32,
    "db.m6i.large": 8,
    "db.m6i.xlarge": 16,
    "db.r5.large": 16,
    "db.r5.xlarge": 32,
    "db.r5.2xlarge": 64,
    "db.r6g.large": 16,
    "db.r6g.xlarge": 32,
    "db.r6g.2xlarge": 64,
}
# The default parameter groups' max_connections formulas divide DBInstanceClassMemory (bytes) by these:
# PostgreSQL and Aurora PostgreSQL LEAST({DBInstanceClassMemory/9531392}, 5000); MySQL {DBInstanceClassMemory/12582880}.
CONNECTION_BYTES = {"postgres": 9531392, "aurora-postgresql": 9531392, "mysql": 12582880}
CONNECTION_CAP = {"postgres": 5000, "aurora-postgresql": 5000}
# Aurora MySQL's default max_connections per instance class, as AWS lists it (Amazon Aurora User
# Guide, "Managing performance and scaling for Aurora MySQL", Maximum connections to an Aurora MySQL
# DB instance): a log formula of the class memory, tabulated there, not a division like the others.
AURORA_MYSQL_MAX_CONNECTIONS = {
    "db.t3.small": 45,
    "db.t3.medium": 90,
    "db.t3.large": 135,
    "db.t4g.medium": 90,
    "db.t4g.large": 135,
    "db.r5.large": 1000,
    "db.r5.xlarge": 2000,
    "db.r5.2xlarge": 3000,
    "db.r5.4xlarge": 4000,
    "db.r6g.large": 1000,
    "db.r6g.xlarge": 2000,
    "db.r6g.2xlarge": 3000,
}
# Canaries: the newest Node.js/Puppeteer runtime AWS documents (cfn-lint 1.51.5 does not check
# RuntimeVersion; troposphere 4.11's list stops at 9.1, whose Node.js 20 Lambda runtime is retiring).
CANARY_RUNTIME = "syn-nodejs-puppeteer-15.0"
CANARY_TIMEOUT_SECONDS = 60

API_CANARY_SCRIPT = """const synthetics = require('Synthetics');
const log = require('SyntheticsLogger');

// GET TARGET_URL and fail unless it answers 2xx.
exports.handler = async () => {
  const url = new URL(process.env.TARGET_URL);
  const request = {
    hostname: url.hostname,
    method: 'GET',
    path: url.pathname + url.search,
    port: url.port || (url.protocol === 'https:' ? 443 : 80),
    protocol: url.protocol,
    headers: {'User-Agent': synthetics.getCanaryUserAgentString()},
  };
  await synthetics.executeHttpStep('api-health', request, async (response) => {
    log.info(`status ${response.statusCode}`);
    if (response.statusCode < 200 || response.statusCode > 299) {
      throw new Error(`${url.pathname} answered ${response.statusCode}`);
    }
  });
};
"""

UI_CANARY_SCRIPT = """const synthetics = require('Synthetics');
const log = require('SyntheticsLogger');

// Load TARGET_URL in the browser and fail on an error status or a load timeout.
exports.handler = async () => {
  const page = await synthetics.getPage();
  await synthetics.executeStep('load-ui', async () => {
    const response = await page.goto(process.env.TARGET_URL, {waitUntil: 'domcontentloaded', timeout: 30000});
    if (!response || response.status() >= 400) {
      throw new Error(`page answered ${response ? response.status() : 'nothing'}`);
    }
    log.info(`status ${response.status()}`);
  });
};
"""


def max_connections_problem(engine: str, instance_class: str) -> str | None:
    """Why the connections alarm could not be derived for this class (a params-time error), or None."""
    known = AURORA_MYSQL_MAX_CONNECTIONS if engine == "aurora-mysql" else DB_CLASS_MEMORY_GIB
    if instance_class in known:
        return None
    return (
        f"{instance_class}: the generator knows no max_connections for it on {engine} (the connections "
        "alarm derives from it); "
        f"known classes: {', '.join(sorted(known))} (templates/observability.py "
        f"{'AURORA_MYSQL_MAX_CONNECTIONS' if known is AURORA_MYSQL_MAX_CONNECTIONS else 'DB_CLASS_MEMORY_GIB'})"
    )


def max_connections(engine: str, instance_class: str) -> int:
    """The default parameter group's max_connections for a class, from its nominal memory.
    (RDS's DBInstanceClassMemory is a little below the nominal memory, so this is an upper bound.)
    Aurora MySQL: the value AWS lists for the class. The params model refuses an unknown class."""
    if problem := max_connections_problem(engine, instance_class):
        raise ValueError(problem)
    if engine == "aurora-mysql":
        return AURORA_MYSQL_MAX_CONNECTIONS[instance_class]
    connections = DB_CLASS_MEMORY_GIB[instance_class] * GIB // CONNECTION_BYTES[engine]
    return min(connections, CONNECTION_CAP.get(engine, connections))


def db_connections_threshold(cfg: AppConfig) -> int:
    """db_connections_percent of the class's max_connections, rounded down."""
    db = cfg.database
    return max_connections(db.engine, db.instance_class) * cfg.observability.alarms.db_connections_percent // 100


def aurora_has_reader(cfg: AppConfig) -> bool:
    db = cfg.database
    return db is not None and db.is_aurora and (db.replicas > 0 or db.multi_az)


class Alarms:
    """Adds alarms that all notify the one topic, named alarm-<what>-<suffix>."""

    def __init__(self, b: LayerBuilder, topic):
        self.b, self.topic = b, topic

    def add(
        self,
        title: str,
        what: str,
        description: str,
        namespace: str,
        metric: str,
        dimensions: dict,
        threshold,
        comparison: str,
        *,
        statistic: str | None = "Average",
        extended: str | None = None,
        period: int = FIVE_MINUTES,
        evaluations: int = 3,
        datapoints: int = 2,
        missing: str = "notBreaching",
        condition: str | None = None,
    ) -> cloudwatch.Alarm:
        props = {
            "AlarmName": self.b.named("alarm", what),
            "AlarmDescription": description,
            "Namespace": namespace,
            "MetricName": metric,
            "Dimensions": [cloudwatch.MetricDimension(Name=name, Value=value) for name, value in dimensions.items()],
            "Period": period,
            "EvaluationPeriods": evaluations,
            "DatapointsToAlarm": datapoints,
            "Threshold": threshold,
            "ComparisonOperator": comparison,
            "TreatMissingData": missing,
            "AlarmActions": [Ref(self.topic)],
            "OKActions": [Ref(self.topic)],
            "Tags": self.b.tags(),
        }
        props |= {"ExtendedStatistic": extended} if extended else {"Statistic": statistic}
        if condition:
            props["Condition"] = condition
        return self.b.add(cloudwatch.Alarm(title, **props))


def _topic(b: LayerBuilder, key_arn) -> sns.Topic:
    b.knob(
        "AlarmEmail",
        "Alarms",
        "Alarm email",
        "Address subscribed to the alarm topic (it must confirm the subscription); empty subscribes nobody",
        b.cfg.observability.alarm_email,
        key="observability.alarm_email",
        AllowedPattern=r"^$|^[^\s@]+@[^\s@]+\.[^\s@]+$",
        ConstraintDescription="empty, or an email address",
    )
    b.template.add_condition("HasAlarmEmail", Not(Equals(Ref("AlarmEmail"), "")))
    topic = b.add(
        sns.Topic(
            "AlarmTopic",
            TopicName=b.named("alarms"),
            DisplayName=f"{b.cfg.application} {b.cfg.environment.name} alarms",
            KmsMasterKeyId=key_arn,
            Tags=b.tags("alarms"),
        )
    )
    b.add(
        sns.SubscriptionResource(
            "AlarmEmailSubscription",
            Condition="HasAlarmEmail",
            TopicArn=Ref(topic),
            Protocol="email",
            Endpoint=Ref("AlarmEmail"),
        )
    )
    # Seed 002: notifications by SMS as well as email. The numbers are params (not a deploy-time
    # Parameter: a list of endpoints), one subscription each; SMS needs no confirmation.
    for index, number in enumerate(b.cfg.observability.alarm_sms, 1):
        b.add(
            sns.SubscriptionResource(
                f"AlarmSmsSubscription{index}", TopicArn=Ref(topic), Protocol="sms", Endpoint=number
            )
        )
    b.add(
        sns.TopicPolicy(
            "AlarmTopicPolicy",
            Topics=[Ref(topic)],
            PolicyDocument=PolicyDocument(
                Version="2012-10-17",
                Statement=[
                    Statement(
                        Sid="CloudWatchAlarmsPublish",
                        Effect=Allow,
                        Principal=Principal("Service", "cloudwatch.amazonaws.com"),
                        Action=[awacs_sns.Publish],
                        Resource=[Ref(topic)],
                        Condition=Condition(StringEquals("aws:SourceAccount", AccountId)),
                    ),
                    Statement(
                        Sid="DenyPublishWithoutTls",
                        Effect=Deny,
                        Principal=Principal("*"),
                        Action=[awacs_sns.Publish],
                        Resource=[Ref(topic)],
                        Condition=Condition(Bool("aws:SecureTransport", "false")),
                    ),
                ],
            ),
        )
    )
    return topic


def _service_alarms(b: LayerBuilder, alarms: Alarms, cluster, service_names: dict, lb, target_groups: dict) -> None:
    """CPU, memory and running tasks of each service in service_names; target 5xx, p95/p99 latency
    and unhealthy hosts of those in target_groups (not the workers)."""
    cfg, thresholds = b.cfg, b.cfg.observability.alarms
    for svc_name in service_names:
        ecs = {"ClusterName": cluster, "ServiceName": service_names[svc_name]}
        prefix = logical_id("service", svc_name)
        alarms.add(
            f"{prefix}CpuAlarm",
            f"{svc_name}-cpu",
            f"Service {svc_name}: average CPU above {thresholds.cpu_high_percent}%",
            "AWS/ECS",
            "CPUUtilization",
            ecs,
            thresholds.cpu_high_percent,
            "GreaterThanThreshold",
        )
        alarms.add(
            f"{prefix}MemoryAlarm",
            f"{svc_name}-memory",
            f"Service {svc_name}: average memory above {thresholds.memory_high_percent}%",
            "AWS/ECS",
            "MemoryUtilization",
            ecs,
            thresholds.memory_high_percent,
            "GreaterThanThreshold",
        )
        if cfg.compute.container_insights:
            # No datapoints means no tasks reporting: that is the outage this alarm is for.
            # Below the autoscaling minimum means below desired whatever autoscaling has set it to.
            floor = max(1, cfg.services[svc_name].min_count)
            alarms.add(
                f"{prefix}RunningTasksAlarm",
                f"{svc_name}-running-tasks",
                f"Service {svc_name}: fewer than {floor} running task(s), its autoscaling minimum",
                "ECS/ContainerInsights",
                "RunningTaskCount",
                ecs,
                floor,
                "LessThanThreshold",
                statistic="Minimum",
                period=60,
                evaluations=3,
                datapoints=3,
                missing="breaching",
            )
        if svc_name not in target_groups:
            continue  # a worker: no target group, so no load-balancer metrics to alarm on
        target = {"LoadBalancer": lb, "TargetGroup": target_groups[svc_name]}
        alarms.add(
            f"{prefix}Target5xxAlarm",
            f"{svc_name}-target-5xx",
            f"Service {svc_name}: more than {thresholds.target_5xx_count} 5xx responses in 5 minutes",
            "AWS/ApplicationELB",
            "HTTPCode_Target_5XX_Count",
            target,
            thresholds.target_5xx_count,
            "GreaterThanThreshold",
            statistic="Sum",
            evaluations=1,
            datapoints=1,
        )
        alarms.add(
            f"{prefix}LatencyP95Alarm",
            f"{svc_name}-latency-p95",
            f"Service {svc_name}: p95 response time above {thresholds.target_p95_latency_seconds}s",
            "AWS/ApplicationELB",
            "TargetResponseTime",
            target,
            thresholds.target_p95_latency_seconds,
            "GreaterThanThreshold",
            extended="p95",
        )
        alarms.add(
            f"{prefix}LatencyP99Alarm",
            f"{svc_name}-latency-p99",
            f"Service {svc_name}: p99 response time above {thresholds.target_p99_latency_seconds}s",
            "AWS/ApplicationELB",
            "TargetResponseTime",
            target,
            thresholds.target_p99_latency_seconds,
            "GreaterThanThreshold",
            extended="p99",
        )
        alarms.add(
            f"{prefix}UnhealthyHostsAlarm",
            f"{svc_name}-unhealthy-hosts",
            f"Service {svc_name}: at least one unhealthy target",
            "AWS/ApplicationELB",
            "UnHealthyHostCount",
            target,
            1,
            "GreaterThanOrEqualToThreshold",
            statistic="Maximum",
            period=60,
            evaluations=5,
            datapoints=3,
        )


def _alb_alarm(b: LayerBuilder, alarms: Alarms, lb) -> None:
    thresholds = b.cfg.observability.alarms
    alarms.add(
        "Alb5xxAlarm",
        "alb-5xx",
        f"Load balancer: more than {thresholds.alb_5xx_count} 5xx it generated itself in 5 minutes",
        "AWS/ApplicationELB",
        "HTTPCode_ELB_5XX_Count",
        {"LoadBalancer": lb},
        thresholds.alb_5xx_count,
        "GreaterThanThreshold",
        statistic="Sum",
        evaluations=1,
        datapoints=1,
    )


def _database_alarms(b: LayerBuilder, alarms: Alarms) -> dict:
    """Alarms on the database; returns the dashboard's dimensions for it."""
    cfg, thresholds, db = b.cfg, b.cfg.observability.alarms, b.cfg.database
    identifier = Ref(
        b.input(
            "DatabaseIdentifier", "data.DatabaseIdentifier", "Aurora cluster id" if db.is_aurora else "RDS instance id"
        )
    )
    if db.is_aurora:
        writer = {"DBClusterIdentifier": identifier, "Role": "WRITER"}
        whole = {"DBClusterIdentifier": identifier}
    else:
        writer = whole = {"DBInstanceIdentifier": identifier}
    connections = db_connections_threshold(cfg)
    alarms.add(
        "DatabaseCpuAlarm",
        "db-cpu",
        f"Database: average CPU above {thresholds.db_cpu_high_percent}%",
        "AWS/RDS",
        "CPUUtilization",
        writer,
        thresholds.db_cpu_high_percent,
        "GreaterThanThreshold",
    )
    alarms.add(
        "DatabaseConnectionsAlarm",
        "db-connections",
        f"Database: more than {connections} connections ({thresholds.db_connections_percent}% of "
        f"{max_connections(db.engine, db.instance_class)} on {db.instance_class})",
        "AWS/RDS",
        "DatabaseConnections",
        writer,
        connections,
        "GreaterThanThreshold",
        statistic="Maximum",
    )
    if not db.is_aurora:  # Aurora storage grows by itself; there is no free storage to run out of
        alarms.add(
            "DatabaseFreeStorageAlarm",
            "db-free-storage",
            f"Database: less than {thresholds.db_free_storage_gib} GiB free storage",
            "AWS/RDS",
            "FreeStorageSpace",
            whole,
            thresholds.db_free_storage_gib * GIB,
            "LessThanThreshold",
            statistic="Minimum",
        )
    if db.is_aurora and aurora_has_reader(cfg):
        # AuroraReplicaLag is in milliseconds.
        alarms.add(
            "DatabaseReplicaLagAlarm",
            "db-replica-lag",
            f"Aurora readers: lag above {thresholds.db_replica_lag_seconds}s",
            "AWS/RDS",
            "AuroraReplicaLag",
            {"DBClusterIdentifier": identifier, "Role": "READER"},
            thresholds.db_replica_lag_seconds * 1000,
            "GreaterThanThreshold",
            statistic="Maximum",
        )
    elif not db.is_aurora and db.replicas:
        replicas = b.input(
            "ReadReplicaIdentifiers",
            "data.ReadReplicaIdentifiers",
            "Read replica instance ids, comma-separated",
            type="CommaDelimitedList",
        )
        for index in range(db.replicas):
            alarms.add(
                f"DatabaseReplica{index + 1}LagAlarm",
                f"db-replica-{index + 1}-lag",
                f"Read replica {index + 1}: lag above {thresholds.db_replica_lag_seconds}s",
                "AWS/RDS",
                "ReplicaLag",
                {"DBInstanceIdentifier": Select(index, Ref(replicas))},
                thresholds.db_replica_lag_seconds,
                "GreaterThanThreshold",
                statistic="Maximum",
            )
    return writer


def cache_node_ids(cfg: AppConfig) -> list[str]:
    """Cluster-mode-disabled replication groups name their nodes <group id>-001, -002, ..."""
    return [f"{index + 1:03d}" for index in range(cfg.cache.replicas + 1)]


def _cache_alarms(b: LayerBuilder, alarms: Alarms):
    thresholds = b.cfg.observability.alarms
    group = b.input("CacheReplicationGroupId", "data.CacheReplicationGroupId", "ElastiCache replication group id")
    for node in cache_node_ids(b.cfg):
        dims = {"CacheClusterId": Sub(f"${{{group.title}}}-{node}")}
        alarms.add(
            f"CacheNode{node}CpuAlarm",
            f"cache-{node}-cpu",
            f"Redis node {node}: engine CPU above {thresholds.cache_cpu_high_percent}%",
            "AWS/ElastiCache",
            "EngineCPUUtilization",
            dims,
            thresholds.cache_cpu_high_percent,
            "GreaterThanThreshold",
        )
        alarms.add(
            f"CacheNode{node}MemoryAlarm",
            f"cache-{node}-memory",
            f"Redis node {node}: memory above {thresholds.cache_memory_high_percent}%",
            "AWS/ElastiCache",
            "DatabaseMemoryUsagePercentage",
            dims,
            thresholds.cache_memory_high_percent,
            "GreaterThanThreshold",
        )
        alarms.add(
            f"CacheNode{node}EvictionsAlarm",
            f"cache-{node}-evictions",
            f"Redis node {node}: more than {thresholds.cache_evictions_count} evictions in 5 minutes",
            "AWS/ElastiCache",
            "Evictions",
            dims,
            thresholds.cache_evictions_count,
            "GreaterThanThreshold",
            statistic="Sum",
        )
    return group


def _api_alarms(b: LayerBuilder, alarms: Alarms):
    thresholds = b.cfg.observability.alarms
    api = Ref(b.input("ApiId", "edge.HttpApiId", "API Gateway HTTP API id"))
    alarms.add(
        "Api5xxAlarm",
        "api-5xx",
        f"API Gateway: more than {thresholds.api_5xx_count} 5xx in 5 minutes",
        "AWS/ApiGateway",
        "5xx",
        {"ApiId": api},
        thresholds.api_5xx_count,
        "GreaterThanThreshold",
        statistic="Sum",
        evaluations=1,
        datapoints=1,
    )
    alarms.add(
        "ApiLatencyAlarm",
        "api-latency-p95",
        f"API Gateway: p95 latency above {thresholds.api_p95_latency_ms} ms",
        "AWS/ApiGateway",
        "Latency",
        {"ApiId": api},
        thresholds.api_p95_latency_ms,
        "GreaterThanThreshold",
        extended="p95",
    )
    return api


def _cloudfront_alarms(b: LayerBuilder, alarms: Alarms):
    thresholds = b.cfg.observability.alarms
    distribution = Ref(b.input("DistributionId", "edge.DistributionId", "CloudFront distribution id"))
    dims = {"DistributionId": distribution, "Region": "Global"}
    alarms.add(
        "CloudFront5xxAlarm",
        "cloudfront-5xx",
        f"CloudFront: 5xx error rate above {thresholds.cloudfront_5xx_rate_percent}%",
        "AWS/CloudFront",
        "5xxErrorRate",
        dims,
        thresholds.cloudfront_5xx_rate_percent,
        "GreaterThanThreshold",
    )
    alarms.add(
        "CloudFrontErrorRateAlarm",
        "cloudfront-errors",
        f"CloudFront: total error rate above {thresholds.cloudfront_error_rate_percent}%",
        "AWS/CloudFront",
        "TotalErrorRate",
        dims,
        thresholds.cloudfront_error_rate_percent,
        "GreaterThanThreshold",
    )
    return distribution


def cloudfront_alarms_here(cfg: AppConfig) -> bool:
    """CloudFront publishes metrics only in us-east-1."""
    return cfg.edge.cloudfront.enabled and cfg.region == "us-east-1"


# ------------------------------------------------------------------ dashboard


def _widget(
    title: str, metrics: list, x: int, y: int, *, stat: str = "Average", width: int = 12, region: str = "${AWS::Region}"
) -> dict:
    return {
        "type": "metric",
        "x": x,
        "y": y,
        "width": width,
        "height": 6,
        "properties": {
            "title": title,
            "region": region,
            "view": "timeSeries",
            "stat": stat,
            "period": FIVE_MINUTES,
            "metrics": metrics,
        },
    }


def _dashboard(b: LayerBuilder, variables: dict) -> None:
    """The request path top to bottom. Built as a Python structure with ${Name} placeholders and
    serialized with sorted keys, then filled by Fn::Sub: deterministic bytes."""
    cfg = b.cfg
    rows: list[tuple[str, list, str]] = []
    if "DistributionId" in variables:
        rows.append(
            (
                "CloudFront requests and 5xx rate",
                [
                    [
                        "AWS/CloudFront",
                        "Requests",
                        "DistributionId",
                        "${DistributionId}",
                        "Region",
                        "Global",
                        {"stat": "Sum", "region": "us-east-1"},
                    ],
                    [
                        "AWS/CloudFront",
                        "5xxErrorRate",
                        "DistributionId",
                        "${DistributionId}",
                        "Region",
                        "Global",
                        {"yAxis": "right", "region": "us-east-1"},
                    ],
                ],
                "Sum",
            )
        )
    if "ApiId" in variables:
        rows.append(
            (
                "API Gateway requests, 5xx and p95 latency",
                [
                    ["AWS/ApiGateway", "Count", "ApiId", "${ApiId}", {"stat": "Sum"}],
                    ["AWS/ApiGateway", "5xx", "ApiId", "${ApiId}", {"stat": "Sum"}],
                    ["AWS/ApiGateway", "Latency", "ApiId", "${ApiId}", {"stat": "p95", "yAxis": "right"}],
                ],
                "Sum",
            )
        )
    rows.append(
        (
            "Load balancer requests and 5xx",
            [
                ["AWS/ApplicationELB", "RequestCount", "LoadBalancer", "${LoadBalancerFullName}"],
                ["AWS/ApplicationELB", "HTTPCode_ELB_5XX_Count", "LoadBalancer", "${LoadBalancerFullName}"],
                ["AWS/ApplicationELB", "HTTPCode_Target_5XX_Count", "LoadBalancer", "${LoadBalancerFullName}"],
            ],
            "Sum",
        )
    )
    behind = [s for s, svc in cfg.services.items() if not svc.is_worker]
    if behind:
        rows.append(
            (
                "Target response time p95 (s)",
                [
                    [
                        "AWS/ApplicationELB",
                        "TargetResponseTime",
                        "LoadBalancer",
                        "${LoadBalancerFullName}",
                        "TargetGroup",
                        f"${{{logical_id('service', s, 'TargetGroupFullName')}}}",
                        {"label": s},
                    ]
                    for s in behind
                ],
                "p95",
            )
        )
    rows.append(
        (
            "Service CPU and memory (%)",
            [
                [
                    "AWS/ECS",
                    metric,
                    "ClusterName",
                    "${ClusterName}",
                    "ServiceName",
                    f"${{{logical_id('service', s, 'Name')}}}",
                    {"label": f"{s} {metric[:3].lower()}"},
                ]
                for s in cfg.services
                for metric in ("CPUUtilization", "MemoryUtilization")
            ],
            "Average",
        )
    )
    if cfg.compute.container_insights:
        rows.append(
            (
                "Running tasks",
                [
                    [
                        "ECS/ContainerInsights",
                        "RunningTaskCount",
                        "ClusterName",
                        "${ClusterName}",
                        "ServiceName",
                        f"${{{logical_id('service', s, 'Name')}}}",
                        {"label": s},
                    ]
                    for s in cfg.services
                ],
                "Minimum",
            )
        )
    if cfg.database:
        dims = (
            ["DBClusterIdentifier", "${DatabaseIdentifier}", "Role", "WRITER"]
            if cfg.database.is_aurora
            else ["DBInstanceIdentifier", "${DatabaseIdentifier}"]
        )
        rows.append(
            (
                "Database CPU (%) and connections",
                [
                    ["AWS/RDS", "CPUUtilization", *dims],
                    ["AWS/RDS", "DatabaseConnections", *dims, {"stat": "Maximum", "yAxis": "right"}],
                ],
                "Average",
            )
        )
    if cfg.cache:
        rows.append(
            (
                "Redis engine CPU and memory (%)",
                [
                    [
                        "AWS/ElastiCache",
                        metric,
                        "CacheClusterId",
                        f"${{CacheReplicationGroupId}}-{node}",
                        {"label": f"{node} {metric}"},
                    ]
                    for node in cache_node_ids(cfg)
                    for metric in ("EngineCPUUtilization", "DatabaseMemoryUsagePercentage")
                ],
                "Average",
            )
        )
    widgets = [
        _widget(title, metrics, (index % 2) * 12, (index // 2) * 6, stat=stat)
        for index, (title, metrics, stat) in enumerate(rows)
    ]
    body = json.dumps({"widgets": widgets}, sort_keys=True, separators=(",", ":"))
    b.add(
        cloudwatch.Dashboard(
            "Dashboard",
            DashboardName=b.named("dashboard"),
            Tags=b.tags(),
            DashboardBody=Sub(body, **dict(sorted(variables.items()))),
        )
    )


# ------------------------------------------------------------------ X-Ray and canaries


def xray_service_names(cfg: AppConfig) -> list[str]:
    """The names the services trace under (AWS_XRAY_TRACING_NAME): <service>-<suffix>."""
    return [cfg.name(svc) for svc in cfg.services]


def _xray(b: LayerBuilder) -> None:
    cfg = b.cfg
    names = xray_service_names(cfg)
    b.add(
        xray.SamplingRule(
            "XRaySamplingRule",
            SamplingRule=xray.SamplingRuleProperty(
                RuleName=b.named("xray"),
                Priority=100,
                FixedRate=0.05 if cfg.is_prod else 1.0,
                ReservoirSize=1,
                ServiceName=f"*-{cfg.suffix}",
                ServiceType="*",
                Host="*",
                HTTPMethod="*",
                URLPath="*",
                ResourceARN="*",
                Version=1,
            ),
            Tags=b.tags("xray"),
        )
    )
    b.add(
        xray.Group(
            "XRayGroup",
            GroupName=b.named("xray-group"),
            FilterExpression=" OR ".join(f'service("{name}")' for name in names),
            InsightsConfiguration=xray.InsightsConfiguration(InsightsEnabled=True, NotificationsEnabled=False),
            Tags=b.tags("xray-group"),
        )
    )


def _canary_bucket(b: LayerBuilder) -> s3.Bucket:
    """Versioned, with its S3 server access logs in the edge layer's access-log bucket, artifacts
    and their old versions expiring after artifact_retention_days."""
    days = b.cfg.observability.synthetics.artifact_retention_days
    rules = [
        lifecycle_rule("expire-canary-artifacts", days),
        lifecycle_rule("expire-old-versions", days),
        lifecycle_rule("abort-incomplete-uploads", 7),
    ]
    bucket = b.private_bucket("CanaryArtifactsBucket", "canary", rules)
    if has_access_log_bucket(b.cfg):
        logs_bucket = Ref(
            b.input(
                "AccessLogsBucketName",
                "edge.AccessLogsBucketName",
                "Bucket of the S3 server access logs of the canary artifacts",
            )
        )
        bucket.LoggingConfiguration = s3.LoggingConfiguration(
            DestinationBucketName=logs_bucket, LogFilePrefix=f"{S3_LOG_PREFIX}/canary/"
        )
    else:
        reason = (
            "the profile keeps no access-log bucket (edge.alb.access_logs off, no CloudFront, no SPA "
            "bucket); only the canary role writes here and CloudTrail records its calls"
        )
        b.skip_check(bucket, "CKV_AWS_18", reason)
    b.add(bucket)
    b.tls_only_bucket_policy(bucket)
    return bucket


def _canary_role(b: LayerBuilder, bucket: s3.Bucket) -> iam.Role:
    from awacs import cloudwatch as awacs_cloudwatch
    from awacs import logs as awacs_logs

    return b.add(
        iam.Role(
            "CanaryRole",
            RoleName=b.named("canary"),
            Description="Synthetics canaries: write artifacts, metrics and their own logs",
            # The trust the Synthetics guide requires of every canary role ("Required roles and
            # permissions for canaries"): lambda.amazonaws.com, no condition. Lambda documents no
            # aws:SourceAccount when it assumes an execution role, and a condition on a key the
            # service does not send denies the assumption (the canary never runs).
            # https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/CloudWatch_Synthetics_Canaries_CanaryPermissions.html
            AssumeRolePolicyDocument=trust_policy("lambda.amazonaws.com"),
            Policies=[
                iam.Policy(
                    PolicyName="canary",
                    PolicyDocument=PolicyDocument(
                        Version="2012-10-17",
                        Statement=[
                            Statement(
                                Effect=Allow,
                                Action=[awacs_s3.PutObject],
                                Resource=[Join("", [GetAtt(bucket, "Arn"), "/*"])],
                            ),
                            Statement(
                                Effect=Allow, Action=[awacs_s3.GetBucketLocation], Resource=[GetAtt(bucket, "Arn")]
                            ),
                            # Synthetics checks the artifact bucket exists by listing; this action has no resource
                            # scope.
                            Statement(Effect=Allow, Action=[awacs_s3.ListAllMyBuckets], Resource=["*"]),
                            Statement(
                                Effect=Allow,
                                Action=[awacs_cloudwatch.PutMetricData],
                                Resource=["*"],
                                Condition=Condition(StringEquals("cloudwatch:namespace", "CloudWatchSynthetics")),
                            ),
                            Statement(
                                Effect=Allow,
                                Action=[awacs_logs.CreateLogGroup, awacs_logs.CreateLogStream, awacs_logs.PutLogEvents],
                                Resource=[
                                    Sub(
                                        f"arn:${{AWS::Partition}}:logs:${{AWS::Region}}:${{AWS::AccountId}}:log-group:/aws/lambda/cwsyn-*-{b.cfg.suffix}-*"
                                    )
                                ],
                            ),
                        ],
                    ),
                )
            ],
            Tags=b.tags("canary"),
        )
    )


def _canaries(b: LayerBuilder, alarms: Alarms) -> None:
    cfg, settings = b.cfg, b.cfg.observability.synthetics
    if cfg.edge.cloudfront_fronts_alb:
        # The load balancer admits only CloudFront: the canaries request what viewers request.
        host = Ref(
            b.input(
                "DistributionDomainName", "edge.DistributionDomainName", "CloudFront domain name the canaries request"
            )
        )
        scheme = "https"
    else:
        host = Ref(
            b.input("LoadBalancerDnsName", "edge.LoadBalancerDnsName", "Load balancer DNS name the canaries request")
        )
        scheme = If(b.certificate_condition(), "https", "http")
    bucket = _canary_bucket(b)
    role = _canary_role(b, bucket)
    for kind, path, script in (
        ("api", settings.api_path, API_CANARY_SCRIPT),
        ("ui", settings.ui_path, UI_CANARY_SCRIPT),
    ):
        name = b.named(f"cw-{kind}")
        canary = synthetics.Canary(
            logical_id(kind, "Canary"),
            Name=name,
            ExecutionRoleArn=GetAtt(role, "Arn"),
            ArtifactS3Location=Join("", ["s3://", Ref(bucket), f"/{kind}"]),
            Code=synthetics.Code(Handler="index.handler", Script=script),
            Schedule=synthetics.Schedule(Expression=settings.schedule, DurationInSeconds="0"),
            RunConfig=synthetics.RunConfig(
                TimeoutInSeconds=CANARY_TIMEOUT_SECONDS,
                EnvironmentVariables={"TARGET_URL": Join("", [scheme, "://", host, path])},
            ),
            SuccessRetentionPeriod=settings.artifact_retention_days,
            FailureRetentionPeriod=settings.artifact_retention_days,
            StartCanaryAfterCreation=True,
            Tags=b.tags(f"cw-{kind}"),
        )
        # Set past troposphere's validator, whose list of runtimes is out of date.
        canary.properties["RuntimeVersion"] = CANARY_RUNTIME
        b.add(canary)
        alarms.add(
            logical_id(kind, "CanaryAlarm"),
            f"canary-{kind}",
            f"Canary {name}: {path} failed (SuccessPercent below 100)",
            "CloudWatchSynthetics",
            "SuccessPercent",
            {"CanaryName": Ref(canary)},
            100,
            "LessThanThreshold",
            evaluations=2,
            datapoints=2,
        )


def _service_inputs(b: LayerBuilder, services) -> tuple:
    """Cluster, load balancer, and per service its ECS name and (not for a worker) target group, as inputs."""
    cluster = Ref(b.input("ClusterName", "compute.ClusterName", "ECS cluster name"))
    lb = Ref(b.input("LoadBalancerFullName", "edge.LoadBalancerFullName", "Load balancer full name (app/<name>/<id>)"))
    service_names, target_groups = {}, {}
    for svc_name, svc in services.items():
        name_input = logical_id("service", svc_name, "Name")
        service_names[svc_name] = Ref(b.input(name_input, f"compute.{name_input}", f"ECS service name of {svc_name}"))
        if svc.is_worker:
            continue
        group_input = logical_id("service", svc_name, "TargetGroupFullName")
        target_groups[svc_name] = Ref(
            b.input(
                group_input, f"edge.{group_input}", f"Target group full name of {svc_name} (targetgroup/<name>/<id>)"
            )
        )
    return cluster, lb, service_names, target_groups


def _services_part(cfg: AppConfig, number: int, services: dict) -> Layer:
    """Alarms of one group of services, notifying the main part's topic."""
    b = LayerBuilder(
        cfg,
        f"observability-services-{number}",
        f"alarms of services {next(iter(services))} to {list(services)[-1]}",
        family="observability",
    )
    topic = b.input("AlarmTopicArn", "observability.AlarmTopicArn", "SNS topic the alarms notify")
    cluster, lb, service_names, target_groups = _service_inputs(b, services)
    _service_alarms(b, Alarms(b, topic), cluster, service_names, lb, target_groups)
    return b.build()


def build(cfg: AppConfig) -> Layer | list[Layer]:
    """One layer; past SERVICES_PER_STACK services the per-service alarms move to one
    `observability-services-N` part per group (the dashboard stays in the main part)."""
    groups = service_groups(cfg)
    b = LayerBuilder(cfg, "observability", "alarm topic, alarms, dashboard, X-Ray, Synthetics canaries")
    key_arn = Ref(b.input("KmsKeyArn", "security.KmsKeyArn", "KMS key that encrypts the alarm topic"))
    cluster, lb, service_names, target_groups = _service_inputs(b, cfg.services)
    variables: dict = {"ClusterName": cluster, "LoadBalancerFullName": lb}
    for svc_name in cfg.services:
        variables[logical_id("service", svc_name, "Name")] = service_names[svc_name]
        if svc_name in target_groups:
            variables[logical_id("service", svc_name, "TargetGroupFullName")] = target_groups[svc_name]

    topic = _topic(b, key_arn)
    alarms = Alarms(b, topic)
    if len(groups) == 1:
        _service_alarms(b, alarms, cluster, service_names, lb, target_groups)
    _alb_alarm(b, alarms, lb)
    if cfg.database:
        _database_alarms(b, alarms)
        variables["DatabaseIdentifier"] = Ref("DatabaseIdentifier")
    if cfg.cache:
        variables["CacheReplicationGroupId"] = Ref(_cache_alarms(b, alarms))
    if cfg.edge.api_gateway.enabled:
        variables["ApiId"] = _api_alarms(b, alarms)
    if cloudfront_alarms_here(cfg):
        variables["DistributionId"] = _cloudfront_alarms(b, alarms)
    if cfg.observability.dashboard:
        _dashboard(b, variables)
    if cfg.observability.xray:
        _xray(b)
    if cfg.observability.synthetics.enabled:
        _canaries(b, alarms)

    b.output("AlarmTopicArn", Ref(topic), "SNS topic every alarm notifies", root=True)
    if cfg.observability.dashboard:
        b.output(
            "DashboardUrl",
            Sub(
                f"https://${{AWS::Region}}.console.aws.amazon.com/cloudwatch/home?region=${{AWS::Region}}#dashboards:name={b.named('dashboard')}"
            ),
            "CloudWatch dashboard",
            root=True,
        )
    if len(groups) == 1:
        return b.build()
    return [b.build(), *(_services_part(cfg, number, group) for number, group in enumerate(groups, 1))]

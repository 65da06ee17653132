"""observability layer (built directly: its compute/edge/data inputs arrive after the merge), and a
cfn-lint run of the auth, observability and backup layers alone for every profile/environment."""

from __future__ import annotations

import functools
import json

import pytest

from templates import auth, backup, observability
from templates.params import REPO_PARAMS, load_config
from templates.render import serialize
from tests.conftest import ALL_TARGETS, merged, parts, resources, template


@functools.cache
def cfg(app: str, env: str):
    return load_config(app, env, REPO_PARAMS)


@functools.cache
def doc(app: str, env: str) -> dict:
    return merged(observability.build(cfg(app, env)))


def alarm(document: dict, title: str) -> dict:
    found = document["Resources"][title]
    assert found["Type"] == "AWS::CloudWatch::Alarm"
    return found["Properties"]


def dims(props: dict) -> dict:
    return {d["Name"]: d["Value"] for d in props["Dimensions"]}


def test_product_catalog_service_cpu_alarm_at_80_percent_notifies_the_topic():
    props = alarm(doc("product-catalog", "dev"), "ServiceApiCpuAlarm")
    assert props["Threshold"] == 80
    assert props["ComparisonOperator"] == "GreaterThanThreshold"
    assert (props["Namespace"], props["MetricName"], props["Statistic"]) == ("AWS/ECS", "CPUUtilization", "Average")
    assert dims(props) == {"ClusterName": {"Ref": "ClusterName"}, "ServiceName": {"Ref": "ServiceApiName"}}
    assert (props["EvaluationPeriods"], props["DatapointsToAlarm"], props["TreatMissingData"]) == (3, 2, "notBreaching")
    assert props["AlarmActions"] == props["OKActions"] == [{"Ref": "AlarmTopic"}]
    assert props["AlarmName"] == "alarm-api-cpu-pr5706"


def test_running_tasks_alarm_fires_below_the_services_minimum_not_only_at_zero():
    props = alarm(doc("product-catalog", "prod"), "ServiceApiRunningTasksAlarm")
    assert (props["MetricName"], props["Statistic"], props["Threshold"], props["ComparisonOperator"]) == (
        "RunningTaskCount",
        "Minimum",
        2,
        "LessThanThreshold",
    )
    assert props["TreatMissingData"] == "breaching"  # no tasks reporting is the outage itself


def test_every_alarm_has_threshold_periods_datapoints_missing_data_and_the_topic():
    for app, env in ALL_TARGETS:
        for title, found in resources(doc(app, env), "AWS::CloudWatch::Alarm").items():
            props = found["Properties"]
            assert {"Threshold", "EvaluationPeriods", "DatapointsToAlarm", "TreatMissingData"} <= set(props), (
                app,
                env,
                title,
            )
            assert props["DatapointsToAlarm"] <= props["EvaluationPeriods"], (app, env, title)
            # The main part's topic, or in a split-off part the input wired from its output.
            assert props["AlarmActions"] in ([{"Ref": "AlarmTopic"}], [{"Ref": "AlarmTopicArn"}]), (app, env, title)


def test_alarm_topic_is_encrypted_and_email_is_a_conditional_knob():
    document = doc("product-catalog", "prod")
    topic = document["Resources"]["AlarmTopic"]["Properties"]
    assert topic["KmsMasterKeyId"] == {"Ref": "KmsKeyArn"}
    assert topic["TopicName"] == "alarms-catalog-prod"
    subscription = document["Resources"]["AlarmEmailSubscription"]
    assert subscription["Condition"] == "HasAlarmEmail"
    assert subscription["Properties"]["Endpoint"] == {"Ref": "AlarmEmail"}
    assert document["Parameters"]["AlarmEmail"]["Default"] == ""
    assert document["Parameters"]["AlarmEmail"]["AllowedPattern"] == r"^$|^[^\s@]+@[^\s@]+\.[^\s@]+$"
    policy = document["Resources"]["AlarmTopicPolicy"]["Properties"]["PolicyDocument"]["Statement"][0]
    assert policy["Principal"] == {"Service": "cloudwatch.amazonaws.com"} and policy["Action"] == ["sns:Publish"]


def test_latency_alarms_use_p95_and_p99_per_target_group():
    document = doc("smart-task", "dev")
    p95 = alarm(document, "ServiceBackendLatencyP95Alarm")
    assert (p95["ExtendedStatistic"], p95["Threshold"]) == ("p95", 1.0)
    assert "Statistic" not in p95
    assert dims(p95) == {
        "LoadBalancer": {"Ref": "LoadBalancerFullName"},
        "TargetGroup": {"Ref": "ServiceBackendTargetGroupFullName"},
    }
    assert alarm(document, "ServiceFrontendLatencyP99Alarm")["ExtendedStatistic"] == "p99"
    assert alarm(document, "Alb5xxAlarm")["Threshold"] == 10
    unhealthy = alarm(document, "ServiceFrontendUnhealthyHostsAlarm")
    assert (unhealthy["Threshold"], unhealthy["ComparisonOperator"]) == (1, "GreaterThanOrEqualToThreshold")


# (app, env) -> (engine's max_connections for the profile's class, 80 % of it)
CONNECTIONS = {
    ("ecs-ec2-api", "dev"): (112, 89),  # postgres db.t3.micro: 1 GiB / 9531392
    ("product-management", "dev"): (225, 180),  # postgres db.t3.small: 2 GiB / 9531392
    ("mycandidate", "prod"): (450, 360),  # postgres db.t3.medium: 4 GiB / 9531392
    ("product-catalog", "dev"): (450, 360),  # aurora-postgresql db.t3.medium
    ("smart-task", "dev"): (341, 272),  # mysql db.t3.medium: 4 GiB / 12582880
    ("smart-task", "prod"): (682, 545),  # mysql db.m5.large: 8 GiB / 12582880
}


@pytest.mark.parametrize(("app", "env"), sorted(CONNECTIONS))
def test_db_connections_threshold_is_80_percent_of_the_class_limit(app, env):
    limit, threshold = CONNECTIONS[(app, env)]
    db = cfg(app, env).database
    assert observability.max_connections(db.engine, db.instance_class) == limit
    props = alarm(doc(app, env), "DatabaseConnectionsAlarm")
    assert props["Threshold"] == threshold
    assert props["MetricName"] == "DatabaseConnections"


def test_unknown_instance_class_is_refused_by_name():
    with pytest.raises(ValueError, match="db.x9.huge"):
        observability.max_connections("postgres", "db.x9.huge")


def test_free_storage_threshold_is_bytes_and_not_on_aurora():
    assert alarm(doc("mycandidate", "dev"), "DatabaseFreeStorageAlarm")["Threshold"] == 5 * 1024**3
    assert "DatabaseFreeStorageAlarm" not in doc("product-catalog", "dev")["Resources"]


def test_replica_lag_alarms_only_where_replicas_exist():
    rds = alarm(doc("mycandidate", "prod"), "DatabaseReplica1LagAlarm")
    assert (rds["MetricName"], rds["Threshold"]) == ("ReplicaLag", 60)
    assert dims(rds) == {"DBInstanceIdentifier": {"Fn::Select": [0, {"Ref": "ReadReplicaIdentifiers"}]}}
    assert doc("mycandidate", "prod")["Parameters"]["ReadReplicaIdentifiers"]["Type"] == "CommaDelimitedList"
    aurora = alarm(doc("product-catalog", "dev"), "DatabaseReplicaLagAlarm")
    assert (aurora["MetricName"], aurora["Threshold"]) == ("AuroraReplicaLag", 60000)
    assert dims(aurora) == {"DBClusterIdentifier": {"Ref": "DatabaseIdentifier"}, "Role": "READER"}
    lagging = {
        (app, env)
        for app, env in ALL_TARGETS
        if any("Lag" in title for title in resources(doc(app, env), "AWS::CloudWatch::Alarm"))
    }
    assert lagging == {
        ("mycandidate", "dev"),
        ("mycandidate", "prod"),
        ("product-catalog", "dev"),
        ("product-catalog", "prod"),
    }


def test_cache_alarms_only_where_a_cache_exists_one_set_per_node():
    for app, env in ALL_TARGETS:
        titles = {t for t in resources(doc(app, env), "AWS::CloudWatch::Alarm") if t.startswith("CacheNode")}
        cache = cfg(app, env).cache
        expected = (
            set()
            if cache is None
            else {
                f"CacheNode{n:03d}{kind}Alarm"
                for n in range(1, cache.replicas + 2)
                for kind in ("Cpu", "Memory", "Evictions")
            }
        )
        assert titles == expected, (app, env)
    cpu = alarm(doc("mycandidate", "prod"), "CacheNode002CpuAlarm")
    assert (cpu["MetricName"], cpu["Threshold"]) == ("EngineCPUUtilization", 75)
    assert dims(cpu) == {"CacheClusterId": {"Fn::Sub": "${CacheReplicationGroupId}-002"}}
    assert alarm(doc("mycandidate", "prod"), "CacheNode001MemoryAlarm")["MetricName"] == "DatabaseMemoryUsagePercentage"


def test_api_gateway_and_cloudfront_alarms_where_they_apply():
    pm = doc("product-management", "dev")
    assert dims(alarm(pm, "Api5xxAlarm")) == {"ApiId": {"Ref": "ApiId"}}
    assert alarm(pm, "ApiLatencyAlarm")["ExtendedStatistic"] == "p95"
    assert dims(alarm(pm, "CloudFront5xxAlarm")) == {"DistributionId": {"Ref": "DistributionId"}, "Region": "Global"}
    # eu-north-1: CloudFront metrics live in us-east-1, left for the edge's global stack.
    assert "DistributionId" not in doc("product-catalog", "dev")["Parameters"]
    assert "ApiId" not in doc("smart-task", "dev")["Parameters"]


def test_smart_task_canaries_every_5_minutes_on_the_seed_paths():
    document = doc("smart-task", "dev")
    canaries = resources(document, "AWS::Synthetics::Canary")
    assert set(canaries) == {"ApiCanary", "UiCanary"}
    for title, path in (("ApiCanary", "/api/health"), ("UiCanary", "/")):
        props = canaries[title]["Properties"]
        assert props["Schedule"] == {"DurationInSeconds": "0", "Expression": "rate(5 minutes)"}
        # The load balancer admits only CloudFront: the canaries request the distribution over HTTPS.
        assert props["RunConfig"]["EnvironmentVariables"]["TARGET_URL"] == {
            "Fn::Join": ["", ["https", "://", {"Ref": "DistributionDomainName"}, path]]
        }
        assert props["RuntimeVersion"] == observability.CANARY_RUNTIME
        assert props["ExecutionRoleArn"] == {"Fn::GetAtt": ["CanaryRole", "Arn"]}
    success = alarm(document, "ApiCanaryAlarm")
    assert (success["MetricName"], success["Threshold"], success["ComparisonOperator"]) == (
        "SuccessPercent",
        100,
        "LessThanThreshold",
    )
    bucket = document["Resources"]["CanaryArtifactsBucket"]["Properties"]
    assert bucket["PublicAccessBlockConfiguration"] == {
        "BlockPublicAcls": True,
        "BlockPublicPolicy": True,
        "IgnorePublicAcls": True,
        "RestrictPublicBuckets": True,
    }
    assert bucket["LifecycleConfiguration"]["Rules"][0]["ExpirationInDays"] == 30
    # Versioned, old versions expire with the artifacts, access-logged into the edge log bucket.
    assert bucket["VersioningConfiguration"] == {"Status": "Enabled"}
    rules = {rule["Id"]: rule for rule in bucket["LifecycleConfiguration"]["Rules"]}
    assert rules["expire-old-versions"]["NoncurrentVersionExpiration"] == {"NoncurrentDays": 30}
    assert rules["abort-incomplete-uploads"]["AbortIncompleteMultipartUpload"] == {"DaysAfterInitiation": 7}
    assert bucket["LoggingConfiguration"] == {
        "DestinationBucketName": {"Ref": "AccessLogsBucketName"},
        "LogFilePrefix": "s3/canary/",
    }
    assert document["Parameters"]["AccessLogsBucketName"]["Type"] == "String"
    edge = template("smart-task", "prod", "edge")
    assert edge["Outputs"]["AccessLogsBucketName"]["Value"] == {"Ref": "AccessLogsBucket"}
    grants = {
        st["Sid"]: st for st in edge["Resources"]["AccessLogsBucketPolicy"]["Properties"]["PolicyDocument"]["Statement"]
    }
    assert grants["S3ServerAccessLogsDelivery"]["Principal"] == {"Service": "logging.s3.amazonaws.com"}
    assert "Metadata" not in document["Resources"]["CanaryArtifactsBucket"]  # nothing skipped
    deny = document["Resources"]["CanaryArtifactsBucketPolicy"]["Properties"]["PolicyDocument"]["Statement"][0]
    assert deny["Effect"] == "Deny" and deny["Condition"] == {"Bool": {"aws:SecureTransport": False}}
    others = {(app, env) for app, env in ALL_TARGETS if resources(doc(app, env), "AWS::Synthetics::Canary")}
    assert others == {("smart-task", "dev"), ("smart-task", "prod")}


def test_xray_group_only_in_smart_task_and_mycandidate():
    with_xray = {(app, env) for app, env in ALL_TARGETS if resources(doc(app, env), "AWS::XRay::Group")}
    assert with_xray == {(a, e) for a in ("smart-task", "mycandidate") for e in ("dev", "prod")}
    group = doc("smart-task", "prod")["Resources"]["XRayGroup"]["Properties"]
    assert group["FilterExpression"] == 'service("backend-st-prod") OR service("frontend-st-prod")'
    rule = doc("smart-task", "prod")["Resources"]["XRaySamplingRule"]["Properties"]["SamplingRule"]
    assert (rule["ServiceName"], rule["FixedRate"]) == ("*-st-prod", 0.05)


def test_dashboard_is_one_per_environment_and_deterministic():
    document = doc("smart-task", "prod")
    dashboard = document["Resources"]["Dashboard"]["Properties"]
    assert dashboard["DashboardName"] == "dashboard-st-prod"
    body, variables = dashboard["DashboardBody"]["Fn::Sub"]
    titles = [w["properties"]["title"] for w in json.loads(body)["widgets"]]
    assert titles == [
        "CloudFront requests and 5xx rate",
        "Load balancer requests and 5xx",
        "Target response time p95 (s)",
        "Service CPU and memory (%)",
        "Running tasks",
        "Database CPU (%) and connections",
        "Redis engine CPU and memory (%)",
    ]
    assert variables["ServiceBackendTargetGroupFullName"] == {"Ref": "ServiceBackendTargetGroupFullName"}
    assert serialize(observability.build(cfg("smart-task", "prod")).template) == serialize(
        observability.build(cfg("smart-task", "prod")).template
    )


@pytest.mark.parametrize(("app", "env"), ALL_TARGETS)
def test_auth_observability_backup_lint_clean_alone(app, env, linter, tmp_path):
    config = cfg(app, env)
    for module in (auth, observability, backup):
        built = module.build(config)
        for layer in parts(built) if built is not None else []:
            path = tmp_path / f"{layer.name}.json"
            path.write_bytes(serialize(layer.template))
            findings = [f for f in linter.lint_file(path, config.region) if f.level in ("error", "warning")]
            assert findings == [], "\n".join(map(str, findings))


def test_the_canary_role_trusts_lambda_exactly_as_the_synthetics_guide_requires():
    """Synthetics, "Required roles and permissions for canaries": every canary role includes the
    lambda.amazonaws.com trust statement, no condition. An aws:SourceAccount condition Lambda
    does not satisfy would deny the assumption and the canary would never run."""
    role = doc("smart-task", "prod")["Resources"]["CanaryRole"]["Properties"]
    assert role["AssumeRolePolicyDocument"] == {
        "Version": "2012-10-17",
        "Statement": [
            {"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"}, "Action": ["sts:AssumeRole"]}
        ],
    }

"""Issue 14, applications: a worker service (path_patterns: []), Aurora MySQL 3, and RDS storage
with provisioned IOPS, on the fixture profile tests/fixtures/params/order-jobs (an API behind the
load balancer, a worker `jobs`, Aurora MySQL with two readers and a proxy, Redis, one pipeline)."""

from __future__ import annotations

import functools
import json
import shutil
from pathlib import Path

import pytest
import yaml

from templates.config import ConfigError
from templates.params import REPO_PARAMS, load_config
from templates.render import render, write_profile
from tests.conftest import one, resources

FIXTURES = Path(__file__).parent / "fixtures" / "params"
APP = "order-jobs"


@functools.cache
def doc(env: str, layer: str) -> dict:
    return json.loads(render(load_config(APP, env, FIXTURES)).files[f"{layer}.json"])


def props(document: dict, title: str) -> dict:
    return document["Resources"][title]["Properties"]


def _variant(tmp_path: Path, app: str, env: str, change) -> object:
    """Load `app`/`env` from a copy of the shipped params after change(base document) edits base.yaml."""
    root = tmp_path / "params"
    shutil.copytree(REPO_PARAMS, root)
    base = root / app / "base.yaml"
    document = yaml.safe_load(base.read_text())
    change(document)
    base.write_text(yaml.safe_dump(document, sort_keys=False))
    return load_config(app, env, root)


# ------------------------------------------------------------------ the worker


@pytest.mark.parametrize("env", ["dev", "prod"])
def test_worker_has_no_target_group_listener_rule_or_load_balancer_in_its_service(env):
    edge = doc(env, "edge")
    groups = resources(edge, "AWS::ElasticLoadBalancingV2::TargetGroup")
    assert sorted(groups) == ["ServiceApiGreenTargetGroup", "ServiceApiTargetGroup"]
    rules = resources(edge, "AWS::ElasticLoadBalancingV2::ListenerRule")
    assert rules and not any(title.startswith("ServiceJobs") for title in rules)
    assert not any("Jobs" in output for output in edge["Outputs"])

    compute = doc(env, "compute")
    worker = props(compute, "ServiceJobsService")
    assert "LoadBalancers" not in worker
    assert worker["HealthCheckGracePeriodSeconds"] == 90  # holds off the container health check
    assert worker["DeploymentController"] == {"Type": "ECS"}
    assert worker["DeploymentConfiguration"]["DeploymentCircuitBreaker"] == {"Enable": True, "Rollback": True}
    assert "Strategy" not in worker["DeploymentConfiguration"] and "AdvancedConfiguration" not in json.dumps(worker)
    assert not any("Jobs" in name and "TargetGroup" in name for name in compute["Parameters"])
    web = props(compute, "ServiceApiService")
    assert web["LoadBalancers"][0]["ContainerPort"] == 8080
    assert web["DeploymentConfiguration"]["Strategy"] == "CANARY"


@pytest.mark.parametrize("env", ["dev", "prod"])
def test_worker_keeps_repository_task_definition_logs_and_container_health_check(env):
    compute = doc(env, "compute")
    repository = props(compute, "ServiceJobsRepository")
    assert repository["RepositoryName"] == f"ecr-jobs-oj-{env}"
    assert props(compute, "ServiceJobsLogGroup")["LogGroupName"] == f"/ecs/order-jobs/jobs-oj-{env}"
    task = props(compute, "ServiceJobsTaskDefinition")
    assert (task["Cpu"], task["Memory"]) == ("1024", "2048")
    app = task["ContainerDefinitions"][0]
    check = app["HealthCheck"]
    assert (
        check["Command"][1] == "curl -fsS -o /dev/null http://localhost:9000/healthz || wget -q -O /dev/null "
        "http://localhost:9000/healthz || exit 1"
    )
    assert (check["Interval"], check["Timeout"], check["StartPeriod"]) == (20, 4, 90)
    assert {s["Name"] for s in app["Secrets"]} == {"DB_PASSWORD", "DB_USERNAME"}


@pytest.mark.parametrize("env", ["dev", "prod"])
def test_worker_scales_on_cpu_and_memory_targets(env):
    compute = doc(env, "compute")
    policies = {
        title: p["Properties"]["TargetTrackingScalingPolicyConfiguration"]
        for title, p in resources(compute, "AWS::ApplicationAutoScaling::ScalingPolicy").items()
    }
    worker = {title: conf for title, conf in policies.items() if title.startswith("ServiceJobs")}
    assert sorted(worker) == ["ServiceJobsCpuScalingPolicy", "ServiceJobsMemoryScalingPolicy"]
    assert worker["ServiceJobsCpuScalingPolicy"]["TargetValue"] == 60.0
    assert (
        worker["ServiceJobsCpuScalingPolicy"]["PredefinedMetricSpecification"]["PredefinedMetricType"]
        == "ECSServiceAverageCPUUtilization"
    )
    assert worker["ServiceJobsMemoryScalingPolicy"]["TargetValue"] == 75.0
    assert (
        worker["ServiceJobsMemoryScalingPolicy"]["PredefinedMetricSpecification"]["PredefinedMetricType"]
        == "ECSServiceAverageMemoryUtilization"
    )
    assert compute["Parameters"]["ServiceJobsMinCount"]["Default"] == 1
    assert compute["Parameters"]["ServiceJobsMaxCount"]["Default"] == 6


@pytest.mark.parametrize("env", ["dev", "prod"])
def test_worker_alarms_have_no_load_balancer_metrics(env):
    observability = doc(env, "observability")
    alarms = resources(observability, "AWS::CloudWatch::Alarm")
    worker = {title: a["Properties"] for title, a in alarms.items() if title.startswith("ServiceJobs")}
    assert sorted(worker) == ["ServiceJobsCpuAlarm", "ServiceJobsMemoryAlarm", "ServiceJobsRunningTasksAlarm"]
    assert {a["MetricName"] for a in worker.values()} == {"CPUUtilization", "MemoryUtilization", "RunningTaskCount"}
    assert worker["ServiceJobsRunningTasksAlarm"]["Threshold"] == 1  # its min_count
    web = {a["Properties"]["MetricName"] for title, a in alarms.items() if title.startswith("ServiceApi")}
    assert {"TargetResponseTime", "HTTPCode_Target_5XX_Count", "UnHealthyHostCount"} <= web
    assert "ServiceJobsTargetGroupFullName" not in observability["Parameters"]
    dashboard = props(observability, "Dashboard")["DashboardBody"]["Fn::Sub"]
    body = json.loads(dashboard[0])
    latency = next(w for w in body["widgets"] if w["properties"]["title"].startswith("Target response time"))
    assert [m[-1]["label"] for m in latency["properties"]["metrics"]] == ["api"]


@pytest.mark.parametrize("env", ["dev", "prod"])
def test_worker_security_group_has_no_load_balancer_ingress_but_reaches_its_data(env):
    security = doc(env, "security")
    ingress = {title: r["Properties"] for title, r in resources(security, "AWS::EC2::SecurityGroupIngress").items()}
    assert "ServiceJobsSecurityGroupFromAlbIngress" not in ingress
    assert ingress["ServiceApiSecurityGroupFromAlbIngress"]["FromPort"] == 8080
    assert not any(
        r["Properties"]["GroupId"] == {"Fn::GetAtt": ["ServiceJobsSecurityGroup", "GroupId"]}
        for r in resources(security, "AWS::EC2::SecurityGroupIngress").values()
    )
    assert props(security, "ServiceJobsSecurityGroup")["SecurityGroupIngress"] == []
    egress = {title: r["Properties"] for title, r in resources(security, "AWS::EC2::SecurityGroupEgress").items()}
    # Through the proxy to the writer, directly to the readers, and to Redis: MySQL's 3306, Redis's 6379.
    assert egress["ServiceJobsSecurityGroupToProxyEgress"]["FromPort"] == 3306
    assert egress["ServiceJobsSecurityGroupToDatabaseEgress"]["FromPort"] == 3306
    assert egress["ServiceJobsSecurityGroupToCacheEgress"]["FromPort"] == 6379
    assert ingress["ProxySecurityGroupFromServiceJobsIngress"]["ToPort"] == 3306


def test_pipeline_deploys_the_worker_with_the_rolling_timeout():
    cicd = doc("prod", "cicd")
    pipeline = props(cicd, "PipelineApp")
    application = next(stage for stage in pipeline["Stages"] if stage["Name"] == "Application")
    actions = {a["Name"]: a["Configuration"] for a in application["Actions"]}
    assert actions["DeployJobs"]["FileName"] == "imagedefinitions-jobs.json"
    assert actions["DeployJobs"]["DeploymentTimeout"] == "30"
    assert actions["DeployJobs"]["ServiceName"] == {"Ref": "ServiceJobsName"}
    assert actions["DeployApi"]["DeploymentTimeout"] == "30"  # max(30, 15 to start + 5 canary + 5 bake)


WORKER_ERRORS = {
    "blue_green": (
        {"deployment": "blue_green"},
        "services.jobs.deployment",
        "blue_green needs a listener rule and two target groups, which a worker (path_patterns: []) does not have; "
        "use rolling",
    ),
    "priority": (
        {"priority": 30},
        "services.jobs.priority",
        "a worker (path_patterns: []) has no listener rule to give a priority; remove it",
    ),
    "requests_per_target": (
        {"autoscaling": {"requests_per_target": 100}},
        "services.jobs.autoscaling.requests_per_target",
        "a worker (path_patterns: []) receives no load-balancer requests; scale on cpu_target or memory_target",
    ),
}


@pytest.mark.parametrize("case", sorted(WORKER_ERRORS))
def test_what_a_worker_cannot_have_is_refused_with_its_key(case, tmp_path):
    extra, key, message = WORKER_ERRORS[case]

    def change(document):
        document["services"]["jobs"] = {
            "port": 9000,
            "path_patterns": [],
            "health_check": {"path": "/healthz"},
            **extra,
        }

    with pytest.raises(ConfigError) as err:
        _variant(tmp_path, "smart-task", "dev", change)
    assert err.value.key == key
    assert err.value.message.startswith(message)
    assert err.value.file.endswith("smart-task/base.yaml")


def test_alb_authentication_cannot_protect_a_worker(tmp_path):
    def change(document):
        document["services"]["backend"]["path_patterns"] = []
        document["services"]["backend"].pop("priority")
        document["services"]["backend"]["deployment"] = "rolling"
        document["auth"].update(protect="alb", protected_service="backend")

    with pytest.raises(ConfigError) as err:
        _variant(tmp_path, "smart-task", "dev", change)
    assert (err.value.key, err.value.message) == (
        "auth.protected_service",
        "must name a service behind the load balancer (frontend) when auth.protect is alb",
    )


# ------------------------------------------------------------------ Aurora MySQL


@pytest.mark.parametrize(("env", "klass"), [("dev", "db.t4g.medium"), ("prod", "db.r6g.large")])
def test_aurora_mysql_cluster_writer_two_readers_port_3306(env, klass):
    data = doc(env, "data")
    cluster = props(data, "DatabaseCluster")
    assert (cluster["Engine"], cluster["EngineVersion"], cluster["Port"]) == (
        "aurora-mysql",
        "8.0.mysql_aurora.3.08.2",
        3306,
    )
    assert cluster["DBClusterIdentifier"] == f"rds-cluster-oj-{env}"
    assert cluster["StorageEncrypted"] is True
    assert cluster["EnableCloudwatchLogsExports"] == ["error", "slowquery"]
    assert cluster.get("BacktrackWindow", 0) == 0
    assert cluster["MasterUserPassword"] == {
        "Fn::Join": ["", ["{{resolve:secretsmanager:", {"Ref": "DatabaseSecretArn"}, ":SecretString:password}}"]]
    }
    members = resources(data, "AWS::RDS::DBInstance")
    assert sorted(members) == ["DatabaseReader1", "DatabaseReader2", "DatabaseWriter"]
    for member in members.values():
        p = member["Properties"]
        assert p["Engine"] == "aurora-mysql"
        assert p["DBClusterIdentifier"] == {"Ref": "DatabaseCluster"}
        assert p["DBParameterGroupName"] == {"Ref": "DatabaseInstanceParameterGroup"}
        assert p["EnablePerformanceInsights"] is True and p["PerformanceInsightsRetentionPeriod"] == 7
    assert data["Parameters"]["DatabaseInstanceClass"]["Default"] == klass
    groups = {title: r["Properties"]["LogGroupName"] for title, r in resources(data, "AWS::Logs::LogGroup").items()}
    assert sorted(groups.values()) == [
        f"/aws/rds/cluster/rds-cluster-oj-{env}/error",
        f"/aws/rds/cluster/rds-cluster-oj-{env}/slowquery",
    ]


def test_aurora_mysql_parameter_groups_require_tls_and_write_the_slow_query_log():
    data = doc("prod", "data")
    cluster_group = props(data, "DatabaseClusterParameterGroup")
    assert cluster_group["Family"] == "aurora-mysql8.0"
    assert cluster_group["Parameters"] == {
        "log_output": "FILE",
        "require_secure_transport": "ON",
        "slow_query_log": "1",
    }
    instance_group = props(data, "DatabaseInstanceParameterGroup")
    assert instance_group["Family"] == "aurora-mysql8.0"
    assert instance_group["Parameters"] == {"log_output": "FILE", "slow_query_log": "1"}
    assert props(data, "DatabaseCluster")["DBClusterParameterGroupName"] == {"Ref": "DatabaseClusterParameterGroup"}


def test_aurora_mysql_proxy_secret_alarms_and_backup():
    data = doc("prod", "data")
    proxy = props(data, "DatabaseProxy")
    assert (proxy["EngineFamily"], proxy["RequireTLS"]) == ("MYSQL", True)
    assert props(data, "DatabaseProxyTargetGroup")["DBClusterIdentifiers"] == [{"Ref": "DatabaseCluster"}]
    assert props(data, "DatabaseSecretAttachment")["TargetType"] == "AWS::RDS::DBCluster"
    assert (
        props(doc("prod", "security"), "DatabaseSecret")["GenerateSecretString"]["SecretStringTemplate"]
        == '{"username": "app_admin"}'
    )

    alarms = {
        title: a["Properties"] for title, a in resources(doc("prod", "observability"), "AWS::CloudWatch::Alarm").items()
    }
    connections = alarms["DatabaseConnectionsAlarm"]
    assert connections["Threshold"] == 800  # 80% of Aurora MySQL's 1000 on db.r6g.large
    assert {d["Name"]: d["Value"] for d in connections["Dimensions"]}["Role"] == "WRITER"
    lag = alarms["DatabaseReplicaLagAlarm"]
    assert (lag["MetricName"], lag["Threshold"]) == ("AuroraReplicaLag", 60000)
    assert "DatabaseFreeStorageAlarm" not in alarms
    dev_connections = {
        t: a["Properties"] for t, a in resources(doc("dev", "observability"), "AWS::CloudWatch::Alarm").items()
    }["DatabaseConnectionsAlarm"]
    assert dev_connections["Threshold"] == 72  # 80% of 90 on db.t4g.medium

    backup = doc("prod", "backup")
    selection = one(backup, "AWS::Backup::BackupSelection")[1]["Properties"]["BackupSelection"]
    assert any("cluster:" in json.dumps(r) for r in selection["Resources"])


AURORA_MYSQL_ERRORS = {
    "version 2": (
        {"engine_version": "5.7.mysql_aurora.2.12.6"},
        "database.engine_version",
        "5.7.mysql_aurora.2.12.6 cannot be created on aurora-mysql; supported aurora-mysql 3 versions: "
        "8.0.mysql_aurora.3.04.0",
    ),
    "8.4": (
        {"engine_version": "8.4.mysql_aurora.8.4.7"},
        "database.engine_version",
        "8.4.mysql_aurora.8.4.7 cannot be created on aurora-mysql; supported aurora-mysql 3 versions:",
    ),
    "no insights on t3": (
        {"instance_class": "db.t3.medium", "performance_insights": True},
        "database.performance_insights",
        "Aurora MySQL has no Performance Insights on db.t3.medium",
    ),
    "class Aurora MySQL does not offer": (
        {"instance_class": "db.m5.large"},
        "database.instance_class",
        "db.m5.large: the generator knows no max_connections for it on aurora-mysql",
    ),
}


@pytest.mark.parametrize("case", sorted(AURORA_MYSQL_ERRORS))
def test_aurora_mysql_choices_it_cannot_deploy_are_refused(case, tmp_path):
    extra, key, message = AURORA_MYSQL_ERRORS[case]

    def change(document):
        document["database"].update(
            {
                "engine": "aurora-mysql",
                "engine_version": "8.0.mysql_aurora.3.08.2",
                "instance_class": "db.t4g.medium",
                **extra,
            }
        )

    with pytest.raises(ConfigError) as err:
        _variant(tmp_path, "smart-task", "dev", change)
    assert err.value.key == key
    assert err.value.message.startswith(message)


def test_every_creatable_aurora_mysql_3_version_of_cfn_lint_data_is_accepted():
    from templates.catalog import creatable_engine_versions
    from templates.config import DatabaseConfig
    from templates.data import parameter_group_family

    creatable = creatable_engine_versions("dbcluster")["aurora-mysql"]
    three = [v for v in creatable if v.startswith("8.0.mysql_aurora.3.")]
    assert len(three) >= 5  # cfn-lint's data still lists creatable 3.x versions
    for version in three:
        db = DatabaseConfig(engine="aurora-mysql", engine_version=version, instance_class="db.r6g.large")
        assert (db.port, parameter_group_family(db.engine, version)) == (3306, "aurora-mysql8.0")


# ------------------------------------------------------------------ RDS storage with provisioned IOPS


def test_mysql_with_read_replicas_and_io1_storage_renders_iops_on_every_instance(tmp_path):
    """MySQL with replicas used to crash (gp3: fixed in 484582e; io1: troposphere's 'Must specify
    Iops if using StorageType io1'). The model now takes iops and every instance carries it."""

    def change(document):
        document["database"].update(
            replicas=2, managed_master_password=False, storage_type="io1", allocated_storage=100, iops=3000
        )

    cfg = _variant(tmp_path, "smart-task", "prod", change)
    data = json.loads(render(cfg).files["data.json"])
    instances = resources(data, "AWS::RDS::DBInstance")
    assert sorted(instances) == ["Database", "DatabaseReplica1", "DatabaseReplica2"]
    for instance in instances.values():
        assert (instance["Properties"]["StorageType"], instance["Properties"]["Iops"]) == ("io1", 3000)
    assert instances["DatabaseReplica2"]["Properties"]["SourceDBInstanceIdentifier"] == {"Ref": "Database"}


IOPS_ERRORS = {
    "io1 without iops": (
        {"storage_type": "io1", "allocated_storage": 100},
        "database.iops",
        "required with storage_type io1",
    ),
    "iops on gp3": ({"iops": 3000}, "database.iops", "only with storage_type io1 or io2 (this is gp3"),
    "io2 too small": (
        {"storage_type": "io2", "iops": 1000},
        "database.allocated_storage",
        "20 GiB: io2 storage starts at 100 GiB",
    ),
    "ratio over 50": (
        {"storage_type": "io1", "allocated_storage": 100, "iops": 6000},
        "database.iops",
        "6000 is not 0.5 to 50 times allocated_storage 100 (50 to 5000)",
    ),
}


@pytest.mark.parametrize("case", sorted(IOPS_ERRORS))
def test_provisioned_iops_rules_are_params_errors(case, tmp_path):
    extra, key, message = IOPS_ERRORS[case]
    with pytest.raises(ConfigError) as err:
        _variant(
            tmp_path,
            "smart-task",
            "dev",
            lambda document: document["database"].update({"storage_type": "gp3", **extra}),
        )
    assert err.value.key == key
    assert err.value.message.startswith(message)


def test_an_instance_class_without_known_connections_is_a_params_error_not_a_traceback(tmp_path):
    with pytest.raises(ConfigError) as err:
        _variant(
            tmp_path, "smart-task", "dev", lambda document: document["database"].update(instance_class="db.r7g.large")
        )
    assert err.value.key == "database.instance_class"
    assert err.value.message.startswith("db.r7g.large: the generator knows no max_connections for it on mysql")


# ------------------------------------------------------------------ all of it lints clean


def test_fixture_profile_lints_clean(linter, tmp_path):
    from templates.lint import lint_directory

    findings = []
    for env in ("dev", "prod"):
        folder = write_profile(render(load_config(APP, env, FIXTURES)), tmp_path / env)
        findings += [f for f in lint_directory(linter, folder) if f.level in ("error", "warning")]
    assert findings == [], "\n".join(map(str, findings))


def test_a_profile_of_workers_only_keeps_a_load_balancer_without_targets_and_lints_clean(tmp_path, linter):
    """Found by tests/test_params_combinations.py: with no service behind the load balancer the edge
    layer declared VpcId for target groups it no longer had (W2001, unused parameter)."""
    from templates.lint import lint_directory

    def change(document):
        for svc in document["services"].values():
            svc.update(path_patterns=[], deployment="rolling")
            svc.pop("priority", None)

    profile = render(_variant(tmp_path, "smart-task", "prod", change))
    edge = json.loads(profile.files["edge.json"])
    assert resources(edge, "AWS::ElasticLoadBalancingV2::TargetGroup") == {}
    assert resources(edge, "AWS::ElasticLoadBalancingV2::ListenerRule") == {}
    assert "VpcId" not in edge["Parameters"]
    assert props(edge, "HttpListener")["DefaultActions"][0]["FixedResponseConfig"]["StatusCode"] == "404"
    observability = json.loads(profile.files["observability.json"])
    assert not [
        t
        for t, a in resources(observability, "AWS::CloudWatch::Alarm").items()
        if a["Properties"].get("Namespace") == "AWS/ApplicationELB" and t.startswith("Service")
    ]
    folder = write_profile(profile, tmp_path / "out")
    findings = [f for f in lint_directory(linter, folder) if f.level in ("error", "warning")]
    assert findings == [], "\n".join(map(str, findings))

"""data layer: each profile's seed values (engine, version, class, storage, Multi-AZ, retention,
replicas, proxy, Redis, EFS) from the rendered JSON, deletion policies per stage, the output names
other layers consume, and the layer linting (cfn-lint) and scanning (checkov) clean on its own."""

from __future__ import annotations

import json
import subprocess

import pytest

from templates import data
from templates.common import logical_id
from templates.params import REPO_PARAMS, load_config
from templates.render import serialize
from tests.conftest import ALL_TARGETS, one, rendered, resources, template
from tests.test_checkov import checkov  # noqa: F401  (the session fixture that finds or installs checkov)

DATA_TARGETS = [(app, env) for app, env in ALL_TARGETS if app != "platform-scale"]
SECRET = {"Ref": "DatabaseSecretArn"}


def props(doc: dict, title: str) -> dict:
    return doc["Resources"][title]["Properties"]


def instance_class(doc: dict) -> str:
    """What the instances get: the knob, whose default is the profile's class."""
    return doc["Parameters"]["DatabaseInstanceClass"]["Default"]


def standalone(doc: dict) -> dict:
    return props(doc, "Database")


def assert_encrypted_with_layer_key(resource: dict) -> None:
    assert resource["StorageEncrypted"] is True
    assert resource["KmsKeyId"] == {"Ref": "KmsKeyArn"}


# ------------------------------------------------------------------ seed 001: ecs-ec2-api


@pytest.mark.parametrize("env", ["dev", "prod"])
def test_ecs_ec2_api_postgres_15_micro_20_gb_gp2_seven_day_backups_multi_az_a_switch(env):
    doc = template("ecs-ec2-api", env, "data")
    db = standalone(doc)
    assert (db["Engine"], db["EngineVersion"]) == ("postgres", "15.15")  # seed's 15.4 cannot be created any more
    assert instance_class(doc) == "db.t3.micro" and db["DBInstanceClass"] == {"Ref": "DatabaseInstanceClass"}
    assert (db["AllocatedStorage"], db["StorageType"]) == ("20", "gp2")
    assert "MaxAllocatedStorage" not in db
    assert db["BackupRetentionPeriod"] == 7
    assert db["MultiAZ"] is (env == "prod")
    assert db["EnablePerformanceInsights"] is False
    assert db["Port"] == "5432"
    assert_encrypted_with_layer_key(db)
    assert props(doc, "DatabaseParameterGroup")["Family"] == "postgres15"
    assert props(doc, "DatabaseParameterGroup")["Parameters"] == {"rds.force_ssl": "1"}
    assert not resources(doc, "AWS::ElastiCache::ReplicationGroup") and not resources(doc, "AWS::EFS::FileSystem")
    assert not resources(doc, "AWS::RDS::DBProxy")
    assert "ReadReplicaIdentifiers" not in doc["Outputs"] and "DatabaseReaderEndpoint" not in doc["Outputs"]


# ------------------------------------------------------------------ seed 000: product-management


@pytest.mark.parametrize(("env", "cache_replicas"), [("dev", 0), ("prod", 1)])
def test_product_management_postgres_small_multi_az_and_micro_redis(env, cache_replicas):
    doc = template("product-management", env, "data")
    db = standalone(doc)
    assert (db["Engine"], db["EngineVersion"]) == ("postgres", "16.10")
    assert instance_class(doc) == "db.t3.small"
    assert db["MultiAZ"] is True and db["BackupRetentionPeriod"] == 7
    _, cache = one(doc, "AWS::ElastiCache::ReplicationGroup")
    redis = cache["Properties"]
    assert doc["Parameters"]["CacheNodeType"]["Default"] == "cache.t3.micro"
    assert redis["CacheNodeType"] == {"Ref": "CacheNodeType"}
    assert (redis["Engine"], redis["EngineVersion"], redis["ClusterMode"]) == ("redis", "7.1", "disabled")
    assert redis["NumCacheClusters"] == 1 + cache_replicas
    # Failover and Multi-AZ default on exactly when there is a replica to fail over to.
    assert redis["AutomaticFailoverEnabled"] is (cache_replicas > 0)
    assert redis["MultiAZEnabled"] is (cache_replicas > 0)
    assert redis["AtRestEncryptionEnabled"] is True and redis["TransitEncryptionEnabled"] is True
    assert redis["KmsKeyId"] == {"Ref": "KmsKeyArn"}
    assert redis["ReplicationGroupId"] == f"cache-pm-{env}"
    assert redis["SecurityGroupIds"] == [{"Ref": "CacheSecurityGroupId"}]
    assert props(doc, "CacheSubnetGroup")["SubnetIds"] == {"Ref": "DataSubnetIds"}
    assert ("CacheReaderEndpoint" in doc["Outputs"]) is (cache_replicas > 0)


# ------------------------------------------------------------------ seed 002: smart-task


@pytest.mark.parametrize(("env", "klass", "multi_az"), [("dev", "db.t3.medium", False), ("prod", "db.m5.large", True)])
def test_smart_task_mysql_with_performance_insights_medium_in_dev_m5_large_multi_az_in_prod(env, klass, multi_az):
    doc = template("smart-task", env, "data")
    db = standalone(doc)
    assert (db["Engine"], db["EngineVersion"]) == ("mysql", "8.0.44")
    assert instance_class(doc) == klass
    assert db["MultiAZ"] is multi_az
    assert db["Port"] == "3306"
    # Point-in-time recovery comes with automated backups.
    assert db["BackupRetentionPeriod"] == 7
    assert db["EnablePerformanceInsights"] is True
    assert db["PerformanceInsightsKMSKeyId"] == {"Ref": "KmsKeyArn"}
    assert db["PerformanceInsightsRetentionPeriod"] == 7
    assert db["EnableCloudwatchLogsExports"] == ["error", "general", "slowquery"]
    group = props(doc, "DatabaseParameterGroup")
    # The exported general and slow-query logs are only written with these (RDS User Guide,
    # "Publishing MySQL logs to Amazon CloudWatch Logs").
    assert group["Family"] == "mysql8.0" and group["Parameters"] == {
        "general_log": "1",
        "log_output": "FILE",
        "require_secure_transport": "1",
        "slow_query_log": "1",
    }
    caches = resources(doc, "AWS::ElastiCache::ReplicationGroup")
    if env == "prod":  # the seed's optional Redis, on in prod
        assert doc["Parameters"]["CacheNodeType"]["Default"] == "cache.t3.small"
        assert len(caches) == 1
    else:
        assert caches == {}


# ------------------------------------------------------------------ seed 003: mycandidate


@pytest.mark.parametrize("env", ["dev", "prod"])
def test_mycandidate_postgres_100_gb_gp2_autoscaling_multi_az_one_replica_and_proxy(env):
    doc = template("mycandidate", env, "data")
    db = standalone(doc)
    assert db["Engine"] == "postgres" and int(db["EngineVersion"].split(".")[0]) >= 13
    assert instance_class(doc) == "db.t3.medium"
    assert (db["AllocatedStorage"], db["StorageType"], db["MaxAllocatedStorage"]) == ("100", "gp2", 500)
    assert db["MultiAZ"] is True and db["BackupRetentionPeriod"] == 7
    assert db["EnablePerformanceInsights"] is True

    replicas = {
        k: v
        for k, v in resources(doc, "AWS::RDS::DBInstance").items()
        if "SourceDBInstanceIdentifier" in v["Properties"]
    }
    assert list(replicas) == ["DatabaseReplica1"]
    replica = replicas["DatabaseReplica1"]["Properties"]
    assert replica["SourceDBInstanceIdentifier"] == {"Ref": "Database"}
    assert replica["DBInstanceIdentifier"] == f"rds-replica-1-mc-{env}"
    assert "replica" in replica["DBInstanceIdentifier"]  # the backup layer excludes db:*replica*
    assert replica["VPCSecurityGroups"] == [{"Ref": "DatabaseSecurityGroupId"}]
    assert doc["Outputs"]["ReadReplicaIdentifiers"]["Value"] == {"Fn::Join": [",", [{"Ref": "DatabaseReplica1"}]]}
    assert doc["Outputs"]["DatabaseReaderEndpoint"]["Value"] == {"Fn::GetAtt": ["DatabaseReplica1", "Endpoint.Address"]}

    _, proxy = one(doc, "AWS::RDS::DBProxy")
    assert proxy["Properties"]["EngineFamily"] == "POSTGRESQL"
    assert proxy["Properties"]["RequireTLS"] is True
    assert proxy["Properties"]["Auth"] == [
        {
            "AuthScheme": "SECRETS",
            "Description": "master credentials from the security layer's secret",
            "IAMAuth": "DISABLED",
            "SecretArn": SECRET,
        }
    ]
    assert proxy["Properties"]["VpcSecurityGroupIds"] == [{"Ref": "ProxySecurityGroupId"}]
    _, target = one(doc, "AWS::RDS::DBProxyTargetGroup")
    assert target["Properties"]["TargetGroupName"] == "default"
    assert target["Properties"]["DBInstanceIdentifiers"] == [{"Ref": "Database"}]
    role = props(doc, "DatabaseProxyRole")
    statements = role["Policies"][0]["PolicyDocument"]["Statement"]
    assert statements[0]["Resource"] == [SECRET] and statements[1]["Action"] == ["kms:Decrypt"]
    assert doc["Outputs"]["ProxyEndpoint"]["Value"] == {"Fn::GetAtt": ["DatabaseProxy", "Endpoint"]}


@pytest.mark.parametrize(("env", "replicas"), [("dev", 0), ("prod", 1)])
def test_mycandidate_redis_6_micro_daily_snapshots_and_cross_az_replication_in_prod(env, replicas):
    redis = one(template("mycandidate", env, "data"), "AWS::ElastiCache::ReplicationGroup")[1]["Properties"]
    assert redis["EngineVersion"] == "6.2" and redis["CacheNodeType"] == {"Ref": "CacheNodeType"}
    assert redis["ClusterMode"] == "disabled"
    assert redis["NumCacheClusters"] == 1 + replicas
    assert redis["AutomaticFailoverEnabled"] is (env == "prod") and redis["MultiAZEnabled"] is (env == "prod")
    assert (redis["SnapshotRetentionLimit"], redis["SnapshotWindow"]) == (7, "02:00-03:00")


@pytest.mark.parametrize("env", ["dev", "prod"])
def test_mycandidate_efs_encrypted_general_purpose_bursting_mount_target_per_az_access_point_for_web(env):
    doc = template("mycandidate", env, "data")
    _, file_system = one(doc, "AWS::EFS::FileSystem")
    fs = file_system["Properties"]
    assert fs["Encrypted"] is True and fs["KmsKeyId"] == {"Ref": "KmsKeyArn"}
    assert (fs["PerformanceMode"], fs["ThroughputMode"]) == ("generalPurpose", "bursting")
    assert fs["BackupPolicy"] == {"Status": "ENABLED"}
    assert fs["FileSystemPolicy"]["Statement"][0]["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}
    targets = resources(doc, "AWS::EFS::MountTarget")
    assert len(targets) == load_config("mycandidate", env, REPO_PARAMS).network.az_count == 3
    assert [t["Properties"]["SubnetId"] for t in targets.values()] == [
        {"Fn::Select": [i, {"Ref": "PrivateSubnetIds"}]} for i in range(3)
    ]
    assert {str(t["Properties"]["SecurityGroups"]) for t in targets.values()} == {str([{"Ref": "EfsSecurityGroupId"}])}
    points = resources(doc, "AWS::EFS::AccessPoint")
    assert list(points) == ["ServiceWebAccessPoint"]  # web is the one service with efs_mount_path
    point = points["ServiceWebAccessPoint"]["Properties"]
    assert point["PosixUser"] == {"Uid": "1000", "Gid": "1000"}
    assert point["RootDirectory"] == {
        "Path": "/web",
        "CreationInfo": {"OwnerUid": "1000", "OwnerGid": "1000", "Permissions": "0750"},
    }
    assert doc["Outputs"]["ServiceWebAccessPointId"]["Value"] == {"Ref": "ServiceWebAccessPoint"}
    assert doc["Outputs"]["FileSystemId"]["Value"] == {"Ref": "FileSystem"}


# ------------------------------------------------------------------ seed 004: product-catalog


@pytest.mark.parametrize("env", ["dev", "prod"])
def test_product_catalog_aurora_postgres_16_writer_and_reader_medium_encrypted_named_by_convention(env):
    doc = template("product-catalog", env, "data")
    suffix = load_config("product-catalog", env, REPO_PARAMS).suffix
    _, resource = one(doc, "AWS::RDS::DBCluster")
    cluster = resource["Properties"]
    assert (cluster["Engine"], cluster["EngineVersion"]) == (
        "aurora-postgresql",
        "16.9",
    )  # seed's 16.4 cannot be created any more
    assert cluster["DBClusterIdentifier"] == f"rds-cluster-{suffix}"
    assert_encrypted_with_layer_key(cluster)
    assert cluster["BackupRetentionPeriod"] == 7
    assert cluster["Port"] == 5432
    assert cluster["DeletionProtection"] is (env == "prod")  # seed 004: off for its test environment
    assert "BacktrackWindow" not in cluster
    assert props(doc, "DatabaseClusterParameterGroup")["Family"] == "aurora-postgresql16"
    assert cluster["DBClusterParameterGroupName"] == {"Ref": "DatabaseClusterParameterGroup"}
    members = resources(doc, "AWS::RDS::DBInstance")
    assert sorted(members) == ["DatabaseReader1", "DatabaseWriter"]
    for member in members.values():
        p = member["Properties"]
        assert p["DBClusterIdentifier"] == {"Ref": "DatabaseCluster"}
        assert p["DBInstanceClass"] == {"Ref": "DatabaseInstanceClass"}
        assert p["PubliclyAccessible"] is False
        # CloudFormation refuses Snapshot on a cluster member: kept in prod, except when the create
        # that made it rolls back (RetainExceptOnCreate; UpdateReplacePolicy does not take it).
        assert (member["DeletionPolicy"], member["UpdateReplacePolicy"]) == (
            ("RetainExceptOnCreate", "Retain") if env == "prod" else ("Delete", "Delete")
        )
    assert instance_class(doc) == "db.t3.medium"
    assert props(doc, "DatabaseWriter")["DBInstanceIdentifier"] == f"rds-writer-{suffix}"
    assert doc["Outputs"]["DatabaseIdentifier"]["Value"] == {"Ref": "DatabaseCluster"}
    assert doc["Outputs"]["DatabaseReaderEndpoint"]["Value"] == {
        "Fn::GetAtt": ["DatabaseCluster", "ReadEndpoint.Address"]
    }
    assert "ReadReplicaIdentifiers" not in doc["Outputs"]
    assert not resources(doc, "AWS::RDS::DBProxy")


# ------------------------------------------------------------------ every profile


@pytest.mark.parametrize(("app", "env"), DATA_TARGETS)
def test_deletion_policies_by_stage(app, env):
    doc = template(app, env, "data")
    prod = load_config(app, env, REPO_PARAMS).is_prod
    expected_prod = {
        "AWS::RDS::DBCluster": "Snapshot",
        "AWS::ElastiCache::ReplicationGroup": "Snapshot",
        "AWS::EFS::FileSystem": "Retain",
        "AWS::Logs::LogGroup": "Retain",
        "AWS::SecretsManager::Secret": "Retain",
    }
    seen = set()
    for title, resource in doc["Resources"].items():
        kind = resource["Type"]
        if kind not in (*expected_prod, "AWS::RDS::DBInstance"):
            continue
        if kind == "AWS::RDS::DBInstance":
            # Only a standalone primary can leave a final snapshot; replicas and members cannot.
            member = {"SourceDBInstanceIdentifier", "DBClusterIdentifier"} & resource["Properties"].keys()
            want = "Retain" if member else "Snapshot"
        else:
            want = expected_prod[kind]
        # A failed first create deletes what it made (RetainExceptOnCreate); Snapshot stays Snapshot.
        on_delete = "RetainExceptOnCreate" if want == "Retain" else want
        assert (resource["DeletionPolicy"], resource["UpdateReplacePolicy"]) == (
            (on_delete, want) if prod else ("Delete", "Delete")
        ), title
        seen.add(title)
    assert "Database" in seen or "DatabaseCluster" in seen
    (stack,) = [s for s in rendered(app, env).manifest["stacks"] if s["layer"] == "data"]
    assert set(stack["stateful_resources"]) == seen  # the stack policy protects exactly these


@pytest.mark.parametrize(("app", "env"), DATA_TARGETS)
def test_databases_private_encrypted_and_credentials_only_from_the_secret(app, env):
    doc = template(app, env, "data")
    cfg = load_config(app, env, REPO_PARAMS)
    for title, instance in resources(doc, "AWS::RDS::DBInstance").items():
        assert instance["Properties"]["PubliclyAccessible"] is False, title
    owner = props(doc, "DatabaseCluster" if cfg.database.is_aurora else "Database")
    assert_encrypted_with_layer_key(owner)
    assert owner["DeletionProtection"] is (
        cfg.database.deletion_protection if cfg.database.deletion_protection is not None else cfg.is_prod
    )
    assert owner["CopyTagsToSnapshot"] is True
    assert not any("Password" in name for name in doc.get("Parameters", {}))
    if cfg.database.managed_master_password:  # seed 002: RDS generates and rotates it (tests/test_seed_gaps.py)
        assert (owner["ManageMasterUserPassword"], owner["MasterUsername"]) == (True, cfg.database.master_username)
        assert "MasterUserPassword" not in owner and not resources(doc, "AWS::SecretsManager::SecretTargetAttachment")
    else:
        for key, field in (("MasterUsername", "username"), ("MasterUserPassword", "password")):
            assert owner[key] == {"Fn::Join": ["", ["{{resolve:secretsmanager:", SECRET, f":SecretString:{field}}}}}"]]}
        _, attachment = one(doc, "AWS::SecretsManager::SecretTargetAttachment")
        assert attachment["Properties"]["SecretId"] == SECRET
    subnet_group = one(doc, "AWS::RDS::DBSubnetGroup")[1]["Properties"]
    assert subnet_group["SubnetIds"] == {"Ref": "DataSubnetIds"}
    assert doc["Parameters"]["DataSubnetIds"]["Type"] == "List<AWS::EC2::Subnet::Id>"
    # Enhanced monitoring through its role with the AWS managed policy.
    monitoring = props(doc, "DatabaseMonitoringRole")
    assert monitoring["ManagedPolicyArns"] == [
        {"Fn::Sub": "arn:${AWS::Partition}:iam::aws:policy/service-role/AmazonRDSEnhancedMonitoringRole"}
    ]
    assert monitoring["AssumeRolePolicyDocument"]["Statement"][0]["Principal"] == {
        "Service": "monitoring.rds.amazonaws.com"
    }
    for instance in resources(doc, "AWS::RDS::DBInstance").values():
        assert instance["Properties"]["MonitoringInterval"] == 60
        assert instance["Properties"]["MonitoringRoleArn"] == {"Fn::GetAtt": ["DatabaseMonitoringRole", "Arn"]}


@pytest.mark.parametrize(("app", "env"), DATA_TARGETS)
def test_outputs_other_layers_consume(app, env):
    cfg = load_config(app, env, REPO_PARAMS)
    outputs = template(app, env, "data")["Outputs"]
    expected = {"DatabaseEndpoint", "DatabasePort", "DatabaseIdentifier"}
    if cfg.database.is_aurora or cfg.database.replicas:
        expected.add("DatabaseReaderEndpoint")
    if not cfg.database.is_aurora and cfg.database.replicas:
        expected.add("ReadReplicaIdentifiers")
    if cfg.database.proxy:
        expected.add("ProxyEndpoint")
    if cfg.database.managed_master_password:
        expected.add("DatabaseSecretArn")
    if cfg.cache:
        expected |= {"CacheEndpoint", "CachePort", "CacheReplicationGroupId"}
        if cfg.cache.replicas:
            expected.add("CacheReaderEndpoint")
    if cfg.efs:
        expected.add("FileSystemId")
        expected |= {
            logical_id("service", name, "AccessPointId") for name, svc in cfg.services.items() if svc.efs_mount_path
        }
    assert set(outputs) == expected
    # Every `data.` input of the other layers resolves: the root wires them by GetAtt.
    root = template(app, env, "root")
    wired = {
        v["Fn::GetAtt"][1].removeprefix("Outputs.")
        for stack in root["Resources"].values()
        for v in stack["Properties"].get("Parameters", {}).values()
        if isinstance(v, dict) and v.get("Fn::GetAtt", [""])[0] == "DataStack"
    }
    assert wired <= set(outputs)
    root_outputs = set(root.get("Outputs", {}))
    assert "DataDatabaseEndpoint" in root_outputs
    assert ("DataCacheEndpoint" in root_outputs) is bool(cfg.cache)


def test_profile_without_data_stores_has_no_data_layer():
    cfg = load_config("platform-scale", "dev", REPO_PARAMS)
    assert (cfg.database, cfg.cache, cfg.efs) == (None, None, None)
    assert data.build(cfg) is None
    assert "data.json" not in rendered("platform-scale", "dev").files


@pytest.mark.parametrize(
    ("engine", "version", "family"),
    [
        ("postgres", "15.15", "postgres15"),
        ("postgres", "16.10", "postgres16"),
        ("mysql", "8.0.44", "mysql8.0"),
        ("mysql", "8.4.5", "mysql8.4"),
        ("aurora-postgresql", "16.9", "aurora-postgresql16"),
    ],
)
def test_parameter_group_family_from_engine_and_major_version(engine, version, family):
    assert data.parameter_group_family(engine, version) == family


@pytest.mark.parametrize(("app", "env"), DATA_TARGETS)
def test_data_layer_lints_clean_alone(app, env, linter, tmp_path):
    config = load_config(app, env, REPO_PARAMS)
    layer = data.build(config)
    path = tmp_path / f"{layer.name}.json"
    path.write_bytes(serialize(layer.template))
    findings = [f for f in linter.lint_file(path, config.region) if f.level in ("error", "warning")]
    assert findings == [], "\n".join(map(str, findings))


def test_prod_data_layers_pass_checkov_alone(checkov, tmp_path):  # noqa: F811
    """Each prod data template scanned on its own (one -f per file: checkov reads them all; not
    --quiet, so the passed checks prove every file was scanned)."""
    command = [checkov, "--framework", "cloudformation", "--skip-download", "-o", "json"]
    prod = [(app, env) for app, env in DATA_TARGETS if env == "prod"]
    for app, env in prod:
        path = tmp_path / f"{app}-data.json"
        path.write_bytes(rendered(app, env).files["data.json"])
        command += ["-f", str(path)]
    done = subprocess.run(command, capture_output=True, text=True, timeout=600)
    report = json.loads(done.stdout)
    reports = report if isinstance(report, list) else [report]
    failures = [
        f"{c['file_path']}: {c['resource']}: {c['check_id']}" for r in reports for c in r["results"]["failed_checks"]
    ]
    assert failures == [], "\n".join(failures)
    scanned = {c["file_path"].rsplit("/", 1)[-1] for r in reports for c in r["results"]["passed_checks"]}
    assert scanned == {f"{app}-data.json" for app, _ in prod}


# ------------------------------------------------------------------ issue 13: every database shape the model accepts


def _engine_grid():
    """engine x replicas x proxy over the params model's own choices (the Literal of `engine`,
    the bounds of `replicas`: none, one, the most), with a creatable version of each engine."""
    import typing

    from templates.config import DatabaseConfig

    engines = typing.get_args(DatabaseConfig.model_fields["engine"].annotation)
    bounds = {
        name: getattr(m, name)
        for m in DatabaseConfig.model_fields["replicas"].metadata
        for name in ("ge", "le")
        if hasattr(m, name)
    }
    replicas = sorted({bounds["ge"], bounds["ge"] + 1, bounds["le"]})
    return [(e, r, p) for e in engines for r in replicas for p in (False, True)]


VERSIONS = {
    "postgres": "16.10",
    "mysql": "8.0.44",
    "aurora-postgresql": "16.9",
    "aurora-mysql": "8.0.mysql_aurora.3.08.2",
}


@pytest.mark.parametrize(("engine", "replicas", "proxy"), _engine_grid())
def test_every_engine_replicas_proxy_combination_generates_and_lints_clean(
    engine, replicas, proxy, params_copy, linter, tmp_path
):
    """A MySQL profile with read replicas used to crash in troposphere's RDS validator (gp3 storage,
    no AllocatedStorage on the replica): every combination now renders, and lints clean."""
    import yaml

    from templates.lint import lint_directory
    from templates.render import render, write_profile

    base = params_copy / "smart-task" / "base.yaml"
    document = yaml.safe_load(base.read_text())
    # smart-task's RDS-managed password where RDS allows it (not with RDS read replicas).
    managed = replicas == 0 or engine.startswith("aurora")
    document["database"].update(
        engine=engine,
        engine_version=VERSIONS[engine],
        replicas=replicas,
        proxy=proxy,
        storage_type="gp3",
        managed_master_password=managed,
    )
    base.write_text(yaml.safe_dump(document, sort_keys=False))
    if engine == "aurora-mysql":  # Aurora MySQL offers no db.m5.large, the prod overlay's class
        overlay = params_copy / "smart-task" / "prod.yaml"
        overlay.write_text(overlay.read_text().replace("db.m5.large", "db.r6g.large"))
    profile = render(load_config("smart-task", "prod", params_copy))
    doc = json.loads(profile.files["data.json"])
    instances = resources(doc, "AWS::RDS::DBInstance")
    if engine.startswith("aurora"):
        assert len(instances) == 1 + max(replicas, 1)  # writer + readers (multi_az asks for one)
    else:
        replica_ids = sorted(t for t, r in instances.items() if "SourceDBInstanceIdentifier" in r["Properties"])
        assert replica_ids == sorted(f"DatabaseReplica{i}" for i in range(1, replicas + 1))
        for title in replica_ids:
            assert instances[title]["Properties"]["StorageType"] == "gp3"
    proxies = resources(doc, "AWS::RDS::DBProxy")
    assert len(proxies) == int(proxy)
    if proxy:
        target = props(doc, "DatabaseProxyTargetGroup")
        assert target.get("DBClusterIdentifiers" if engine.startswith("aurora") else "DBInstanceIdentifiers") == [
            {"Ref": "DatabaseCluster" if engine.startswith("aurora") else "Database"}
        ]
    folder = write_profile(profile, tmp_path)
    findings = [
        f
        for f in lint_directory(linter, folder)
        if f.level in ("error", "warning") and f.file.split("/")[-1] in ("data.json", "security.json", "backup.json")
    ]
    assert findings == [], "\n".join(map(str, findings))

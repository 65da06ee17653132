"""data layer: the relational database (RDS PostgreSQL/MySQL with read replicas, or an Aurora
PostgreSQL or Aurora MySQL cluster with writer and readers), RDS Proxy, the ElastiCache Redis replication group
and the EFS file system with a mount target per private subnet and an access point per service
that mounts it.

Everything is encrypted with the security layer's KMS key; credentials are the security layer's
generated secret, read through `{{resolve:secretsmanager:...}}` dynamic references, so no
password is ever a parameter or in the template.
"""

from __future__ import annotations

from awacs import kms as awacs_kms
from awacs import secretsmanager as awacs_secrets
from awacs.aws import Allow, Condition, PolicyDocument, Statement, StringEquals
from troposphere import GetAtt, Join, Ref, Select, Sub, efs, elasticache, iam, rds, secretsmanager

from templates.common import Layer, LayerBuilder, logical_id, trust_policy
from templates.config import AppConfig, DatabaseConfig
from templates.security import CACHE_PORT

# Logs each engine can export to CloudWatch Logs (MySQL's audit log needs an option group).
# Aurora MySQL: the error log (always written) and the slow query log (Amazon Aurora User Guide,
# "Publishing Amazon Aurora MySQL logs to Amazon CloudWatch Logs").
LOG_EXPORTS = {
    "postgres": ("postgresql", "upgrade"),
    "mysql": ("error", "general", "slowquery"),
    "aurora-postgresql": ("postgresql",),
    "aurora-mysql": ("error", "slowquery"),
}
# Parameters that make the server refuse unencrypted connections. Aurora MySQL's is a cluster-level
# parameter taking ON/OFF (Amazon Aurora User Guide, "Requiring a TLS connection to an Aurora MySQL
# DB cluster": the require_secure_transport DB cluster parameter).
TLS_PARAMETERS = {
    "postgres": {"rds.force_ssl": "1"},
    "mysql": {"require_secure_transport": "1"},
    "aurora-postgresql": {"rds.force_ssl": "1"},
    "aurora-mysql": {"require_secure_transport": "ON"},
}
# What an exported log needs from the parameter group, or it stays empty: RDS User Guide,
# "Publishing MySQL logs to Amazon CloudWatch Logs" (general_log = 1, slow_query_log = 1, and
# log_output = FILE for either, since only file logs are published).
# https://docs.aws.amazon.com/AmazonRDS/latest/UserGuide/USER_LogAccess.MySQLDB.PublishtoCloudWatchLogs.html
# Aurora MySQL the same ("Overview of Aurora MySQL database logs": the slow query log is generated
# by setting parameters in the DB parameter group; Database Insights, "Configuring your database to
# monitor slow SQL queries": slow_query_log 1 and log_output FILE in the DB cluster parameter group).
LOG_PARAMETERS = {
    ("mysql", "general"): {"general_log": "1", "log_output": "FILE"},
    ("mysql", "slowquery"): {"slow_query_log": "1", "log_output": "FILE"},
    ("aurora-mysql", "slowquery"): {"slow_query_log": "1", "log_output": "FILE"},
}
PROXY_ENGINE_FAMILY = {
    "postgres": "POSTGRESQL",
    "mysql": "MYSQL",
    "aurora-postgresql": "POSTGRESQL",
    "aurora-mysql": "MYSQL",
}
# Performance Insights' free tier.
PERFORMANCE_INSIGHTS_DAYS = 7
# POSIX identity of the files a service writes through its access point (a non-root user).
EFS_POSIX_ID = "1000"
EFS_ROOT_PERMISSIONS = "0750"


def parameter_group_family(engine: str, version: str) -> str:
    """postgres 16.10 -> postgres16, mysql 8.0.44 -> mysql8.0, aurora-postgresql 16.9 ->
    aurora-postgresql16, aurora-mysql 8.0.mysql_aurora.3.08.2 -> aurora-mysql8.0."""
    parts = version.split(".")
    return f"{engine}{'.'.join(parts[:2])}" if engine in ("mysql", "aurora-mysql") else f"{engine}{parts[0]}"


def log_parameters(engine: str) -> dict[str, str]:
    """What each exported log needs from the parameter group to be written at all."""
    values: dict[str, str] = {}
    for log in LOG_EXPORTS[engine]:
        values.update(LOG_PARAMETERS.get((engine, log), {}))
    return dict(sorted(values.items()))


def engine_parameters(engine: str) -> dict[str, str]:
    """The parameter group's values: TLS required, and what each exported log needs to be written."""
    return dict(sorted({**TLS_PARAMETERS[engine], **log_parameters(engine)}.items()))


def aurora_reader_count(db: DatabaseConfig) -> int:
    """Aurora readers: `replicas`, and at least one when multi_az asks for a reader in another AZ."""
    return max(db.replicas, 1 if db.multi_az else 0)


def _data_subnets(b: LayerBuilder):
    """The data subnets, declared once for the database and the cache."""
    return b.template.parameters.get("DataSubnetIds") or b.input(
        "DataSubnetIds", "network.DataSubnetIds", "Subnets of the data stores", type="List<AWS::EC2::Subnet::Id>"
    )


def _secret_value(secret, key: str) -> Join:
    """A dynamic reference CloudFormation resolves at deploy time; the value never shows in the template or events."""
    return Join("", ["{{resolve:secretsmanager:", Ref(secret), f":SecretString:{key}}}}}"])


# ------------------------------------------------------------------ relational database


class _DatabaseInputs:
    """The parameters the database resources share."""

    def __init__(self, b: LayerBuilder, kms_key):
        db = b.cfg.database
        self.kms_key = kms_key
        self.managed = db.managed_master_password
        # RDS-managed: the secret comes into being with the database (`secret_arn` is set then).
        self.secret = (
            None
            if self.managed
            else b.input(
                "DatabaseSecretArn",
                "security.DatabaseSecretArn",
                "Secret holding the master username and generated password",
            )
        )
        self.secret_arn = None if self.managed else Ref(self.secret)
        self.subnets = _data_subnets(b)
        self.security_group = b.input(
            "DatabaseSecurityGroupId",
            "security.DatabaseSecurityGroupId",
            "Security group of the database",
            type="AWS::EC2::SecurityGroup::Id",
        )
        self.instance_class = b.knob(
            "DatabaseInstanceClass",
            "Database",
            "Database instance class",
            f"Instance class of the {db.engine} database"
            + (", its writer and readers" if db.is_aurora else " and its read replicas"),
            db.instance_class,
            key="database.instance_class",
            AllowedPattern=r"^db\.[a-z0-9]+\.[a-z0-9]+$",
            ConstraintDescription="a DB instance class such as db.t3.medium",
        )
        # Properties every instance (primary, replica, Aurora member) shares.
        self.instance_options = {**_performance_insights(b, kms_key), **_monitoring(b)}


def _monitoring(b: LayerBuilder) -> dict:
    """Enhanced monitoring: the role RDS publishes OS metrics with, and the instance properties."""
    interval = b.cfg.database.monitoring_interval
    if not interval:
        return {}
    role = b.add(
        iam.Role(
            "DatabaseMonitoringRole",
            RoleName=b.named("rds-monitoring"),
            Description="RDS enhanced monitoring publishes OS metrics to CloudWatch Logs",
            AssumeRolePolicyDocument=trust_policy("monitoring.rds.amazonaws.com"),
            ManagedPolicyArns=[
                Sub("arn:${AWS::Partition}:iam::aws:policy/service-role/AmazonRDSEnhancedMonitoringRole")
            ],
            Tags=b.tags("rds-monitoring"),
        )
    )
    return {"MonitoringInterval": interval, "MonitoringRoleArn": GetAtt(role, "Arn")}


def _performance_insights(b: LayerBuilder, kms_key) -> dict:
    if not b.cfg.database.performance_insights:
        return {"EnablePerformanceInsights": False}
    return {
        "EnablePerformanceInsights": True,
        "PerformanceInsightsKMSKeyId": Ref(kms_key),
        "PerformanceInsightsRetentionPeriod": PERFORMANCE_INSIGHTS_DAYS,
    }


def _log_groups(b: LayerBuilder, owner_title: str, path: str, kms_key) -> list[str]:
    """The groups RDS exports logs to, created first so they get a retention and the KMS key
    (RDS itself would create them unencrypted and kept forever)."""
    titles = []
    for log in LOG_EXPORTS[b.cfg.database.engine]:
        group = b.log_group(
            logical_id(owner_title, "LogGroup", log),
            f"/aws/rds/{path}/{log}",
            Ref(kms_key),
            b.tags("log", f"rds-{log}"),
        )
        titles.append(group.title)
    return titles


def _read_secret_document(inputs: _DatabaseInputs) -> PolicyDocument:
    """Read the database secret, and decrypt it only through Secrets Manager: what the tasks and the
    proxy need of it."""
    return PolicyDocument(
        Version="2012-10-17",
        Statement=[
            Statement(
                Effect=Allow,
                Action=[awacs_secrets.GetSecretValue, awacs_secrets.DescribeSecret],
                Resource=[inputs.secret_arn],
            ),
            Statement(
                Effect=Allow,
                Action=[awacs_kms.Decrypt],
                Resource=[Ref(inputs.kms_key)],
                Condition=Condition(StringEquals("kms:ViaService", Sub("secretsmanager.${AWS::Region}.amazonaws.com"))),
            ),
        ],
    )


def _credentials(b: LayerBuilder, inputs: _DatabaseInputs) -> dict:
    """The master user. RDS-managed (database.managed_master_password): RDS generates the password
    into a Secrets Manager secret encrypted with the application key and rotates it every 7 days
    (RDS User Guide, "Password management with Amazon RDS and AWS Secrets Manager"). Otherwise the
    security layer's generated secret, read through dynamic references."""
    if inputs.managed:
        return {
            "MasterUsername": b.cfg.database.master_username,
            "ManageMasterUserPassword": True,
            "MasterUserSecret": rds.MasterUserSecret(KmsKeyId=Ref(inputs.kms_key)),
        }
    return {
        "MasterUsername": _secret_value(inputs.secret, "username"),
        "MasterUserPassword": _secret_value(inputs.secret, "password"),
    }


def _grant_managed_secret(b: LayerBuilder, inputs: _DatabaseInputs) -> None:
    """The roles that read the database secret (the task execution role injects it, the services'
    task roles may re-read it after a rotation) get it here: the security layer, which owns the
    roles, comes before the secret exists. Read it and decrypt it through Secrets Manager only."""
    readers = [name for name, svc in b.cfg.services.items() if "database" in svc.secrets]
    if not readers:
        return
    roles = [Ref(b.input("TaskExecutionRoleName", "security.TaskExecutionRoleName", "Task execution role name"))]
    for name in readers:
        output = logical_id("service", name, "TaskRoleName")
        roles.append(Ref(b.input(output, f"security.{output}", f"Task role name of service {name}")))
    b.add(
        iam.PolicyType(
            "DatabaseSecretReadPolicy",
            PolicyName="read-database-secret",
            Roles=roles,
            PolicyDocument=_read_secret_document(inputs),
        )
    )


def _subnet_group(b: LayerBuilder, inputs: _DatabaseInputs) -> rds.DBSubnetGroup:
    return b.add(
        rds.DBSubnetGroup(
            "DatabaseSubnetGroup",
            DBSubnetGroupName=b.named("rds-subnets"),
            DBSubnetGroupDescription=f"Data subnets of the {b.cfg.application} database",
            SubnetIds=Ref(inputs.subnets),
            Tags=b.tags("rds-subnets"),
        )
    )


def _rds(b: LayerBuilder, inputs: _DatabaseInputs):
    """A standalone RDS instance (Snapshot on delete in prod) and its read replicas."""
    cfg, db = b.cfg, b.cfg.database
    family = parameter_group_family(db.engine, db.engine_version)
    # Unnamed: a new family (major upgrade) replaces the group, which a fixed name would block.
    parameters = b.add(
        rds.DBParameterGroup(
            "DatabaseParameterGroup",
            Description=f"{cfg.application} {db.engine} {family}: TLS required, exported logs written",
            Family=family,
            Parameters=engine_parameters(db.engine),
            Tags=b.tags("rds-params"),
        )
    )
    subnets = _subnet_group(b, inputs)
    shared = {
        "DBInstanceClass": Ref(inputs.instance_class),
        "DBParameterGroupName": Ref(parameters),
        "VPCSecurityGroups": [Ref(inputs.security_group)],
        "PubliclyAccessible": False,
        "AutoMinorVersionUpgrade": True,
        "CopyTagsToSnapshot": True,
        "DeletionProtection": cfg.database.deletion_protection,
        "EnableIAMDatabaseAuthentication": True,
        "EnableCloudwatchLogsExports": list(LOG_EXPORTS[db.engine]),
        **inputs.instance_options,
    }
    if db.max_allocated_storage:
        shared["MaxAllocatedStorage"] = db.max_allocated_storage
    if db.iops is not None:  # io1/io2 (the params model requires it there and refuses it elsewhere)
        shared["Iops"] = db.iops
    identifier = b.named("rds")
    primary = b.add(
        rds.DBInstance(
            "Database",
            DependsOn=_log_groups(b, "Database", f"instance/{identifier}", inputs.kms_key),
            DBInstanceIdentifier=identifier,
            Engine=db.engine,
            EngineVersion=db.engine_version,
            Port=str(db.port),
            DBName=db.database_name,
            AllocatedStorage=str(db.allocated_storage),
            StorageType=db.storage_type,
            StorageEncrypted=True,
            KmsKeyId=Ref(inputs.kms_key),
            MultiAZ=db.multi_az,
            DBSubnetGroupName=Ref(subnets),
            BackupRetentionPeriod=db.backup_retention_days,
            PreferredBackupWindow=db.backup_window,
            PreferredMaintenanceWindow=db.maintenance_window,
            # prod keeps the automated backups (point-in-time restore) after the instance is deleted.
            DeleteAutomatedBackups=not cfg.is_prod,
            Tags=b.tags("rds"),
            **_credentials(b, inputs),
            **shared,
        )
    )
    replicas = []
    for index in range(1, db.replicas + 1):
        # The id contains "replica": the backup layer excludes db:*replica* (AWS Backup cannot back up replicas).
        replica_id = b.named("rds", f"replica-{index}")
        replica = rds.DBInstance(
            f"DatabaseReplica{index}",
            DependsOn=_log_groups(b, f"DatabaseReplica{index}", f"instance/{replica_id}", inputs.kms_key),
            DBInstanceIdentifier=replica_id,
            SourceDBInstanceIdentifier=Ref(primary),
            Engine=db.engine,
            StorageType=db.storage_type,
            Tags=b.tags("rds", f"replica-{index}"),
            **shared,
        )
        # troposphere's DBInstance validator assumes AllocatedStorage is set whenever a mysql or
        # postgres instance has gp3 storage and crashes (int(None)) on a replica, which inherits
        # its storage from the source; cfn-lint validates the rendered replica instead.
        replica.no_validation()
        b.skip_check(
            replica,
            "CKV_AWS_16",
            "a read replica inherits the encryption and KMS key of its encrypted primary; CloudFormation takes no "
            "StorageEncrypted for it",
        )
        b.skip_check(
            replica,
            "CKV_AWS_157",
            "a read replica only serves reads: the primary is the Multi-AZ one, and a lost replica is recreated "
            "from it",
        )
        # RDS refuses a final snapshot of a read replica, so CloudFormation cannot Snapshot one.
        replicas.append(b.add(replica, snapshot=False))
    return primary, replicas


def _aurora(b: LayerBuilder, inputs: _DatabaseInputs):
    """An Aurora PostgreSQL or Aurora MySQL cluster (Snapshot in prod), its writer and readers
    (Retain in prod: CloudFormation refuses Snapshot on instances of a cluster)."""
    cfg, db = b.cfg, b.cfg.database
    family = parameter_group_family(db.engine, db.engine_version)
    parameters = b.add(
        rds.DBClusterParameterGroup(
            "DatabaseClusterParameterGroup",
            Description=f"{cfg.application} {db.engine} {family}: TLS required"
            + (", slow query log written to file for export" if log_parameters(db.engine) else ""),
            Family=family,
            Parameters=engine_parameters(db.engine),
            Tags=b.tags("rds-cluster-params"),
        )
    )
    subnets = _subnet_group(b, inputs)
    identifier = b.named("rds-cluster")
    member_options = {}
    if db.engine == "aurora-mysql":
        # The instances' own group repeats the log settings: a DB parameter group's value wins over
        # the cluster group's for an instance-level parameter (Amazon Aurora User Guide, "Parameter
        # groups for Amazon Aurora"), so no instance group can leave the slow query log off.
        # Unnamed like the cluster group: a new family replaces it.
        instance_parameters = b.add(
            rds.DBParameterGroup(
                "DatabaseInstanceParameterGroup",
                Description=f"{cfg.application} {db.engine} {family} instances: slow query log written to file for "
                "export",
                Family=family,
                Parameters=log_parameters(db.engine),
                Tags=b.tags("rds-params"),
            )
        )
        member_options["DBParameterGroupName"] = Ref(instance_parameters)
    # No backtrack: BacktrackWindow stays unset (0, off). Aurora PostgreSQL has none; on Aurora MySQL
    # it can only be turned on when the cluster is created, and rewinds the whole cluster in place.
    cluster = b.add(
        rds.DBCluster(
            "DatabaseCluster",
            DependsOn=_log_groups(b, "DatabaseCluster", f"cluster/{identifier}", inputs.kms_key),
            DBClusterIdentifier=identifier,
            Engine=db.engine,
            EngineVersion=db.engine_version,
            Port=db.port,
            DatabaseName=db.database_name,
            **_credentials(b, inputs),
            StorageEncrypted=True,
            KmsKeyId=Ref(inputs.kms_key),
            DBSubnetGroupName=Ref(subnets),
            VpcSecurityGroupIds=[Ref(inputs.security_group)],
            DBClusterParameterGroupName=Ref(parameters),
            BackupRetentionPeriod=db.backup_retention_days,
            PreferredBackupWindow=db.backup_window,
            PreferredMaintenanceWindow=db.maintenance_window,
            DeletionProtection=cfg.database.deletion_protection,
            CopyTagsToSnapshot=True,
            EnableIAMDatabaseAuthentication=True,
            EnableCloudwatchLogsExports=list(LOG_EXPORTS[db.engine]),
            Tags=b.tags("rds-cluster"),
        )
    )
    members = []
    roles = ["writer", *(f"reader-{index}" for index in range(1, aurora_reader_count(db) + 1))]
    for role in roles:
        member = rds.DBInstance(
            logical_id("database", role),
            DBInstanceIdentifier=b.named("rds", role),
            DBClusterIdentifier=Ref(cluster),
            Engine=db.engine,
            DBInstanceClass=Ref(inputs.instance_class),
            PubliclyAccessible=False,
            AutoMinorVersionUpgrade=True,
            Tags=b.tags("rds", role),
            **inputs.instance_options,
            **member_options,
        )
        members.append(b.add(member, snapshot=False))
    return cluster, members


def _proxy(b: LayerBuilder, inputs: _DatabaseInputs, database, members: list) -> rds.DBProxy:
    """RDS Proxy (managed connection pooling, seed 003's PgBouncer): TLS only, reads the secret.
    `database` is the RDS instance or the Aurora cluster; an Aurora target registers once the
    cluster has its instances (`members`)."""
    db = b.cfg.database
    role = b.add(
        iam.Role(
            "DatabaseProxyRole",
            RoleName=b.named("rds-proxy"),
            Description="RDS Proxy reads the database credentials",
            AssumeRolePolicyDocument=trust_policy("rds.amazonaws.com"),
            Policies=[
                iam.Policy(
                    PolicyName="read-database-secret",
                    PolicyDocument=_read_secret_document(inputs),
                )
            ],
            Tags=b.tags("rds-proxy"),
        )
    )
    group = b.input(
        "ProxySecurityGroupId",
        "security.ProxySecurityGroupId",
        "Security group of the RDS Proxy",
        type="AWS::EC2::SecurityGroup::Id",
    )
    proxy = b.add(
        rds.DBProxy(
            "DatabaseProxy",
            DBProxyName=b.named("rds-proxy"),
            EngineFamily=PROXY_ENGINE_FAMILY[db.engine],
            Auth=[
                rds.AuthFormat(
                    AuthScheme="SECRETS",
                    SecretArn=inputs.secret_arn,
                    IAMAuth="DISABLED",
                    Description="master credentials from the RDS-managed secret"
                    if inputs.managed
                    else "master credentials from the security layer's secret",
                )
            ],
            RoleArn=GetAtt(role, "Arn"),
            RequireTLS=True,
            IdleClientTimeout=1800,
            VpcSubnetIds=Ref(inputs.subnets),
            VpcSecurityGroupIds=[Ref(group)],
            Tags=b.tags("rds-proxy"),
        )
    )
    b.add(
        rds.DBProxyTargetGroup(
            "DatabaseProxyTargetGroup",
            **({"DependsOn": [member.title for member in members]} if members else {}),
            DBProxyName=Ref(proxy),
            TargetGroupName="default",
            **(
                {"DBClusterIdentifiers": [Ref(database)]}
                if db.is_aurora
                else {"DBInstanceIdentifiers": [Ref(database)]}
            ),
            ConnectionPoolConfigurationInfo=rds.ConnectionPoolConfigurationInfoFormat(
                MaxConnectionsPercent=90, MaxIdleConnectionsPercent=50, ConnectionBorrowTimeout=120
            ),
        )
    )
    return proxy


def _database(b: LayerBuilder, kms_key) -> None:
    db = b.cfg.database
    inputs = _DatabaseInputs(b, kms_key)
    if db.is_aurora:
        cluster, members = _aurora(b, inputs)
        target_type = "AWS::RDS::DBCluster"
        database, replicas = cluster, []
        b.output(
            "DatabaseReaderEndpoint",
            GetAtt(cluster, "ReadEndpoint.Address"),
            "Aurora reader endpoint (read-only traffic)",
            root=True,
        )
        b.output("DatabaseIdentifier", Ref(cluster), "Aurora cluster identifier")
    else:
        database, replicas = _rds(b, inputs)
        members = []
        target_type = "AWS::RDS::DBInstance"
        b.output("DatabaseIdentifier", Ref(database), "RDS instance identifier")
        if replicas:
            b.output(
                "DatabaseReaderEndpoint",
                GetAtt(replicas[0], "Endpoint.Address"),
                "Endpoint of the first read replica (read-only traffic)",
                root=True,
            )
            b.output(
                "ReadReplicaIdentifiers",
                Join(",", [Ref(replica) for replica in replicas]),
                "Read replica instance identifiers, comma-separated",
            )
    b.output("DatabaseEndpoint", GetAtt(database, "Endpoint.Address"), "Database writer endpoint", root=True)
    b.output("DatabasePort", GetAtt(database, "Endpoint.Port"), "Database port")
    if inputs.managed:
        # RDS owns this secret (rds!db-... / rds!cluster-...): it holds username and password only,
        # and only RDS may change it, so nothing is attached; host and port are the outputs above.
        inputs.secret_arn = GetAtt(database, "MasterUserSecret.SecretArn")
        b.output(
            "DatabaseSecretArn",
            inputs.secret_arn,
            "ARN of the database secret (RDS-managed, rotated every 7 days)",
            root=True,
        )
        _grant_managed_secret(b, inputs)
    else:
        # Completes the secret with engine, host, port and database name for the applications.
        b.add(
            secretsmanager.SecretTargetAttachment(
                "DatabaseSecretAttachment", SecretId=Ref(inputs.secret), TargetId=Ref(database), TargetType=target_type
            )
        )
    if db.proxy:
        proxy = _proxy(b, inputs, database, members)
        b.output(
            "ProxyEndpoint",
            GetAtt(proxy, "Endpoint"),
            "RDS Proxy endpoint: connect the services here for pooled connections",
            root=True,
        )


# ------------------------------------------------------------------ cache


def _cache(b: LayerBuilder, kms_key) -> None:
    cfg, cache = b.cfg, b.cfg.cache
    subnets = _data_subnets(b)
    group = b.input(
        "CacheSecurityGroupId",
        "security.CacheSecurityGroupId",
        "Security group of the Redis cache",
        type="AWS::EC2::SecurityGroup::Id",
    )
    node_type = b.knob(
        "CacheNodeType",
        "Cache",
        "Cache node type",
        "ElastiCache node type of every Redis node",
        cache.node_type,
        key="cache.node_type",
        AllowedPattern=r"^cache\.[a-z0-9]+\.[a-z0-9]+$",
        ConstraintDescription="an ElastiCache node type such as cache.t3.micro",
    )
    subnet_group = b.add(
        elasticache.SubnetGroup(
            "CacheSubnetGroup",
            CacheSubnetGroupName=b.named("cache-subnets"),
            Description=f"Data subnets of the {cfg.application} Redis cache",
            SubnetIds=Ref(subnets),
            Tags=b.tags("cache-subnets"),
        )
    )
    failover = cfg.cache.automatic_failover
    snapshots = {"SnapshotRetentionLimit": cache.snapshot_retention_days}
    if cache.snapshot_retention_days:
        snapshots["SnapshotWindow"] = cache.snapshot_window
    replication_group = b.add(
        elasticache.ReplicationGroup(
            "CacheReplicationGroup",
            ReplicationGroupId=b.named("cache"),
            ReplicationGroupDescription=f"Redis of {cfg.application} {cfg.environment.name}: primary and "
            f"{cache.replicas} replica(s), cluster mode disabled",
            Engine="redis",
            EngineVersion=cache.engine_version,
            CacheNodeType=Ref(node_type),
            ClusterMode="disabled",
            NumCacheClusters=1 + cache.replicas,
            AutomaticFailoverEnabled=failover,
            MultiAZEnabled=failover,
            Port=CACHE_PORT,
            AtRestEncryptionEnabled=True,
            TransitEncryptionEnabled=True,
            KmsKeyId=Ref(kms_key),
            AutoMinorVersionUpgrade=True,
            CacheSubnetGroupName=Ref(subnet_group),
            SecurityGroupIds=[Ref(group)],
            Tags=b.tags("cache"),
            **snapshots,
        )
    )
    b.skip_check(
        replication_group,
        "CKV_AWS_31",
        "no Redis AUTH token: only the services' security groups reach port 6379, and traffic is TLS-encrypted; a "
        "token would need a secret the security layer does not create",
    )
    b.output(
        "CacheEndpoint", GetAtt(replication_group, "PrimaryEndPoint.Address"), "Redis primary endpoint (TLS)", root=True
    )
    b.output("CachePort", GetAtt(replication_group, "PrimaryEndPoint.Port"), "Redis port")
    b.output("CacheReplicationGroupId", Ref(replication_group), "ElastiCache replication group id")
    if cache.replicas:
        b.output(
            "CacheReaderEndpoint",
            GetAtt(replication_group, "ReaderEndPoint.Address"),
            "Redis reader endpoint (spreads reads over the replicas)",
        )


# ------------------------------------------------------------------ file system


def efs_services(cfg: AppConfig) -> list[str]:
    """The services that mount the file system."""
    return [name for name, svc in cfg.services.items() if svc.efs_mount_path]


def _file_system(b: LayerBuilder, kms_key) -> None:
    cfg = b.cfg
    subnets = b.input(
        "PrivateSubnetIds",
        "network.PrivateSubnetIds",
        "Private subnets, one per AZ, that get a mount target",
        type="List<AWS::EC2::Subnet::Id>",
    )
    group = b.input(
        "EfsSecurityGroupId",
        "security.EfsSecurityGroupId",
        "Security group of the EFS mount targets",
        type="AWS::EC2::SecurityGroup::Id",
    )
    file_system = b.add(
        efs.FileSystem(
            "FileSystem",
            Encrypted=True,
            KmsKeyId=Ref(kms_key),
            PerformanceMode=cfg.efs.performance_mode,
            ThroughputMode=cfg.efs.throughput_mode,
            BackupPolicy=efs.BackupPolicy(Status="ENABLED" if cfg.efs.backup else "DISABLED"),
            # Clients mount with TLS (the task definitions set TransitEncryption) or not at all.
            FileSystemPolicy={
                "Version": "2012-10-17",
                "Statement": [
                    {
                        "Sid": "DenyUnencryptedTransport",
                        "Effect": "Deny",
                        "Principal": {"AWS": "*"},
                        "Action": "*",
                        "Condition": {"Bool": {"aws:SecureTransport": "false"}},
                    }
                ],
            },
            FileSystemTags=b.tags("efs"),
        )
    )
    for index in range(cfg.network.az_count):
        b.add(
            efs.MountTarget(
                f"FileSystemMountTarget{index + 1}",
                FileSystemId=Ref(file_system),
                SubnetId=Select(index, Ref(subnets)),
                SecurityGroups=[Ref(group)],
            )
        )
    b.output("FileSystemId", Ref(file_system), "EFS file system id")
    for svc_name in efs_services(cfg):
        access_point = b.add(
            efs.AccessPoint(
                logical_id("service", svc_name, "AccessPoint"),
                FileSystemId=Ref(file_system),
                PosixUser=efs.PosixUser(Uid=EFS_POSIX_ID, Gid=EFS_POSIX_ID),
                RootDirectory=efs.RootDirectory(
                    Path=f"/{svc_name}",
                    CreationInfo=efs.CreationInfo(
                        OwnerUid=EFS_POSIX_ID, OwnerGid=EFS_POSIX_ID, Permissions=EFS_ROOT_PERMISSIONS
                    ),
                ),
                AccessPointTags=b.tags("efs-ap", svc_name),
            )
        )
        b.output(
            logical_id("service", svc_name, "AccessPointId"),
            Ref(access_point),
            f"EFS access point of service {svc_name} (its own directory, uid {EFS_POSIX_ID})",
        )


def build(cfg: AppConfig) -> Layer | None:
    if cfg.database is None and cfg.cache is None and cfg.efs is None:
        return None
    b = LayerBuilder(cfg, "data", "databases, cache and file system")
    kms_key = b.input("KmsKeyArn", "security.KmsKeyArn", "KMS key that encrypts the data stores")
    if cfg.database:
        _database(b, kms_key)
    if cfg.cache:
        _cache(b, kms_key)
    if cfg.efs:
        _file_system(b, kms_key)
    return b.build()

"""E9007: databases and caches are encrypted and not publicly accessible."""

from __future__ import annotations

from cfnlint.rules import CloudFormationLintRule, RuleMatch

from templates.rules._policy import always, branches, is_false, is_true, present, properties, source_url

# A DB instance with any of these takes its encryption from its source (replica, snapshot) or its cluster.
INHERITS_INSTANCE_ENCRYPTION = (
    "SourceDBInstanceIdentifier",
    "SourceDBInstanceAutomatedBackupsArn",
    "DBSnapshotIdentifier",
    "DBClusterIdentifier",
    "SourceDBClusterIdentifier",
)
INHERITS_CLUSTER_ENCRYPTION = ("SnapshotIdentifier", "SourceDBClusterIdentifier")


class DataEncryption(CloudFormationLintRule):
    id = "E9007"
    shortdesc = "Databases and caches are encrypted and private"
    description = (
        "AWS::RDS::DBInstance sets StorageEncrypted true (unless it is a read replica, restored from a snapshot or a "
        "cluster member, which inherit encryption) and PubliclyAccessible false explicitly; AWS::RDS::DBCluster sets "
        "StorageEncrypted true (unless restored or cloned) and never PubliclyAccessible true; "
        "AWS::ElastiCache::ReplicationGroup sets AtRestEncryptionEnabled and TransitEncryptionEnabled true and no "
        "TransitEncryptionMode preferred (which still accepts plaintext)."
    )
    source_url = source_url("E9007")
    tags = ["cfn-strata", "resources", "rds", "elasticache", "encryption"]

    def match(self, cfn):
        matches = []

        def require_true(name, kind, props, key):
            if not always(props.get(key), is_true):
                matches.append(RuleMatch(["Resources", name, "Properties"], f"{name} ({kind}) must set {key} true"))

        for name, resource in cfn.get_resources(["AWS::RDS::DBInstance"]).items():
            props = properties(resource)
            if not any(present(props.get(key)) for key in INHERITS_INSTANCE_ENCRYPTION):
                require_true(name, "AWS::RDS::DBInstance", props, "StorageEncrypted")
            if not always(props.get("PubliclyAccessible"), is_false):
                matches.append(
                    RuleMatch(
                        ["Resources", name, "Properties"],
                        f"{name} (AWS::RDS::DBInstance) must set PubliclyAccessible false",
                    )
                )
        for name, resource in cfn.get_resources(["AWS::RDS::DBCluster"]).items():
            props = properties(resource)
            if not any(present(props.get(key)) for key in INHERITS_CLUSTER_ENCRYPTION):
                require_true(name, "AWS::RDS::DBCluster", props, "StorageEncrypted")
            if any(is_true(v) for v in branches(props.get("PubliclyAccessible"))):
                matches.append(
                    RuleMatch(
                        ["Resources", name, "Properties", "PubliclyAccessible"],
                        f"{name} (AWS::RDS::DBCluster) must not be PubliclyAccessible",
                    )
                )
        for name, resource in cfn.get_resources(["AWS::ElastiCache::ReplicationGroup"]).items():
            props = properties(resource)
            require_true(name, "AWS::ElastiCache::ReplicationGroup", props, "AtRestEncryptionEnabled")
            require_true(name, "AWS::ElastiCache::ReplicationGroup", props, "TransitEncryptionEnabled")
            if any(v == "preferred" for v in branches(props.get("TransitEncryptionMode"))):
                matches.append(
                    RuleMatch(
                        ["Resources", name, "Properties", "TransitEncryptionMode"],
                        f"{name} (AWS::ElastiCache::ReplicationGroup) TransitEncryptionMode preferred still "
                        "accepts plaintext; use required",
                    )
                )
        return matches

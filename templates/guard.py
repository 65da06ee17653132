"""Exceptions to the AWS Guard Rules Registry rules that tests/test_guard.py runs, declared on the
resources themselves: the registry's rules skip a resource whose Metadata.guard.SuppressedRules
names them, and Metadata.guard.Reasons says why, beside it (README, "Security").

Two sources: a checkov skip (LayerBuilder.skip_check) whose check a registry rule repeats carries
the same reason to Guard (CHECKOV_TWINS), and the exceptions below, which follow from what a
resource is (EXCEPTIONS: type, a predicate on the resource and the template, rule, reason)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

# checkov check -> the registry rule that asks the same thing.
CHECKOV_TWINS = {
    "CKV_AWS_2": ("ELBV2_LISTENER_PROTOCOL_RULE",),
    "CKV_AWS_103": ("ELBV2_LISTENER_SSL_POLICY_RULE",),
    "CKV_AWS_16": ("RDS_STORAGE_ENCRYPTED",),
    "CKV_AWS_18": ("S3_BUCKET_LOGGING_ENABLED",),
    "CKV_AWS_174": ("CLOUDFRONT_MINIMUM_PROTOCOL_VERSION_RULE",),
}

INLINE_POLICY = (
    "an inline policy lives and dies with its one role and names only that role's own resources (E9006, E9014); "
    "moving the generator's roles to customer-managed policies is open work (issue 15)"
)
NO_ROTATION = (
    "no rotation schedule yet: rotating needs a rotation function with network access to the database (the hosted "
    "rotation Lambda of the AWS::SecretsManager transform), which the generator does not build; the value "
    "is generated, "
    "KMS-encrypted and read only by the roles that need it"
)
AURORA_MEMBER = (
    "an Aurora instance takes storage encryption and log exports from its cluster (StorageEncrypted, "
    "EnableCloudwatchLogsExports on AWS::RDS::DBCluster); the instance accepts neither"
)
CLUSTER_PARAMETER_GROUP = (
    "a parameter group stores no data; the registry rule's type pattern /AWS::RDS::DBCluster/ also matches "
    "AWS::RDS::DBClusterParameterGroup, while the cluster itself is encrypted"
)


CERTIFICATE_PARAMETER = (
    "the certificate is the CertificateArn parameter (edge.alb.certificate_arn), whose AllowedPattern admits only an "
    "ACM certificate ARN; the registry rule accepts only a literal ARN or a Ref to a certificate of the same template"
)


def _certificate_parameter(resource: Any, template: Any) -> bool:
    import json

    from troposphere import encode_to_dict

    certificates = resource.properties.get("Certificates")
    return certificates is not None and '"Ref": "CertificateArn"' in json.dumps(encode_to_dict(certificates))


def _has_rotation(resource: Any, template: Any) -> bool:
    from troposphere import Ref

    for other in template.resources.values():
        if other.resource_type == "AWS::SecretsManager::RotationSchedule":
            secret = other.properties.get("SecretId")
            if isinstance(secret, Ref) and secret.data.get("Ref") == resource.title:
                return True
    return False


EXCEPTIONS: list[tuple[str, Callable[[Any, Any], bool], str, str]] = [
    ("AWS::IAM::Role", lambda r, t: bool(r.properties.get("Policies")), "IAM_NO_INLINE_POLICY_CHECK", INLINE_POLICY),
    (
        "AWS::SecretsManager::Secret",
        lambda r, t: not _has_rotation(r, t),
        "SECRETSMANAGER_ROTATION_ENABLED_CHECK",
        NO_ROTATION,
    ),
    (
        "AWS::RDS::DBInstance",
        lambda r, t: "DBClusterIdentifier" in r.properties,
        "RDS_STORAGE_ENCRYPTED",
        AURORA_MEMBER,
    ),
    (
        "AWS::RDS::DBInstance",
        lambda r, t: "DBClusterIdentifier" in r.properties,
        "RDS_INSTANCE_LOGGING_ENABLED",
        AURORA_MEMBER,
    ),
    (
        "AWS::ElasticLoadBalancingV2::Listener",
        _certificate_parameter,
        "ELBV2_ACM_CERTIFICATE_REQUIRED",
        CERTIFICATE_PARAMETER,
    ),
    ("AWS::RDS::DBClusterParameterGroup", lambda r, t: True, "RDS_STORAGE_ENCRYPTED", CLUSTER_PARAMETER_GROUP),
]


def suppress(resource: Any, rule: str, reason: str) -> None:
    """Metadata.guard: SuppressedRules (what the registry's rules read) and Reasons, sorted."""
    metadata = dict(getattr(resource, "Metadata", None) or {})
    reasons = {**metadata.get("guard", {}).get("Reasons", {}), rule: reason}
    metadata["guard"] = {"SuppressedRules": sorted(reasons), "Reasons": dict(sorted(reasons.items()))}
    resource.Metadata = metadata


def declare_exceptions(template: Any) -> None:
    for resource in template.resources.values():
        for kind, applies, rule, reason in EXCEPTIONS:
            if resource.resource_type == kind and applies(resource, template):
                suppress(resource, rule, reason)

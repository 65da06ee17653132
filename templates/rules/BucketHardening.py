"""E9003: every S3 bucket is encrypted, blocks public access and denies requests without TLS."""

from __future__ import annotations

from cfnlint.rules import CloudFormationLintRule, RuleMatch

from templates.rules._policy import (
    always,
    branches,
    is_false,
    is_true,
    items,
    present,
    properties,
    source_url,
    statements,
    strings,
    target,
)

PUBLIC_ACCESS_FLAGS = ("BlockPublicAcls", "BlockPublicPolicy", "IgnorePublicAcls", "RestrictPublicBuckets")


def _denies_insecure_transport(document) -> bool:
    for _, statement in statements(document):
        if statement.get("Effect") != "Deny":
            continue
        for condition in branches(statement.get("Condition")):
            if not isinstance(condition, dict):
                continue
            values = condition.get("Bool", {})
            value = values.get("aws:SecureTransport") if isinstance(values, dict) else None
            if value is not None and all(is_false(v) for _, v in items(value)):
                return True
    return False


def _names_bucket(value, logical_id: str, names: set[str]) -> bool:
    """A policy's Bucket is this bucket: Ref to it, or its literal BucketName."""
    return target(value) == logical_id or (isinstance(value, str) and value in names)


class BucketHardening(CloudFormationLintRule):
    id = "E9003"
    shortdesc = "S3 buckets are encrypted, block public access and require TLS"
    description = (
        "Every AWS::S3::Bucket has BucketEncryption with a ServerSideEncryptionConfiguration, a "
        "PublicAccessBlockConfiguration with all four flags true, and an AWS::S3::BucketPolicy in the same template "
        "whose Deny statement has the condition Bool aws:SecureTransport false."
    )
    source_url = source_url("E9003")
    tags = ["cfn-strata", "resources", "s3", "encryption"]

    def match(self, cfn):
        matches = []
        policies = list(cfn.get_resources(["AWS::S3::BucketPolicy"]).values())
        for name, bucket in cfn.get_resources(["AWS::S3::Bucket"]).items():
            props = properties(bucket)
            encryption = props.get("BucketEncryption")
            if not always(
                encryption, lambda v: isinstance(v, dict) and present(v.get("ServerSideEncryptionConfiguration"))
            ):
                matches.append(
                    RuleMatch(["Resources", name, "Properties"], f"{name} (AWS::S3::Bucket) has no BucketEncryption")
                )
            block = props.get("PublicAccessBlockConfiguration")
            missing = [
                flag
                for flag in PUBLIC_ACCESS_FLAGS
                if not always(block, lambda v, flag=flag: isinstance(v, dict) and always(v.get(flag), is_true))
            ]
            if missing:
                matches.append(
                    RuleMatch(
                        ["Resources", name, "Properties"],
                        f"{name} (AWS::S3::Bucket) does not block public access: {', '.join(missing)} not true",
                    )
                )
            names = set(strings(props.get("BucketName")))
            own = [p for p in policies if _names_bucket(properties(p).get("Bucket"), name, names)]
            if not any(_denies_insecure_transport(properties(p).get("PolicyDocument")) for p in own):
                matches.append(
                    RuleMatch(
                        ["Resources", name],
                        f"{name} (AWS::S3::Bucket) has no bucket policy in this template denying "
                        "aws:SecureTransport false",
                    )
                )
        return matches

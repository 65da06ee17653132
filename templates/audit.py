"""audit layer (seed 003: "Audit Logging: CloudTrail for API access logging"): a CloudTrail trail
with log file validation, delivering to a private, versioned bucket of its own, the log files
encrypted with a KMS key of this layer.

The bucket and key policies are the ones the CloudTrail User Guide gives, each grant to
cloudtrail.amazonaws.com scoped with aws:SourceArn to this trail:
- "Amazon S3 bucket policy for CloudTrail"
  https://docs.aws.amazon.com/awscloudtrail/latest/userguide/create-s3-bucket-policy-for-cloudtrail.html
- "Configure AWS KMS key policies for CloudTrail"
  https://docs.aws.amazon.com/awscloudtrail/latest/userguide/create-kms-key-policy-for-cloudtrail.html
A trail whose bucket policy is missing or wrong fails to create (InsufficientS3BucketPolicy), so
the trail depends on the policy.

Multi-region (audit.multi_region, default on): the application writes outside its region (the
backup copy region, IAM and other global services), and a multi-region trail records every
region's calls in one place; its SourceArn names the home region.
"""

from __future__ import annotations

from awacs import kms as awacs_kms
from awacs import s3 as awacs_s3
from awacs.aws import Allow, Condition, PolicyDocument, Principal, Statement, StringEquals, StringLike
from troposphere import AccountId, GetAtt, Join, Ref, Sub, cloudtrail, kms, s3

from templates.common import Layer, LayerBuilder, account_administers_key, lifecycle_rule
from templates.config import AppConfig

CLOUDTRAIL = "cloudtrail.amazonaws.com"


def trail_arn(b: LayerBuilder) -> Sub:
    """The trail's ARN, known before it exists (its name is fixed): the aws:SourceArn of the grants."""
    return Sub(f"arn:${{AWS::Partition}}:cloudtrail:${{AWS::Region}}:${{AWS::AccountId}}:trail/{b.named('trail')}")


def _key(b: LayerBuilder) -> kms.Key:
    source = Condition(StringEquals("aws:SourceArn", trail_arn(b)))
    return b.add(
        kms.Key(
            "TrailKey",
            Description=f"Encrypts the CloudTrail log files of {b.cfg.application} {b.cfg.environment.name}",
            EnableKeyRotation=True,
            KeyPolicy=PolicyDocument(
                Version="2012-10-17",
                Statement=[
                    account_administers_key(),
                    Statement(
                        Sid="CloudTrailEncryptsLogs",
                        Effect=Allow,
                        Principal=Principal("Service", CLOUDTRAIL),
                        Action=[awacs_kms.Action("GenerateDataKey*")],
                        Resource=["*"],
                        Condition=Condition(
                            [
                                StringEquals("aws:SourceArn", trail_arn(b)),
                                StringLike(
                                    "kms:EncryptionContext:aws:cloudtrail:arn",
                                    Sub("arn:${AWS::Partition}:cloudtrail:*:${AWS::AccountId}:trail/*"),
                                ),
                            ]
                        ),
                    ),
                    Statement(
                        Sid="CloudTrailDescribesKey",
                        Effect=Allow,
                        Principal=Principal("Service", CLOUDTRAIL),
                        Action=[awacs_kms.DescribeKey],
                        Resource=["*"],
                        Condition=source,
                    ),
                ],
            ),
            Tags=b.tags("kms", "trail"),
        )
    )


def _bucket(b: LayerBuilder) -> s3.Bucket:
    days = b.cfg.audit.log_retention_days
    # The log files are SSE-KMS with the trail key (KMSKeyId on the trail); the bucket's default
    # encryption covers anything else written to it.
    rules = [
        lifecycle_rule("expire-trail-logs", days),
        lifecycle_rule("expire-old-versions", days),
        lifecycle_rule("abort-incomplete-uploads", 7),
    ]
    bucket = b.add(b.private_bucket("TrailBucket", "trail", rules))
    b.skip_check(
        bucket,
        "CKV_AWS_18",
        "the audit bucket receives CloudTrail's own record of its object-level access; server access logs would "
        "need a second bucket with the same skip",
    )
    return bucket


def _bucket_policy(b: LayerBuilder, bucket: s3.Bucket):
    source = StringEquals("aws:SourceArn", trail_arn(b))
    # One StringEquals with both keys (both must hold): two StringEquals in a Condition list
    # would collapse into one block and drop the first.
    acl_and_source = StringEquals({"s3:x-amz-acl": "bucket-owner-full-control", "aws:SourceArn": trail_arn(b)})
    return b.tls_only_bucket_policy(
        bucket,
        Statement(
            Sid="CloudTrailAclCheck",
            Effect=Allow,
            Principal=Principal("Service", CLOUDTRAIL),
            Action=[awacs_s3.GetBucketAcl],
            Resource=[GetAtt(bucket, "Arn")],
            Condition=Condition(source),
        ),
        Statement(
            Sid="CloudTrailWrite",
            Effect=Allow,
            Principal=Principal("Service", CLOUDTRAIL),
            Action=[awacs_s3.PutObject],
            Resource=[Join("", [GetAtt(bucket, "Arn"), "/AWSLogs/", AccountId, "/*"])],
            Condition=Condition(acl_and_source),
        ),
    )


def build(cfg: AppConfig) -> Layer | None:
    if not cfg.audit.cloudtrail:
        return None
    b = LayerBuilder(cfg, "audit", "CloudTrail trail, its encrypted, versioned bucket and KMS key")
    key = _key(b)
    bucket = _bucket(b)
    policy = _bucket_policy(b, bucket)
    trail = b.add(
        cloudtrail.Trail(
            "Trail",
            DependsOn=[policy.title],
            TrailName=b.named("trail"),
            S3BucketName=Ref(bucket),
            KMSKeyId=GetAtt(key, "Arn"),
            IsLogging=True,
            EnableLogFileValidation=True,
            IsMultiRegionTrail=cfg.audit.multi_region,
            IncludeGlobalServiceEvents=True,
            Tags=b.tags("trail"),
        )
    )
    b.output("TrailArn", GetAtt(trail, "Arn"), "CloudTrail trail (API audit log)", root=True)
    b.output("TrailBucketName", Ref(bucket), "Bucket holding the CloudTrail log files")
    return b.build()

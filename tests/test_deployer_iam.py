"""The README's IAM policy for the deployer lists every AWS action deployer/ calls, and no other."""

from __future__ import annotations

import json
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
S3_ACTIONS = {
    "head_object": "GetObject",
    "put_bucket_encryption": "PutEncryptionConfiguration",
    "put_bucket_lifecycle_configuration": "PutLifecycleConfiguration",
    "put_public_access_block": "PutBucketPublicAccessBlock",
}
WAITERS = {
    "change_set_create_complete": "cloudformation:DescribeChangeSet",
    "stack_delete_complete": "cloudformation:DescribeStacks",
}
# Client variable -> IAM service prefix, and the methods whose action name is not plain CamelCase.
SERVICES = {"cfn": "cloudformation", "s3": "s3", "ecr": "ecr", "rds": "rds", "elbv2": "elasticloadbalancing"}
ACTIONS = {**S3_ACTIONS, "modify_db_instance": "ModifyDBInstance", "modify_db_cluster": "ModifyDBCluster"}


def camel(name: str) -> str:
    return "".join(part.title() for part in name.split("_"))


def called_actions() -> set[str]:
    actions = set()
    for source in (ROOT / "deployer").glob("*.py"):
        text = source.read_text()
        for client, method in re.findall(r"\b(cfn|s3|ecr|rds|elbv2)\.([a-z_]+)\(", text):
            # generate_presigned_url signs locally (no call); whoever opens the URL needs s3:GetObject
            if method in ("get_paginator", "get_waiter", "meta", "generate_presigned_url"):
                continue
            actions.add(f"{SERVICES[client]}:{ACTIONS.get(method, camel(method))}")
        actions |= {f"cloudformation:{camel(m)}" for m in re.findall(r'get_paginator\("([a-z_]+)"\)', text)}
        actions |= {WAITERS[m] for m in re.findall(r'get_waiter\("([a-z_]+)"\)', text)}
        actions |= {f"cloudformation:{op}" for op in re.findall(r'"operation": "([A-Za-z]+)"', text)}
    return actions


def readme_policy_actions() -> set[str]:
    readme = (ROOT / "README.md").read_text()
    section = readme.split("### IAM permissions the deployer needs", 1)[1]
    policy = json.loads(section.split("```json\n", 1)[1].split("```", 1)[0])
    return {action for statement in policy["Statement"] for action in statement["Action"]}


def test_the_readme_policy_is_exactly_what_the_deployer_calls():
    called = called_actions()
    assert {
        "cloudformation:ListImports",
        "cloudformation:DetectStackDrift",
        "s3:PutObject",
        "cloudformation:DescribeStackEvents",
        "ecr:DescribeImages",
    } <= called
    # destroy --release-failed-create (deployer/recovery.py)
    assert {
        "rds:ModifyDBInstance",
        "rds:ModifyDBCluster",
        "elasticloadbalancing:ModifyLoadBalancerAttributes",
    } <= called
    # DetectStackDrift needs DetectStackResourceDrift on each resource it checks; without
    # s3:ListBucket, S3 answers HEAD of a missing key with 403 instead of 404
    assert readme_policy_actions() == called | {"cloudformation:DetectStackResourceDrift", "s3:ListBucket"}

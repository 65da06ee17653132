"""Every service role's trust policy, in every generated template: the service may assume it, and
it carries the aws:SourceAccount condition exactly where the service documents sending that key
(templates.common.SENDS_SOURCE_ACCOUNT); elsewhere a condition would deny every assumption."""

from __future__ import annotations

import json

from templates.common import SENDS_SOURCE_ACCOUNT
from tests.conftest import ALL_TARGETS, rendered

ACCOUNT_ONLY = {"StringEquals": {"aws:SourceAccount": {"Ref": "AWS::AccountId"}}}


def test_trust_conditions_follow_what_each_service_sends():
    seen: dict[str, int] = {}
    for app, env in ALL_TARGETS:
        for name, body in rendered(app, env).files.items():
            if name == "manifest.json":
                continue
            for logical_id, resource in json.loads(body).get("Resources", {}).items():
                if resource["Type"] != "AWS::IAM::Role":
                    continue
                [statement] = resource["Properties"]["AssumeRolePolicyDocument"]["Statement"]
                service = statement["Principal"]["Service"]
                assert (statement["Effect"], statement["Action"]) == ("Allow", ["sts:AssumeRole"]), (
                    app,
                    env,
                    logical_id,
                )
                assert statement.get("Condition") == (ACCOUNT_ONLY if service in SENDS_SOURCE_ACCOUNT else None), (
                    app,
                    env,
                    logical_id,
                    service,
                )
                seen[service] = seen.get(service, 0) + 1
    # the check saw the roles of every kind the generator emits, with and without the condition
    assert {
        "ecs-tasks.amazonaws.com",
        "vpc-flow-logs.amazonaws.com",
        "monitoring.rds.amazonaws.com",
        "rds.amazonaws.com",
        "codebuild.amazonaws.com",
        "codepipeline.amazonaws.com",
        "cloudformation.amazonaws.com",
        "ec2.amazonaws.com",
        "ecs.amazonaws.com",
        "backup.amazonaws.com",
        "lambda.amazonaws.com",
    } <= set(seen), sorted(seen)
    assert sum(seen.values()) >= 100, seen

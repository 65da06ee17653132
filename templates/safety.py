"""Deploy-safety documents derived from rendered templates: stack policies (per environment and
per layer) and the observability layer's key alarms for rollback triggers. Pure: a template
document in, a dict or list out; the deployer applies them.

A stack policy denies Update:Replace and Update:Delete on every stateful resource of its stack and
allows every other update. CloudFormation does not pass a root stack's policy down to nested
stacks, so each layer gets its own, and the root's guards the nested stacks that hold data.
"""

from __future__ import annotations

from collections.abc import Iterable

from resource_semantics import STATEFUL_TYPES

DENIED_UPDATES = ("Update:Replace", "Update:Delete")
# CloudFormation's limit on a stack policy body.
POLICY_LIMIT = 16_384
# RollbackConfiguration takes at most five triggers.
MAX_ROLLBACK_TRIGGERS = 5
# The alarms that say a deploy broke the service, most telling first (logical id suffix / exact id).
KEY_ALARM_ORDER = (
    "Alb5xxAlarm",
    "Target5xxAlarm",
    "UnhealthyHostsAlarm",
    "RunningTasksAlarm",
    "Api5xxAlarm",
    "CloudFront5xxAlarm",
)


def stateful_resources(document: dict) -> list[str]:
    """Logical ids a stack policy guards: stateful types, plus anything the builder protected
    (`LayerBuilder.protect` always sets UpdateReplacePolicy), sorted."""
    return sorted(
        logical_id
        for logical_id, resource in document.get("Resources", {}).items()
        if resource.get("Type") in STATEFUL_TYPES or "UpdateReplacePolicy" in resource
    )


def stack_policy(guarded: Iterable[str], *, allow: Iterable[str] = ()) -> dict:
    """Allow every update except replacing or deleting the `guarded` logical ids; `allow` takes
    ids out of the deny (what `deploy --allow-replacement` loosens, for one execution)."""
    denied = sorted(set(guarded) - set(allow))
    statements: list[dict] = [{"Effect": "Allow", "Action": "Update:*", "Principal": "*", "Resource": "*"}]
    if denied:
        statements.append(
            {
                "Effect": "Deny",
                "Action": list(DENIED_UPDATES),
                "Principal": "*",
                "Resource": [f"LogicalResourceId/{i}" for i in denied],
            }
        )
    return {"Statement": statements}


def guarded_ids(policy: dict) -> frozenset[str]:
    """The logical ids a policy denies Update:Replace and Update:Delete on (both, explicitly)."""
    out: set[str] = set()
    for statement in policy.get("Statement", []):
        actions = statement.get("Action", [])
        actions = {actions} if isinstance(actions, str) else set(actions)
        if statement.get("Effect") != "Deny" or not set(DENIED_UPDATES) <= actions or "Condition" in statement:
            continue
        resources = statement.get("Resource", [])
        for resource in [resources] if isinstance(resources, str) else resources:
            if resource.startswith("LogicalResourceId/"):
                out.add(resource.removeprefix("LogicalResourceId/"))
    return frozenset(out)


def layer_policies(manifest: dict, documents: dict[str, dict]) -> dict[str, dict]:
    """{layer: stack policy} for every nested layer, and "root" for the root stack, which guards
    the nested stacks holding stateful resources. `documents` maps a template file to its JSON."""
    policies: dict[str, dict] = {}
    holding_data = []
    for stack in manifest["stacks"]:
        if stack.get("scope", "nested") != "nested":
            continue
        guarded = set(stateful_resources(documents[stack["file"]])) | set(stack.get("stateful_resources", []))
        policies[stack["layer"]] = stack_policy(guarded)
        if guarded:
            holding_data.append(stack["logical_id"])
    policies["root"] = stack_policy(holding_data)
    return policies


def _alarm_rank(logical_id: str) -> int | None:
    return next((rank for rank, suffix in enumerate(KEY_ALARM_ORDER) if logical_id.endswith(suffix)), None)


def key_alarms(document: dict) -> list[tuple[str, str]]:
    """[(logical id, alarm name)] of the observability template's key alarms, most telling first,
    at most five (RollbackConfiguration's limit). Alarms whose name is not a literal are skipped."""
    ranked = []
    for logical_id, resource in document.get("Resources", {}).items():
        rank = _alarm_rank(logical_id)
        name = resource.get("Properties", {}).get("AlarmName")
        if resource.get("Type") == "AWS::CloudWatch::Alarm" and rank is not None and isinstance(name, str):
            ranked.append((rank, logical_id, name))
    return [(logical_id, name) for _, logical_id, name in sorted(ranked)[:MAX_ROLLBACK_TRIGGERS]]

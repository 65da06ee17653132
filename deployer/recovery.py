"""Stacks left in a failed state get an explanation and the command that recovers them:
ROLLBACK_COMPLETE (the first create failed: delete and recreate) and UPDATE_ROLLBACK_FAILED
(continue-update-rollback, skipping the resources that failed to roll back, nested ones as
`NestedStackLogicalId.LogicalId`, found from the stack events)."""

from __future__ import annotations

from deployer.execute import Follower

ROLLBACK_COMPLETE = "ROLLBACK_COMPLETE"
UPDATE_ROLLBACK_FAILED = "UPDATE_ROLLBACK_FAILED"
NESTED = "AWS::CloudFormation::Stack"


def _newest_first(cfn, stack_id: str):
    for page in cfn.get_paginator("describe_stack_events").paginate(StackName=stack_id):
        yield from page["StackEvents"]


def _failed_in_last_update(cfn, stack_id: str) -> list[dict]:
    """The resources of one stack whose latest event in its last update is UPDATE_FAILED (the
    rollback could not bring them back). Stops at the stack's own UPDATE_IN_PROGRESS."""
    latest: dict[str, dict] = {}
    for event in _newest_first(cfn, stack_id):
        if event.get("PhysicalResourceId") == stack_id or event.get("StackId") == event.get("PhysicalResourceId"):
            if event["ResourceStatus"] == "UPDATE_IN_PROGRESS":
                break
            continue
        latest.setdefault(event["LogicalResourceId"], event)
    return [e for _, e in sorted(latest.items()) if e["ResourceStatus"] == "UPDATE_FAILED"]


def resources_to_skip(cfn, root_stack_id: str) -> list[str]:
    """The --resources-to-skip of continue-update-rollback on the root: failed resources of the root
    and, through each failed nested stack, of its children as `Parent.LogicalId` (a nested stack
    resource itself cannot be skipped while its stack exists; its failed resources are named)."""
    skip: list[str] = []
    pending = [(root_stack_id, "")]
    while pending:
        stack_id, prefix = pending.pop(0)
        for event in _failed_in_last_update(cfn, stack_id):
            physical = event.get("PhysicalResourceId") or ""
            if event.get("ResourceType") == NESTED and physical:
                pending.append((physical, f"{prefix}{event['LogicalResourceId']}."))
            else:
                skip.append(f"{prefix}{event['LogicalResourceId']}")
    return skip


def first_cause(cfn, root_stack_id: str) -> str:
    """The root cause of the failure (deepest stack, first failure that is not a cascade)."""
    follower = Follower(cfn, root_stack_id)
    known = 0
    while len(follower.depth) > known:  # each poll may discover nested stacks: poll until none is new
        known = len(follower.depth)
        follower.poll()
    cause = follower.root_cause()
    return f"{cause.logical_id} ({cause.resource_type}) {cause.status}: {cause.reason}" if cause else ""


def guidance(cfn, status: str, *, stack_name: str, stack_id: str, destroy_command: str) -> str | None:
    """What happened and the command that recovers the stack, or None when `status` needs none."""
    region = cfn.meta.region_name
    if status == ROLLBACK_COMPLETE:
        cause = first_cause(cfn, stack_id)
        return (f"stack {stack_name} is in ROLLBACK_COMPLETE: its first create failed"
                + (f" ({cause})" if cause else "")
                + " and CloudFormation deleted what it had created. A stack in this state cannot be updated, only deleted: "
                f"run `{destroy_command}` (or `aws cloudformation delete-stack --stack-name {stack_name} --region {region}`), fix the cause, then deploy again")
    if status == UPDATE_ROLLBACK_FAILED:
        skip = resources_to_skip(cfn, stack_id)
        command = f"aws cloudformation continue-update-rollback --stack-name {stack_name} --region {region}"
        if skip:
            command += " --resources-to-skip " + " ".join(skip)
        named = f" ({', '.join(skip)} could not be rolled back)" if skip else ""
        return (f"stack {stack_name} is in UPDATE_ROLLBACK_FAILED: an update failed and its rollback failed too{named}. "
                f"It cannot be updated until the rollback completes. Fix the resources by hand if you can, then run `{command}`"
                + ("; skipped resources are left as they are and no longer match the template (check them, then deploy again)" if skip else "; then deploy again"))
    return None

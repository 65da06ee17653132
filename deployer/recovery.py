"""Stacks left in a failed state get an explanation and the command that recovers them:
ROLLBACK_COMPLETE (the first create failed: delete and recreate), ROLLBACK_FAILED (the first
create failed and its rollback could not delete what it made: in practice databases and load
balancers with deletion protection, which prod templates turn on as a literal) and
UPDATE_ROLLBACK_FAILED (continue-update-rollback, skipping the resources that failed to roll back,
nested ones as `NestedStackLogicalId.LogicalId`, found from the stack events).

For ROLLBACK_FAILED the deployer names exactly the resources whose deletion protection blocked
the rollback AND that this failed create made (a CREATE_COMPLETE event of the same physical id in
the same stack), gives the commands that turn their protection off and delete the stack, and,
when asked explicitly (`cfn-strata destroy --release-failed-create`), runs them."""

from __future__ import annotations

from dataclasses import dataclass

from deployer.events import Follower

ROLLBACK_COMPLETE = "ROLLBACK_COMPLETE"
ROLLBACK_FAILED = "ROLLBACK_FAILED"
UPDATE_ROLLBACK_FAILED = "UPDATE_ROLLBACK_FAILED"
NESTED = "AWS::CloudFormation::Stack"
# Types whose deletion protection makes CloudFormation's delete fail, and the CLI command that
# turns it off (RDS ModifyDBInstance / ModifyDBCluster DeletionProtection, ELBv2
# ModifyLoadBalancerAttributes deletion_protection.enabled).
DELETION_PROTECTED = {
    "AWS::RDS::DBInstance": (
        "aws rds modify-db-instance --db-instance-identifier {id} --no-deletion-protection --apply-immediately "
        "--region {region}"
    ),
    "AWS::RDS::DBCluster": (
        "aws rds modify-db-cluster --db-cluster-identifier {id} --no-deletion-protection --apply-immediately "
        "--region {region}"
    ),
    "AWS::ElasticLoadBalancingV2::LoadBalancer": (
        "aws elbv2 modify-load-balancer-attributes --load-balancer-arn {id} --attributes "
        "Key=deletion_protection.enabled,Value=false --region {region}"
    ),
}


@dataclass(frozen=True)
class Protected:
    """A resource the failed first create made, whose deletion protection blocked the rollback."""

    stack: str  # "DataStack" (nested, by logical id in its parent) or "" for the root
    logical_id: str
    resource_type: str
    physical_id: str

    def command(self, region: str) -> str:
        return DELETION_PROTECTED[self.resource_type].format(id=self.physical_id, region=region)


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


def _all_events(cfn, stack_id: str) -> list[dict]:
    """Every event of one stack, oldest first (a first create's whole history is short)."""
    return list(reversed(list(_newest_first(cfn, stack_id))))


def blocked_by_deletion_protection(cfn, root_stack_id: str) -> list[Protected]:
    """The resources whose delete failed on deletion protection while the first create rolled
    back, in the root and every nested stack, and only those this create made (a CREATE_COMPLETE,
    or CREATE_IN_PROGRESS naming it, of the same physical id in the same stack): a resource whose
    id showed up only in a failure was not made here and is never touched."""
    found: list[Protected] = []
    pending = [(root_stack_id, "")]
    while pending:
        stack_id, label = pending.pop(0)
        created: set[tuple[str, str]] = set()
        failed: dict[str, dict] = {}
        nested: dict[str, str] = {}
        for event in _all_events(cfn, stack_id):
            physical = event.get("PhysicalResourceId") or ""
            if physical == stack_id:
                continue
            logical, kind, status = event["LogicalResourceId"], event.get("ResourceType", ""), event["ResourceStatus"]
            if kind == NESTED and physical:
                nested[logical] = physical
            if status == "CREATE_COMPLETE" or (status == "CREATE_IN_PROGRESS" and physical):
                created.add((logical, physical))  # CloudFormation reported making this physical resource
            elif (
                status == "DELETE_FAILED"
                and kind in DELETION_PROTECTED
                and "protect" in (event.get("ResourceStatusReason") or "").lower()
            ):
                failed[logical] = event
            elif status == "DELETE_COMPLETE":
                failed.pop(logical, None)
        for logical, event in sorted(failed.items()):
            if (logical, event["PhysicalResourceId"]) in created:
                found.append(Protected(label, logical, event["ResourceType"], event["PhysicalResourceId"]))
        pending.extend((physical, logical) for logical, physical in sorted(nested.items()))
    return found


def release_commands(protected: list[Protected], *, stack_name: str, region: str) -> list[str]:
    """Turn off deletion protection on exactly `protected`, then delete the stack."""
    return [p.command(region) for p in protected] + [
        f"aws cloudformation delete-stack --stack-name {stack_name} --region {region}"
    ]


def release_failed_create(clients, cfn, protected: list[Protected], *, stack_id: str, note=lambda s: None) -> None:
    """Run release_commands: `clients(service)` gives the rds / elbv2 client of the stack's region.
    Refuses anything that is not a resource of a failed first create (callers pass
    blocked_by_deletion_protection's answer for a stack in ROLLBACK_FAILED)."""
    for item in protected:
        if item.resource_type == "AWS::RDS::DBInstance":
            rds = clients("rds")
            rds.modify_db_instance(
                DBInstanceIdentifier=item.physical_id, DeletionProtection=False, ApplyImmediately=True
            )
        elif item.resource_type == "AWS::RDS::DBCluster":
            rds = clients("rds")
            rds.modify_db_cluster(DBClusterIdentifier=item.physical_id, DeletionProtection=False, ApplyImmediately=True)
        else:
            elbv2 = clients("elbv2")
            elbv2.modify_load_balancer_attributes(
                LoadBalancerArn=item.physical_id, Attributes=[{"Key": "deletion_protection.enabled", "Value": "false"}]
            )
        note(f"deletion protection off: {item.stack + '.' if item.stack else ''}{item.logical_id} ({item.physical_id})")
    cfn.delete_stack(StackName=stack_id)


def guidance(cfn, status: str, *, stack_name: str, stack_id: str, destroy_command: str) -> str | None:
    """What happened and the command that recovers the stack, or None when `status` needs none."""
    region = cfn.meta.region_name
    if status == ROLLBACK_COMPLETE:
        cause = first_cause(cfn, stack_id)
        return (
            f"stack {stack_name} is in ROLLBACK_COMPLETE: its first create failed"
            + (f" ({cause})" if cause else "")
            + " and CloudFormation deleted what it had created. A stack in this state cannot be updated, only deleted: "
            f"run `{destroy_command}` (or `aws cloudformation delete-stack --stack-name {stack_name} "
            f"--region {region}`), fix the cause, then deploy again"
        )
    if status == ROLLBACK_FAILED:
        cause = first_cause(cfn, stack_id)
        protected = blocked_by_deletion_protection(cfn, stack_id)
        head = (
            f"stack {stack_name} is in ROLLBACK_FAILED: its first create failed"
            + (f" ({cause})" if cause else "")
            + " and the rollback could not delete everything it had made. A stack in this state cannot be "
            "updated, only deleted"
        )
        if not protected:
            return (
                head + f": fix what blocked the delete (see the stack events), then run `{destroy_command}` (or "
                f"`aws cloudformation delete-stack --stack-name {stack_name} --region {region}`) and "
                "deploy again"
            )
        names = ", ".join(f"{p.stack + '.' if p.stack else ''}{p.logical_id} ({p.physical_id})" for p in protected)
        commands = "\n  ".join(release_commands(protected, stack_name=stack_name, region=region))
        return (
            head + f". Deletion protection blocked the delete of {names}, which this failed create made and which "
            "hold no data yet. "
            f"Turn it off on exactly these and delete the stack (or run `{destroy_command} "
            f"--release-failed-create`, which does the same):\n  {commands}\n"
            "then deploy again. (A final snapshot CloudFormation takes of a database on delete keeps a "
            "generated name, so it does not collide with the retry; delete it if you do not want it.)"
        )
    if status == UPDATE_ROLLBACK_FAILED:
        skip = resources_to_skip(cfn, stack_id)
        command = f"aws cloudformation continue-update-rollback --stack-name {stack_name} --region {region}"
        if skip:
            command += " --resources-to-skip " + " ".join(skip)
        named = f" ({', '.join(skip)} could not be rolled back)" if skip else ""
        return (
            f"stack {stack_name} is in UPDATE_ROLLBACK_FAILED: an update failed and its rollback failed too{named}. "
            "It cannot be updated until the rollback completes. Fix the resources by hand if you can, "
            f"then run `{command}`"
            + (
                "; skipped resources are left as they are and no longer match the template (check them, "
                "then deploy again)"
                if skip
                else "; then deploy again"
            )
        )
    return None

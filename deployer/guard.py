"""Deploy safety around an execution: stack policies on the root and every nested stack (set after
create, checked and re-set before every update, loosened for exactly the resources
`--allow-replacement` names and restored whatever the outcome), termination protection on prod
roots, and the observability layer's key alarms as rollback triggers.

CloudFormation does not pass a root stack's policy down to nested stacks and takes no override
policy when a change set executes, so the deployer manages each nested stack's policy itself.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

from botocore.exceptions import ClientError

from deployer.bundle import Bundle
from deployer.errors import DeployerError, is_not_modelled, is_stack_missing
from deployer.review import Review, Risk
from templates.safety import guarded_ids, key_alarms, stack_policy, stateful_resources

ROOT = "root"
MONITORING_MINUTES = 10  # how long CloudFormation watches the rollback triggers after an update


def policy_body(policy: dict) -> str:
    return json.dumps(policy, sort_keys=True, separators=(",", ":"))


def nested_stacks(cfn, stack_name: str) -> dict[str, str]:
    """{logical id: physical stack id} of the stack's AWS::CloudFormation::Stack resources; {} when
    the stack does not exist (yet)."""
    found = {}
    try:
        for page in cfn.get_paginator("list_stack_resources").paginate(StackName=stack_name):
            for summary in page["StackResourceSummaries"]:
                # real AWS gives the nested stack's ARN; the local emulator its name: both address it
                if summary["ResourceType"] == "AWS::CloudFormation::Stack" and summary.get("PhysicalResourceId"):
                    found[summary["LogicalResourceId"]] = summary["PhysicalResourceId"]
    except ClientError as err:
        if is_stack_missing(err):
            return {}
        raise
    return found


def policy_stacks(cfn, bundle: Bundle, root_stack_id: str) -> dict[str, str]:
    """{policy owner: stack id}: "root" and each nested layer by name."""
    return {ROOT: root_stack_id} | {
        bundle.layer_of(logical_id): physical
        for logical_id, physical in sorted(nested_stacks(cfn, root_stack_id).items())
    }


def current_policy(cfn, stack_id: str) -> dict:
    body = cfn.get_stack_policy(StackName=stack_id).get("StackPolicyBody")
    return json.loads(body) if body else {}


def deployed_stateful(cfn, stack_id: str) -> set[str]:
    body = cfn.get_template(StackName=stack_id, TemplateStage="Original")["TemplateBody"]
    return set(stateful_resources(json.loads(body) if isinstance(body, str) else body))


@dataclass
class Guard:
    """The guarded policies in force on each stack before executing (owner -> guarded ids)."""

    stacks: dict[str, str]
    guarded: dict[str, frozenset[str]]
    notes: list[str] = field(default_factory=list)

    def apply(self, cfn, owner: str, *, allow: frozenset[str] = frozenset()) -> None:
        cfn.set_stack_policy(
            StackName=self.stacks[owner], StackPolicyBody=policy_body(stack_policy(self.guarded[owner], allow=allow))
        )


def guard_before_update(cfn, bundle: Bundle, root_stack_id: str) -> Guard:
    """Check every stack's policy before an update; re-set any that does not deny replacing and
    deleting what the new templates and the deployed ones hold (so removing a stateful resource
    is denied too, unless allowed). Says which stacks it had to fix."""
    expected = bundle.policies()
    stacks = policy_stacks(cfn, bundle, root_stack_id)
    guard = Guard(stacks, {})
    for owner, stack_id in stacks.items():
        wanted = guarded_ids(expected.get(owner, {}))
        if owner != ROOT:
            wanted |= deployed_stateful(cfn, stack_id)
        in_force = current_policy(cfn, stack_id)
        guard.guarded[owner] = frozenset(wanted)
        missing = wanted - guarded_ids(in_force)
        if policy_body(in_force) != policy_body(stack_policy(wanted)):
            guard.apply(cfn, owner)
            if missing:
                guard.notes.append(
                    f"stack policy of {owner} did not deny replacing/deleting {', '.join(sorted(missing))}: re-set"
                )
    return guard


def protect_after(cfn, bundle: Bundle, root_stack_id: str) -> None:
    """The policies of the new templates on the root and every nested stack (after a create, or
    after an update, which may have added layers)."""
    expected = bundle.policies()
    for owner, stack_id in policy_stacks(cfn, bundle, root_stack_id).items():
        cfn.set_stack_policy(StackName=stack_id, StackPolicyBody=policy_body(expected.get(owner, stack_policy(()))))


# ------------------------------------------------------------------ --allow-replacement


def policy_owner(change) -> str:
    """Whose stack policy guards this change: the root for a nested stack itself, else its layer."""
    return ROOT if change.resource_type == "AWS::CloudFormation::Stack" else change.layer.split("/")[0]


def allowed_changes(review: Review, allowed: tuple[str, ...]) -> dict[str, frozenset[str]]:
    """{policy owner: logical ids} for the HIGH-risk changes the user named (`LogicalId` or
    `layer/LogicalId`). Refuses when a risky change is not named or a name matches no risky change."""
    risky = review.at_least(Risk.HIGH)
    named = {spec: [c for c in risky if spec in (c.logical_id, f"{c.layer}/{c.logical_id}")] for spec in allowed}
    unknown = sorted(spec for spec, matches in named.items() if not matches)
    if unknown:
        known = ", ".join(f"{c.layer}/{c.logical_id}" for c in risky) or "none"
        raise DeployerError(
            f"--allow-replacement {' '.join(unknown)}: not a replaced or removed stateful resource of change "
            f"set {review.change_set_name} (those are: {known})"
        )
    covered = {id(c) for matches in named.values() for c in matches}
    refused = [c for c in risky if id(c) not in covered]
    if refused:
        names = ", ".join(f"{c.layer}/{c.logical_id} ({c.risk.label})" for c in refused)
        ids = " ".join(f"--allow-replacement {c.logical_id}" for c in refused)
        raise DeployerError(
            f"change set {review.change_set_name} replaces or removes stateful resources: {names}; review it "
            f"and pass {ids} to execute"
        )
    owners: dict[str, set[str]] = {}
    for matches in named.values():
        for c in matches:
            owners.setdefault(policy_owner(c), set()).add(c.logical_id)
    return {owner: frozenset(ids) for owner, ids in sorted(owners.items())}


@contextlib.contextmanager
def loosened(
    cfn, guard: Guard | None, allow: dict[str, frozenset[str]], note: Callable[[str], object]
) -> Iterator[None]:
    """Loosen the affected stacks' policies for exactly `allow` while the body runs; restore the
    guarded policies afterwards whatever happens (failure, Ctrl-C)."""
    if not allow:
        yield
        return
    if guard is None:
        raise DeployerError("replacing resources of a stack that does not exist yet: nothing to allow")
    missing = sorted(set(allow) - set(guard.stacks))
    if missing:
        raise DeployerError(f"no deployed stack for {', '.join(missing)}: cannot loosen its stack policy")
    loosened_owners = []
    try:
        for owner, ids in allow.items():
            guard.apply(cfn, owner, allow=ids)
            loosened_owners.append(owner)
            note(f"stack policy of {owner} loosened for {', '.join(sorted(ids))} for this execution")
        yield
    finally:
        for owner in loosened_owners:
            guard.apply(cfn, owner)
            note(f"stack policy of {owner} restored")


# ------------------------------------------------------------------ termination protection


def protect_termination(cfn, stack_name: str, note: Callable[[str], object]) -> None:
    try:
        cfn.update_termination_protection(StackName=stack_name, EnableTerminationProtection=True)
    except ClientError as err:
        if not is_not_modelled(err):
            raise
        note("termination protection is not modelled by the local emulator: not turned on")


# ------------------------------------------------------------------ rollback triggers


def rollback_configuration(cfn, bundle: Bundle, *, minutes: int = MONITORING_MINUTES) -> dict | None:
    """The observability layer's key alarms that exist in the deployed stack, as rollback
    triggers; None when there is no deployed observability stack (a first create) or no alarm."""
    layer = next((s for s in bundle.nested_stacks if s["layer"] == "observability"), None)
    if layer is None:
        return None
    wanted = key_alarms(bundle.document(layer["file"]))
    physical = nested_stacks(cfn, bundle.stack_name).get(layer["logical_id"])
    if not wanted or physical is None or not physical.startswith("arn:"):
        return None
    deployed = {}
    for page in cfn.get_paginator("list_stack_resources").paginate(StackName=physical):
        for summary in page["StackResourceSummaries"]:
            if summary["ResourceType"] == "AWS::CloudWatch::Alarm" and summary.get("PhysicalResourceId"):
                deployed[summary["LogicalResourceId"]] = summary["PhysicalResourceId"]
    _, partition, _, region, account, *_ = physical.split(":")
    triggers = [
        {
            "Arn": f"arn:{partition}:cloudwatch:{region}:{account}:alarm:{deployed[logical_id]}",
            "Type": "AWS::CloudWatch::Alarm",
        }
        for logical_id, _ in wanted
        if logical_id in deployed
    ]
    return {"RollbackTriggers": triggers, "MonitoringTimeInMinutes": minutes} if triggers else None

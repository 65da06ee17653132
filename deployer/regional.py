"""Stacks the deployer creates on their own in another region, before the root stack: the backup
copy vault in `backup.copy_region` (templates/backup.py, scope `region:<region>`) and the `global`
layer in us-east-1 (templates/edge.py: the CloudFront-scope web ACL and the CloudFront
certificate, which exist only there), which a nested stack of the root cannot create because
they live in another region. The root takes the global stack's outputs as root parameters
(templates/root.py); `global_values` reads them from the deployed global stack.

Each goes through a change set like the root: `plan` creates it and shows its review next to the
root's, `deploy` executes it first and waits, so the root's copy action points at a vault that
exists. The template is small and passed as TemplateBody (no bucket needed in that region)."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime

from botocore.exceptions import ClientError, WaiterError

from deployer.bundle import Bundle
from deployer.changeset import (
    ChangeSetRef,
    NoChanges,
    Waiting,
    change_set_name,
    change_set_type,
    describe_stack,
    is_no_changes,
    root_sha,
)
from deployer.errors import DeployerError, Interrupted, error_message
from deployer.review import Review, review_change_set
from templates.edge import GLOBAL_REGION as EDGE_GLOBAL_REGION

PREFIX = "region:"
GLOBAL = "global"
# CloudFront-scope WAF web ACLs and CloudFront's ACM certificates exist only in us-east-1
# (WAF developer guide, "Regional and global": "for CloudFront, ... US East (N. Virginia)";
# CloudFront developer guide, "Requirements for using SSL/TLS certificates with CloudFront").
GLOBAL_REGION = EDGE_GLOBAL_REGION
# The default waiter settings (one shared instance, as a default argument would be).
_DEFAULT_WAITING = Waiting()


@dataclass(frozen=True)
class RegionalStack:
    layer: str
    region: str
    file: str
    stack_name: str


@dataclass(frozen=True)
class RegionalPlan:
    stack: RegionalStack
    outcome: ChangeSetRef | NoChanges
    review: Review | None


def regional_stacks(bundle: Bundle) -> list[RegionalStack]:
    """The bundle's stacks that live outside the root, in another region, in manifest order."""
    return [
        RegionalStack(
            s["layer"],
            GLOBAL_REGION if s["scope"] == GLOBAL else s["scope"].removeprefix(PREFIX),
            s["file"],
            f"{bundle.stack_name}-{s['layer']}",
        )
        for s in bundle.manifest["stacks"]
        if s.get("scope", "").startswith(PREFIX) or s.get("scope") == GLOBAL
    ]


def global_stack(bundle: Bundle) -> RegionalStack | None:
    return next((s for s in regional_stacks(bundle) if s.layer == GLOBAL), None)


def global_values(aws, bundle: Bundle) -> dict[str, str] | None:
    """{root parameter: value} from the deployed global stack's outputs (describe-stacks in
    us-east-1); {} when the bundle takes nothing from it; None when the stack does not exist yet
    (or its first create never completed), so the root's parameters cannot be known."""
    wanted = bundle.global_inputs
    stack = global_stack(bundle)
    if not wanted or stack is None:
        return {}
    described = describe_stack(aws.in_region(stack.region).client("cloudformation"), stack.stack_name)
    if not described or described["StackStatus"] in (
        "REVIEW_IN_PROGRESS",
        "CREATE_IN_PROGRESS",
        "CREATE_FAILED",
        "ROLLBACK_IN_PROGRESS",
        "ROLLBACK_COMPLETE",
        "ROLLBACK_FAILED",
        "DELETE_IN_PROGRESS",
        "DELETE_COMPLETE",
    ):
        return None
    outputs = {o["OutputKey"]: o["OutputValue"] for o in described.get("Outputs") or []}
    missing = sorted(output for output in wanted.values() if output not in outputs)
    if missing:
        raise DeployerError(
            f"stack {stack.stack_name} ({stack.region}) has no output {', '.join(missing)} (it is "
            f"{described['StackStatus']}): "
            f"the root's parameters {', '.join(p for p, o in wanted.items() if o in missing)} come from it"
        )
    return {parameter: outputs[output] for parameter, output in wanted.items()}


def plan_stack(
    cfn, bundle: Bundle, stack: RegionalStack, *, now: datetime, waiting: Waiting = _DEFAULT_WAITING
) -> RegionalPlan:
    """Create (and wait for) the change set of one regional stack; review it. Never executes."""
    described = describe_stack(cfn, stack.stack_name)
    status = described["StackStatus"] if described else None
    if status in ("ROLLBACK_COMPLETE", "ROLLBACK_FAILED"):
        raise DeployerError(
            f"stack {stack.stack_name} in {stack.region} is in {status} (its first create failed): delete it with "
            f"`aws cloudformation delete-stack --stack-name {stack.stack_name} --region {stack.region}`, then "
            "plan again"
        )
    kind = change_set_type(stack.stack_name, status)
    body = bundle.files[stack.file]
    name = change_set_name(now, root_sha(body))
    try:
        created = cfn.create_change_set(
            StackName=stack.stack_name,
            ChangeSetName=name,
            ChangeSetType=kind,
            TemplateBody=body.decode("utf-8"),
            Tags=[{"Key": k, "Value": v} for k, v in bundle.tags.items()],
            Description=f"cfn-strata {bundle.label}: {stack.layer} in {stack.region}",
            **(
                {"RoleARN": bundle.role_arn} if bundle.role_arn else {}
            ),  # --role-arn: IAM roles are global, the same service role creates it
        )
    except ClientError as err:
        if is_no_changes(error_message(err)):
            return RegionalPlan(stack, NoChanges(stack.stack_name, error_message(err)), None)
        raise
    ref = ChangeSetRef(stack.stack_name, created["StackId"], created["Id"], name, kind)
    try:
        cfn.get_waiter("change_set_create_complete").wait(
            ChangeSetName=ref.change_set_id, WaiterConfig=waiting.config()
        )
    except KeyboardInterrupt:
        raise Interrupted(
            f"stopped waiting; change set {name} is still being created on {stack.stack_name} ({stack.region}) "
            "and nothing was executed"
        ) from None
    except WaiterError as err:
        reason = (err.last_response or {}).get("StatusReason") or str(err)
        if is_no_changes(reason):
            cfn.delete_change_set(ChangeSetName=ref.change_set_id)
            return RegionalPlan(stack, NoChanges(stack.stack_name, reason), None)
        raise DeployerError(f"change set {name} on {stack.stack_name} ({stack.region}) failed: {reason}") from err
    stateful = frozenset(
        next((s.get("stateful_resources", []) for s in bundle.manifest["stacks"] if s["layer"] == stack.layer), [])
    )
    review = review_change_set(
        cfn, ref.change_set_id, layer_of=lambda _: stack.layer, stateful_ids_of=lambda _: stateful
    )
    # The review labels a stack's own resources "root"; here they are the regional layer's.
    review = replace(review, changes=tuple(replace(c, layer=f"{stack.layer} ({stack.region})") for c in review.changes))
    return RegionalPlan(stack, ref, review)


def plan_all(aws, bundle: Bundle, *, now: datetime, waiting: Waiting = _DEFAULT_WAITING) -> list[RegionalPlan]:
    """A change set per regional stack, each with a CloudFormation client of its region."""
    return [
        plan_stack(aws.in_region(stack.region).client("cloudformation"), bundle, stack, now=now, waiting=waiting)
        for stack in regional_stacks(bundle)
    ]


def run_stack(
    cfn, bundle: Bundle, plan: RegionalPlan, *, sleep, delay: float, on_event=lambda e: None, note=lambda s: None
) -> str | None:
    """Execute one regional change set and wait; then guard the stack like the root's layers: a
    stack policy denying replacement and deletion of what holds data, and (prod) termination
    protection. None when there was nothing to change."""
    import json

    from deployer.execute import execute
    from deployer.guard import protect_termination
    from templates.safety import stack_policy, stateful_resources

    if isinstance(plan.outcome, NoChanges):
        return None
    # On update the deployed policy denies replacing or deleting the vault and its key: such an
    # update fails (and rolls back) instead of losing the copies.
    status = execute(cfn, plan.outcome, sleep=sleep, delay=delay, on_event=on_event)
    guarded = stateful_resources(bundle.document(plan.stack.file))
    cfn.set_stack_policy(
        StackName=plan.outcome.stack_id, StackPolicyBody=json.dumps(stack_policy(guarded), sort_keys=True)
    )
    if bundle.is_prod:
        protect_termination(cfn, plan.stack.stack_name, note)
    return status


def run_all(
    aws, bundle: Bundle, plans: list[RegionalPlan], *, sleep, delay: float, on_event=lambda e: None, note=lambda s: None
) -> list[tuple[RegionalPlan, str | None]]:
    """Every regional stack, in order, before the root: a failure stops here, the root untouched."""
    return [
        (
            plan,
            run_stack(
                aws.in_region(plan.stack.region).client("cloudformation"),
                bundle,
                plan,
                sleep=sleep,
                delay=delay,
                on_event=on_event,
                note=note,
            ),
        )
        for plan in plans
    ]

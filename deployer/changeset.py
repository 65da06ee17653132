"""Change sets on the root stack: CREATE or UPDATE from the stack's state, IncludeNestedStacks,
capabilities from the templates, parameters and tags from the params file. "No changes" is a
typed outcome, mapped once here."""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from botocore.exceptions import ClientError, WaiterError

from deployer.bundle import Bundle
from deployer.errors import DeployerError, FlagRefused, Interrupted, error_message, explain, is_stack_missing
from deployer.images import change_set_parameters
from deployer.recovery import guidance
from deployer.upload import UploadResult
from resource_semantics import required_capabilities

NO_CHANGES_MARKERS = ("didn't contain changes", "No updates are to be performed")
BUSY = ("_IN_PROGRESS",)
REVERT_DRIFT = "REVERT_DRIFT"  # CreateChangeSet DeploymentMode: a drift-aware change set


@dataclass(frozen=True)
class ChangeSetRef:
    stack_name: str
    stack_id: str
    change_set_id: str
    name: str
    type: str  # CREATE | UPDATE


@dataclass(frozen=True)
class NoChanges:
    stack_name: str
    reason: str


@dataclass(frozen=True)
class Waiting:
    """How long waiters wait; tests pass delay=0 so nothing sleeps."""

    delay: int = 5
    max_attempts: int = 720

    def config(self) -> dict:
        return {"Delay": self.delay, "MaxAttempts": self.max_attempts}


def is_no_changes(reason: str | None) -> bool:
    return bool(reason) and any(marker in reason for marker in NO_CHANGES_MARKERS)


def describe_stack(cfn, stack_name: str) -> dict | None:
    """The stack's description, None when it does not exist."""
    try:
        stacks = cfn.describe_stacks(StackName=stack_name)["Stacks"]
    except ClientError as err:
        if is_stack_missing(err):
            return None
        raise
    return stacks[0] if stacks else None


def change_set_type(stack_name: str, status: str | None) -> str:
    """CREATE for a new stack or one left in REVIEW_IN_PROGRESS by an abandoned create."""
    if status is None or status == "REVIEW_IN_PROGRESS":
        return "CREATE"
    if status == "ROLLBACK_COMPLETE":
        raise DeployerError(
            f"stack {stack_name} is in ROLLBACK_COMPLETE (its first create failed) and cannot be updated: delete "
            "it with `cfn-strata destroy`, then plan again"
        )
    if status.endswith(BUSY):
        raise DeployerError(f"stack {stack_name} is busy ({status}): wait for it to finish, then plan again")
    return "UPDATE"


def capabilities(bundle: Bundle) -> list[str]:
    """The capabilities the bundle's templates need (resource_semantics.required_capabilities)."""
    return sorted(required_capabilities({file: bundle.document(file) for file in bundle.files}))


def change_set_name(now: datetime, root_sha256: str) -> str:
    """cfn-strata-20250101-120000-1a2b3c4d: readable, sortable, says which root it proposes."""
    return f"cfn-strata-{now:%Y%m%d-%H%M%S}-{root_sha256[:8]}"


def destroy_command(bundle: Bundle) -> str:
    return f"cfn-strata destroy {bundle.cli_target}"


def _refuse_failed_state(cfn, bundle: Bundle, stack: dict) -> None:
    """A stack CloudFormation cannot update: say why and the command that recovers it."""
    message = guidance(
        cfn,
        stack["StackStatus"],
        stack_name=bundle.stack_name,
        stack_id=stack["StackId"],
        destroy_command=destroy_command(bundle),
    )
    if message:
        raise DeployerError(message)


def create_change_set(
    cfn,
    bundle: Bundle,
    upload: UploadResult,
    *,
    now: datetime,
    waiting: Waiting = Waiting(),
    progress: Callable[[str], object] | None = None,
    rollback_configuration: dict | None = None,
    revert_drift: bool = False,
    read_events: bool = True,
) -> ChangeSetRef | NoChanges:
    """`revert_drift`: a drift-aware change set (DeploymentMode REVERT_DRIFT), on an existing
    stack only. `read_events`: on a FAILED change set, read its early-validation errors
    (DescribeEvents; the local emulator does not model it)."""
    stack = describe_stack(cfn, bundle.stack_name)
    status = stack["StackStatus"] if stack else None
    if stack:
        _refuse_failed_state(cfn, bundle, stack)
    kind = change_set_type(bundle.stack_name, status)
    if revert_drift and kind == "CREATE":
        raise FlagRefused(
            f"--revert-drift: stack {bundle.stack_name} does not exist yet, so nothing can have drifted; "
            "a drift-aware change set (REVERT_DRIFT) applies to a deployed stack only: plan without it"
        )
    name = change_set_name(now, upload.root.sha256)
    extra = {"RollbackConfiguration": rollback_configuration} if rollback_configuration and kind == "UPDATE" else {}
    if revert_drift:
        # https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/drift-aware-change-sets.html
        extra["DeploymentMode"] = REVERT_DRIFT
    if bundle.role_arn:
        # --role-arn: CloudFormation assumes it to execute the change set and keeps it for every later
        # operation on the stack; ExecuteChangeSet has no RoleARN (API_CreateChangeSet.html).
        extra["RoleARN"] = bundle.role_arn
    try:
        created = cfn.create_change_set(
            StackName=bundle.stack_name,
            ChangeSetName=name,
            ChangeSetType=kind,
            TemplateURL=upload.root.url,
            IncludeNestedStacks=True,
            Capabilities=capabilities(bundle),
            # unpinned image tags keep the deployed value on an update (deployer/images.py)
            Parameters=change_set_parameters(bundle, stack if kind == "UPDATE" else None),
            Tags=[{"Key": k, "Value": v} for k, v in bundle.tags.items()],
            Description=f"cfn-strata {bundle.label}: root {upload.root.sha256[:12]} ({len(bundle.nested_stacks)} "
            "layers)",
            **extra,
        )
    except ClientError as err:
        if is_no_changes(error_message(err)):
            return NoChanges(bundle.stack_name, error_message(err))
        raise
    ref = ChangeSetRef(bundle.stack_name, created["StackId"], created["Id"], name, kind)
    if progress:
        progress(f"waiting for change set {name}")
    try:
        cfn.get_waiter("change_set_create_complete").wait(
            ChangeSetName=ref.change_set_id, WaiterConfig=waiting.config()
        )
    except KeyboardInterrupt:
        raise Interrupted(
            f"stopped waiting; change set {name} is still being created on {bundle.stack_name} and nothing was "
            "executed. "
            f"Review it with: cfn-strata review {bundle.cli_target} --change-set {name}"
        ) from None
    except WaiterError as err:
        if "Error" in (
            err.last_response or {}
        ):  # DescribeChangeSet itself failed: credentials expired, access denied...
            raise DeployerError(
                f"{explain(err)}; the change set {name} may still be created: review it with `cfn-strata review "
                f"{bundle.cli_target} --change-set {name}`"
            ) from err
        reason = (err.last_response or {}).get("StatusReason") or str(err)
        if is_no_changes(reason):
            cfn.delete_change_set(ChangeSetName=ref.change_set_id)
            return NoChanges(bundle.stack_name, reason)
        raise DeployerError(_failure(cfn, ref, reason, read_events)) from err
    return ref


def _failure(cfn, ref: ChangeSetRef, reason: str, read_events: bool) -> str:
    """The failed change set's status line, with each early-validation error CloudFormation
    reported for it (deployer/checks.py) when the endpoint offers DescribeEvents."""
    from deployer.checks import Validation, failure_message, validation_errors

    validation = (
        validation_errors(cfn, ref.change_set_id)
        if read_events
        else Validation(note="early-validation details are not modelled by the local emulator: not read")
    )
    return failure_message(ref.name, reason, validation)


def root_sha(body: bytes) -> str:
    return hashlib.sha256(body).hexdigest()

"""What CloudFormation checked on a change set, read back for the review:
- early validation: when a change set ends FAILED, DescribeEvents (ChangeSetName, Filters
  FailedEvents) gives its VALIDATION_ERROR events, each with the resource, the property path
  (ValidationPath), the check (ValidationName) and the reason (ValidationStatusReason);
- hooks: ListHookResults (TargetType CHANGE_SET, TargetId the change set's ARN) gives every hook
  invocation on it with its status and message.
Both APIs are recent (botocore 1.40+): an older botocore, an endpoint that answers that it does not
know the action, or the local emulator (which does not model either) leaves the review as it was,
with a note saying what was not read.
API reference: https://docs.aws.amazon.com/AWSCloudFormation/latest/APIReference/API_DescribeEvents.html,
https://docs.aws.amazon.com/AWSCloudFormation/latest/APIReference/API_ListHookResults.html"""

from __future__ import annotations

from dataclasses import dataclass

from botocore.exceptions import ClientError

from deployer.errors import error_code, explain
from deployer.review import HookResult

VALIDATION_ERROR = "VALIDATION_ERROR"
# What an endpoint answers for an action it does not know: AWS's query protocol (InvalidAction),
# other emulators (UnknownOperationException, NotImplemented; local mode's is_not_modelled code).
UNKNOWN_ACTION = frozenset(
    {"InvalidAction", "UnknownOperationException", "UnknownOperation", "NotImplemented", "NotImplementedException"}
)
LOCAL_HOOKS_NOTE = "hook results are not modelled by the local emulator: not read"


def has_operation(cfn, operation: str) -> bool:
    return operation in cfn.meta.service_model.operation_names


def unknown_action(err: ClientError) -> bool:
    return error_code(err) in UNKNOWN_ACTION


@dataclass(frozen=True)
class ValidationError:
    """One VALIDATION_ERROR event of a failed change set."""

    logical_id: str | None
    resource_type: str | None
    path: str | None  # ValidationPath, e.g. /Properties/BucketName
    check: str | None  # ValidationName, e.g. PropertyValidation
    reason: str  # ValidationStatusReason, else ResourceStatusReason
    failure_mode: str | None = None  # FAIL | WARN

    def __str__(self) -> str:
        where = self.logical_id or "the stack"
        if self.resource_type:
            where += f" ({self.resource_type})"
        if self.path:
            where += f" at {self.path}"
        check = f"{self.check}: " if self.check else ""
        return f"{where}: {check}{self.reason}"


@dataclass(frozen=True)
class Validation:
    """The early-validation errors of a change set, or why they could not be read (`note`)."""

    errors: tuple[ValidationError, ...] = ()
    note: str | None = None


def validation_errors(cfn, change_set_id: str) -> Validation:
    """The VALIDATION_ERROR events of a change set (every page of DescribeEvents)."""
    if not has_operation(cfn, "DescribeEvents"):
        return Validation(note="early-validation details not read: this botocore has no DescribeEvents (upgrade boto3)")
    errors = []
    try:
        for page in cfn.get_paginator("describe_events").paginate(
            ChangeSetName=change_set_id, Filters={"FailedEvents": True}
        ):
            for event in page.get("OperationEvents", []):
                if event.get("EventType") != VALIDATION_ERROR:
                    continue
                errors.append(
                    ValidationError(
                        event.get("LogicalResourceId"),
                        event.get("ResourceType"),
                        event.get("ValidationPath"),
                        event.get("ValidationName"),
                        event.get("ValidationStatusReason") or event.get("ResourceStatusReason") or "no reason given",
                        event.get("ValidationFailureMode"),
                    )
                )
    except ClientError as err:
        if unknown_action(err):
            return Validation(
                note="early-validation details not read: the endpoint does not offer DescribeEvents "
                f"({err.response['Error']['Code']})"
            )
        # the change set's failure is what matters: a refused DescribeEvents must not hide it
        return Validation(note=f"early-validation details not read: {explain(err)}")
    return Validation(tuple(errors))


def failure_message(name: str, reason: str, validation: Validation) -> str:
    """The failed change set's line, then each validation error on a line of its own."""
    lines = [f"change set {name} failed: {reason}"]
    if validation.errors:
        lines.append(f"early validation found {len(validation.errors)} error(s):")
        lines += [f"  - {e}" for e in validation.errors]
    if validation.note:
        lines.append(f"note: {validation.note}")
    return "\n".join(lines)


def hook_results(cfn, change_set_arn: str) -> tuple[tuple[HookResult, ...], tuple[str, ...]]:
    """(the hook invocations on the change set, notes). ListHookResults has no paginator."""
    if not has_operation(cfn, "ListHookResults"):
        return (), ("hook results not read: this botocore has no ListHookResults (upgrade boto3)",)
    results, token = [], None
    try:
        while True:
            page = cfn.list_hook_results(
                TargetType="CHANGE_SET", TargetId=change_set_arn, **({"NextToken": token} if token else {})
            )
            results += [
                HookResult(
                    h.get("TypeName", "?"),
                    h.get("Status", "?"),
                    h.get("HookStatusReason"),
                    h.get("FailureMode"),
                    h.get("InvocationPoint"),
                    h.get("HookExecutionTarget"),
                )
                for h in page.get("HookResults", [])
            ]
            token = page.get("NextToken")
            if not token:
                break
    except ClientError as err:
        if unknown_action(err):
            return (), (
                f"hook results not read: the endpoint does not offer ListHookResults ({err.response['Error']['Code']})",
            )
        raise
    return tuple(sorted(results, key=lambda h: (not h.failed, h.hook, h.target or ""))), ()

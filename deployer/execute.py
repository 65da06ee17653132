"""Execute a reviewed change set and follow it: events of the root and every nested stack until a
terminal state; on failure, the first root-cause event of the deepest failed stack."""

from __future__ import annotations

from collections.abc import Callable

from botocore.exceptions import ClientError

from deployer.changeset import ChangeSetRef
from deployer.errors import DeployerError, Interrupted, explain
from deployer.events import Follower, StackEvent, is_terminal

SUCCESS = {"CREATE_COMPLETE", "UPDATE_COMPLETE", "IMPORT_COMPLETE", "DELETE_COMPLETE"}


class StackFailed(DeployerError):
    """The stack operation ended in a state that is not a success."""

    def __init__(self, message: str, status: str):
        super().__init__(message)
        self.status = status


class StillRunning(Interrupted):
    """Ctrl-C while waiting: the stack operation goes on without us. The message says how to follow
    it, in the region of the client that was following (a stack of another region has its own)."""

    def __init__(self, stack_name: str, region: str):
        self.stack_name, self.region = stack_name, region
        super().__init__(follow_hint(stack_name, region))


def follow(
    cfn,
    follower: Follower,
    *,
    stack_name: str,
    sleep: Callable[[float], None],
    delay: float,
    on_event: Callable[[StackEvent], None],
) -> str:
    """Stream events until the root stack reaches a terminal state; return that state."""
    try:
        while True:
            for event in follower.poll():
                on_event(event)
            status = cfn.describe_stacks(StackName=follower.root_stack_id)["Stacks"][0]["StackStatus"]
            if is_terminal(status):
                for event in follower.poll():
                    on_event(event)
                return status
            sleep(delay)
    except KeyboardInterrupt:
        raise StillRunning(stack_name, cfn.meta.region_name) from None
    except ClientError as err:  # e.g. the credentials expired mid-wait: the operation goes on without us
        command = follow_command(stack_name, cfn.meta.region_name)
        message = f"{explain(err)}; stopped following {stack_name}, its operation goes on: {command}"
        raise DeployerError(message) from err


def execute(
    cfn,
    ref: ChangeSetRef,
    *,
    sleep: Callable[[float], None],
    delay: float,
    on_event: Callable[[StackEvent], None],
) -> str:
    """Execute and follow; raise DeployerError with the root cause when the stack ends badly."""
    follower = Follower(cfn, ref.stack_id)
    follower.baseline()
    cfn.execute_change_set(ChangeSetName=ref.change_set_id)
    status = follow(cfn, follower, stack_name=ref.stack_name, sleep=sleep, delay=delay, on_event=on_event)
    if status not in SUCCESS:
        cause = follower.root_cause()
        detail = f": {cause.logical_id} ({cause.resource_type}) {cause.status}: {cause.reason}" if cause else ""
        raise StackFailed(f"stack {ref.stack_name} ended in {status}{detail}", status)
    return status


def follow_hint(stack_name: str, region: str) -> str:
    return f"stopped waiting; the stack operation goes on. Follow it with: {follow_command(stack_name, region)}"


def follow_command(stack_name: str, region: str) -> str:
    return f"aws cloudformation describe-stack-events --stack-name {stack_name} --region {region}"

"""Execute a reviewed change set and follow it: events of the root and every nested stack until a
terminal state; on failure, the first root-cause event of the deepest failed stack."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from datetime import datetime
from typing import Callable

from botocore.exceptions import ClientError

from deployer.changeset import ChangeSetRef
from deployer.errors import DeployerError, Interrupted, explain

SUCCESS = {"CREATE_COMPLETE", "UPDATE_COMPLETE", "IMPORT_COMPLETE", "DELETE_COMPLETE"}
# Events that only echo a failure elsewhere.
CASCADE = ("Resource creation cancelled", "Resource update cancelled", "The following resource(s) failed", "Embedded stack", "Stack creation time exceeded")


def is_terminal(status: str) -> bool:
    return not status.endswith("_IN_PROGRESS") and status != "REVIEW_IN_PROGRESS"


@dataclass(frozen=True)
class StackEvent:
    stack_id: str
    depth: int
    logical_id: str
    resource_type: str
    status: str
    reason: str
    timestamp: datetime
    physical_id: str = ""

    def line(self) -> str:
        indent = "  " * self.depth
        reason = f" — {self.reason}" if self.reason else ""
        return f"{self.timestamp:%H:%M:%S} {indent}{self.logical_id} {self.resource_type} {self.status}{reason}"


@dataclass
class Follower:
    """Polls describe_stack_events of the root and each nested stack it discovers."""

    cfn: object
    root_stack_id: str
    since: set[str] = field(default_factory=set)  # event ids that belong to earlier operations
    depth: dict[str, int] = field(default_factory=dict)
    events: list[StackEvent] = field(default_factory=list)

    def __post_init__(self):
        self.depth.setdefault(self.root_stack_id, 0)

    def _new_events(self, stack_id: str) -> list[dict]:
        fresh = []
        for page in self.cfn.get_paginator("describe_stack_events").paginate(StackName=stack_id):
            for event in page["StackEvents"]:  # newest first
                if event["EventId"] in self.since:
                    return list(reversed(fresh))
                fresh.append(event)
        return list(reversed(fresh))

    def baseline(self) -> None:
        """Remember the events that happened before this operation."""
        for page in self.cfn.get_paginator("describe_stack_events").paginate(StackName=self.root_stack_id):
            self.since.update(e["EventId"] for e in page["StackEvents"])

    def poll(self) -> list[StackEvent]:
        out = []
        for stack_id in list(self.depth):
            for raw in self._new_events(stack_id):
                self.since.add(raw["EventId"])
                physical = raw.get("PhysicalResourceId") or ""
                if raw.get("ResourceType") == "AWS::CloudFormation::Stack" and physical.startswith("arn:") and physical != stack_id:
                    self.depth.setdefault(physical, self.depth[stack_id] + 1)
                event = StackEvent(stack_id, self.depth[stack_id], raw["LogicalResourceId"], raw.get("ResourceType", ""), raw["ResourceStatus"], raw.get("ResourceStatusReason") or "", raw["Timestamp"], physical)
                out.append(event)
        self.events.extend(out)
        return out

    def root_cause(self) -> StackEvent | None:
        failed = [e for e in self.events if e.status.endswith("FAILED")]
        if not failed:
            return None
        causes = [e for e in failed if not any(marker in e.reason for marker in CASCADE)] or failed
        deepest = max(e.depth for e in causes)
        return min((e for e in causes if e.depth == deepest), key=lambda e: e.timestamp)


class StackFailed(DeployerError):
    """The stack operation ended in a state that is not a success."""

    def __init__(self, message: str, status: str):
        super().__init__(message)
        self.status = status


class StillRunning(Interrupted):
    """Ctrl-C while waiting: the stack operation goes on without us (the message says how to follow it)."""

    def __init__(self, stack_name: str, region: str = ""):
        self.stack_name = stack_name
        super().__init__(follow_hint(stack_name, region) if region else f"stopped waiting; the operation on stack {stack_name} goes on")


def follow(cfn, follower: Follower, *, stack_name: str, sleep: Callable[[float], None] = time.sleep, delay: float = 5, on_event: Callable[[StackEvent], None] = lambda e: None) -> str:
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
        region = cfn.meta.region_name
        raise DeployerError(f"{explain(err)}; stopped following {stack_name}, its operation goes on: {follow_hint(stack_name, region).split(': ', 1)[1]}") from err


def execute(cfn, ref: ChangeSetRef, *, sleep=time.sleep, delay: float = 5, on_event=lambda e: None, region: str = "") -> str:
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
    return (f"stopped waiting; the stack operation goes on. Follow it with: "
            f"aws cloudformation describe-stack-events --stack-name {stack_name} --region {region}")

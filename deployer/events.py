"""Stack events of a root stack and every nested stack it discovers, read as an operation goes:
what `execute` streams and what `recovery` reads to name the first cause of a failure."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

# Events that only echo a failure elsewhere.
CASCADE = (
    "Resource creation cancelled",
    "Resource update cancelled",
    "The following resource(s) failed",
    "Embedded stack",
    "Stack creation time exceeded",
)


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
                if (
                    raw.get("ResourceType") == "AWS::CloudFormation::Stack"
                    and physical.startswith("arn:")
                    and physical != stack_id
                ):
                    self.depth.setdefault(physical, self.depth[stack_id] + 1)
                event = StackEvent(
                    stack_id,
                    self.depth[stack_id],
                    raw["LogicalResourceId"],
                    raw.get("ResourceType", ""),
                    raw["ResourceStatus"],
                    raw.get("ResourceStatusReason") or "",
                    raw["Timestamp"],
                    physical,
                )
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

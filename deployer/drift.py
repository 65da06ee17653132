"""Drift detection on the nested stacks that hold stateful resources, before a change set is
reviewed: a change set computed against a drifted resource can do something other than it says.
DescribeStackDriftDetectionStatus has no botocore waiter, so one is declared here in botocore's
waiter model (same machinery, no hand-written polling)."""

from __future__ import annotations

from dataclasses import dataclass

from botocore.exceptions import ClientError, WaiterError
from botocore.waiter import WaiterModel, create_waiter_with_client

from deployer.errors import is_not_modelled

DRIFTED = ("MODIFIED", "DELETED")
_WAITERS = WaiterModel(
    {
        "version": 2,
        "waiters": {
            "StackDriftDetectionComplete": {
                "operation": "DescribeStackDriftDetectionStatus",
                "delay": 5,
                "maxAttempts": 120,
                "acceptors": [
                    {
                        "state": "success",
                        "matcher": "path",
                        "argument": "DetectionStatus",
                        "expected": "DETECTION_COMPLETE",
                    },
                    # results for the resources that could be checked are still there: report them with the reason
                    {
                        "state": "success",
                        "matcher": "path",
                        "argument": "DetectionStatus",
                        "expected": "DETECTION_FAILED",
                    },
                ],
            }
        },
    }
)


@dataclass(frozen=True)
class DriftedResource:
    layer: str
    logical_id: str
    resource_type: str
    status: str  # MODIFIED | DELETED
    properties: tuple[str, ...]  # property paths that differ

    def line(self) -> str:
        changed = f": {', '.join(self.properties)}" if self.properties else ""
        return f"{self.layer}/{self.logical_id} ({self.resource_type}) {self.status}{changed}"


@dataclass(frozen=True)
class DriftReport:
    drifted: tuple[DriftedResource, ...] = ()
    notes: tuple[str, ...] = ()


def _resource_drifts(cfn, stack_id: str) -> list[dict]:
    """Every page of DescribeStackResourceDrifts (botocore has no paginator for it)."""
    drifts, token = [], None
    while True:
        page = cfn.describe_stack_resource_drifts(
            StackName=stack_id, StackResourceDriftStatusFilters=list(DRIFTED), **({"NextToken": token} if token else {})
        )
        drifts += page["StackResourceDrifts"]
        token = page.get("NextToken")
        if not token:
            return drifts


def detect_drift(cfn, stacks: dict[str, str], *, delay: int = 5, max_attempts: int = 120) -> DriftReport:
    """Drift of `stacks` ({layer: stack id}): start every detection, then wait for each."""
    if not stacks:
        return DriftReport()
    waiter = create_waiter_with_client("StackDriftDetectionComplete", _WAITERS, cfn)
    started: dict[str, str] = {}
    try:
        for layer, stack_id in stacks.items():
            started[layer] = cfn.detect_stack_drift(StackName=stack_id)["StackDriftDetectionId"]
    except ClientError as err:
        if is_not_modelled(err):
            return DriftReport(notes=("drift detection is not modelled by the local emulator: drift was not checked",))
        raise
    drifted: list[DriftedResource] = []
    notes: list[str] = []
    for layer, detection_id in started.items():
        try:
            waiter.wait(StackDriftDetectionId=detection_id, WaiterConfig={"Delay": delay, "MaxAttempts": max_attempts})
        except WaiterError as err:
            notes.append(f"drift detection of {layer} did not finish: {err}")
            continue
        status = cfn.describe_stack_drift_detection_status(StackDriftDetectionId=detection_id)
        if status["DetectionStatus"] == "DETECTION_FAILED":
            notes.append(
                f"drift detection of {layer} failed for some resources: "
                f"{status.get('DetectionStatusReason', 'no reason given')}"
            )
        for drift in _resource_drifts(cfn, stacks[layer]):
            paths = tuple(d["PropertyPath"] for d in drift.get("PropertyDifferences", []))
            drifted.append(
                DriftedResource(
                    layer, drift["LogicalResourceId"], drift["ResourceType"], drift["StackResourceDriftStatus"], paths
                )
            )
    return DriftReport(tuple(sorted(drifted, key=lambda d: (d.layer, d.logical_id))), tuple(notes))

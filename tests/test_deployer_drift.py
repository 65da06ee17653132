"""Drift detection through botocore's Stubber (the emulator does not model it): a MODIFIED
database with its property differences, a DELETED one, DETECTION_FAILED with its reason, every page
of DescribeStackResourceDrifts; the review's table, Markdown and JSON show it; local mode says that
drift was not checked."""

from __future__ import annotations

import json
from dataclasses import replace

import boto3
import pytest
from botocore.stub import Stubber
from rich.console import Console

from deployer.drift import DriftedResource, detect_drift
from deployer.review import drift_table, to_json, to_markdown
from tests.test_deployer_e2e import _recorded_review

DATA = "arn:aws:cloudformation:eu-north-1:111122223333:stack/product-catalog-pr5706-DataStack-1/1"
NETWORK = "arn:aws:cloudformation:eu-north-1:111122223333:stack/product-catalog-pr5706-NetworkStack-1/1"
WHEN = "2025-01-01T12:00:00Z"


def cfn_client():
    return boto3.client("cloudformation", region_name="eu-north-1", aws_access_key_id="x", aws_secret_access_key="x")


def drift(logical_id: str, kind: str, status: str, paths: tuple[str, ...] = (), stack: str = DATA) -> dict:
    return {
        "StackId": stack,
        "LogicalResourceId": logical_id,
        "ResourceType": kind,
        "StackResourceDriftStatus": status,
        "Timestamp": WHEN,
        "PropertyDifferences": [
            {"PropertyPath": p, "ExpectedValue": "7", "ActualValue": "1", "DifferenceType": "NOT_EQUAL"} for p in paths
        ],
    }


def status(detection_id: str, stack: str, detection: str, reason: str | None = None) -> dict:
    return {
        "StackId": stack,
        "StackDriftDetectionId": detection_id,
        "DetectionStatus": detection,
        "Timestamp": WHEN,
        **({"DetectionStatusReason": reason} if reason else {}),
    }


FILTER = ["MODIFIED", "DELETED"]


def test_a_modified_database_a_failed_detection_and_every_page():
    cfn = cfn_client()
    with Stubber(cfn) as stub:
        stub.add_response("detect_stack_drift", {"StackDriftDetectionId": "d-data"}, {"StackName": DATA})
        stub.add_response("detect_stack_drift", {"StackDriftDetectionId": "d-net"}, {"StackName": NETWORK})
        # data: in progress once, then complete (the waiter polls; delay 0)
        stub.add_response(
            "describe_stack_drift_detection_status",
            status("d-data", DATA, "DETECTION_IN_PROGRESS"),
            {"StackDriftDetectionId": "d-data"},
        )
        stub.add_response(
            "describe_stack_drift_detection_status",
            status("d-data", DATA, "DETECTION_COMPLETE"),
            {"StackDriftDetectionId": "d-data"},
        )
        stub.add_response(
            "describe_stack_drift_detection_status",
            status("d-data", DATA, "DETECTION_COMPLETE"),
            {"StackDriftDetectionId": "d-data"},
        )
        stub.add_response(
            "describe_stack_resource_drifts",
            {
                "StackResourceDrifts": [
                    drift(
                        "DatabaseCluster",
                        "AWS::RDS::DBCluster",
                        "MODIFIED",
                        ("/BackupRetentionPeriod", "/DeletionProtection"),
                    ),
                ],
                "NextToken": "page-2",
            },
            {"StackName": DATA, "StackResourceDriftStatusFilters": FILTER},
        )
        stub.add_response(
            "describe_stack_resource_drifts",
            {
                "StackResourceDrifts": [
                    drift("DatabaseReader1", "AWS::RDS::DBInstance", "DELETED"),
                ]
            },
            {"StackName": DATA, "StackResourceDriftStatusFilters": FILTER, "NextToken": "page-2"},
        )
        # network: failed for some resources, results for the rest still reported
        reason = "Failed to detect drift on resource [FlowLogsKey]: access denied for kms:DescribeKey"
        stub.add_response(
            "describe_stack_drift_detection_status",
            status("d-net", NETWORK, "DETECTION_FAILED", reason),
            {"StackDriftDetectionId": "d-net"},
        )
        stub.add_response(
            "describe_stack_drift_detection_status",
            status("d-net", NETWORK, "DETECTION_FAILED", reason),
            {"StackDriftDetectionId": "d-net"},
        )
        stub.add_response(
            "describe_stack_resource_drifts",
            {
                "StackResourceDrifts": [
                    drift("FlowLogsLogGroup", "AWS::Logs::LogGroup", "MODIFIED", ("/RetentionInDays",), NETWORK),
                ]
            },
            {"StackName": NETWORK, "StackResourceDriftStatusFilters": FILTER},
        )
        report = detect_drift(cfn, {"data": DATA, "network": NETWORK}, delay=0, max_attempts=3)
        stub.assert_no_pending_responses()
    assert report.drifted == (
        DriftedResource(
            "data",
            "DatabaseCluster",
            "AWS::RDS::DBCluster",
            "MODIFIED",
            ("/BackupRetentionPeriod", "/DeletionProtection"),
        ),
        DriftedResource("data", "DatabaseReader1", "AWS::RDS::DBInstance", "DELETED", ()),
        DriftedResource("network", "FlowLogsLogGroup", "AWS::Logs::LogGroup", "MODIFIED", ("/RetentionInDays",)),
    )
    assert report.notes == (f"drift detection of network failed for some resources: {reason}",)


def test_a_detection_that_never_finishes_is_a_note_not_a_crash():
    cfn = cfn_client()
    with Stubber(cfn) as stub:
        stub.add_response("detect_stack_drift", {"StackDriftDetectionId": "d-data"}, {"StackName": DATA})
        for _ in range(2):
            stub.add_response(
                "describe_stack_drift_detection_status",
                status("d-data", DATA, "DETECTION_IN_PROGRESS"),
                {"StackDriftDetectionId": "d-data"},
            )
        report = detect_drift(cfn, {"data": DATA}, delay=0, max_attempts=2)
        stub.assert_no_pending_responses()
    assert report.drifted == ()
    assert len(report.notes) == 1 and report.notes[0].startswith("drift detection of data did not finish: ")


def test_no_stacks_holding_data_makes_no_call():
    cfn = cfn_client()
    with Stubber(cfn):
        assert detect_drift(cfn, {}).drifted == ()


def test_local_mode_says_drift_was_not_checked():
    cfn = cfn_client()
    with Stubber(cfn) as stub:
        stub.add_client_error(
            "detect_stack_drift",
            "NotImplemented",
            "DetectStackDrift is not modelled by the local emulator (moto 5.2)",
            501,
        )
        report = detect_drift(cfn, {"data": DATA})
    assert report == type(report)(
        notes=("drift detection is not modelled by the local emulator: drift was not checked",)
    )


def test_other_errors_are_not_swallowed():
    from botocore.exceptions import ClientError

    cfn = cfn_client()
    with Stubber(cfn) as stub:
        stub.add_client_error("detect_stack_drift", "AccessDenied", "not allowed: cloudformation:DetectStackDrift", 403)
        with pytest.raises(ClientError, match="AccessDenied"):
            detect_drift(cfn, {"data": DATA})


DRIFTED = (
    DriftedResource("data", "DatabaseCluster", "AWS::RDS::DBCluster", "MODIFIED", ("/BackupRetentionPeriod",)),
    DriftedResource("data", "DatabaseReader1", "AWS::RDS::DBInstance", "DELETED", ()),
)


def test_the_review_shows_drift_in_every_format():
    review = replace(
        _recorded_review(), drifted=DRIFTED, notes=("drift detection of network failed for some resources: timeout",)
    )
    markdown = to_markdown(review)
    assert "**Drifted resources** (2): changed outside CloudFormation" in markdown
    assert "- `data/DatabaseCluster` AWS::RDS::DBCluster **MODIFIED**: /BackupRetentionPeriod" in markdown
    assert "- `data/DatabaseReader1` AWS::RDS::DBInstance **DELETED**\n" in markdown
    assert "> note: drift detection of network failed for some resources: timeout" in markdown
    document = json.loads(to_json(review))
    assert document["drifted"] == [
        {
            "layer": "data",
            "logical_id": "DatabaseCluster",
            "resource_type": "AWS::RDS::DBCluster",
            "status": "MODIFIED",
            "properties": ["/BackupRetentionPeriod"],
        },
        {
            "layer": "data",
            "logical_id": "DatabaseReader1",
            "resource_type": "AWS::RDS::DBInstance",
            "status": "DELETED",
            "properties": [],
        },
    ]
    console = Console(width=200, record=True)
    console.print(drift_table(review))
    text = console.export_text()
    assert "drifted resources (changed outside CloudFormation)" in text
    rows = [line for line in text.splitlines() if "Database" in line]
    assert [[cell.strip() for cell in r.split("│")[1:6]] for r in rows] == [
        ["data", "DatabaseCluster", "AWS::RDS::DBCluster", "MODIFIED", "/BackupRetentionPeriod"],
        ["data", "DatabaseReader1", "AWS::RDS::DBInstance", "DELETED", "-"],
    ]


def test_without_drift_the_review_has_no_drift_section():
    review = _recorded_review()
    assert "Drifted" not in to_markdown(review)
    assert json.loads(to_json(review))["drifted"] == []

"""The ListImports pre-flight through botocore's Stubber: exports of the deployed root and nested
stacks that the new templates drop or rename, with their importers, stop the plan before any change
set; exports kept (literal or Fn::Sub over the stack name), exports of other stacks, and exports
nobody imports pass; the local emulator's missing ListImports is a note."""

from __future__ import annotations

import json
from pathlib import Path

import boto3
import pytest
from botocore.stub import Stubber

from deployer import flow
from deployer.bundle import Bundle
from deployer.errors import DeployerError
from deployer.imports import check_imports, new_exports

NAME = "product-catalog-pr5706"
ROOT = f"arn:aws:cloudformation:eu-north-1:111122223333:stack/{NAME}/1"
NETWORK = f"arn:aws:cloudformation:eu-north-1:111122223333:stack/{NAME}-NetworkStack-C/4"
OTHER = "arn:aws:cloudformation:eu-north-1:111122223333:stack/orders-pr5706/9"


def bundle() -> Bundle:
    root = {
        "Resources": {
            "NetworkStack": {"Type": "AWS::CloudFormation::Stack", "Properties": {"TemplateURL": "https://x"}}
        },
        "Outputs": {"Url": {"Value": "u", "Export": {"Name": "catalog-pr5706-RootUrl"}}},
    }
    network = {
        "Resources": {"Vpc": {"Type": "AWS::EC2::VPC"}},
        "Outputs": {
            "VpcId": {
                "Value": {"Ref": "Vpc"},
                "Export": {"Name": "catalog-pr5706-Vpc"},
            },  # renamed from catalog-pr5706-VpcId
            "Kept": {"Value": "k", "Export": {"Name": {"Fn::Sub": "${AWS::StackName}-Kept"}}},
        },
    }  # catalog-pr5706-PrivateSubnets dropped
    manifest = {
        "stack_name": NAME,
        "root": "root.json",
        "format": "json",
        "application": "product-catalog",
        "environment": "dev",
        "stacks": [{"layer": "network", "logical_id": "NetworkStack", "file": "network.json", "scope": "nested"}],
    }
    return Bundle(
        Path("."), manifest, {"root.json": json.dumps(root).encode(), "network.json": json.dumps(network).encode()}
    )


def cfn_client():
    return boto3.client("cloudformation", region_name="eu-north-1", aws_access_key_id="x", aws_secret_access_key="x")


def export(name: str, stack: str) -> dict:
    return {"ExportingStackId": stack, "Name": name, "Value": "v"}


def stub_deployed(stub) -> None:
    stub.add_response(
        "list_stack_resources",
        {
            "StackResourceSummaries": [
                {
                    "LogicalResourceId": "NetworkStack",
                    "PhysicalResourceId": NETWORK,
                    "ResourceType": "AWS::CloudFormation::Stack",
                    "LastUpdatedTimestamp": "2025-01-01T00:00:00Z",
                    "ResourceStatus": "UPDATE_COMPLETE",
                },
            ]
        },
        {"StackName": ROOT},
    )
    stub.add_response(
        "list_exports",
        {
            "Exports": [export("catalog-pr5706-VpcId", NETWORK), export("orders-pr5706-QueueUrl", OTHER)],
            "NextToken": "2",
        },
        {},
    )
    stub.add_response(
        "list_exports",
        {
            "Exports": [
                export("catalog-pr5706-PrivateSubnets", NETWORK),
                export(f"{NAME}-NetworkStack-C-Kept", NETWORK),
                export("catalog-pr5706-RootUrl", ROOT),
            ]
        },
        {"NextToken": "2"},
    )


def test_a_renamed_export_with_importers_stops_the_plan_naming_them():
    cfn = cfn_client()
    with Stubber(cfn) as stub:
        stub_deployed(stub)
        stub.add_response(
            "list_imports",
            {"Imports": ["orders-pr5706"], "NextToken": "2"},
            {"ExportName": "catalog-pr5706-PrivateSubnets"},
        )
        stub.add_response(
            "list_imports",
            {"Imports": ["billing-pr5706"]},
            {"ExportName": "catalog-pr5706-PrivateSubnets", "NextToken": "2"},
        )
        stub.add_client_error(
            "list_imports",
            "ValidationError",
            "Export 'catalog-pr5706-VpcId' is not imported by any stack.",
            expected_params={"ExportName": "catalog-pr5706-VpcId"},
        )
        with pytest.raises(DeployerError) as refused:
            check_imports(cfn, bundle(), ROOT)
        stub.assert_no_pending_responses()
    assert str(refused.value) == (
        "the new templates drop or rename export(s) other stacks import, and the update would fail half way: "
        "catalog-pr5706-PrivateSubnets (exported by network) is imported by billing-pr5706, orders-pr5706. "
        "Remove the Fn::ImportValue from those stacks first (or keep the export), then plan again"
    )


def test_dropped_exports_nobody_imports_pass():
    cfn = cfn_client()
    with Stubber(cfn) as stub:
        stub_deployed(stub)
        for name in ("catalog-pr5706-PrivateSubnets", "catalog-pr5706-VpcId"):
            stub.add_client_error(
                "list_imports",
                "ValidationError",
                f"Export '{name}' is not imported by any stack.",
                expected_params={"ExportName": name},
            )
        assert check_imports(cfn, bundle(), ROOT) == ()
        stub.assert_no_pending_responses()


def test_local_mode_says_importers_were_not_checked():
    cfn = cfn_client()
    with Stubber(cfn) as stub:
        stub_deployed(stub)
        stub.add_client_error(
            "list_imports", "NotImplemented", "ListImports is not modelled by the local emulator", 501
        )
        notes = check_imports(cfn, bundle(), ROOT)
    assert notes == (
        "ListImports is not modelled by the local emulator: dropped export(s) catalog-pr5706-PrivateSubnets, "
        "catalog-pr5706-VpcId were not checked for importers",
    )


def test_no_exports_of_our_stacks_makes_no_list_imports_call():
    cfn = cfn_client()
    with Stubber(cfn) as stub:
        stub.add_response("list_stack_resources", {"StackResourceSummaries": []}, {"StackName": ROOT})
        stub.add_response("list_exports", {"Exports": [export("orders-pr5706-QueueUrl", OTHER)]}, {})
        assert check_imports(cfn, bundle(), ROOT) == ()
        stub.assert_no_pending_responses()


def test_export_names_resolve_literals_sub_and_join_and_refuse_the_rest():
    pseudo = {"AWS::StackName": "s", "AWS::Region": "eu-north-1"}

    def outputs(*names):
        return {"Outputs": {f"O{i}": {"Value": "v", "Export": {"Name": n}} for i, n in enumerate(names)}}

    assert new_exports(
        outputs(
            "a",
            {"Fn::Sub": "${AWS::StackName}-b-${AWS::Region}"},
            {"Fn::Join": ["-", [{"Ref": "AWS::StackName"}, "c"]]},
        ),
        pseudo,
    ) == {"a", "s-b-eu-north-1", "s-c"}
    assert new_exports(outputs({"Fn::Sub": "${Suffix}-x"}), pseudo) is None
    assert new_exports({"Outputs": {"O": {"Value": "v"}}}, pseudo) == set()


def test_plan_runs_the_pre_flight_before_any_change_set(monkeypatch):
    created = []
    monkeypatch.setattr(flow, "upload", lambda *a, **k: "uploaded")
    monkeypatch.setattr(flow, "rollback_configuration", lambda *a, **k: None)
    monkeypatch.setattr(flow, "describe_stack", lambda cfn, name: {"StackStatus": "UPDATE_COMPLETE", "StackId": ROOT})

    def refuse(cfn, b, stack_id):
        assert stack_id == ROOT
        raise DeployerError("imported")

    monkeypatch.setattr(flow, "check_imports", refuse)
    monkeypatch.setattr(flow, "create_change_set", lambda *a, **k: created.append(a))

    class Aws:
        region = "eu-north-1"

        def client(self, service):
            return cfn_client()

    with pytest.raises(DeployerError, match="imported"):
        flow.plan(Aws(), bundle(), "bucket")
    assert created == []

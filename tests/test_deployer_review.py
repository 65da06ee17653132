"""The review on recorded nested change sets (the shapes AWS documents for DescribeChangeSet with
IncludeNestedStacks), through botocore's Stubber: every risk rule, pagination, the views."""

from __future__ import annotations

import json
from pathlib import Path

import boto3
import pytest
from botocore.stub import Stubber

from deployer.review import Risk, rate, review_change_set, to_json, to_markdown, to_table

FIXTURES = Path(__file__).parent / "fixtures" / "changesets"
LAYERS = {"NetworkStack": "network", "SecurityStack": "security"}
STATEFUL = {
    "network": frozenset({"FlowLogsKey", "FlowLogsLogGroup"}),
    "security": frozenset({"ApplicationKey", "DatabaseSecret"}),
}


def fixture(name: str) -> dict:
    return json.loads((FIXTURES / f"{name}.json").read_text())


@pytest.fixture
def review():
    return recorded_review()


def recorded_review():
    """The review of the recorded nested change sets (root, two pages of network, security)."""
    cfn = boto3.client("cloudformation", region_name="eu-north-1", aws_access_key_id="x", aws_secret_access_key="x")
    root, net1, net2, sec = (fixture(n) for n in ("root", "network-page1", "network-page2", "security"))
    with Stubber(cfn) as stub:
        stub.add_response(
            "describe_change_set", root, {"ChangeSetName": root["ChangeSetId"], "IncludePropertyValues": True}
        )
        stub.add_response(
            "describe_change_set", net1, {"ChangeSetName": net1["ChangeSetId"], "IncludePropertyValues": True}
        )
        stub.add_response(
            "describe_change_set",
            net2,
            {"ChangeSetName": net1["ChangeSetId"], "NextToken": "page-2", "IncludePropertyValues": True},
        )
        stub.add_response(
            "describe_change_set", sec, {"ChangeSetName": sec["ChangeSetId"], "IncludePropertyValues": True}
        )
        result = review_change_set(
            cfn,
            root["ChangeSetId"],
            layer_of=LAYERS.get,
            stateful_ids_of=lambda layer: STATEFUL.get(layer, frozenset()),
        )
        stub.assert_no_pending_responses()
    return result


def by_id(review, logical_id):
    return next(c for c in review.changes if c.logical_id == logical_id)


def test_every_nested_change_set_and_page_is_walked(review):
    assert sorted((c.layer, c.logical_id) for c in review.changes) == [
        ("network", "FlowLogsKey"),
        ("network", "FlowLogsLogGroup"),
        ("network", "PrivateRouteTable1"),
        ("network", "PublicSubnet1"),
        ("network", "VpcEndpointLogs"),
        ("security", "AlbSecurityGroup"),
        ("security", "ApplicationKey"),
        ("security", "ApplicationKeyAlias"),
        ("security", "DatabaseSecret"),
        ("security", "ServiceApiTaskRole"),
    ]
    assert review.notes == ()  # nested change sets were reported, so no gap note
    assert review.stack_name == "product-catalog-prod"


def test_replacing_a_stateful_resource_whose_old_copy_is_deleted_is_data_loss_and_first(review):
    first = review.changes[0]
    assert (first.logical_id, first.risk, first.policy_action, first.replacement) == (
        "FlowLogsLogGroup",
        Risk.DATA_LOSS,
        "ReplaceAndDelete",
        "True",
    )
    assert [(p.name, p.requires_recreation, p.change_source) for p in first.causes] == [
        ("LogGroupName", "Always", "DirectModification")
    ]
    assert review.highest is Risk.DATA_LOSS


def test_stateful_replaced_or_removed_but_kept_is_high(review):
    secret, key = by_id(review, "DatabaseSecret"), by_id(review, "FlowLogsKey")
    assert (secret.risk, secret.policy_action) == (Risk.HIGH, "ReplaceAndRetain")
    assert (key.risk, key.action, key.policy_action) == (Risk.HIGH, "Remove", "Retain")


def test_iam_security_group_kms_policy_and_conditional_replacement_are_medium(review):
    assert by_id(review, "ServiceApiTaskRole").risk is Risk.MEDIUM
    assert by_id(review, "AlbSecurityGroup").risk is Risk.MEDIUM
    assert by_id(review, "ApplicationKey").reasons == ("KMS key policy change",)
    subnet = by_id(review, "PublicSubnet1")
    assert (subnet.risk, subnet.replacement, subnet.reasons) == (
        Risk.MEDIUM,
        "Conditional",
        ("conditional replacement",),
    )
    assert [(p.name, p.change_source, p.causing_entity) for p in subnet.causes] == [
        ("CidrBlock", "ParameterReference", "VpcCidr")
    ]


def test_the_rest_is_low(review):
    assert {c.logical_id for c in review.changes if c.risk is Risk.LOW} == {
        "PrivateRouteTable1",
        "VpcEndpointLogs",
        "ApplicationKeyAlias",
    }


def test_summary_counts_per_layer(review):
    summary = {s.layer: (s.adds, s.modifies, s.replaces, s.removes, s.highest) for s in review.summaries()}
    assert summary == {"network": (1, 1, 2, 1, Risk.DATA_LOSS), "security": (0, 4, 1, 0, Risk.HIGH)}


def test_views(review):
    document = json.loads(to_json(review))
    assert document["highest_risk"] == "DATA_LOSS"
    assert document["changes"][0]["causes"][0]["name"] == "LogGroupName"
    markdown = to_markdown(review)
    assert (
        "| **DATA LOSS** | network | `FlowLogsLogGroup` | AWS::Logs::LogGroup | Modify | True | "
        "ReplaceAndDelete | LogGroupName (Always) |" in markdown
    )
    assert "highest risk: DATA LOSS" in markdown
    assert to_table(review).row_count == 10


@pytest.mark.parametrize(
    ("kind", "action", "replacement", "policy", "stateful", "expected"),
    [
        ("AWS::RDS::DBInstance", "Modify", "True", "ReplaceAndSnapshot", True, Risk.HIGH),
        ("AWS::RDS::DBInstance", "Remove", None, "Delete", True, Risk.DATA_LOSS),
        ("AWS::RDS::DBInstance", "Modify", "Conditional", "ReplaceAndDelete", True, Risk.HIGH),
        ("AWS::RDS::DBInstance", "Modify", "True", None, True, Risk.HIGH),  # policy not reported (emulator)
        ("AWS::WAFv2::WebACL", "Modify", "False", None, False, Risk.MEDIUM),
        # replacing or removing what carries traffic or identity interrupts it (resource_semantics.TRAFFIC_TYPES)
        ("AWS::ECS::Service", "Modify", "True", None, False, Risk.MEDIUM),
        ("AWS::ECS::Service", "Remove", None, "Delete", False, Risk.MEDIUM),
        ("AWS::CloudFront::Distribution", "Remove", None, "Delete", False, Risk.MEDIUM),
        ("AWS::ElasticLoadBalancingV2::TargetGroup", "Modify", "True", "ReplaceAndDelete", False, Risk.MEDIUM),
        ("AWS::ECS::Service", "Modify", "False", None, False, Risk.LOW),
        ("AWS::EC2::RouteTable", "Modify", "True", "ReplaceAndDelete", False, Risk.LOW),
    ],
)
def test_risk_rules(kind, action, replacement, policy, stateful, expected):
    assert rate(kind, action, replacement, policy, (), stateful)[0] is expected

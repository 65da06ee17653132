"""The review as people and pipelines read it, pinned byte for byte: JSON, Markdown, the wide and
the compact table, the hooks and drift tables, of one review that holds every kind of row (the
recorded nested change sets, plus a drift-aware change with a drifted property, a change caused
by a parameter, drifted resources, hook results and notes). A changed word, risk label, column or
count fails here; refresh deliberately with `python -m pytest tests/test_review_views.py
--update-golden` and read the diff."""

from __future__ import annotations

import json
import os
import re
from dataclasses import replace
from pathlib import Path

import pytest
from rich.console import Console

from deployer.drift import DriftedResource
from deployer.review import (
    JSON_SCHEMA_VERSION,
    RISK_STYLES,
    ROOT,
    SUMMARY_LEGEND,
    Facts,
    HookResult,
    PropertyChange,
    Risk,
    _wide_minimum,
    drift_table,
    hooks_table,
    ordered,
    policy_owner,
    resource_change,
    summary_line,
    table_for_width,
    to_compact_table,
    to_json,
    to_markdown,
    to_table,
)
from tests.test_deployer_review import recorded_review

GOLDEN = Path(__file__).parent / "golden" / "review"


def full_review():
    review = recorded_review()
    drifted = resource_change(
        "data",
        {
            "LogicalResourceId": "Database",
            "ResourceType": "AWS::RDS::DBInstance",
            "Action": "Modify",
            "Replacement": "False",
            "PhysicalResourceId": "shop-prod-db",
            "ResourceDriftStatus": "MODIFIED",
            "Details": [
                {
                    "ChangeSource": "DirectModification",
                    "Target": {
                        "Attribute": "Properties",
                        "Name": "BackupRetentionPeriod",
                        "RequiresRecreation": "Never",
                        "Path": "/Properties/BackupRetentionPeriod",
                        "BeforeValue": "1",
                        "AfterValue": "14",
                        "BeforeValueFrom": "ACTUAL_STATE",
                        "Drift": {"ActualValue": "1", "PreviousValue": "14"},
                    },
                },
                {
                    "ChangeSource": "DirectModification",
                    "Target": {
                        "Attribute": "Properties",
                        "Name": "Description",
                        "RequiresRecreation": "Conditionally",
                        "Path": "/Properties/Description",
                        "BeforeValue": "orders | v1",
                        "AfterValue": "orders | v2",
                    },
                },
            ],
        },
        frozenset({"Database"}),
    )
    by_parameter = resource_change(
        "compute",
        {
            "LogicalResourceId": "ServiceApiTargetGroup",
            "ResourceType": "AWS::ElasticLoadBalancingV2::TargetGroup",
            "Action": "Modify",
            "Replacement": "True",
            "PolicyAction": "ReplaceAndDelete",
            "Details": [
                {
                    "ChangeSource": "ParameterReference",
                    "CausingEntity": "ServiceApiPort",
                    "Target": {
                        "Attribute": "Properties",
                        "Name": "Port",
                        "RequiresRecreation": "Always",
                        "Path": "/Properties/Port",
                        "BeforeValue": "3000",
                        "AfterValue": "8080",
                    },
                },
                {  # CloudFormation gave no source for this one
                    "Target": {"Attribute": "Properties", "Name": "Protocol", "RequiresRecreation": "Always"},
                },
            ],
        },
        frozenset(),
    )
    return replace(
        review,
        changes=ordered((*review.changes, drifted, by_parameter)),
        deployment_mode="REVERT_DRIFT",
        drifted=(
            DriftedResource(
                "data", "Database", "AWS::RDS::DBInstance", "MODIFIED", ("BackupRetentionPeriod", "Description")
            ),
            DriftedResource("data", "Files", "AWS::EFS::FileSystem", "DELETED", ()),
        ),
        hooks=(
            HookResult(
                "Private::Guard::S3Encryption", "HOOK_FAILED", "bucket Logs | not encrypted", "FAIL", None, None
            ),
            HookResult("Private::Lambda::Tags", "HOOK_COMPLETE_SUCCEEDED", None, "WARN", "PRE_PROVISION", "ts"),
            HookResult("Private::Guard::Names", "HOOK_COMPLETE_FAILED", "name too long", None, None, None),
        ),
        notes=("drift detection: 2 stacks checked",),
    )


def rendered(renderable, width: int) -> str:
    """As a terminal shows it, colours and styles included (ANSI codes)."""
    with open(os.devnull, "w") as sink:
        console = Console(width=width, record=True, file=sink, force_terminal=True, color_system="standard")
        console.print(renderable)
    return console.export_text(styles=True)


VIEWS = {
    "review.json": lambda review: to_json(review),
    "review.md": lambda review: to_markdown(review),
    "table.ansi": lambda review: rendered(to_table(review), 240),
    "compact.ansi": lambda review: rendered(to_compact_table(review), 80),
    # narrow: the long cells fold onto more lines
    "hooks.ansi": lambda review: rendered(hooks_table(review), 60),
    "drift.ansi": lambda review: rendered(drift_table(review), 60),
}


@pytest.mark.parametrize("name", sorted(VIEWS))
def test_every_view_of_the_review_equals_its_golden_file(name, request):
    text = VIEWS[name](full_review())
    golden = GOLDEN / name
    if request.config.getoption("--update-golden"):
        golden.parent.mkdir(parents=True, exist_ok=True)
        golden.write_text(text)
    assert golden.is_file(), f"no golden file {golden}: run pytest tests/test_review_views.py --update-golden"
    assert text == golden.read_text()


def test_the_json_contract():
    document = json.loads(to_json(full_review()))
    assert JSON_SCHEMA_VERSION == 2 and document["schema_version"] == 2
    assert document["highest_risk"] == "DATA_LOSS"
    assert document["deployment_mode"] == "REVERT_DRIFT"
    assert {c["risk"] for c in document["changes"]} <= {r.name for r in Risk}
    assert [h["status"] for h in document["hooks"]] == [
        "HOOK_FAILED",
        "HOOK_COMPLETE_SUCCEEDED",
        "HOOK_COMPLETE_FAILED",
    ]


def test_risk_levels_their_order_labels_and_names_people_type():
    assert [(r.name, int(r), r.label) for r in Risk] == [
        ("LOW", 1, "LOW"),
        ("MEDIUM", 2, "MEDIUM"),
        ("HIGH", 3, "HIGH"),
        ("DATA_LOSS", 4, "DATA LOSS"),
        ("WILL_FAIL", 5, "WILL FAIL"),
    ]
    for text, risk in [
        ("high", Risk.HIGH),
        (" data-loss ", Risk.DATA_LOSS),
        ("DATA_LOSS", Risk.DATA_LOSS),
        ("will fail", Risk.WILL_FAIL),
        ("Will-Fail", Risk.WILL_FAIL),
    ]:
        assert Risk.parse(text) is risk, text
    with pytest.raises(KeyError):
        Risk.parse("critical")
    assert RISK_STYLES == {
        Risk.WILL_FAIL: "bold white on magenta",
        Risk.DATA_LOSS: "bold white on red",
        Risk.HIGH: "bold red",
        Risk.MEDIUM: "yellow",
        Risk.LOW: "green",
    }


def test_whose_stack_policy_guards_a_change_and_which_names_allow_it():
    assert ROOT == "root"
    assert policy_owner("data", "AWS::CloudFormation::Stack") == "root"  # the nested stack itself
    assert policy_owner("data", "AWS::RDS::DBInstance") == "data"
    assert policy_owner("data/Inner", "AWS::RDS::DBInstance") == "data"
    facts = Facts(allowed=("Database", "network/FlowLogsKey"))
    assert facts.allows("data", "Database") and facts.allows("network", "FlowLogsKey")
    assert not facts.allows("security", "FlowLogsKey")  # named with another layer
    assert not facts.allows("data", "Cache")
    assert not Facts().allows("data", "Database")


def _property(**values) -> PropertyChange:
    fields = dict.fromkeys(("path", "before", "after", "change_type", "before_from", "actual", "previous"))
    return PropertyChange(
        "Properties", values.pop("name", "Port"), values.pop("recreation", "Never"), "DirectModification", None,
        **(fields | values),
    )  # fmt: skip


def test_a_property_change_reads_as_where_values_and_recreation():
    assert str(_property()) == "Port"
    assert str(_property(name=None)) == "Properties"
    assert str(_property(path="/Properties/PortMappings/0/ContainerPort", before="3000", after="8080")) == (
        "PortMappings/0/ContainerPort: 3000 → 8080"
    )
    assert str(_property(path="/Tags", after="x", recreation="Always")) == "Tags: (none) → x (Always)"
    assert str(_property(before="a" * 61, after="b" * 60, recreation="Conditionally")) == (
        f"Port: {'a' * 59}… → {'b' * 60} (Conditionally)"
    )
    drifted = _property(before="1", after="14", actual="1", previous="14")
    assert drifted.drifted and drifted.values == "actual 1, deployed 14 → 14"
    assert not _property(actual="14", previous="14").drifted
    assert not _property(previous="14").drifted


def test_the_summary_and_the_width_that_picks_the_table():
    review = full_review()
    assert summary_line(review) == (
        "12 change(s) — network: +1 ~1 ±2 -1; security: +0 ~4 ±1 -0; compute: +0 ~0 ±1 -0; data: +0 ~1 ±0 -0 — "
        "highest risk: DATA LOSS"
    )
    assert SUMMARY_LEGEND == "per layer: +N added, ~N modified in place, ±N replaced, -N removed"
    minimum = _wide_minimum(to_table(review))
    assert minimum == 177
    # at that width the wide table cuts no word: every resource type, logical id and old copy whole
    text = re.sub(r"\x1b\[[0-9;]*m", "", rendered(table_for_width(review, minimum), minimum))
    assert max(len(line) for line in text.splitlines()) == minimum
    for change in review.changes:
        for word in (change.logical_id, change.resource_type, change.policy_action or "-", change.risk.label):
            assert word in text, word
    assert table_for_width(review, minimum).columns[0].header == "risk"
    assert len(table_for_width(review, minimum).columns) == 9  # the wide table fits exactly
    assert len(table_for_width(review, minimum - 1).columns) == 2  # one column less: the compact one


def test_nested_stacks_without_their_own_change_set_are_listed_as_unwalked():
    """The local emulator ignores IncludeNestedStacks: the root's change set lists the nested
    stacks as changes of their own, without a ChangeSetId; the review keeps them and says so."""
    import boto3
    from botocore.stub import Stubber

    from deployer.review import review_change_set

    cfn = boto3.client("cloudformation", region_name="eu-north-1", aws_access_key_id="x", aws_secret_access_key="x")
    page = {
        "ChangeSetId": "cs-root",
        "ChangeSetName": "cfn-strata-local",
        "StackName": "shop-dev",
        "Changes": [
            {"Type": "Resource"},  # an entry without a resource change is passed over
            {
                "Type": "Resource",
                "ResourceChange": {
                    "LogicalResourceId": "NetworkStack",
                    "ResourceType": "AWS::CloudFormation::Stack",
                    "Action": "Modify",
                    "Replacement": "False",
                },
            },
            {
                "Type": "Resource",
                "ResourceChange": {
                    "LogicalResourceId": "DataStack",
                    "ResourceType": "AWS::CloudFormation::Stack",
                    "Action": "Modify",
                    "Replacement": "False",
                },
            },
            {
                "Type": "Resource",
                "ResourceChange": {"LogicalResourceId": "Topic", "ResourceType": "AWS::SNS::Topic", "Action": "Add"},
            },
        ],
    }
    with Stubber(cfn) as stub:
        stub.add_response("describe_change_set", page, {"ChangeSetName": "cs-root", "IncludePropertyValues": True})
        review = review_change_set(
            cfn,
            "cs-root",
            layer_of={"NetworkStack": "network", "DataStack": "data"}.get,
            stateful_ids_of=lambda layer: frozenset({"Database"}) if layer == "data" else frozenset(),
        )
    # DescribeChangeSet does not say CREATE or UPDATE: the deployer, which chose it, sets it
    assert (review.stack_name, review.change_set_name, review.change_set_type) == ("shop-dev", "cfn-strata-local", "")
    assert [(c.layer, c.logical_id, c.stateful) for c in review.changes] == [
        ("data", "DataStack", True),  # its layer holds stateful resources
        ("network", "NetworkStack", False),
        ("root", "Topic", False),
    ]
    assert review.notes == (
        "no nested change set was reported for network, data (the endpoint ignored IncludeNestedStacks): their "
        "resources are not listed",
    )
    assert review.deployment_mode is None


def test_an_empty_review_summarises_to_no_risk():
    from deployer.review import Review

    empty = Review("shop-dev", "cs", "UPDATE", ())
    assert summary_line(empty) == "0 change(s) —  — highest risk: none"
    assert (empty.notes, empty.drifted, empty.hooks, empty.deployment_mode) == ((), (), (), None)


def test_a_nested_stack_inside_a_layer_is_reviewed_as_layer_slash_its_logical_id():
    import boto3
    from botocore.stub import Stubber

    from deployer.review import review_change_set

    def page(change_set_id, changes):
        return {"ChangeSetId": change_set_id, "ChangeSetName": "cs", "StackName": "shop-prod", "Changes": changes}

    def nested(logical_id, change_set_id):
        return {
            "Type": "Resource",
            "ResourceChange": {
                "LogicalResourceId": logical_id,
                "ResourceType": "AWS::CloudFormation::Stack",
                "Action": "Modify",
                "ChangeSetId": change_set_id,
            },
        }

    leaf = {
        "Type": "Resource",
        "ResourceChange": {"LogicalResourceId": "Queue", "ResourceType": "AWS::SQS::Queue", "Action": "Add"},
    }
    cfn = boto3.client("cloudformation", region_name="eu-north-1", aws_access_key_id="x", aws_secret_access_key="x")
    with Stubber(cfn) as stub:
        for change_set_id, changes in (
            ("cs-root", [nested("DataStack", "cs-data")]),
            ("cs-data", [nested("QueueStack", "cs-queues")]),
            ("cs-queues", [leaf]),
        ):
            stub.add_response(
                "describe_change_set",
                page(change_set_id, changes),
                {"ChangeSetName": change_set_id, "IncludePropertyValues": True},
            )
        review = review_change_set(
            cfn, "cs-root", layer_of={"DataStack": "data"}.get, stateful_ids_of=lambda layer: frozenset()
        )
        stub.assert_no_pending_responses()
    assert [(c.layer, c.logical_id) for c in review.changes] == [("data/QueueStack", "Queue")]
    assert review.notes == ()


def test_the_compact_table_folds_a_word_longer_than_its_column_and_keeps_every_character():
    from deployer.review import Review, resource_change

    long_id = "ServiceApi" + "X" * 90  # CloudFormation allows 255 characters
    change = resource_change(
        "compute", {"LogicalResourceId": long_id, "ResourceType": "AWS::SNS::Topic", "Action": "Add"}, frozenset()
    )
    text = re.sub(r"\x1b\[[0-9;]*m", "", rendered(to_compact_table(Review("shop", "cs", "CREATE", (change,))), 80))
    assert max(len(line) for line in text.splitlines()) <= 80
    assert "".join(line.strip() for line in text.splitlines()).count("X" * 90) == 1  # folded, not cut

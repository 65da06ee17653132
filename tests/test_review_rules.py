"""The review's rules with their exact words: what makes a change HIGH or DATA LOSS (rate), what
CloudFormation will refuse at execute time (blocked: a custom name that stays, a stack policy that
denies), and how changes count per layer. Each reason is what a reviewer reads, so each is pinned."""

from __future__ import annotations

import pytest

from deployer.review import Facts, PropertyChange, Risk, blocked, rate, resource_change

NO_VALUES = (None,) * 7


def prop(name: str, recreation: str = "Always") -> PropertyChange:
    return PropertyChange("Properties", name, recreation, "DirectModification", None, *NO_VALUES)


@pytest.mark.parametrize(
    ("action", "replacement", "policy", "expected"),
    [
        ("Remove", None, "Delete", (Risk.DATA_LOSS, "stateful resource removed and its old copy deleted (Delete)")),
        ("Modify", "True", "ReplaceAndDelete", (Risk.DATA_LOSS, "stateful resource replaced and its old copy deleted "
                                                                "(ReplaceAndDelete)")),
        ("Modify", "True", "ReplaceAndRetain", (Risk.HIGH, "stateful resource replaced, old copy: ReplaceAndRetain")),
        ("Modify", "Conditional", "ReplaceAndDelete", (Risk.HIGH, "stateful resource conditionally replaced, old copy: "
                                                                  "ReplaceAndDelete")),
        ("Modify", "True", None, (Risk.HIGH, "stateful resource replaced, policy action not reported")),
        ("Remove", None, "Retain", (Risk.HIGH, "stateful resource removed, old copy: Retain")),
    ],
)  # fmt: skip
def test_a_stateful_resource_replaced_or_removed_is_high_or_data_loss_with_its_reason(
    action, replacement, policy, expected
):
    risk, reasons = rate("AWS::RDS::DBInstance", action, replacement, policy, (), True)
    assert (risk, reasons) == (expected[0], (expected[1],))


def test_only_a_key_policy_makes_a_kms_key_change_medium():
    assert rate("AWS::KMS::Key", "Modify", "False", None, (prop("KeyPolicy", "Never"),), True) == (
        Risk.MEDIUM,
        ("KMS key policy change",),
    )
    assert rate("AWS::KMS::Key", "Modify", "False", None, (prop("Description", "Never"),), True) == (Risk.LOW, ())
    assert rate("AWS::SNS::Topic", "Modify", "False", None, (prop("KeyPolicy", "Never"),), False) == (Risk.LOW, ())


def test_a_replaced_security_group_that_carries_no_traffic_has_both_reasons_in_order():
    assert rate("AWS::ECS::Service", "Modify", "Conditional", None, (), False) == (
        Risk.MEDIUM,
        ("interrupts traffic", "conditional replacement"),
    )


NAMED = Facts(names={("data", "Database"): "shop-prod-db", ("data", "Bucket"): "shop-prod-files"})
GUARDED = Facts(guarded={"data": frozenset({"Database"}), "root": frozenset({"DataStack"})})


@pytest.mark.parametrize(
    ("logical_id", "kind", "action", "replacement", "properties", "stateful", "facts", "expected"),
    [
        # a custom name that stays blocks a replacement
        ("Database", "AWS::RDS::DBInstance", "Modify", "True", (prop("EngineVersion"),), True, NAMED, (
            Risk.WILL_FAIL,
            ("custom-named (shop-prod-db): CloudFormation cannot replace it; change its name or logical id with this "
             "change",),
            ("custom-name",),
        )),
        # renamed with this change: CloudFormation can replace it
        ("Bucket", "AWS::S3::Bucket", "Modify", "True", (prop("BucketName"),), True, NAMED, (None, (), ())),
        # a conditional replacement fails only if it happens
        ("Database", "AWS::RDS::DBInstance", "Modify", "Conditional", (prop("Port", "Conditionally"),), True, NAMED, (
            Risk.MEDIUM,
            ("custom-named (shop-prod-db): the update fails if CloudFormation has to replace it",),
            (),
        )),
        # an unnamed resource, or one not replaced, is not blocked by a name
        ("Cache", "AWS::ElastiCache::ReplicationGroup", "Modify", "True", (), True, NAMED, (None, (), ())),
        ("Database", "AWS::RDS::DBInstance", "Modify", "False", (prop("Port", "Never"),), True, NAMED, (None, (), ())),
        # the stack policy of its layer denies replacing it
        ("Database", "AWS::RDS::DBInstance", "Modify", "True", (), True, GUARDED, (
            Risk.WILL_FAIL,
            ("the stack policy of data denies replacing it: pass --allow-replacement data/Database to allow it",),
            ("stack-policy",),
        )),
        # ... and removing any stateful resource of a guarded layer
        ("Files", "AWS::EFS::FileSystem", "Remove", None, (), True, GUARDED, (
            Risk.WILL_FAIL,
            ("the stack policy of data denies removing it: pass --allow-replacement data/Files to allow it",),
            ("stack-policy",),
        )),
        # a stateless resource of that layer may go; a layer without a policy does not block
        ("Alarm", "AWS::CloudWatch::Alarm", "Remove", None, (), False, GUARDED, (None, (), ())),
        ("Files", "AWS::EFS::FileSystem", "Remove", None, (), True, Facts(guarded={"other": frozenset()}), (
            None, (), ()
        )),
        # a nested stack itself is guarded by the root's policy
        ("DataStack", "AWS::CloudFormation::Stack", "Modify", "True", (), True, GUARDED, (
            Risk.WILL_FAIL,
            ("the stack policy of root denies replacing it: pass --allow-replacement data/DataStack to allow it",),
            ("stack-policy",),
        )),
        # named by --allow-replacement: the deployer loosens the policy for it
        ("Database", "AWS::RDS::DBInstance", "Modify", "True", (), True, Facts(
            guarded=GUARDED.guarded, allowed=("data/Database",)
        ), (None, (), ())),
        # a name nested in a property: renaming changes that top property
        ("Plan", "AWS::Backup::BackupPlan", "Modify", "True", (prop("BackupPlan"),), False, Facts(
            names={("data", "Plan"): "plan-shop-prod"}
        ), (None, (), ())),
        ("Plan", "AWS::Backup::BackupPlan", "Modify", "True", (prop("BackupPlanTags"),), False, Facts(
            names={("data", "Plan"): "plan-shop-prod"}
        ), (
            Risk.WILL_FAIL,
            ("custom-named (plan-shop-prod): CloudFormation cannot replace it; change its name or logical id with "
             "this change",),
            ("custom-name",),
        )),
        # a type without a name property cannot be custom-named
        ("Queue", "AWS::SQS::QueuePolicy", "Modify", "True", (prop("Queues"),), False, Facts(
            names={("data", "Queue"): "q"}
        ), (
            Risk.WILL_FAIL,
            ("custom-named (q): CloudFormation cannot replace it; change its name or logical id with this change",),
            ("custom-name",),
        )),
        # an update in place is never blocked
        ("Database", "AWS::RDS::DBInstance", "Modify", "False", (), True, GUARDED, (None, (), ())),
    ],
)  # fmt: skip
def test_what_cloudformation_will_refuse_at_execute_time(
    logical_id, kind, action, replacement, properties, stateful, facts, expected
):
    assert blocked("data", logical_id, kind, action, replacement, properties, stateful, facts) == expected


def test_a_name_and_a_policy_both_block_and_both_are_said_first():
    facts = Facts(names=NAMED.names, guarded=GUARDED.guarded)
    change = resource_change(
        "data",
        {
            "LogicalResourceId": "Database",
            "ResourceType": "AWS::RDS::DBInstance",
            "Action": "Modify",
            "Replacement": "True",
            "PolicyAction": "ReplaceAndSnapshot",
        },
        frozenset({"Database"}),
        facts,
    )
    assert change.risk is Risk.WILL_FAIL
    assert change.blockers == ("custom-name", "stack-policy")
    assert change.reasons == (
        "custom-named (shop-prod-db): CloudFormation cannot replace it; change its name or logical id with this change",
        "the stack policy of data denies replacing it: pass --allow-replacement data/Database to allow it",
        "stateful resource replaced, old copy: ReplaceAndSnapshot",
    )


@pytest.mark.parametrize("drift", ["MODIFIED", "DELETED"])
def test_a_change_that_reverts_drift_is_at_least_medium(drift):
    raw = {"LogicalResourceId": "Queue", "ResourceType": "AWS::SQS::Queue", "Action": "Modify", "Replacement": "False"}
    change = resource_change("data", raw | {"ResourceDriftStatus": drift}, frozenset())
    assert change.risk is Risk.MEDIUM
    assert change.reasons == (f"drifted ({drift}): the change overwrites what was changed outside CloudFormation",)
    in_sync = resource_change("data", raw | {"ResourceDriftStatus": "IN_SYNC"}, frozenset())
    assert (in_sync.risk, in_sync.reasons) == (Risk.LOW, ())
    synced = resource_change("data", raw | {"ResourceDriftStatus": drift, "Action": "SyncWithActual"}, frozenset())
    assert (synced.risk, synced.reasons) == (Risk.LOW, ())


def test_changes_count_per_layer_in_the_order_the_review_lists_them():
    from deployer.review import LayerSummary, Review, ordered

    def change(layer, logical_id, action, replacement=None, kind="AWS::CloudWatch::Alarm"):
        raw = {"LogicalResourceId": logical_id, "ResourceType": kind, "Action": action, "Replacement": replacement}
        return resource_change(layer, raw, frozenset())

    changes = ordered(
        [
            change("data", "A1", "Add"),
            change("data", "A2", "Add"),
            change("data", "R1", "Remove"),
            change("data", "R2", "Remove"),
            change("data", "M1", "Modify", "False"),
            change("data", "M2", "Modify", "False"),
            change("data", "P1", "Modify", "True"),
            change("data", "P2", "Modify", "Conditional"),
            change("compute", "S", "Modify", "True", "AWS::ECS::Service"),
        ]
    )
    review = Review("shop-prod", "cs", "UPDATE", changes)
    assert review.summaries() == [
        LayerSummary("compute", 0, 0, 1, 0, Risk.MEDIUM),  # first: its change is the riskiest
        LayerSummary("data", 2, 2, 2, 2, Risk.MEDIUM),
    ]
    assert review.highest is Risk.MEDIUM
    assert [c.logical_id for c in review.at_least(Risk.MEDIUM)] == ["S", "P2"]
    assert Review("shop-prod", "cs", "UPDATE", ()).highest is None


def test_a_change_without_type_or_attribute_reads_as_empty_text():
    change = resource_change(
        "data", {"LogicalResourceId": "X", "Action": "Add", "Details": [{"Target": {}}]}, frozenset()
    )
    assert change.resource_type == "" and change.properties[0].attribute == ""
    assert str(change.properties[0]) == ""

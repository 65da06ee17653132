"""Nested change sets computed offline (deployer/offline.py) against the recorded real nested change
sets in tests/fixtures/changesets: deployed and new templates that make exactly those changes give
the same action, replacement and policy action for every resource; then the rules one by one."""

from __future__ import annotations

import copy

import pytest

from deployer.offline import Side, compute
from deployer.review import Facts, Risk, resource_change
from tests.test_deployer_review import LAYERS, STATEFUL, recorded_review

REGION = "eu-north-1"


def _network(cidr_source: dict, log_group: str, tag: str, *, key: bool, endpoint: bool) -> dict:
    resources = {
        "FlowLogsLogGroup": {
            "Type": "AWS::Logs::LogGroup",
            "DeletionPolicy": "Delete",
            "UpdateReplacePolicy": "Delete",
            "Properties": {"LogGroupName": log_group, "RetentionInDays": 7},
        },
        "PrivateRouteTable1": {
            "Type": "AWS::EC2::RouteTable",
            "Properties": {"VpcId": {"Ref": "Vpc"}, "Tags": [{"Key": "Name", "Value": tag}]},
        },
        "PublicSubnet1": {
            "Type": "AWS::EC2::Subnet",
            "Properties": {"VpcId": {"Ref": "Vpc"}, "CidrBlock": cidr_source},
        },
        "Vpc": {"Type": "AWS::EC2::VPC", "Properties": {"CidrBlock": "10.0.0.0/16"}},
    }
    if key:
        resources["FlowLogsKey"] = {
            "Type": "AWS::KMS::Key",
            "DeletionPolicy": "Retain",
            "UpdateReplacePolicy": "Retain",
            "Properties": {"KeyPolicy": {"Version": "2012-10-17"}},
        }
    if endpoint:
        resources["VpcEndpointLogs"] = {
            "Type": "AWS::EC2::VPCEndpoint",
            "Properties": {"VpcId": {"Ref": "Vpc"}, "ServiceName": "com.amazonaws.eu-north-1.logs"},
        }
    return {
        "Parameters": {"VpcCidr": {"Type": "String"}},
        "Resources": resources,
        "Outputs": {"VpcId": {"Value": {"Ref": "Vpc"}}},
    }


def _security(secret_name: str, actions: list[str], key_policy: dict, ingress_port: int) -> dict:
    return {
        "Parameters": {"VpcId": {"Type": "String"}},
        "Resources": {
            "DatabaseSecret": {
                "Type": "AWS::SecretsManager::Secret",
                "DeletionPolicy": "Retain",
                "UpdateReplacePolicy": "Retain",
                "Properties": {"Name": secret_name},
            },
            "ServiceApiTaskRole": {
                "Type": "AWS::IAM::Role",
                "Properties": {
                    "AssumeRolePolicyDocument": {
                        "Statement": [
                            {
                                "Effect": "Allow",
                                "Principal": {"Service": "ecs-tasks.amazonaws.com"},
                                "Action": "sts:AssumeRole",
                            }
                        ]
                    },
                    "Policies": [
                        {
                            "PolicyName": "api",
                            "PolicyDocument": {"Statement": [{"Effect": "Allow", "Action": actions, "Resource": "*"}]},
                        }
                    ],
                },
            },
            "ApplicationKey": {
                "Type": "AWS::KMS::Key",
                "DeletionPolicy": "Retain",
                "UpdateReplacePolicy": "Retain",
                "Properties": {"KeyPolicy": key_policy},
            },
            "ApplicationKeyAlias": {
                "Type": "AWS::KMS::Alias",
                "Properties": {"AliasName": "alias/app", "TargetKeyId": {"Ref": "ApplicationKey"}},
            },
            "AlbSecurityGroup": {
                "Type": "AWS::EC2::SecurityGroup",
                "Properties": {
                    "GroupDescription": "load balancer",
                    "VpcId": {"Ref": "VpcId"},
                    "SecurityGroupIngress": [
                        {"IpProtocol": "tcp", "FromPort": ingress_port, "ToPort": ingress_port, "CidrIp": "0.0.0.0/0"}
                    ],
                },
            },
        },
    }


def _root(cidr: str) -> dict:
    return {
        "Parameters": {"VpcCidr": {"Type": "String", "Default": cidr}},
        "Resources": {
            "NetworkStack": {
                "Type": "AWS::CloudFormation::Stack",
                "Properties": {
                    "TemplateURL": "https://b.s3/network.aaaa.json",
                    "Parameters": {"VpcCidr": {"Ref": "VpcCidr"}},
                },
            },
            "SecurityStack": {
                "Type": "AWS::CloudFormation::Stack",
                "Properties": {
                    "TemplateURL": "https://b.s3/security.aaaa.json",
                    "Parameters": {"VpcId": {"Fn::GetAtt": ["NetworkStack", "Outputs.VpcId"]}},
                },
            },
        },
    }


# The subnet's CIDR is carved out of the VPC CIDR parameter by Fn::Cidr, which is left to deploy time.
CARVED = {"Fn::Select": [0, {"Fn::Cidr": [{"Ref": "VpcCidr"}, 4, 8]}]}
OLD = Side(
    _root("10.0.0.0/16"),
    {"VpcCidr": "10.0.0.0/16"},
    {
        "NetworkStack": _network(CARVED, "/vpc/flow-logs/old", "private-1", key=True, endpoint=False),
        "SecurityStack": _security("db-old", ["s3:GetObject"], {"Version": "2012-10-17", "Id": "old"}, 80),
    },
)
NEW = Side(
    _root("10.1.0.0/16") | {},
    {"VpcCidr": "10.1.0.0/16"},
    {
        "NetworkStack": _network(CARVED, "/vpc/flow-logs/vpc-prod", "private-route-table-1", key=False, endpoint=True),
        "SecurityStack": _security(
            "db-credentials", ["s3:GetObject", "s3:PutObject"], {"Version": "2012-10-17", "Id": "new"}, 443
        ),
    },
)
NEW.root["Resources"]["NetworkStack"]["Properties"]["TemplateURL"] = (
    "https://b.s3/network.bbbb.json"  # content-hashed: differs
)


def computed_review():
    changes = []
    for key, raw in compute(OLD, NEW, region=REGION):
        layer = LAYERS.get(key, "root")
        changes.append(resource_change(layer, raw, STATEFUL.get(layer, frozenset())))
    return changes


def test_computed_nested_change_sets_agree_with_the_recorded_ones():
    recorded = {(c.layer, c.logical_id): (c.action, c.replacement, c.policy_action) for c in recorded_review().changes}
    computed = {(c.layer, c.logical_id): (c.action, c.replacement, c.policy_action) for c in computed_review()}
    assert computed == recorded
    assert len(computed) == 10


def test_computed_review_rates_like_the_recorded_one():
    recorded = {
        (c.layer, c.logical_id): (
            c.risk,
            tuple(sorted((p.name, p.requires_recreation, p.change_source, p.causing_entity) for p in c.causes)),
        )
        for c in recorded_review().changes
    }
    computed = {
        (c.layer, c.logical_id): (
            c.risk,
            tuple(sorted((p.name, p.requires_recreation, p.change_source, p.causing_entity) for p in c.causes)),
        )
        for c in computed_review()
    }
    assert computed == recorded


def test_before_and_after_values_per_path():
    by_id = {c.logical_id: c for c in computed_review()}
    group = by_id["FlowLogsLogGroup"].properties
    assert [(p.path, p.before, p.after, p.requires_recreation) for p in group] == [
        ("/Properties/LogGroupName", "/vpc/flow-logs/old", "/vpc/flow-logs/vpc-prod", "Always")
    ]
    ingress = {p.path: (p.before, p.after) for p in by_id["AlbSecurityGroup"].properties}
    assert ingress == {
        "/Properties/SecurityGroupIngress/0/FromPort": ("80", "443"),
        "/Properties/SecurityGroupIngress/0/ToPort": ("80", "443"),
    }
    alias = by_id["ApplicationKeyAlias"].properties
    assert [(p.change_source, p.causing_entity, p.requires_recreation) for p in alias] == [
        ("ResourceReference", "ApplicationKey", "Never")
    ]
    assert str(by_id["AlbSecurityGroup"].properties[0]) == "SecurityGroupIngress/0/FromPort: 80 → 443"


def test_unchanged_templates_and_parameters_are_no_changes():
    same = Side(copy.deepcopy(OLD.root), dict(OLD.parameters), copy.deepcopy(OLD.nested))
    same.root["Resources"]["NetworkStack"]["Properties"]["TemplateURL"] = "https://b.s3/network.cccc.json"
    assert compute(OLD, same, region=REGION) == []


def test_a_first_create_adds_every_resource_of_every_layer():
    added = compute(Side({}, {}, {}), NEW, region=REGION)
    assert {(key, raw["Action"]) for key, raw in added} == {("NetworkStack", "Add"), ("SecurityStack", "Add")}
    assert len(added) == len(NEW.nested["NetworkStack"]["Resources"]) + len(NEW.nested["SecurityStack"]["Resources"])


def _one_layer(old_resources: dict, new_resources: dict, *, old_params=None, new_params=None, root_passes=None):
    """A root with a Source stack (its output Out) and a Layer stack fed by root parameter P and Source's output."""
    passes = root_passes or {"P": {"Ref": "P"}, "FromSource": {"Fn::GetAtt": ["SourceStack", "Outputs.Out"]}}

    def side(source_value, resources, values):
        root = {
            "Parameters": {"P": {"Type": "String"}},
            "Resources": {
                "SourceStack": {"Type": "AWS::CloudFormation::Stack", "Properties": {"TemplateURL": "s"}},
                "LayerStack": {
                    "Type": "AWS::CloudFormation::Stack",
                    "Properties": {"TemplateURL": "l", "Parameters": passes},
                },
            },
        }
        source = {
            "Resources": {
                "Topic": {"Type": "AWS::SNS::Topic", "Properties": {"TopicName": "t", "DisplayName": source_value}}
            },
            "Outputs": {"Out": {"Value": {"Fn::GetAtt": ["Topic", "DisplayName"]}}},
        }
        layer = {"Parameters": {"P": {"Type": "String"}, "FromSource": {"Type": "String"}}, "Resources": resources}
        return Side(root, values, {"SourceStack": source, "LayerStack": layer})

    old = side("same", old_resources, old_params or {"P": "a"})
    new = side("same", new_resources, new_params or {"P": "a"})
    return {raw["LogicalResourceId"]: raw for _, raw in compute(old, new, region=REGION)}


def test_a_root_parameter_reaches_the_nested_stack_and_replaces_a_create_only_property():
    group = {
        "G": {
            "Type": "AWS::EC2::SecurityGroup",
            "Properties": {"GroupDescription": {"Fn::Sub": "port ${P}"}, "VpcId": "vpc-1"},
        }
    }
    changes = _one_layer(group, group, old_params={"P": "3000"}, new_params={"P": "8080"})
    detail = changes["G"]["Details"][0]
    assert (changes["G"]["Replacement"], changes["G"]["PolicyAction"]) == ("True", "ReplaceAndDelete")
    assert (
        detail["ChangeSource"],
        detail["CausingEntity"],
        detail["Target"]["BeforeValue"],
        detail["Target"]["AfterValue"],
    ) == ("ParameterReference", "P", "port 3000", "port 8080")


def test_another_stacks_output_that_may_change_makes_a_create_only_property_conditional():
    def topic(display):
        return {
            "Resources": {"Topic": {"Type": "AWS::SNS::Topic", "Properties": {"TopicName": display}}},
            "Outputs": {"Out": {"Value": {"Ref": "Topic"}}},
        }

    root = {
        "Resources": {
            "SourceStack": {"Type": "AWS::CloudFormation::Stack", "Properties": {"TemplateURL": "s"}},
            "LayerStack": {
                "Type": "AWS::CloudFormation::Stack",
                "Properties": {
                    "TemplateURL": "l",
                    "Parameters": {"FromSource": {"Fn::GetAtt": ["SourceStack", "Outputs.Out"]}},
                },
            },
        }
    }
    layer = {
        "Parameters": {"FromSource": {"Type": "String"}},
        "Resources": {
            "G": {
                "Type": "AWS::EC2::SecurityGroup",
                "Properties": {"GroupDescription": {"Ref": "FromSource"}, "VpcId": "vpc-1"},
            },
            "Untouched": {"Type": "AWS::SNS::Topic", "Properties": {"DisplayName": "x"}},
        },
    }
    old = Side(root, {}, {"SourceStack": topic("t-1"), "LayerStack": layer})
    new = Side(root, {}, {"SourceStack": topic("t-2"), "LayerStack": layer})
    changes = {raw["LogicalResourceId"]: raw for _, raw in compute(old, new, region=REGION)}
    assert changes["Topic"]["Replacement"] == "True"  # TopicName is create-only: a new topic ARN
    detail = changes["G"]["Details"][0]
    assert changes["G"]["Replacement"] == "Conditional"
    assert (
        detail["ChangeSource"],
        detail["CausingEntity"],
        detail["Evaluation"],
        detail["Target"]["RequiresRecreation"],
    ) == ("ParameterReference", "FromSource", "Dynamic", "Conditionally")
    assert detail["Target"]["AfterValue"] == "(known after apply: FromSource)"
    assert "Untouched" not in changes


def test_policy_actions_follow_deletion_and_update_replace_policies():
    before = {
        "Kept": {"Type": "AWS::S3::Bucket", "DeletionPolicy": "Retain", "Properties": {}},
        "Snap": {
            "Type": "AWS::RDS::DBCluster",
            "DeletionPolicy": "Snapshot",
            "Properties": {"Engine": "aurora-postgresql"},
        },
        "Gone": {"Type": "AWS::SNS::Topic", "Properties": {}},
        "Db": {
            "Type": "AWS::RDS::DBCluster",
            "UpdateReplacePolicy": "Snapshot",
            "Properties": {"Engine": "aurora-postgresql", "DatabaseName": "a"},
        },
        "Sleepy": {
            "Type": "AWS::RDS::DBCluster",
            "DeletionPolicy": "RetainExceptOnCreate",
            "Properties": {"Engine": "aurora-postgresql"},
        },
    }
    after = {
        "Db": {
            "Type": "AWS::RDS::DBCluster",
            "UpdateReplacePolicy": "Snapshot",
            "Properties": {"Engine": "aurora-postgresql", "DatabaseName": "b"},
        }
    }
    changes = _one_layer(before, after)
    assert {k: (v["Action"], v.get("PolicyAction")) for k, v in changes.items()} == {
        "Kept": ("Remove", "Retain"),
        "Snap": ("Remove", "Snapshot"),
        "Gone": ("Remove", "Delete"),
        "Sleepy": ("Remove", "Retain"),
        "Db": ("Modify", "ReplaceAndSnapshot"),
    }


def test_a_false_condition_removes_the_resource_and_an_unchanged_one_keeps_it():
    resources = {"Https": {"Type": "AWS::SNS::Topic", "Condition": "HasP", "Properties": {}}}
    conditions = {"HasP": {"Fn::Not": [{"Fn::Equals": [{"Ref": "P"}, ""]}]}}

    def side(value):
        root = {
            "Parameters": {"P": {"Type": "String"}},
            "Resources": {
                "LayerStack": {
                    "Type": "AWS::CloudFormation::Stack",
                    "Properties": {"TemplateURL": "l", "Parameters": {"P": {"Ref": "P"}}},
                }
            },
        }
        return Side(
            root,
            {"P": value},
            {"LayerStack": {"Parameters": {"P": {"Type": "String"}}, "Conditions": conditions, "Resources": resources}},
        )

    assert compute(side("arn"), side("arn"), region=REGION) == []
    assert [(raw["LogicalResourceId"], raw["Action"]) for _, raw in compute(side("arn"), side(""), region=REGION)] == [
        ("Https", "Remove")
    ]


# ------------------------------------------------------------------ what will fail


def _change(
    resource_type,
    replacement,
    properties=(("Port", "Always"),),
    action="Modify",
    layer="edge",
    logical_id="TargetGroup",
    stateful=frozenset(),
):
    raw = {
        "Action": action,
        "LogicalResourceId": logical_id,
        "ResourceType": resource_type,
        "Replacement": replacement,
        "Details": [
            {
                "ChangeSource": "DirectModification",
                "Target": {"Attribute": "Properties", "Name": n, "RequiresRecreation": r},
            }
            for n, r in properties
        ],
    }
    return raw, layer, stateful


def test_replacing_a_custom_named_resource_will_fail_unless_the_name_changes_too():
    facts = Facts(names={("edge", "TargetGroup"): "tg-api-pr5706"})
    raw, layer, stateful = _change("AWS::ElasticLoadBalancingV2::TargetGroup", "True")
    failing = resource_change(layer, raw, stateful, facts)
    assert (failing.risk, failing.blockers) == (Risk.WILL_FAIL, ("custom-name",))
    assert failing.reasons[0].startswith("custom-named (tg-api-pr5706): CloudFormation cannot replace it")
    assert "interrupts traffic" in failing.reasons
    renamed, *_ = _change(
        "AWS::ElasticLoadBalancingV2::TargetGroup", "True", properties=(("Port", "Always"), ("Name", "Always"))
    )
    assert resource_change(layer, renamed, stateful, facts).risk is Risk.MEDIUM  # interrupts traffic, but executes
    maybe, *_ = _change(
        "AWS::ElasticLoadBalancingV2::TargetGroup", "Conditional", properties=(("VpcId", "Conditionally"),)
    )
    assert resource_change(layer, maybe, stateful, facts).risk is Risk.MEDIUM
    assert resource_change(layer, raw, stateful).risk is Risk.MEDIUM  # no facts: the name is not known


def test_a_change_the_stack_policy_denies_will_fail_and_names_the_flag_that_allows_it():
    facts = Facts(guarded={"data": frozenset({"DatabaseCluster"}), "root": frozenset()})
    raw, layer, stateful = _change(
        "AWS::RDS::DBCluster",
        "True",
        properties=(("DatabaseName", "Always"),),
        layer="data",
        logical_id="DatabaseCluster",
        stateful=frozenset({"DatabaseCluster"}),
    )
    raw["PolicyAction"] = "ReplaceAndSnapshot"
    denied = resource_change(layer, raw, stateful, facts)
    assert (denied.risk, denied.blockers) == (Risk.WILL_FAIL, ("stack-policy",))
    assert (
        "the stack policy of data denies replacing it: pass --allow-replacement data/DatabaseCluster to allow it"
        in denied.reasons
    )
    allowed = resource_change(layer, raw, stateful, Facts(guarded=facts.guarded, allowed=("DatabaseCluster",)))
    assert (allowed.risk, allowed.blockers) == (Risk.HIGH, ())
    removed = {
        "Action": "Remove",
        "LogicalResourceId": "OldLogs",
        "ResourceType": "AWS::Logs::LogGroup",
        "PolicyAction": "Delete",
        "Details": [],
    }
    assert (
        resource_change("data", removed, frozenset(), facts).risk is Risk.WILL_FAIL
    )  # the guard denies removing deployed stateful resources


@pytest.mark.parametrize("text", ["will-fail", "WILL_FAIL", "data-loss", "high", "Medium", "low"])
def test_every_level_parses(text):
    assert Risk.parse(text).name == text.upper().replace("-", "_")


def test_deploy_refuses_a_change_set_that_will_fail_and_never_executes(monkeypatch, tmp_path):
    """Through the CLI: the review (from DescribeChangeSet, Stubber) replaces a custom-named target
    group; deploy exits 1 naming it, and no ExecuteChangeSet call is made."""
    import contextlib

    import boto3
    from botocore.stub import Stubber
    from click.testing import CliRunner

    import generate
    from deployer import flow
    from deployer.changeset import ChangeSetRef
    from deployer.review import review_change_set
    from deployer.session import Aws

    cfn = boto3.client("cloudformation", region_name="eu-north-1", aws_access_key_id="x", aws_secret_access_key="x")
    change_set_id = "arn:aws:cloudformation:eu-north-1:111122223333:changeSet/cs/1"
    page = {
        "ChangeSetId": change_set_id,
        "ChangeSetName": "cs",
        "StackName": "product-catalog-pr5706",
        "Status": "CREATE_COMPLETE",
        "Changes": [
            {
                "Type": "Resource",
                "ResourceChange": {
                    "Action": "Modify",
                    "LogicalResourceId": "ServiceApiTargetGroup",
                    "ResourceType": "AWS::ElasticLoadBalancingV2::TargetGroup",
                    "Replacement": "True",
                    "PolicyAction": "ReplaceAndDelete",
                    "Details": [
                        {
                            "ChangeSource": "DirectModification",
                            "Evaluation": "Static",
                            "Target": {
                                "Attribute": "Properties",
                                "Name": "Port",
                                "RequiresRecreation": "Always",
                                "Path": "/Properties/Port",
                                "BeforeValue": "3000",
                                "AfterValue": "8080",
                            },
                        }
                    ],
                },
            }
        ],
    }
    stub = Stubber(cfn)
    stub.add_response("describe_change_set", page, {"ChangeSetName": change_set_id, "IncludePropertyValues": True})
    executed = []
    with stub:

        def fake_plan(aws, bundle, *args, **kwargs):
            review = review_change_set(
                cfn,
                change_set_id,
                layer_of=lambda logical_id: logical_id,
                stateful_ids_of=lambda layer: frozenset(),
                facts=Facts(names={("root", "ServiceApiTargetGroup"): "tg-api-pr5706"}),
            )
            return flow.PlanResult(
                None, ChangeSetRef(bundle.stack_name, "stack-id", change_set_id, "cs", "UPDATE"), review, (), {}
            )

        @contextlib.contextmanager
        def session(*args):
            yield Aws(
                boto3.Session(region_name="eu-north-1", aws_access_key_id="x", aws_secret_access_key="x"),
                _clients={"cloudformation": cfn},
            )

        monkeypatch.setattr(generate, "_plan", fake_plan)
        monkeypatch.setattr(generate, "_session", session)
        monkeypatch.setattr(flow, "run", lambda *a, **k: executed.append(a))
        result = CliRunner().invoke(
            generate.cli,
            ["deploy", "product-catalog", "--env", "dev", "--yes", "--bucket", "b", "--out", str(tmp_path / "dist")],
        )
        stub.assert_no_pending_responses()  # the review read the change set, and nothing else was called
    assert result.exit_code == 1, result.output
    assert (
        "cannot be executed (1 change(s) WILL FAIL): root/ServiceApiTargetGroup: custom-named (tg-api-pr5706)"
        in " ".join(result.output.split())
    )
    assert executed == []

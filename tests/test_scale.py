"""The 60-service platform: compute and observability split into parts that stay inside
CloudFormation's per-template limits, wired by the root; ALB quotas refused with a clear error."""

from __future__ import annotations

import functools
import json

import yaml
from click.testing import CliRunner

from generate import cli
from templates.common import SERVICES_PER_STACK, logical_id
from templates.config import AppConfig
from templates.params import REPO_PARAMS, load_config
from templates.render import render
from tests.conftest import rendered, template

APP, ENV = "platform-scale", "dev"


@functools.cache
def scale_cfg() -> AppConfig:
    return load_config(APP, ENV, REPO_PARAMS)


def with_services(count: int) -> AppConfig:
    """The scale profile cut (or grown, by copying svc01) to `count` services."""
    full = scale_cfg().model_dump()
    template_service = full["services"]["svc01"]
    services = {}
    for number in range(1, count + 1):
        name = f"svc{number:02d}"
        services[name] = full["services"].get(name) or {
            **template_service,
            "path_patterns": [f"/{name}/*"],
            "health_check": {**template_service["health_check"], "path": f"/{name}/health"},
        }
    return AppConfig.model_validate({**full, "services": services})


def test_the_scale_profile_has_sixty_services():
    assert len(scale_cfg().services) == 60


def test_no_template_breaks_a_cloudformation_limit():
    entries = rendered(APP, ENV).manifest["templates"]
    # root, network, security, edge, compute + 3 parts, observability + 3 parts
    assert [e["file"] for e in entries][:5] == [
        "root.json",
        "network.json",
        "security.json",
        "edge.json",
        "compute.json",
    ]
    assert len(entries) == 12
    for entry in entries:
        assert entry["resources"] <= 500, entry
        assert entry["bytes"] <= 1_000_000, entry
        assert entry["parameters"] <= 200, entry
        assert entry["outputs"] <= 200, entry


def test_compute_and_observability_split_into_three_parts_of_twenty_services():
    manifest = rendered(APP, ENV).manifest
    assert SERVICES_PER_STACK == 20
    assert manifest["split"] == {
        "compute": ["compute-services-1", "compute-services-2", "compute-services-3"],
        "observability": ["observability-services-1", "observability-services-2", "observability-services-3"],
    }
    names = list(scale_cfg().services)
    for number in (1, 2, 3):
        doc = template(APP, ENV, f"compute-services-{number}")
        services = sorted(k for k, v in doc["Resources"].items() if v["Type"] == "AWS::ECS::Service")
        assert services == sorted(logical_id("service", n, "Service") for n in names[(number - 1) * 20 : number * 20])
        alarms = template(APP, ENV, f"observability-services-{number}")["Resources"]
        assert f"{logical_id('service', names[(number - 1) * 20])}CpuAlarm" in alarms
    # The cluster part holds the cluster and no service; the main observability part no service alarm.
    assert {v["Type"] for v in template(APP, ENV, "compute")["Resources"].values()} == {
        "AWS::ECS::Cluster",
        "AWS::ECS::ClusterCapacityProviderAssociations",
    }
    assert not any(k.startswith("ServiceSvc") for k in template(APP, ENV, "observability")["Resources"])


def test_the_root_wires_each_part_from_the_part_that_outputs_the_value():
    stacks = template(APP, ENV, "root")["Resources"]
    part = stacks["ComputeServices2Stack"]["Properties"]["Parameters"]
    assert part["ClusterName"] == {"Fn::GetAtt": ["ComputeStack", "Outputs.ClusterName"]}
    assert part["ServiceSvc25TargetGroupArn"] == {"Fn::GetAtt": ["EdgeStack", "Outputs.ServiceSvc25TargetGroupArn"]}
    alarms = stacks["ObservabilityServices3Stack"]["Properties"]["Parameters"]
    assert alarms["AlarmTopicArn"] == {"Fn::GetAtt": ["ObservabilityStack", "Outputs.AlarmTopicArn"]}
    assert alarms["ServiceSvc60Name"] == {"Fn::GetAtt": ["ComputeServices3Stack", "Outputs.ServiceSvc60Name"]}
    dashboard = stacks["ObservabilityStack"]["Properties"]["Parameters"]
    assert dashboard["ServiceSvc41Name"] == {"Fn::GetAtt": ["ComputeServices3Stack", "Outputs.ServiceSvc41Name"]}


def test_root_keeps_image_tags_and_leaves_task_counts_at_the_params_values():
    root = template(APP, ENV, "root")
    manifest = rendered(APP, ENV).manifest
    tags = [f"ServiceSvc{n:02d}ImageTag" for n in range(1, 61)]
    assert set(tags) <= set(root["Parameters"])
    assert len(root["Parameters"]) <= 200
    counts = {f"ServiceSvc{n:02d}{k}" for n in range(1, 61) for k in ("DesiredCount", "MinCount", "MaxCount")}
    assert set(manifest["knobs_at_defaults"]) == counts
    assert root["Metadata"]["cfn-strata"]["knobs_at_defaults"] == sorted(counts)
    part = template(APP, ENV, "compute-services-1")
    assert "ServiceSvc01DesiredCount" not in root["Resources"]["ComputeServices1Stack"]["Properties"]["Parameters"]
    assert part["Parameters"]["ServiceSvc01DesiredCount"]["Default"] == scale_cfg().services["svc01"].desired_count == 1
    assert part["Parameters"]["ServiceSvc01MaxCount"]["Default"] == 4


def test_up_to_twenty_services_stay_in_one_layer_and_the_root_exposes_every_knob():
    out = render(with_services(20))
    assert out.manifest["split"] == {}
    assert out.manifest["knobs_at_defaults"] == []
    root = json.loads(out.files["root.json"])
    assert {"ServiceSvc20DesiredCount", "ServiceSvc20ImageTag"} <= set(root["Parameters"])
    assert "compute-services-1.json" not in out.files


def test_resources_grow_linearly_with_services():
    totals = {n: sum(e["resources"] for e in render(with_services(n)).manifest["templates"]) for n in (10, 30, 60)}
    per_service = (totals[60] - totals[30]) / 30
    # Linear: the same cost per service from 10 to 30 as from 30 to 60, give or take the fixed
    # cost of a split (the cluster part's two resources spread over 30 services).
    assert abs(per_service - (totals[30] - totals[10]) / 20) < 0.5
    assert per_service > 10  # target group, listener rule, role, group, repository, service, scaling, alarms...


def test_more_services_than_the_alb_has_rules_is_a_params_error(tmp_path):
    params = tmp_path / "params" / "big-scale"
    params.mkdir(parents=True)
    data = yaml.safe_load((REPO_PARAMS / APP / "base.yaml").read_text())
    data["application"] = "big-scale"
    for number in range(61, 102):
        data["services"][f"svc{number}"] = {**data["services"]["svc01"], "path_patterns": [f"/svc{number}/*"]}
    (params / "base.yaml").write_text(yaml.safe_dump(data, sort_keys=False))
    (params / "dev.yaml").write_text((REPO_PARAMS / APP / "dev.yaml").read_text())
    result = CliRunner().invoke(
        cli,
        [
            "generate",
            "big-scale",
            "--env",
            "dev",
            "--params",
            str(tmp_path / "params"),
            "--out",
            str(tmp_path / "dist"),
        ],
    )
    assert result.exit_code == 2, result.output
    assert (
        "services: 101 services need 101 listener rules, over the ALB's 100; split the platform into several profiles"
        in result.output
    )
    assert result.output.rstrip().endswith("(and 1 more problem)")  # the 101 target groups
    assert not (tmp_path / "dist").exists()

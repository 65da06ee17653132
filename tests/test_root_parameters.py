"""The root passes its parameters down as strings: CloudFormation refuses a CommaDelimitedList or
List<...> value for a nested stack's parameter (AWS Knowledge Center, "pass CommaDelimitedList
parameters to nested stacks": join it in the parent), and so does moto's server (a list where it
splits a string), which is how a local first deploy of smart-task failed."""

from __future__ import annotations

import pytest

from tests.conftest import ALL_TARGETS, template


def test_smart_task_auth_urls_reach_the_auth_stack_joined():
    root = template("smart-task", "prod", "root")
    assert root["Parameters"]["CallbackUrls"]["Type"] == "CommaDelimitedList"
    passed = root["Resources"]["AuthStack"]["Properties"]["Parameters"]
    assert passed["CallbackUrls"] == {"Fn::Join": [",", {"Ref": "CallbackUrls"}]}
    assert passed["LogoutUrls"] == {"Fn::Join": [",", {"Ref": "LogoutUrls"}]}


@pytest.mark.parametrize(("app", "env"), ALL_TARGETS)
def test_no_list_typed_root_parameter_is_passed_to_a_nested_stack_as_a_list(app, env):
    root = template(app, env, "root")
    types = {name: spec.get("Type", "String") for name, spec in root.get("Parameters", {}).items()}
    for logical_id, resource in root["Resources"].items():
        for name, value in resource.get("Properties", {}).get("Parameters", {}).items():
            if value == {"Ref": name}:
                kind = types[name]
                assert kind != "CommaDelimitedList" and not kind.startswith("List<"), (
                    f"{logical_id}.{name} is a {kind} passed as a list"
                )

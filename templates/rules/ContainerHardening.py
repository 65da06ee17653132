"""E9008: ECS containers are not privileged, not on the host network, log somewhere, and keep
secrets out of plain environment variables (AWS FSBP ECS.4, ECS.8, ECS.9, ECS.17)."""

from __future__ import annotations

from cfnlint.rules import CloudFormationLintRule, RuleMatch

from templates.rules._policy import branches, containers, is_true, items, present, properties, secret_like, source_url


class ContainerHardening(CloudFormationLintRule):
    id = "E9008"
    shortdesc = "ECS containers are unprivileged, not on the host network, logged, and keep secrets out of Environment"
    description = (
        "In every AWS::ECS::TaskDefinition: NetworkMode is not host (FSBP ECS.17); no container sets Privileged true "
        "(ECS.4); every container has a LogConfiguration (ECS.9); no Environment variable is named like a secret "
        "(a word PASSWORD, SECRET, TOKEN, CREDENTIALS, a name ending in KEY, or AWS_ACCESS_KEY_ID / "
        "AWS_SECRET_ACCESS_KEY / ECS_ENGINE_AUTH_DATA, ECS.8): inject those through Secrets."
    )
    source_url = source_url("E9008")
    tags = ["cfn-strata", "resources", "ecs", "containers"]

    def match(self, cfn):
        matches = []
        for name, task in cfn.get_resources(["AWS::ECS::TaskDefinition"]).items():
            base = ["Resources", name, "Properties"]
            if "host" in branches(properties(task).get("NetworkMode")):
                matches.append(
                    RuleMatch(
                        [*base, "NetworkMode"], f"{name} (AWS::ECS::TaskDefinition) uses NetworkMode host; use awsvpc"
                    )
                )
            for index, container, definition in containers(task):
                path = [*base, "ContainerDefinitions", index]
                if any(is_true(v) for v in branches(definition.get("Privileged"))):
                    matches.append(RuleMatch([*path, "Privileged"], f"{name} container {container} is Privileged"))
                if not present(definition.get("LogConfiguration")):
                    matches.append(RuleMatch(path, f"{name} container {container} has no LogConfiguration"))
                for position, variable in items(definition.get("Environment")):
                    variable_name = variable.get("Name") if isinstance(variable, dict) else None
                    if isinstance(variable_name, str) and secret_like(variable_name):
                        matches.append(
                            RuleMatch(
                                [*path, "Environment", position],
                                f"{name} container {container} passes {variable_name} as a plain "
                                "environment variable; use Secrets",
                            )
                        )
        return matches

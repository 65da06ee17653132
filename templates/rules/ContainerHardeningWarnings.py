"""W9008: ECS containers run with a read-only root file system (FSBP ECS.5) as a non-root user,
unless the task definition records why a container needs a writable root."""

from __future__ import annotations

from cfnlint.rules import CloudFormationLintRule, RuleMatch

from templates.rules._policy import always, branches, containers, is_true, present, source_url, strata

ROOT_USERS = {"root", "0"}


def _is_root(user) -> bool:
    """Unset (in any branch) or a literal root/0 user; a Ref to a parameter is the operator's choice."""
    if not present(user):
        return True
    return any(isinstance(v, str) and v.split(":", 1)[0] in ROOT_USERS for v in branches(user))


class ContainerHardeningWarnings(CloudFormationLintRule):
    id = "W9008"
    shortdesc = "ECS containers have a read-only root file system and a non-root User"
    description = (
        "Every container of an AWS::ECS::TaskDefinition sets ReadonlyRootFilesystem true (FSBP ECS.5) unless the task "
        "definition's Metadata lists it in cfn-strata.writable_root with a cfn-strata.reason, and sets User to "
        "something other than root or 0 (a container runs as root by default) unless the Metadata lists it in "
        "cfn-strata.root_user with a cfn-strata.reason. The params keys writable_root_reason and "
        "root_user_reason write both."
    )
    source_url = source_url("W9008")
    tags = ["cfn-strata", "resources", "ecs", "containers"]

    def match(self, cfn):
        matches = []
        for name, task in cfn.get_resources(["AWS::ECS::TaskDefinition"]).items():
            opt_out = strata(task)
            explained = bool(str(opt_out.get("reason", "")).strip())
            writable = set(opt_out.get("writable_root", [])) if explained else set()
            as_root = set(opt_out.get("root_user", [])) if explained else set()
            for key in ("writable_root", "root_user"):
                if opt_out.get(key) and not explained:
                    matches.append(
                        RuleMatch(
                            ["Resources", name, "Metadata"],
                            f"{name} (AWS::ECS::TaskDefinition) lists {key} containers without a reason; the "
                            "opt-out is ignored",
                        )
                    )
            seen = set()
            for index, container, definition in containers(task):
                seen.add(container)
                path = ["Resources", name, "Properties", "ContainerDefinitions", index]
                if container not in writable and not always(definition.get("ReadonlyRootFilesystem"), is_true):
                    matches.append(
                        RuleMatch(
                            path,
                            f"{name} container {container} has a writable root file system; set "
                            "ReadonlyRootFilesystem true or list it in Metadata cfn-strata.writable_root with "
                            "a reason",
                        )
                    )
                user = definition.get("User")
                if container not in as_root and _is_root(user):
                    matches.append(
                        RuleMatch(
                            path,
                            f"{name} container {container} runs as root; set User to a non-root user or list "
                            "it in Metadata cfn-strata.root_user with a reason",
                        )
                    )
            for key, listed in (("writable_root", writable), ("root_user", as_root)):
                for stale in sorted(listed - seen):
                    matches.append(
                        RuleMatch(
                            ["Resources", name, "Metadata"],
                            f"{name} (AWS::ECS::TaskDefinition) {key} names no container {stale}",
                        )
                    )
        return matches

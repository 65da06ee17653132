"""E9012: a container that runs as a non-root user does not listen on a privileged port (< 1024).

Linux lets a process bind a port below 1024 only with root or CAP_NET_BIND_SERVICE (capabilities(7);
net.ipv4.ip_unprivileged_port_start defaults to 1024). A non-root user has no effective
capabilities, and on Fargate a task can add only SYS_PTRACE (ECS developer guide, task definition
parameters, linuxParameters "capabilities": "Tasks launched on Fargate only support adding the
SYS_PTRACE kernel capability"). So `User: 1000:1000` with `ContainerPort: 80` never becomes healthy.

Root means: User unset (the image decides: not judged here, W9008 asks for a user), "root", "0",
or a "0:<group>" / "root:<group>" pair. The port is fine when the task lowers
net.ipv4.ip_unprivileged_port_start to it (SystemControls) or, off Fargate, the container adds
NET_BIND_SERVICE (LinuxParameters.Capabilities.Add).
"""

from __future__ import annotations

from cfnlint.rules import CloudFormationLintRule, RuleMatch

from templates.rules._policy import branches, containers, items, port, properties, source_url


def runs_as_root(user) -> bool:
    return str(user).split(":", 1)[0].strip() in ("root", "0")


class PrivilegedPortNonRoot(CloudFormationLintRule):
    id = "E9012"
    shortdesc = "Non-root containers do not listen on privileged ports"
    description = (
        "An ECS container with a non-root User and a PortMappings ContainerPort below 1024, without "
        "net.ipv4.ip_unprivileged_port_start lowered or (off Fargate) CAP_NET_BIND_SERVICE added: the process "
        "cannot bind."
    )
    source_url = source_url("E9012")
    tags = ["cfn-strata", "resources", "ecs", "containers", "preflight"]

    def match(self, cfn):
        matches = []
        for name, task in sorted(cfn.get_resources(["AWS::ECS::TaskDefinition"]).items()):
            props = properties(task)
            fargate = "FARGATE" in [str(c).upper() for _, c in items(props.get("RequiresCompatibilities"))]
            unprivileged_from = 1024
            for _, control in items(props.get("SystemControls")):
                if isinstance(control, dict) and control.get("Namespace") == "net.ipv4.ip_unprivileged_port_start":
                    unprivileged_from = port(control.get("Value")) if port(control.get("Value")) is not None else 1024
            for index, container, definition in containers(task):
                users = [u for u in branches(definition.get("User")) if u is not None]
                if not users or all(runs_as_root(u) for u in users):
                    continue
                added = (
                    definition.get("LinuxParameters", {}).get("Capabilities", {}).get("Add", [])
                    if isinstance(definition.get("LinuxParameters"), dict)
                    else []
                )
                can_bind = not fargate and any(
                    str(c).upper() in ("NET_BIND_SERVICE", "CAP_NET_BIND_SERVICE")
                    for c in (added if isinstance(added, list) else [])
                )
                for position, mapping in items(definition.get("PortMappings")):
                    for value in branches(mapping.get("ContainerPort") if isinstance(mapping, dict) else None):
                        number = port(value)
                        if number is not None and number < min(1024, unprivileged_from) and not can_bind:
                            user = next(u for u in users if not runs_as_root(u))
                            matches.append(
                                RuleMatch(
                                    [
                                        "Resources",
                                        name,
                                        "Properties",
                                        "ContainerDefinitions",
                                        index,
                                        "PortMappings",
                                        position,
                                        "ContainerPort",
                                    ],
                                    f"{name} container {container} runs as user {user} but listens on port "
                                    f"{number}: a non-root process "
                                    "cannot bind below "
                                    f"1024{' and Fargate cannot add CAP_NET_BIND_SERVICE' if fargate else ''}; "
                                    "use a port >= 1024",
                                )
                            )
        return matches

"""E9013: a service whose image comes from a repository created in the same deploy starts at zero
tasks until an image tag is given.

On a first deploy the repository is empty: a task definition pointing at `<repo>:<tag>` cannot
pull (CannotPullContainerError), the deployment circuit breaker fails the service and the stack
rolls back (ECS developer guide, "Amazon ECS deployment circuit breaker"; ECR user guide: an image
must be pushed before it can be pulled). The design (README "First deploy on a new account"):
`DesiredCount: Fn::If [<HasImage>, <knob>, 0]`, and the service's ScalableTarget `MinCapacity` the
same, where the condition tests the image-tag parameter the container image uses.

The image "comes from a repository created in the same deploy" when the container's Image refers
to an AWS::ECR::Repository of the same template, or (checked on the root) to a parameter the root
feeds from another layer's output that refers to one.
"""

from __future__ import annotations

from cfnlint.rules import CloudFormationLintRule, RuleMatch

from templates.rules._policy import containers, properties, source_url, target
from templates.rules._resolve import nested_templates, parameters_in, resources_in


def _condition_parameters(name: str, template: dict, seen: frozenset = frozenset()) -> set[str]:
    conditions = template.get("Conditions") or {}
    if name in seen or name not in conditions:
        return set()
    found = set(parameters_in(conditions[name], template))
    stack = [conditions[name]]
    while stack:
        node = stack.pop()
        if isinstance(node, dict):
            if isinstance(node.get("Condition"), str):
                found |= _condition_parameters(node["Condition"], template, seen | {name})
            stack.extend(node.values())
        elif isinstance(node, list):
            stack.extend(node)
    return found


def _guarded(value, image_parameters: set[str], template: dict) -> bool:
    """0, or Fn::If [cond, x, 0] / [cond, 0, x] whose condition tests a parameter of the image."""
    if value is not None and str(value) == "0":
        return True
    if isinstance(value, dict) and isinstance(value.get("Fn::If"), list) and len(value["Fn::If"]) == 3:
        condition, then, otherwise = value["Fn::If"]
        zero = str(then) == "0" or str(otherwise) == "0"
        return (
            zero and isinstance(condition, str) and bool(_condition_parameters(condition, template) & image_parameters)
        )
    return False


def unguarded_services(template: dict, repository_parameters: frozenset[str] = frozenset(), same_template: bool = True):
    """(service id, what) for every service whose image depends on a repository created in the same
    deploy and whose DesiredCount (or its ScalableTarget's MinCapacity) is not 0 until a tag is given."""
    resources = template.get("Resources") or {}
    repositories = {k for k, v in resources.items() if isinstance(v, dict) and v.get("Type") == "AWS::ECR::Repository"}
    found = []
    for service_id, service in sorted(resources.items()):
        if not isinstance(service, dict) or service.get("Type") != "AWS::ECS::Service":
            continue
        task_id = target(properties(service).get("TaskDefinition"))
        task = resources.get(task_id) if task_id else None
        if not isinstance(task, dict):
            continue
        image_parameters: set[str] = set()
        from_repository = []
        for _, container, definition in containers(task):
            image = definition.get("Image")
            via = (sorted(set(resources_in(image, template)) & repositories) if same_template else []) + sorted(
                set(parameters_in(image, template)) & repository_parameters
            )
            if via:
                from_repository.append((container, via))
                image_parameters |= set(parameters_in(image, template))
        if not from_repository:
            continue
        container, via = from_repository[0]
        origin = f"container {container} pulls from {', '.join(via)}, created in the same deploy"
        desired = properties(service).get("DesiredCount")
        if not _guarded(desired, image_parameters, template):
            found.append((service_id, f"DesiredCount {desired!r} is not 0 until an image tag is given ({origin})"))
        for scalable_id, scalable in sorted(resources.items()):
            if (
                isinstance(scalable, dict)
                and scalable.get("Type") == "AWS::ApplicationAutoScaling::ScalableTarget"
                and service_id in set(resources_in(properties(scalable).get("ResourceId"), template))
            ):
                minimum = properties(scalable).get("MinCapacity")
                if not _guarded(minimum, image_parameters, template):
                    found.append(
                        (
                            service_id,
                            f"its scalable target {scalable_id} has MinCapacity {minimum!r}, not 0 until "
                            f"an image tag is given ({origin})",
                        )
                    )
    return found


def _output_references(value) -> set[tuple[str, str]]:
    """(stack id, output name) of every Fn::GetAtt [Stack, Outputs.X] inside a value."""
    found, stack = set(), [value]
    while stack:
        node = stack.pop()
        if isinstance(node, dict):
            attribute = node.get("Fn::GetAtt")
            if isinstance(attribute, list) and len(attribute) == 2 and str(attribute[1]).startswith("Outputs."):
                found.add((attribute[0], attribute[1][len("Outputs.") :]))
            stack.extend(node.values())
        elif isinstance(node, list):
            stack.extend(node)
    return found


class FirstCreateOrdering(CloudFormationLintRule):
    id = "E9013"
    shortdesc = "Services start at zero tasks until their image exists"
    description = (
        "An AWS::ECS::Service whose container image comes from an AWS::ECR::Repository created in the same "
        "deploy (same "
        "template, or another layer's output wired by the root) has DesiredCount, and its ScalableTarget MinCapacity, "
        "0 unless the image-tag parameter is given (Fn::If on a condition over that parameter)."
    )
    source_url = source_url("E9013")
    tags = ["cfn-strata", "resources", "ecs", "first-deploy", "preflight"]

    def match(self, cfn):
        matches = [
            RuleMatch(
                ["Resources", service_id, "Properties", "DesiredCount"], f"{service_id} (AWS::ECS::Service) {what}"
            )
            for service_id, what in unguarded_services(cfn.template)
        ]
        children = nested_templates(cfn)
        if not children:
            return matches
        repository_outputs = set()
        for stack_id, child in children.items():
            child_repositories = {
                k
                for k, v in (child.get("Resources") or {}).items()
                if isinstance(v, dict) and v.get("Type") == "AWS::ECR::Repository"
            }
            for output, declared in (child.get("Outputs") or {}).items():
                if isinstance(declared, dict) and set(resources_in(declared.get("Value"), child)) & child_repositories:
                    repository_outputs.add((stack_id, output))
        for stack_id, child in sorted(children.items()):
            wiring = (cfn.template["Resources"][stack_id].get("Properties") or {}).get("Parameters") or {}
            fed = frozenset(p for p, v in wiring.items() if _output_references(v) & repository_outputs)
            if not fed:
                continue
            for service_id, what in unguarded_services(child, fed, same_template=False):
                matches.append(
                    RuleMatch(
                        ["Resources", stack_id], f"{stack_id} (AWS::CloudFormation::Stack) service {service_id}: {what}"
                    )
                )
        return matches

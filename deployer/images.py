"""Image tags at deploy time (issue 13, first deploy without an image).

A service's `ImageTag` parameter is empty unless the params file pins a tag
(`services.<name>.image_tag`): empty means "the pipeline decides", and the compute layer then runs
the service at 0 tasks. Two rules follow for a deploy from the command line:

- On a stack that exists, an unpinned tag is sent with `UsePreviousValue`, so a manual deploy
  never takes a running service back to 0 tasks or to an older tag the pipeline has replaced.
  (Only for parameters the deployed root already has: CloudFormation refuses `UsePreviousValue`
  for a key the previous template did not declare, e.g. a service added by this deploy.)
- A pinned tag must exist in the service's ECR repository before anything is uploaded or a change
  set is created (ECR DescribeImages); otherwise the tasks would fail with CannotPullContainerError
  and the deployment circuit breaker would fail the compute stack.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from botocore.exceptions import ClientError

from deployer.bundle import Bundle
from deployer.errors import DeployerError, error_code

IMAGE_TAG_KEY = re.compile(r"^services\.[^.]+\.image_tag$")


@dataclass(frozen=True)
class ImageParameter:
    name: str  # the parameter, e.g. ServiceApiImageTag
    key: str  # the params-file key it comes from, e.g. services.api.image_tag
    value: str  # the params file's value ("" = not pinned)
    repository: str  # name of the ECR repository the tag must exist in


def _refs(node, found: set[str], repositories: set[str]) -> None:
    """Every Ref and every `GetAtt X.RepositoryUri` inside an intrinsic-function expression."""
    if isinstance(node, dict):
        if "Ref" in node and isinstance(node["Ref"], str):
            found.add(node["Ref"])
        attribute = node.get("Fn::GetAtt")
        if isinstance(attribute, list) and len(attribute) == 2 and attribute[1] == "RepositoryUri":
            repositories.add(attribute[0])
        for value in node.values():
            _refs(value, found, repositories)
    elif isinstance(node, list):
        for value in node:
            _refs(value, found, repositories)


def _repository_of(document: dict, parameter: str) -> str | None:
    """Name of the repository whose URI is joined with `parameter` in a container image."""
    resources = document.get("Resources", {})
    for resource in resources.values():
        if resource.get("Type") != "AWS::ECS::TaskDefinition":
            continue
        for container in resource.get("Properties", {}).get("ContainerDefinitions", []):
            refs: set[str] = set()
            repositories: set[str] = set()
            _refs(container.get("Image"), refs, repositories)
            if parameter in refs and len(repositories) == 1:
                name = resources.get(next(iter(repositories)), {}).get("Properties", {}).get("RepositoryName")
                return name if isinstance(name, str) else None
    return None


def image_parameters(bundle: Bundle) -> list[ImageParameter]:
    """Every service image-tag parameter of the bundle, with its value and repository."""
    root = bundle.known_parameters()
    found = []
    for stack in bundle.manifest.get("stacks", []):
        if stack.get("scope", "nested") != "nested":
            continue
        for name, key in sorted(stack.get("knob_keys", {}).items()):
            if not IMAGE_TAG_KEY.match(key):
                continue
            document = bundle.document(stack["file"])
            repository = _repository_of(document, name)
            if repository is None:
                raise DeployerError(
                    f"{stack['file']}: no container image joins the repository URI with parameter {name}; "
                    f"cannot check {key}"
                )
            value = root[name] if name in root else str(document["Parameters"][name].get("Default", ""))
            found.append(ImageParameter(name, key, value, repository))
    return found


def change_set_parameters(bundle: Bundle, deployed: dict | None) -> list[dict]:
    """CreateChangeSet's Parameters: the params file's values, except that on an update an image
    tag the params file does not pin keeps the value the deployed stack has."""
    keep = set()
    if deployed is not None:
        existing = {p["ParameterKey"] for p in deployed.get("Parameters") or []}
        keep = {p.name for p in image_parameters(bundle) if not p.value and p.name in existing}
    return [
        {"ParameterKey": name, "UsePreviousValue": True}
        if name in keep
        else {"ParameterKey": name, "ParameterValue": value}
        for name, value in bundle.parameters().items()
    ]


def missing_image(ecr, parameter: ImageParameter) -> str | None:
    """Why the pinned tag cannot run, or None when ECR has it."""
    try:
        ecr.describe_images(repositoryName=parameter.repository, imageIds=[{"imageTag": parameter.value}])
        return None
    except ClientError as err:
        code = error_code(err)
        if code == "RepositoryNotFoundException":
            return (
                f"{parameter.key} pins {parameter.value!r}, but ECR repository {parameter.repository} does "
                "not exist yet (this deploy creates it empty): "
                f"leave {parameter.key} empty for a first deploy; the service starts at 0 tasks and the "
                "first pipeline run pushes the image and sets the tag"
            )
        if code == "ImageNotFoundException":
            return (
                f"{parameter.key} pins {parameter.value!r}, but ECR repository {parameter.repository} has "
                "no image with that tag: "
                f"push it first, or leave {parameter.key} empty to keep the tag the service runs"
            )
        raise


def check_pinned_images(ecr, bundle: Bundle) -> None:
    """Refuse, before anything is uploaded, when a pinned tag is not in its repository."""
    problems = [
        problem
        for parameter in image_parameters(bundle)
        if parameter.value and (problem := missing_image(ecr, parameter))
    ]
    if problems:
        raise DeployerError("; ".join(problems))


TAG = re.compile(r"^[\w][\w.-]{0,127}$")


def apply_image_tags(configuration_file, bundle: Bundle, tags: object, *, source: str = "image tags") -> list[str]:
    """Write the tags a pipeline's image build produced ({ImageTag parameter: tag}) into the
    template configuration `upload` wrote, so the pipeline's change set runs them. A tag the
    params file pins is kept (the pin is the operator's choice); a parameter this root does not
    have (a service the new templates removed) is left out. Returns notes for the build log."""
    import json
    from pathlib import Path

    if not isinstance(tags, dict) or not all(isinstance(k, str) and isinstance(v, str) for k, v in tags.items()):
        raise DeployerError(f"{source}: expected a JSON object of ImageTag parameter names to tags")
    for name, tag in sorted(tags.items()):
        if not TAG.match(tag):
            raise DeployerError(
                f"{source}: {name}: {tag!r} is not an image tag (letters, digits, _ . -, up to 128, not "
                "starting with . or -)"
            )
    path = Path(configuration_file)
    configuration = json.loads(path.read_text())
    parameters = configuration["Parameters"]
    known = {p.name: p for p in image_parameters(bundle) if p.name in parameters}
    notes = []
    for name, tag in sorted(tags.items()):
        parameter = known.get(name)
        if parameter is None:
            notes.append(
                f"{name} is not an image tag parameter of this root (a service the templates no longer have?): not set"
            )
        elif parameter.value:
            notes.append(
                f"{parameter.key} pins {parameter.value!r}: kept; the built {tag!r} is not deployed by this change set"
            )
        else:
            parameters[name] = tag
    path.write_text(json.dumps(configuration, indent=2, sort_keys=True) + "\n")
    return notes

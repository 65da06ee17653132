"""The root template: one AWS::CloudFormation::Stack per layer, wired output to parameter.

The root re-declares every knob parameter of its layers (same name, same constraints), so a
console launch of the root shows every deploy-time setting once, grouped by layer. Inputs from a
`global` layer (us-east-1) cannot be a GetAtt; they become root parameters the deployer fills
from the global stack's outputs.
"""

from __future__ import annotations

from collections.abc import Callable

from troposphere import GetAtt, Join, Output, Parameter, Ref, Tags, Template, cloudformation

from templates.common import CFN_VERSION, Layer, strata_metadata
from templates.config import AppConfig
from templates.naming import layer_title

MAX_PARAMETERS = 200  # per template, CloudFormation quota


def _copy_parameter(parameter: Parameter) -> Parameter:
    return Parameter(parameter.title, **parameter.properties)


def _passed(parameter: Parameter):
    """The root parameter as a nested stack's parameter value. A nested stack takes strings only:
    a list-typed value is joined back into its comma-separated form ("You can't pass values of
    type CommaDelimitedList to a nested stack", AWS Knowledge Center,
    https://repost.aws/knowledge-center/cloudformation-parameters-nested-stacks)."""
    kind = parameter.properties.get("Type", "String")
    return (
        Join(",", Ref(parameter.title))
        if kind == "CommaDelimitedList" or kind.startswith("List<")
        else Ref(parameter.title)
    )


def _knobs_left_at_defaults(nested: list[Layer], source_of) -> set[str]:
    """Knobs the root cannot re-expose within CloudFormation's 200 parameters: those of the parts
    of split layers (per-service task counts of a large platform; image tags too if even they do
    not fit), which then keep the params file's value as their nested default. Empty when
    everything fits."""
    knobs = {name for layer in nested for name in layer.knobs}
    from_global = {
        name
        for layer in nested
        for name, wire in layer.inputs.items()
        if (source := source_of(wire)) is not None and source.scope == "global"
    }
    if len(knobs | from_global) <= MAX_PARAMETERS:
        return set()
    split = {name for layer in nested if layer.family for name in layer.knobs}
    # Image tags are what a pipeline changes on every release: they stay on the root if they fit.
    tags = {name for name in split if name.endswith("ImageTag")}
    for kept in (tags, set()):
        if len((knobs - split) | kept | from_global) <= MAX_PARAMETERS:
            return split - kept
    raise ValueError(
        f"the root would need {len((knobs - split) | from_global)} parameters, over CloudFormation's {MAX_PARAMETERS}"
    )


def build_root(cfg: AppConfig, layers: list[Layer], template_url: Callable[[Layer], str]) -> Template:
    """Root template for the nested layers; template_url says where each layer's file lives."""
    root = Template(
        Description=f"cfn-strata {cfg.application}/{cfg.environment.name}: root stack - {cfg.description}"[:1024]
    )
    root.set_version(CFN_VERSION)

    def source_of(wire) -> Layer | None:
        """The layer (or the part of a split layer) that outputs what the wire asks for."""
        return next(
            (
                layer
                for layer in layers
                if wire.layer in (layer.name, layer.family) and wire.output in layer.template.outputs
            ),
            None,
        )

    nested = [layer for layer in layers if layer.scope == "nested"]
    at_defaults = _knobs_left_at_defaults(nested, source_of)
    groups: list[dict] = []
    labels: dict[str, dict[str, str]] = {}
    declared: dict[str, dict] = {}

    def declare(parameter: Parameter, layer: Layer, group_label: str) -> None:
        if parameter.title in declared:
            if declared[parameter.title] != parameter.properties:
                raise ValueError(f"parameter {parameter.title} is declared differently by two layers")
            return
        declared[parameter.title] = parameter.properties
        root.add_parameter(_copy_parameter(parameter))
        label = layer.template.metadata["AWS::CloudFormation::Interface"]["ParameterLabels"][parameter.title]
        labels[parameter.title] = label
        group = next((g for g in groups if g["Label"]["default"] == group_label), None)
        if group is None:
            group = {"Label": {"default": group_label}, "Parameters": []}
            groups.append(group)
        group["Parameters"].append(parameter.title)

    for layer in nested:
        stack_parameters = {}
        for name, parameter in sorted(layer.template.parameters.items()):
            wire = layer.inputs.get(name)
            if wire is None and name in at_defaults:
                continue  # the nested stack's default (the params value) applies
            if wire is None:  # a knob: re-exposed on the root
                declare(parameter, layer, f"{layer_title(layer.name)} layer")
                stack_parameters[name] = _passed(parameter)
            elif (source := source_of(wire)) is not None and source.scope == "global":
                declare(parameter, layer, "From the us-east-1 global stack")
                stack_parameters[name] = _passed(parameter)
            else:
                if source is None:
                    raise ValueError(
                        f"{layer.name} layer parameter {name} wants {wire.layer}.{wire.output}, which no layer outputs"
                    )
                stack_parameters[name] = GetAtt(source.stack_id, f"Outputs.{wire.output}")
        props = {"TemplateURL": template_url(layer), "Tags": Tags(**cfg.all_tags)}
        if stack_parameters:
            props["Parameters"] = stack_parameters
        root.add_resource(cloudformation.Stack(layer.stack_id, **props))
        for output in layer.root_outputs:
            root.add_output(
                Output(
                    f"{layer_title(layer.name)}{output}",
                    Value=GetAtt(layer.stack_id, f"Outputs.{output}"),
                    Description=layer.template.outputs[output].properties.get("Description", output),
                )
            )
    metadata: dict = {"cfn-strata": strata_metadata(cfg, "root")}
    if at_defaults:
        metadata["cfn-strata"]["knobs_at_defaults"] = sorted(at_defaults)
    if groups:
        metadata["AWS::CloudFormation::Interface"] = {"ParameterGroups": groups, "ParameterLabels": labels}
    root.set_metadata(metadata)
    return root

"""The root template: one AWS::CloudFormation::Stack per layer, wired output to parameter.

The root re-declares every knob parameter of its layers (same name, same constraints), so a
console launch of the root shows every deploy-time setting once, grouped by layer. Inputs from a
`global` layer (us-east-1) cannot be a GetAtt; they become root parameters the deployer fills
from the global stack's outputs.
"""

from __future__ import annotations

from typing import Callable

from troposphere import GetAtt, Output, Parameter, Ref, Tags, Template, cloudformation

from templates.common import CFN_VERSION, Layer, strata_metadata
from templates.config import AppConfig


def _title(name: str) -> str:
    return "".join(part.capitalize() for part in name.split("-"))


def _copy_parameter(parameter: Parameter) -> Parameter:
    return Parameter(parameter.title, **parameter.properties)


def build_root(cfg: AppConfig, layers: list[Layer], template_url: Callable[[Layer], str]) -> Template:
    """Root template for the nested layers; template_url says where each layer's file lives."""
    root = Template(Description=f"cfn-strata {cfg.application}/{cfg.environment.name}: root stack - {cfg.description}"[:1024])
    root.set_version(CFN_VERSION)
    by_name = {layer.name: layer for layer in layers}
    nested = [layer for layer in layers if layer.scope == "nested"]
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
            if wire is None:  # a knob: re-exposed on the root
                declare(parameter, layer, f"{_title(layer.name)} layer")
                stack_parameters[name] = Ref(name)
            elif by_name.get(wire.layer) is not None and by_name[wire.layer].scope == "global":
                declare(parameter, layer, "From the us-east-1 global stack")
                stack_parameters[name] = Ref(name)
            else:
                source = by_name.get(wire.layer)
                if source is None or wire.output not in source.template.outputs:
                    raise ValueError(f"{layer.name} layer parameter {name} wants {wire.layer}.{wire.output}, which no layer outputs")
                stack_parameters[name] = GetAtt(source.stack_id, f"Outputs.{wire.output}")
        props = {"TemplateURL": template_url(layer), "Tags": Tags(**cfg.all_tags)}
        if stack_parameters:
            props["Parameters"] = stack_parameters
        root.add_resource(cloudformation.Stack(layer.stack_id, **props))
        for output in layer.root_outputs:
            root.add_output(
                Output(
                    f"{_title(layer.name)}{output}",
                    Value=GetAtt(layer.stack_id, f"Outputs.{output}"),
                    Description=layer.template.outputs[output].properties.get("Description", output),
                )
            )
    metadata: dict = {"cfn-strata": strata_metadata(cfg, "root")}
    if groups:
        metadata["AWS::CloudFormation::Interface"] = {"ParameterGroups": groups, "ParameterLabels": labels}
    root.set_metadata(metadata)
    return root

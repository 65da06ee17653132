"""Local mode refuses the names AWS refuses.

moto creates any name it is given; AWS does not (EC2 refuses a security group named `sg-...`, ELBv2
a load balancer name over 32 characters, ...). So that a local deploy stops where a real one
would, every resource moto's CloudFormation creates has its name properties checked first against
the same table the lint rule E9010 uses (resource_semantics.NAME_CONSTRAINTS, each entry with its
AWS API reference), and a name AWS refuses fails the deploy with AWS's error code and message.
Checks the API reference documents as advice rather than a refusal are not applied here.

One narrow patch of moto's `parse_and_create_resource` (the function every created resource goes
through, also for resources added by an update); nothing else in moto changes.
"""

from __future__ import annotations

from resource_semantics import aws_refusal, name_rules, name_values


def refusal(resource_type: str, properties: dict, resolve=lambda value: value) -> tuple[str, str, str] | None:
    """(property path, error code, message) for the first name of the resource AWS refuses, else None.
    `resolve` turns an intrinsic into its value (moto's resolver in local mode)."""
    for path in sorted(name_rules(resource_type)):
        for concrete, value in name_values(properties, path):
            try:
                name = resolve(value)
            except Exception:  # an intrinsic moto cannot resolve here: moto's own create reports it
                continue
            if isinstance(name, str):
                refused = aws_refusal(resource_type, path, name)
                if refused:
                    return (concrete, *refused)
    return None


def patch_name_checks() -> None:
    """Wrap moto.cloudformation.parsing.parse_and_create_resource (moto 5.1/5.2, checked on 5.2.5)."""
    from moto.cloudformation import parsing
    from moto.cloudformation.exceptions import CloudFormationError

    original = parsing.parse_and_create_resource
    if getattr(original, "cfn_strata_names", False):
        return

    class AwsRefused(CloudFormationError):
        def __init__(self, code: str, message: str):
            self.code = code
            super().__init__(message)

    def parse_and_create_resource(logical_id, resource_json, resources_map, account_id, region_name):
        condition = resource_json.get("Condition")
        active = not condition or resources_map.lazy_condition_map[condition]
        properties = resource_json.get("Properties")
        if active and isinstance(properties, dict):
            refused = refusal(
                resource_json.get("Type", ""), properties, lambda value: parsing.clean_json(value, resources_map)
            )
            if refused:
                path, code, message = refused
                raise AwsRefused(
                    code,
                    f"{logical_id} ({resource_json.get('Type')}) {path}: {message} (Error Code: {code}; "
                    "refused the way AWS refuses it, by cfn-strata local mode)",
                )
        return original(logical_id, resource_json, resources_map, account_id, region_name)

    parse_and_create_resource.cfn_strata_names = True
    parsing.parse_and_create_resource = parse_and_create_resource

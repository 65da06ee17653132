"""CloudFormation's hard limits per template, checked on a manifest entry (light: no troposphere)."""

from __future__ import annotations

BODY_LIMIT = 51_200
S3_LIMIT = 1_048_576
RESOURCE_LIMIT = 500
PARAMETER_LIMIT = 200
OUTPUT_LIMIT = 200


def limit_problems(entry: dict) -> list[str]:
    """CloudFormation hard limits the template breaks (the 51,200-byte body limit is only a note:
    the deployer always passes templates by S3 URL)."""
    checks = [
        ("bytes", S3_LIMIT, "bytes (the 1 MB limit for a template in S3)"),
        ("resources", RESOURCE_LIMIT, "resources"),
        ("parameters", PARAMETER_LIMIT, "parameters"),
        ("outputs", OUTPUT_LIMIT, "outputs"),
    ]
    return [
        f"{entry['file']}: {entry[key]} {what} exceeds the limit of {limit}"
        for key, limit, what in checks
        if entry[key] > limit
    ]

"""Resource names: seed 004's `{resource-type}-{environment_suffix}` convention, and AWS's limits.

The params model checks every name it will produce against these limits, so a name that AWS
would refuse at deploy time fails at load time with the params key that caused it.
"""

from __future__ import annotations

import re

# Limits per kind of name: (maximum length, pattern). Patterns follow the AWS API docs.
NAME_RULES: dict[str, tuple[int, re.Pattern[str]]] = {
    "alb": (32, re.compile(r"^[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?$")),
    "tg": (32, re.compile(r"^[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?$")),
    "ecs-cluster": (255, re.compile(r"^[a-zA-Z0-9_-]+$")),
    "ecs-service": (255, re.compile(r"^[a-zA-Z0-9_-]+$")),
    "rds": (63, re.compile(r"^[a-z](?!.*--)[a-z0-9-]*[a-z0-9]$")),
    "rds-cluster": (63, re.compile(r"^[a-z](?!.*--)[a-z0-9-]*[a-z0-9]$")),
    "cache": (40, re.compile(r"^[a-z](?!.*--)[a-z0-9-]*[a-z0-9]$")),
    "ecr": (256, re.compile(r"^[a-z0-9]+(?:[._/-][a-z0-9]+)*$")),
    "iam-role": (64, re.compile(r"^[\w+=,.@-]+$")),
    "secret": (512, re.compile(r"^[\w/+=.@-]+$")),
    "log-group": (512, re.compile(r"^[\w#/.-]+$")),
    # EC2 CreateSecurityGroup, GroupName: up to 255 characters of a-z, A-Z, 0-9, spaces and
    # ._-:/()#,@[]+=&;{}!$*, and it "can't start with sg-" (RESERVED_PREFIXES below).
    # https://docs.aws.amazon.com/AWSEC2/latest/APIReference/API_CreateSecurityGroup.html
    "security-group": (255, re.compile(r"^[a-zA-Z0-9 ._\-:/()#,@\[\]+=&;{}!$*]+$")),
    # Buckets also carry the account id and region to be globally unique: 63 in all.
    "bucket-prefix": (63 - len("-123456789012-ap-southeast-1"), re.compile(r"^[a-z0-9][a-z0-9-]*$")),
}


# Prefixes AWS reserves for its own ids, per kind of name (compared case-insensitively: EC2 group
# names are case-insensitive). Source: as NAME_RULES above.
RESERVED_PREFIXES: dict[str, tuple[str, ...]] = {
    "security-group": ("sg-",),
}


def stack_name(cfg) -> str:
    """The root stack's name, `<application>-<environment_suffix>` (nested stacks are
    `<root>-<Layer>Stack-<random>`, named by CloudFormation)."""
    return f"{cfg.application}-{cfg.suffix}"


def cognito_domain_prefix(cfg) -> str:
    """The hosted UI's domain prefix: auth.domain_prefix, else `<application>-<environment_suffix>`."""
    return cfg.auth.domain_prefix or stack_name(cfg)


def resource_name(kind: str, suffix: str, qualifier: str | None = None) -> str:
    """`alb-pr5706`, or with a qualifier (a service name) `tg-api-pr5706`."""
    parts = [kind, qualifier, suffix] if qualifier else [kind, suffix]
    return "-".join(parts)


def name_problem(kind: str, name: str) -> str | None:
    """Why AWS would refuse `name` for a `kind` resource, or None when it is fine."""
    limit, pattern = NAME_RULES[kind]
    if len(name) > limit:
        return f"{name!r} is {len(name)} characters; a {kind} name allows at most {limit}"
    if not pattern.match(name):
        return f"{name!r} is not a valid {kind} name (allowed: {pattern.pattern})"
    for prefix in RESERVED_PREFIXES.get(kind, ()):
        if name.lower().startswith(prefix):
            return f"{name!r} starts with {prefix!r}, which AWS reserves: a {kind} name must not start with it"
    return None

"""What `upload`/`plan`/`deploy` take on top of the params file, as `aws cloudformation deploy`
does: --parameter-overrides Key=Value ..., --tags Key=Value ..., --role-arn ARN.

Each value is checked here, before anything is uploaded, against what CloudFormation would refuse
at CreateChangeSet; a refusal names the flag and exits 2 (FlagRefused). Pure: no AWS calls.
"""

from __future__ import annotations

import difflib
import re

from deployer.bundle import Bundle
from deployer.errors import FlagRefused

PARAMETER_OVERRIDES = "--parameter-overrides"
TAGS = "--tags"
ROLE_ARN = "--role-arn"

# The stack tags CloudFormation accepts (API Reference, data type Tag, and CreateChangeSet's Tags):
# key 1-128 characters, value 1-256, at most 50 tags, and `aws:` (case-insensitive) is reserved.
# https://docs.aws.amazon.com/AWSCloudFormation/latest/APIReference/API_Tag.html
# https://docs.aws.amazon.com/AWSCloudFormation/latest/APIReference/API_CreateChangeSet.html
# The characters are those AWS's tagging rules allow across services: Unicode letters, digits,
# white space and _ . : / = + - @ ("Tag naming limits and requirements", Tagging AWS Resources;
# https://docs.aws.amazon.com/tag-editor/latest/userguide/tagging.html). A tag outside them may
# be accepted on the stack and then fail on a resource it is propagated to.
TAG_KEY_MAX, TAG_VALUE_MAX, MAX_STACK_TAGS = 128, 256, 50
TAG_CHARACTERS = re.compile(r"^[\w\s.:/=+\-@]*$")

# CreateChangeSet RoleARN: 20-2048 characters, an IAM role's ARN
# (arn:<partition>:iam::<account>:role/<path><name>; IAM role names are 1-64 of [\w+=,.@-], paths
# `/` or `/.../` of printable ASCII, at most 512). CloudFormation assumes it for this and every
# later operation on the stack; ExecuteChangeSet takes no role (it uses the change set's).
# https://docs.aws.amazon.com/AWSCloudFormation/latest/APIReference/API_CreateChangeSet.html
# https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_identifiers.html
ROLE_ARN_PATTERN = re.compile(
    r"^arn:(?P<partition>aws(?:-[a-z]+)*):iam::(?P<account>\d{12}):role(?P<path>/(?:[!-~]*/)?)(?P<name>[\w+=,.@-]{1,64})$"
)
ROLE_ARN_LENGTH = (20, 2048)
IAM_PATH_MAX = 512


def parse_pairs(flag: str, values: tuple[str, ...] | list[str]) -> dict[str, str]:
    """`Key=Value` items as `aws cloudformation deploy` reads them: split at the first `=`, the
    value may be empty (and may hold further `=`), a key given twice keeps its last value."""
    pairs: dict[str, str] = {}
    for item in values:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise FlagRefused(
                f"{flag}: {item!r} is not Key=Value (e.g. {flag} "
                f"{'DesiredCount=2' if flag == PARAMETER_OVERRIDES else 'Team=payments'})"
            )
        pairs[key] = value
    return pairs


def _close(word: str, choices) -> str:
    """ "; did you mean X?" for the closest of `choices` (case-insensitive), else ""."""
    lowered = {choice.lower(): choice for choice in choices}
    found = difflib.get_close_matches(word.lower(), list(lowered), n=1, cutoff=0.6)
    return f"; did you mean {lowered[found[0]]}?" if found else ""


def _numbers(text: str) -> list[float] | None:
    try:
        return [float(part) for part in text.split(",")]
    except ValueError:
        return None


def parameter_problem(name: str, spec: dict, value: str) -> str | None:
    """Why CloudFormation would refuse `value` for the root parameter `spec`, or None."""
    kind = spec.get("Type", "String")
    items = value.split(",") if kind in ("CommaDelimitedList", "List<Number>") or kind.startswith("List<") else [value]
    if kind in ("Number", "List<Number>"):
        if _numbers(value) is None:
            return f"{name} is a {kind}: {value!r} is not a number"
        for number in _numbers(value):
            if "MinValue" in spec and number < float(spec["MinValue"]):
                return f"{name} must be at least {spec['MinValue']} (got {value})"
            if "MaxValue" in spec and number > float(spec["MaxValue"]):
                return f"{name} must be at most {spec['MaxValue']} (got {value})"
    allowed = [str(v) for v in spec.get("AllowedValues", [])]
    for item in items:
        if allowed and item not in allowed:
            return f"{name} must be one of {', '.join(allowed)} (got {item!r})"
        if "AllowedPattern" in spec and not re.fullmatch(spec["AllowedPattern"], item):
            why = spec.get("ConstraintDescription") or f"it must match {spec['AllowedPattern']}"
            return f"{name}: {item!r} is refused: {why}"
        if "MinLength" in spec and len(item) < int(spec["MinLength"]):
            return f"{name} must be at least {spec['MinLength']} characters (got {len(item)})"
        if "MaxLength" in spec and len(item) > int(spec["MaxLength"]):
            return f"{name} must be at most {spec['MaxLength']} characters (got {len(item)})"
    return None


def check_parameters(bundle: Bundle, overrides: dict[str, str]) -> dict[str, str]:
    """The overrides, each the name of one of the root template's Parameters with a value it
    accepts; else FlagRefused (exit 2) with the close name ("did you mean")."""
    declared = bundle.document(bundle.root_file).get("Parameters", {})
    for name, value in overrides.items():
        if name not in declared:
            raise FlagRefused(
                f"{PARAMETER_OVERRIDES}: {bundle.root_file} has no parameter {name}{_close(name, declared)} "
                f"(its parameters are listed under Parameters in {bundle.folder / bundle.root_file})"
            )
        problem = parameter_problem(name, declared[name], value)
        if problem:
            raise FlagRefused(f"{PARAMETER_OVERRIDES}: {problem}")
    return dict(sorted(overrides.items()))


def check_tags(bundle: Bundle, tags: dict[str, str]) -> dict[str, str]:
    """--tags merged with the profile's tags: new keys only (or a profile key with its own value).
    The templates carry the profile's tags on every resource, so a stack tag that gave one of
    them another value would disagree with the resources; such a key is refused (set it in the
    params file's `tags:`; the suffix with --suffix)."""
    profile = bundle.manifest["tags"]
    for key, value in tags.items():
        if not 1 <= len(key) <= TAG_KEY_MAX:
            raise FlagRefused(f"{TAGS}: tag key {key[:40]!r} must be 1-{TAG_KEY_MAX} characters (got {len(key)})")
        if key.lower().startswith("aws:"):
            raise FlagRefused(f"{TAGS}: tag key {key!r} starts with aws:, which AWS reserves for its own tags")
        if not 1 <= len(value) <= TAG_VALUE_MAX:
            raise FlagRefused(
                f"{TAGS}: tag {key} needs a value of 1-{TAG_VALUE_MAX} characters (got {len(value)}); "
                "CloudFormation refuses an empty stack tag value"
            )
        for what, text in (("key", key), ("value", value)):
            if not TAG_CHARACTERS.match(text):
                bad = sorted({c for c in text if not TAG_CHARACTERS.match(c)})
                raise FlagRefused(
                    f"{TAGS}: tag {what} {text!r} has {''.join(bad)!r}: tags allow letters, digits, "
                    "spaces and _ . : / = + - @"
                )
        if key in profile and profile[key] != value:
            how = "--suffix" if key == "EnvironmentSuffix" else "the params file's tags: (or environment/project)"
            raise FlagRefused(
                f"{TAGS}: {key} is already {profile[key]!r} from the profile, and the templates put it "
                "on every resource; "
                f"change it with {how}, not as a stack tag"
            )
    merged = {**profile, **tags}
    if len(merged) > MAX_STACK_TAGS:
        raise FlagRefused(
            f"{TAGS}: {len(merged)} stack tags with the profile's {len(profile)}; CloudFormation allows "
            f"at most {MAX_STACK_TAGS}"
        )
    return {key: value for key, value in sorted(tags.items()) if key not in profile}


def partition_of(region: str) -> str | None:
    """The ARN partition of a region (None when it is not a commercial, China or GovCloud one)."""
    if region.startswith("cn-"):
        return "aws-cn"
    if region.startswith("us-gov-"):
        return "aws-us-gov"
    if re.fullmatch(r"(?:af|ap|ca|eu|il|me|mx|sa|us)-[a-z]+-\d", region):
        return "aws"
    return None


def check_role_arn(role_arn: str, region: str) -> str:
    """The CloudFormation service role's ARN, as CreateChangeSet's RoleARN accepts it."""
    low, high = ROLE_ARN_LENGTH
    found = ROLE_ARN_PATTERN.match(role_arn)
    if not found or not low <= len(role_arn) <= high:
        raise FlagRefused(
            f"{ROLE_ARN}: {role_arn!r} is not an IAM role ARN (arn:aws:iam::123456789012:role/NAME, "
            "a role name of 1-64 letters, digits and +=,.@_-, optionally after a /path/)"
        )
    if len(found["path"]) > IAM_PATH_MAX:
        raise FlagRefused(
            f"{ROLE_ARN}: the role's path is {len(found['path'])} characters; IAM allows at most {IAM_PATH_MAX}"
        )
    expected = partition_of(region)
    if expected and found["partition"] != expected:
        raise FlagRefused(
            f"{ROLE_ARN}: {role_arn} is in partition {found['partition']}, the stack's region {region} in {expected}"
        )
    return role_arn

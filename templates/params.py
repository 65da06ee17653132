"""Find, read, merge and validate params files: `params/<app>/base.yaml` + `params/<app>/<env>.yaml`.

Every failure becomes one `ConfigError` naming the file that set the offending key, the key path
(`network.public_subnets[1]`) and what is allowed. Nothing else escapes `load_config`.
"""

from __future__ import annotations

import difflib
import re
from pathlib import Path
from typing import Any, get_args, get_origin

import yaml
from pydantic import BaseModel, ValidationError

from templates.config import AppConfig, ConfigError, KeyedError
from templates.problems import semantic_problems
from templates.profiles import REPO_PARAMS, available_profiles, params_root  # noqa: F401 (re-exported)

ENV_NAME = re.compile(r"^[a-z][a-z0-9-]{0,15}$")


def display_path(path: Path) -> str:
    """The path as the user would type it: relative to the working directory when inside it."""
    try:
        return str(path.resolve().relative_to(Path.cwd().resolve()))
    except ValueError:
        return str(path)


class _UniqueKeyLoader(yaml.SafeLoader):
    """SafeLoader that refuses duplicate mapping keys instead of silently keeping the last."""


def _construct_mapping(loader: _UniqueKeyLoader, node: yaml.MappingNode, deep: bool = False) -> dict:
    loader.flatten_mapping(node)
    mapping: dict = {}
    for key_node, value_node in node.value:
        key = loader.construct_object(key_node, deep=deep)
        if not isinstance(key, str):
            raise yaml.constructor.ConstructorError(None, None, f"key {key!r} is not a string", key_node.start_mark)
        if key in mapping:
            raise yaml.constructor.ConstructorError(None, None, f"duplicate key {key!r}", key_node.start_mark)
        mapping[key] = loader.construct_object(value_node, deep=deep)
    return mapping


_UniqueKeyLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping)


def read_yaml(path: Path) -> dict[str, Any]:
    """One params document as a mapping, or a ConfigError naming the file and line."""
    shown = display_path(path)
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise ConfigError(shown, "", "file not found") from None
    except OSError as err:
        raise ConfigError(shown, "", f"cannot be read ({err.strerror})") from None
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise ConfigError(shown, "", "is not UTF-8 text (a binary file?); params files are YAML") from None
    if "\x00" in text:
        raise ConfigError(shown, "", "contains NUL bytes (a binary file?); params files are YAML")
    try:
        document = yaml.load(text, Loader=_UniqueKeyLoader)  # noqa: S506 - a SafeLoader subclass
    except yaml.MarkedYAMLError as err:
        mark = err.problem_mark or err.context_mark
        where = f"line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        raise ConfigError(shown, where, f"invalid YAML: {err.problem or err.context}") from None
    except yaml.YAMLError as err:
        raise ConfigError(shown, "", f"invalid YAML: {err}") from None
    if document is None:
        raise ConfigError(shown, "", "is empty; expected a mapping of params keys")
    if not isinstance(document, dict):
        raise ConfigError(shown, "", f"top level is a {type(document).__name__}; expected a mapping of params keys")
    return document


def deep_merge(base: dict, overlay: dict) -> dict:
    """Overlay wins; mappings merge key by key, lists and scalars replace."""
    merged = dict(base)
    for key, value in overlay.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = deep_merge(merged[key], value)
        else:
            merged[key] = value
    return merged


def key_path(loc: tuple) -> str:
    """('network', 'public_subnets', 1) -> network.public_subnets[1]"""
    text = ""
    for part in loc:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text


def _parse_path(path: str) -> list:
    return [int(p) if p.isdigit() else p for p in re.findall(r"[^.\[\]]+", path)]


def _sets(document: dict, loc: list) -> bool:
    """Does `document` set the value at loc (or a list/scalar that contains it)?"""
    node: Any = document
    for part in loc:
        if isinstance(node, dict) and isinstance(part, str) and part in node:
            node = node[part]
        elif isinstance(node, list):
            return True  # lists replace whole, so the file that set the list owns its items
        else:
            return False
    return True


def _blame(sources: list[tuple[Path | str, dict]], loc: list) -> str:
    """The last file (overlay before base) that set the key, else the first one that was read. A
    source given as a string is a command-line flag (`--suffix`) and is named as it is."""
    for path, document in reversed(sources):
        if _sets(document, loc):
            return path if isinstance(path, str) else display_path(path)
    # A missing key: the first file that holds its section (base, unless only the overlay or a
    # flag made the section, e.g. a service the overlay adds), where the user would add it.
    for depth in range(len(loc) - 1, 0, -1):
        owner = next((path for path, document in sources if _sets(document, loc[:depth])), None)
        if owner is not None:
            return owner if isinstance(owner, str) else display_path(owner)
    return display_path(sources[0][0])


def _scalar_text(path: Path, loc: tuple) -> str | None:
    """The text a scalar had in the YAML file before YAML typed it (`16.10` for the float 16.1), or
    None when the file does not hold that key as a scalar."""
    try:
        node = yaml.compose(path.read_text(encoding="utf-8"), Loader=yaml.SafeLoader)
    except (OSError, yaml.YAMLError):
        return None
    for part in loc:
        if isinstance(node, yaml.MappingNode) and isinstance(part, str):
            node = next((v for k, v in node.value if isinstance(k, yaml.ScalarNode) and k.value == part), None)
        elif isinstance(node, yaml.SequenceNode) and isinstance(part, int) and part < len(node.value):
            node = node.value[part]
        else:
            return None
    return node.value if isinstance(node, yaml.ScalarNode) else None


def _typed_by_yaml(error: dict, source: Path) -> str | None:
    """A string key YAML read as a number or a boolean (`engine_version: 16.10` arrives as 16.1):
    say so and how to quote it, instead of pydantic's "(got 16.1)"."""
    given = error.get("input")
    if error["type"] != "string_type" or not isinstance(given, (bool, int, float)):
        return None
    text = _scalar_text(source, tuple(error["loc"])) or str(given)
    kind = "a boolean" if isinstance(given, bool) else "a number"
    shown = str(given).lower() if isinstance(given, bool) else repr(given)
    return (
        f"YAML read {text} as {kind} ({shown}), and this key takes text: put the value in quotes, "
        f"e.g. {error['loc'][-1]}: '{text}'"
    )


def _did_you_mean(key: Any, allowed: list[str]) -> str:
    close = difflib.get_close_matches(str(key), allowed, n=1, cutoff=0.6)
    return f"did you mean `{close[0]}`? " if close else ""


def _pydantic_message(error: dict) -> str:
    kind, message = error["type"], error["msg"]
    if kind == "extra_forbidden":
        return "unknown key"
    if kind == "missing":
        return "required key is missing"
    if kind in ("value_error", "assertion_error"):
        return message.removeprefix("Value error, ").removeprefix("Assertion failed, ")
    given = error.get("input")
    if isinstance(given, (str, int, float, bool)) and kind not in ("model_type", "dict_type", "list_type"):
        return f"{message} (got {given!r})"
    return message


def _allowed_keys(loc: tuple) -> list[str]:
    """The keys the model accepts at the mapping that holds loc[-1], for 'unknown key' errors."""
    current: Any = AppConfig
    for part in loc[:-1]:
        current = _field_model(current, part)
        if current is None:
            return []
    return list(current.model_fields) if _is_model(current) else []


def _is_model(value: Any) -> bool:
    return isinstance(value, type) and issubclass(value, BaseModel)


def _field_model(current: Any, part: Any) -> Any:
    """Step one key down: into a model's field, or through dict[str, M] / list[M] to M."""
    if _is_model(current) and isinstance(part, str) and part in current.model_fields:
        annotation = current.model_fields[part].annotation
        # dict[str, M] and list[M]: the next key is a name or an index, the one after is M's
        containers = [a for a in (annotation, *get_args(annotation)) if get_origin(a) in (dict, list)]
        return containers[0] if containers else _inner_model(annotation)
    if not _is_model(current):
        return _inner_model(current)
    return None


def _inner_model(annotation: Any) -> Any:
    if _is_model(annotation):
        return annotation
    for arg in get_args(annotation):
        found = _inner_model(arg)
        if found is not None:
            return found
    return None


SUFFIX_FLAG = "--suffix"


def load_config(
    application: str, environment: str, root: Path | None = None, *, suffix: str | None = None
) -> AppConfig:
    """Read base + overlay for one application and environment into a validated AppConfig.

    `suffix` (the CLI's --suffix) replaces environment.suffix as a third, last source: it is
    validated by the same model and name checks as the params value, and an error it causes names
    the flag instead of a file."""
    root = params_root(root)
    folder = root / application
    if not (folder / "base.yaml").is_file():
        known = ", ".join(available_profiles(root)) or "none"
        raise ConfigError(
            display_path(folder), "", f"no profile {application!r} here (base.yaml missing); profiles: {known}"
        )
    if not ENV_NAME.match(environment):
        raise ConfigError(
            display_path(folder / f"{environment}.yaml"),
            "",
            f"environment name {environment!r} must be a simple lowercase identifier (a-z, 0-9, -; at most 16)",
        )
    overlay_path = folder / f"{environment}.yaml"
    if not overlay_path.is_file():
        envs = ", ".join(available_profiles(root).get(application, [])) or "none"
        raise ConfigError(
            display_path(overlay_path), "", f"no environment {environment!r} for {application}; environments: {envs}"
        )

    sources: list[tuple[Path | str, dict]] = [
        (folder / "base.yaml", read_yaml(folder / "base.yaml")),
        (overlay_path, read_yaml(overlay_path)),
    ]
    if suffix is not None:
        sources.append((SUFFIX_FLAG, {"environment": {"suffix": suffix}}))
    merged = sources[0][1]
    for _, document in sources[1:]:
        merged = deep_merge(merged, document)
    env_section = merged.get("environment")
    if isinstance(env_section, dict):
        if "name" in env_section:
            raise ConfigError(
                _blame(sources, ["environment", "name"]),
                "environment.name",
                "is set from the overlay file's name; remove it",
            )
        merged["environment"] = {**env_section, "name": environment}

    try:
        cfg = AppConfig.model_validate(merged)
    except ValidationError as err:
        first = err.errors(include_url=False)[0]
        loc = tuple(first["loc"])
        cause = first.get("ctx", {}).get("error")
        if isinstance(cause, KeyedError):
            loc += tuple(_parse_path(cause.key))  # `min_size`, or `public_subnets[1]`
        blamed = _blame(sources, list(loc))
        files = [
            p for p, _ in sources if isinstance(p, Path) and display_path(p) == blamed
        ]  # a flag (--suffix) has no YAML text
        message = (_typed_by_yaml(first, files[0]) if files else None) or _pydantic_message(first)
        if first["type"] == "extra_forbidden":
            allowed = _allowed_keys(loc)
            message = (
                f"unknown key; {_did_you_mean(loc[-1], allowed)}allowed keys here: {', '.join(allowed)}"
                if allowed
                else message
            )
        more = len(err.errors()) - 1
        if more:
            message += f" (and {more} more problem{'s' if more > 1 else ''})"
        raise ConfigError(blamed, key_path(loc), message) from None

    if cfg.application != application:
        raise ConfigError(
            _blame(sources, ["application"]),
            "application",
            f"{cfg.application!r} must equal its folder name {application!r}",
        )
    problems = semantic_problems(cfg)
    if problems:
        path, message = problems[0]
        if len(problems) > 1:
            message += f" (and {len(problems) - 1} more problem{'s' if len(problems) > 2 else ''})"
        blamed = _blame(sources, _parse_path(path))
        if suffix is not None and blamed != SUFFIX_FLAG and suffix in message:
            message += f" (with {SUFFIX_FLAG} {suffix})"  # a name built from the flag's suffix and a key of the file
        raise ConfigError(blamed, path, message)
    return cfg

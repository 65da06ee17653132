"""The params reference, generated from the params model so that it can never drift from it."""

from __future__ import annotations

import typing

from pydantic import BaseModel
from pydantic_core import PydanticUndefined

from templates.config import AppConfig


def _type_name(annotation) -> str:
    text = str(annotation).replace("typing.", "").replace("templates.config.", "")
    return text.replace("<class '", "").replace("'>", "")


def _models(annotation) -> list[type[BaseModel]]:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return [annotation]
    return [m for arg in typing.get_args(annotation) for m in _models(arg)]


def _rows(model: type[BaseModel], prefix: str) -> list[str]:
    rows = []
    for name, field in model.model_fields.items():
        key = f"{prefix}{name}"
        if field.default is PydanticUndefined:
            default = "required"
        elif isinstance(field.default, BaseModel):
            default = "(section)"
        else:
            default = f"`{field.default!r}`"
        description = (field.description or "").replace("|", "\\|")
        rows.append(f"| `{key}` | {_type_name(field.annotation).replace('|', '&#124;')} | {default} | {description} |")
        for sub in _models(field.annotation):
            marker = ".<name>." if typing.get_origin(field.annotation) is dict or "dict[" in str(field.annotation) else "."
            rows.extend(_rows(sub, f"{key}{marker}"))
    return rows


def params_reference_markdown() -> str:
    lines = ["| key | type | default | description |", "|---|---|---|---|", *_rows(AppConfig, "")]
    return "\n".join(lines) + "\n"


START, END = "<!-- params-reference:start -->\n", "<!-- params-reference:end -->"


def replace_section(document: str, reference: str) -> str:
    """The document with the text between the params-reference markers replaced."""
    head, rest = document.split(START, 1)
    _, tail = rest.split(END, 1)
    return head + START + reference + END + tail

"""The params reference, generated from the params model so that it can never drift from it.

Types read as people write them in YAML (`list of CIDR`, `int or null`, `one of: dev, prod`), not
as Python annotations. Markdown escaping (`\\|` in a table cell) is applied only to the Markdown
the README holds; the terminal view prints the same rows unescaped.
"""

from __future__ import annotations

import types
import typing
from dataclasses import dataclass

from pydantic import BaseModel
from pydantic_core import PydanticUndefined

from templates.config import IDENTIFIER, AppConfig, Cidr

_SCALARS = {str: "string", int: "int", float: "number", bool: "bool", type(None): "null"}
# Annotated aliases of the model with a name people know; checked before their base type.
_NAMED = {Cidr: "CIDR"}
_PATTERNS = {IDENTIFIER: "name (a-z, 0-9, single dashes)"}


def type_words(annotation) -> str:
    """The annotation in the words a params file's author uses: `list of CIDR`, `int or null`,
    `one of: dev, prod`, `map of name to section`."""
    for alias, words in _NAMED.items():
        if annotation == alias:
            return words
    origin, args = typing.get_origin(annotation), typing.get_args(annotation)
    if origin is typing.Annotated:
        pattern = next(
            (
                getattr(m, "pattern", None)
                for meta in args[1:]
                for m in getattr(meta, "metadata", [meta])
                if getattr(m, "pattern", None)
            ),
            None,
        )
        return _PATTERNS.get(pattern, type_words(args[0]))
    if origin in (typing.Union, types.UnionType):
        present = [a for a in args if a is not type(None)]
        words = " or ".join(type_words(a) for a in present)
        if len(present) == len(args):
            return words
        return f"{words}, or null" if typing.get_origin(present[0]) is typing.Literal else f"{words} or null"
    if origin is typing.Literal:
        return "one of: " + ", ".join(str(a) for a in args)
    if origin is list:
        item = type_words(args[0])
        return f"list, each {item}" if typing.get_origin(args[0]) is typing.Literal else f"list of {item}"
    if origin is dict:
        key = (
            "name"
            if args[0] is str and isinstance(args[1], type) and issubclass(args[1], BaseModel)
            else type_words(args[0])
        )
        return f"map of {key} to {type_words(args[1])}"
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return "section"
    return _SCALARS.get(annotation, getattr(annotation, "__name__", str(annotation)))


def _default(field) -> str:
    if field.default is PydanticUndefined:
        return "required"
    if isinstance(field.default, BaseModel):
        return "(section)"
    value = field.default
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return f"'{value}'"
    return repr(value)


@dataclass(frozen=True)
class Row:
    key: str
    type: str
    default: str
    description: str


def _models(annotation) -> list[type[BaseModel]]:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return [annotation]
    return [m for arg in typing.get_args(annotation) for m in _models(arg)]


def reference_rows(model: type[BaseModel] = AppConfig, prefix: str = "") -> list[Row]:
    rows = []
    for name, field in model.model_fields.items():
        key = f"{prefix}{name}"
        rows.append(Row(key, type_words(field.annotation), _default(field), field.description or ""))
        for sub in _models(field.annotation):
            marker = ".<name>." if typing.get_origin(field.annotation) is dict else "."
            rows.extend(reference_rows(sub, f"{key}{marker}"))
    return rows


def _cell(text: str) -> str:
    """A Markdown table cell: the pipe is the only character a cell must escape."""
    return text.replace("|", "\\|")


def params_reference_markdown() -> str:
    """The Markdown table the README holds (cells escaped for Markdown)."""

    def default(text: str) -> str:
        return text if text in ("required", "(section)") else f"`{text}`"

    lines = ["| key | type | default | description |", "|---|---|---|---|"]
    lines += [
        f"| `{r.key}` | {_cell(r.type)} | {_cell(default(r.default))} | {_cell(r.description)} |"
        for r in reference_rows()
    ]
    return "\n".join(lines) + "\n"


def params_reference_text() -> str:
    """The terminal view: one block per key, nothing escaped."""
    blocks = []
    for r in reference_rows():
        default = (
            ""
            if r.default == "(section)"
            else f"; {r.default}"
            if r.default == "required"
            else f"; default {r.default}"
        )
        blocks.append(
            f"{r.key}  ({r.type}{default})\n    {r.description}" if r.description else f"{r.key}  ({r.type}{default})"
        )
    return "\n".join(blocks) + "\n"


START, END = "<!-- params-reference:start -->\n", "<!-- params-reference:end -->"


def replace_section(document: str, reference: str) -> str:
    """The document with the text between the params-reference markers replaced."""
    head, rest = document.split(START, 1)
    _, tail = rest.split(END, 1)
    return head + START + reference + END + tail

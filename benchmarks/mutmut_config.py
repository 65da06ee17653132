"""mutmut 2's hook (benchmarks/mutation.py copies it into each module's copy of the tree, where
mutmut imports it): skips the mutants that cannot change what the program does, so that they are
neither run nor counted. The report lists how many were skipped.

Skipped: a mutation inside a type annotation (`str | None` -> `str & None`). Every module here
starts with `from __future__ import annotations`, so annotations are strings that nothing
evaluates at run time (no pydantic model lives in the mutated modules).
"""

from __future__ import annotations

import ast
from functools import cache

from mutmut import Context, mutate


@cache
def annotation_spans(source: str) -> tuple[tuple[int, int, int, int], ...]:
    """(first line, first column, last line, end column) of every annotation, lines 0-based."""
    spans = []
    for node in ast.walk(ast.parse(source)):
        found = []
        if isinstance(node, ast.arg | ast.AnnAssign) and node.annotation is not None:
            found.append(node.annotation)
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) and node.returns is not None:
            found.append(node.returns)
        spans += [(a.lineno - 1, a.col_offset, a.end_lineno - 1, a.end_col_offset) for a in found]
    return tuple(spans)


def in_annotation(source: str, line: int, column: int) -> bool:
    return any(
        (first, first_col) <= (line, column) < (last, end_col)
        for first, first_col, last, end_col in annotation_spans(source)
    )


def pre_mutation(context: Context) -> None:
    if "from __future__ import annotations" not in context.source:
        return
    mutated, _ = mutate(Context(source=context.source, mutation_id=context.mutation_id, filename=context.filename))
    line = context.mutation_id.line_number
    before, after = context.source.splitlines(), mutated.splitlines()
    if len(before) != len(after):  # a statement of several lines replaced: not an annotation
        return
    old, new = before[line], after[line]
    if len(old) != len(new):
        return
    changed = [column for column, (a, b) in enumerate(zip(old, new, strict=True)) if a != b]
    if changed and all(in_annotation(context.source, line, column) for column in changed):
        context.skip = True

"""The questions the CLI asks (deploy's confirmation, destroy's typed name), with one outcome for
each way they end: an answer, Declined (no, a name that does not match, or stdin closed: exit
DECLINED_EXIT) or Interrupted (Ctrl-C: exit 130). click's own prompts turn both closed stdin and
Ctrl-C into `Aborted!` with exit 1, which a script cannot tell from a failure."""

from __future__ import annotations

import sys
from typing import TextIO

from deployer.errors import Declined, Interrupted

YES = {"y", "yes"}
NO = {"", "n", "no"}


def _answer(question: str, *, stdin: TextIO | None = None, stderr: TextIO | None = None, left_undone: str) -> str:
    stdin, stderr = stdin or sys.stdin, stderr or sys.stderr
    stderr.write(question)
    stderr.flush()
    try:
        line = stdin.readline()
    except KeyboardInterrupt:
        stderr.write("\n")
        raise Interrupted(f"interrupted at the question: {left_undone}") from None
    if not line:  # end of input: nobody is there to answer
        stderr.write("\n")
        raise Declined(f"no answer (stdin is closed): {left_undone}; pass --yes to go ahead without asking")
    return line.strip()


def confirm(question: str, *, left_undone: str, stdin: TextIO | None = None, stderr: TextIO | None = None) -> None:
    """Ask a yes/no question (default no); return on yes, raise Declined on no."""
    while True:
        answer = _answer(f"{question} [y/N]: ", stdin=stdin, stderr=stderr, left_undone=left_undone).lower()
        if answer in YES:
            return
        if answer in NO:
            raise Declined(f"declined: {left_undone}")
        (stderr or sys.stderr).write("answer y or n\n")


def type_to_confirm(
    question: str, expected: str, *, left_undone: str, stdin: TextIO | None = None, stderr: TextIO | None = None
) -> None:
    """Ask for `expected` to be typed; return when it is, raise Declined when it is not."""
    if _answer(f"{question}: ", stdin=stdin, stderr=stderr, left_undone=left_undone) != expected:
        raise Declined(f"the name did not match: {left_undone}")

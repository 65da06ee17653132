"""mutmut's test command for one module (benchmarks/mutation.py): runs only the tests that execute
the mutated statement, read from a coverage map (`coverage-map.json`: line -> test node ids,
recorded with pytest-cov's per-test contexts on the unmutated module).

    python benchmarks/mutation_runner.py    # in the module's copy, which holds runner.json

mutmut keeps the original next to the mutant (`MODULE.bak`) while a mutant is tested: the lines
that differ are the mutation. Which tests run:
- no `.bak` (mutmut's first run, without a mutant): every test of the module's list;
- a statement that runs on import (module level, a class body, a dataclass's field defaults):
  every test of the list, since an import runs it for all of them;
- a function's `def` line (its defaults) or decorator: the tests that ran its body (a call);
- a statement inside a function: the tests that executed it.
When no test ran those lines, no test can notice the mutant: it survives (which is what it is)
and nothing is run.
A subset can only kill fewer mutants than the whole list: the selection never raises the rate.
A mutant that breaks importing a test module counts as killed (see `verdict`).
"""

from __future__ import annotations

import ast
import difflib
import json
import subprocess
import sys
from pathlib import Path


def changed_lines(module: Path) -> list[int] | None:
    backup = module.with_name(module.name + ".bak")
    if not backup.exists():
        return None
    old, new = backup.read_text().splitlines(), module.read_text().splitlines()
    changed = []
    for tag, i1, i2, _, _ in difflib.SequenceMatcher(a=old, b=new, autojunk=False).get_opcodes():
        if tag != "equal":
            changed.extend(range(i1 + 1, max(i2, i1 + 1) + 1))
    return changed


def statement_lines(tree: ast.Module, line: int) -> tuple[range, bool]:
    """The lines whose tests can notice a mutation of `line`, and whether every test must run.
    - inside a function: the innermost statement holding it (a compound statement's header only);
    - a function's `def` line or decorator (its defaults, its decorators): the function's body,
      since only a call uses them, and a call runs the body's first line;
    - anything else (module level, a class body, a dataclass's field defaults): runs on import,
      for every test."""
    found, run_all = None, True

    def visit(node: ast.AST, inside: bool) -> None:
        nonlocal found, run_all
        for child in ast.iter_child_nodes(node):
            if not isinstance(child, ast.stmt) or not child.lineno <= line <= child.end_lineno:
                continue
            body = getattr(child, "body", None)
            first = min((s.lineno for s in body), default=child.end_lineno + 1) if isinstance(body, list) else None
            decorated = min((d.lineno for d in getattr(child, "decorator_list", [])), default=child.lineno)
            header_end = (first - 1) if first else child.end_lineno
            function = isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef)
            if decorated <= line <= header_end:
                if function:
                    found, run_all = range(first, child.end_lineno + 1), False
                else:
                    found, run_all = range(decorated, header_end + 1), not inside
                return
            visit(child, inside or function)
            return

    visit(tree, False)
    return (found or range(line, line + 1)), run_all


def main() -> int:
    plan = json.loads(Path("runner.json").read_text())  # written by benchmarks/mutation.py
    module = Path(plan["module"])
    everything = plan["files"] + (["-k", plan["select"]] if plan["select"] else [])
    lines = changed_lines(module)
    selected = everything
    if lines:
        coverage = {int(k): v for k, v in json.loads(Path("coverage-map.json").read_text()).items()}
        tree = ast.parse(module.with_name(module.name + ".bak").read_text())
        tests: set[str] = set()
        on_import = False
        for line in lines:
            statement, imported = statement_lines(tree, line)
            on_import |= imported
            for number in statement:
                tests.update(coverage.get(number, ()))
        if not on_import:
            if not tests:
                print(f"no test runs {module}:{','.join(map(str, lines))}: nothing to run")
                return 0
            position = {test: i for i, test in enumerate(plan["order"])}
            selected = sorted(tests, key=lambda test: (position.get(test, len(position)), test))
    return verdict(subprocess.run([sys.executable, "-m", "pytest", *plan["options"], *selected], capture_output=True))


def verdict(run: subprocess.CompletedProcess) -> int:
    """mutmut 2 counts a mutant killed only on exit code 1 (tests failed). A mutant that breaks
    importing a test module makes pytest stop at collection (exit code 2, or 4 when the node ids
    it was given have no collector left): the tests noticed it, so that is a kill too. Any other
    code is passed on, and mutmut reports the mutant as survived for a person to look at."""
    output = run.stdout.decode(errors="replace") + run.stderr.decode(errors="replace")
    sys.stdout.write(output[-4000:])
    if run.returncode in (2, 4) and "ERROR collecting" in output:
        return 1
    return run.returncode


if __name__ == "__main__":
    sys.exit(main())

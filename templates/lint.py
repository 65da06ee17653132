"""cfn-lint, in process: rules are loaded once and every template of every profile is checked
against its own region, from the written files (so E3043 can compare the root's nested-stack
parameters with the child templates beside it).

Fast lint: results are cached by everything that can change them (the template's bytes, for a
root also its children's, the region, cfn-lint's version, our rule version and ignores), so an
unchanged template is never linted twice and a warm run never imports cfn-lint; misses are
spread over a pool of forked workers, each loading cfn-lint's rules once.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass
from importlib.metadata import version
from multiprocessing import get_context
from pathlib import Path

from templates.limits import limit_problems

# Ignores are rare; each carries its reason. Keyed by (rule id, template file, path element).
IGNORED = {
    (
        "W3002",
        "root",
        "TemplateURL",
    ): "dist/ roots name their children by relative file name, as `aws cloudformation package` input does; "
    "the deployer rewrites every TemplateURL to the uploaded S3 URL before anything reaches CloudFormation",
}


@dataclass(frozen=True, order=True)
class Finding:
    file: str
    resource: str
    rule: str
    level: str  # error | warning | informational
    message: str
    line: int = 0

    def __str__(self) -> str:
        return f"{self.file}: {self.resource}: {self.rule}: {self.message}"


class Linter:
    """Holds cfn-lint's rules (loaded once) and lints files against a region."""

    def __init__(self) -> None:
        from cfnlint.config import ConfigMixIn
        from cfnlint.runner.cli import Runner

        from templates.rules import RULES_DIR

        self._config_type = ConfigMixIn
        # cfn-lint's own rules plus the project's (templates/rules, E9xxx/W9xxx), as `--append-rules` does.
        self._rules = Runner(ConfigMixIn(cli_args=[], regions=["us-east-1"], append_rules=[RULES_DIR])).rules

    def lint_file(self, path: Path, region: str, shown: str | None = None) -> list[Finding]:
        from cfnlint.decode import decode
        from cfnlint.runner.template.runner import _run_template

        shown = shown or str(path)
        template, errors = decode(str(path))
        if errors:
            return [Finding(shown, "-", m.rule.id, "error", m.message, m.linenumber) for m in errors]
        config = self._config_type(cli_args=[], regions=[region])
        findings = []
        for match in _run_template(str(path), template, config, self._rules):
            if _ignored(match, path):
                continue
            where = getattr(match, "path", None) or []  # cfn-lint's E0002 (a rule crashed) has no path
            resource = (
                str(where[1])
                if len(where) > 1 and where[0] in ("Resources", "Parameters", "Outputs", "Conditions")
                else "-"
            )
            findings.append(
                Finding(shown, resource, match.rule.id, _level(match.rule.id), match.message, match.linenumber)
            )
        return sorted(findings)


def _level(rule_id: str) -> str:
    from templates.rules import level

    return level(rule_id)


def _ignored(match, path: Path) -> bool:
    where = [str(p) for p in (getattr(match, "path", None) or [])]
    return any(rule == match.rule.id and path.stem == file and element in where for rule, file, element in IGNORED)


# Bump when the project's own rules or the way findings are produced change: it is in every key.
RULES_VERSION = "2"  # 2: the project's policy rules (templates/rules) run with cfn-lint's


def _rules_digest() -> str:
    """sha256 of the project's rule sources and resource_semantics.py: editing either misses the cache
    even without a bump."""
    from templates.rules import RULES_DIR

    digest = hashlib.sha256()
    import resource_semantics  # the name table and type lists the rules read (E9010 and others)

    for source in [*sorted(Path(RULES_DIR).glob("*.py")), Path(resource_semantics.__file__)]:
        digest.update(source.name.encode() + b"\0" + source.read_bytes())
    return digest.hexdigest()


@dataclass(frozen=True)
class LintTask:
    path: Path
    region: str
    shown: str
    key: str  # the cache key: sha256 of every input that can change the findings


def tasks_for(folder: Path, shown_prefix: str = "") -> tuple[list[LintTask], list[Finding]]:
    """One task per template the manifest lists, and the hard-limit findings (no linting needed)."""
    manifest = json.loads((folder / "manifest.json").read_text())
    # Hash the bytes that will actually be linted, not what the manifest says they should be.
    by_file = {
        entry["file"]: hashlib.sha256((folder / entry["file"]).read_bytes()).hexdigest()
        for entry in manifest["templates"]
    }
    engine = f"cfn-lint {version('cfn-lint')}|rules {RULES_VERSION} {_rules_digest()}|ignores {sorted(IGNORED)}"
    tasks, limits = [], []
    for entry in manifest["templates"]:
        # global: the us-east-1 stack; region:<r>: a stack the deployer creates in region r
        region = (
            "us-east-1"
            if entry["scope"] == "global"
            else entry["scope"].removeprefix("region:")
            if entry["scope"].startswith("region:")
            else manifest["region"]
        )
        shown = f"{shown_prefix}{entry['file']}"
        # E3043 reads a root's children from disk: their bytes are inputs of the root's findings.
        children = sorted(by_file.items()) if entry["scope"] == "root" else []
        key = hashlib.sha256(
            f"{by_file[entry['file']]}|{region}|{engine}|{children}|{entry['file']}".encode()
        ).hexdigest()
        tasks.append(LintTask(folder / entry["file"], region, shown, key))
        limits.extend(Finding(shown, "-", "LIMIT", "error", problem) for problem in limit_problems(entry))
    return tasks, limits


class LintCache:
    """Findings per cache key, one small JSON file each."""

    def __init__(self, folder: Path):
        self.folder = folder

    @classmethod
    def default(cls) -> LintCache:
        base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
        return cls(Path(os.environ.get("CFN_STRATA_CACHE", Path(base) / "cfn-strata")) / "lint")

    def get(self, task: LintTask) -> list[Finding] | None:
        try:
            stored = json.loads((self.folder / f"{task.key}.json").read_text())
        except (OSError, ValueError):
            return None
        return [dataclasses.replace(Finding(**f), file=task.shown) for f in stored]

    def put(self, task: LintTask, findings: list[Finding]) -> None:
        self.folder.mkdir(parents=True, exist_ok=True)
        temporary = self.folder / f".{task.key}.{os.getpid()}.tmp"
        temporary.write_text(json.dumps([dataclasses.asdict(f) for f in findings]))
        os.replace(temporary, self.folder / f"{task.key}.json")


_worker_linter: Linter | None = None


def _worker_init() -> None:
    global _worker_linter
    _worker_linter = Linter()


def _worker_lint(task: LintTask) -> list[Finding]:
    assert _worker_linter is not None
    return _worker_linter.lint_file(task.path, task.region, task.shown)


# progress(done, total, task): called once with (0, total, None) before the first miss is linted and
# once per linted template after it; never called when every template is a cache hit.
Progress = Callable[[int, int, "LintTask | None"], None]


def run_lint(
    folders: list[tuple[Path, str]],
    *,
    cache: LintCache | None = None,
    jobs: int | None = None,
    linter: Linter | None = None,
    progress: Progress | None = None,
) -> list[Finding]:
    """Lint every template of every (folder, shown prefix); cached results are reused, misses are
    linted across `jobs` worker processes (1 = in this process)."""
    tasks: list[LintTask] = []
    findings: list[Finding] = []
    for folder, prefix in folders:
        folder_tasks, limits = tasks_for(folder, prefix)
        tasks.extend(folder_tasks)
        findings.extend(limits)
    misses = []
    for task in tasks:
        cached = cache.get(task) if cache else None
        if cached is None:
            misses.append(task)
        else:
            findings.extend(cached)
    report = progress or (lambda done, total, task: None)
    if misses:
        report(0, len(misses), None)
    jobs = max(1, min(jobs or os.cpu_count() or 1, len(misses)))
    results: list[list[Finding]] = [[] for _ in misses]
    if not misses:
        pass
    elif jobs == 1 or linter is not None:
        active = linter or Linter()
        for i, t in enumerate(misses):
            results[i] = active.lint_file(t.path, t.region, t.shown)
            report(i + 1, len(misses), t)
    else:
        # Largest first, one at a time: a 270 kB template takes a worker as long as twenty small
        # ones, and handing it out last would leave the other workers idle at the end.
        order = sorted(range(len(misses)), key=lambda i: -misses[i].path.stat().st_size)
        with ProcessPoolExecutor(jobs, mp_context=get_context("fork"), initializer=_worker_init) as pool:
            running = {pool.submit(_worker_lint, misses[i]): i for i in order}
            for done, future in enumerate(as_completed(running), start=1):
                results[running[future]] = future.result()
                report(done, len(misses), misses[running[future]])
    for task, result in zip(misses, results, strict=True):
        if cache:
            cache.put(task, result)
        findings.extend(result)
    return sorted(findings)


def lint_directory(linter: Linter, folder: Path, shown_prefix: str = "") -> list[Finding]:
    """Lint one generated folder in this process, uncached."""
    return run_lint([(folder, shown_prefix)], linter=linter)

"""cfn-strata: nested CloudFormation templates per architecture layer, from one params file per
application and environment. This module is the CLI: it parses options and calls one function.
"""

from __future__ import annotations

import functools
import sys
from pathlib import Path

import click
from rich.console import Console
from rich.table import Table

from templates.config import ConfigError
from templates.params import available_profiles, load_config, params_root
from templates.render import LimitError, render, write_profile

console = Console(stderr=True, highlight=False)
out_console = Console(highlight=False)
DEFAULT_PROFILE = "product-catalog"


class OperationFailed(Exception):
    """A known failure of an operation (lint findings, an AWS error): one line, exit 1."""


def catch_errors(command):
    """Known errors become one line on stderr and an exit code; unknown ones keep their traceback."""

    @functools.wraps(command)
    def wrapper(*args, **kwargs):
        try:
            return command(*args, **kwargs)
        except ConfigError as err:
            console.print(f"[red]error:[/red] {err}", markup=True, soft_wrap=True)
            sys.exit(2)
        except (LimitError, OperationFailed) as err:
            console.print(f"[red]error:[/red] {err}", soft_wrap=True)
            sys.exit(1)

    return wrapper


def _targets(profile: str | None, env: str | None, all_profiles: bool, params: str | None) -> list[tuple[str, str]]:
    root = params_root(params)
    profiles = available_profiles(root)
    if all_profiles:
        return [(app, e) for app, envs in profiles.items() for e in envs if env is None or e == env]
    if profile is None:
        raise click.UsageError("give a PROFILE or --all (see `cfn-strata profiles`)")
    if env is not None:
        return [(profile, env)]
    if profile not in profiles:
        known = ", ".join(profiles) or "none"
        raise ConfigError(str(root / profile), "", f"no profile {profile!r} here (base.yaml missing); profiles: {known}")
    return [(profile, e) for e in profiles[profile]]


def generate_all(targets, params: str | None, out: Path, fmt: str):
    """Load every config, render everything in memory, and only then write: all or nothing."""
    configs = [load_config(app, env, params_root(params)) for app, env in targets]
    rendered = [render(cfg, fmt) for cfg in configs]
    return [(r, write_profile(r, out)) for r in rendered]


def _summary(results) -> Table:
    table = Table(title="generated", show_lines=False)
    for column in ("profile", "env", "template", "resources", "params", "outputs", "bytes", "sha256"):
        table.add_column(column, justify="right" if column in ("resources", "params", "outputs", "bytes") else "left")
    for rendered, folder in results:
        for entry in rendered.manifest["templates"]:
            table.add_row(
                rendered.cfg.application, rendered.cfg.environment.name, str(folder / entry["file"]),
                str(entry["resources"]), str(entry["parameters"]), str(entry["outputs"]), f"{entry['bytes']:,}", entry["sha256"][:12],
            )
    return table


profile_argument = click.argument("profile", required=False)
env_option = click.option("--env", "-e", help="Environment (the overlay file's name, e.g. dev, prod). Default: every environment of the profile.")
all_option = click.option("--all", "all_profiles", is_flag=True, help="Every profile under the params folder.")
params_option = click.option("--params", type=click.Path(file_okay=False), envvar="CFN_STRATA_PARAMS", help="Params folder. Default: ./params when present, else the one shipped with cfn-strata.")
out_option = click.option("--out", default="dist", show_default=True, type=click.Path(file_okay=False, path_type=Path), help="Output folder; templates go to OUT/<app>/<env>/.")


@click.group(context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 110})
@click.version_option("0.1.0", prog_name="cfn-strata")
def cli():
    """cfn-strata: nested CloudFormation templates, one per architecture layer, from params files.

    \b
    Example:
      cfn-strata profiles
      cfn-strata generate product-catalog --env dev
      cfn-strata lint --all
    """


@cli.command()
@params_option
@catch_errors
def profiles(params):
    """List the profiles and their environments.

    \b
    Example:
      cfn-strata profiles
    """
    root = params_root(params)
    table = Table(title=f"profiles in {root}")
    table.add_column("profile")
    table.add_column("environments")
    table.add_column("region")
    for app, envs in available_profiles(root).items():
        region = load_config(app, envs[0], root).region if envs else "-"
        table.add_row(app, ", ".join(envs), region)
    out_console.print(table)


@cli.command()
@profile_argument
@env_option
@all_option
@params_option
@out_option
@click.option("--format", "fmt", type=click.Choice(["json", "yaml"]), default="json", show_default=True, help="Template format.")
@catch_errors
def generate(profile, env, all_profiles, params, out, fmt):
    """Generate the root and layer templates and a manifest into OUT/<app>/<env>/.

    Output is written to a temporary folder that replaces the old one only when every template
    of every requested environment was generated; bad params leave OUT untouched (exit 2).

    \b
    Example:
      cfn-strata generate product-catalog --env prod
      cfn-strata generate --all --format yaml
    """
    results = generate_all(_targets(profile, env, all_profiles, params), params, out, fmt)
    out_console.print(_summary(results))


@cli.command()
@profile_argument
@env_option
@all_option
@params_option
@out_option
@click.option("--jobs", "-j", type=click.IntRange(1, 64), default=None, help="Worker processes for cache misses. Default: one per core.")
@click.option("--no-cache", is_flag=True, help="Lint every template even when an identical one was linted before.")
@catch_errors
def lint(profile, env, all_profiles, params, out, jobs, no_cache):
    """Generate, then run cfn-lint in-process on every template, for each profile's region.

    Prints each finding as `file: resource: rule: message` and checks CloudFormation's hard
    limits (1 MB in S3, 500 resources, 200 parameters, 200 outputs). Exit 1 on any error or
    warning. Results are cached (~/.cache/cfn-strata, or $CFN_STRATA_CACHE) by the template's
    bytes, region, cfn-lint version and rule version; misses run on all cores.

    \b
    Example:
      cfn-strata lint product-catalog
      cfn-strata lint --all
    """
    from templates.lint import LintCache, run_lint

    results = generate_all(_targets(profile, env, all_profiles, params), params, out, "json")
    with console.status(f"linting {sum(len(r.manifest['templates']) for r, _ in results)} templates"):
        findings = run_lint([(folder, f"{folder}/") for _, folder in results], cache=None if no_cache else LintCache.default(), jobs=jobs)
    for finding in findings:
        out_console.print(str(finding), soft_wrap=True)
    count = sum(len(r.manifest["templates"]) for r, _ in results)
    blocking = [f for f in findings if f.level in ("error", "warning")]
    if blocking:
        raise OperationFailed(f"{len(blocking)} cfn-lint error(s)/warning(s) in {count} templates")
    console.print(f"[green]ok[/green]: {count} templates in {len(results)} environment(s), zero cfn-lint errors and warnings, within CloudFormation's limits")


@cli.command("rules")
def rules():
    """List the project's policy rules that `lint` runs with cfn-lint's (templates/rules).

    \b
    Example:
      cfn-strata rules
    """
    from templates.rules import level, project_rules

    table = Table(title="cfn-strata policy rules (README: Security rules)")
    for column in ("id", "level", "description"):
        table.add_column(column)
    for rule in project_rules():
        table.add_row(rule.id, level(rule.id), rule.shortdesc)
    out_console.print(table)


@cli.command("params-reference")
def params_reference():
    """Print the params reference (Markdown), generated from the params model.

    \b
    Example:
      cfn-strata params-reference > docs/params.md
    """
    from templates.reference import params_reference_markdown

    out_console.print(params_reference_markdown(), markup=False, soft_wrap=True)


def main() -> None:
    cli(prog_name="cfn-strata")


if __name__ == "__main__":
    main()

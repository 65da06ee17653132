"""cfn-strata: nested CloudFormation templates per architecture layer, from one params file per
application and environment. This module is the CLI: it parses options and calls one function.
"""

from __future__ import annotations

import functools
import sys
from pathlib import Path

import click
from rich.console import Console
from rich.markup import escape
from rich.table import Table

# Light imports only: the generator (pydantic, troposphere) and cfn-lint are imported by the
# commands that need them, so a warm `lint` of unchanged templates never loads them.
from deployer.errors import Declined, Interrupted  # standard library only: no boto3 until a command needs it
from templates.errors import ConfigError, LimitError
from templates.freshness import fresh_manifest, inputs_digest
from templates.profiles import available_profiles, deployment_folder, params_root

console = Console(stderr=True, highlight=False)
out_console = Console(highlight=False)
DEFAULT_PROFILE = "product-catalog"


class OperationFailed(Exception):
    """A known failure of an operation (lint findings, an AWS error): one line, exit 1."""


# Flag combinations refused before anything runs (exit 2, one line naming both), each only when
# both were typed on the command line (AWS_PROFILE / CFN_STRATA_BUCKET from the environment are no
# conflict). (param, param, why): never together.
CONFLICTS = [
    ("profile", "all_profiles", "--all takes every profile; give one or the other"),
    ("local", "endpoint_url", "--local starts its own emulator endpoint"),
    ("local", "aws_profile", "--local signs with the emulator's credentials, not a named profile"),
]
# (param, (other param, value it needs), why, commands it applies to or None for all): ignored otherwise.
NEEDS = [
    ("upload_review", ("output", "html"), "only the HTML page is uploaded", None),
    ("html_file", ("output", "html"), "only -o html writes a page", None),
    ("review_name", ("upload_review", True), "it names the uploaded page", None),
    ("review_expires", ("upload_review", True), "it is the presigned URL's lifetime", None),
    ("bucket", ("upload_review", True), "review uploads nothing else", {"review"}),
    ("prefix", ("upload_review", True), "review uploads nothing else", {"review"}),
]


def _flag(ctx: click.Context, name: str) -> str:
    """How a parameter is typed: PROFILE, --all, -o/--output."""
    param = next(p for p in ctx.command.params if p.name == name)
    if isinstance(param, click.Argument):
        return param.human_readable_name
    return "/".join(sorted(param.opts, key=len))


def check_flags(ctx: click.Context) -> str | None:
    """The first conflicting or ignored flag combination typed on the command line, as one line."""
    from click.core import ParameterSource

    def given(name: str) -> bool:
        return name in ctx.params and ctx.get_parameter_source(name) in (
            ParameterSource.COMMANDLINE,
            ParameterSource.PROMPT,
        )

    for a, b, why in CONFLICTS:
        if given(a) and given(b) and ctx.params[a] not in (None, False) and ctx.params[b] not in (None, False):
            return f"{_flag(ctx, a)} and {_flag(ctx, b)} cannot be used together: {why}"
    for name, (other, value), why, commands in NEEDS:
        if (
            (commands is None or ctx.command.name in commands)
            and given(name)
            and other in ctx.params
            and ctx.params[other] != value
        ):
            needed = f"{_flag(ctx, other)} {value}" if value is not True else _flag(ctx, other)
            return f"{_flag(ctx, name)} needs {needed}: {why}"
    return None


def catch_errors(command):
    """Known errors become one line on stderr and an exit code; unknown ones keep their traceback."""

    @functools.wraps(command)
    def wrapper(*args, **kwargs):
        ctx = click.get_current_context(silent=True)
        conflict = check_flags(ctx) if ctx is not None else None
        if conflict:
            console.print(f"[red]error:[/red] {escape(conflict)}", soft_wrap=True)
            sys.exit(2)
        try:
            return command(*args, **kwargs)
        except ConfigError as err:
            console.print(f"[red]error:[/red] {escape(str(err))}", soft_wrap=True)
            sys.exit(2)
        except (LimitError, OperationFailed) as err:
            console.print(f"[red]error:[/red] {escape(str(err))}", soft_wrap=True)
            sys.exit(1)
        except (Interrupted, Declined) as err:  # Ctrl-C: 130; a question answered no or not at all: DECLINED_EXIT
            console.print(str(err), markup=False, soft_wrap=True)
            sys.exit(err.exit_code)
        except (
            KeyboardInterrupt
        ):  # Ctrl-C anywhere else (upload, drift detection, lint): 130, not click's "Aborted!" and 1
            console.print(_interrupted(ctx.command.name if ctx is not None else ""), markup=False, soft_wrap=True)
            sys.exit(Interrupted.exit_code)
        except Exception as err:
            message = _deployer_error(err)
            if message is None:
                raise
            # escaped: AWS reasons carry brackets ("resource(s) [bucket-a]") that rich would read as markup
            console.print(f"[red]error:[/red] {escape(message)}", soft_wrap=True, markup=True, highlight=False)
            sys.exit(getattr(err, "exit_code", 1))  # deployer.errors.FlagRefused: 2, a flag that cannot apply

    return wrapper


# Commands that start operations in AWS which go on without the CLI (Ctrl-C cannot call them back).
STARTS_OPERATIONS = {"deploy", "destroy", "bootstrap"}


def _interrupted(command: str) -> str:
    if command in STARTS_OPERATIONS:
        return (
            f"interrupted (Ctrl-C): stopped cfn-strata {command}; an operation it had started in AWS goes on (see "
            "the stack's events)"
        )
    return f"interrupted (Ctrl-C): stopped cfn-strata {command}; nothing was executed"


def _deployer_error(err: Exception) -> str | None:
    """The one line for a deployer or AWS error (deployer is imported only when one happens)."""
    if not type(err).__module__.startswith(("deployer", "botocore", "boto3")):
        return None
    from deployer.errors import DeployerError, explain

    return str(err) if isinstance(err, DeployerError) else explain(err)


def _targets(profile: str | None, env: str | None, all_profiles: bool, params: str | None) -> list[tuple[str, str]]:
    root = params_root(params)
    profiles = available_profiles(root)
    if _suffix() and (all_profiles or profile is None or env is None):
        raise click.UsageError(
            "--suffix names one deployment: give PROFILE --env ENV with it (not --all, not every environment)"
        )
    if all_profiles:
        return [(app, e) for app, envs in profiles.items() for e in envs if env is None or e == env]
    if profile is None:
        raise click.UsageError("give a PROFILE or --all (see `cfn-strata profiles`)")
    if env is not None:
        return [(profile, env)]
    if profile not in profiles:
        known = ", ".join(profiles) or "none"
        raise ConfigError(
            str(root / profile), "", f"no profile {profile!r} here (base.yaml missing); profiles: {known}"
        )
    return [(profile, e) for e in profiles[profile]]


def generate_all(targets, params: str | None, out: Path, fmt: str):
    """Load every config, render everything in memory, and only then write: all or nothing."""
    from templates.params import load_config
    from templates.render import render, write_profile

    root = params_root(params)
    suffix = _suffix()
    configs = [load_config(app, env, root, suffix=suffix) for app, env in targets]
    rendered = [render(cfg, fmt, suffix_override=suffix) for cfg in configs]
    stamps = [inputs_digest(root, app, env, fmt, suffix) for app, env in targets]
    results = [(r, write_profile(r, out, stamp)) for r, stamp in zip(rendered, stamps, strict=True)]
    for _, folder in results:
        _note_kept(folder)
    return results


# What rewrites each file regeneration keeps (templates.render.KEPT_ON_REGENERATION).
REWRITTEN_BY = {
    "docs": "`cfn-strata docs` or `upload`",
    "review.html": "`cfn-strata plan -o html`",
    "template-configuration.json": "`cfn-strata upload`",
}


def _note_kept(folder: Path) -> None:
    """Say which files other commands wrote were carried over into a regenerated folder: they
    describe the templates as they were until the command that writes them runs again."""
    kept = [name for name in REWRITTEN_BY if (folder / name).exists()]
    if kept:
        how = "; ".join(f"{name}{'/' if (folder / name).is_dir() else ''}: {REWRITTEN_BY[name]}" for name in kept)
        console.print(
            f"note: regenerated {folder}/ and kept what other commands wrote there, which describes the "
            f"previous templates until rewritten ({how})",
            markup=False,
            soft_wrap=True,
        )


def up_to_date(targets, params: str | None, out: Path) -> list[tuple[Path, dict]]:
    """(folder, manifest) per target: the folder as it is when generated from exactly the current
    inputs (templates/freshness.py), else generated now (all stale targets together, all or nothing)."""
    root = params_root(params)
    suffix = _suffix()  # --suffix: OUT/<app>/<env>.<suffix>/ (templates/profiles.py deployment_folder)
    folders = {(app, env): out / app / deployment_folder(env, suffix) for app, env in targets}
    found = {
        target: fresh_manifest(folders[target], inputs_digest(root, *target, "json", suffix)) for target in targets
    }
    stale = [target for target, manifest in found.items() if manifest is None]
    if stale:
        for rendered, _ in generate_all(stale, params, out, "json"):
            found[(rendered.cfg.application, rendered.cfg.environment.name)] = rendered.manifest
    return [(folders[target], found[target]) for target in targets]


def _summary(results, out: Path) -> Table:
    table = Table(title=f"generated into {out}/", title_justify="left")
    for column in ("template", "resources", "params", "outputs", "bytes", "sha256"):
        table.add_column(column, justify="left" if column in ("template", "sha256") else "right")
    for rendered, folder in results:
        for entry in rendered.manifest["templates"]:
            table.add_row(
                f"{rendered.cfg.application}/{folder.name}/{entry['file']}",
                str(entry["resources"]),
                str(entry["parameters"]),
                str(entry["outputs"]),
                f"{entry['bytes']:,}",
                entry["sha256"][:12],
            )
    return table


profile_argument = click.argument("profile", required=False)
env_option = click.option(
    "--env",
    "-e",
    help="Environment (the overlay file's name, e.g. dev, prod). Default: every environment of the profile.",
)
all_option = click.option("--all", "all_profiles", is_flag=True, help="Every profile under the params folder.")
params_option = click.option(
    "--params",
    type=click.Path(file_okay=False),
    envvar="CFN_STRATA_PARAMS",
    help="Params folder. Default: ./params when present, else the one shipped with cfn-strata.",
)
out_option = click.option(
    "--out",
    default="dist",
    show_default=True,
    type=click.Path(file_okay=False, path_type=Path),
    help="Output folder; templates go to OUT/<app>/<env>/.",
)


# ------------------------------------------------------------------ team options (issue 14)
# --suffix on every command that names a deployment, and --parameter-overrides / --tags /
# --role-arn on upload/plan/deploy, as `aws cloudformation deploy` takes them. Their values are
# kept in the click context (expose_value=False), so the commands' signatures stay as they are:
# `_suffix()` is read where targets are generated, `_with_overrides()` where the bundle is loaded.
SUFFIX_META = "cfn_strata.suffix"
OVERRIDES_META = "cfn_strata.overrides"


def _remember_suffix(ctx: click.Context, param: click.Parameter, value):
    if value == "":  # would read as "no suffix" downstream; the params model refuses it too
        raise click.BadParameter(
            "is empty; give the deployment's suffix (like environment.suffix: a-z, 0-9 and -, 2-24 characters)",
            ctx=ctx,
            param=param,
        )
    if value is not None:
        ctx.meta[SUFFIX_META] = value
    return value


def _suffix() -> str | None:
    """The --suffix of the running command (None: the params file's environment.suffix)."""
    ctx = click.get_current_context(silent=True)
    return ctx.meta.get(SUFFIX_META) if ctx is not None else None


suffix_option = click.option(
    "--suffix",
    metavar="NAME",
    expose_value=False,
    callback=_remember_suffix,
    help="Deploy as environment.suffix NAME instead of the params file's (a per-PR environment from the dev overlay: "
    "stack <app>-NAME, names and the EnvironmentSuffix tag). Same rules as the params value. Output in "
    "OUT/<app>/<env>.NAME/.",
)


class PairsOption(click.Option):
    """An option that takes one or more Key=Value items after one flag, as the AWS CLI does
    (`--tags A=1 B=2`); it can also be repeated. Items are read while the next argument holds
    `=` and does not start with `-`, so a PROFILE after them is still the argument."""

    def add_to_parser(self, parser, ctx):
        super().add_to_parser(parser, ctx)
        for name in self.opts:
            option = parser._long_opt.get(name)  # click's parser keeps its options by flag (click 8.x)
            if option is None:
                continue
            first = option.process

            def process(value, state, first=first):
                first(value, state)
                while state.rargs and "=" in state.rargs[0] and not state.rargs[0].startswith("-"):
                    first(state.rargs.pop(0), state)

            option.process = process


def _pairs(flag: str, key: str):
    def callback(ctx: click.Context, param: click.Parameter, value):
        from deployer.errors import FlagRefused
        from deployer.overrides import parse_pairs

        if value:
            try:
                ctx.meta.setdefault(OVERRIDES_META, {})[key] = parse_pairs(flag, value)
            except FlagRefused as err:  # a usage error: click's own message and exit 2
                raise click.BadParameter(str(err).removeprefix(f"{flag}: "), ctx=ctx, param=param) from None
        return value

    return callback


def _role(ctx: click.Context, param: click.Parameter, value):
    if value:
        ctx.meta.setdefault(OVERRIDES_META, {})["role_arn"] = value
    return value


parameter_overrides_option = click.option(
    "--parameter-overrides",
    cls=PairsOption,
    multiple=True,
    expose_value=False,
    metavar="KEY=VALUE...",
    callback=_pairs("--parameter-overrides", "parameters"),
    help="Root template parameters for this deploy, over the params file's values, as in `aws cloudformation deploy` "
    "(e.g. --parameter-overrides ServiceApiDesiredCount=4 AlarmEmail=ops@example.com). Unknown names and values the "
    "parameter refuses exit 2.",
)
tags_option = click.option(
    "--tags",
    cls=PairsOption,
    multiple=True,
    expose_value=False,
    metavar="KEY=VALUE...",
    callback=_pairs("--tags", "tags"),
    help="Stack tags added to the profile's (CloudFormation propagates them to the resources), as in `aws "
    "cloudformation deploy` "
    "(e.g. --tags PullRequest=123 Team=payments). A key the profile already sets with another value exits 2.",
)
role_arn_option = click.option(
    "--role-arn",
    metavar="ARN",
    expose_value=False,
    callback=_role,
    help="The CloudFormation service role: CloudFormation assumes it to create and execute the change set (RoleARN) "
    "and keeps it for later operations on the stack.",
)


def _with_overrides(bundle):
    """The bundle with the command's --parameter-overrides, --tags and --role-arn, each checked
    against the generated root template and CloudFormation's rules (exit 2 naming the flag)."""
    ctx = click.get_current_context(silent=True)
    given = (ctx.meta.get(OVERRIDES_META) or {}) if ctx is not None else {}
    if not any(given.get(key) for key in ("parameters", "tags", "role_arn")):
        return bundle
    from deployer.overrides import check_parameters, check_role_arn, check_tags

    parameters = check_parameters(bundle, given.get("parameters") or {})
    tags = check_tags(bundle, given.get("tags") or {})
    role_arn = (
        check_role_arn(given["role_arn"], ctx.params.get("region") or bundle.region) if given.get("role_arn") else None
    )
    return bundle.with_overrides(parameters, tags, role_arn)


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
    from templates.params import load_config

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
@click.option(
    "--format", "fmt", type=click.Choice(["json", "yaml"]), default="json", show_default=True, help="Template format."
)
@suffix_option
@catch_errors
def generate(profile, env, all_profiles, params, out, fmt):
    """Generate the root and layer templates and a manifest into OUT/<app>/<env>/.

    Output is written to a temporary folder that replaces the old one only when every template
    of every requested environment was generated; bad params leave OUT untouched (exit 2).

    \b
    Example:
      cfn-strata generate product-catalog --env prod
      cfn-strata generate --all --format yaml
      cfn-strata generate product-catalog --env dev --suffix pr-123   # into dist/product-catalog/dev.pr-123/
    """
    results = generate_all(_targets(profile, env, all_profiles, params), params, out, fmt)
    out_console.print(_summary(results, out))


@cli.command()
@profile_argument
@env_option
@all_option
@params_option
@out_option
@click.option(
    "--jobs",
    "-j",
    type=click.IntRange(1, 64),
    default=None,
    help="Worker processes for cache misses. Default: one per core.",
)
@click.option("--no-cache", is_flag=True, help="Lint every template even when an identical one was linted before.")
@suffix_option
@catch_errors
def lint(profile, env, all_profiles, params, out, jobs, no_cache):
    """Generate (or reuse dist/ when nothing changed), then run cfn-lint in-process on every
    template, for each profile's region.

    Prints each finding as `file: resource: rule: message` and checks CloudFormation's hard
    limits (1 MB in S3, 500 resources, 200 parameters, 200 outputs). Exit 1 on any error or
    warning. Results are cached (~/.cache/cfn-strata, or $CFN_STRATA_CACHE) by the template's
    bytes, region, cfn-lint version and rule version; misses run on all cores.

    \b
    Example:
      cfn-strata lint product-catalog
      cfn-strata lint --all
    """
    from templates.lint import LintCache

    results = up_to_date(_targets(profile, env, all_profiles, params), params, out)
    count = sum(len(manifest["templates"]) for _, manifest in results)
    findings = _run_lint([folder for folder, _ in results], cache=None if no_cache else LintCache.default(), jobs=jobs)
    for finding in findings:
        out_console.print(str(finding), soft_wrap=True)
    blocking = [f for f in findings if f.level in ("error", "warning")]
    if blocking:
        raise OperationFailed(f"{len(blocking)} cfn-lint error(s)/warning(s) in {count} templates")
    console.print(
        f"[green]ok[/green]: {count} templates in {len(results)} environment(s), zero cfn-lint errors and "
        "warnings, within CloudFormation's limits",
        soft_wrap=True,
    )


@cli.command()
@click.argument("app")
@click.option("--region", required=True, help="AWS region the stacks deploy to (e.g. eu-north-1).")
@click.option(
    "--from",
    "source",
    metavar="PROFILE",
    help="Start from a copy of this profile (its base, dev and prod files) instead of the small starter.",
)
@click.option(
    "--params",
    type=click.Path(file_okay=False),
    envvar="CFN_STRATA_PARAMS",
    help="Params folder to write into. Default: ./params (created when missing).",
)
@catch_errors
def init(app, region, source, params):
    """Write a starting profile, params/APP/ (base.yaml, dev.yaml, prod.yaml), that generates and
    lints clean, its comments pointing at the params reference. Every environment is loaded
    before anything is written; an existing params/APP/ is never overwritten (exit 2).

    \b
    Example:
      cfn-strata init orders --region eu-north-1
      cfn-strata init billing --region us-east-1 --from product-catalog
      cfn-strata lint orders
    """
    from templates.starter import write_starter

    folder = Path(params) if params else Path("params")
    from_folder = None
    if source:  # a profile of the params folder, else one shipped with cfn-strata
        from templates.profiles import REPO_PARAMS

        roots = [params_root(params), REPO_PARAMS]
        from_folder = next((root / source for root in roots if source in available_profiles(root)), None)
        if from_folder is None:
            known = sorted({name for root in roots for name in available_profiles(root)})
            raise ConfigError("--from", "", f"no profile {source!r}; profiles: {', '.join(known) or 'none'}")
    target = write_starter(folder, app, region, from_folder)
    console.print(
        f"[green]wrote[/green] {target}/base.yaml, dev.yaml, prod.yaml; next: cfn-strata lint {app}"
        + (f" --params {params}" if params else ""),
        soft_wrap=True,
    )


@cli.command("rules")
def rules():
    """List the project's policy rules that `lint` runs with cfn-lint's (templates/rules).

    \b
    Example:
      cfn-strata rules
    """
    from templates.rules import level, project_rules

    table = Table(title='cfn-strata rules that lint runs (README: "Policy rules" and "Pre-flight rules")')
    for column in ("id", "level", "description"):
        table.add_column(column)
    for rule in project_rules():
        table.add_row(rule.id, level(rule.id), rule.shortdesc)
    out_console.print(table)


@cli.command("params-reference")
@click.option(
    "--readme",
    type=click.Path(dir_okay=False, exists=True, path_type=Path),
    help="Replace the section between the params-reference markers of this file instead of printing.",
)
@click.option(
    "--markdown", is_flag=True, help="Print the Markdown table the README holds instead of the plain-text list."
)
def params_reference(readme, markdown):
    """Print the params reference, generated from the params model: every key with its type in
    the words a params file uses (`list of CIDR`, `int or null`), its default and what it does.

    \b
    Example:
      cfn-strata params-reference
      cfn-strata params-reference --markdown > params.md
      cfn-strata params-reference --readme README.md
    """
    from templates.reference import params_reference_markdown, params_reference_text, replace_section

    if readme:
        readme.write_text(replace_section(readme.read_text(), params_reference_markdown()))
        console.print(f"updated the params reference in {readme}")
    else:
        out_console.print(
            params_reference_markdown() if markdown else params_reference_text(),
            markup=False,
            soft_wrap=True,
            highlight=False,
            end="",
        )


# ------------------------------------------------------------------ deployer commands

FAIL_ON_EXIT = 3  # --fail-on: changes at or above the level exist (distinct from errors: 1, bad input: 2)
FAIL_ON_LEVELS = ["low", "medium", "high", "data-loss", "will-fail"]  # deployer.review.Risk, lowest first


def aws_options(command):
    """--region/--profile/--endpoint-url as in the AWS CLI, and --local (moto in-process)."""
    for option in reversed(
        [
            click.option("--region", help="AWS region. Default: the profile's region from the params file."),
            click.option(
                "--profile", "aws_profile", envvar="AWS_PROFILE", help="AWS named profile (as in the AWS CLI)."
            ),
            click.option("--endpoint-url", help="Send every AWS call to this URL (an emulator, a VPC endpoint)."),
            click.option(
                "--local",
                is_flag=True,
                help="Run against moto's server started in-process on loopback: no AWS account needed. "
                "Its account is kept in .cfn-strata/local/ under the current directory (`cfn-strata local "
                "reset` empties it).",
            ),
        ]
    ):
        command = option(command)
    return command


def store_options(command):
    for option in reversed(
        [
            click.option(
                "--bucket",
                envvar="CFN_STRATA_BUCKET",
                help="Template bucket. Default with --local: cfn-strata-local-templates.",
            ),
            click.option("--prefix", default="", help="Key prefix inside the bucket."),
            click.option(
                "--create-bucket",
                is_flag=True,
                help="Create the bucket first (versioned, encrypted, private, TLS only).",
            ),
        ]
    ):
        command = option(command)
    return command


def _bundle(profile: str, env: str, params: str | None, out: Path):
    """Generate into OUT unless an identical dist/ is already there; return it for the deployer."""
    from deployer.bundle import load_bundle

    [(folder, _)] = up_to_date([(profile, env)], params, out)
    return _with_overrides(load_bundle(folder))


def _run_lint(folders: list[Path], *, cache, jobs: int | None = None):
    """templates.lint.run_lint with the cache `lint` uses and, when templates miss it, a progress
    bar on stderr (one step per linted template); a warm run shows nothing and loads no cfn-lint."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    from templates.lint import run_lint

    with Progress(
        TextColumn("cfn-lint {task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=console,
    ) as bar:
        job = None

        def progress(done, total, task):
            nonlocal job
            if job is None:
                job = bar.add_task(f"{total} template(s) not in the cache", total=total)
            if task is not None:
                bar.update(job, completed=done, description="/".join(task.path.parts[-3:]))  # <app>/<env>/<file>

        return run_lint([(folder, f"{folder}/") for folder in folders], cache=cache, jobs=jobs, progress=progress)


def _lint_bundle(bundle) -> None:
    """The same cached lint as `lint` (a template linted once is not linted again by plan/deploy)."""
    from templates.lint import LintCache

    findings = [f for f in _run_lint([bundle.folder], cache=LintCache.default()) if f.level in ("error", "warning")]
    for finding in findings:
        console.print(str(finding), soft_wrap=True)
    if findings:
        raise OperationFailed(f"{len(findings)} cfn-lint error(s)/warning(s): fix them before deploying")


def _session(bundle, region, aws_profile, endpoint_url, local):
    from deployer.session import open_aws

    return open_aws(
        region or bundle.region, profile=aws_profile, endpoint_url=endpoint_url, local=local, on_retry=_retrying
    )


def _retrying(message: str) -> None:
    """Each retry after a connection failure, as it happens (above any spinner), instead of silence."""
    console.print(f"[yellow]retrying[/yellow]: {escape(message)}", soft_wrap=True)


def _bucket(bucket: str | None, local: bool) -> tuple[str, bool]:
    from deployer.local import LOCAL_BUCKET

    if bucket:
        return bucket, False
    if local:
        return LOCAL_BUCKET, True
    raise click.UsageError("give --bucket (or set CFN_STRATA_BUCKET); see `cfn-strata bootstrap`")


def _print_upload(result) -> None:
    console.print(
        f"uploaded {result.uploaded_count} of {len(result.templates)} template(s); template configuration: "
        f"{result.configuration_file}"
    )
    out_console.print(result.root.url, soft_wrap=True)


def _docs_folder(bundle) -> Path:
    return bundle.folder / "docs"


def _write_docs(bundle, template_urls: dict[str, str], url_note: str) -> Path:
    """LAUNCH.md and architecture.md into OUT/<app>/<env>/docs/, swapped in whole."""
    from templates.docs import docs_files
    from templates.render import write_atomically

    documents = {file: bundle.document(file) for file in bundle.files}
    # --parameter-overrides and the us-east-1 global stack's outputs: the links carry the values this upload was given
    for name, value in {**bundle.global_values, **bundle.parameter_overrides}.items():
        documents[bundle.root_file]["Parameters"][name]["Default"] = value
    folder = _docs_folder(bundle)
    write_atomically(folder, docs_files(bundle.manifest, documents, template_urls, url_note=url_note))
    return folder


def _write_review_page(aws, bundle, review, html: dict, bucket: str | None, prefix: str) -> None:
    """-o html: the page to a file; with --upload-review also to S3 and a presigned URL on stdout."""
    from deployer.review_html import to_html

    body = to_html(review).encode()
    path = html["html_file"] or bundle.folder / "review.html"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(body)
    console.print(f"review page: {path}", soft_wrap=True, markup=False)
    if not html["upload_review"]:
        return
    if not bucket:
        raise click.UsageError("--upload-review needs --bucket (or CFN_STRATA_BUCKET)")
    from deployer.upload import TemplateStore, bucket_region, presigned_url, put_document

    s3 = aws.client("s3")
    store = TemplateStore(bucket, prefix, bucket_region(s3, bucket), global_urls=aws.local)
    key = put_document(
        s3,
        store,
        bundle,
        f"reviews/{html['review_name'] or review.change_set_name}.html",
        body,
        "text/html; charset=utf-8",
    )
    console.print(f"uploaded s3://{bucket}/{key}; presigned URL ({html['review_expires']} s):")
    out_console.print(
        presigned_url(s3, bucket, key, html["review_expires"]), markup=False, soft_wrap=True, highlight=False
    )


def _no_changes(bundle, output: str) -> None:
    """ "no changes" on stderr; with -o json also the empty review on stdout, so stdout is always one
    JSON document (changes: [], highest_risk: null, change_set_name: null)."""
    console.print(f"[green]no changes[/green]: {bundle.stack_name} is up to date")
    if output == "json":
        from deployer.review import Review, to_json

        empty = Review(bundle.stack_name, None, None, (), notes=(f"no changes: {bundle.stack_name} is up to date",))
        out_console.print(to_json(empty), markup=False, soft_wrap=True, highlight=False)


def _print_review(review, output: str) -> None:
    from deployer.review import (
        DRIFT_AWARE_NOTE,
        REVERT_DRIFT,
        drift_table,
        hooks_table,
        table_for_width,
        to_json,
        to_markdown,
    )

    if output == "html":
        return  # written by _write_review_page
    if output == "json":
        out_console.print(to_json(review), markup=False, soft_wrap=True, highlight=False)
    elif output == "markdown":
        out_console.print(to_markdown(review), markup=False, soft_wrap=True, highlight=False)
    else:
        if review.deployment_mode == REVERT_DRIFT:
            out_console.print(DRIFT_AWARE_NOTE, markup=False, soft_wrap=True)
        out_console.print(table_for_width(review, out_console.width))
        if review.drifted:
            out_console.print(drift_table(review))
        if review.hooks:
            out_console.print(hooks_table(review))
        for note in review.notes:
            console.print(f"note: {note}", soft_wrap=True)


def _refuse_local_revert_drift(revert_drift: bool, local: bool) -> None:
    if revert_drift and local:
        raise click.UsageError(
            "--revert-drift cannot be used with --local: the local emulator has no drift-aware change sets (it "
            "does not model drift)"
        )


def _plan(aws, bundle, bucket, prefix, create_bucket, lint, drift=True, allowed=(), revert_drift=False):
    from deployer.flow import plan as plan_change_set

    if lint:
        _lint_bundle(bundle)
    name, create = _bucket(bucket, aws.local)
    with console.status("uploading and creating the change set") as status:
        result = plan_change_set(
            aws,
            bundle,
            name,
            prefix,
            create_bucket=create or create_bucket,
            progress=status.update,
            drift=drift,
            allowed=tuple(allowed),
            revert_drift=revert_drift,
        )
    console.print(f"uploaded {result.upload.uploaded_count} of {len(result.upload.templates)} template(s)")
    return result


def _deferred(result) -> bool:
    """The root's change set waits for the us-east-1 global stack's outputs (deployer/flow.py Deferred)."""
    from deployer.flow import Deferred

    return isinstance(result.outcome, Deferred)


def _specs_of(review, specs) -> tuple[str, ...]:
    """The --allow-replacement names that match a replaced or removed stateful resource of `review`."""
    from deployer.review import Risk

    risky = review.at_least(Risk.HIGH)
    return tuple(spec for spec in specs if any(spec in (c.logical_id, f"{c.layer}/{c.logical_id}") for c in risky))


def _print_regional(result, output: str) -> None:
    """The change sets of the stacks in other regions (the backup copy vault, the us-east-1 global
    stack), before the root's:
    a table on stdout with -o table; one line each on stderr otherwise (stdout keeps one document)."""
    from deployer.changeset import NoChanges
    from deployer.review import table_for_width

    for plan in result.regional:
        where = f"{plan.stack.stack_name} ({plan.stack.region}, created before the root)"
        if isinstance(plan.outcome, NoChanges):
            console.print(f"no changes: {where}", soft_wrap=True)
        elif output == "table":
            console.print(f"change set {plan.outcome.name} on {where}:", soft_wrap=True)
            out_console.print(table_for_width(plan.review, out_console.width))
        else:
            summary = "; ".join(
                f"{c.action} {c.logical_id} ({c.resource_type}, {c.risk.name})" for c in plan.review.changes
            )
            console.print(f"change set {plan.outcome.name} on {where}: {summary}", soft_wrap=True)


html_options = [
    click.option(
        "--html-file",
        type=click.Path(dir_okay=False, path_type=Path),
        help="Where -o html writes the page. Default: OUT/<app>/<env>/review.html.",
    ),
    click.option(
        "--upload-review",
        is_flag=True,
        help="With -o html: also upload the page next to the templates (<prefix>/<app>/<env>/reviews/<name>.html) "
        "and print a presigned URL to it.",
    ),
    click.option(
        "--review-name", help="File name (without .html) of the uploaded page. Default: the change set's name."
    ),
    click.option(
        "--review-expires",
        type=click.IntRange(60, 604800),
        default=86400,
        show_default=True,
        help="Seconds the presigned URL works (it also ends when the signing credentials do).",
    ),
]
OUTPUTS = click.Choice(["table", "markdown", "json", "html"])

review_options = [
    click.option(
        "--output",
        "-o",
        type=OUTPUTS,
        default="table",
        show_default=True,
        help="Review format; html writes a self-contained page (see --html-file).",
    ),
    click.option("--skip-lint", is_flag=True, help="Do not run cfn-lint before uploading."),
    click.option(
        "--skip-drift",
        is_flag=True,
        help="Do not run drift detection on the nested stacks that hold stateful resources.",
    ),
    click.option(
        "--revert-drift",
        is_flag=True,
        help="A drift-aware change set (DeploymentMode REVERT_DRIFT): the review shows each drifted property's "
        "actual, previously deployed and new value, and executing it reverts the drift. Deployed stacks only; "
        "not with --local.",
    ),
]


# The PROFILE --env ENV pair of every command that works on one deployed environment.
deployed_target = [
    click.argument("profile"),
    click.option("--env", "-e", required=True, help="Environment."),
    suffix_option,
]


def _with(options):
    def decorate(command):
        for option in reversed(options):
            command = option(command)
        return command

    return decorate


PLACEHOLDER_BUCKET = "REPLACE-WITH-YOUR-TEMPLATE-BUCKET"


@cli.command()
@click.argument("profile")
@env_option
@params_option
@out_option
@click.option(
    "--bucket",
    envvar="CFN_STRATA_BUCKET",
    help=f"Template bucket the links point into. Default: the placeholder {PLACEHOLDER_BUCKET}.",
)
@click.option("--prefix", default="", help="Key prefix inside the bucket (as given to upload).")
@suffix_option
@catch_errors
def docs(profile, env, params, out, bucket, prefix):
    """Write the launch kit and the architecture picture into OUT/<app>/<env>/docs/ without
    uploading: LAUNCH.md (console quick-create links, capabilities, parameter reference) and
    architecture.md (a Mermaid flowchart derived from the templates). The links carry the URLs
    `upload` would produce (content-addressed) in the bucket's region, taken to be the profile's.

    \b
    Example:
      cfn-strata docs product-catalog --env prod --bucket my-templates
    """
    from deployer.store import TemplateStore, planned_urls

    for app, environment in _targets(profile, env, False, params):
        bundle = _bundle(app, environment, params, out)
        store = TemplateStore(bucket or PLACEHOLDER_BUCKET, prefix, bundle.region)
        if bucket:
            note = (
                f"Template URLs: where `cfn-strata upload --bucket {bucket}` puts these exact templates "
                f"(s3://{bucket}/{store.folder(bundle)}); run it before using the links."
            )
        else:
            note = (
                f"Template URLs: **placeholder bucket `{PLACEHOLDER_BUCKET}`**. Run `cfn-strata docs --bucket "
                "<yours>` (or `cfn-strata upload`) for working links."
            )
        folder = _write_docs(bundle, planned_urls(bundle, store), note)
        out_console.print(f"{folder}/LAUNCH.md\n{folder}/architecture.md")


@cli.command()
@click.option("--bucket", required=True, help="Bucket name to create.")
@aws_options
@catch_errors
def bootstrap(bucket, region, aws_profile, endpoint_url, local):
    """Create the template bucket: versioning, encryption, public access blocked, TLS-only
    policy, lifecycle for old versions.

    \b
    Example:
      cfn-strata bootstrap --bucket my-templates --region eu-north-1
    """
    from deployer.flow import create_bucket
    from deployer.session import open_aws

    if not region and not local:
        raise click.UsageError("give --region for the bucket")
    with open_aws(
        region or "us-east-1", profile=aws_profile, endpoint_url=endpoint_url, local=local, on_retry=_retrying
    ) as aws:
        create_bucket(aws.client("s3"), bucket, aws.region, tls_only=not local)
    console.print(f"[green]ok[/green]: bucket {bucket} ready in {region or 'us-east-1'}")


@cli.command()
@_with(deployed_target)
@params_option
@out_option
@store_options
@aws_options
@click.option(
    "--image-tags",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="JSON {ImageTag parameter: tag} from the pipeline's image build: written into template-configuration.json "
    "(tags the params file pins are kept).",
)
@parameter_overrides_option
@tags_option
@catch_errors
def upload(
    profile, env, params, out, bucket, prefix, create_bucket, region, aws_profile, endpoint_url, local, image_tags
):
    """Generate (or reuse dist/), upload every template under a content-addressed key, print the
    root template URL and write the CodePipeline template configuration. Also writes the launch
    kit (OUT/<app>/<env>/docs/, see `docs`) with the real URLs and uploads its LAUNCH.md next to
    the templates.

    \b
    Example:
      cfn-strata upload product-catalog --env dev --bucket my-templates
      cfn-strata upload product-catalog --env prod --bucket my-templates --parameter-overrides ServiceApiDesiredCount=4 --tags CostCentre=cc-42
    """  # noqa: E501  click prints the \b example block verbatim: lines are the --help text
    from deployer.flow import upload as upload_templates
    from deployer.flow import with_global_values
    from deployer.upload import put_document

    bundle = _bundle(profile, env, params, out)
    with _session(bundle, region, aws_profile, endpoint_url, local) as aws:
        name, create = _bucket(bucket, local)
        if not set(bundle.global_inputs) <= bundle.parameter_overrides.keys():
            bundle = with_global_values(
                aws, bundle
            )  # the us-east-1 global stack's outputs into the template configuration
        result = upload_templates(aws, bundle, name, prefix, create=create or create_bucket)
        if image_tags:
            import json

            from deployer.errors import DeployerError
            from deployer.images import apply_image_tags

            try:
                tags = json.loads(image_tags.read_text())
            except ValueError as err:
                raise DeployerError(f"{image_tags}: not JSON ({err})") from None
            for note in apply_image_tags(result.configuration_file, bundle, tags, source=str(image_tags)):
                console.print(f"note: {note}", markup=False, soft_wrap=True)
        _print_upload(result)
        folder = _write_docs(
            bundle,
            {t.file: t.url for t in result.templates},
            f"Template URLs: uploaded to s3://{name}/{result.store.folder(bundle)} by `cfn-strata upload`.",
        )
        key = put_document(
            aws.client("s3"),
            result.store,
            bundle,
            "LAUNCH.md",
            (folder / "LAUNCH.md").read_bytes(),
            "text/markdown; charset=utf-8",
        )
    console.print(f"launch kit: {folder}/LAUNCH.md and s3://{name}/{key}")


@cli.command()
@_with(deployed_target)
@params_option
@out_option
@store_options
@aws_options
@_with(review_options)
@_with(html_options)
@click.option(
    "--fail-on",
    type=click.Choice(FAIL_ON_LEVELS, case_sensitive=False),
    help=f"Exit {FAIL_ON_EXIT} when changes at this risk or above exist (for CI).",
)
@parameter_overrides_option
@tags_option
@role_arn_option
@catch_errors
def plan(
    profile,
    env,
    params,
    out,
    bucket,
    prefix,
    create_bucket,
    region,
    aws_profile,
    endpoint_url,
    local,
    output,
    skip_lint,
    skip_drift,
    revert_drift,
    fail_on,
    **html,
):
    """Upload, create a change set on the root stack (nested stacks included) and print the
    review. Never executes.

    \b
    Example:
      cfn-strata plan product-catalog --env dev --local
      cfn-strata plan product-catalog --env prod --bucket my-templates -o markdown --fail-on high
      cfn-strata plan product-catalog --env prod --bucket my-templates -o html --upload-review
      cfn-strata plan product-catalog --env dev --suffix pr-123 --bucket my-templates --parameter-overrides ServiceApiDesiredCount=1 --tags PullRequest=123
    """  # noqa: E501  click prints the \b example block verbatim: lines are the --help text
    from deployer.changeset import NoChanges
    from deployer.review import Risk

    _refuse_local_revert_drift(revert_drift, local)
    bundle = _bundle(profile, env, params, out)
    if not skip_lint:  # before the session: the cold lint forks workers, better before the emulator's threads start
        _lint_bundle(bundle)
    with _session(bundle, region, aws_profile, endpoint_url, local) as aws:
        result = _plan(aws, bundle, bucket, prefix, create_bucket, False, not skip_drift, revert_drift=revert_drift)
        _print_regional(result, output)
        # --fail-on also looks at the change sets of the stacks in other regions (the global stack's web ACL)
        extra_risky = fail_on and any(p.review.at_least(Risk.parse(fail_on)) for p in result.regional_changes)
        if _deferred(result):
            console.print(
                f"note: no change set on {bundle.stack_name} yet: {result.outcome.reason}", markup=False, soft_wrap=True
            )
            if output == "json":
                from deployer.review import Review, to_json

                pending = Review(bundle.stack_name, None, None, (), notes=(result.outcome.reason,))
                out_console.print(to_json(pending), markup=False, soft_wrap=True, highlight=False)
            if extra_risky:
                sys.exit(FAIL_ON_EXIT)
            return
        if isinstance(result.outcome, NoChanges):
            _no_changes(bundle, output)
            if extra_risky:
                sys.exit(FAIL_ON_EXIT)
            return
        if output == "html":
            _write_review_page(aws, bundle, result.review, html, result.upload.store.bucket, prefix)
    _print_review(result.review, output)
    if extra_risky or (fail_on and result.review.at_least(Risk.parse(fail_on))):
        sys.exit(FAIL_ON_EXIT)


@cli.command()
@_with(deployed_target)
@params_option
@out_option
@store_options
@aws_options
@_with(review_options)
@_with(html_options)
@click.option("--yes", "-y", is_flag=True, help="Execute without asking.")
@click.option(
    "--allow-replacement",
    "allow_replacement",
    multiple=True,
    metavar="LOGICAL_ID",
    help="Execute although this stateful resource (LogicalId or layer/LogicalId) is replaced or removed; repeat for "
    "each. "
    "Its nested stack's policy is loosened for exactly these during the execution and restored afterwards.",
)
@parameter_overrides_option
@tags_option
@role_arn_option
@catch_errors
def deploy(
    profile,
    env,
    params,
    out,
    bucket,
    prefix,
    create_bucket,
    region,
    aws_profile,
    endpoint_url,
    local,
    output,
    skip_lint,
    skip_drift,
    revert_drift,
    yes,
    allow_replacement,
    **html,
):
    """Plan, show the review, confirm, execute, stream the events of every stack, print outputs.
    Refuses a change set with changes that WILL FAIL (CloudFormation cannot execute them) and one
    that replaces or removes stateful resources --allow-replacement does not name.

    The review is shown in the chosen format before the question (-o html: the page is written
    and its path printed). With -o json stdout holds exactly one JSON document, the review; the
    events and the outputs table go to stderr (`outputs -o json` prints the outputs as JSON).

    \b
    Example:
      cfn-strata deploy product-catalog --env dev --local --yes
      cfn-strata deploy product-catalog --env dev --suffix pr-123 --bucket my-templates --yes \\
        --parameter-overrides ServiceApiDesiredCount=1 AlarmEmail=team@example.com --tags PullRequest=123 Team=payments \\
        --role-arn arn:aws:iam::123456789012:role/cfn-strata-deployer
    """  # noqa: E501  click prints the \b example block verbatim: lines are the --help text
    from deployer.changeset import ChangeSetRef, NoChanges
    from deployer.flow import Deferred, all_outputs, refresh_root, refuse_high_risk, run, run_regional_first

    _refuse_local_revert_drift(revert_drift, local)
    bundle = _bundle(profile, env, params, out)
    if not skip_lint:  # before the session: the cold lint forks workers, better before the emulator's threads start
        _lint_bundle(bundle)
    with _session(bundle, region, aws_profile, endpoint_url, local) as aws:
        result = _plan(
            aws, bundle, bucket, prefix, create_bucket, False, not skip_drift, allow_replacement, revert_drift
        )
        _print_regional(result, output)
        deferred = _deferred(result)
        root_changes = not isinstance(result.outcome, (NoChanges, Deferred))
        if not root_changes and not result.regional_changes and not deferred:
            _no_changes(bundle, output)
            return
        # --allow-replacement names resources of the root's layers or of a stack in another region:
        # each change set is checked against the names that are its own
        regional_specs = {
            spec for plan in result.regional_changes for spec in _specs_of(plan.review, allow_replacement)
        }
        for plan in result.regional_changes:
            refuse_high_risk(plan.review, _specs_of(plan.review, allow_replacement))
        allow_replacement = tuple(spec for spec in allow_replacement if spec not in regional_specs)
        if deferred:
            console.print(f"note: {result.outcome.reason}", markup=False, soft_wrap=True)
        if root_changes:
            if output == "html":
                _write_review_page(aws, bundle, result.review, html, result.upload.store.bucket, prefix)
            _print_review(result.review, output)
            allow = refuse_high_risk(result.review, allow_replacement)
        names = [f"{p.outcome.name} ({p.stack.stack_name})" for p in result.regional_changes] + (
            [f"{result.outcome.name} ({bundle.stack_name})"] if root_changes else []
        )
        if not yes:
            from deployer.prompts import confirm

            confirm(f"execute {', '.join(names)}?", left_undone="not executed; the change sets stay for review")
        # Ctrl-C while following a stack: StillRunning reaches catch_errors, which prints how to follow
        # that stack in its own region (a stack of another region too; the root is then untouched), exit 130
        with console.status("executing the stacks in other regions first"):
            for plan, status in run_regional_first(
                aws,
                bundle,
                result,
                on_event=lambda e: console.print(e.line(), markup=False, soft_wrap=True),
                note=lambda message: console.print(f"note: {message}", markup=False, soft_wrap=True),
            ):
                console.print(f"[green]{status}[/green]: {plan.stack.stack_name} ({plan.stack.region})")
        if bundle.global_inputs and not set(bundle.global_inputs) <= bundle.parameter_overrides.keys():
            # the global stack's outputs fill the root's parameters: a first create, or an update
            # that changed them, makes the root's change set again with the new values
            with console.status("creating the root's change set with the us-east-1 global stack's outputs"):
                fresh = refresh_root(
                    aws,
                    bundle,
                    result.upload.store.bucket,
                    result,
                    prefix,
                    drift=not skip_drift,
                    allowed=tuple(allow_replacement),
                    revert_drift=revert_drift,
                )
            if fresh is not None:
                console.print(
                    f"the root's parameters from {bundle.stack_name}-global: "
                    + ", ".join(f"{k}={v}" for k, v in sorted(fresh.global_values.items())),
                    markup=False,
                    soft_wrap=True,
                )
                result = fresh
                root_changes = not isinstance(result.outcome, NoChanges)
                if root_changes:
                    if output == "html":
                        _write_review_page(aws, bundle, result.review, html, result.upload.store.bucket, prefix)
                    _print_review(result.review, output)
                    allow = refuse_high_risk(result.review, allow_replacement)
                    if not yes:
                        confirm(
                            f"execute {result.outcome.name} ({bundle.stack_name})?",
                            left_undone="not executed; the change set stays for review",
                        )
        if not root_changes:
            _no_changes(bundle, output)
            return
        with console.status(f"executing {result.outcome.name}"):
            status = run(
                aws,
                bundle,
                result.outcome,
                allow=allow,
                on_event=lambda e: console.print(e.line(), markup=False, soft_wrap=True),
                note=lambda message: console.print(f"note: {message}", markup=False, soft_wrap=True),
            )
        console.print(f"[green]{status}[/green]: {bundle.stack_name}")
        # stdout holds the review alone unless it is the table: a JSON or Markdown document stays one document
        executed = {bundle.stack_name: result.outcome.stack_id} | {
            p.stack.stack_name: p.outcome.stack_id
            for p in result.regional_changes
            if isinstance(p.outcome, ChangeSetRef)
        }
        _print_outputs(all_outputs(aws, bundle, executed), "table", to=out_console if output == "table" else console)


@cli.command()
@_with(deployed_target)
@click.option("--change-set", required=True, help="Name (or ARN) of an existing change set on the root stack.")
@params_option
@out_option
@aws_options
@click.option(
    "--output",
    "-o",
    type=OUTPUTS,
    default="table",
    show_default=True,
    help="Review format; html writes a self-contained page (see --html-file).",
)
@_with(html_options)
@click.option("--bucket", envvar="CFN_STRATA_BUCKET", help="Template bucket the page goes to with --upload-review.")
@click.option("--prefix", default="", help="Key prefix inside the bucket.")
@catch_errors
def review(
    profile, env, change_set, params, out, region, aws_profile, endpoint_url, local, output, bucket, prefix, **html
):
    """Review a change set someone else created (a pipeline's CHANGE_SET_REPLACE action): every
    nested change, risk-rated, as in `plan`.

    \b
    Example:
      cfn-strata review product-catalog --env prod --change-set cfn-strata-pipeline -o markdown
      cfn-strata review product-catalog --env prod --change-set cfn-strata-pipeline -o html --upload-review --bucket B
    """
    from deployer.flow import with_hooks, with_type
    from deployer.review import review_change_set

    bundle = _bundle(profile, env, params, out)
    with _session(bundle, region, aws_profile, endpoint_url, local) as aws:
        cfn = aws.client("cloudformation")
        found = cfn.describe_change_set(StackName=bundle.stack_name, ChangeSetName=change_set)
        result = review_change_set(
            cfn, found["ChangeSetId"], layer_of=bundle.layer_of, stateful_ids_of=bundle.stateful_ids
        )
        result = with_type(cfn, with_hooks(cfn, result, found["ChangeSetId"], local=aws.local))
        if output == "html":
            _write_review_page(aws, bundle, result, html, bucket, prefix)
    _print_review(result, output)


@cli.command()
@_with(deployed_target)
@params_option
@out_option
@aws_options
@click.option(
    "--output",
    "-o",
    type=click.Choice(["table", "markdown", "json"]),
    default="table",
    show_default=True,
    help="Diff format.",
)
@catch_errors
def diff(profile, env, params, out, region, aws_profile, endpoint_url, local, output):
    """The deployed templates (root and nested) against the newly generated ones, per layer:
    resources added and removed, properties changed with old and new values. Creates no change
    set; exits 0 whatever differs.

    \b
    Example:
      cfn-strata diff product-catalog --env prod -o markdown
    """
    from deployer.diff import diff_all, to_json, to_markdown, to_table

    bundle = _bundle(profile, env, params, out)
    with _session(bundle, region, aws_profile, endpoint_url, local) as aws:
        result = diff_all(aws, bundle)
    if output == "json":
        out_console.print(to_json(result), markup=False, soft_wrap=True, highlight=False)
    elif output == "markdown":
        out_console.print(to_markdown(result), markup=False, soft_wrap=True, highlight=False)
    else:
        out_console.print(to_table(result))
        for note in result.notes:
            console.print(f"note: {note}", soft_wrap=True)


def _print_outputs(values: dict[str, str], output: str, to: Console | None = None) -> None:
    import json

    to = to or out_console
    if output == "json":
        to.print(json.dumps(values, indent=2, sort_keys=True), markup=False, highlight=False, soft_wrap=True)
        return
    table = Table(title="outputs")
    table.add_column("output")
    table.add_column("value", overflow="fold")
    for key, value in values.items():
        table.add_row(key, value)
    to.print(table)


@cli.command()
@_with(deployed_target)
@params_option
@out_option
@aws_options
@click.option("--output", "-o", type=click.Choice(["table", "json"]), default="table", show_default=True)
@catch_errors
def outputs(profile, env, params, out, region, aws_profile, endpoint_url, local, output):
    """The root stack's outputs as a table or JSON, then those of the stacks the deployer keeps in
    other regions (the us-east-1 global stack, the backup copy vault) as `<layer>.<Output>`.

    \b
    Example:
      cfn-strata outputs product-catalog --env dev -o json
    """
    from deployer.flow import all_outputs

    bundle = _bundle(profile, env, params, out)
    with _session(bundle, region, aws_profile, endpoint_url, local) as aws:
        _print_outputs(all_outputs(aws, bundle), output)


@cli.command("launch-url")
@_with(deployed_target)
@params_option
@out_option
@store_options
@aws_options
@catch_errors
def launch_url(profile, env, params, out, bucket, prefix, create_bucket, region, aws_profile, endpoint_url, local):
    """Upload, then print the CloudFormation console quick-create link with the stack name and
    parameter values filled in.

    \b
    Example:
      cfn-strata launch-url product-catalog --env dev --bucket my-templates
    """
    from deployer.flow import launch_url as quick_create_url
    from deployer.flow import upload as upload_templates
    from deployer.flow import with_global_values

    bundle = _bundle(profile, env, params, out)
    with _session(bundle, region, aws_profile, endpoint_url, local) as aws:
        name, create = _bucket(bucket, local)
        if not set(bundle.global_inputs) <= bundle.parameter_overrides.keys():
            bundle = with_global_values(aws, bundle)
        uploaded = upload_templates(aws, bundle, name, prefix, create=create or create_bucket)
        out_console.print(quick_create_url(bundle, uploaded, aws.region), markup=False, soft_wrap=True, highlight=False)


@cli.command()
@_with(deployed_target)
@params_option
@out_option
@aws_options
@click.option(
    "--yes",
    "-y",
    is_flag=True,
    help="Do not ask for the stack name (the list of what is deleted and kept is still printed).",
)
@click.option(
    "--release-failed-create",
    is_flag=True,
    help="For a stack in ROLLBACK_FAILED whose first create was blocked by deletion protection: turn protection off "
    "on exactly "
    "the databases / load balancers that failed create made, then delete the stack.",
)
@catch_errors
def destroy(profile, env, params, out, region, aws_profile, endpoint_url, local, yes, release_failed_create):
    """Delete the stack after typing its name, then the stacks the deployer made in other regions
    (the us-east-1 global stack, the backup copy vault). First checks that the stack exists (else
    says it is not deployed) and can be deleted, then lists the resources it deletes per stack and
    those its DeletionPolicy keeps, then asks. A name that does not match, or no answer, deletes
    nothing (exit 4).

    \b
    Example:
      cfn-strata destroy product-catalog --env dev
      cfn-strata destroy product-catalog --env dev --suffix pr-123 --yes   # the pull request's environment
    """
    from deployer.changeset import describe_stack, destroy_command
    from deployer.errors import NotDeployed
    from deployer.flow import deletion_plan
    from deployer.flow import destroy as delete_stack
    from deployer.regional import regional_stacks

    bundle = _bundle(profile, env, params, out)
    extras = regional_stacks(bundle)  # deleted after the root, which uses what they hold
    note = lambda message: console.print(f"note: {message}", markup=False, soft_wrap=True)  # noqa: E731
    with _session(bundle, region, aws_profile, endpoint_url, local) as aws:
        cfn = aws.client("cloudformation")
        release = aws.client if release_failed_create else None
        # The checks first (exists, termination protection, a blocked failed create), then what goes and what
        # stays, then the question.
        try:
            plan = deletion_plan(cfn, bundle.stack_name, release_failed_create=release, command=destroy_command(bundle))
        except NotDeployed as missing:
            console.print(f"{missing} in {aws.region}", markup=False, soft_wrap=True)
            plan = None
        present = [
            e
            for e in extras
            if describe_stack(aws.in_region(e.region).client("cloudformation"), e.stack_name) is not None
        ]
        if plan is None and not present:
            return
        if plan is not None:
            _print_deletion_plan(plan)
        if present:
            console.print(
                "then, in other regions: " + ", ".join(f"{e.stack_name} ({e.region})" for e in present),
                markup=False,
                soft_wrap=True,
            )
        if not yes:
            from deployer.prompts import type_to_confirm

            type_to_confirm(
                f"type the stack name ({bundle.stack_name}) to delete it",
                bundle.stack_name,
                left_undone="nothing deleted",
            )
        kept: list[str] = []
        if plan is not None:
            with console.status(f"deleting {bundle.stack_name}"):
                kept = delete_stack(
                    cfn,
                    bundle.stack_name,
                    plan=plan,
                    release_failed_create=release,
                    note=note,
                    command=destroy_command(bundle),
                )
            console.print(f"[green]deleted[/green] {bundle.stack_name}")
        for extra in present:
            with console.status(f"deleting {extra.stack_name} ({extra.region})"):
                kept += delete_stack(
                    aws.in_region(extra.region).client("cloudformation"),
                    extra.stack_name,
                    note=note,
                    command=destroy_command(bundle),
                )
            console.print(f"[green]deleted[/green] {extra.stack_name} ({extra.region})")
    for resource in kept:
        console.print(f"retained by its DeletionPolicy: {resource}", soft_wrap=True)


def _print_deletion_plan(plan) -> None:
    """What `destroy` deletes (resources per stack) and what stays by its DeletionPolicy, before it asks."""
    stack = plan.stack
    console.print(
        f"stack {stack['StackName']} ({stack['StackStatus']}) and its {len(plan.deleted) - 1} nested stack(s) "
        "will be deleted, "
        f"with {sum(plan.deleted.values())} resource(s):",
        markup=False,
        soft_wrap=True,
    )
    if stack["StackStatus"] == "REVIEW_IN_PROGRESS":
        console.print(
            "  nothing is deployed: the stack holds only change sets awaiting review, which go with it",
            markup=False,
            soft_wrap=True,
        )
    for layer, count in plan.deleted.items():
        console.print(f"  {layer}: {count} resource(s)", markup=False, soft_wrap=True)
    if plan.kept:
        console.print(
            f"kept by their DeletionPolicy ({len(plan.kept)}; they stay, and keep costing, after the stack is gone; "
            f"for Snapshot a final snapshot stays and the resource goes):",
            markup=False,
            soft_wrap=True,
        )
        for resource in plan.kept:
            console.print(f"  {resource}", markup=False, soft_wrap=True)
    else:
        console.print(
            "nothing is kept: no resource has a DeletionPolicy that retains it or a snapshot",
            markup=False,
            soft_wrap=True,
        )


@cli.group("local")
def local_group():
    """The local emulator's account (`--local`), kept in .cfn-strata/local/ under the current
    directory so consecutive commands see the same stacks, buckets and outputs.

    \b
    Example:
      cfn-strata local reset
    """


@local_group.command("reset")
@catch_errors
def local_reset():
    """Empty the local emulator's account of this directory (every stack, bucket and change set).

    \b
    Example:
      cfn-strata local reset
    """
    from deployer.local import LocalState, state_folder

    state = LocalState(state_folder())
    if state.reset():
        console.print(f"[green]reset[/green]: the local account in {state.folder} is empty")
    else:
        console.print(f"the local account in {state.folder} was already empty")


def main() -> None:
    cli(prog_name="cfn-strata")


if __name__ == "__main__":
    main()

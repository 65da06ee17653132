"""`cfn-strata init APP --region R [--from PROFILE]`: a starting params/APP/ (base.yaml, dev.yaml,
prod.yaml) that generates and lints clean.

Without --from it is a small, commented profile (one Fargate service behind the load balancer);
with --from it is a copy of another profile's base and dev/prod overlays with the application,
region and suffixes of the new one. Either way the files are validated with the params loader
(templates/params.py) in a scratch folder before anything is written, so init never leaves a
profile that does not load.
"""

from __future__ import annotations

import re
import tempfile
from pathlib import Path

import yaml

from templates.config import IDENTIFIER, REGIONS
from templates.errors import ConfigError

APP_MAX = 28  # AppConfig.application
SUFFIX_MAX = 24  # EnvironmentConfig.suffix: ^[a-z0-9][a-z0-9-]{0,22}[a-z0-9]$
ENVIRONMENTS = ("dev", "prod")
REFERENCE = 'README.md, section "Params reference" (or run `cfn-strata params-reference`)'

HEADER = """\
# cfn-strata params: {app}, {what}.
# {merge}
# Every key, its default and what it allows: {reference}.
# Check a change with `cfn-strata lint {app}`; see the templates with `cfn-strata generate {app} --env dev`.
"""

BASE = """\
application: {app}            # must equal this folder's name
description: "{app}: one container service behind an Application Load Balancer"
project: {app}                # the Project tag on every resource and stack
region: {region}
environment:
  stage: dev                  # dev: disposable choices (no deletion protection, single NAT); prod: retained data, protection, NAT per AZ
  suffix: {dev_suffix}        # every name is {{resource-type}}-{{suffix}} (alb-{dev_suffix}); unique per deployment in the account
network:
  vpc_cidr: 10.0.0.0/16
  az_count: 2                 # 2 to 6; one public and one private subnet per AZ
  public_subnets: [10.0.0.0/24, 10.0.1.0/24]      # load balancer, NAT gateways
  private_subnets: [10.0.10.0/24, 10.0.11.0/24]   # tasks (and data stores unless isolated_subnets are given)
services:                     # containers by name; each gets an ECR repository, a task definition, logs and autoscaling
  web:
    port: 8080                # the port the container listens on
    cpu: 256                  # Fargate size: 256 CPU units with 512-2048 MiB
    memory: 512
    desired_count: 1
    min_count: 1
    max_count: 4
    health_check:
      path: /health           # answered by the container (load balancer and container health checks)
    path_patterns: ["/*"]     # listener-rule paths routed to this service
    autoscaling:
      cpu_target: 70          # target-tracking on average CPU percent
observability:
  log_retention_days: 30
  alarm_email: ""             # subscribed to the alarm topic (a deploy-time parameter, AlarmEmail); empty: none yet
# Add what the application needs, each section described in the params reference:
# database: (postgres, mysql, aurora-postgresql), cache: (Redis), efs:, edge: (CloudFront, WAF, API Gateway,
# domain), auth: (Cognito), cicd: (pipelines), backup:.
"""  # noqa: E501  the generated base.yaml keeps these explanatory comments on one line each

DEV = """\
environment:
  suffix: {dev_suffix}
tags:
  Environment: development
"""

PROD = """\
environment:
  stage: prod                 # retained data, deletion protection, NAT per AZ, backups on
  suffix: {prod_suffix}
tags:
  Environment: production
services:
  web:
    desired_count: 2
    min_count: 2
    max_count: 10
"""


def check_app(app: str) -> None:
    if not re.fullmatch(IDENTIFIER, app) or len(app) > APP_MAX:
        raise ConfigError(
            "APP",
            "",
            f"{app!r} is not an application name: lowercase letters, digits and single hyphens, starting with "
            f"a letter, at most {APP_MAX} characters",
        )


def check_region(region: str) -> None:
    if region not in REGIONS:
        raise ConfigError("--region", "", f"{region!r} is not an AWS region (e.g. us-east-1, eu-north-1)")


# The suffix is in every name (tg-<service>-green-<suffix> has 32 characters, ALB 32), and bucket
# names carry `<application>-<suffix>` in 35 (templates/naming.py KINDS "bucket-prefix"): the
# stem taken from the application is short.
SUFFIX_STEM = 8
BUCKET_PREFIX = 35


def suffixes(app: str) -> dict[str, str]:
    """dev/prod suffixes from the application name (orders-dev, orders-prod): its first eight
    characters, fewer when the bucket prefix `<application>-<suffix>` would pass 35."""
    found = {}
    for env in ENVIRONMENTS:
        room = min(SUFFIX_STEM, SUFFIX_MAX - len(env) - 1, BUCKET_PREFIX - len(app) - 1 - len(env) - 1)
        stem = app[: max(room, 0)].rstrip("-")
        found[env] = f"{stem}-{env}" if stem else env
    return found


def starter_files(app: str, region: str) -> dict[str, str]:
    names = suffixes(app)
    values = {
        "app": app,
        "region": region,
        "dev_suffix": names["dev"],
        "prod_suffix": names["prod"],
        "reference": REFERENCE,
    }
    merge = (
        "Each environment file (dev.yaml, prod.yaml) is merged over base.yaml: mappings key by key, lists and "
        "values replaced."
    )
    return {
        "base.yaml": HEADER.format(what="what every environment shares", merge=merge, **values) + BASE.format(**values),
        "dev.yaml": HEADER.format(what="the dev environment (merged over base.yaml)", merge=merge, **values)
        + DEV.format(**values),
        "prod.yaml": HEADER.format(what="the prod environment (merged over base.yaml)", merge=merge, **values)
        + PROD.format(**values),
    }


def _dump(header: str, document: dict) -> str:
    return header + yaml.safe_dump(document, sort_keys=False, default_flow_style=False, allow_unicode=True, width=110)


def copied_files(app: str, region: str, source: Path) -> dict[str, str]:
    """The profile in `source` (base, dev, prod overlays) for `app` in `region`: application,
    project, description, region and the suffixes replaced; explicit availability zones dropped
    when the region changes (the new region's first az_count zones are used). A missing prod
    overlay is written with the stage and suffix alone."""
    from templates.params import read_yaml

    names = suffixes(app)
    base = read_yaml(source / "base.yaml")
    changes_region = base.get("region") != region
    base.update(
        {
            "application": app,
            "description": f"{app} (started from the {source.name} profile)",
            "project": app,
            "region": region,
        }
    )
    environment = dict(base.get("environment") or {})
    environment["suffix"] = names["dev"]
    base["environment"] = environment
    if changes_region and isinstance(base.get("network"), dict):
        base["network"] = {k: v for k, v in base["network"].items() if k != "availability_zones"}
    values = {"app": app, "reference": REFERENCE}
    merge = (
        "Each environment file (dev.yaml, prod.yaml) is merged over base.yaml: mappings key by key, lists and "
        "values replaced."
    )
    copied = f"Copied from params/{source.name}/ by `cfn-strata init --from {source.name}`: review every value"
    files = {
        "base.yaml": _dump(HEADER.format(what=f"what every environment shares. {copied}", merge=merge, **values), base)
    }
    for env in ENVIRONMENTS:
        path = source / f"{env}.yaml"
        if not path.is_file():
            overlay = (
                {"environment": {"stage": "prod", "suffix": names[env]}, "tags": {"Environment": "production"}}
                if env == "prod"
                else {"environment": {"suffix": names[env]}}
            )
            files[f"{env}.yaml"] = _dump(
                HEADER.format(
                    what=f"the {env} environment (merged over base.yaml); params/{source.name}/ has no {env}.yaml",
                    merge=merge,
                    **values,
                ),
                overlay,
            )
            continue
        overlay = read_yaml(path)
        section = dict(overlay.get("environment") or {})
        section["suffix"] = names[env]
        if env == "prod":
            section["stage"] = "prod"
        overlay["environment"] = section
        if changes_region and isinstance(overlay.get("network"), dict):
            overlay["network"] = {k: v for k, v in overlay["network"].items() if k != "availability_zones"}
        files[f"{env}.yaml"] = _dump(
            HEADER.format(what=f"the {env} environment (merged over base.yaml). {copied}", merge=merge, **values),
            overlay,
        )
    return files


def write_starter(params: Path, app: str, region: str, source: Path | None = None) -> Path:
    """Write params/APP/ after checking that every environment loads; refuse an existing folder."""
    from templates.params import load_config

    check_app(app)
    check_region(region)
    target = params / app
    if target.exists():
        raise ConfigError(
            str(target),
            "",
            "already exists; init never overwrites a profile (choose another name or remove the folder)",
        )
    if source is not None and not (source / "base.yaml").is_file():
        raise ConfigError(str(source), "", "--from: no profile here (base.yaml missing)")
    files = copied_files(app, region, source) if source is not None else starter_files(app, region)
    with tempfile.TemporaryDirectory() as scratch:
        folder = Path(scratch) / app
        folder.mkdir()
        for name, text in files.items():
            (folder / name).write_text(text)
        for env in ENVIRONMENTS:
            try:
                load_config(app, env, Path(scratch))
            except ConfigError as err:
                origin = f" copied from params/{source.name}" if source is not None else ""
                raise ConfigError(f"{target}/{env}.yaml{origin}", err.key, f"{err.message} (nothing written)") from None
    target.mkdir(parents=True)
    for name, text in files.items():
        (target / name).write_text(text)
    return target

"""Each class of malformed params gives one clear line `file: key.path: message`, exit 2, no
traceback, and leaves the output folder exactly as it was."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest
from click.testing import CliRunner

from generate import cli

# name: (file to write under params/, its content (None: drop the network section), env, expected line)
CASES = {
    "overlapping subnets": ("product-catalog/prod.yaml", "network:\n  public_subnets: [10.0.1.0/24, 10.0.1.0/24]\n", "prod",
                            "product-catalog/prod.yaml: network.public_subnets[1]: 10.0.1.0/24 overlaps network.public_subnets[0]"),
    "unknown top-level key": ("product-catalog/dev.yaml", "netwrok:\n  az_count: 2\n", "dev",
                              "product-catalog/dev.yaml: netwrok: unknown key; allowed keys here: application, description, project, region, environment, tags, network, security, compute, services, database, cache, efs, edge, auth, observability, cicd, backup"),
    "unknown nested key": ("product-catalog/dev.yaml", "services:\n  api:\n    prot: 3000\n", "dev",
                           "product-catalog/dev.yaml: services.api.prot: unknown key; allowed keys here: port, cpu, memory, desired_count, min_count, max_count, image_tag, health_check, path_patterns, priority, autoscaling, environment, secrets, efs_mount_path, deployment, min_healthy_percent, max_percent, deregistration_delay, ecr, xray"),
    "invalid CIDR": ("product-catalog/dev.yaml", "network:\n  vpc_cidr: 10.0.300.0/16\n", "dev",
                     "product-catalog/dev.yaml: network.vpc_cidr: '10.0.300.0/16' is not a valid IPv4 CIDR block (Octet 300 (> 255) not permitted in '10.0.300.0')"),
    "subnet outside the VPC": ("product-catalog/dev.yaml", "network:\n  private_subnets: [10.0.3.0/24, 10.1.4.0/24]\n", "dev",
                               "product-catalog/dev.yaml: network.private_subnets[1]: 10.1.4.0/24 is not inside network.vpc_cidr 10.0.0.0/16"),
    "subnet count != AZ count": ("product-catalog/dev.yaml", "network:\n  private_subnets: [10.0.3.0/24]\n", "dev",
                                 "product-catalog/dev.yaml: network.private_subnets: 1 subnets for az_count 2: give one per AZ"),
    "too few AZs": ("product-catalog/dev.yaml", "network:\n  az_count: 1\n", "dev",
                    "product-catalog/dev.yaml: network.az_count: Input should be greater than or equal to 2 (got 1)"),
    "AZ of another region": ("product-catalog/dev.yaml", "network:\n  availability_zones: [us-east-1a, us-east-1b]\n", "dev",
                             "product-catalog/dev.yaml: network.availability_zones[0]: 'us-east-1a' is not an AZ of eu-north-1 (e.g. eu-north-1a) (and 1 more problem)"),
    "unknown region": ("product-catalog/dev.yaml", "region: eu-nowhere-1\n", "dev",
                       "product-catalog/dev.yaml: region: 'eu-nowhere-1' is not an AWS region (e.g. us-east-1, eu-north-1)"),
    "Fargate CPU/memory pair": ("product-catalog/dev.yaml", "services:\n  api:\n    memory: 512\n", "dev",
                                "product-catalog/dev.yaml: services.api.memory: 1024 CPU / 512 MiB is not a Fargate size; memory for cpu 1024 may be 2048-8192 MiB in Fargate's steps"),
    "min above max": ("product-catalog/dev.yaml", "services:\n  api:\n    min_count: 12\n", "dev",
                      "product-catalog/dev.yaml: services.api.min_count: 12 is above max_count 10"),
    "retired engine version (seed 001's 15.4)": ("ecs-ec2-api/dev.yaml", "database:\n  engine_version: '15.4'\n", "dev",
                                                 "ecs-ec2-api/dev.yaml: database.engine_version: 15.4 cannot be created on postgres; supported postgres 15 versions: 15.13, 15.14, 15.15, 15.16, 15.17, 15.18"),
    "retired engine version (seed 004's 16.4)": ("product-catalog/dev.yaml", "database:\n  engine_version: '16.4'\n", "dev",
                                                 "product-catalog/dev.yaml: database.engine_version: 16.4 cannot be created on aurora-postgresql; supported aurora-postgresql 16 versions: 16.6, 16.8, 16.9, 16.10, 16.11, 16.13"),
    "YAML syntax error": ("product-catalog/dev.yaml", "network:\n  az_count: [2\n", "dev",
                          "product-catalog/dev.yaml: line 3, column 1: invalid YAML: expected ',' or ']', but got '<stream end>'"),
    "duplicate key": ("product-catalog/dev.yaml", "tags:\n  Owner: a\n  Owner: b\n", "dev",
                      "product-catalog/dev.yaml: line 3, column 3: invalid YAML: duplicate key 'Owner'"),
    "empty file": ("product-catalog/dev.yaml", "", "dev", "product-catalog/dev.yaml: is empty; expected a mapping of params keys"),
    "binary file": ("product-catalog/dev.yaml", b"\x89PNG\r\n\x1a\n\x00\x00", "dev",
                    "product-catalog/dev.yaml: is not UTF-8 text (a binary file?); params files are YAML"),
    "top level not a mapping": ("product-catalog/dev.yaml", "- a\n- b\n", "dev", "product-catalog/dev.yaml: top level is a list; expected a mapping of params keys"),
    "name too long for the resource": ("product-catalog/dev.yaml", "environment:\n  suffix: a-very-long-suffix-pr570\n", "dev",
                                       "product-catalog/dev.yaml: environment.suffix: 'product-catalog-a-very-long-suffix-pr570' is 40 characters; a bucket-prefix name allows at most 35"),
    "wrong type": ("product-catalog/dev.yaml", "services:\n  api:\n    desired_count: two\n", "dev",
                   "product-catalog/dev.yaml: services.api.desired_count: Input should be a valid integer, unable to parse string as an integer (got 'two')"),
    "missing required section": ("product-catalog/base.yaml", None, "dev", "product-catalog/base.yaml: network: required key is missing"),
    "listener path collision": ("smart-task/dev.yaml", "services:\n  frontend:\n    path_patterns: [/api/*]\n", "dev",
                                "smart-task/dev.yaml: services.frontend.path_patterns[0]: /api/* is already routed to services.backend"),
    "environment name set by hand": ("product-catalog/dev.yaml", "environment:\n  name: staging\n", "dev",
                                     "product-catalog/dev.yaml: environment.name: is set from the overlay file's name; remove it"),
    "environment name not an identifier": ("product-catalog/Prod_1.yaml", "tags: {}\n", "Prod_1",
                                           "product-catalog/Prod_1.yaml: environment name 'Prod_1' must be a simple lowercase identifier (a-z, 0-9, -; at most 16)"),
    "unknown secret": ("product-catalog/dev.yaml", "services:\n  api:\n    secrets: [database, stripe]\n", "dev",
                       "product-catalog/dev.yaml: services.api.secrets[1]: unknown secret 'stripe'; allowed: database"),
    "log retention CloudWatch refuses": ("product-catalog/dev.yaml", "observability:\n  log_retention_days: 10\n", "dev",
                                         "product-catalog/dev.yaml: observability.log_retention_days: 10 is not a CloudWatch Logs retention; allowed: 1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653"),
}


def _tree_digest(folder: Path) -> dict[str, str]:
    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(folder.rglob("*")) if p.is_file()}


@pytest.mark.parametrize("case", list(CASES))
def test_bad_params_give_one_clear_error_and_leave_dist_untouched(case, params_copy, tmp_path, monkeypatch):
    file, content, env, expected = CASES[case]
    monkeypatch.chdir(tmp_path)  # so files are shown as params/<app>/<file>, as a user sees them
    out = tmp_path / "dist"
    runner = CliRunner()
    app = file.split("/")[0]
    # a previous good generation that must survive the failed run byte for byte
    assert runner.invoke(cli, ["generate", app, "--env", "dev", "--params", "params", "--out", str(out)]).exit_code == 0
    before = _tree_digest(out)

    target = params_copy / file
    if content is None:
        text = target.read_text()
        target.write_text(text[: text.index("network:")] + text[text.index("security:") :])
    elif isinstance(content, bytes):
        target.write_bytes(content)
    else:
        target.write_text(content)

    result = runner.invoke(cli, ["generate", app, "--env", env, "--params", "params", "--out", str(out)])
    assert result.exit_code == 2, result.output
    assert result.stderr.strip() == f"error: params/{expected}"
    assert "Traceback" not in result.output
    assert _tree_digest(out) == before
    assert [p.name for p in (out / app).iterdir() if p.name.startswith(".")] == []  # no staging left


def test_all_is_all_or_nothing(params_copy, tmp_path, monkeypatch):
    """One bad profile among many: --all writes nothing at all."""
    monkeypatch.chdir(tmp_path)
    (params_copy / "smart-task" / "prod.yaml").write_text("services:\n  backend:\n    cpu: 3\n")
    result = CliRunner().invoke(cli, ["generate", "--all", "--params", "params", "--out", "dist"])
    assert result.exit_code == 2
    assert result.stderr.strip() == "error: params/smart-task/prod.yaml: services.backend.cpu: 3 CPU / 2048 MiB is not a Fargate size; Fargate cpu must be one of 256, 512, 1024, 2048, 4096, 8192, 16384"
    assert not (tmp_path / "dist").exists()

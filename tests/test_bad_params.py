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
    "overlapping subnets": (
        "product-catalog/prod.yaml",
        "network:\n  public_subnets: [10.0.1.0/24, 10.0.1.0/24]\n",
        "prod",
        "product-catalog/prod.yaml: network.public_subnets[1]: 10.0.1.0/24 overlaps network.public_subnets[0]",
    ),
    "unknown top-level key": (
        "product-catalog/dev.yaml",
        "netwrok:\n  az_count: 2\n",
        "dev",
        "product-catalog/dev.yaml: netwrok: unknown key; did you mean `network`? allowed keys here: "
        "application, description, project, region, environment, tags, network, security, compute, "
        "services, database, cache, efs, edge, auth, observability, cicd, backup, audit",
    ),
    "SMS number not E.164": (
        "smart-task/dev.yaml",
        "observability:\n  alarm_sms: [555-0100]\n",
        "dev",
        "smart-task/dev.yaml: observability.alarm_sms: '555-0100' is not an E.164 phone number ('+', "
        "country code and number, up to 15 digits, no spaces)",
    ),
    "backup RPO over a day": (
        "mycandidate/dev.yaml",
        "backup:\n  rpo_hours: 25\n",
        "dev",
        "mycandidate/dev.yaml: backup.rpo_hours: Input should be less than or equal to 24 (got 25)",
    ),
    "unknown nested key": (
        "product-catalog/dev.yaml",
        "services:\n  api:\n    prot: 3000\n",
        "dev",
        "product-catalog/dev.yaml: services.api.prot: unknown key; did you mean `port`? allowed keys here: "
        "port, cpu, memory, desired_count, min_count, max_count, image_tag, health_check, path_patterns, "
        "priority, autoscaling, environment, secrets, efs_mount_path, deployment, traffic_shifting, "
        "min_healthy_percent, max_percent, deregistration_delay, ecr, xray, user, "
        "readonly_root_filesystem, writable_root_reason, root_user_reason, container_health_check",
    ),
    "misspelt key, close match": (
        "product-catalog/dev.yaml",
        "services:\n  api:\n    desired_cuont: 2\n",
        "dev",
        "product-catalog/dev.yaml: services.api.desired_cuont: unknown key; did you mean `desired_count`? "
        "allowed keys here: port, cpu, memory, desired_count, min_count, max_count, image_tag, "
        "health_check, path_patterns, priority, autoscaling, environment, secrets, efs_mount_path, "
        "deployment, traffic_shifting, min_healthy_percent, max_percent, deregistration_delay, ecr, xray, "
        "user, readonly_root_filesystem, writable_root_reason, root_user_reason, container_health_check",
    ),
    "unknown key, nothing close": (
        "product-catalog/dev.yaml",
        "services:\n  api:\n    zzz: 2\n",
        "dev",
        "product-catalog/dev.yaml: services.api.zzz: unknown key; allowed keys here: port, cpu, memory, "
        "desired_count, min_count, max_count, image_tag, health_check, path_patterns, priority, "
        "autoscaling, environment, secrets, efs_mount_path, deployment, traffic_shifting, "
        "min_healthy_percent, max_percent, deregistration_delay, ecr, xray, user, "
        "readonly_root_filesystem, writable_root_reason, root_user_reason, container_health_check",
    ),
    "engine version YAML read as a number": (
        "product-catalog/dev.yaml",
        "database:\n  engine_version: 16.10\n",
        "dev",
        "product-catalog/dev.yaml: database.engine_version: YAML read 16.10 as a number (16.1), and this "
        "key takes text: put the value in quotes, e.g. engine_version: '16.10'",
    ),
    "text key YAML read as a boolean": (
        "product-catalog/dev.yaml",
        "services:\n  api:\n    user: yes\n",
        "dev",
        "product-catalog/dev.yaml: services.api.user: YAML read yes as a boolean (true), and this key "
        "takes text: put the value in quotes, e.g. user: 'yes'",
    ),
    "invalid CIDR": (
        "product-catalog/dev.yaml",
        "network:\n  vpc_cidr: 10.0.300.0/16\n",
        "dev",
        "product-catalog/dev.yaml: network.vpc_cidr: '10.0.300.0/16' is not a valid IPv4 CIDR block (Octet "
        "300 (> 255) not permitted in '10.0.300.0')",
    ),
    "subnet outside the VPC": (
        "product-catalog/dev.yaml",
        "network:\n  private_subnets: [10.0.3.0/24, 10.1.4.0/24]\n",
        "dev",
        "product-catalog/dev.yaml: network.private_subnets[1]: 10.1.4.0/24 is not inside network.vpc_cidr 10.0.0.0/16",
    ),
    "subnet count != AZ count": (
        "product-catalog/dev.yaml",
        "network:\n  private_subnets: [10.0.3.0/24]\n",
        "dev",
        "product-catalog/dev.yaml: network.private_subnets: 1 subnets for az_count 2: give one per AZ",
    ),
    "too few AZs": (
        "product-catalog/dev.yaml",
        "network:\n  az_count: 1\n",
        "dev",
        "product-catalog/dev.yaml: network.az_count: Input should be greater than or equal to 2 (got 1)",
    ),
    "AZ of another region": (
        "product-catalog/dev.yaml",
        "network:\n  availability_zones: [us-east-1a, us-east-1b]\n",
        "dev",
        "product-catalog/dev.yaml: network.availability_zones[0]: 'us-east-1a' is not an AZ of eu-north-1 "
        "(e.g. eu-north-1a) (and 1 more problem)",
    ),
    "unknown region": (
        "product-catalog/dev.yaml",
        "region: eu-nowhere-1\n",
        "dev",
        "product-catalog/dev.yaml: region: 'eu-nowhere-1' is not an AWS region (e.g. us-east-1, eu-north-1)",
    ),
    "Fargate CPU/memory pair": (
        "product-catalog/dev.yaml",
        "services:\n  api:\n    memory: 512\n",
        "dev",
        "product-catalog/dev.yaml: services.api.memory: 1024 CPU / 512 MiB is not a Fargate size; memory "
        "for cpu 1024 may be 2048-8192 MiB in Fargate's steps",
    ),
    "min above max": (
        "product-catalog/dev.yaml",
        "services:\n  api:\n    min_count: 12\n",
        "dev",
        "product-catalog/dev.yaml: services.api.min_count: 12 is above max_count 10",
    ),
    "retired engine version (seed 001's 15.4)": (
        "ecs-ec2-api/dev.yaml",
        "database:\n  engine_version: '15.4'\n",
        "dev",
        "ecs-ec2-api/dev.yaml: database.engine_version: 15.4 cannot be created on postgres; supported "
        "postgres 15 versions: 15.13, 15.14, 15.15, 15.16, 15.17, 15.18",
    ),
    "retired engine version (seed 004's 16.4)": (
        "product-catalog/dev.yaml",
        "database:\n  engine_version: '16.4'\n",
        "dev",
        "product-catalog/dev.yaml: database.engine_version: 16.4 cannot be created on aurora-postgresql; "
        "supported aurora-postgresql 16 versions: 16.6, 16.8, 16.9, 16.10, 16.11, 16.13",
    ),
    "YAML syntax error": (
        "product-catalog/dev.yaml",
        "network:\n  az_count: [2\n",
        "dev",
        "product-catalog/dev.yaml: line 3, column 1: invalid YAML: expected ',' or ']', but got '<stream end>'",
    ),
    "duplicate key": (
        "product-catalog/dev.yaml",
        "tags:\n  Owner: a\n  Owner: b\n",
        "dev",
        "product-catalog/dev.yaml: line 3, column 3: invalid YAML: duplicate key 'Owner'",
    ),
    "empty file": (
        "product-catalog/dev.yaml",
        "",
        "dev",
        "product-catalog/dev.yaml: is empty; expected a mapping of params keys",
    ),
    "binary file": (
        "product-catalog/dev.yaml",
        b"\x89PNG\r\n\x1a\n\x00\x00",
        "dev",
        "product-catalog/dev.yaml: is not UTF-8 text (a binary file?); params files are YAML",
    ),
    "top level not a mapping": (
        "product-catalog/dev.yaml",
        "- a\n- b\n",
        "dev",
        "product-catalog/dev.yaml: top level is a list; expected a mapping of params keys",
    ),
    "name too long for the resource": (
        "product-catalog/dev.yaml",
        "environment:\n  suffix: a-very-long-suffix-pr570\n",
        "dev",
        "product-catalog/dev.yaml: environment.suffix: 'product-catalog-a-very-long-suffix-pr570' is 40 "
        "characters; a bucket-prefix name allows at most 35",
    ),
    "wrong type": (
        "product-catalog/dev.yaml",
        "services:\n  api:\n    desired_count: two\n",
        "dev",
        "product-catalog/dev.yaml: services.api.desired_count: Input should be a valid integer, unable to "
        "parse string as an integer (got 'two')",
    ),
    "missing required section": (
        "product-catalog/base.yaml",
        None,
        "dev",
        "product-catalog/base.yaml: network: required key is missing",
    ),
    "listener path collision": (
        "smart-task/dev.yaml",
        "services:\n  frontend:\n    path_patterns: [/api/*]\n",
        "dev",
        "smart-task/dev.yaml: services.frontend.path_patterns[0]: /api/* is already routed to services.backend",
    ),
    "environment name set by hand": (
        "product-catalog/dev.yaml",
        "environment:\n  name: staging\n",
        "dev",
        "product-catalog/dev.yaml: environment.name: is set from the overlay file's name; remove it",
    ),
    "environment name not an identifier": (
        "product-catalog/Prod_1.yaml",
        "tags: {}\n",
        "Prod_1",
        "product-catalog/Prod_1.yaml: environment name 'Prod_1' must be a simple lowercase identifier "
        "(a-z, 0-9, -; at most 16)",
    ),
    "unknown secret": (
        "product-catalog/dev.yaml",
        "services:\n  api:\n    secrets: [database, stripe]\n",
        "dev",
        "product-catalog/dev.yaml: services.api.secrets[1]: unknown secret 'stripe'; allowed: database",
    ),
    "log retention CloudWatch refuses": (
        "product-catalog/dev.yaml",
        "observability:\n  log_retention_days: 10\n",
        "dev",
        "product-catalog/dev.yaml: observability.log_retention_days: 10 is not a CloudWatch Logs "
        "retention; allowed: 1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, "
        "2192, 2557, 2922, 3288, 3653",
    ),
    # --- more classes (the guardrails catalogue) ---
    "isolated count": (
        "product-catalog/dev.yaml",
        "network:\n  isolated_subnets: [10.0.5.0/24]\n",
        "dev",
        "product-catalog/dev.yaml: network.isolated_subnets: 1 subnets for az_count 2: give one per AZ",
    ),
    "private overlaps public": (
        "product-catalog/dev.yaml",
        "network:\n  private_subnets: [10.0.2.0/24, 10.0.4.0/24]\n",
        "dev",
        "product-catalog/dev.yaml: network.private_subnets[0]: 10.0.2.0/24 overlaps network.public_subnets[1]",
    ),
    "vpc too big": (
        "product-catalog/dev.yaml",
        "network:\n  vpc_cidr: 10.0.0.0/8\n",
        "dev",
        "product-catalog/dev.yaml: network.vpc_cidr: 10.0.0.0/8: AWS allows VPC and subnet prefixes from /16 to /28",
    ),
    "host bits set": (
        "product-catalog/dev.yaml",
        "network:\n  vpc_cidr: 10.0.0.1/16\n",
        "dev",
        "product-catalog/dev.yaml: network.vpc_cidr: '10.0.0.1/16' is not a valid IPv4 CIDR block "
        "(10.0.0.1/16 has host bits set)",
    ),
    "failover without replicas": (
        "mycandidate/dev.yaml",
        "cache:\n  automatic_failover: true\n",
        "dev",
        "mycandidate/dev.yaml: cache.automatic_failover: needs at least one replica (cache.replicas)",
    ),
    "ec2 section missing": (
        "product-catalog/dev.yaml",
        "compute:\n  capacity_providers: [EC2]\n",
        "dev",
        "product-catalog/base.yaml: compute.ec2: required when EC2 is one of the capacity_providers",
    ),
    "provider twice": (
        "product-catalog/dev.yaml",
        "compute:\n  capacity_providers: [FARGATE, FARGATE]\n",
        "dev",
        "product-catalog/dev.yaml: compute.capacity_providers: lists a provider twice",
    ),
    "unknown provider": (
        "product-catalog/dev.yaml",
        "compute:\n  capacity_providers: [LAMBDA]\n",
        "dev",
        "product-catalog/dev.yaml: compute.capacity_providers[0]: Input should be 'FARGATE', "
        "'FARGATE_SPOT' or 'EC2' (got 'LAMBDA')",
    ),
    "timeout >= interval": (
        "product-catalog/dev.yaml",
        "services:\n  api:\n    health_check:\n      timeout_seconds: 30\n",
        "dev",
        "product-catalog/dev.yaml: services.api.health_check.timeout_seconds: 30 must be below interval_seconds 30",
    ),
    "desired outside": (
        "product-catalog/dev.yaml",
        "services:\n  api:\n    desired_count: 11\n",
        "dev",
        "product-catalog/dev.yaml: services.api.desired_count: 11 is outside min_count..max_count (2..10)",
    ),
    "max storage below": (
        "mycandidate/dev.yaml",
        "database:\n  max_allocated_storage: 50\n",
        "dev",
        "mycandidate/dev.yaml: database.max_allocated_storage: 50 must be above allocated_storage 100",
    ),
    "unknown engine": (
        "product-catalog/dev.yaml",
        "database:\n  engine: oracle\n",
        "dev",
        "product-catalog/dev.yaml: database.engine: Input should be 'postgres', 'mysql', "
        "'aurora-postgresql' or 'aurora-mysql' (got 'oracle')",
    ),
    "unknown major": (
        "smart-task/dev.yaml",
        "database:\n  engine_version: '9.9'\n",
        "dev",
        "smart-task/dev.yaml: database.engine_version: 9.9 cannot be created on mysql; mysql has no "
        "creatable major version 9",
    ),
    "instance class format": (
        "product-catalog/dev.yaml",
        "database:\n  instance_class: t3.micro\n",
        "dev",
        "product-catalog/dev.yaml: database.instance_class: String should match pattern "
        "'^db\\.[a-z0-9]+\\.[a-z0-9]+$' (got 't3.micro')",
    ),
    "priority twice": (
        "smart-task/dev.yaml",
        "services:\n  frontend:\n    priority: 10\n",
        "dev",
        "smart-task/dev.yaml: services.frontend.priority: 10 is already used by services.backend",
    ),
    "s3 origin without bucket": (
        "product-catalog/dev.yaml",
        "edge:\n  cloudfront:\n    origins: [s3]\n",
        "dev",
        "product-catalog/dev.yaml: edge.cloudfront.origins: s3 is an origin but edge.spa_bucket is false",
    ),
    "cloudfront waf without cloudfront": (
        "ecs-ec2-api/dev.yaml",
        "edge:\n  waf:\n    cloudfront: true\n",
        "dev",
        "ecs-ec2-api/dev.yaml: edge.waf.cloudfront: a CloudFront web ACL needs edge.cloudfront.enabled",
    ),
    "auth protects unknown service": (
        "smart-task/dev.yaml",
        "auth:\n  protect: alb\n  protected_service: admin\n",
        "dev",
        "smart-task/dev.yaml: auth.protected_service: must name a service behind the load balancer "
        "(backend, frontend) when auth.protect is alb",
    ),
    "copy region same": (
        "mycandidate/dev.yaml",
        "backup:\n  copy_region: us-east-1\n",
        "dev",
        "mycandidate/dev.yaml: backup.copy_region: must differ from region us-east-1",
    ),
    "copy region unknown": (
        "mycandidate/dev.yaml",
        "backup:\n  copy_region: mars-1\n",
        "dev",
        "mycandidate/dev.yaml: backup.copy_region: 'mars-1' is not an AWS region",
    ),
    "recovery window 3": (
        "product-catalog/dev.yaml",
        "security:\n  secret_recovery_window_days: 3\n",
        "dev",
        "product-catalog/dev.yaml: security.secret_recovery_window_days: 3 is not allowed: 0 (delete at "
        "once) or 7 to 30 days",
    ),
    "ip set bad cidr": (
        "smart-task/dev.yaml",
        "edge:\n  waf:\n    ip_block_list: [192.0.2.0/33]\n",
        "dev",
        "smart-task/dev.yaml: edge.waf.ip_block_list: '192.0.2.0/33' is not a valid CIDR ('192.0.2.0/33' "
        "does not appear to be an IPv4 or IPv6 network)",
    ),
    "database secret without database": (
        "product-catalog/dev.yaml",
        "database: null\n",
        "dev",
        "product-catalog/base.yaml: services.api.secrets[0]: database is listed but the profile has no "
        "database section",
    ),
    "aws: tag": (
        "product-catalog/dev.yaml",
        "tags:\n  aws:owner: me\n",
        "dev",
        "product-catalog/dev.yaml: tags: tag key 'aws:owner' must be 1-128 characters and not start with aws:",
    ),
    "application mismatch": (
        "product-catalog/dev.yaml",
        "application: catalog\n",
        "dev",
        "product-catalog/dev.yaml: application: 'catalog' must equal its folder name 'product-catalog'",
    ),
    "nat none without endpoints": (
        "product-catalog/dev.yaml",
        "network:\n  nat_gateways: none\n",
        "dev",
        "product-catalog/dev.yaml: network.nat_gateways: none leaves tasks in private subnets without a "
        "way to pull images: add interface_endpoints ecr.api, ecr.dkr, logs (and s3_gateway_endpoint) or "
        "choose single/per_az",
    ),
    "service name": (
        "product-catalog/dev.yaml",
        "services:\n  Api_V2:\n    port: 8080\n",
        "dev",
        "product-catalog/dev.yaml: services.Api_V2: service name 'Api_V2' must be lowercase letters, "
        "digits and single hyphens",
    ),
    "frontend pipeline without bucket": (
        "product-catalog/dev.yaml",
        "cicd:\n  pipelines:\n    web:\n      kind: frontend\n      source: {repository: o/r}\n",
        "dev",
        "product-catalog/dev.yaml: cicd.pipelines.web.kind: a frontend pipeline needs edge.spa_bucket",
    ),
    "unknown endpoint": (
        "product-catalog/dev.yaml",
        "network:\n  interface_endpoints: [dynamodb]\n",
        "dev",
        "product-catalog/dev.yaml: network.interface_endpoints[0]: Input should be 'ecr.api', 'ecr.dkr', "
        "'logs', 'secretsmanager', 'ssm', 'sts', 'kms', 'xray' or 'monitoring' (got 'dynamodb')",
    ),
    "health path": (
        "product-catalog/dev.yaml",
        "services:\n  api:\n    health_check:\n      path: health\n",
        "dev",
        "product-catalog/dev.yaml: services.api.health_check.path: String should match pattern "
        "'^/[\\w\\-./~%]*$' (got 'health')",
    ),
    "non-root on a privileged port": (
        "smart-task/dev.yaml",
        "services:\n  frontend:\n    port: 80\n",
        "dev",
        "smart-task/dev.yaml: services.frontend.port: 80 is below 1024 and the container runs as non-root "
        "user '1000:1000', which cannot bind it; allowed with a non-root user: 1024-65535 (e.g. 8080; the "
        "load balancer still listens on 80/443)",
    ),
    "writable root without a reason": (
        "smart-task/dev.yaml",
        "services:\n  frontend:\n    readonly_root_filesystem: false\n",
        "dev",
        "smart-task/dev.yaml: services.frontend.readonly_root_filesystem: false needs "
        "writable_root_reason: say why the container writes outside /tmp (it goes into the task "
        "definition's Metadata, which lint W9008 reads)",
    ),
    "image tag with a colon": (
        "product-catalog/dev.yaml",
        "services:\n  api:\n    image_tag: ':v1'\n",
        "dev",
        "product-catalog/dev.yaml: services.api.image_tag: String should match pattern "
        "'^([\\w][\\w.-]{0,127})?$' (got ':v1')",
    ),
    "port out of range": (
        "product-catalog/dev.yaml",
        "services:\n  api:\n    port: 70000\n",
        "dev",
        "product-catalog/dev.yaml: services.api.port: Input should be less than or equal to 65535 (got 70000)",
    ),
    "stage unknown": (
        "product-catalog/dev.yaml",
        "environment:\n  stage: staging\n",
        "dev",
        "product-catalog/dev.yaml: environment.stage: Input should be 'dev' or 'prod' (got 'staging')",
    ),
    "suffix uppercase": (
        "product-catalog/dev.yaml",
        "environment:\n  suffix: PR5706\n",
        "dev",
        "product-catalog/dev.yaml: environment.suffix: String should match pattern "
        "'^[a-z0-9][a-z0-9-]{0,22}[a-z0-9]$' (got 'PR5706')",
    ),
    "no such environment": (
        "product-catalog/dev.yaml",
        "tags: {}\n",
        "qa",
        "product-catalog/qa.yaml: no environment 'qa' for product-catalog; environments: dev, prod",
    ),
    # --- ECS-native blue/green (AWS::ECS::Service CanaryConfiguration / LinearConfiguration) ---
    "canary percent not a step of 0.1": (
        "smart-task/dev.yaml",
        "services:\n  backend:\n    traffic_shifting:\n      percent: 0.05\n",
        "dev",
        "smart-task/dev.yaml: services.backend.traffic_shifting.percent: 0.05 is not a canary percent ECS "
        "accepts: a multiple of 0.1 from 0.1 to 100",
    ),
    "linear step below 3": (
        "smart-task/dev.yaml",
        "services:\n  backend:\n    traffic_shifting:\n      shift: linear\n      percent: 2\n",
        "dev",
        "smart-task/dev.yaml: services.backend.traffic_shifting.percent: 2 is not a linear percent ECS "
        "accepts: a multiple of 0.1 from 3 to 100",
    ),
    "shifting outlasts the pipeline": (
        "smart-task/dev.yaml",
        "services:\n  backend:\n    traffic_shifting:\n      shift: linear\n      percent: 3\n",
        "dev",
        "smart-task/dev.yaml: services.backend.traffic_shifting: shifting (170 min) plus bake time (5 min) "
        "is over 45 minutes: the pipeline's ECS deploy action waits at most 60 minutes (DeploymentTimeout "
        "1-60), 15 of them for the new tasks to start",
    ),
    "requests per target on blue/green": (
        "smart-task/dev.yaml",
        "services:\n  backend:\n    autoscaling:\n      requests_per_target: 500\n",
        "dev",
        "smart-task/dev.yaml: services.backend.autoscaling.requests_per_target: cannot follow a blue_green "
        "service: ECS moves its traffic between two target groups; scale on cpu_target or memory_target",
    ),
    "section wrong type": (
        "product-catalog/dev.yaml",
        "network: [10.0.0.0/16]\n",
        "dev",
        "product-catalog/dev.yaml: network: Input should be a valid dictionary or instance of NetworkConfig",
    ),
    "bool as string": (
        "product-catalog/dev.yaml",
        "database:\n  multi_az: perhaps\n",
        "dev",
        "product-catalog/dev.yaml: database.multi_az: Input should be a valid boolean, unable to interpret "
        "input (got 'perhaps')",
    ),
    "yaml tab": (
        "product-catalog/dev.yaml",
        "tags:\n\tOwner: me\n",
        "dev",
        "product-catalog/dev.yaml: line 2, column 1: invalid YAML: found character '\\t' that cannot start any token",
    ),
    "non-string key": (
        "product-catalog/dev.yaml",
        "tags:\n  1: one\n",
        "dev",
        "product-catalog/dev.yaml: line 2, column 3: invalid YAML: key 1 is not a string",
    ),
    "python tag": (
        "product-catalog/dev.yaml",
        "tags: !!python/object:os.system {}\n",
        "dev",
        "product-catalog/dev.yaml: line 1, column 7: invalid YAML: could not determine a constructor for "
        "the tag 'tag:yaml.org,2002:python/object:os.system'",
    ),
    "anchors ok but bad alias": (
        "product-catalog/dev.yaml",
        "tags: *missing\n",
        "dev",
        "product-catalog/dev.yaml: line 1, column 7: invalid YAML: found undefined alias 'missing'",
    ),
}


def _tree_digest(folder: Path) -> dict[str, str]:
    return {
        str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


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
    assert (
        result.stderr.strip()
        == "error: params/smart-task/prod.yaml: services.backend.cpu: 3 CPU / 2048 MiB is not a Fargate size; "
        "Fargate cpu must be one of 256, 512, 1024, 2048, 4096, 8192, 16384"
    )
    assert not (tmp_path / "dist").exists()

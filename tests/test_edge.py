"""Edge layer: the seed values of every profile's load balancer, CloudFront, API Gateway and WAF,
the outputs the compute layer consumes, and the us-east-1 global layer."""

from __future__ import annotations

import json

import pytest
import yaml

from templates.config import CLOUDFRONT_ORIGIN_FACING_PREFIX_LISTS
from templates.edge import (
    ALB_TLS_POLICY,
    ALL_VIEWER,
    CACHING_DISABLED,
    CACHING_OPTIMIZED,
    SPA_REWRITE_FUNCTION,
    TARGET_GROUP_PORT,
    listener_priorities,
)
from templates.errors import ConfigError
from templates.lint import lint_directory
from templates.params import REPO_PARAMS, load_config
from templates.render import render, write_profile
from tests.conftest import ALL_TARGETS, rendered, resources, template


def edge(app: str, env: str = "dev") -> dict:
    return template(app, env, "edge")


def props(doc: dict, logical_id: str) -> dict:
    return doc["Resources"][logical_id]["Properties"]


def attributes(resource_props: dict, key: str) -> dict[str, str]:
    return {a["Key"]: a["Value"] for a in resource_props[key]}


def lifecycle(bucket_props: dict) -> dict[str, dict]:
    return {rule["Id"]: rule for rule in bucket_props["LifecycleConfiguration"]["Rules"]}


def edited_profile(params_copy, app: str, change) -> dict:
    """Apply `change` to a copy of the profile's base.yaml; return the rendered files as documents."""
    path = params_copy / app / "base.yaml"
    base = yaml.safe_load(path.read_text())
    change(base)
    path.write_text(yaml.safe_dump(base))
    return render(load_config(app, "dev", params_copy))


# ------------------------------------------------------------------ seed 004: product-catalog


def test_product_catalog_target_group_health_check():
    doc = edge("product-catalog")
    group = props(doc, "ServiceApiTargetGroup")
    assert group["Name"] == "tg-api-pr5706"
    # The group's Port is a constant default; ECS registers each task on the container's 3000.
    assert (group["TargetType"], group["Protocol"], group["Port"]) == ("ip", "HTTP", TARGET_GROUP_PORT)
    [balanced] = template("product-catalog", "dev", "compute")["Resources"]["ServiceApiService"]["Properties"][
        "LoadBalancers"
    ]
    assert (balanced["ContainerPort"], balanced["TargetGroupArn"]) == (3000, {"Ref": "ServiceApiTargetGroupArn"})
    assert "HealthCheckPort" not in group  # traffic-port: the port each task registered with
    assert group["HealthCheckPath"] == "/health"
    assert group["HealthCheckIntervalSeconds"] == 30
    assert group["UnhealthyThresholdCount"] == 2
    assert group["HealthCheckTimeoutSeconds"] == 5
    assert group["Matcher"] == {"HttpCode": "200-399"}
    assert attributes(group, "TargetGroupAttributes") == {"deregistration_delay.timeout_seconds": "30"}


def test_product_catalog_load_balancer_and_http_listener():
    doc = edge("product-catalog")
    alb = props(doc, "LoadBalancer")
    assert alb["Name"] == "alb-pr5706"
    assert alb["Scheme"] == "internet-facing"
    assert alb["Subnets"] == {"Ref": "PublicSubnetIds"}
    assert alb["SecurityGroups"] == [{"Ref": "AlbSecurityGroupId"}]
    attrs = attributes(alb, "LoadBalancerAttributes")
    assert attrs["routing.http.drop_invalid_header_fields.enabled"] == "true"
    assert attrs["deletion_protection.enabled"] == "false"
    assert attrs["access_logs.s3.enabled"] == "true"
    assert attrs["access_logs.s3.bucket"] == {"Ref": "AccessLogsBucket"}
    http = props(doc, "HttpListener")
    assert (http["Port"], http["Protocol"]) == (80, "HTTP")
    # CloudFront reaches this ALB over HTTP (no domain): port 80 serves, it never redirects.
    assert http["DefaultActions"] == [{"Type": "forward", "TargetGroupArn": {"Ref": "ServiceApiTargetGroup"}}]
    assert doc["Outputs"]["ProductionListenerArn"]["Value"] == {"Ref": "HttpListener"}
    assert (
        attributes(props(template("product-catalog", "prod", "edge"), "LoadBalancer"), "LoadBalancerAttributes")[
            "deletion_protection.enabled"
        ]
        == "true"
    )


def test_product_catalog_access_log_bucket_expires_after_30_days():
    doc = edge("product-catalog")
    bucket = props(doc, "AccessLogsBucket")
    assert lifecycle(bucket)["expire-logs"]["ExpirationInDays"] == 30
    assert bucket["BucketEncryption"]["ServerSideEncryptionConfiguration"][0]["ServerSideEncryptionByDefault"] == {
        "SSEAlgorithm": "AES256"
    }
    assert bucket["PublicAccessBlockConfiguration"] == {
        "BlockPublicAcls": True,
        "BlockPublicPolicy": True,
        "IgnorePublicAcls": True,
        "RestrictPublicBuckets": True,
    }
    statements = {s["Sid"]: s for s in props(doc, "AccessLogsBucketPolicy")["PolicyDocument"]["Statement"]}
    assert statements["DenyInsecureTransport"]["Condition"] == {"Bool": {"aws:SecureTransport": False}}
    # eu-north-1 predates the log-delivery service principal: its ELB account writes the logs.
    assert statements["LoadBalancerWritesAccessLogs"]["Principal"] == {
        "AWS": {"Fn::Sub": "arn:${AWS::Partition}:iam::897822967062:root"}
    }
    assert doc["Resources"]["LoadBalancer"]["DependsOn"] == ["AccessLogsBucketPolicy"]


def test_product_catalog_cloudfront_caches_the_api_with_a_key_that_keeps_queries_cookies_and_tokens():
    """Seed 004 asks for CachingOptimized at the ALB origin; its key is the path only (README departures)."""
    doc = edge("product-catalog")
    distribution = props(doc, "Distribution")["DistributionConfig"]
    default = distribution["DefaultCacheBehavior"]
    assert default["TargetOriginId"] == "alb"
    assert default["CachePolicyId"] == {"Ref": "ApiCachePolicy"}
    assert default["OriginRequestPolicyId"] == ALL_VIEWER == "216adef6-5c7f-47e4-b989-5492eafa07d3"
    assert default["CachedMethods"] == ["GET", "HEAD"]  # writes are never cached
    policy = props(doc, "ApiCachePolicy")["CachePolicyConfig"]
    assert policy["Name"] == "cache-api-pr5706"
    # 0/0: cached only as the API's Cache-Control says, and no-store / private are honoured.
    assert (policy["MinTTL"], policy["DefaultTTL"], policy["MaxTTL"]) == (0, 0, 86400)
    key = policy["ParametersInCacheKeyAndForwardedToOrigin"]
    assert key["QueryStringsConfig"] == {"QueryStringBehavior": "all"}  # ?page=2 is not ?page=1
    assert key["CookiesConfig"] == {"CookieBehavior": "all"}
    assert key["HeadersConfig"] == {"HeaderBehavior": "whitelist", "Headers": ["Authorization", "Origin"]}
    assert (key["EnableAcceptEncodingGzip"], key["EnableAcceptEncodingBrotli"]) == (True, True)
    assert CACHING_OPTIMIZED not in json.dumps(distribution)
    assert default["ViewerProtocolPolicy"] == "redirect-to-https"
    [origin] = distribution["Origins"]
    assert origin["DomainName"] == {"Fn::GetAtt": ["LoadBalancer", "DNSName"]}
    assert origin["CustomOriginConfig"]["OriginProtocolPolicy"] == "http-only"
    assert distribution["HttpVersion"] == "http2and3"
    assert distribution["PriceClass"] == {"Ref": "PriceClass"}
    assert distribution["Logging"]["Prefix"] == "cloudfront/"
    assert "CustomErrorResponses" not in distribution  # no SPA fallback when the ALB is the default
    # seed 004's "Security Enhancements" (listed under its future enhancements): "WAF Integration: Web
    # Application Firewall on CloudFront/ALB"; the web ACL lives in the us-east-1 global stack
    assert distribution["WebACLId"] == {"Ref": "CloudFrontWebAclArn"}


# ------------------------------------------------------------------ seed 001: ecs-ec2-api


def test_ecs_ec2_api_target_group_and_optional_https():
    doc = edge("ecs-ec2-api")
    group = props(doc, "ServiceApiTargetGroup")
    assert (group["HealthCheckPath"], group["Port"]) == ("/api/health", TARGET_GROUP_PORT)  # tasks register on 3000
    https = doc["Resources"]["HttpsListener"]
    assert https["Condition"] == "HasCertificate"
    assert (https["Properties"]["Port"], https["Properties"]["Protocol"], https["Properties"]["SslPolicy"]) == (
        443,
        "HTTPS",
        ALB_TLS_POLICY,
    )
    # 80 redirects to 443 only when a certificate is given; the knob is the security layer's.
    action = props(doc, "HttpListener")["DefaultActions"][0]["Fn::If"]
    assert action[0] == "HasCertificate"
    assert (
        action[1]["RedirectConfig"]["Protocol"] == "HTTPS" and action[1]["RedirectConfig"]["StatusCode"] == "HTTP_301"
    )
    assert action[2] == {"Type": "forward", "TargetGroupArn": {"Ref": "ServiceApiTargetGroup"}}
    assert doc["Outputs"]["ProductionListenerArn"]["Value"] == {
        "Fn::If": ["HasCertificate", {"Ref": "HttpsListener"}, {"Ref": "HttpListener"}]
    }
    assert (
        doc["Parameters"]["CertificateArn"]
        == template("ecs-ec2-api", "dev", "security")["Parameters"]["CertificateArn"]
    )
    assert "Distribution" not in doc["Resources"]


# ------------------------------------------------------------------ seed 002: smart-task


def _weighted(action: dict) -> list[tuple[str, int]]:
    return [(group["TargetGroupArn"]["Ref"], group["Weight"]) for group in action["ForwardConfig"]["TargetGroups"]]


def test_smart_task_path_rules_route_api_to_backend_and_the_rest_to_frontend():
    doc = edge("smart-task")
    rules = {
        _weighted(props(doc, rid)["Actions"][0])[0][0]: (
            props(doc, rid)["Conditions"][0]["PathPatternConfig"]["Values"],
            props(doc, rid)["Priority"],
        )
        for rid in resources(doc, "AWS::ElasticLoadBalancingV2::ListenerRule")
        if props(doc, rid)["ListenerArn"] == {"Ref": "HttpListener"}
    }
    assert rules == {"ServiceBackendTargetGroup": (["/api/*"], 10), "ServiceFrontendTargetGroup": (["/*"], 20)}


@pytest.mark.parametrize("env", ["dev", "prod"])
def test_smart_task_blue_green_rules_ecs_shifts_traffic_on(env):
    """ECS-native blue/green: each service's production and test rules forward to its two target
    groups, weight 1 and 0, which ECS rewrites as it shifts traffic; nothing else points at them."""
    doc = edge("smart-task", env)
    suffix = f"st-{env}"
    for svc, path, priority in (("Backend", "/api/*", 10), ("Frontend", "/*", 20)):
        assert props(doc, f"Service{svc}GreenTargetGroup")["Name"] == f"tg-{svc.lower()}-green-{suffix}"
        for rule_id, listener in (
            (f"Service{svc}ListenerRule", "HttpListener"),
            (f"Service{svc}TestListenerRule", "TestListener"),
        ):
            rule = props(doc, rule_id)
            assert rule["ListenerArn"] == {"Ref": listener}
            assert (rule["Conditions"][0]["PathPatternConfig"]["Values"], rule["Priority"]) == ([path], priority)
            assert [a["Type"] for a in rule["Actions"]] == ["forward"]
            assert _weighted(rule["Actions"][0]) == [
                (f"Service{svc}TargetGroup", 1),
                (f"Service{svc}GreenTargetGroup", 0),
            ]
        # CloudFront reaches the ALB over HTTP (no domain): ECS moves traffic on that one production
        # rule, so the HTTPS listener (a given certificate) has no rule of a blue/green service.
        assert f"Service{svc}HttpsListenerRule" not in doc["Resources"]
    assert props(doc, "ServiceBackendGreenTargetGroup")["HealthCheckPath"] == "/api/health"
    # the catch-all is blue/green: listener defaults never pin one of its two groups
    for listener in ("HttpListener", "HttpsListener", "TestListener"):
        assert props(doc, listener)["DefaultActions"] == [
            {
                "Type": "fixed-response",
                "FixedResponseConfig": {"StatusCode": "404", "ContentType": "text/plain", "MessageBody": "Not found"},
            }
        ]
    outputs = doc["Outputs"]
    for svc in ("Backend", "Frontend"):
        assert outputs[f"Service{svc}GreenTargetGroupArn"]["Value"] == {"Ref": f"Service{svc}GreenTargetGroup"}
        assert outputs[f"Service{svc}GreenTargetGroupFullName"]["Value"] == {
            "Fn::GetAtt": [f"Service{svc}GreenTargetGroup", "TargetGroupFullName"]
        }
        assert outputs[f"Service{svc}ProductionListenerRuleArn"]["Value"] == {"Ref": f"Service{svc}ListenerRule"}
        assert outputs[f"Service{svc}TestListenerRuleArn"]["Value"] == {"Ref": f"Service{svc}TestListenerRule"}
        # CodeDeploy's target group names are gone with CodeDeploy
        assert f"Service{svc}TargetGroupName" not in outputs and f"Service{svc}GreenTargetGroupName" not in outputs
    assert outputs["TestListenerArn"]["Value"] == {"Ref": "TestListener"}


def test_smart_task_test_listener_is_https_with_a_certificate_and_for_the_vpc_only():
    doc = edge("smart-task", "prod")
    listener = props(doc, "TestListener")
    assert (listener["Port"], listener["Protocol"]) == (8080, {"Fn::If": ["HasCertificate", "HTTPS", "HTTP"]})
    assert listener["SslPolicy"] == {"Fn::If": ["HasCertificate", ALB_TLS_POLICY, {"Ref": "AWS::NoValue"}]}
    assert listener["Certificates"] == {
        "Fn::If": ["HasCertificate", [{"CertificateArn": {"Ref": "CertificateArn"}}], {"Ref": "AWS::NoValue"}]
    }
    skipped = {skip["id"] for skip in doc["Resources"]["TestListener"]["Metadata"]["checkov"]["skip"]}
    assert skipped == {"CKV_AWS_2", "CKV_AWS_103"}
    ingress = [
        r["Properties"]
        for r in resources(doc, "AWS::EC2::SecurityGroupIngress").values()
        if r["Properties"]["FromPort"] == 8080
    ]
    assert ingress == [
        {
            "GroupId": {"Ref": "AlbSecurityGroupId"},
            "IpProtocol": "tcp",
            "FromPort": 8080,
            "ToPort": 8080,
            "CidrIp": {"Ref": "VpcCidr"},
            "Description": "blue/green test listener, from inside the VPC only",
        }
    ]
    assert doc["Parameters"]["VpcCidr"]["Type"] == "String"
    security = template("smart-task", "prod", "security")
    opened = [
        rule
        for group in resources(security, "AWS::EC2::SecurityGroup").values()
        for rule in group["Properties"].get("SecurityGroupIngress", [])
        if rule.get("FromPort") == 8080 and rule.get("CidrIp") == "0.0.0.0/0"
    ]
    assert opened == []


def test_rolling_catch_all_still_takes_the_listener_default():
    doc = edge("ecs-ec2-api")
    assert props(doc, "HttpsListener")["DefaultActions"] == [
        {"Type": "forward", "TargetGroupArn": {"Ref": "ServiceApiTargetGroup"}}
    ]
    assert "TestListener" not in doc["Resources"]


@pytest.mark.parametrize("env", ["dev", "prod"])
def test_smart_task_rate_limits_per_client_address_at_the_cloudfront_web_acl(env):
    """CloudFront fronts the ALB, which admits only CloudFront: the web ACL is at CloudFront scope
    (us-east-1, in the edge stack), where the source address is the client's own."""
    doc = edge("smart-task", env)
    acl = props(doc, "CloudFrontWebAcl")
    assert acl["Scope"] == "CLOUDFRONT"
    rules = {rule["Name"]: rule for rule in acl["Rules"]}
    rate = rules["rate-limit"]["Statement"]["RateBasedStatement"]
    assert rate == {"AggregateKeyType": "IP", "Limit": 2000}  # seed 002's limit, per source IP, no scope-down
    assert rules["rate-limit"]["Action"] == {"Block": {}}
    assert rules["block-ip-list"]["Statement"]["IPSetReferenceStatement"]["Arn"] == {
        "Fn::GetAtt": ["CloudFrontBlockedIpSet", "Arn"]
    }
    assert rules["block-ip-list"]["Action"] == {"Block": {}}
    assert props(doc, "CloudFrontBlockedIpSet")["Addresses"] == ["192.0.2.0/24"]
    assert props(doc, "CloudFrontBlockedIpSet")["Scope"] == "CLOUDFRONT"
    managed = [
        r["Statement"]["ManagedRuleGroupStatement"]["Name"]
        for r in acl["Rules"]
        if "ManagedRuleGroupStatement" in r["Statement"]
    ]
    assert managed == [
        "AWSManagedRulesCommonRuleSet",
        "AWSManagedRulesKnownBadInputsRuleSet",
        "AWSManagedRulesSQLiRuleSet",
    ]
    assert props(doc, "Distribution")["DistributionConfig"]["WebACLId"] == {"Fn::GetAtt": ["CloudFrontWebAcl", "Arn"]}
    # No regional ACL behind CloudFront: it would see only CloudFront's addresses.
    assert not resources(doc, "AWS::WAFv2::WebACLAssociation")
    assert "RegionalWebAcl" not in doc["Resources"]
    group = props(doc, "CloudFrontWafLogGroup")
    assert (
        group["LogGroupName"]
        == f"aws-waf-logs-cloudfront-{'st-dev' if env == 'dev' else rendered('smart-task', env).cfg.suffix}"
    )
    assert group["KmsKeyId"] == {"Ref": "KmsKeyArn"}


@pytest.mark.parametrize(("app", "env"), ALL_TARGETS)
def test_no_rate_rule_counts_a_header_the_client_writes(app, env):
    for layer in ("edge", "global"):
        if f"{layer}.json" not in rendered(app, env).files:
            continue
        for lid, acl in resources(template(app, env, layer), "AWS::WAFv2::WebACL").items():
            text = json.dumps(acl)
            assert "FORWARDED_IP" not in text and "X-Forwarded-For" not in text, (app, env, lid)
            [rate] = [
                r["Statement"]["RateBasedStatement"] for r in acl["Properties"]["Rules"] if r["Name"] == "rate-limit"
            ]
            assert rate["AggregateKeyType"] == "IP"
            assert rate["Limit"] == rendered(app, env).cfg.edge.waf.rate_limit


def test_smart_task_cloudfront_spa_default_and_api_to_the_alb():
    doc = edge("smart-task")
    distribution = props(doc, "Distribution")["DistributionConfig"]
    default = distribution["DefaultCacheBehavior"]
    assert default["TargetOriginId"] == "spa"
    assert default["CachePolicyId"] == CACHING_OPTIMIZED
    # The SPA fallback is the bucket behaviour's own viewer-request function...
    assert default["FunctionAssociations"] == [
        {
            "EventType": "viewer-request",
            "FunctionARN": {"Fn::GetAtt": ["SpaRewriteFunction", "FunctionMetadata.FunctionARN"]},
        }
    ]
    function = props(doc, "SpaRewriteFunction")
    assert function["FunctionConfig"]["Runtime"] == "cloudfront-js-2.0"
    assert function["AutoPublish"] is True
    assert function["FunctionCode"] == SPA_REWRITE_FUNCTION
    assert function["Name"] == "spa-rewrite-st-dev"
    [api] = distribution["CacheBehaviors"]
    assert (api["PathPattern"], api["TargetOriginId"], api["CachePolicyId"], api["OriginRequestPolicyId"]) == (
        "/api/*",
        "alb",
        CACHING_DISABLED,
        ALL_VIEWER,
    )
    # ...so the API's 403/404 reach the client as they are, not as index.html with 200.
    assert "FunctionAssociations" not in api
    assert "CustomErrorResponses" not in distribution


@pytest.mark.parametrize(("app", "env"), ALL_TARGETS)
def test_spa_fallback_never_touches_a_load_balancer_response(app, env):
    doc = edge(app, env)
    if "Distribution" not in doc["Resources"]:
        return
    distribution = props(doc, "Distribution")["DistributionConfig"]
    origins = {o["Id"]: o for o in distribution["Origins"]}
    behaviours = [distribution["DefaultCacheBehavior"], *distribution.get("CacheBehaviors", [])]
    if any("S3OriginConfig" not in o for o in origins.values()):
        assert not any(e.get("ResponseCode") == 200 for e in distribution.get("CustomErrorResponses", [])), (app, env)
    for behaviour in behaviours:
        if "FunctionAssociations" in behaviour:
            assert "S3OriginConfig" in origins[behaviour["TargetOriginId"]], (app, env)
    # The function goes exactly where the bucket is the default (the SPA): smart-task, product-management.
    spa_default = "S3OriginConfig" in origins[distribution["DefaultCacheBehavior"]["TargetOriginId"]]
    assert ("SpaRewriteFunction" in doc["Resources"]) == spa_default == (app in ("smart-task", "product-management")), (
        app,
        env,
    )


NODE_HARNESS = """
const vm = require('vm');
const code = require('fs').readFileSync(0, 'utf8');
const sandbox = {};
vm.createContext(sandbox);
vm.runInContext(code, sandbox);
const out = {};
for (const uri of JSON.parse(process.argv[1])) {
    const event = {version: '1.0', context: {eventType: 'viewer-request'}, viewer: {ip: '192.0.2.1'},
                   request: {method: 'GET', uri: uri, querystring: {page: {value: '2'}}, headers: {}, cookies: {}}};
    const request = sandbox.handler(event);
    out[uri] = [request.uri, request.querystring.page.value, request.method];
}
process.stdout.write(JSON.stringify(out));
"""


def test_spa_rewrite_function_routes_client_paths_to_index_and_keeps_files():
    """Runs the function's code under node (CloudFront Functions are JavaScript)."""
    import shutil
    import subprocess

    node = shutil.which("node")
    if node is None:
        pytest.skip("node is not installed")
    cases = {
        "/": "/index.html",
        "/tasks": "/index.html",
        "/tasks/42/edit": "/index.html",
        "/index.html": "/index.html",
        "/static/js/main.3f2a1c.js": "/static/js/main.3f2a1c.js",
        "/favicon.ico": "/favicon.ico",
        "/assets/logo.svg": "/assets/logo.svg",
        "/v1.2/settings": "/index.html",  # a dot in a directory is not a file extension
        "/robots.txt": "/robots.txt",
    }
    result = subprocess.run(
        [node, "-e", NODE_HARNESS, json.dumps(list(cases))],
        input=SPA_REWRITE_FUNCTION,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    out = json.loads(result.stdout)
    assert {uri: value[0] for uri, value in out.items()} == cases
    assert all(value[1:] == ["2", "GET"] for value in out.values())  # query string and method untouched


# ------------------------------------------------------------------ seed 000: product-management


def test_product_management_api_gateway_throttles_and_logs():
    doc = edge("product-management")
    assert props(doc, "HttpApi")["ProtocolType"] == "HTTP"
    stage = props(doc, "ApiDefaultStage")
    assert stage["DefaultRouteSettings"] == {"ThrottlingRateLimit": 1000.0, "ThrottlingBurstLimit": 2000}
    assert stage["AccessLogSettings"]["DestinationArn"] == {"Fn::GetAtt": ["ApiAccessLogGroup", "Arn"]}
    assert props(doc, "ApiAccessLogGroup")["KmsKeyId"] == {"Ref": "KmsKeyArn"}
    link = props(doc, "ApiVpcLink")
    assert link["SubnetIds"] == {"Ref": "PrivateSubnetIds"}
    integration = props(doc, "ApiAlbIntegration")
    assert (integration["ConnectionType"], integration["IntegrationType"]) == ("VPC_LINK", "HTTP_PROXY")
    assert integration["IntegrationUri"] == doc["Outputs"]["ProductionListenerArn"]["Value"]
    egress = props(doc, "ApiVpcLinkSecurityGroup")["SecurityGroupEgress"]
    assert {(r["FromPort"], json.dumps(r["DestinationSecurityGroupId"])) for r in egress} == {
        (80, '{"Ref": "AlbSecurityGroupId"}'),
        (443, '{"Ref": "AlbSecurityGroupId"}'),
    }
    assert doc["Outputs"]["ApiEndpoint"]["Value"] == {"Fn::GetAtt": ["HttpApi", "ApiEndpoint"]}
    assert "EdgeApiEndpoint" in template("product-management", "dev", "root")["Outputs"]


def test_product_management_regional_and_cloudfront_waf_in_us_east_1():
    doc = edge("product-management")
    assert props(doc, "RegionalWebAcl")["Scope"] == "REGIONAL"
    assert props(doc, "CloudFrontWebAcl")["Scope"] == "CLOUDFRONT"
    # The ALB is not behind CloudFront here: the regional rate rule counts each source address,
    # except the VPC link's interfaces (every API client arrives through them; the stage throttles).
    [rate] = [r for r in props(doc, "RegionalWebAcl")["Rules"] if r["Name"] == "rate-limit"]
    statement = rate["Statement"]["RateBasedStatement"]
    assert (statement["AggregateKeyType"], statement["Limit"]) == ("IP", 2000)
    assert statement["ScopeDownStatement"] == {
        "NotStatement": {
            "Statement": {"IPSetReferenceStatement": {"Arn": {"Fn::GetAtt": ["RegionalProxyIpSet", "Arn"]}}}
        }
    }
    assert (
        props(doc, "RegionalProxyIpSet")["Addresses"]
        == ["10.10.0.0/16"]
        == [rendered("product-management", "dev").cfg.network.vpc_cidr]
    )
    [cloudfront_rate] = [r for r in props(doc, "CloudFrontWebAcl")["Rules"] if r["Name"] == "rate-limit"]
    assert "ScopeDownStatement" not in cloudfront_rate["Statement"]["RateBasedStatement"]
    distribution = props(doc, "Distribution")["DistributionConfig"]
    assert distribution["WebACLId"] == {"Fn::GetAtt": ["CloudFrontWebAcl", "Arn"]}
    assert props(doc, "CloudFrontWafLogGroup")["LogGroupName"] == "aws-waf-logs-cloudfront-pm-dev"
    # us-east-1 needs no separate global stack.
    assert [s["layer"] for s in rendered_manifest("product-management")["stacks"] if s["scope"] == "global"] == []


def test_product_management_spa_bucket_readable_only_through_origin_access_control():
    doc = edge("product-management")
    bucket = props(doc, "SpaBucket")
    assert bucket["VersioningConfiguration"] == {"Status": "Enabled"}
    assert bucket["PublicAccessBlockConfiguration"]["RestrictPublicBuckets"] is True
    oac = props(doc, "SpaOriginAccessControl")["OriginAccessControlConfig"]
    assert (oac["OriginAccessControlOriginType"], oac["SigningBehavior"], oac["SigningProtocol"]) == (
        "s3",
        "always",
        "sigv4",
    )
    statements = {s["Sid"]: s for s in props(doc, "SpaBucketPolicy")["PolicyDocument"]["Statement"]}
    read = statements["CloudFrontReadsThroughOriginAccessControl"]
    assert read["Principal"] == {"Service": "cloudfront.amazonaws.com"}
    assert read["Action"] == ["s3:GetObject"]
    assert read["Condition"] == {
        "StringEquals": {
            "AWS:SourceArn": {
                "Fn::Sub": "arn:${AWS::Partition}:cloudfront::${AWS::AccountId}:distribution/${Distribution}"
            }
        }
    }
    distribution = props(doc, "Distribution")["DistributionConfig"]
    [origin] = distribution["Origins"]
    assert origin["OriginAccessControlId"] == {"Fn::GetAtt": ["SpaOriginAccessControl", "Id"]}
    assert distribution["DefaultRootObject"] == "index.html"
    assert doc["Outputs"]["SpaBucketName"]["Value"] == {"Ref": "SpaBucket"}


# ------------------------------------------------------------------ seed 003: mycandidate


def test_mycandidate_cloudfront_has_alb_and_s3_origins():
    doc = edge("mycandidate")
    assert props(doc, "ServiceWebTargetGroup")["HealthCheckPath"] == "/"
    assert props(doc, "ServiceWebTargetGroup")["Port"] == TARGET_GROUP_PORT  # the tasks register on 5000
    distribution = props(doc, "Distribution")["DistributionConfig"]
    assert sorted(o["Id"] for o in distribution["Origins"]) == ["alb", "spa"]
    # alb is listed first: the Flask app takes the default, static files come from the bucket.
    assert distribution["DefaultCacheBehavior"]["TargetOriginId"] == "alb"
    assert distribution["DefaultCacheBehavior"]["CachePolicyId"] == CACHING_DISABLED
    [static] = distribution["CacheBehaviors"]
    assert (static["PathPattern"], static["TargetOriginId"], static["CachePolicyId"]) == (
        "/static/*",
        "spa",
        CACHING_OPTIMIZED,
    )
    assert "CustomErrorResponses" not in distribution
    assert "FunctionAssociations" not in static  # /static/* holds files, not client-side routes
    assert props(doc, "CloudFrontWebAcl")["Scope"] == "CLOUDFRONT"


# ------------------------------------------------------------------ every profile


def rendered_manifest(app: str, env: str = "dev") -> dict:
    return rendered(app, env).manifest


@pytest.mark.parametrize(("app", "env"), ALL_TARGETS)
def test_outputs_the_compute_layer_consumes(app, env):
    cfg = load_config(app, env, REPO_PARAMS)
    outputs = edge(app, env)["Outputs"]
    expected = {
        "LoadBalancerArn",
        "LoadBalancerFullName",
        "LoadBalancerDnsName",
        "HttpListenerArn",
        "ProductionListenerArn",
    }
    for name, svc in cfg.services.items():
        title = "Service" + "".join(part.capitalize() for part in name.split("-"))
        expected |= {f"{title}TargetGroupArn", f"{title}TargetGroupFullName"}
        if svc.deployment == "blue_green":
            expected |= {
                f"{title}GreenTargetGroupArn",
                f"{title}GreenTargetGroupFullName",
                f"{title}ProductionListenerRuleArn",
                f"{title}TestListenerRuleArn",
                "TestListenerArn",
            }
    if cfg.edge.cloudfront.enabled:
        expected |= {"DistributionId", "DistributionDomainName"}
    if cfg.edge.spa_bucket:
        expected |= {"SpaBucketName"}
    if cfg.edge.api_gateway.enabled:
        expected |= {"ApiEndpoint"}
    assert expected <= set(outputs)
    assert outputs["ProductionListenerArn"]["Value"]  # a Ref or an If, never empty


@pytest.mark.parametrize(("app", "env"), ALL_TARGETS)
def test_every_bucket_is_private_encrypted_and_tls_only(app, env):
    doc = edge(app, env)
    for bucket_id, bucket in resources(doc, "AWS::S3::Bucket").items():
        assert all(bucket["Properties"]["PublicAccessBlockConfiguration"].values())
        assert bucket["Properties"]["BucketEncryption"]
        policy = props(doc, f"{bucket_id}Policy")["PolicyDocument"]["Statement"][0]
        assert (policy["Effect"], policy["Condition"]) == ("Deny", {"Bool": {"aws:SecureTransport": False}})


def test_derived_listener_priorities_put_catch_all_last():
    cfg = load_config("smart-task", "dev", REPO_PARAMS)
    services = {name: svc.model_copy(update={"priority": None}) for name, svc in cfg.services.items()}
    frontend_first = {"frontend": services["frontend"], "backend": services["backend"]}
    assert listener_priorities(cfg.model_copy(update={"services": frontend_first})) == {"frontend": 20, "backend": 10}
    assert listener_priorities(cfg) == {"backend": 10, "frontend": 20}


# ------------------------------------------------------------------ the global (us-east-1) layer


def test_cloudfront_waf_outside_us_east_1_goes_to_the_global_stack(params_copy, linter, tmp_path):
    def turn_on_waf(base):
        base["edge"]["waf"] = {"cloudfront": True}

    result = edited_profile(params_copy, "product-catalog", turn_on_waf)
    scopes = {s["layer"]: s["scope"] for s in result.manifest["stacks"]}
    assert scopes["global"] == "global"
    global_doc = json.loads(result.files["global.json"])
    assert props(global_doc, "CloudFrontWebAcl")["Scope"] == "CLOUDFRONT"
    assert props(global_doc, "CloudFrontWafLogGroup")["KmsKeyId"] == {"Fn::GetAtt": ["WafLogsKey", "Arn"]}
    assert "WebAclArn" in global_doc["Outputs"]
    edge_doc = json.loads(result.files["edge.json"])
    assert props(edge_doc, "Distribution")["DistributionConfig"]["WebACLId"] == {"Ref": "CloudFrontWebAclArn"}
    root = json.loads(result.files["root.json"])
    assert "CloudFrontWebAclArn" in root["Parameters"]
    assert root["Resources"]["EdgeStack"]["Properties"]["Parameters"]["CloudFrontWebAclArn"] == {
        "Ref": "CloudFrontWebAclArn"
    }
    assert "GlobalStack" not in root["Resources"]
    folder = write_profile(result, tmp_path)
    findings = [f for f in lint_directory(linter, folder) if f.level in ("error", "warning")]
    assert findings == [], "\n".join(map(str, findings))


def test_a_domain_adds_certificates_and_alias_records(params_copy, linter, tmp_path):
    def add_domain(base):
        base["edge"]["domain"] = {"name": "catalog.example.com", "hosted_zone_id": "Z0123456789ABCDEFGHIJ"}

    result = edited_profile(params_copy, "product-catalog", add_domain)
    edge_doc = json.loads(result.files["edge.json"])
    certificate = props(edge_doc, "LoadBalancerCertificate")
    assert (certificate["DomainName"], certificate["ValidationMethod"]) == ("catalog.example.com", "DNS")
    https = edge_doc["Resources"]["HttpsListener"]
    assert "Condition" not in https
    assert props(edge_doc, "HttpListener")["DefaultActions"][0]["Type"] == "redirect"
    distribution = props(edge_doc, "Distribution")["DistributionConfig"]
    assert distribution["Aliases"] == ["catalog.example.com"]
    assert distribution["ViewerCertificate"]["MinimumProtocolVersion"] == "TLSv1.2_2021"
    assert distribution["ViewerCertificate"]["AcmCertificateArn"] == {"Ref": "CloudFrontCertificateArn"}
    alb_origin = distribution["Origins"][0]
    assert (alb_origin["DomainName"], alb_origin["CustomOriginConfig"]["OriginProtocolPolicy"]) == (
        "origin.catalog.example.com",
        "https-only",
    )
    records = {(r["Name"], r["Type"]) for r in props(edge_doc, "DnsRecords")["RecordSets"]}
    assert records == {
        ("catalog.example.com", "A"),
        ("catalog.example.com", "AAAA"),
        ("origin.catalog.example.com", "A"),
    }
    global_doc = json.loads(result.files["global.json"])
    assert props(global_doc, "CloudFrontCertificate")["DomainName"] == "catalog.example.com"
    folder = write_profile(result, tmp_path)
    findings = [f for f in lint_directory(linter, folder) if f.level in ("error", "warning")]
    assert findings == [], "\n".join(map(str, findings))


def test_with_a_domain_the_test_listener_is_https_and_cloudfront_enforces_tls_1_2(params_copy):
    def add_domain(base):
        base["edge"]["domain"] = {"name": "tasks.example.com", "hosted_zone_id": "Z0123456789ABCDEFGHIJ"}

    result = edited_profile(params_copy, "smart-task", add_domain)
    edge_doc = json.loads(result.files["edge.json"])
    listener = edge_doc["Resources"]["TestListener"]
    assert (listener["Properties"]["Protocol"], listener["Properties"]["SslPolicy"]) == ("HTTPS", ALB_TLS_POLICY)
    assert listener["Properties"]["Certificates"] == [
        {
            "CertificateArn": {
                "Fn::If": ["HasCertificate", {"Ref": "CertificateArn"}, {"Ref": "LoadBalancerCertificate"}]
            }
        }
    ]
    assert "checkov" not in listener.get("Metadata", {})  # nothing skipped
    assert listener["Metadata"]["guard"]["SuppressedRules"] == [
        "ELBV2_ACM_CERTIFICATE_REQUIRED"
    ]  # a parameter may name it
    distribution = edge_doc["Resources"]["Distribution"]
    viewer = distribution["Properties"]["DistributionConfig"]["ViewerCertificate"]
    assert (viewer["MinimumProtocolVersion"], viewer["SslSupportMethod"]) == ("TLSv1.2_2021", "sni-only")
    assert viewer["AcmCertificateArn"] == {"Ref": "CloudFrontCertificate"}  # us-east-1: in the edge stack
    assert props(edge_doc, "CloudFrontCertificate")["DomainName"] == "tasks.example.com"
    assert "CKV_AWS_174" not in json.dumps(distribution.get("Metadata", {}))


def test_without_a_domain_the_distribution_declares_why_tls_1_2_is_not_enforced():
    for app, env in ALL_TARGETS:
        doc = edge(app, env)
        if "Distribution" not in doc["Resources"]:
            continue
        distribution = doc["Resources"]["Distribution"]
        assert distribution["Properties"]["DistributionConfig"]["ViewerCertificate"] == {
            "CloudFrontDefaultCertificate": True
        }
        metadata = distribution["Metadata"]
        assert [s["id"] for s in metadata["checkov"]["skip"] if s["id"] == "CKV_AWS_174"] == ["CKV_AWS_174"]
        assert "CLOUDFRONT_MINIMUM_PROTOCOL_VERSION_RULE" in metadata["guard"]["SuppressedRules"]
        # A web ACL everywhere; outside us-east-1 (product-catalog, eu-north-1) from the global stack.
        web_acl = distribution["Properties"]["DistributionConfig"]["WebACLId"]
        assert web_acl == (
            {"Ref": "CloudFrontWebAclArn"} if app == "product-catalog" else {"Fn::GetAtt": ["CloudFrontWebAcl", "Arn"]}
        ), (app, env)
        assert "CKV_AWS_68" not in json.dumps(metadata["checkov"])


def test_cloudfront_certificate_without_a_domain_is_refused(params_copy):
    def add_certificate(base):
        base["edge"]["cloudfront"]["certificate_arn"] = (
            "arn:aws:acm:us-east-1:123456789012:certificate/0a1b2c3d-0000-1111-2222-333344445555"
        )

    with pytest.raises(ConfigError, match="edge.cloudfront.certificate_arn"):
        edited_profile(params_copy, "smart-task", add_certificate)


def test_profiles_without_domain_have_no_certificates_or_records():
    for app, env in ALL_TARGETS:
        doc = edge(app, env)
        assert not resources(doc, "AWS::CertificateManager::Certificate")
        assert not resources(doc, "AWS::Route53::RecordSetGroup")


# ------------------------------------------------------------------ issue 13: what AWS would refuse or get wrong


def _refusal(params_copy, app: str, change) -> str:
    path = params_copy / app / "base.yaml"
    base = yaml.safe_load(path.read_text())
    change(base)
    path.write_text(yaml.safe_dump(base))
    with pytest.raises(ConfigError) as caught:
        load_config(app, "dev", params_copy)
    return str(caught.value)


def test_caching_optimized_on_the_load_balancer_is_refused(params_copy):
    def seed_word(base):
        base["edge"]["cloudfront"]["alb_cache_policy"] = "CachingOptimized"

    message = _refusal(params_copy, "product-catalog", seed_word)
    assert "edge.cloudfront.alb_cache_policy" in message and "no query strings" in message and "ApiCaching" in message


@pytest.mark.parametrize(
    ("app", "change", "key", "words"),
    [
        (
            "smart-task",
            lambda base: base["edge"]["waf"].update(regional=True),
            "edge.waf.regional",
            "CloudFront's addresses",
        ),
        (
            "product-catalog",
            lambda base: base["edge"].update(api_gateway={"enabled": True, "integration": "http_proxy"}),
            "edge.api_gateway.integration",
            "use vpc_link",
        ),
        ("product-catalog", lambda base: base.update(region="af-south-1"), "edge.cloudfront.origins", "af-south-1"),
        (
            "ecs-ec2-api",
            lambda base: base["edge"].update(
                waf={"regional": True}, api_gateway={"enabled": True, "integration": "http_proxy"}
            ),
            "edge.waf.regional",
            "shared addresses",
        ),
    ],
    ids=[
        "regional-acl-behind-cloudfront",
        "http-proxy-behind-cloudfront",
        "region-without-known-prefix-list",
        "regional-acl-behind-http-proxy",
    ],
)
def test_edge_combinations_that_cannot_count_clients_are_refused(params_copy, app, change, key, words):
    message = _refusal(params_copy, app, change)
    assert key in message and words in message, message


def test_cloudfront_origin_facing_prefix_lists_are_pinned():
    """The ids the generator writes (one per region; README departures cite the source)."""
    assert CLOUDFRONT_ORIGIN_FACING_PREFIX_LISTS["us-east-1"] == "pl-3b927c52"
    assert CLOUDFRONT_ORIGIN_FACING_PREFIX_LISTS["eu-north-1"] == "pl-fab65393"
    assert CLOUDFRONT_ORIGIN_FACING_PREFIX_LISTS["us-west-2"] == "pl-82a045eb"
    assert len(set(CLOUDFRONT_ORIGIN_FACING_PREFIX_LISTS.values())) == len(CLOUDFRONT_ORIGIN_FACING_PREFIX_LISTS) == 17


def test_with_a_domain_cloudfront_alone_reaches_the_https_listener(params_copy, linter, tmp_path):
    def add_domain(base):
        base["edge"]["domain"] = {"name": "catalog.example.com", "hosted_zone_id": "Z0123456789ABCDEFGHIJ"}

    result = edited_profile(params_copy, "product-catalog", add_domain)
    security = json.loads(result.files["security.json"])
    [rule] = props(security, "AlbSecurityGroup")["SecurityGroupIngress"]
    assert (rule["FromPort"], rule["ToPort"], rule["SourcePrefixListId"]) == (443, 443, "pl-fab65393")
    edge_doc = json.loads(result.files["edge.json"])
    # No generated-certificate rule from the internet either: the ALB admits only CloudFront.
    assert not [
        lid for lid, r in resources(edge_doc, "AWS::EC2::SecurityGroupIngress").items() if "CidrIp" in r["Properties"]
    ]
    folder = write_profile(result, tmp_path)
    findings = [f for f in lint_directory(linter, folder) if f.level in ("error", "warning")]
    assert findings == [], "\n".join(map(str, findings))


def test_api_gateway_vpc_link_still_reaches_a_load_balancer_behind_cloudfront(params_copy):
    def add_api(base):
        base["edge"]["api_gateway"] = {"enabled": True, "integration": "vpc_link"}

    result = edited_profile(params_copy, "product-catalog", add_api)
    edge_doc = json.loads(result.files["edge.json"])
    ingress = {lid: r["Properties"] for lid, r in resources(edge_doc, "AWS::EC2::SecurityGroupIngress").items()}
    assert {
        (r["FromPort"], json.dumps(r["GroupId"]), json.dumps(r["SourceSecurityGroupId"])) for r in ingress.values()
    } == {
        (80, '{"Ref": "AlbSecurityGroupId"}', '{"Ref": "ApiVpcLinkSecurityGroup"}'),
        (443, '{"Ref": "AlbSecurityGroupId"}', '{"Ref": "ApiVpcLinkSecurityGroup"}'),
    }


def _named_create_only_values(doc: dict, region: str) -> dict[tuple[str, str], object]:
    """{(logical id, create-only property path): value} of every custom-named resource."""
    from resource_semantics import NAME_PROPERTIES, create_only_properties, custom_name

    values = {}
    for lid, resource in doc["Resources"].items():
        kind, properties = resource["Type"], resource.get("Properties", {})
        if kind not in NAME_PROPERTIES or custom_name(kind, properties) is None:
            continue
        for path in sorted(create_only_properties(kind, region)):
            value: object = properties
            for part in path.split("/"):
                value = value.get(part) if isinstance(value, dict) else None
            values[(lid, path)] = value
    return values


@pytest.mark.parametrize(
    ("app", "service", "port"),
    [("product-catalog", "api", 3001), ("smart-task", "backend", 8081), ("mycandidate", "web", 5001)],
)
def test_a_changed_service_port_replaces_no_named_edge_resource(params_copy, app, service, port):
    """Issue 13 item 10: target groups are custom-named and Port is create-only; a port change must
    leave every named resource's create-only values alone (CloudFormation refuses to replace a
    custom-named resource)."""
    before = json.loads(render(load_config(app, "dev", params_copy)).files["edge.json"])

    def change_port(base):
        base["services"][service]["port"] = port

    after_files = edited_profile(params_copy, app, change_port).files
    after = json.loads(after_files["edge.json"])
    region = load_config(app, "dev", params_copy).region
    old, new = _named_create_only_values(before, region), _named_create_only_values(after, region)
    assert old == new
    assert any(path == "Port" for _, path in old)  # the target groups' Port is among those compared
    # The port did change where it belongs: the task's container port in the compute layer.
    compute = json.loads(after_files["compute.json"])
    services = [
        r
        for r in resources(compute, "AWS::ECS::Service").values()
        if r["Properties"]["LoadBalancers"][0]["ContainerName"] == service
    ]
    assert services and services[0]["Properties"]["LoadBalancers"][0]["ContainerPort"] == port

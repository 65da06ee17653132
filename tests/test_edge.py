"""Edge layer: the seed values of every profile's load balancer, CloudFront, API Gateway and WAF,
the outputs the compute layer consumes, and the us-east-1 global layer."""

from __future__ import annotations

import json

import pytest
import yaml

from templates.edge import ALB_TLS_POLICY, ALL_VIEWER, CACHING_DISABLED, CACHING_OPTIMIZED, listener_priorities
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
    assert (group["TargetType"], group["Protocol"], group["Port"]) == ("ip", "HTTP", 3000)
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
    assert attributes(props(template("product-catalog", "prod", "edge"), "LoadBalancer"), "LoadBalancerAttributes")["deletion_protection.enabled"] == "true"


def test_product_catalog_access_log_bucket_expires_after_30_days():
    doc = edge("product-catalog")
    bucket = props(doc, "AccessLogsBucket")
    assert lifecycle(bucket)["expire-logs"]["ExpirationInDays"] == 30
    assert bucket["BucketEncryption"]["ServerSideEncryptionConfiguration"][0]["ServerSideEncryptionByDefault"] == {"SSEAlgorithm": "AES256"}
    assert bucket["PublicAccessBlockConfiguration"] == {
        "BlockPublicAcls": True, "BlockPublicPolicy": True, "IgnorePublicAcls": True, "RestrictPublicBuckets": True,
    }
    statements = {s["Sid"]: s for s in props(doc, "AccessLogsBucketPolicy")["PolicyDocument"]["Statement"]}
    assert statements["DenyInsecureTransport"]["Condition"] == {"Bool": {"aws:SecureTransport": False}}
    # eu-north-1 predates the log-delivery service principal: its ELB account writes the logs.
    assert statements["LoadBalancerWritesAccessLogs"]["Principal"] == {"AWS": {"Fn::Sub": "arn:${AWS::Partition}:iam::897822967062:root"}}
    assert doc["Resources"]["LoadBalancer"]["DependsOn"] == ["AccessLogsBucketPolicy"]


def test_product_catalog_cloudfront_caches_the_alb_origin_with_caching_optimized():
    distribution = props(edge("product-catalog"), "Distribution")["DistributionConfig"]
    default = distribution["DefaultCacheBehavior"]
    assert default["TargetOriginId"] == "alb"
    assert default["CachePolicyId"] == CACHING_OPTIMIZED == "658327ea-f89d-4fab-a63d-7e88639e58f6"
    assert default["OriginRequestPolicyId"] == ALL_VIEWER
    assert default["ViewerProtocolPolicy"] == "redirect-to-https"
    [origin] = distribution["Origins"]
    assert origin["DomainName"] == {"Fn::GetAtt": ["LoadBalancer", "DNSName"]}
    assert origin["CustomOriginConfig"]["OriginProtocolPolicy"] == "http-only"
    assert distribution["HttpVersion"] == "http2and3"
    assert distribution["PriceClass"] == {"Ref": "PriceClass"}
    assert distribution["Logging"]["Prefix"] == "cloudfront/"
    assert "CustomErrorResponses" not in distribution  # no SPA fallback when the ALB is the default
    assert "WebACLId" not in distribution  # WAF is a future enhancement in seed 004


# ------------------------------------------------------------------ seed 001: ecs-ec2-api


def test_ecs_ec2_api_target_group_and_optional_https():
    doc = edge("ecs-ec2-api")
    group = props(doc, "ServiceApiTargetGroup")
    assert (group["HealthCheckPath"], group["Port"]) == ("/api/health", 3000)
    https = doc["Resources"]["HttpsListener"]
    assert https["Condition"] == "HasCertificate"
    assert (https["Properties"]["Port"], https["Properties"]["Protocol"], https["Properties"]["SslPolicy"]) == (443, "HTTPS", ALB_TLS_POLICY)
    # 80 redirects to 443 only when a certificate is given; the knob is the security layer's.
    action = props(doc, "HttpListener")["DefaultActions"][0]["Fn::If"]
    assert action[0] == "HasCertificate"
    assert action[1]["RedirectConfig"]["Protocol"] == "HTTPS" and action[1]["RedirectConfig"]["StatusCode"] == "HTTP_301"
    assert action[2] == {"Type": "forward", "TargetGroupArn": {"Ref": "ServiceApiTargetGroup"}}
    assert doc["Outputs"]["ProductionListenerArn"]["Value"] == {"Fn::If": ["HasCertificate", {"Ref": "HttpsListener"}, {"Ref": "HttpListener"}]}
    assert doc["Parameters"]["CertificateArn"] == template("ecs-ec2-api", "dev", "security")["Parameters"]["CertificateArn"]
    assert "Distribution" not in doc["Resources"]


# ------------------------------------------------------------------ seed 002: smart-task


def _weighted(action: dict) -> list[tuple[str, int]]:
    return [(group["TargetGroupArn"]["Ref"], group["Weight"]) for group in action["ForwardConfig"]["TargetGroups"]]


def test_smart_task_path_rules_route_api_to_backend_and_the_rest_to_frontend():
    doc = edge("smart-task")
    rules = {
        _weighted(props(doc, rid)["Actions"][0])[0][0]: (props(doc, rid)["Conditions"][0]["PathPatternConfig"]["Values"], props(doc, rid)["Priority"])
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
        for rule_id, listener in ((f"Service{svc}ListenerRule", "HttpListener"), (f"Service{svc}TestListenerRule", "TestListener")):
            rule = props(doc, rule_id)
            assert rule["ListenerArn"] == {"Ref": listener}
            assert (rule["Conditions"][0]["PathPatternConfig"]["Values"], rule["Priority"]) == ([path], priority)
            assert [a["Type"] for a in rule["Actions"]] == ["forward"]
            assert _weighted(rule["Actions"][0]) == [(f"Service{svc}TargetGroup", 1), (f"Service{svc}GreenTargetGroup", 0)]
        # CloudFront reaches the ALB over HTTP (no domain): ECS moves traffic on that one production
        # rule, so the HTTPS listener (a given certificate) has no rule of a blue/green service.
        assert f"Service{svc}HttpsListenerRule" not in doc["Resources"]
    assert props(doc, "ServiceBackendGreenTargetGroup")["HealthCheckPath"] == "/api/health"
    # the catch-all is blue/green: listener defaults never pin one of its two groups
    for listener in ("HttpListener", "HttpsListener", "TestListener"):
        assert props(doc, listener)["DefaultActions"] == [{"Type": "fixed-response", "FixedResponseConfig": {"StatusCode": "404", "ContentType": "text/plain", "MessageBody": "Not found"}}]
    outputs = doc["Outputs"]
    for svc in ("Backend", "Frontend"):
        assert outputs[f"Service{svc}GreenTargetGroupArn"]["Value"] == {"Ref": f"Service{svc}GreenTargetGroup"}
        assert outputs[f"Service{svc}GreenTargetGroupFullName"]["Value"] == {"Fn::GetAtt": [f"Service{svc}GreenTargetGroup", "TargetGroupFullName"]}
        assert outputs[f"Service{svc}ProductionListenerRuleArn"]["Value"] == {"Ref": f"Service{svc}ListenerRule"}
        assert outputs[f"Service{svc}TestListenerRuleArn"]["Value"] == {"Ref": f"Service{svc}TestListenerRule"}
        # CodeDeploy's target group names are gone with CodeDeploy
        assert f"Service{svc}TargetGroupName" not in outputs and f"Service{svc}GreenTargetGroupName" not in outputs
    assert outputs["TestListenerArn"]["Value"] == {"Ref": "TestListener"}


def test_smart_task_test_listener_is_plain_http_for_the_vpc_only():
    doc = edge("smart-task", "prod")
    assert (props(doc, "TestListener")["Port"], props(doc, "TestListener")["Protocol"]) == (8080, "HTTP")
    ingress = [r["Properties"] for r in resources(doc, "AWS::EC2::SecurityGroupIngress").values() if r["Properties"]["FromPort"] == 8080]
    assert ingress == [{
        "GroupId": {"Ref": "AlbSecurityGroupId"}, "IpProtocol": "tcp", "FromPort": 8080, "ToPort": 8080,
        "CidrIp": {"Ref": "VpcCidr"}, "Description": "blue/green test listener, from inside the VPC only",
    }]
    assert doc["Parameters"]["VpcCidr"]["Type"] == "String"
    security = template("smart-task", "prod", "security")
    opened = [rule for group in resources(security, "AWS::EC2::SecurityGroup").values() for rule in group["Properties"].get("SecurityGroupIngress", []) if rule.get("FromPort") == 8080 and rule.get("CidrIp") == "0.0.0.0/0"]
    assert opened == []


def test_rolling_catch_all_still_takes_the_listener_default():
    doc = edge("ecs-ec2-api")
    assert props(doc, "HttpsListener")["DefaultActions"] == [{"Type": "forward", "TargetGroupArn": {"Ref": "ServiceApiTargetGroup"}}]
    assert "TestListener" not in doc["Resources"]


def test_smart_task_regional_waf_rate_limit_and_ip_block_list():
    doc = edge("smart-task")
    acl = props(doc, "RegionalWebAcl")
    assert acl["Scope"] == "REGIONAL"
    rules = {rule["Name"]: rule for rule in acl["Rules"]}
    rate = rules["rate-limit"]["Statement"]["RateBasedStatement"]
    assert rate["Limit"] == 2000
    # CloudFront fronts this ALB: the client is the first X-Forwarded-For address.
    assert rate["AggregateKeyType"] == "FORWARDED_IP"
    assert rules["block-ip-list"]["Statement"]["IPSetReferenceStatement"]["Arn"] == {"Fn::GetAtt": ["RegionalBlockedIpSet", "Arn"]}
    assert rules["block-ip-list"]["Action"] == {"Block": {}}
    assert props(doc, "RegionalBlockedIpSet")["Addresses"] == ["192.0.2.0/24"]
    managed = [r["Statement"]["ManagedRuleGroupStatement"]["Name"] for r in acl["Rules"] if "ManagedRuleGroupStatement" in r["Statement"]]
    assert managed == ["AWSManagedRulesCommonRuleSet", "AWSManagedRulesKnownBadInputsRuleSet", "AWSManagedRulesSQLiRuleSet"]
    association = props(doc, "LoadBalancerWebAclAssociation")
    assert association == {"ResourceArn": {"Ref": "LoadBalancer"}, "WebACLArn": {"Fn::GetAtt": ["RegionalWebAcl", "Arn"]}}
    group = props(doc, "RegionalWafLogGroup")
    assert group["LogGroupName"] == "aws-waf-logs-regional-st-dev"
    assert group["KmsKeyId"] == {"Ref": "KmsKeyArn"}
    assert group["RetentionInDays"] == 30


def test_smart_task_cloudfront_spa_default_and_api_to_the_alb():
    distribution = props(edge("smart-task"), "Distribution")["DistributionConfig"]
    assert distribution["DefaultCacheBehavior"]["TargetOriginId"] == "spa"
    assert distribution["DefaultCacheBehavior"]["CachePolicyId"] == CACHING_OPTIMIZED
    [api] = distribution["CacheBehaviors"]
    assert (api["PathPattern"], api["TargetOriginId"], api["CachePolicyId"], api["OriginRequestPolicyId"]) == ("/api/*", "alb", CACHING_DISABLED, ALL_VIEWER)
    assert {(e["ErrorCode"], e["ResponsePagePath"], e["ResponseCode"]) for e in distribution["CustomErrorResponses"]} == {(403, "/index.html", 200), (404, "/index.html", 200)}


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
    assert {(r["FromPort"], json.dumps(r["DestinationSecurityGroupId"])) for r in egress} == {(80, '{"Ref": "AlbSecurityGroupId"}'), (443, '{"Ref": "AlbSecurityGroupId"}')}
    assert doc["Outputs"]["ApiEndpoint"]["Value"] == {"Fn::GetAtt": ["HttpApi", "ApiEndpoint"]}
    assert "EdgeApiEndpoint" in template("product-management", "dev", "root")["Outputs"]


def test_product_management_regional_and_cloudfront_waf_in_us_east_1():
    doc = edge("product-management")
    assert props(doc, "RegionalWebAcl")["Scope"] == "REGIONAL"
    assert props(doc, "CloudFrontWebAcl")["Scope"] == "CLOUDFRONT"
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
    assert (oac["OriginAccessControlOriginType"], oac["SigningBehavior"], oac["SigningProtocol"]) == ("s3", "always", "sigv4")
    statements = {s["Sid"]: s for s in props(doc, "SpaBucketPolicy")["PolicyDocument"]["Statement"]}
    read = statements["CloudFrontReadsThroughOriginAccessControl"]
    assert read["Principal"] == {"Service": "cloudfront.amazonaws.com"}
    assert read["Action"] == ["s3:GetObject"]
    assert read["Condition"] == {"StringEquals": {"AWS:SourceArn": {"Fn::Sub": "arn:${AWS::Partition}:cloudfront::${AWS::AccountId}:distribution/${Distribution}"}}}
    distribution = props(doc, "Distribution")["DistributionConfig"]
    [origin] = distribution["Origins"]
    assert origin["OriginAccessControlId"] == {"Fn::GetAtt": ["SpaOriginAccessControl", "Id"]}
    assert distribution["DefaultRootObject"] == "index.html"
    assert doc["Outputs"]["SpaBucketName"]["Value"] == {"Ref": "SpaBucket"}


# ------------------------------------------------------------------ seed 003: mycandidate


def test_mycandidate_cloudfront_has_alb_and_s3_origins():
    doc = edge("mycandidate")
    assert props(doc, "ServiceWebTargetGroup")["HealthCheckPath"] == "/"
    assert props(doc, "ServiceWebTargetGroup")["Port"] == 5000
    distribution = props(doc, "Distribution")["DistributionConfig"]
    assert sorted(o["Id"] for o in distribution["Origins"]) == ["alb", "spa"]
    # alb is listed first: the Flask app takes the default, static files come from the bucket.
    assert distribution["DefaultCacheBehavior"]["TargetOriginId"] == "alb"
    assert distribution["DefaultCacheBehavior"]["CachePolicyId"] == CACHING_DISABLED
    [static] = distribution["CacheBehaviors"]
    assert (static["PathPattern"], static["TargetOriginId"], static["CachePolicyId"]) == ("/static/*", "spa", CACHING_OPTIMIZED)
    assert "CustomErrorResponses" not in distribution


# ------------------------------------------------------------------ every profile


def rendered_manifest(app: str, env: str = "dev") -> dict:
    return rendered(app, env).manifest


@pytest.mark.parametrize(("app", "env"), ALL_TARGETS)
def test_outputs_the_compute_layer_consumes(app, env):
    cfg = load_config(app, env, REPO_PARAMS)
    outputs = edge(app, env)["Outputs"]
    expected = {"LoadBalancerArn", "LoadBalancerFullName", "LoadBalancerDnsName", "HttpListenerArn", "ProductionListenerArn"}
    for name, svc in cfg.services.items():
        title = "Service" + "".join(part.capitalize() for part in name.split("-"))
        expected |= {f"{title}TargetGroupArn", f"{title}TargetGroupFullName"}
        if svc.deployment == "blue_green":
            expected |= {f"{title}GreenTargetGroupArn", f"{title}GreenTargetGroupFullName", f"{title}ProductionListenerRuleArn", f"{title}TestListenerRuleArn", "TestListenerArn"}
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
    assert root["Resources"]["EdgeStack"]["Properties"]["Parameters"]["CloudFrontWebAclArn"] == {"Ref": "CloudFrontWebAclArn"}
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
    assert (alb_origin["DomainName"], alb_origin["CustomOriginConfig"]["OriginProtocolPolicy"]) == ("origin.catalog.example.com", "https-only")
    records = {(r["Name"], r["Type"]) for r in props(edge_doc, "DnsRecords")["RecordSets"]}
    assert records == {("catalog.example.com", "A"), ("catalog.example.com", "AAAA"), ("origin.catalog.example.com", "A")}
    global_doc = json.loads(result.files["global.json"])
    assert props(global_doc, "CloudFrontCertificate")["DomainName"] == "catalog.example.com"
    folder = write_profile(result, tmp_path)
    findings = [f for f in lint_directory(linter, folder) if f.level in ("error", "warning")]
    assert findings == [], "\n".join(map(str, findings))


def test_profiles_without_domain_have_no_certificates_or_records():
    for app, env in ALL_TARGETS:
        doc = edge(app, env)
        assert not resources(doc, "AWS::CertificateManager::Certificate")
        assert not resources(doc, "AWS::Route53::RecordSetGroup")

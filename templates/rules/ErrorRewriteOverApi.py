"""E9015: a CloudFront distribution does not rewrite errors distribution-wide over a non-S3 origin.

`CustomErrorResponses` apply to every behaviour of the distribution (CloudFront developer guide,
"Generating custom error responses": the settings are per distribution and error code). A SPA
fallback (403/404 -> /index.html, 200) therefore also turns an API's 403/404 from a load balancer
or API Gateway origin into an HTML page with status 200. Keep the fallback on the S3 behaviour (a
CloudFront Function on it) when any behaviour targets a non-S3 origin.
"""

from __future__ import annotations

from cfnlint.rules import CloudFormationLintRule, RuleMatch

from templates.rules._policy import branches, items, properties, source_url, target


def _is_s3_origin(origin: dict, template: dict) -> bool:
    if "S3OriginConfig" in origin:
        return True
    domain = origin.get("DomainName")
    referenced = target(domain)
    if referenced and ((template.get("Resources") or {}).get(referenced) or {}).get("Type") == "AWS::S3::Bucket":
        return True
    return (
        isinstance(domain, str) and ".s3." in domain and domain.endswith("amazonaws.com") and "s3-website" not in domain
    )


class ErrorRewriteOverApi(CloudFormationLintRule):
    id = "E9015"
    shortdesc = "No distribution-wide error rewrites over non-S3 origins"
    description = (
        "An AWS::CloudFront::Distribution with CustomErrorResponses that set a ResponsePagePath or "
        "ResponseCode 200 while a "
        "cache behaviour targets an origin that is not S3: the API's errors come back as the page, often as 200."
    )
    source_url = source_url("E9015")
    tags = ["cfn-strata", "resources", "cloudfront", "preflight"]

    def match(self, cfn):
        matches = []
        for name, distribution in sorted(cfn.get_resources(["AWS::CloudFront::Distribution"]).items()):
            for config in branches(properties(distribution).get("DistributionConfig")):
                if not isinstance(config, dict):
                    continue
                rewrites = [
                    (i, e)
                    for i, e in items(config.get("CustomErrorResponses"))
                    if isinstance(e, dict) and ("ResponsePagePath" in e or str(e.get("ResponseCode")) == "200")
                ]
                if not rewrites:
                    continue
                origins = {o.get("Id"): o for _, o in items(config.get("Origins")) if isinstance(o, dict)}
                behaviours = [b for b in branches(config.get("DefaultCacheBehavior")) if isinstance(b, dict)]
                behaviours += [b for _, b in items(config.get("CacheBehaviors")) if isinstance(b, dict)]
                api_origins = sorted(
                    {
                        str(b.get("TargetOriginId"))
                        for b in behaviours
                        if b.get("TargetOriginId") in origins
                        and not _is_s3_origin(origins[b["TargetOriginId"]], cfn.template)
                    }
                )
                if api_origins:
                    codes = ", ".join(str(e.get("ErrorCode")) for _, e in rewrites)
                    matches.append(
                        RuleMatch(
                            ["Resources", name, "Properties", "DistributionConfig", "CustomErrorResponses"],
                            f"{name} (AWS::CloudFront::Distribution) rewrites errors {codes} for the whole "
                            "distribution while behaviours "
                            f"target the non-S3 origin(s) {', '.join(api_origins)}: their errors come back "
                            "as the error page; "
                            "keep the fallback on the S3 behaviour (a CloudFront Function)",
                        )
                    )
        return matches

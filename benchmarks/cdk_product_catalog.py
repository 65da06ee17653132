"""The product-catalog architecture (seed 004) as an AWS CDK app, for the side-by-side benchmark:
VPC with the seed's CIDRs, Fargate Spot service behind an ALB, Aurora PostgreSQL writer + reader,
CloudFront in front of the ALB. Run: python benchmarks/cdk_product_catalog.py OUTDIR

Needs the optional `bench` extra (aws-cdk-lib, constructs) and Node.js (the CDK runs on jsii).
"""

from __future__ import annotations

import sys

import aws_cdk as cdk
from aws_cdk import aws_cloudfront as cloudfront
from aws_cdk import aws_cloudfront_origins as origins
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_ecs as ecs
from aws_cdk import aws_ecs_patterns as patterns
from aws_cdk import aws_logs as logs
from aws_cdk import aws_rds as rds


class ProductCatalog(cdk.Stack):
    def __init__(self, scope, construct_id: str, suffix: str, **kwargs):
        super().__init__(scope, construct_id, **kwargs)
        vpc = ec2.Vpc(
            self,
            "Vpc",
            ip_addresses=ec2.IpAddresses.cidr("10.0.0.0/16"),
            max_azs=2,
            nat_gateways=1,
            subnet_configuration=[
                ec2.SubnetConfiguration(name="public", subnet_type=ec2.SubnetType.PUBLIC, cidr_mask=24),
                ec2.SubnetConfiguration(name="private", subnet_type=ec2.SubnetType.PRIVATE_WITH_EGRESS, cidr_mask=24),
            ],
        )
        cluster = ecs.Cluster(
            self, "Cluster", vpc=vpc, cluster_name=f"ecs-cluster-{suffix}", enable_fargate_capacity_providers=True
        )
        service = patterns.ApplicationLoadBalancedFargateService(
            self,
            "Api",
            cluster=cluster,
            cpu=1024,
            memory_limit_mib=2048,
            desired_count=2,
            task_image_options=patterns.ApplicationLoadBalancedTaskImageOptions(
                image=ecs.ContainerImage.from_registry("public.ecr.aws/docker/library/node:20-alpine"),
                container_port=3000,
                log_driver=ecs.LogDrivers.aws_logs(stream_prefix="api", log_retention=logs.RetentionDays.ONE_WEEK),
            ),
            capacity_provider_strategies=[ecs.CapacityProviderStrategy(capacity_provider="FARGATE_SPOT", weight=1)],
            public_load_balancer=True,
            load_balancer_name=f"alb-{suffix}",
        )
        service.target_group.configure_health_check(
            path="/health", interval=cdk.Duration.seconds(30), unhealthy_threshold_count=2
        )
        scaling = service.service.auto_scale_task_count(min_capacity=2, max_capacity=10)
        scaling.scale_on_cpu_utilization("Cpu", target_utilization_percent=70)
        rds.DatabaseCluster(
            self,
            "Aurora",
            engine=rds.DatabaseClusterEngine.aurora_postgres(version=rds.AuroraPostgresEngineVersion.VER_16_4),
            writer=rds.ClusterInstance.provisioned("writer", instance_type=ec2.InstanceType("t3.medium")),
            readers=[rds.ClusterInstance.provisioned("reader", instance_type=ec2.InstanceType("t3.medium"))],
            vpc=vpc,
            storage_encrypted=True,
            cluster_identifier=f"rds-cluster-{suffix}",
        )
        cloudfront.Distribution(
            self,
            "Cdn",
            default_behavior=cloudfront.BehaviorOptions(
                origin=origins.LoadBalancerV2Origin(
                    service.load_balancer, protocol_policy=cloudfront.OriginProtocolPolicy.HTTP_ONLY
                ),
                cache_policy=cloudfront.CachePolicy.CACHING_OPTIMIZED,
            ),
        )


def main() -> None:
    app = cdk.App(outdir=sys.argv[1] if len(sys.argv) > 1 else "cdk.out")
    for env, suffix in (("dev", "pr5706"), ("prod", "catalog-prod")):
        ProductCatalog(app, f"product-catalog-{env}", suffix, env=cdk.Environment(region="eu-north-1"))
    app.synth()


if __name__ == "__main__":
    main()

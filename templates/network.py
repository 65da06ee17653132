"""network layer: VPC, public/private/isolated subnets over the profile's AZs, internet gateway,
NAT (none / single / per AZ), route tables, S3 gateway endpoint, interface endpoints, flow logs.
"""

from __future__ import annotations

from dataclasses import dataclass

from awacs import kms as awacs_kms
from awacs import logs as awacs_logs
from awacs.aws import Allow, Condition, PolicyDocument, Principal, Statement, StringLike
from troposphere import GetAtt, GetAZs, Join, Ref, Region, Select, Sub, ec2, iam, kms

from templates.common import Layer, LayerBuilder, logical_id, trust_policy
from templates.config import AppConfig

# ------------------------------------------------------------------ network ACLs
#
# Network ACLs are stateless: every allowed connection needs its request rule one way and its
# response rule (to the client's ephemeral port) the other way. Sources: VPC User Guide, "Control
# subnet traffic with network access control lists", "Network ACL rules" and "Ephemeral ports":
# NAT gateways, Elastic Load Balancing and Lambda use 1024-65535, Linux 32768-60999, so
# 1024-65535 is what the guide recommends opening for responses. A custom ACL ends with an
# implicit deny; traffic to the Amazon DNS server, the instance metadata service and Amazon Time
# Sync is not filtered by ACLs (same guide, "Network ACL basics"), so it needs no rule here.
# Quota: 20 rules per direction per ACL (VPC User Guide, "Amazon VPC quotas", adjustable to 40).
EPHEMERAL = (1024, 65535)
ANYWHERE = "0.0.0.0/0"
NACL_RULE_QUOTA = 20
EFS_NFS_PORT = 2049
TCP = 6


@dataclass(frozen=True)
class AclRule:
    egress: bool
    cidr: str
    ports: tuple[int, int]
    why: str


def _acl_ports(cfg: AppConfig) -> dict[str, list[int]]:
    """The ports of the architecture, by what listens on them."""
    from templates.edge import TEST_LISTENER_PORT
    from templates.security import CACHE_PORT

    services = sorted({svc.port for svc in cfg.services.values()})
    data = ([cfg.database.port] if cfg.database else []) + ([CACHE_PORT] if cfg.cache else [])
    return {
        # 80 always; the HTTPS listener exists whenever a certificate is given at deploy time.
        "listeners": sorted({80, cfg.edge.alb.https_port}),
        "services": services,
        "data": data,
        "efs": [EFS_NFS_PORT] if cfg.efs else [],
        "test": [TEST_LISTENER_PORT] if any(svc.deployment == "blue_green" for svc in cfg.services.values()) else [],
    }


def nacl_rules(cfg: AppConfig) -> dict[str, list[AclRule]]:
    """The allow rules of each tier's ACL, in rule-number order. Where the data stores live (the
    isolated subnets when there are any, else the private ones) decides which tier takes their
    ports. The flows: internet -> load balancer (public); load balancer -> services (private);
    services -> the internet over HTTPS through NAT (and the S3 gateway endpoint); services ->
    interface endpoints (private, 443); services and RDS Proxy -> database and cache (data tier);
    services -> EFS mount targets (private); API Gateway's VPC link (private) -> load balancer."""
    net, ports = cfg.network, _acl_ports(cfg)
    vpc = net.vpc_cidr
    public, private, isolated = net.public_subnets, net.private_subnets, net.isolated_subnets
    data = isolated or private
    vpc_link = cfg.edge.api_gateway.enabled and cfg.edge.api_gateway.integration == "vpc_link"

    def each(egress: bool, cidrs: list[str], port_list: list[int], why: str) -> list[AclRule]:
        return [AclRule(egress, cidr, (port, port), why) for port in port_list for cidr in cidrs]

    rules: dict[str, list[AclRule]] = {}
    rules["public"] = [
        *each(
            False,
            [ANYWHERE],
            ports["listeners"],
            "viewers and CloudFront to the load balancer; HTTPS through the NAT gateways",
        ),
        AclRule(
            False, ANYWHERE, EPHEMERAL, "responses to the NAT gateways, the load balancer and the container instances"
        ),
        *each(False, [vpc], ports["test"], "the blue/green test listener, from the VPC only"),
        AclRule(
            True, ANYWHERE, EPHEMERAL, "responses to viewers; NAT gateways returning responses to the private subnets"
        ),
        AclRule(
            True,
            ANYWHERE,
            (443, 443),
            "HTTPS out: NAT gateways forwarding the private subnets, container instances, Cognito for "
            "the load balancer",
        ),
        *each(True, private, ports["services"], "load balancer to the services' ports (requests and health checks)"),
    ]
    rules["private"] = [
        *each(False, public, ports["services"], "load balancer to the services' ports"),
        AclRule(
            False,
            ANYWHERE,
            EPHEMERAL,
            "responses from the internet through NAT, from the S3 gateway endpoint and the data stores",
        ),
        *([AclRule(False, vpc, (443, 443), "the VPC to the interface endpoints")] if net.interface_endpoints else []),
        *(
            each(False, private, ports["data"], "services and RDS Proxy to the database and the cache")
            if not isolated
            else []
        ),
        *each(False, private, ports["efs"], "services to the EFS mount targets"),
        AclRule(True, vpc, EPHEMERAL, "responses to the load balancer and to clients in the VPC"),
        AclRule(
            True,
            ANYWHERE,
            (443, 443),
            "HTTPS to AWS APIs through NAT, the S3 gateway endpoint and the interface endpoints",
        ),
        *each(True, data, ports["data"], "services and RDS Proxy to the database and the cache"),
        *each(True, private, ports["efs"], "services to the EFS mount targets"),
        *(each(True, public, [80], "API Gateway's VPC link to the load balancer") if vpc_link else []),
        *each(True, public, ports["test"], "the blue/green test listener"),
    ]
    if isolated:
        rules["isolated"] = [
            *each(
                False,
                private + isolated,
                ports["data"],
                "services and RDS Proxy to the database and the cache; replication inside the tier",
            ),
            AclRule(False, vpc, EPHEMERAL, "responses from the interface endpoints"),
            AclRule(True, vpc, EPHEMERAL, "responses to the services and RDS Proxy"),
            *each(True, isolated, ports["data"], "RDS Proxy to the database; replication inside the tier"),
            *(
                [AclRule(True, vpc, (443, 443), "RDS Proxy to the Secrets Manager interface endpoint")]
                if net.interface_endpoints
                else []
            ),
        ]
    return rules


def _network_acls(b: LayerBuilder, vpc, tiers: dict[str, list]) -> None:
    """One ACL per tier, its rules numbered 100, 110, ... per direction, associated with the
    tier's subnets (which then leave the VPC's default ACL)."""
    for tier, rules in nacl_rules(b.cfg).items():
        acl = b.add(ec2.NetworkAcl(logical_id(tier, "NetworkAcl"), VpcId=Ref(vpc), Tags=b.tags("nacl", tier)))
        for egress in (False, True):
            for index, rule in enumerate(r for r in rules if r.egress == egress):
                number = 100 + 10 * index
                b.add(
                    ec2.NetworkAclEntry(
                        logical_id(tier, "NetworkAcl", "egress" if egress else "ingress", str(number)),
                        NetworkAclId=Ref(acl),
                        RuleNumber=number,
                        Protocol=TCP,
                        RuleAction="allow",
                        Egress=egress,
                        CidrBlock=rule.cidr,
                        PortRange=ec2.PortRange(From=rule.ports[0], To=rule.ports[1]),
                    )
                )
        for subnet in tiers[tier]:
            b.add(
                ec2.SubnetNetworkAclAssociation(
                    f"{subnet.title}NetworkAclAssociation", SubnetId=Ref(subnet), NetworkAclId=Ref(acl)
                )
            )


def _zone(cfg: AppConfig, index: int):
    zones = cfg.network.availability_zones
    return zones[index] if zones else Select(index, GetAZs(Region))


def _subnets(b: LayerBuilder, vpc, kind: str, cidrs: list[str]) -> list[ec2.Subnet]:
    subnets = []
    for index, cidr in enumerate(cidrs):
        title = f"{kind.capitalize()}Subnet{index + 1}"
        subnets.append(
            b.add(
                ec2.Subnet(
                    title,
                    VpcId=Ref(vpc),
                    CidrBlock=cidr,
                    AvailabilityZone=_zone(b.cfg, index),
                    # Public IPs are given explicitly (NAT EIPs, launch templates), never by default.
                    MapPublicIpOnLaunch=False,
                    Tags=b.tags(f"subnet-{kind}-{index + 1}"),
                )
            )
        )
    return subnets


def _route_table(b: LayerBuilder, vpc, title: str, name: str, subnets: list) -> ec2.RouteTable:
    table = b.add(ec2.RouteTable(title, VpcId=Ref(vpc), Tags=b.tags(name)))
    for subnet in subnets:
        b.add(
            ec2.SubnetRouteTableAssociation(
                f"{subnet.title}RouteTableAssociation", SubnetId=Ref(subnet), RouteTableId=Ref(table)
            )
        )
    return table


def _nat_gateways(b: LayerBuilder, public: list, attachment) -> list[ec2.NatGateway]:
    """none: []; single: one in the first public subnet; per_az: one per public subnet."""
    mode = b.cfg.network.nat_gateways
    count = {"none": 0, "single": 1, "per_az": len(public)}[mode]
    gateways = []
    for index in range(count):
        eip = b.add(
            ec2.EIP(f"NatEip{index + 1}", Domain="vpc", DependsOn=attachment.title, Tags=b.tags(f"eip-nat-{index + 1}"))
        )
        gateways.append(
            b.add(
                ec2.NatGateway(
                    f"NatGateway{index + 1}",
                    AllocationId=GetAtt(eip, "AllocationId"),
                    SubnetId=Ref(public[index]),
                    Tags=b.tags(f"nat-{index + 1}"),
                )
            )
        )
    return gateways


def _flow_logs(b: LayerBuilder, vpc) -> None:
    settings = b.cfg.network.flow_logs
    if not settings.enabled:
        return
    # The application key lives in the security layer, which needs this layer's VPC first; the
    # flow logs get a key of their own so the log group is still encrypted with a CMK.
    key = b.add(
        kms.Key(
            "FlowLogsKey",
            Description=f"Encrypts the VPC flow logs of {b.cfg.application} {b.cfg.environment.name}",
            EnableKeyRotation=True,
            KeyPolicy=PolicyDocument(
                Version="2012-10-17",
                Statement=[
                    Statement(
                        Sid="AccountAdministers",
                        Effect=Allow,
                        Principal=Principal("AWS", Sub("arn:${AWS::Partition}:iam::${AWS::AccountId}:root")),
                        Action=[awacs_kms.Action("*")],
                        Resource=["*"],
                    ),
                    Statement(
                        Sid="CloudWatchLogsUsesKey",
                        Effect=Allow,
                        Principal=Principal("Service", Sub("logs.${AWS::Region}.amazonaws.com")),
                        Action=[
                            awacs_kms.Action("Encrypt"),
                            awacs_kms.Action("Decrypt"),
                            awacs_kms.Action("ReEncrypt*"),
                            awacs_kms.Action("GenerateDataKey*"),
                            awacs_kms.Action("DescribeKey"),
                        ],
                        Resource=["*"],
                        Condition=Condition(
                            StringLike(
                                "kms:EncryptionContext:aws:logs:arn",
                                Sub(
                                    "arn:${AWS::Partition}:logs:${AWS::Region}:${AWS::AccountId}:log-group:/vpc/flow-logs/"
                                    + b.named("vpc")
                                    + "*"
                                ),
                            )
                        ),
                    ),
                ],
            ),
            Tags=b.tags("kms-flow-logs"),
        )
    )
    group = b.log_group(
        "FlowLogsLogGroup",
        f"/vpc/flow-logs/{b.named('vpc')}",
        GetAtt(key, "Arn"),
        b.tags("log-flow-logs"),
        retention_days=settings.retention_days,
    )
    role = b.add(
        iam.Role(
            "FlowLogsRole",
            AssumeRolePolicyDocument=trust_policy("vpc-flow-logs.amazonaws.com"),
            Policies=[
                iam.Policy(
                    PolicyName="write-flow-logs",
                    PolicyDocument=PolicyDocument(
                        Version="2012-10-17",
                        Statement=[
                            Statement(
                                Effect=Allow,
                                Action=[
                                    awacs_logs.CreateLogStream,
                                    awacs_logs.PutLogEvents,
                                    awacs_logs.DescribeLogStreams,
                                ],
                                Resource=[GetAtt(group, "Arn"), Join("", [GetAtt(group, "Arn"), ":*"])],
                            )
                        ],
                    ),
                )
            ],
            Tags=b.tags("role-flow-logs"),
        )
    )
    b.add(
        ec2.FlowLog(
            "VpcFlowLog",
            ResourceId=Ref(vpc),
            ResourceType="VPC",
            TrafficType=settings.traffic_type,
            LogDestinationType="cloud-watch-logs",
            LogGroupName=Ref(group),
            DeliverLogsPermissionArn=GetAtt(role, "Arn"),
            Tags=b.tags("flow-log"),
        )
    )


def _endpoints(b: LayerBuilder, vpc, private: list, route_tables: list) -> None:
    net = b.cfg.network
    if net.s3_gateway_endpoint and route_tables:
        b.add(
            ec2.VPCEndpoint(
                "S3GatewayEndpoint",
                VpcId=Ref(vpc),
                ServiceName=Sub("com.amazonaws.${AWS::Region}.s3"),
                VpcEndpointType="Gateway",
                RouteTableIds=[Ref(t) for t in route_tables],
                Tags=b.tags("vpce-s3"),
            )
        )
    if not net.interface_endpoints:
        return
    group = b.add(
        ec2.SecurityGroup(
            "EndpointSecurityGroup",
            GroupDescription="Interface endpoints: HTTPS from inside the VPC only",
            VpcId=Ref(vpc),
            SecurityGroupIngress=[
                ec2.SecurityGroupRule(
                    IpProtocol="tcp", FromPort=443, ToPort=443, CidrIp=net.vpc_cidr, Description="HTTPS from the VPC"
                )
            ],
            SecurityGroupEgress=[
                ec2.SecurityGroupRule(IpProtocol="-1", CidrIp="127.0.0.1/32", Description="No egress")
            ],
            Tags=b.tags("sg-endpoints"),
        )
    )
    for service in sorted(net.interface_endpoints):
        title = "".join(part.capitalize() for part in service.split(".")) + "Endpoint"
        b.add(
            ec2.VPCEndpoint(
                title,
                VpcId=Ref(vpc),
                ServiceName=Sub(f"com.amazonaws.${{AWS::Region}}.{service}"),
                VpcEndpointType="Interface",
                PrivateDnsEnabled=True,
                SubnetIds=[Ref(s) for s in private],
                SecurityGroupIds=[Ref(group)],
                Tags=b.tags(f"vpce-{service.replace('.', '-')}"),
            )
        )


def build(cfg: AppConfig) -> Layer:
    b = LayerBuilder(cfg, "network", "VPC, subnets, NAT, route tables, endpoints and flow logs")
    b.permissions_boundary()  # before any role of any layer: every role carries it
    net = cfg.network
    vpc = b.add(
        ec2.VPC("Vpc", CidrBlock=net.vpc_cidr, EnableDnsSupport=True, EnableDnsHostnames=True, Tags=b.tags("vpc"))
    )
    igw = b.add(ec2.InternetGateway("InternetGateway", Tags=b.tags("igw")))
    attachment = b.add(
        ec2.VPCGatewayAttachment("InternetGatewayAttachment", VpcId=Ref(vpc), InternetGatewayId=Ref(igw))
    )

    public = _subnets(b, vpc, "public", net.public_subnets)
    private = _subnets(b, vpc, "private", net.private_subnets)
    isolated = _subnets(b, vpc, "isolated", net.isolated_subnets)

    public_table = _route_table(b, vpc, "PublicRouteTable", "rtb-public", public)
    b.add(
        ec2.Route(
            "PublicDefaultRoute",
            RouteTableId=Ref(public_table),
            DestinationCidrBlock="0.0.0.0/0",
            GatewayId=Ref(igw),
            DependsOn=attachment.title,
        )
    )

    nats = _nat_gateways(b, public, attachment)
    private_tables = []
    for index, subnet in enumerate(private):
        table = _route_table(b, vpc, f"PrivateRouteTable{index + 1}", f"rtb-private-{index + 1}", [subnet])
        private_tables.append(table)
        if nats:
            nat = nats[index] if len(nats) > 1 else nats[0]
            b.add(
                ec2.Route(
                    f"PrivateDefaultRoute{index + 1}",
                    RouteTableId=Ref(table),
                    DestinationCidrBlock="0.0.0.0/0",
                    NatGatewayId=Ref(nat),
                )
            )
    isolated_tables = [_route_table(b, vpc, "IsolatedRouteTable", "rtb-isolated", isolated)] if isolated else []

    _endpoints(b, vpc, private, private_tables + isolated_tables)
    if net.nacls:
        _network_acls(b, vpc, {"public": public, "private": private, "isolated": isolated})
    _flow_logs(b, vpc)

    b.output("VpcId", Ref(vpc), "The VPC", root=True)
    b.output("VpcCidr", GetAtt(vpc, "CidrBlock"), "The VPC's CIDR block")
    b.output("PublicSubnetIds", Join(",", [Ref(s) for s in public]), "Public subnets, comma-separated, one per AZ")
    b.output("PrivateSubnetIds", Join(",", [Ref(s) for s in private]), "Private subnets, comma-separated, one per AZ")
    if isolated:
        b.output(
            "IsolatedSubnetIds", Join(",", [Ref(s) for s in isolated]), "Isolated subnets, comma-separated, one per AZ"
        )
    b.output(
        "DataSubnetIds",
        Join(",", [Ref(s) for s in (isolated or private)]),
        "Subnets for data stores: isolated when present, else private",
    )
    return b.build()

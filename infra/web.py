"""The web tier: one EC2 instance in a public subnet running the FastAPI app on port 80."""

from __future__ import annotations

from collections.abc import Mapping

from aws_cdk import aws_ec2 as ec2
from constructs import Construct

from infra.hosts import HostProps, host_role
from infra.nag import acknowledge
from infra.user_data import render_bootstrap

HTTP_PORT = 80


class WebTier(Construct):
    """One instance, one process, one reply queue (the reply consumer must be alone on it).

    Plain HTTP on port 80 to keep the demo free of a domain and certificate; production would put
    an ALB with an ACM certificate (HTTPS) in front and close port 80 to the world.
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        host: HostProps,
        service_env: Mapping[str, str],
        ssh_cidr: str | None = None,
    ) -> None:
        super().__init__(scope, construct_id)
        self.role = host_role(self, host, description="Elastic Vision web tier instance")
        self.security_group = ec2.SecurityGroup(
            self, "SecurityGroup", vpc=host.vpc, description="Elastic Vision web tier: HTTP in"
        )
        self.security_group.add_ingress_rule(
            ec2.Peer.any_ipv4(), ec2.Port.tcp(HTTP_PORT), "HTTP from anywhere"
        )
        if ssh_cidr is not None:
            self.security_group.add_ingress_rule(
                ec2.Peer.ipv4(ssh_cidr), ec2.Port.tcp(22), "SSH (context sshCidr)"
            )
        self.user_data = ec2.UserData.custom(
            render_bootstrap(
                role="web", bundle_url=host.bundle.url, service_env=service_env, web_port=HTTP_PORT
            )
        )
        self.instance = ec2.Instance(
            self,
            "Instance",
            vpc=host.vpc,
            vpc_subnets=host.subnets,
            instance_type=ec2.InstanceType(host.instance_type),
            machine_image=host.machine_image,
            role=self.role,
            security_group=self.security_group,
            user_data=self.user_data,
            # A changed bootstrap (new bundle) gives a fresh instance rather than a stale one.
            user_data_causes_replacement=True,
            require_imdsv2=True,
            block_devices=[host.root_volume],
        )
        acknowledge(
            self.instance,
            "AwsSolutions-EC28",
            "One demo web instance: basic (5-minute) EC2 monitoring is enough; the dashboard shows "
            "the service's own metrics per minute. Detailed monitoring would be a standing cost.",
        )
        acknowledge(
            self.instance,
            "AwsSolutions-EC29",
            "The web instance is stateless and is replaced on purpose when its bootstrap changes; "
            "termination protection would block that update.",
        )
        acknowledge(
            self.security_group,
            "AwsSolutions-EC23",
            "The web tier is the public entry point of the service: port 80 must be reachable from the "
            "internet. SSH stays closed unless the sshCidr context opens it to one network.",
        )

    @property
    def url(self) -> str:
        return f"http://{self.instance.instance_public_dns_name}"

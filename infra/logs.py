"""Where the instances' logs go: one CloudWatch Logs group per role (bootstrap, web, worker).

The instances run the CloudWatch agent (Amazon Linux's `amazon-cloudwatch-agent` package, set up
by the bootstrap): it ships the service's log file (JSON lines, `EVISION_LOG_FORMAT=json`) and
cloud-init's output (the bootstrap), one stream per instance. The groups keep their logs for
`retention_days`; a dev stack deletes them with itself, a prod stack keeps them.
"""

from __future__ import annotations

from aws_cdk import RemovalPolicy, Stack
from aws_cdk import aws_iam as iam
from aws_cdk import aws_logs as logs
from constructs import Construct

from infra.nag import acknowledge

ROLES = ("bootstrap", "web", "worker")


class LogGroups(Construct):
    def __init__(self, scope: Construct, construct_id: str, *, retention_days: int, retain: bool) -> None:
        super().__init__(scope, construct_id)
        self.groups: dict[str, logs.LogGroup] = {}
        for role in ROLES:
            group = logs.LogGroup(
                self,
                role.capitalize(),
                removal_policy=RemovalPolicy.RETAIN if retain else RemovalPolicy.DESTROY,
            )
            # In days, as CloudFormation takes it (CDK's enum names the values instead).
            cfn = group.node.default_child
            assert isinstance(cfn, logs.CfnLogGroup)
            cfn.retention_in_days = retention_days
            self.groups[role] = group

    def name(self, role: str) -> str:
        return self.groups[role].log_group_name

    def grant_shipping(self, grantee: iam.IGrantable, *roles: str) -> None:
        """What the agent calls to ship into these groups (its own streams in existing groups)."""
        arns = [self.groups[role].log_group_arn for role in roles]
        grantee.grant_principal.add_to_principal_policy(
            iam.PolicyStatement(
                actions=["logs:CreateLogStream", "logs:PutLogEvents", "logs:DescribeLogStreams"],
                resources=[*arns, *(f"{arn}:log-stream:*" for arn in arns)],
            )
        )
        stack = Stack.of(self)
        for role in roles:
            cfn = self.groups[role].node.default_child
            assert isinstance(cfn, logs.CfnLogGroup)
            logical_id = stack.resolve(stack.get_logical_id(cfn))
            if isinstance(grantee, Construct):
                acknowledge(
                    grantee,
                    f"AwsSolutions-IAM5[Resource::<{logical_id}.Arn>:log-stream:*]",
                    f"An instance writes its own stream (named by its instance id) into the {role} log "
                    "group; stream names are made at run time, so only that part is a wildcard.",
                )

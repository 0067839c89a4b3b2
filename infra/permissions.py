"""Least-privilege building blocks for the instance roles.

Explicit statements rather than `bucket.grant_read()` / `grant_put()`: those add wildcard actions
(`s3:GetObject*`, `s3:List*`, `s3:Abort*`, ...) the services never call. Queue grants are exact
already (`grant_consume_messages`, `grant_send_messages`) and are used as they are.
"""

from __future__ import annotations

from aws_cdk import ArnFormat, Aws, CfnResource, Stack
from aws_cdk import aws_iam as iam
from aws_cdk import aws_s3 as s3
from constructs import Construct

from infra.nag import acknowledge
from services import metric_names

SSM_CORE = "AmazonSSMManagedInstanceCore"


def instance_role(scope: Construct, construct_id: str, *, description: str) -> iam.Role:
    """An EC2 instance role that Session Manager can reach (instead of SSH)."""
    role = iam.Role(
        scope,
        construct_id,
        assumed_by=iam.ServicePrincipal("ec2.amazonaws.com"),
        description=description,
        managed_policies=[iam.ManagedPolicy.from_aws_managed_policy_name(SSM_CORE)],
    )
    acknowledge(
        role,
        f"AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/{SSM_CORE}]",
        "The AWS-maintained Session Manager policy is the supported way to give shell access "
        "without SSH keys or an open port; AWS keeps its actions current.",
    )
    return role


def _objects_evidence(bucket: s3.IBucket) -> str:
    """How cdk-nag names `bucket.arn_for_objects("*")` in an IAM5 finding."""
    resource = bucket.node.default_child
    if not isinstance(resource, CfnResource):
        raise TypeError(f"{bucket.node.path} is not a bucket defined in this app")
    stack = Stack.of(bucket)
    return f"AwsSolutions-IAM5[Resource::<{stack.resolve(stack.get_logical_id(resource))}.Arn>/*]"


def allow_get_objects(grantee: iam.IGrantable, bucket: s3.IBucket) -> None:
    """GetObject (and HeadObject) on the bucket's objects.

    ListBucket too, so that a missing key answers 404 NoSuchKey instead of 403 AccessDenied:
    the services tell "not there (yet)" from a real failure by it.
    """
    principal = grantee.grant_principal
    principal.add_to_principal_policy(
        iam.PolicyStatement(actions=["s3:GetObject"], resources=[bucket.arn_for_objects("*")])
    )
    principal.add_to_principal_policy(
        iam.PolicyStatement(actions=["s3:ListBucket"], resources=[bucket.bucket_arn])
    )
    _acknowledge_objects(grantee, bucket)


def _acknowledge_objects(grantee: iam.IGrantable, bucket: s3.IBucket) -> None:
    if isinstance(grantee, Construct):
        acknowledge(
            grantee,
            _objects_evidence(bucket),
            "Object keys are request ids generated at run time, so object access is granted on the "
            "bucket's objects (bucket/*), never on other buckets.",
        )


def allow_put_objects(grantee: iam.IGrantable, bucket: s3.IBucket) -> None:
    grantee.grant_principal.add_to_principal_policy(
        iam.PolicyStatement(actions=["s3:PutObject"], resources=[bucket.arn_for_objects("*")])
    )
    _acknowledge_objects(grantee, bucket)


def _bucket_arn(name: str) -> str:
    return f"arn:{Aws.PARTITION}:s3:::{name}"


def _acknowledge_named(grantee: iam.IGrantable, name: str) -> None:
    if isinstance(grantee, Construct):
        acknowledge(
            grantee,
            f"AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:s3:::{name}/*]",
            "A bucket the deployment's owner named for batch jobs (context jobSourceBuckets or "
            "jobOutputBuckets): a job reads or writes any key under the prefix it is given.",
        )


def allow_list_named_bucket(grantee: iam.IGrantable, name: str) -> None:
    """ListBucket on a bucket outside the stack (a batch job's source: planning lists it)."""
    grantee.grant_principal.add_to_principal_policy(
        iam.PolicyStatement(actions=["s3:ListBucket"], resources=[_bucket_arn(name)])
    )


def allow_get_named_objects(grantee: iam.IGrantable, name: str) -> None:
    """GetObject on a bucket outside the stack (a batch job's images), and ListBucket so that a
    key gone since planning answers 404 NoSuchKey rather than 403."""
    grantee.grant_principal.add_to_principal_policy(
        iam.PolicyStatement(actions=["s3:GetObject"], resources=[f"{_bucket_arn(name)}/*"])
    )
    allow_list_named_bucket(grantee, name)
    _acknowledge_named(grantee, name)


def allow_put_named_objects(grantee: iam.IGrantable, name: str) -> None:
    """PutObject on a bucket outside the stack (a batch job's output location)."""
    grantee.grant_principal.add_to_principal_policy(
        iam.PolicyStatement(actions=["s3:PutObject"], resources=[f"{_bucket_arn(name)}/*"])
    )
    _acknowledge_named(grantee, name)


def allow_job_keys(grantee: iam.IGrantable, keys: tuple[str, ...], *, writes: bool) -> None:
    """kms:Decrypt on exactly the customer-managed keys of the owner's job buckets (reading an
    SSE-KMS object needs it), and kms:GenerateDataKey where the role writes job outputs (an SSE-KMS
    PUT asks KMS for a data key). Nothing when no key is named."""
    if not keys:
        return
    actions = ["kms:Decrypt", "kms:GenerateDataKey"] if writes else ["kms:Decrypt"]
    grantee.grant_principal.add_to_principal_policy(
        iam.PolicyStatement(actions=actions, resources=list(keys))
    )


def allow_put_metric_data(grantee: iam.IGrantable) -> None:
    """PutMetricData has no resource-level permissions (AWS requires "*"), so limit the namespace."""
    grantee.grant_principal.add_to_principal_policy(
        iam.PolicyStatement(
            actions=["cloudwatch:PutMetricData"],
            resources=["*"],
            conditions={"StringEquals": {"cloudwatch:namespace": metric_names.NAMESPACE}},
        )
    )
    if isinstance(grantee, Construct):
        acknowledge(
            grantee,
            "AwsSolutions-IAM5[Resource::*]",
            "cloudwatch:PutMetricData supports no resource-level permissions (AWS requires '*'); "
            f"it is limited to the {metric_names.NAMESPACE} namespace by a condition.",
        )


def group_arn_evidence(group_name: str) -> str:
    """cdk-nag's rendering of a group ARN whose generated id is a wildcard (see `group_arn`)."""
    return (
        "AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:autoscaling:<AWS::Region>:<AWS::AccountId>:"
        f"autoScalingGroup:*:autoScalingGroupName/{group_name}]"
    )


def group_arn(scope: Construct, group_name: str) -> str:
    """The ARN of the Auto Scaling group `group_name`: its id is generated at creation (unknown to
    the template), so only that part is a wildcard."""
    return Stack.of(scope).format_arn(
        service="autoscaling",
        resource="autoScalingGroup",
        resource_name=f"*:autoScalingGroupName/{group_name}",
        arn_format=ArnFormat.COLON_RESOURCE_NAME,
    )


def allow_activation(role: iam.Role, group_name: str) -> None:
    """The web tier raises the worker group from zero: SetDesiredCapacity on that group only.

    DescribeAutoScalingGroups (to see that the group is at zero) has no resource-level
    permissions (Service Authorization Reference, Amazon EC2 Auto Scaling): it needs "*".
    """
    role.add_to_principal_policy(
        iam.PolicyStatement(
            actions=["autoscaling:SetDesiredCapacity"], resources=[group_arn(role, group_name)]
        )
    )
    acknowledge(
        role,
        group_arn_evidence(group_name),
        "The web tier activates the worker group from zero; the group ARN's generated id is its only "
        "wildcard.",
    )
    role.add_to_principal_policy(
        iam.PolicyStatement(actions=["autoscaling:DescribeAutoScalingGroups"], resources=["*"])
    )
    acknowledge(
        role,
        "AwsSolutions-IAM5[Resource::*]",
        "cloudwatch:PutMetricData (namespace-limited) and autoscaling:DescribeAutoScalingGroups support no "
        "resource-level permissions; the only write, SetDesiredCapacity, is limited to the worker group.",
    )


def reply_queues_arn(scope: Construct, prefix: str) -> str:
    """Every per-process reply queue of `prefix` (their names end in a random suffix)."""
    return Stack.of(scope).format_arn(service="sqs", resource=f"{prefix}-*")


def _reply_queues_evidence(prefix: str) -> str:
    return f"AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:sqs:<AWS::Region>:<AWS::AccountId>:{prefix}-*]"


def allow_own_reply_queues(role: iam.Role, prefix: str) -> None:
    """A web process creates, tags (its liveness mark), consumes and deletes its own reply queue,
    deletes orphans of the prefix, and sends to any of them (its wake-up, a dead letter's reply).

    CreateQueue with tags needs TagQueue too (Amazon SQS developer guide, "Tagging queues");
    ListQueues has no resource-level permissions (Service Authorization Reference, Amazon SQS).
    """
    role.add_to_principal_policy(
        iam.PolicyStatement(
            actions=[
                "sqs:CreateQueue",
                "sqs:TagQueue",
                "sqs:ListQueueTags",
                "sqs:GetQueueUrl",
                "sqs:GetQueueAttributes",
                "sqs:ReceiveMessage",
                "sqs:DeleteMessage",
                "sqs:SendMessage",
                "sqs:DeleteQueue",
            ],
            resources=[reply_queues_arn(role, prefix)],
        )
    )
    role.add_to_principal_policy(iam.PolicyStatement(actions=["sqs:ListQueues"], resources=["*"]))
    acknowledge(
        role,
        _reply_queues_evidence(prefix),
        "Each web process makes its own reply queue, named by the prefix and a random suffix at run "
        "time: access is limited to the queues of that prefix.",
    )


def allow_replies(role: iam.Role, prefix: str) -> None:
    """A worker replies to the web process that is waiting: SendMessage on the prefix's queues."""
    role.add_to_principal_policy(
        iam.PolicyStatement(
            actions=["sqs:SendMessage", "sqs:GetQueueUrl"], resources=[reply_queues_arn(role, prefix)]
        )
    )
    acknowledge(
        role,
        _reply_queues_evidence(prefix),
        "A worker replies to the queue named in each request: one of the web processes' own queues, "
        "limited to their prefix.",
    )


def allow_read_parameter(role: iam.Role, name: str) -> None:
    """ssm:GetParameter on one parameter (e.g. the API keys' SecureString)."""
    stack = Stack.of(role)
    arn = stack.format_arn(service="ssm", resource="parameter", resource_name=name.lstrip("/"))
    role.add_to_principal_policy(iam.PolicyStatement(actions=["ssm:GetParameter"], resources=[arn]))

"""The request tally names each call's caller and resource as IAM would read them (the IAM check of
the services' calls, tests/infra/test_iam_services.py, relies on it)."""

from __future__ import annotations

from collections.abc import Iterator

import boto3
import httpx
import pytest
from botocore.config import Config

from services.adapters.aws.emulator import Emulator
from services.adapters.aws.request_tally import Call


@pytest.fixture
def emulator() -> Iterator[Emulator]:
    running = Emulator(calls=True)
    running.start()
    try:
        yield running
    finally:
        running.stop()


def _signing_as(key: str) -> boto3.Session:
    """A session whose calls sign as access key `key` (the caller IAM sees)."""
    return boto3.Session(aws_access_key_id=key, aws_secret_access_key="testing", region_name="us-east-1")


def test_each_call_is_kept_with_its_caller_and_resource(emulator: Emulator) -> None:
    url = emulator.endpoint_url
    s3 = _signing_as("AKIAONE").client("s3", endpoint_url=url, config=Config(signature_version="s3v4"))
    sqs = _signing_as("AKIATWO").client("sqs", endpoint_url=url)
    s3.create_bucket(Bucket="bucket")
    s3.put_object(Bucket="bucket", Key="a/b c.jpg", Body=b"x")
    signed = s3.generate_presigned_url(
        "put_object", Params={"Bucket": "bucket", "Key": "signed"}, ExpiresIn=60
    )
    assert httpx.put(signed, content=b"y").status_code == 200
    queue = sqs.create_queue(QueueName="requests")["QueueUrl"]
    sqs.send_message(QueueUrl=queue, MessageBody="m")
    sqs.receive_message(QueueUrl=queue, WaitTimeSeconds=0)
    sqs.receive_message(QueueUrl=queue, WaitTimeSeconds=0)  # empty: the same call to IAM
    third = _signing_as("AKIATHREE")
    cloudwatch = third.client("cloudwatch", endpoint_url=url)
    cloudwatch.put_metric_data(Namespace="ElasticVision", MetricData=[{"MetricName": "m", "Value": 1.0}])
    ssm = third.client("ssm", endpoint_url=url)
    ssm.put_parameter(Name="/evision/api-keys", Value="k", Type="SecureString")
    autoscaling = third.client("autoscaling", endpoint_url=url)
    autoscaling.describe_auto_scaling_groups(AutoScalingGroupNames=["workers"])

    assert emulator.tally is not None
    assert emulator.tally.calls() == [
        Call("AKIAONE", "s3", "CreateBucket", "bucket"),
        Call("AKIAONE", "s3", "PutObject", "bucket/a/b c.jpg"),
        Call("AKIAONE", "s3", "PutObject", "bucket/signed"),  # presigned: the signer's call
        Call("AKIATWO", "sqs", "CreateQueue", "requests"),
        Call("AKIATWO", "sqs", "SendMessage", queue),
        Call("AKIATWO", "sqs", "ReceiveMessage", queue),
        Call("AKIATWO", "sqs", "ReceiveMessage", queue),
        Call("AKIATHREE", "monitoring", "PutMetricData", "ElasticVision"),
        Call("AKIATHREE", "ssm", "PutParameter", "/evision/api-keys"),
        Call("AKIATHREE", "autoscaling", "DescribeAutoScalingGroups", "workers"),
    ]
    assert emulator.tally.snapshot()[("s3", "PutObject")] == 2  # the bill counts the presigned PUT too

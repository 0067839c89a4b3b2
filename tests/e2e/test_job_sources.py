"""A batch job over a bucket the service cannot list, or into one it cannot write, is refused at
once (aws backend, moto): a 422 that says why, not a job planned for ever or never finished."""

from __future__ import annotations

import json
import uuid

import boto3
import httpx
import pytest

from tests.fixtures import Service


@pytest.mark.parametrize("service", ["aws"], indirect=True)
def test_a_job_over_a_bucket_that_cannot_be_listed_is_a_422_saying_why(service: Service) -> None:
    missing = f"no-such-bucket-{uuid.uuid4().hex[:12]}"
    answer = httpx.post(f"{service.url}/v1/jobs", json={"source": f"s3://{missing}/photos/"}, timeout=60)
    assert answer.status_code == 422, answer.text
    body = answer.json()
    assert body["error"] == "invalid_request"
    assert f"s3://{missing}/photos/" in body["reason"] and "NoSuchBucket" in body["reason"], body
    listed = httpx.get(f"{service.url}/v1/jobs", timeout=60).json()
    assert all(job["source"] != f"s3://{missing}/photos/" for job in listed)  # no job was made
    # A bucket it can list is accepted (empty here: done at once, with nothing to do).
    readable = f"s3://{service.settings.input_bucket}/{uuid.uuid4().hex}/"
    accepted = httpx.post(f"{service.url}/v1/jobs", json={"source": readable}, timeout=60)
    assert accepted.status_code == 202, accepted.text


@pytest.mark.parametrize("service", ["aws"], indirect=True)
def test_a_job_into_a_bucket_that_cannot_be_written_is_a_422_saying_why(service: Service) -> None:
    source = f"s3://{service.settings.input_bucket}/{uuid.uuid4().hex}/"
    missing = f"no-such-bucket-{uuid.uuid4().hex[:12]}"
    spec = {"source": source, "output": f"s3://{missing}/labels/"}
    answer = httpx.post(f"{service.url}/v1/jobs", json=spec, timeout=60)
    assert answer.status_code == 422, answer.text
    assert f"cannot write s3://{missing}/labels/" in answer.json()["reason"], answer.text
    assert "NoSuchBucket" in answer.json()["reason"]
    # One it can write is claimed at once: _JOB.json names the job that writes there.
    prefix = f"labels-{uuid.uuid4().hex}/"
    spec["output"] = f"s3://{service.settings.output_bucket}/{prefix}"
    accepted = httpx.post(f"{service.url}/v1/jobs", json=spec, timeout=60)
    assert accepted.status_code == 202, accepted.text
    claim = boto3.client("s3").get_object(Bucket=service.settings.output_bucket, Key=f"{prefix}_JOB.json")
    assert json.loads(claim["Body"].read())["job"] == accepted.json()["id"]

"""Every AWS call the services make at run time is allowed by their role's SYNTHESIZED policies, on
the resource it names.

The processes run for real, as the instances run them: `evision web`, `evision worker --standby`
and `evision worker`, each with the `EVISION_*` settings exported by its launch template's user
data (tests/infra/roles.py: the every-option synthesis, tokens resolved as deployed, so the bucket,
queue, group and parameter names are those the policies name), against a moto server whose request
tally keeps each call's caller and resource (services/adapters/aws/request_tally.py). Each process
signs with an access key id of its own and is judged by its instance's role: the web process (and
its job monitor, a thread of it) and the standby by the web role, the worker by the worker role.
A stand-in metadata service (IMDSv2) answers the worker's instance id and lifecycle state, so its
launch lifecycle and scale-in protection calls are made too (moto does not serve
CompleteLifecycleAction: the call is recorded all the same).

Driven through their real interfaces, in two phases: with the worker group at zero (its maximum
0), the standby serves an upload and a job; then the worker runs and serves uploads, a stored
result read, a job over an owner's S3 prefix with an output, a job over files staged through
presigned PUT URLs, a dead letter; then the status, models and jobs views and an idle period with
short clocks. Each call is mapped to its IAM action and ARN and judged by
tests/infra/policy_eval.py. The web process's own provisioning (only against an emulator:
services/web/main.py) is measured and left out.

Overridden, as no resource name depends on them: the web processes (1), the clocks (short, so
every background loop runs, and a lease renewal in every batch), the engine (the one installed),
the metadata service's address, the data directory and the port.
Not covered: what S3 asks KMS on the caller's behalf (jobKmsKeys: moto's S3 does not call KMS), the
job chunk that dead-letters (the monitor's receives of that queue are covered, not its handling of
one), and webhooks (HTTP, no AWS call).
"""

from __future__ import annotations

import http.server
import os
import subprocess
import sys
import threading
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import boto3
import httpx
import pytest

from services.adapters.aws.emulator import Emulator, emulator_environment
from services.adapters.aws.request_tally import Call
from services.adapters.registry import open_backend
from services.contract import RequestMessage
from services.settings import BackendSettings
from tests.fixtures import (
    GOLDEN,
    emulated_group,
    emulating,
    free_port,
    golden_bytes,
    stop,
    wait_until_healthy,
)
from tests.infra.policy_eval import Request, decide
from tests.infra.rendered import ACCOUNT
from tests.infra.roles import REGION, group_arn, rendered_exports, role_statements
from tests.infra.synthesis import Synthesized

pytestmark = [pytest.mark.slow, pytest.mark.timeout(900)]

# An access key id per process, so that each call is told apart; the role whose statements judge it.
KEYS = {"web": "AKIAWEBPROCESS000000", "standby": "AKIASTANDBY000000000", "worker": "AKIAWORKER0000000000"}
ROLES = {"web": "WebRole", "standby": "WebRole", "worker": "WorkersRole"}  # the standby: on a web instance
SETUP_KEY = "AKIATESTSETUP0000000"  # the test's own calls (creating resources): not checked
# A web process against an emulator (AWS_ENDPOINT_URL set) provisions the buckets and queues
# itself (services/web/main.py); in AWS the stack owns them and it makes no such call. Those calls
# are measured by provisioning once more under this key, and removed from the web's, once each.
PROVISION_KEY = "AKIATESTPROVISION000"
INSTANCE = "i-0123456789abcdef0"
API_KEY = "k" * 32
HEADERS = {"X-API-Key": API_KEY}
SHORT_CLOCKS = {
    "EVISION_REPLY_POLL_SECONDS": "1",
    "EVISION_ORPHAN_SWEEP_SECONDS": "2",
    "EVISION_REPLY_HEARTBEAT_SECONDS": "2",
    "EVISION_DEPTH_METRIC_SECONDS": "1",
    "EVISION_JOB_MONITOR_SECONDS": "1",
    "EVISION_ACTIVATION_SECONDS": "1",
}
IDLE_SECONDS = 8.0
JOB_IMAGES = 40


class _Metadata(http.server.BaseHTTPRequestHandler):
    """IMDSv2 as an instance of the worker group sees it once in service."""

    answers = {
        "/latest/meta-data/instance-id": INSTANCE,
        "/latest/meta-data/autoscaling/target-lifecycle-state": "InService",
    }

    def do_PUT(self) -> None:
        self._answer("token" if self.path == "/latest/api/token" else None)

    def do_GET(self) -> None:
        self._answer(self.answers.get(self.path))

    def _answer(self, text: str | None) -> None:
        self.send_response(200 if text is not None else 404)
        self.end_headers()
        self.wfile.write((text or "").encode())

    def log_message(self, format: str, *args: object) -> None:
        return None


@pytest.fixture
def metadata() -> Iterator[str]:
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Metadata)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture
def recording() -> Iterator[Emulator]:
    with emulating(Emulator(calls=True), AWS_ACCESS_KEY_ID=SETUP_KEY) as emulator:
        # boto3's default session keeps the credentials it first resolved: after another test's
        # ('testing'), the test's own calls would sign as that and count as an unknown caller.
        boto3.setup_default_session()
        try:
            yield emulator
        finally:
            boto3.DEFAULT_SESSION = None  # the next test's default session reads its own environment


def _settings(exports: dict[str, str], names_variable: str) -> dict[str, str]:
    return {name: exports[name] for name in exports[names_variable].split()}


def _environment(process: str, settings: dict[str, str], endpoint: str, data_dir: Path) -> dict[str, str]:
    base = {k: v for k, v in os.environ.items() if not k.startswith(("EVISION_", "AWS_"))}
    return {
        **base,
        **settings,
        **emulator_environment(endpoint, REGION),
        "AWS_ACCESS_KEY_ID": KEYS[process],
        "EVISION_DATA_DIR": str(data_dir),
        "EVISION_ENGINE": "auto",
    }


def _provision(web: dict[str, str], worker_group: str) -> None:
    """The stack's resources in moto, named as deployed; the owner's job buckets; the parameters."""
    shared = {
        name.removeprefix("EVISION_").lower(): value
        for name, value in web.items()
        if name.removeprefix("EVISION_").lower() in BackendSettings.model_fields
    }
    settings = BackendSettings.from_values(**shared)
    for key in (SETUP_KEY, PROVISION_KEY):  # the second time: what the web process's would make
        os.environ["AWS_ACCESS_KEY_ID"] = key
        backend = open_backend(settings)
        backend.storage.provision(settings)
        backend.close()
    os.environ["AWS_ACCESS_KEY_ID"] = SETUP_KEY
    s3 = boto3.client("s3", region_name=REGION)
    for bucket in ("my-photos", "more-photos", "my-labels"):
        s3.create_bucket(Bucket=bucket)
    ssm = boto3.client("ssm", region_name=REGION)
    ssm.put_parameter(Name=web["EVISION_API_KEYS_PARAMETER"], Value=API_KEY, Type="SecureString")
    ssm.put_parameter(Name=web["EVISION_WEBHOOK_SECRET_PARAMETER"], Value="s" * 32, Type="SecureString")
    # At most 0 until the worker runs: the web tier's activation then asks for 0 (min(scale_to,
    # MaxSize)), and the standby, seeing no worker in service, takes the work.
    emulated_group(worker_group, size=0, most=0)


def _iam_request(call: Call) -> Request:
    """The IAM action and resource ARN (and condition keys) that AWS authorizes `call` by."""
    service, action, resource = call.service, call.action, call.resource
    if service == "s3":
        bucket, _, key = resource.partition("/")
        object_actions = {
            "GetObject": "s3:GetObject",
            "HeadObject": "s3:GetObject",
            "PutObject": "s3:PutObject",
            "DeleteObject": "s3:DeleteObject",
        }
        if action in object_actions and key:
            return Request(object_actions[action], f"arn:aws:s3:::{bucket}/{key}")
        if action in ("ListObjectsV2", "HeadBucket"):
            return Request("s3:ListBucket", f"arn:aws:s3:::{bucket}")
    if service == "sqs":
        # A batch call is authorized as its single form (Amazon SQS developer guide, "Amazon SQS
        # API permissions: Actions and resource reference": no sqs:SendMessageBatch action).
        single = action.removesuffix("Batch")
        arn = f"arn:aws:sqs:{REGION}:{ACCOUNT}:{resource.rsplit('/', 1)[-1]}"
        return Request(f"sqs:{single}", "*" if action == "ListQueues" else arn)
    if service == "monitoring" and action == "PutMetricData":
        return Request("cloudwatch:PutMetricData", "*", context={"cloudwatch:namespace": resource})
    if service == "autoscaling":
        return Request(f"autoscaling:{action}", "*" if action.startswith("Describe") else group_arn(resource))
    if service == "ssm" and action == "GetParameter":
        return Request("ssm:GetParameter", f"arn:aws:ssm:{REGION}:{ACCOUNT}:parameter/{resource.lstrip('/')}")
    raise AssertionError(f"no IAM mapping for {call}: teach _iam_request this call")


def _post_job(url: str, spec: dict[str, str]) -> None:
    response = httpx.post(f"{url}/v1/jobs", json=spec, headers=HEADERS, timeout=60)
    assert response.status_code == 202, response.text
    job = response.json()["id"]
    deadline = time.monotonic() + 240
    while (state := httpx.get(f"{url}/v1/jobs/{job}", headers=HEADERS, timeout=60).json())["state"] != "done":
        assert time.monotonic() < deadline, state
        time.sleep(0.5)
    assert state["failed"] == 0, state


def _upload(url: str, name: str) -> None:
    answer = httpx.post(
        f"{url}/upload", files={"myfile": (name, golden_bytes(name))}, headers=HEADERS, timeout=120
    )
    assert answer.status_code == 200, answer.text


def _source(prefix: str, images: int) -> str:
    """An owner's prefix (context jobSourceBuckets) holding `images` images."""
    s3 = boto3.client("s3", region_name=REGION)
    names = list(GOLDEN)
    for index in range(images):
        name = names[index % len(names)]
        s3.put_object(Bucket="my-photos", Key=f"{prefix}/{index:03d}-{name}", Body=golden_bytes(name))
    return f"s3://my-photos/{prefix}/"


def _drive_standby(url: str) -> None:
    """No worker in service: the standby serves an upload and a job's chunk."""
    _upload(url, next(iter(GOLDEN)))
    _post_job(url, {"source": _source("early", JOB_IMAGES)})  # a lease renewal too


def _drive(url: str, web: dict[str, str]) -> None:
    """The worker serves: uploads, a stored result, jobs, a dead letter, then an idle period."""
    names = list(GOLDEN)
    for name in names[:2]:
        _upload(url, name)
    classified = httpx.post(
        f"{url}/v1/classify",
        files={"myfile": (names[0], golden_bytes(names[0]))},
        headers=HEADERS,
        timeout=120,
    )
    assert classified.status_code == 200, classified.text
    stored = httpx.get(f"{url}/v1/results/{classified.json()['id']}", headers=HEADERS, timeout=60)
    assert stored.status_code == 200, stored.text
    # A job over an owner's prefix, its results copied to an owner's output: one chunk, long
    # enough for its lease to be renewed (the heartbeat's ChangeMessageVisibility).
    _post_job(url, {"source": _source("batch", JOB_IMAGES), "output": "s3://my-labels/out/"})
    # A job over files staged through presigned PUT URLs (signed by the web role).
    body = golden_bytes(names[0])
    plan = httpx.post(
        f"{url}/v1/jobs/uploads",
        json={"upload": uuid.uuid4().hex, "files": [{"name": names[0], "size": len(body)}]},
        headers=HEADERS,
        timeout=60,
    )
    assert plan.status_code == 200, plan.text
    [target] = plan.json()["files"]
    put = httpx.put(target["url"], content=body, headers=target["headers"], timeout=60)
    assert put.status_code == 200, put.text
    _post_job(url, {"source": plan.json()["source"]})
    # A dead letter: its failed result stored, its reply sent to a reply queue gone with its process.
    sqs = boto3.client("sqs", region_name=REGION)
    dead_letters = sqs.get_queue_url(QueueName=web["EVISION_DEAD_LETTER_QUEUE"])["QueueUrl"]
    letter = RequestMessage(
        id=uuid.uuid4().hex, image="lost.jpg", reply_to=f"{web['EVISION_REPLY_QUEUE_PREFIX']}-gone"
    )
    sqs.send_message(QueueUrl=dead_letters, MessageBody=letter.model_dump_json())
    deadline = time.monotonic() + 60
    # Pending (202) or unknown (404) until drained; then the failed result answers.
    while httpx.get(f"{url}/v1/results/{letter.id}", headers=HEADERS, timeout=60).status_code in (202, 404):
        assert time.monotonic() < deadline, "the dead letter was not drained"
        time.sleep(0.5)
    # The read-only views: the status (queue depths, the group), the models, the recent jobs.
    for view in ("/v1/status", "/v1/models", "/v1/jobs"):
        answer = httpx.get(f"{url}{view}", headers=HEADERS, timeout=60)
        assert answer.status_code == 200, (view, answer.text)
    time.sleep(IDLE_SECONDS)  # idle: sweeps, heartbeats, metrics


def test_every_call_the_services_make_is_allowed_by_their_role(
    synthesized_every_option: Synthesized, recording: Emulator, metadata: str, tmp_path: Path
) -> None:
    synthesized = synthesized_every_option
    web_exports = rendered_exports(synthesized, "web")
    worker_exports = rendered_exports(synthesized, "worker")
    web = {**_settings(web_exports, "EV_SERVICE_ENV"), **SHORT_CLOCKS, "EVISION_WEB_PROCESSES": "1"}
    standby = {
        **_settings(web_exports, "EV_STANDBY_ENV"),
        "EVISION_STANDBY_GATE_SECONDS": "1",
        "EVISION_EXTEND_AFTER": "0.01",
    }
    worker = {
        **_settings(worker_exports, "EV_SERVICE_ENV"),
        "EVISION_IMDS_URL": metadata,
        "EVISION_POLL_SECONDS": "1",
        "EVISION_EXTEND_AFTER": "0.01",  # a lease renewal (heartbeat) in every batch
    }
    _provision(web, worker["EVISION_ASG_NAME"])
    endpoint = recording.endpoint_url
    port = free_port()
    cli = [sys.executable, "-m", "services.cli"]

    def start(process: str, command: list[str], settings: dict[str, str]) -> subprocess.Popen[bytes]:
        environment = _environment(process, settings, endpoint, tmp_path / process)
        return subprocess.Popen([*cli, *command], env=environment)

    processes = {
        "web": start("web", ["web", "--port", str(port)], web),
        "standby": start("standby", ["worker", "--standby"], standby),
    }
    try:
        url = f"http://127.0.0.1:{port}"
        wait_until_healthy(url, processes["web"], timeout=120)
        _drive_standby(url)
        stop(processes["standby"])  # then the group may grow, and the worker serves
        boto3.client("autoscaling", region_name=REGION).update_auto_scaling_group(
            AutoScalingGroupName=worker["EVISION_ASG_NAME"], MaxSize=1
        )
        processes["worker"] = start("worker", ["worker"], worker)
        _drive(url, web)
    finally:
        for running in processes.values():
            stop(running)
    assert recording.tally is not None
    recorded = recording.tally.calls()
    emulator_only = Counter((c.service, c.action, c.resource) for c in recorded if c.caller == PROVISION_KEY)
    calls = []
    for call in recorded:
        what = (call.service, call.action, call.resource)
        if call.caller == KEYS["web"] and emulator_only[what] > 0:
            emulator_only[what] -= 1  # the web process's own provisioning, against the emulator only
        elif call.caller not in (SETUP_KEY, PROVISION_KEY):
            calls.append(call)
    assert not +emulator_only, f"the web process did not provision as measured: {+emulator_only}"
    statements = {process: role_statements(synthesized, prefix) for process, prefix in ROLES.items()}
    process_of = {key: process for process, key in KEYS.items()}
    assert {c.caller for c in calls} <= set(process_of), {c.caller for c in calls}
    denied = []
    seen: dict[str, Counter[str]] = {process: Counter() for process in KEYS}
    for call in calls:
        process = process_of[call.caller]
        request = _iam_request(call)
        seen[process][request.action] += 1
        if decide(statements[process], request) != "Allow":
            denied.append((process, request.action, request.resource, dict(request.context)))
    for process, actions in seen.items():
        role = ROLES[process]
        total, distinct = sum(actions.values()), len(actions)
        print(
            f"{process} ({role}): {total} calls ({distinct} distinct actions):", dict(sorted(actions.items()))
        )
    print(f"denied: {len(denied)}")
    assert not denied, sorted(set(map(str, denied)))
    # The judge is not lenient: the web tier's secrets and activation are not the worker's.
    for action, resource in (
        ("ssm:GetParameter", f"arn:aws:ssm:{REGION}:{ACCOUNT}:parameter/evision/api-keys"),
        ("autoscaling:SetDesiredCapacity", group_arn(worker["EVISION_ASG_NAME"])),
    ):
        assert decide(statements["worker"], Request(action, resource)) != "Allow", action
    # The run made the calls this test is for (a silent process would pass vacuously).
    assert {
        "s3:PutObject",
        "s3:GetObject",
        "sqs:SendMessage",
        "sqs:CreateQueue",
        "cloudwatch:PutMetricData",
        "ssm:GetParameter",
        "autoscaling:DescribeAutoScalingGroups",
        "autoscaling:SetDesiredCapacity",
    } <= set(seen["web"]), seen["web"]
    assert {
        "sqs:ReceiveMessage",
        "sqs:DeleteMessage",
        "s3:GetObject",
        "s3:PutObject",
        "sqs:SendMessage",
        "autoscaling:SetInstanceProtection",
        "autoscaling:CompleteLifecycleAction",
        "sqs:ChangeMessageVisibility",
        "cloudwatch:PutMetricData",
    } <= set(seen["worker"]), seen["worker"]
    assert {
        "autoscaling:DescribeAutoScalingGroups",
        "sqs:ReceiveMessage",
        "sqs:DeleteMessage",
        "sqs:ChangeMessageVisibility",
        "s3:GetObject",
        "s3:PutObject",
        "sqs:SendMessage",
    } <= set(seen["standby"]), seen["standby"]

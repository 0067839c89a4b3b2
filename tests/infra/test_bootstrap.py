"""The instance bootstrap, rendered as the CDK app renders it and run for real in a sandbox.

The web tier's user data is also run exactly as the synthesized template renders it (tokens
resolved as CloudFormation would), against stand-ins answering as AWS does: cfn-signal refused
when no stack operation waits, accepted during a rollout (the last tests of this module).

What is real: the rendered user-data script (bash), the service bundle (the directory CDK staged
in the session's cdk.out, zipped as the CDK CLI zips it for upload), its download with `aws s3 cp`
from the local S3 emulator (moto), the virtualenv, `pip install` of the bundle (dependencies from
PyPI, as on the instance), the env file, the systemd unit, and the installed `evision worker`
classifying a real image from the emulated input bucket and replying on an emulated queue.

What is stubbed, and how:
- `systemctl`: a script first on PATH that records its arguments (there is no systemd here).
  The test then starts the unit's ExecStart itself with the unit's EnvironmentFile.
- Paths: EV_ROOT puts /opt and /etc under the sandbox; EV_PYTHON is this interpreter (3.11),
  so no `dnf install`.
- `aws`: the real AWS CLI when one is on PATH (here: v1, honours AWS_ENDPOINT_URL like v2 on
  the instance); otherwise a minimal `aws s3 cp` written with boto3, so CI without the CLI
  still runs everything else for real.
- The instance: the worker's Auto Scaling group exists in the emulator (one instance), and
  that instance's id is given as EVISION_INSTANCE_ID, so scale-in protection does not ask the
  instance metadata service (no traffic may leave 127.0.0.1) and its calls go to the emulator.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import shutil
import signal
import subprocess
import sys
import textwrap
import time
import uuid
import zipfile
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path

import pytest

from infra.user_data import BOOTSTRAP_SCRIPT, Bootstrap, LogShipping
from services.adapters.registry import open_backend
from services.contract import ReplyMessage, RequestMessage, new_request_id
from services.exit_codes import CONFIGURATION_ERROR
from services.ports.backend import Backend
from services.settings import BackendSettings
from services.worker.settings import WorkerSettings
from tests.fixtures import emulated_group, emulated_group_instance
from tests.worker.imds import running_imds

ROOT = Path(__file__).resolve().parents[2]
GOLDEN = ROOT / "model" / "testdata"

AWS_SHIM = """\
#!{python}
# Stand-in for the AWS CLI calls the bootstrap makes (no AWS CLI on this machine): boto3, same
# endpoint. `aws s3 cp s3://bucket/key FILE`; `aws autoscaling set-instance-health` and
# `complete-lifecycle-action` (moto lacks the latter: the call is recorded, one JSON line each,
# in the file AWS_CALLS names, like every autoscaling call).
import json, os, sys, boto3
words = sys.argv[1:]
if words[:2] == ["s3", "cp"]:
    args = [a for a in words[2:] if not a.startswith("--")]
    assert args[0].startswith("s3://"), sys.argv
    bucket, key = args[0][5:].split("/", 1)
    boto3.client("s3").download_file(bucket, key, args[1])
    sys.exit(0)
assert words[0] == "autoscaling", sys.argv
options, flags, rest = {{}}, set(), words[2:]
while rest:
    name = rest.pop(0)
    if rest and not rest[0].startswith("--"):
        options[name] = rest.pop(0)
    else:
        flags.add(name)
with open(os.environ["AWS_CALLS"], "a") as calls:
    calls.write(json.dumps({{"call": words[1], **options}}) + "\\n")
if words[1] == "set-instance-health":
    boto3.client("autoscaling").set_instance_health(
        InstanceId=options["--instance-id"],
        HealthStatus=options["--health-status"],
        ShouldRespectGracePeriod="--no-should-respect-grace-period" not in flags,
    )
"""

SYSTEMCTL_STUB = """\
#!/bin/sh
# No systemd in the sandbox: record the call (and no unit has failed).
echo "$*" >> "{log}"
[ "$1" != is-failed ]
"""


def zip_directory(source: Path, target: Path) -> Path:
    """The archive the CDK CLI uploads for a directory asset: the directory's files at the root."""
    with zipfile.ZipFile(target, "w", zipfile.ZIP_DEFLATED) as archive:
        for path in sorted(source.rglob("*")):
            if path.is_file():
                archive.write(path, path.relative_to(source).as_posix())
    return target


def staged_bundle(synthesized, lock: str = "requirements.lock") -> Path:
    """The service bundle asset in the cloud assembly that carries `lock`; for a lock the default
    deployment does not use (OpenVINO's), the bundle `make wheelhouse` staged for it, which a
    deployment with that engine uploads."""
    for asset in synthesized.assets["files"].values():
        staged: Path = synthesized.outdir / asset["source"]["path"]
        if asset["source"]["packaging"] == "zip" and (staged / lock).exists():
            return staged
    staged = ROOT / "build" / "bundles" / Path(lock).stem
    assert (staged / lock).exists(), f"no service bundle with {lock}"
    return staged


def uploaded_user_data(
    sandbox: Path, bootstrap: Bootstrap, bundle: Path, *, bucket: str, group: str = ""
) -> Path:
    """`bootstrap`'s user data, written into the sandbox, with what it fetches in `bucket`: the
    bundle (zipped as the CDK CLI zips it) and the bootstrap script (its own asset beside it)."""
    import boto3

    s3 = boto3.client("s3")
    s3.create_bucket(Bucket=bucket)
    s3.upload_file(str(zip_directory(bundle, sandbox / "bundle.zip")), bucket, "bundle.zip")
    s3.upload_file(str(BOOTSTRAP_SCRIPT), bucket, "bootstrap.sh")
    script = sandbox / "user-data.sh"
    script.write_text(
        bootstrap.render(
            bundle_url=f"s3://{bucket}/bundle.zip", bootstrap_url=f"s3://{bucket}/bootstrap.sh", group=group
        )
    )
    return script


def run_as_instance(
    sandbox: Path, script: Path, *, instance_id: str, calls: Path, timeout: float
) -> subprocess.CompletedProcess[str]:
    """Run user data (or the bootstrap) as instance `instance_id` would: the sandbox's stand-ins
    first on PATH, paths under the sandbox, this interpreter, the AWS calls recorded in `calls`,
    and no package index at all (the bundle's wheelhouse only)."""
    run_env = {
        **os.environ,
        "PATH": f"{sandbox / 'bin'}{os.pathsep}{os.environ['PATH']}",
        "EV_ROOT": str(sandbox / "root"),
        "EV_PYTHON": sys.executable,
        "EV_INSTANCE_ID": instance_id,  # no metadata service here
        "AWS_CALLS": str(calls),
        "PIP_NO_INDEX": "1",
        "PIP_INDEX_URL": "http://127.0.0.1:9/unreachable",
    }
    return subprocess.run(
        ["bash", str(script)], env=run_env, capture_output=True, text=True, timeout=timeout, check=False
    )


def boot(sandbox: Path, script: Path) -> subprocess.CompletedProcess[str]:
    """Run user data as an instance's first boot does: the sandbox's stand-ins first on PATH, paths
    under the sandbox, this interpreter, and no package index at all (the bundle's wheelhouse only)."""
    run_env = {
        **os.environ,
        "PATH": f"{sandbox / 'bin'}{os.pathsep}{os.environ['PATH']}",
        "EV_ROOT": str(sandbox / "root"),
        "EV_PYTHON": sys.executable,
        "AWS_EC2_METADATA_DISABLED": "true",
        "PIP_DISABLE_PIP_VERSION_CHECK": "1",
        "PIP_NO_INDEX": "1",
        "PIP_INDEX_URL": "http://127.0.0.1:9/unreachable",
    }
    return subprocess.run(
        ["bash", str(script)], env=run_env, capture_output=True, text=True, timeout=540, check=False
    )


def unit_environment(environment: Mapping[str, str]) -> dict[str, str]:
    """What a unit's process gets from systemd (its EnvironmentFile) and, only here, the emulator's
    address and credentials (no metadata service)."""
    return {
        "PATH": os.environ["PATH"],
        **environment,
        **{k: v for k, v in os.environ.items() if k.startswith("AWS_") and k not in environment},
        "AWS_EC2_METADATA_DISABLED": "true",
    }


def first_reply(
    backend: Backend, reply_queue: str, process: subprocess.Popen[bytes], log_path: Path
) -> ReplyMessage:
    """The first reply on `reply_queue` while `process` runs (within 2 minutes)."""
    replies = backend.storage.queue(reply_queue)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and process.poll() is None:
        for message in replies.receive(max_messages=1, wait_seconds=2):
            return ReplyMessage.model_validate_json(message.body)
    raise AssertionError(textwrap.shorten(log_path.read_text(), 3000))


@contextmanager
def stopped_as_systemd_would(process: subprocess.Popen[bytes], log_path: Path) -> Iterator[None]:
    """Stops `process` the way systemd does (KillSignal=SIGTERM) once the block is done: it drains
    and exits cleanly; killed if the block fails."""
    try:
        yield
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=60) == 0, log_path.read_text()[-3000:]
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()


def read_unit(path: Path) -> dict[str, str]:
    return dict(
        line.split("=", 1)
        for line in path.read_text().splitlines()
        if "=" in line and not line.startswith("#")
    )


def read_env_file(path: Path) -> dict[str, str]:
    return dict(line.split("=", 1) for line in path.read_text().splitlines() if line)


@pytest.fixture
def sandbox(tmp_path: Path) -> Path:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    systemctl = bin_dir / "systemctl"
    systemctl.write_text(SYSTEMCTL_STUB.format(log=tmp_path / "systemctl.log"))
    systemctl.chmod(0o755)
    # The CloudWatch agent's control script: record the call (the config is checked as written).
    agent = bin_dir / "amazon-cloudwatch-agent-ctl"
    agent.write_text(SYSTEMCTL_STUB.format(log=tmp_path / "agent.log"))
    agent.chmod(0o755)
    # Always the stand-in (even where an AWS CLI is installed): it records the Auto Scaling calls.
    aws = bin_dir / "aws"
    aws.write_text(AWS_SHIM.format(python=sys.executable))
    aws.chmod(0o755)
    return tmp_path


@pytest.mark.slow
@pytest.mark.timeout(600)
@pytest.mark.parametrize(
    ("engine", "lock"),
    [("onnxruntime", "requirements.lock"), ("openvino", "requirements-openvino.lock")],
)
def test_rendered_bootstrap_installs_a_worker_that_answers_a_request(
    synthesized, moto_endpoint, sandbox, engine, lock
):
    """The deployment's engine decides the lock the worker installs (context `engine`)."""
    prefix = f"boot{uuid.uuid4().hex[:8]}"
    settings = BackendSettings(
        backend="aws",
        input_bucket=f"{prefix}-input",
        output_bucket=f"{prefix}-output",
        request_queue=f"{prefix}-requests",
        dead_letter_queue=f"{prefix}-dlq",
        visibility_timeout=60,
        max_receives=3,
    )
    reply_queue = f"{prefix}-replies"
    backend = open_backend(settings)
    backend.storage.provision(settings, reply_queues=[reply_queue])

    # The group this "instance" belongs to (the worker protects itself from scale-in in it).
    group = f"{prefix}-workers"
    instance_id = emulated_group_instance(group)

    worker_settings = WorkerSettings.from_values(
        backend="aws",
        input_bucket=settings.input_bucket,
        output_bucket=settings.output_bucket,
        request_queue=settings.request_queue,
        dead_letter_queue=settings.dead_letter_queue,
        max_receives=3,
        visibility_timeout=60,
        batch_size=10,
        asg_name=group,
        engine=engine,
    )
    service_env = {
        **worker_settings.environment(explicit_only=True),
        "AWS_REGION": "us-east-1",
        "AWS_DEFAULT_REGION": "us-east-1",
    }
    # The bundle, uploaded where the instance downloads it from.
    bootstrap = Bootstrap(
        role="worker",
        service_env=service_env,
        drain_seconds=90,
        lock=lock,
        logs=LogShipping(service=f"{prefix}-worker-logs", bootstrap=f"{prefix}-bootstrap-logs"),
    )
    script = uploaded_user_data(
        sandbox, bootstrap, staged_bundle(synthesized, lock), bucket=f"{prefix}-assets"
    )
    root = sandbox / "root"
    started = time.monotonic()
    completed = boot(sandbox, script)
    print(f"bootstrap took {time.monotonic() - started:.1f} s")
    assert completed.returncode == 0, completed.stdout[-3000:] + completed.stderr[-3000:]
    # The phases, in order, with the script's own clock (the simulator's calibration cites them).
    phases = re.findall(r"evision-bootstrap: \+(\d+)s phase (\w+) done", completed.stderr)
    assert [name for _, name in phases] == ["logs", "download", "venv", "install"], completed.stderr
    print("bootstrap phases (s since start):", ", ".join(f"{name} {at}" for at, name in phases))

    # What the bootstrap left behind: the systemd calls, the unit, the env file.
    calls = (sandbox / "systemctl.log").read_text().splitlines()
    assert calls == ["daemon-reload", "enable --now evision-worker.service"]
    unit_path = root / "etc/systemd/system/evision-worker.service"
    unit = read_unit(unit_path)
    assert unit["Restart"] == "on-failure"
    # A configuration that cannot work is not restarted (evision web exits with this code).
    assert unit["RestartPreventExitStatus"] == str(CONFIGURATION_ERROR)
    # Restarted, but not for ever: past the start limit the instance reports itself Unhealthy.
    assert unit["OnFailure"] == "evision-report-unhealthy.service" and int(unit["StartLimitBurst"]) > 1
    report_unit = read_unit(root / "etc/systemd/system/evision-report-unhealthy.service")
    assert report_unit["ExecStart"] == str(root / "opt/evision/report-unhealthy")
    assert unit["KillSignal"] == "SIGTERM" and unit["TimeoutStopSec"] == "90"
    assert unit["EnvironmentFile"] == str(root / "etc/evision/worker.env")
    # Logs: the service's into the file the agent ships, the agent started with its config first.
    assert unit["StandardOutput"] == "append:/var/log/evision/worker.log"
    config_path = root / "opt/evision/cloudwatch-agent.json"
    assert (sandbox / "agent.log").read_text().split() == [
        "-a",
        "fetch-config",
        "-m",
        "ec2",
        "-s",
        "-c",
        f"file:{config_path}",
    ]
    shipped = json.loads(config_path.read_text())["logs"]["logs_collected"]["files"]["collect_list"]
    assert [(f["file_path"], f["log_group_name"]) for f in shipped] == [
        ("/var/log/evision/worker.log", f"{prefix}-worker-logs"),
        ("/var/log/cloud-init-output.log", f"{prefix}-bootstrap-logs"),
    ]
    assert "copytruncate" in (root / "etc/logrotate.d/evision").read_text()
    environment = read_env_file(Path(unit["EnvironmentFile"]))
    assert environment == service_env
    command = shlex.split(unit["ExecStart"])
    assert command == [str(root / "opt/evision/venv/bin/evision"), "worker"]

    # Start the service as systemd would, and send it one real request.
    golden = json.loads((GOLDEN / "golden.json").read_text())[0]
    request_id = new_request_id()
    backend.storage.blobs(settings.input_bucket).put(request_id, (GOLDEN / golden["file"]).read_bytes())
    backend.storage.queue(settings.request_queue).send(
        RequestMessage(id=request_id, image=golden["file"], reply_to=reply_queue).model_dump_json()
    )
    worker_env = unit_environment(environment)
    log_path = sandbox / "worker.log"
    # The instance's lifecycle state comes from an emulated metadata service on 127.0.0.1.
    with running_imds("InService") as imds_url, log_path.open("wb") as log:
        # A given instance id (no metadata service to ask it of) and the emulated service's address.
        here = worker_settings.model_copy(update={"instance_id": instance_id, "imds_url": imds_url})
        worker_env.update(here.environment(explicit_only=True))
        launched = time.monotonic()
        worker = subprocess.Popen(command, env=worker_env, stdout=log, stderr=subprocess.STDOUT, cwd=sandbox)
        with stopped_as_systemd_would(worker, log_path):
            reply = first_reply(backend, reply_queue, worker, log_path)
            print(f"installed worker: start to first reply {time.monotonic() - launched:.1f} s")
            assert reply.id == request_id
            assert reply.result.error is None
            assert reply.result.label == golden["expected_label"]
            assert engine in reply.result.model  # e.g. "efficientnet-lite0@... openvino-bf16"
    backend.close()


def test_the_aws_cli_stand_in_downloads_like_aws_s3_cp(moto_endpoint, tmp_path):
    """The fallback used where no AWS CLI is installed (CI) must behave like the real command."""
    import boto3

    bucket = f"shim{uuid.uuid4().hex[:8]}"
    s3 = boto3.client("s3")
    s3.create_bucket(Bucket=bucket)
    s3.put_object(Bucket=bucket, Key="dir/bundle.zip", Body=b"payload")
    shim = tmp_path / "aws"
    shim.write_text(AWS_SHIM.format(python=sys.executable))
    shim.chmod(0o755)
    target = tmp_path / "out.zip"
    subprocess.run(
        [str(shim), "s3", "cp", "--only-show-errors", f"s3://{bucket}/dir/bundle.zip", str(target)],
        check=True,
        timeout=30,
    )
    assert target.read_bytes() == b"payload"


@pytest.mark.timeout(300)
@pytest.mark.parametrize("lock", ["requirements.lock", "requirements-openvino.lock"])
def test_a_failed_install_abandons_the_launch_and_marks_the_instance_unhealthy(
    synthesized, moto_endpoint, sandbox, lock
):
    """A wheel missing from the wheelhouse: the offline install fails, and the bootstrap tells the
    group (the launch hook ABANDONed, the instance Unhealthy) instead of leaving a zombie."""
    import boto3

    prefix = f"fail{uuid.uuid4().hex[:8]}"
    group = f"{prefix}-workers"
    instance_id = emulated_group_instance(group)
    broken = sandbox / "broken-bundle"
    shutil.copytree(staged_bundle(synthesized, lock), broken)
    [numpy] = (broken / "build" / "wheelhouse").glob("numpy-*.whl")
    numpy.unlink()
    bootstrap = Bootstrap(
        role="worker",
        service_env=WorkerSettings.from_values(asg_name=group).environment(explicit_only=True),
        lock=lock,
        launch_hook="launch-hook",
    )
    script = uploaded_user_data(sandbox, bootstrap, broken, bucket=f"{prefix}-assets", group=group)
    calls = sandbox / "aws-calls.jsonl"
    completed = run_as_instance(sandbox, script, instance_id=instance_id, calls=calls, timeout=240)
    assert completed.returncode != 0, completed.stderr[-2000:]
    assert "FAILED" in completed.stderr and "numpy" in completed.stderr
    recorded = [json.loads(line) for line in calls.read_text().splitlines()]
    assert recorded[0] == {
        "call": "complete-lifecycle-action",
        "--auto-scaling-group-name": group,
        "--lifecycle-hook-name": "launch-hook",
        "--instance-id": instance_id,
        "--lifecycle-action-result": "ABANDON",
    }
    assert recorded[1]["call"] == "set-instance-health"
    [seen] = boto3.client("autoscaling").describe_auto_scaling_instances(InstanceIds=[instance_id])[
        "AutoScalingInstances"
    ]
    assert seen["HealthStatus"].upper() == "UNHEALTHY"
    assert not (sandbox / "systemctl.log").exists()  # nothing was started


@pytest.mark.slow
@pytest.mark.timeout(600)
def test_a_web_instance_also_installs_a_bounded_standby_that_answers_while_the_group_is_at_zero(
    synthesized, moto_endpoint, sandbox
):
    """The web role with a standby: its own unit (memory ceiling, low CPU weight, the standby's
    env file), started after the web unit; run as systemd would, it answers a request while the
    worker group has no instance in service."""

    from infra.user_data import Standby
    from services.web.settings import WebSettings

    prefix = f"web{uuid.uuid4().hex[:8]}"
    shared = {
        "backend": "aws",
        "input_bucket": f"{prefix}-input",
        "output_bucket": f"{prefix}-output",
        "request_queue": f"{prefix}-requests",
        "dead_letter_queue": f"{prefix}-dlq",
        "visibility_timeout": 60,
        "max_receives": 3,
    }
    settings = BackendSettings.model_validate(shared)
    reply_queue = f"{prefix}-replies-0"
    backend = open_backend(settings)
    backend.storage.provision(settings, reply_queues=[reply_queue])
    group = f"{prefix}-workers"
    emulated_group(group, size=0, most=2)
    region = {"AWS_REGION": "us-east-1", "AWS_DEFAULT_REGION": "us-east-1"}
    web_env = {
        **WebSettings.from_values(**shared, reply_queue_prefix=f"{prefix}-replies").environment(
            explicit_only=True
        ),
        **region,
    }
    standby_settings = WorkerSettings.from_values(**shared, threads=1, standby_group=group)
    standby_env = {**standby_settings.environment(explicit_only=True), **region}
    bootstrap = Bootstrap(
        role="web",
        service_env=web_env,
        standby=Standby(workers=1, service_env=standby_env, memory_max_mib=640),
        logs=LogShipping(service=f"{prefix}-web-logs", bootstrap=f"{prefix}-bootstrap-logs"),
    )
    script = uploaded_user_data(sandbox, bootstrap, staged_bundle(synthesized), bucket=f"{prefix}-assets")
    root = sandbox / "root"
    completed = boot(sandbox, script)
    assert completed.returncode == 0, completed.stdout[-3000:] + completed.stderr[-3000:]
    calls = (sandbox / "systemctl.log").read_text().splitlines()
    assert calls == [
        "daemon-reload",
        "enable --now evision-web.service",
        "enable --now evision-standby@1.service",
    ]
    unit = read_unit(root / "etc/systemd/system/evision-standby@.service")
    assert unit["MemoryMax"] == "640M" and int(unit["CPUWeight"]) < 100  # below the web's default
    assert "OnFailure" not in unit  # a failing standby does not take the web instance down
    assert unit["RestartPreventExitStatus"] == str(CONFIGURATION_ERROR)
    web_unit = read_unit(root / "etc/systemd/system/evision-web.service")
    assert web_unit["RestartPreventExitStatus"] == str(CONFIGURATION_ERROR)
    assert unit["StandardOutput"] == "append:/var/log/evision/standby.log"
    shipped = json.loads((root / "opt/evision/cloudwatch-agent.json").read_text())
    files = shipped["logs"]["logs_collected"]["files"]["collect_list"]
    assert "/var/log/evision/standby.log" in [f["file_path"] for f in files]
    environment = read_env_file(Path(unit["EnvironmentFile"]))
    assert environment == standby_env
    assert read_env_file(root / "etc/evision/web.env") == web_env
    command = shlex.split(unit["ExecStart"])
    assert command == [str(root / "opt/evision/venv/bin/evision"), "worker", "--standby"]

    request_id = new_request_id()
    golden = json.loads((GOLDEN / "golden.json").read_text())[0]
    backend.storage.blobs(settings.input_bucket).put(request_id, (GOLDEN / golden["file"]).read_bytes())
    backend.storage.queue(settings.request_queue).send(
        RequestMessage(id=request_id, image=golden["file"], reply_to=reply_queue).model_dump_json()
    )
    log_path = sandbox / "standby.log"
    with log_path.open("wb") as log:
        standby = subprocess.Popen(
            command, env=unit_environment(environment), stdout=log, stderr=subprocess.STDOUT, cwd=sandbox
        )
        with stopped_as_systemd_would(standby, log_path):
            reply = first_reply(backend, reply_queue, standby, log_path)
            assert reply.id == request_id and reply.result.label == golden["expected_label"]
            assert reply.result.worker.startswith("standby-")
    backend.close()


# -- the web user data as the template renders it, against CloudFormation's answers ------------
CFN_SIGNAL_STAND_IN = """\
#!/bin/sh
# cfn-signal as AWS answers it: accepted only while a stack operation waits for this resource's
# signal (a CREATE, a rolling update); otherwise SignalResource fails and cfn-signal exits 1
# (aws-cloudformation-templates#126, kubernetes-on-aws#538; 2026-12).
echo "$*" >> "{sandbox}/cfn-signal.log"
[ -e "{sandbox}/resource-waits" ] && exit 0
echo "ValidationError: Stack arn:aws:cloudformation:us-east-1:123456789012:stack/ElasticVision-dev/00000000 \
is in UPDATE_COMPLETE state and cannot be signaled" >&2
exit 1
"""
CURL_STAND_IN = """\
#!/bin/sh
# The web service's /healthz: it answers once systemd has started the unit (the systemctl record).
case "$*" in
    *"http://127.0.0.1:80/healthz"*) grep -q "enable --now evision-web.service" "{sandbox}/systemctl.log" ;;
    *) echo "curl stand-in: no answer for $*" >&2; exit 7 ;;
esac
"""
WEB_AWS_SHIM = """\
#!/bin/sh
# CloudFormation's and the load balancer's answers; everything else goes to the emulator's stand-in.
case "$1 $2" in
    "cloudformation describe-stacks")
        echo "cloudformation describe-stacks" >> "$AWS_CALLS"
        [ -e "{sandbox}/stack-status" ] || {{ echo "An error occurred (AccessDenied)" >&2; exit 254; }}
        cat "{sandbox}/stack-status" ;;
    "elbv2 describe-target-health")
        echo "elbv2 describe-target-health" >> "$AWS_CALLS"
        echo healthy ;;
    *) exec "{sandbox}/bin/aws-emulated" "$@" ;;
esac
"""


def standin_bundle(target: Path) -> Path:
    """A bundle with an empty lock and a minimal service wheel: the web path's install runs for real
    in seconds (the slow tests above install the real bundle)."""
    import base64
    import hashlib

    files = {
        "evision_standin/__init__.py": b"",
        "elastic_vision-0.dist-info/METADATA": b"Metadata-Version: 2.1\nName: elastic-vision\nVersion: 0\n",
        "elastic_vision-0.dist-info/WHEEL": b"Wheel-Version: 1.0\nGenerator: test\nRoot-Is-Purelib: true\n"
        b"Tag: py3-none-any\n",
    }
    record = "".join(
        f"{name},sha256={base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b'=').decode()},"
        f"{len(data)}\n"
        for name, data in files.items()
    )
    source = target.with_suffix(".d")
    (source / "build" / "wheelhouse").mkdir(parents=True)
    (source / "requirements.lock").write_text("")
    with zipfile.ZipFile(source / "build" / "wheelhouse" / "elastic_vision-0-py3-none-any.whl", "w") as wheel:
        for name, data in files.items():
            wheel.writestr(name, data)
        wheel.writestr("elastic_vision-0.dist-info/RECORD", record + "elastic_vision-0.dist-info/RECORD,,\n")
    return zip_directory(source, target)


def web_group_instance(group: str) -> str:
    """The one instance of `group` in the emulator (made on first use: the name is the template's)."""
    import boto3

    autoscaling = boto3.client("autoscaling", region_name="us-east-1")
    found = autoscaling.describe_auto_scaling_groups(AutoScalingGroupNames=[group])["AutoScalingGroups"]
    return str(found[0]["Instances"][0]["InstanceId"]) if found else emulated_group_instance(group)


@pytest.mark.timeout(240)
@pytest.mark.parametrize(
    ("stack_status", "resource_waits"),
    [
        ("UPDATE_COMPLETE", False),  # a scale-out, a replacement, an AZ rebalance: nothing waits
        (None, False),  # the stack's state unknown (DescribeStacks refused): the signal is refused
        ("UPDATE_IN_PROGRESS", True),  # a rolling update waits for this signal
    ],
    ids=["scale-out", "state-unknown-signal-refused", "rollout"],
)
def test_the_rendered_web_user_data_signals_only_while_a_stack_operation_waits_and_stays_healthy(
    synthesized, moto_endpoint, sandbox, stack_status, resource_waits
):
    """The web launch template's user data, resolved from the synthesized template as
    CloudFormation would in us-east-1, run in the sandbox: the stub fetches the bootstrap from the
    assets bucket, the bootstrap installs, starts the units, waits for /healthz and the load
    balancer, then signals. A refused signal leaves the instance serving (no Unhealthy report)."""
    import boto3

    from tests.infra.rendered import deployed, user_data
    from tests.infra.synthesis import STACK

    resolver = deployed(synthesized.template, STACK)
    [rendered] = [
        text
        for template in synthesized.of_type("AWS::EC2::LaunchTemplate").values()
        if "export EV_ROLE=web\n" in (text := user_data(resolver, template))
    ]
    exports = {
        name: shlex.split(value)[0]
        for name, value in re.findall(r"^export (EV_\w+)=(.*)$", rendered, re.MULTILINE)
    }
    # The assets bucket of the CDK bootstrap, with the objects at the keys the template names.
    bucket, script_key = exports["EV_BOOTSTRAP_URL"].removeprefix("s3://").split("/", 1)
    bundle_key = exports["EV_BUNDLE_URL"].removeprefix("s3://").split("/", 1)[1]
    s3 = boto3.client("s3", region_name="us-east-1")
    if bucket not in [b["Name"] for b in s3.list_buckets()["Buckets"]]:
        s3.create_bucket(Bucket=bucket)
    s3.upload_file(str(BOOTSTRAP_SCRIPT), bucket, script_key)
    s3.upload_file(str(standin_bundle(sandbox / "bundle.zip")), bucket, bundle_key)
    instance_id = web_group_instance(exports["EV_GROUP"])

    bin_dir = sandbox / "bin"
    (bin_dir / "aws").rename(bin_dir / "aws-emulated")
    for name, text in (("aws", WEB_AWS_SHIM), ("cfn-signal", CFN_SIGNAL_STAND_IN), ("curl", CURL_STAND_IN)):
        (bin_dir / name).write_text(text.format(sandbox=sandbox))
        (bin_dir / name).chmod(0o755)
    if stack_status is not None:
        (sandbox / "stack-status").write_text(stack_status + "\n")
    if resource_waits:
        (sandbox / "resource-waits").touch()
    script = sandbox / "user-data.sh"
    script.write_text(rendered)
    calls = sandbox / "aws-calls.jsonl"
    calls.touch()
    completed = run_as_instance(sandbox, script, instance_id=instance_id, calls=calls, timeout=200)
    transcript = completed.stderr
    print(transcript)
    assert completed.returncode == 0, transcript[-3000:]
    assert "phase healthy done" in transcript and "phase in-service done" in transcript
    signal_log = sandbox / "cfn-signal.log"
    signals = signal_log.read_text().splitlines() if signal_log.exists() else []
    if stack_status == "UPDATE_COMPLETE":
        assert signals == [] and "no operation waits for a signal" in transcript
    else:
        [signal_call] = signals
        resource = exports["EV_SIGNAL_RESOURCE"]
        assert f"--success true --stack {STACK} --resource {resource}" in signal_call
        assert ("cfn-signal refused" in transcript) is not resource_waits
    recorded = calls.read_text().splitlines()
    # The Auto Scaling calls: none (nothing reports this instance); the rollout's reads only.
    assert not [call for call in recorded if "autoscaling" in call], recorded
    assert "elbv2 describe-target-health" in recorded and "cloudformation describe-stacks" in recorded
    [seen] = boto3.client("autoscaling", region_name="us-east-1").describe_auto_scaling_instances(
        InstanceIds=[instance_id]
    )["AutoScalingInstances"]
    assert seen["HealthStatus"].upper() == "HEALTHY"
    assert (sandbox / "systemctl.log").read_text().splitlines() == [
        "daemon-reload",
        "enable --now evision-web.service",
        "enable --now evision-standby@1.service",
    ]

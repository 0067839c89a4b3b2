"""Rendering the user data: parameters land as quoted exports before a stub that fetches and runs
the bootstrap; the bootstrap script refuses bad input."""

from __future__ import annotations

import os
import stat
import subprocess
from pathlib import Path

import pytest

from infra.user_data import BOOTSTRAP_SCRIPT, FETCH_AND_RUN, render_bootstrap


def render(**overrides) -> str:
    values = {
        "role": "worker",
        "bundle_url": "s3://assets/bundle.zip",
        "bootstrap_url": "s3://assets/bootstrap.sh",
        "service_env": {"EVISION_BACKEND": "aws", "EVISION_INPUT_BUCKET": "in-bucket"},
        "drain_seconds": 120,
    }
    return render_bootstrap(**{**values, **overrides})


def test_parameters_are_exports_before_the_stub_that_fetches_and_runs_the_bootstrap():
    script = render()
    assert script.startswith("#!/bin/bash\n")
    exports = [line for line in script.splitlines() if line.startswith("export ")]
    assert exports == [
        "export EV_ROLE=worker",
        "export EV_BOOTSTRAP_URL=s3://assets/bootstrap.sh",
        "export EV_BUNDLE_URL=s3://assets/bundle.zip",
        "export EV_DRAIN_SECONDS=120",
        "export EV_WEB_PORT=80",
        "export EV_LOCK=requirements.lock",
        "export EV_SERVICE_ENV='EVISION_BACKEND EVISION_INPUT_BUCKET'",
        "export EVISION_BACKEND=aws",
        "export EVISION_INPUT_BUCKET=in-bucket",
    ]
    # The rest is the stub; the bootstrap script itself is not user data (EC2's 16 KB limit).
    assert script.endswith("\n".join(exports) + "\n" + FETCH_AND_RUN)
    assert len(script.encode()) < 2048
    subprocess.run(["bash", "-n"], input=script, text=True, check=True)


def fake_aws(tmp_path: Path, objects: dict[str, Path]) -> dict[str, str]:
    """`aws s3 cp URL FILE` copying a local file for each known URL (failing for others), and a
    `sleep` that does not: the environment to run the user data with."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    cases = "".join(f'    "{url}") cp "{path}" "$5" ;;\n' for url, path in objects.items())
    (bin_dir / "aws").write_text(
        f'#!/bin/sh\necho "$*" >> "{tmp_path}/aws.log"\ncase "$4" in\n{cases}    *) exit 1 ;;\nesac\n'
    )
    (bin_dir / "sleep").write_text("#!/bin/sh\n")
    for tool in bin_dir.iterdir():
        tool.chmod(tool.stat().st_mode | stat.S_IXUSR)
    return {"PATH": f"{bin_dir}:{os.environ['PATH']}", "EV_ROOT": str(tmp_path / "root")}


def test_the_stub_runs_the_fetched_bootstrap_with_the_exports(tmp_path):
    fetched = tmp_path / "bootstrap.sh"
    fetched.write_text('echo "role=$EV_ROLE bundle=$EV_BUNDLE_URL backend=$EVISION_BACKEND"; exit 7\n')
    env = fake_aws(tmp_path, {"s3://assets/bootstrap.sh": fetched})
    ran = subprocess.run(
        ["bash"], input=render(), env=env, capture_output=True, text=True, timeout=30, check=False
    )
    assert ran.returncode == 7, ran.stderr  # the bootstrap's own exit: the stub exec'd it
    assert ran.stdout == "role=worker bundle=s3://assets/bundle.zip backend=aws\n"
    assert (tmp_path / "root/opt/evision/bootstrap.sh").read_text() == fetched.read_text()


def test_the_stub_retries_the_fetch_then_fails(tmp_path):
    env = fake_aws(tmp_path, {})
    ran = subprocess.run(
        ["bash"], input=render(), env=env, capture_output=True, text=True, timeout=30, check=False
    )
    assert ran.returncode == 1 and "could not fetch s3://assets/bootstrap.sh" in ran.stderr
    assert len((tmp_path / "aws.log").read_text().splitlines()) == 6


def test_values_are_shell_quoted():
    script = render(service_env={"EVISION_INPUT_BUCKET": "a'b $(reboot)"})
    assert "export EVISION_INPUT_BUCKET='a'\"'\"'b $(reboot)'" in script


def test_names_must_be_shell_variables():
    with pytest.raises(ValueError, match="not a shell variable name"):
        render(service_env={"evision-bucket": "x"})


def run_script(tmp_path, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["bash", str(BOOTSTRAP_SCRIPT)],
        env={"PATH": os.environ["PATH"], "EV_ROOT": str(tmp_path), **env},
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )


def test_the_script_refuses_a_missing_or_unknown_role(tmp_path):
    missing = run_script(tmp_path, EV_BUNDLE_URL="s3://b/k")
    assert missing.returncode != 0 and "EV_ROLE" in missing.stderr
    unknown = run_script(tmp_path, EV_ROLE="db", EV_BUNDLE_URL="s3://b/k")
    assert unknown.returncode == 2 and "EV_ROLE must be worker or web" in unknown.stderr
    assert not (tmp_path / "opt").exists()  # refused before touching anything


def test_every_service_variable_in_the_synthesized_user_data_is_a_known_setting(synthesized):
    """A renamed settings field fails here instead of silently not reaching EC2."""
    import json
    import re

    from services.log_config import LoggingSettings
    from services.web.settings import WebSettings
    from services.worker.settings import WorkerSettings

    by_role = {
        "worker": WorkerSettings.variables() | LoggingSettings.variables(),
        "web": WebSettings.variables() | LoggingSettings.variables(),
        "standby": WorkerSettings.variables() | LoggingSettings.variables(),  # on web instances
    }
    seen: dict[str, set[str]] = {}
    for resource in synthesized.of_type("AWS::EC2::LaunchTemplate").values():
        text = json.dumps(resource)
        [role] = re.findall(r"export EV_ROLE=(\w+)", text)
        for names, of in (("EV_SERVICE_ENV", role), ("EV_STANDBY_ENV", "standby")):
            listed = re.findall(rf"export {names}='([^']*)'", text)
            seen.setdefault(of, set()).update(n for n in " ".join(listed).split() if n.startswith("EVISION_"))
    assert set(seen) == set(by_role)
    for role, variables in seen.items():
        assert variables, role
        assert variables <= by_role[role], f"{role}: unknown {sorted(variables - by_role[role])}"
    assert {"EVISION_BACKEND", "EVISION_THREADS", "EVISION_ASG_NAME"} <= seen["worker"]
    assert {"EVISION_BACKEND", "EVISION_REPLY_QUEUE_PREFIX", "EVISION_WEB_PROCESSES"} <= seen["web"]
    assert {"EVISION_BACKEND", "EVISION_THREADS", "EVISION_STANDBY_GROUP"} <= seen["standby"]


def test_the_instances_install_offline_from_the_pinned_wheelhouse():
    """No package index at boot: --no-index, hashes checked against the lock, the service's own wheel."""
    script = render()
    lines = BOOTSTRAP_SCRIPT.read_text().splitlines()
    commands = [line for line in lines if not line.lstrip().startswith("#")]
    install = [line for line in commands if "pip install" in line or "pip_offline" in line]
    assert any("--no-index" in line for line in install), install
    assert any('--require-hashes -r "$app_dir/src/$EV_LOCK"' in line for line in install), install
    assert "export EV_LOCK=requirements.lock\n" in script  # the default; the OpenVINO one by engine
    assert "export EV_LOCK=requirements-openvino.lock\n" in render_bootstrap(
        role="worker",
        bundle_url="s3://b/k",
        bootstrap_url="s3://b/s",
        service_env={},
        lock="requirements-openvino.lock",
    )
    assert any("elastic_vision-*.whl" in line for line in install), install
    assert not any("pip install" in line and "--no-index" not in line for line in install), install


def test_the_lock_pins_every_runtime_dependency_with_hashes():
    import re
    import tomllib
    from pathlib import Path

    root = Path(__file__).resolve().parents[2]
    lock = (root / "requirements.lock").read_text()
    pinned = {
        re.split(r"[=\s]", line)[0].lower().replace("_", "-") for line in lock.splitlines() if "==" in line
    }
    declared = tomllib.loads((root / "pyproject.toml").read_text())["project"]["dependencies"]
    names = {re.split(r"[<>=!;\[ ]", spec)[0].lower().replace("_", "-") for spec in declared}
    assert names <= pinned, names - pinned
    blocks = lock.split("==")[1:]
    assert blocks and all("--hash=sha256:" in block for block in blocks)

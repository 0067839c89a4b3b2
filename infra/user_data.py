"""Renders the EC2 user data of one role (worker or web): a stub that runs the bootstrap from S3.

EC2 takes at most 16 KB of user data, raw, before base64 (EC2 User Guide, "Run commands when you
launch an EC2 instance with user data input"; 2026-12), and `infra/bootstrap/bootstrap.sh` alone
is most of that. So the user data is only `export` lines for the bootstrap's parameters and the
service's settings, then a few lines that download the script (its own CDK asset, beside the
bundle: `ServiceBundle.bootstrap_url`) and run it. Values may be CDK tokens (bucket and queue
names): they are quoted for the shell and resolved by CloudFormation.
tests/infra/test_user_data_size.py renders the synthesized user data with worst-case values.
"""

from __future__ import annotations

import re
import shlex
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

Role = Literal["worker", "web"]


@dataclass(frozen=True, slots=True)
class LogShipping:
    """The CloudWatch Logs groups an instance ships to (values may be tokens)."""

    service: str  # the role's group: the service's JSON lines
    bootstrap: str  # the bootstrap's output

    def parameters(self) -> dict[str, str]:
        return {"EV_LOG_GROUP": self.service, "EV_BOOTSTRAP_LOG_GROUP": self.bootstrap}


@dataclass(frozen=True, slots=True)
class Signal:
    """Where a web instance signals CloudFormation once it serves (values may be tokens)."""

    stack: str
    resource: str  # the Auto Scaling group's logical id
    target_group: str  # the signal waits until this target group sees the instance healthy
    health_seconds: int

    def parameters(self) -> dict[str, str]:
        return {
            "EV_SIGNAL_STACK": self.stack,
            "EV_SIGNAL_RESOURCE": self.resource,
            "EV_TARGET_GROUP": self.target_group,
            "EV_HEALTH_SECONDS": str(self.health_seconds),
        }


@dataclass(frozen=True, slots=True)
class Standby:
    """Standby workers on a web instance (`evision worker --standby`, their own systemd units)."""

    workers: int
    service_env: Mapping[str, str]  # the standby's settings (values may be tokens)
    memory_max_mib: int

    def parameters(self) -> dict[str, str]:
        return {
            "EV_STANDBY_WORKERS": str(self.workers),
            "EV_STANDBY_MEMORY_MAX": f"{self.memory_max_mib}M",
            "EV_STANDBY_ENV": " ".join(self.service_env),
        }


@dataclass(frozen=True, kw_only=True)
class Bootstrap:
    """What the instances of one role boot with (see `render_bootstrap`); the host group adds where
    its bundle is and its own name (`render`)."""

    role: Role
    service_env: Mapping[str, str]
    drain_seconds: int = 90
    web_port: int = 80
    lock: str = "requirements.lock"
    launch_hook: str = ""
    signal: Signal | None = None
    logs: LogShipping | None = None
    standby: Standby | None = None

    def render(self, *, bundle_url: str, bootstrap_url: str, group: str) -> str:
        return render_bootstrap(
            role=self.role,
            bundle_url=bundle_url,
            bootstrap_url=bootstrap_url,
            service_env=self.service_env,
            drain_seconds=self.drain_seconds,
            web_port=self.web_port,
            lock=self.lock,
            group=group,
            launch_hook=self.launch_hook,
            signal=self.signal,
            logs=self.logs,
            standby=self.standby,
        )


BOOTSTRAP_SCRIPT = Path(__file__).parent / "bootstrap" / "bootstrap.sh"
# After the exports: fetch the bootstrap and replace this shell with it. `aws` is on Amazon Linux
# 2023's AMI (installed here only where an image lacks it). A fetch that never succeeds reports
# nothing: the worker's launch hook ABANDONs at its timeout, a web instance fails its load balancer
# health check after the grace period; either way the group replaces the instance.
FETCH_AND_RUN = """\
set -uo pipefail
command -v aws >/dev/null || dnf install -y awscli-2
bootstrap="${EV_ROOT:-}/opt/evision/bootstrap.sh"
mkdir -p "${bootstrap%/*}"
for attempt in 1 2 3 4 5 6; do
    aws s3 cp --only-show-errors "$EV_BOOTSTRAP_URL" "$bootstrap" && exec bash "$bootstrap"
    sleep $((attempt * 5))
done
echo "evision: could not fetch $EV_BOOTSTRAP_URL" >&2
exit 1
"""
_NAME = re.compile(r"[A-Z_][A-Z0-9_]*")


def render_bootstrap(
    *,
    role: Role,
    bundle_url: str,
    bootstrap_url: str,
    service_env: Mapping[str, str],
    drain_seconds: int = 90,
    web_port: int = 80,
    lock: str = "requirements.lock",
    group: str = "",
    launch_hook: str = "",
    signal: Signal | None = None,
    logs: LogShipping | None = None,
    standby: Standby | None = None,
) -> str:
    """The user data (a stub running the bootstrap at `bootstrap_url`) that installs and starts
    `role` with `service_env` as its settings; `group` (and its `launch_hook`) are told when the
    instance cannot serve; `signal`: the web tier's rollout signal; `standby`: standby workers
    beside the web tier."""
    standby_env: Mapping[str, str] = {}
    if standby is not None and standby.workers > 0:
        if role != "web":
            raise ValueError("standby workers live on web instances")
        standby_env = standby.service_env
        # One set of shell variables feeds both env files: a name both use must mean the same.
        clashes = sorted(n for n in standby_env if n in service_env and service_env[n] != standby_env[n])
        if clashes:
            raise ValueError(f"the web tier and its standby set {clashes} differently")
    parameters = {
        "EV_ROLE": role,
        **({"EV_GROUP": group} if group else {}),
        **({"EV_LAUNCH_HOOK": launch_hook} if launch_hook else {}),
        **({} if signal is None else signal.parameters()),
        **({} if logs is None else logs.parameters()),
        "EV_BOOTSTRAP_URL": bootstrap_url,
        "EV_BUNDLE_URL": bundle_url,
        "EV_DRAIN_SECONDS": str(drain_seconds),
        "EV_WEB_PORT": str(web_port),
        "EV_LOCK": lock,
        "EV_SERVICE_ENV": " ".join(service_env),
        **service_env,
        **({} if not standby_env or standby is None else standby.parameters()),
        **standby_env,
    }
    for name in parameters:
        if not _NAME.fullmatch(name):
            raise ValueError(f"not a shell variable name: {name!r}")
    exports = "".join(f"export {name}={shlex.quote(value)}\n" for name, value in parameters.items())
    return f"#!/bin/bash\n# Elastic Vision user data (infra/user_data.py)\n{exports}{FETCH_AND_RUN}"

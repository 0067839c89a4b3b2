"""Renders `infra/bootstrap/bootstrap.sh` into EC2 user data for one role (worker or web).

The script is a real file; rendering only puts `export` lines for its parameters and the
service's settings where the script has its `# @@PARAMETERS@@` marker. Values may be CDK tokens
(bucket and queue names): they are quoted for the shell and resolved by CloudFormation.
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


BOOTSTRAP_SCRIPT = Path(__file__).parent / "bootstrap" / "bootstrap.sh"
MARKER = "# @@PARAMETERS@@"
_NAME = re.compile(r"[A-Z_][A-Z0-9_]*")


def render_bootstrap(
    *,
    role: Role,
    bundle_url: str,
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
    """The user-data script that installs and starts `role` with `service_env` as its settings;
    `group` (and its `launch_hook`) are told when the instance cannot serve; `signal`: the web
    tier's rollout signal; `standby`: standby workers beside the web tier."""
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
    exports = "\n".join(f"export {name}={shlex.quote(value)}" for name, value in parameters.items())
    script = BOOTSTRAP_SCRIPT.read_text()
    if script.count(MARKER) != 1:
        raise ValueError(f"{BOOTSTRAP_SCRIPT} must contain the line {MARKER!r} exactly once")
    return script.replace(MARKER, exports)

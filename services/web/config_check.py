"""What the web tier checks once before it binds its port: a configuration that cannot work is
refused with one line, instead of every web process failing at start and being respawned."""

from __future__ import annotations

from services.adapters.registry import open_backend
from services.jobs.webhook import webhook_secret
from services.web.front_door.api_keys import load_api_keys
from services.web.settings import WebSettings


def configuration_problem(settings: WebSettings) -> str | None:
    """One line saying what cannot work and how to fix it, or None if the web tier can start."""
    backend = open_backend(settings)
    try:
        for what, check in (
            ("webhook secret", lambda: webhook_secret(settings, backend.deployment.read_secret)),
            ("API keys", lambda: load_api_keys(settings, backend.deployment.read_secret)),
        ):
            try:
                check()
            except (LookupError, PermissionError) as exc:
                return (
                    f"{what}: {exc}: create it in this region, or grant this role ssm:GetParameter "
                    "(and kms:Decrypt for a customer-managed key), or unset its parameter"
                )
            except (OSError, ValueError) as exc:
                return f"{what}: {exc}: fix the file or parameter (keys of 16+ characters)"
    finally:
        backend.close()
    return None

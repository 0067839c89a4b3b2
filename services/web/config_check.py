"""What the web tier checks once before it binds its port: a configuration that cannot work is
refused with one line, instead of every web process failing at start and being respawned."""

from __future__ import annotations

from services.adapters.registry import open_backend
from services.web.front_door.api_keys import load_api_keys
from services.web.settings import WebSettings


def configuration_problem(settings: WebSettings) -> str | None:
    """One line saying what cannot work and how to fix it, or None if the web tier can start."""
    backend = open_backend(settings)
    try:
        load_api_keys(settings, backend.read_secret)
    except (LookupError, PermissionError) as exc:
        return (
            f"API keys: {exc}: create it in this region, or grant this role ssm:GetParameter "
            "(and kms:Decrypt for a customer-managed key), or unset the API keys parameter"
        )
    except (OSError, ValueError) as exc:
        return f"API keys: {exc}: fix the key file or parameter (one key of 16+ characters per line)"
    finally:
        backend.close()
    return None

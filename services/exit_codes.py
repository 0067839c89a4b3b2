"""Process exit codes the service manager acts on (infra/bootstrap/bootstrap.sh uses the numbers)."""

from __future__ import annotations

# sysexits.h EX_CONFIG: the configuration cannot work, so a restart cannot help; the systemd units
# name it in RestartPreventExitStatus= (a test checks they agree).
CONFIGURATION_ERROR = 78

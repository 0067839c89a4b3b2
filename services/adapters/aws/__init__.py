"""The `aws` backend (S3 + SQS via boto3): the registry's entry point is `plugin`."""

from __future__ import annotations

from contextlib import AbstractContextManager

from services.ports.backend import Backend, RunningEmulator
from services.settings import BackendSettings


class _AwsPlugin:
    def open(self, settings: BackendSettings) -> Backend:
        from services.adapters.aws.backend import open_aws

        return open_aws(settings)

    def emulator(self, *, own_process: bool = False) -> AbstractContextManager[RunningEmulator] | None:
        """moto: in a process of its own, or in this one (its variables then set in os.environ)."""
        from services.adapters.aws.emulator import emulator_process, emulator_thread

        return emulator_process() if own_process else emulator_thread()


plugin = _AwsPlugin()

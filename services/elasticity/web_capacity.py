"""How many uploads per second the web tier serves, from the web process's measured CPU per upload.

The web tier's work per upload is CPU in its own process (HTTP parsing, the S3 put, the SQS
send, the reply), so one instance serves about `vcpus / cpu_per_upload` uploads per second with
one web process per vCPU. A t3 instance runs in unlimited mode by default, so it may use its full
vCPUs beyond the baseline, paying for surplus credits ($0.05 per vCPU-hour, Linux) (EC2 user
guide, "Unlimited mode for burstable performance instances"). `infra/` scales the web group on
the load balancer's requests per target with `target_requests_per_minute`, and `evision simulate`
shows a deployment's maximum throughput, web against workers.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class WebCapacity:
    # `evision bench`, HTTP on the aws backend against moto at concurrency 32: the web process's
    # CPU per upload, moto's own excluded (2-vCPU machine, 2026-12-02): 7.17 ms in a run where the
    # bare model took 27.5 ms of CPU per image (the machine was busy), scaled to the README run's
    # 11.5 ms per image: 3.0 ms. About half is the S3 put's botocore call.
    cpu_ms_per_upload: float = 3.0
    vcpus: int = 2  # t3.small (infra/config.py), one web process per vCPU
    # Target tracking holds requests per instance at this share of its capacity: the metric is
    # per minute and a new instance needs ~1.5 minutes to serve (launch, boot, install), so the
    # group must absorb a doubling of the rate while it grows.
    target_utilisation: float = 0.5

    @property
    def uploads_per_second(self) -> float:
        """One instance at full use of its vCPUs."""
        return self.vcpus * 1000.0 / self.cpu_ms_per_upload

    @property
    def target_requests_per_minute(self) -> int:
        """ALBRequestCountPerTarget to hold (an upload that waits its result is one request)."""
        return int(self.uploads_per_second * self.target_utilisation * 60)

    def maximum(self, instances: int) -> float:
        """Uploads per second of `instances` web instances."""
        return instances * self.uploads_per_second

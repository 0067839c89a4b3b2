"""A deployment's maximum throughput at full scale: its web tier against its workers.

The workers' side is `max_capacity` instances at the calibrated images per second; the web
tier's is `web_instances` at the uploads per second its measured CPU per upload allows
(`services.elasticity.web_capacity`). The smaller of the two bounds the service.
"""

from __future__ import annotations

from dataclasses import dataclass

from services.elasticity.simulator.calibration import Calibration
from services.elasticity.web_capacity import WebCapacity


@dataclass(frozen=True, slots=True)
class DeploymentMaximum:
    web_instances: int
    web_uploads_per_second: float
    workers: int
    worker_images_per_second: float

    @property
    def bound_by(self) -> str:
        return "web tier" if self.web_uploads_per_second < self.worker_images_per_second else "workers"

    def describe(self, calibration: Calibration) -> str:
        return (
            f"at full scale: web {self.web_instances} x {calibration.web_instance_type} = "
            f"{self.web_uploads_per_second:,.0f} uploads/s; workers {self.workers} x "
            f"{calibration.worker_instance_type} = {self.worker_images_per_second:,.0f} images/s "
            f"-> bound by the {self.bound_by}"
        )


def deployment_maximum(
    calibration: Calibration, *, workers: int, web_instances: int, web: WebCapacity | None = None
) -> DeploymentMaximum:
    web = web or WebCapacity()
    return DeploymentMaximum(
        web_instances=web_instances,
        web_uploads_per_second=web.maximum(web_instances),
        workers=workers,
        worker_images_per_second=workers * calibration.speed.images_per_second,
    )

"""Names of the custom CloudWatch metrics, shared by their publishers and the CDK dashboard.

The worker and the web tier publish these through the aws adapter (`services/adapters/aws/`:
`metrics.py`, `capacity.py`); `infra/dashboard.py` graphs them and the instance roles allow
`cloudwatch:PutMetricData` only in `NAMESPACE`. Change a name here and both sides move; a
synthesis test checks that every metric a dashboard widget reads has a publisher.
"""

from __future__ import annotations

from typing import Final

NAMESPACE: Final = "ElasticVision"

# Dimension name and its values: which tier published the datapoint.
SERVICE: Final = "Service"
WORKER: Final = "worker"
WEB: Final = "web"

# Worker tier.
IMAGES_PROCESSED: Final = "ImagesProcessed"  # Count: results written (ok or error) per batch
BATCH_LATENCY: Final = "BatchLatency"  # Milliseconds: receive -> last reply sent, per batch
IMAGE_LATENCY: Final = "ImageLatency"  # Milliseconds: submit time -> result written, per image

# The request queue's depth, published by the web tier every 10 s at high resolution
# (StorageResolution=1) so that 10-second alarms can read it; dimension QUEUE = the queue's name.
QUEUE: Final = "QueueName"
QUEUE_VISIBLE: Final = "QueueVisibleMessages"  # Count: ApproximateNumberOfMessages
QUEUE_IN_FLIGHT: Final = "QueueInFlightMessages"  # Count: ApproximateNumberOfMessagesNotVisible

"""The ports the services talk through, one module per role (storage, staging, capacity,
telemetry, job locations, models, deployment checks, the classifier) and the `Backend` that hands
them out (`backend`). Callers import from the role they need (`from services.ports.storage import
BlobStore`): this package re-exports nothing, so the web tier loads no NumPy (only `classifier`
imports it).

Web, worker and supervisor code depends only on these protocols. A backend is a plug-in:
`services.adapters.registry` finds it by name (`EVISION_BACKEND`); `services/adapters/local/`
(files + SQLite) and `services/adapters/aws/` (S3 + SQS) implement it. No code outside
`services/adapters/` names a backend: what differs between them is asked of the `Backend`.
"""

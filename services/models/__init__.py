"""The model registry's one home: `catalog` (registering a checked folder, and what GET /v1/models
lists), `resolver` (what a request's `model` means) and `errors` (the one UnknownModelError).

Where a registered model's files and entry are stored is the adapters' side (`ModelRegistry` in
services/ports/models.py, `services/adapters/model_entry.py`); loading one into a worker is the worker's
(`services/worker/model_pool.py`).
"""

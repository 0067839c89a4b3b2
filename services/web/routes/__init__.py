"""The HTTP routes, one module per resource: upload/classify, results, status/health, the page."""

from __future__ import annotations

from fastapi import APIRouter

from services.web.routes import job_uploads, jobs, models, page, results, status, upload

ROUTERS: tuple[APIRouter, ...] = (
    upload.router,
    results.router,
    job_uploads.router,
    jobs.router,
    models.router,
    status.router,
    page.router,
)

# The OpenAPI tags, in the order /docs shows them.
TAGS = [
    {"name": "classify", "description": "Upload an image and get what is in it."},
    {"name": "results", "description": "Stored results, by request id (any web process)."},
    {
        "name": "jobs",
        "description": "Batch jobs: a folder or bucket prefix in, JSON Lines out, with progress.",
    },
    {"name": "models", "description": "The models this deployment has (evision model add registers one)."},
    {"name": "status", "description": "Queue depth, workers, health."},
    {"name": "page", "description": "The browser page that uploads an image."},
]

"""`GET /`: the upload page (one static HTML file, label and top-5 rendered in the browser)."""

from __future__ import annotations

from importlib import resources

from fastapi import APIRouter
from fastapi.responses import HTMLResponse

router = APIRouter()
_INDEX = resources.files("services.web").joinpath("static/index.html")


@router.get("/", response_class=HTMLResponse, summary="The upload page (HTML)", tags=["page"])
async def index() -> HTMLResponse:
    return HTMLResponse(_INDEX.read_text(encoding="utf-8"))

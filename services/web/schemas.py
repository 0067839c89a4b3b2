"""Response bodies of the web API (requests are multipart uploads, see `uploads/form.py`)."""

from __future__ import annotations

from pydantic import BaseModel, Field

from services.contract import ErrorKind, LabelScore, Result


class ClassifyResponse(BaseModel):
    id: str
    image: str
    label: str
    score: float
    top5: list[LabelScore]
    model: str
    timings: dict[str, float] = Field(description="milliseconds per stage, measured by the worker")

    @classmethod
    def from_result(cls, result: Result) -> ClassifyResponse:
        assert result.label is not None and result.score is not None
        return cls(
            id=result.id,
            image=result.image,
            label=result.label,
            score=result.score,
            top5=result.top5,
            model=result.model,
            timings=result.timings,
        )


class PendingResponse(BaseModel):
    id: str
    status: str = "pending"
    location: str = Field(description="poll this URL (GET) for the result")


class ErrorResponse(BaseModel):
    error: ErrorKind = Field(description="what went wrong, from one vocabulary (README: Errors)")
    reason: str
    id: str | None = None


class Health(BaseModel):
    status: str
    backend: str
    reply_consumer: bool

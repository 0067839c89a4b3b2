"""One finding per line: what is wrong, why it matters, how to fix it."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

Severity = Literal["ok", "warn", "fail"]


@dataclass(frozen=True, slots=True)
class Finding:
    check: str
    severity: Severity
    what: str
    why: str = ""
    fix: str = ""

    def line(self) -> str:
        parts = [f"{self.severity.upper():4} {self.check}: {self.what}"]
        if self.why:
            parts.append(f"why: {self.why}")
        if self.fix:
            parts.append(f"fix: {self.fix}")
        return "; ".join(parts)

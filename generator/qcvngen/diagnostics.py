"""Diagnostics: what went wrong in a spec, where, and how to say it."""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum


class Severity(str, Enum):
    ERROR = "error"
    WARNING = "warning"


@dataclass(frozen=True, order=True)
class Diagnostic:
    """One finding, printed as ``file:line:col: logical.path: message``."""

    file: str
    line: int
    col: int
    spec_path: str
    message: str
    severity: Severity = Severity.ERROR

    def __str__(self) -> str:
        # Spec text quoted in a message must not forge another diagnostic line or hide itself.
        from .render import one_line

        where = f"{one_line(self.file)}:{self.line}:{self.col}"
        prefix = "" if self.severity is Severity.ERROR else "warning: "
        path = f" {one_line(self.spec_path)}:" if self.spec_path else ""
        return f"{where}:{path} {prefix}{one_line(self.message)}"


class SpecError(Exception):
    """Raised when a spec cannot be turned into an IR; carries every diagnostic found."""

    def __init__(self, diagnostics: list[Diagnostic]) -> None:
        self.diagnostics = sorted(diagnostics)
        super().__init__("\n".join(str(d) for d in self.diagnostics))


def has_errors(diagnostics: list[Diagnostic]) -> bool:
    return any(d.severity is Severity.ERROR for d in diagnostics)

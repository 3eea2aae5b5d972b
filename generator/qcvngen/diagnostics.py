"""Diagnostics: what went wrong in a spec, where, and how to say it."""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum


class Severity(str, Enum):
    """An error stops the build; a warning is printed and the build goes on."""

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

    @property
    def is_error(self) -> bool:
        """Whether this finding stops the build."""
        return self.severity is Severity.ERROR

    def __str__(self) -> str:
        # Spec text quoted in a message must not forge another diagnostic line or hide itself.
        from .render import one_line

        where = f"{one_line(self.file)}:{self.line}:{self.col}"
        prefix = "" if self.is_error else "warning: "
        path = f" {one_line(self.spec_path)}:" if self.spec_path else ""
        return f"{where}:{path} {prefix}{one_line(self.message)}"


def has_errors(diagnostics: list[Diagnostic]) -> bool:
    """Whether any diagnostic is an error (warnings alone let a build go on): the one test for it."""
    return any(d.is_error for d in diagnostics)


def error_count(diagnostics: list[Diagnostic]) -> int:
    """How many of ``diagnostics`` are errors."""
    return sum(1 for d in diagnostics if d.is_error)

"""`qcvngen learn`: turn captured traffic shapes into a report and, on request, observed spec fields.

Reading (:mod:`.read`), comparing with the spec (:mod:`.compare`), rendering (:mod:`.render`) and
writing into spec/ (:mod:`.write`) are separate steps, so that the CLI and the tests call the same
functions.
"""

from __future__ import annotations

from .compare import Report, compare
from .read import Capture, LearnInputError, read_inputs
from .render import FORMATS, render
from .write import WriteResult, write_spec

__all__ = [
    "FORMATS",
    "Capture",
    "LearnInputError",
    "Report",
    "WriteResult",
    "compare",
    "read_inputs",
    "render",
    "write_spec",
]

"""`qcvngen diff`: classify what changed between two versions of the spec, for data submitters.

Three steps, one module each: :mod:`.reading` turns a folder or a git revision into a spec folder,
:mod:`.comparing` matches two IRs and classifies every change, :mod:`.rendering` renders the notice
(text, JSON, Markdown). :mod:`.model` holds the data passed between them.
"""

from __future__ import annotations

from .comparing import compare, type_impact
from .model import Change, Impact, Scope, Side, SpecDiff
from .reading import DiffInputError, open_input
from .rendering import FORMATS, render, render_json, render_markdown, render_text

__all__ = [
    "FORMATS",
    "Change",
    "DiffInputError",
    "Impact",
    "Scope",
    "Side",
    "SpecDiff",
    "compare",
    "open_input",
    "render",
    "render_json",
    "render_markdown",
    "render_text",
    "type_impact",
]

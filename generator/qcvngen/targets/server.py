"""The generated FastAPI server stubs (qcvn120_server): the national-portal side, behind a handler interface."""

from __future__ import annotations

from .. import ir
from .common import Context, Files


def render(reg: ir.Regulation, ctx: Context) -> Files:
    return {}

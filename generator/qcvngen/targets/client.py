"""The generated httpx client (sync and async) of the qcvn120_client package."""

from __future__ import annotations

from .. import ir
from .common import Context, Files


def render(reg: ir.Regulation, ctx: Context) -> Files:
    return {}

"""The generated FastAPI server stubs (qcvn120_server): the national-portal side, behind a handler interface."""

from __future__ import annotations

from pathlib import PurePosixPath

from .. import ir
from ..render import render as render_template
from ..version import __version__
from .common import Context, Files, dump_json
from .openapi import document

ROOT = PurePosixPath("server")
PACKAGE = ROOT / "qcvn120_server"


def render(reg: ir.Regulation, ctx: Context) -> Files:
    packets = [
        {
            "name": p.name,
            "number": p.number,
            "method": p.method,
            "direction": p.direction,
            "endpoint": p.endpoint,
            "purpose_en": p.purpose.en,
        }
        for p in reg.packets
    ]
    local_services = [
        {"name": s.name, "method": s.method, "title_en": s.title.en, "inference": s.inference}
        for s in reg.envelope.local_services
    ]
    view = {
        "ctx": ctx,
        "version": __version__,
        "packets": packets,
        "local_services": local_services,
        "default_paths": {e.name: e.path for e in reg.envelope.endpoints},
        "local_paths": {s.name: s.path for s in reg.envelope.local_services},
    }
    files: Files = {
        ROOT / "pyproject.toml": render_template("server/pyproject.toml.jinja", **view),
        PACKAGE / "py.typed": "",
        # The app serves exactly the document in generated/openapi/.
        PACKAGE / "openapi.json": dump_json(document(reg, ctx), first="x-generated-by"),
    }
    for name in ("__init__.py", "handler.py", "app.py"):
        files[PACKAGE / name] = render_template(f"server/qcvn120_server/{name}.jinja", **view)
    return files

"""The generated FastAPI server stubs (qcvn120_server): the national-portal side, behind a handler interface.

The spec-independent modules come verbatim from ``qcvngen.runtime.server``; the templates hold only
the service and path tables, the handler base class and the package's ``__init__``. The package
carries its own model layer (the same models, wire types and code lists as the client, from
``python_package.model_layer``) and imports it relatively: it never imports ``qcvn120_client``, so it
installs alone and can be vendored under any name, beside a client vendored under another.
"""

from __future__ import annotations

from pathlib import PurePosixPath

from .. import ir, naming
from ..learn.compare import code_paths
from ..render import py_docstring
from ..render import render as render_template
from ..version import __version__
from .client import capture_tables
from .common import Context, Files, dump_json, runtime_files
from .openapi import contract_document, document_text
from .python_package import model_layer

ROOT = PurePosixPath("server")
PACKAGE = ROOT / "qcvn120_server"

_RAISES = (
    "Raises:\n"
    "    ErrorAnswer: to answer with a non-zero ``error_code`` (``ALREADY_EXISTS`` -3, ``NOT_FOUND``"
    " -4 …); any other exception answers a 500 with an incident id."
)


def _tables(numbers: tuple[int, ...]) -> str:
    if not numbers:
        return "no field table"
    return ("Table " if len(numbers) == 1 else "Tables ") + ", ".join(str(n) for n in numbers)


def packet_doc(p: ir.Packet) -> str:
    """The docstring of a packet's handler method: purpose (en/vi), table, arguments, answer."""
    result = f"``result`` holds ``models.{p.result_record}`` items." if p.result_record else "no ``result``."
    return (
        f"{p.purpose.en}\n\n{p.purpose.vi}\n\n"
        f"QCVN 120 packet {p.number} ({p.direction}, {p.endpoint} endpoint), {_tables(p.tables)}.\n\n"
        "Args:\n"
        f"    request: the request, validated against ``models.{naming.request_model(p.name)}`` and the published"
        " schema.\n"
        "    context: the session's account, the endpoint class, the ``dstcode`` header and the unknown"
        " keys an open table accepted.\n\n"
        f"Returns:\n    The portal's answer; {result}\n\n{_RAISES}\n"
    )


def local_doc(s: ir.LocalService) -> str:
    """The docstring of a local service's handler method."""
    inference = " (an inference; see the spec)" if s.inference else ""
    return (
        f"{s.title.en}{inference}\n\n{s.title.vi}\n\n"
        f"Args:\n    request: the request, validated against ``models.{naming.request_model(s.name)}``.\n\n"
        f"Returns:\n    The answer; ``result`` holds ``models.{s.result_record}`` items.\n\n{_RAISES}\n"
    )


def request_code_paths(reg: ir.Regulation) -> list[tuple[str, list[str]]]:
    """Per packet whose request ``data`` has code fields, their key paths (sorted), for capture lines."""
    paths = [(p.name, sorted(code_paths(reg, p.data_record))) for p in sorted(reg.packets, key=lambda p: p.name)]
    return [(name, found) for name, found in paths if found]


def render(reg: ir.Regulation, ctx: Context) -> Files:
    """The server package: runtime modules, the spec-bound tables and handler, its pyproject."""
    packets = [
        {
            "name": p.name,
            "number": p.number,
            "method": p.method,
            "direction": p.direction,
            "endpoint": p.endpoint,
            "request_model": naming.request_model(p.name),
            "doc": py_docstring(packet_doc(p), 8),
        }
        for p in reg.packets
    ]
    local_services = [
        {
            "name": s.name,
            "method": s.method,
            "inference": s.inference,
            "request_model": naming.request_model(s.name),
            "doc": py_docstring(local_doc(s), 8),
        }
        for s in reg.envelope.local_services
    ]
    view = {
        "ctx": ctx,
        "version": __version__,
        "packets": packets,
        "request_code_paths": request_code_paths(reg),
        "wire_names": capture_tables(reg)[1],
        "local_services": local_services,
        "default_paths": {e.name: e.path for e in reg.envelope.endpoints},
        "local_paths": {s.name: s.path for s in reg.envelope.local_services},
    }
    files: Files = {
        ROOT / "pyproject.toml": render_template("server/pyproject.toml.jinja", **view),
        PACKAGE / "py.typed": "",
        # The app serves exactly the document in generated/openapi/.
        PACKAGE / "openapi.json": document_text(reg, ctx),
        # What the server judges requests by: the JSON Schemas (tolerant), not the canonical OpenAPI.
        PACKAGE / "contract.json": dump_json(contract_document(reg, ctx), first="x-generated-by"),
        **runtime_files(reg, ctx, "server", PACKAGE),
        **model_layer(reg, ctx, PACKAGE),
    }
    for name in ("__init__.py", "handler.py", "services.py", "capture_paths.py"):
        files[PACKAGE / name] = render_template(f"server/qcvn120_server/{name}.jinja", **view)
    return files

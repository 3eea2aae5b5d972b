"""The generated httpx client (sync and async) of the qcvn120_client package.

A small view model turns the IR into what the templates print: method signatures, endpoint
parameters and model names. Spec text reaches the templates only as values for the ``py`` and
``py_comment`` filters; identifiers are checked here, so a template never prints a raw spec string.
"""

from __future__ import annotations

import keyword
from dataclasses import dataclass
from pathlib import PurePosixPath

from .. import ir, naming
from ..render import render as render_template
from ..version import __version__
from .common import Context, Files

PACKAGE = PurePosixPath("python") / "qcvn120_client"
TEMPLATES = "python/qcvn120_client"

# Names the client classes define themselves: a packet method must not shadow them.
CLIENT_ATTRIBUTES = frozenset({"aclose", "base_url", "close", "login", "madonvi"})
# Names a push method takes besides its envelope parameters.
PUSH_ARGUMENTS = frozenset({"records", "self"})


@dataclass(frozen=True)
class EndpointView:
    name: str  # spec value: printed only through ``py``
    param: str  # the constructor argument, e.g. ``integration_path``
    path: str | None  # spec value (default of the argument); None: no default


@dataclass(frozen=True)
class ParamView:
    wire_name: str  # spec value: printed only through ``py``
    name: str  # keyword argument
    flag: bool  # bool argument sent as "True"/"False"
    required: bool

    @property
    def annotation(self) -> str:
        base = "bool" if self.flag else "str"
        return base if self.required else f"{base} | None"

    @property
    def default(self) -> str | None:
        if self.flag and self.required:
            return "False"  # a required flag still has an obvious default: the common case
        return None if self.required else "None"


@dataclass(frozen=True)
class PacketView:
    service: str  # spec value: printed only through ``py``
    method: str
    push: bool
    endpoint: str  # spec value: printed only through ``py``
    model: str | None  # models.<model>: push record or pull result class
    doc: str  # spec text: printed only through ``py``
    params: tuple[ParamView, ...]


def _identifier(name: str) -> str:
    if not name.isidentifier() or keyword.iskeyword(name):
        raise ValueError(f"not a Python identifier: {name!r}")
    return name


def endpoint_views(reg: ir.Regulation) -> list[EndpointView]:
    views: list[EndpointView] = []
    taken: set[str] = set()
    for endpoint in reg.envelope.endpoints:
        base = naming.field_identifier(endpoint.name).rstrip("_") or "endpoint"
        param, suffix = f"{base}_path", 1
        while param in taken:
            suffix += 1
            param = f"{base}_{suffix}_path"
        taken.add(param)
        views.append(EndpointView(endpoint.name, param, endpoint.path))
    if not any(v.name == "auth" for v in views):
        # Login needs an endpoint; without one in the spec the caller must name it.
        views.insert(0, EndpointView("auth", "auth_path" if "auth_path" not in taken else "login_path", None))
    return views


def packet_view(reg: ir.Regulation, packet: ir.Packet) -> PacketView:
    push = packet.direction == "push"
    reserved = PUSH_ARGUMENTS if push else frozenset({"self"})
    params: list[ParamView] = []
    for field in packet.params:
        name = _identifier(field.py_name)
        while name in reserved or name in {p.name for p in params}:
            name += "_"
        params.append(ParamView(field.wire_name, name, field.type.kind == "flag", field.required))
    method = _identifier(packet.method)
    while method in CLIENT_ATTRIBUTES:
        method += "_"
    model = packet.data_record if push else packet.result_record
    kind = "Push" if push else "Pull"
    doc = f"{kind} {packet.name} (Table 1, {packet.number}): {packet.purpose.en}"
    return PacketView(
        service=packet.name,
        method=method,
        push=push,
        endpoint=packet.endpoint,
        model=_identifier(model) if model is not None else None,
        doc=doc,
        params=tuple(params),
    )


def render(reg: ir.Regulation, ctx: Context) -> Files:
    endpoints = endpoint_views(reg)
    packets = [packet_view(reg, packet) for packet in reg.packets]
    common = {"ctx": ctx}
    return {
        PACKAGE / "errors.py": render_template(f"{TEMPLATES}/errors.py.jinja", **common),
        PACKAGE / "_core.py": render_template(f"{TEMPLATES}/_core.py.jinja", version=__version__, **common),
        PACKAGE / "client.py": render_template(
            f"{TEMPLATES}/client.py.jinja", endpoints=endpoints, packets=packets, **common
        ),
    }

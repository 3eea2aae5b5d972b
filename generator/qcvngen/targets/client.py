"""The generated httpx client (sync and async) of the qcvn120_client package.

The engine is the runtime (``qcvngen/runtime/client``), copied verbatim; this target renders only
what the spec shapes: the constructor's endpoint parameters, one method per packet with its
docstring (``Args:``/``Returns:``/``Raises:``, the regulation table and row), and the tables those
methods pass to the engine. A small view model turns the IR into what the template prints. Spec
text reaches the template only as literals made here or by the ``py`` filter; identifiers are
checked here, so the template never prints a raw spec string.
"""

from __future__ import annotations

import keyword
from dataclasses import dataclass, replace
from pathlib import PurePosixPath

from .. import ir, naming
from ..learn.compare import code_paths as answer_code_paths
from ..render import py
from ..render import py_docstring as docstring
from ..render import render as render_template
from ..version import __version__
from .common import Context, Files

PACKAGE = PurePosixPath("python") / "qcvn120_client"
TEMPLATES = "python/qcvn120_client"

# Names the client classes define themselves: a packet method must not shadow them.
CLIENT_ATTRIBUTES = frozenset({"aclose", "base_url", "close", "login", "madonvi"})
# Names a push method takes besides its envelope parameters.
PUSH_ARGUMENTS = frozenset({"records", "self"})
# The flag of a push that says "these records are updates": the new-or-update method sets it.
UPDATE_FLAG = "isUpdating"


@dataclass(frozen=True)
class OptionView:
    """One constructor parameter; ``passed`` ones go to the runtime base unchanged."""

    name: str
    annotation: str
    default: str | None
    doc: str
    passed: bool = True


# The constructor's settings besides the endpoint paths (which come from the spec).
LEADING_OPTIONS = (
    OptionView("username", "str", None, "the portal account's user name (never logged or shown)."),
    OptionView("password", "str", None, "its password (never logged or shown)."),
    OptionView("madonvi", "str", None, "the unit code sent as ``madonvi`` with every call."),
    OptionView("dstcode", "str | None", "None", "the ``dstcode`` header, for adapters that route by it."),
)
TRAILING_OPTIONS = (
    OptionView(
        "timeout",
        "float | httpx.Timeout",
        "30.0",
        "seconds per connect/read/write (or an ``httpx.Timeout``).",
        passed=False,
    ),
    OptionView(
        "verify",
        "Verify",
        "True",
        "``True`` (system trust store), a CA bundle path or an ``ssl.SSLContext``; never off.",
    ),
    OptionView(
        "logger",
        "logging.Logger | None",
        "None",
        'where exchanges are logged (default ``logging.getLogger("qcvn120_client")``).',
    ),
    OptionView("batch_size", "int", "100", "records per push request."),
    OptionView("max_retries", "int", "3", "retries after the first attempt, where safe."),
    OptionView("backoff", "float", "0.5", "first backoff delay in seconds (doubles, with jitter)."),
    OptionView("backoff_max", "float", "30.0", "longest backoff delay in seconds."),
    OptionView("retry_after_max", "float", "60.0", "longest ``Retry-After`` honoured, in seconds."),
    OptionView("deadline", "float", "120.0", "seconds one exchange may take in all (slow-drip guard)."),
    OptionView("session_ttl", "float", "600.0", "seconds a session token is reused."),
    OptionView(
        "session_error_codes",
        "Iterable[str]",
        "SESSION_ERROR_CODES",
        'error codes that mean "session invalid" (default ``("-2",)``).',
    ),
    OptionView(
        "max_response_bytes",
        "int",
        "MAX_RESPONSE_BYTES",
        "largest answer read, after decompression (32 MiB).",
    ),
    OptionView(
        "capture",
        "str | PathLike[str] | Callable[[dict[str, Any]], None] | None",
        "None",
        "off by default. A file path (JSON Lines, appended) or a callable given one dict per"
        " exchange: packet, endpoint, error_code, and per key path of the answer's records its"
        " JSON type, field kind, length and count — never a value (only the values of ``code``"
        " fields), refusals' messages with every value blanked; login is never recorded. The"
        " format: docs/capture.schema.json; read it with ``qcvngen learn``. A capture that"
        " cannot be written is logged (without values) and never fails the call. A refused"
        " exchange leaves one short entry (no value, no key). A file is capped: it and its"
        " rotated copies ``.1``-``.3`` stay within 64 MiB (``capture.CaptureFile(path,"
        " max_bytes=...)`` sets another cap); a FIFO, device or link is refused here.",
    ),
    OptionView(
        "strict_answers",
        "bool",
        "False",
        "``False`` (default): a pulled value that breaks the rule of a field the spec only guesses"
        " (membership not ``regulation``, or confidence below ``high``) is kept as sent, logged"
        " (field, rule and table, never the value) and listed in the result's ``warnings``;"
        " ``True``: any value off its rule fails the whole pull (ResponseFormatError).",
    ),
    OptionView(
        "transport",
        "httpx.BaseTransport | None",
        "None",
        "an httpx transport (tests, proxies).",
        passed=False,
    ),
)


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
    doc: str  # plain text for the docstring (escaped by ``docstring``)

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
    number: str  # spec value (row of Table 1): printed only through ``py`` or ``md``
    method: str
    push: bool
    endpoint: str  # spec value: printed only through ``py``
    model: str | None  # models.<model>: push record or pull result class
    docstring: str  # a complete, escaped string literal
    params: tuple[ParamView, ...]
    upsert: ParamView | None  # the update flag, when the packet has a new-or-update method
    upsert_docstring: str

    @property
    def returns(self) -> str:
        if self.push:
            return "list[BatchResult]"
        return f"PullResult[models.{self.model}]" if self.model is not None else "list[dict[str, Any]]"

    @property
    def other_params(self) -> tuple[ParamView, ...]:
        return tuple(p for p in self.params if p is not self.upsert)


@dataclass(frozen=True)
class ClientView:
    name: str
    engine: str
    is_async: bool
    docstring: str
    init_docstring: str
    options: tuple[OptionView, ...]

    @property
    def d(self) -> str:
        return "async " if self.is_async else ""

    @property
    def aw(self) -> str:
        return "await " if self.is_async else ""


def _identifier(name: str) -> str:
    if not name.isidentifier() or keyword.iskeyword(name):
        raise ValueError(f"not a Python identifier: {name!r}")
    return name


def endpoint_views(reg: ir.Regulation) -> list[EndpointView]:
    """The constructor's path argument of every endpoint (an ``auth`` one first when the spec has none)."""
    names = [endpoint.name for endpoint in reg.envelope.endpoints]
    params = naming.endpoint_parameters(names)
    views = [EndpointView(e.name, params[e.name], e.path) for e in reg.envelope.endpoints]
    if "auth" not in params:
        # Login needs an endpoint; without one in the spec the caller must name it.
        views.insert(0, EndpointView("auth", naming.login_path_parameter(set(params.values())), None))
    return views


def _tables(reg: ir.Regulation, packet: ir.Packet, record: str | None) -> str:
    if record is None:
        return ""
    table = reg.record(record).table
    where = f"Table {table}" if table is not None else "the regulation"
    return f"``models.{record}`` ({where}: {reg.record(record).title.en})"


RAISES_PUSH = (
    "RecordValidationError: a record does not fit its table; nothing was sent.",
    "AlreadyExistsError: the portal holds records already (``keys`` names them).",
    "PortalError: the portal refused the request (``code``, ``message``).",
    "SessionError: login refused, or a fresh session rejected.",
    "OutcomeUnknownError: the push may have been stored; it was not resent.",
    "TransportError: the portal could not be reached (host, port and reason in the text).",
    "ResponseFormatError: the answer is unusable (PortalNotFoundError: wrong URL).",
)
RAISES_PULL = (
    "PortalError: the portal refused the request (``code``, ``message``).",
    "SessionError: login refused, or a fresh session rejected.",
    "TransportError: the portal could not be reached, after every retry.",
    "ResponseFormatError: the answer is unusable or does not fit its model (PortalNotFoundError: wrong URL).",
)


def _sections(summary: str, args: list[str], returns: str, raises: tuple[str, ...]) -> str:
    parts = [summary, ""]
    if args:
        parts += ["Args:", *(f"    {line}" for line in args), ""]
    parts += ["Returns:", f"    {returns}", "", "Raises:", *(f"    {line}" for line in raises)]
    return "\n".join(parts)


def _param_view(field: ir.Field, name: str) -> ParamView:
    flag = field.type.kind == "flag"
    doc = f"``{field.wire_name}``: {field.title.en} / {field.title.vi}"
    doc += ' (sent as "True"/"False").' if flag else "."
    return ParamView(field.wire_name, name, flag, field.required, doc)


def _params(packet: ir.Packet, push: bool) -> tuple[ParamView, ...]:
    reserved = PUSH_ARGUMENTS if push else frozenset({"self"})
    params: list[ParamView] = []
    for field in packet.params:
        name = _identifier(field.py_name)
        while name in reserved or name in {p.name for p in params}:
            name += "_"
        params.append(_param_view(field, name))
    return tuple(params)


def packet_view(reg: ir.Regulation, packet: ir.Packet) -> PacketView:
    push = packet.direction == "push"
    params = _params(packet, push)
    method = _identifier(packet.method)
    while method in CLIENT_ATTRIBUTES:
        method += "_"
    model = packet.data_record if push else packet.result_record
    kind = "Push" if push else "Pull"
    summary = f"{kind} {packet.name} (Table 1, row {packet.number}): {packet.purpose.en}"
    summary += f"\n\n{packet.purpose.vi}"
    args = [f"{p.name}: {p.doc}" for p in params]
    what = _tables(reg, packet, model)
    if push and model is not None:
        args.insert(
            0,
            f"records: {what} instances or mappings by wire name; all are checked"
            " before anything is sent, then sent in batches of ``batch_size``.",
        )
        returns = "One BatchResult per batch, in order."
    elif push:
        returns = "One BatchResult."
    else:
        returns = (
            (
                f"The results as {what}, a list whose ``warnings`` name the values kept as sent although"
                " they break the rule of a field the spec only guesses (see ``strict_answers``)."
            )
            if model is not None
            else "The results as dicts."
        )
    upsert = next((p for p in params if p.flag and p.wire_name == UPDATE_FLAG), None)
    upsert_doc = ""
    if push and model is not None and upsert is not None:
        upsert_doc = _sections(
            f"Push {packet.name} as new records or updates, in one call.\n\n"
            f'Each batch is sent with ``{UPDATE_FLAG}`` "False"; when the portal answers that some of'
            " its records exist already, nothing of it was stored: the held records are found (named"
            " by the portal, or else by halving the refused part, a few extra requests) and the"
            f' others sent again as new, then the held ones with ``{UPDATE_FLAG}`` "True". Every'
            " record is stored once and only records the portal refused as held are updated (also"
            " one another writer stored meanwhile); the retry rules of every push hold (nothing is"
            " resent when the outcome is unknown).",
            [args[0]] + [a for p, a in zip(params, args[1:], strict=True) if p is not upsert],
            "One BatchResult per request sent, in order.",
            RAISES_PUSH,
        )
    return PacketView(
        service=packet.name,
        number=packet.number,
        method=method,
        push=push,
        endpoint=packet.endpoint,
        model=_identifier(model) if model is not None else None,
        docstring=docstring(_sections(summary, args, returns, RAISES_PUSH if push else RAISES_PULL)),
        params=params,
        upsert=upsert if upsert_doc else None,
        upsert_docstring=docstring(upsert_doc) if upsert_doc else "",
    )


def client_views(endpoints: list[EndpointView]) -> list[ClientView]:
    paths = tuple(
        OptionView(
            e.param,
            "str",
            py(e.path) if e.path is not None else None,
            f"path of the {e.name!r} endpoint under ``base_url``.",
            passed=False,
        )
        for e in endpoints
    )
    required = tuple(o for o in paths if o.default is None)
    optional = tuple(o for o in paths if o.default is not None)
    options = LEADING_OPTIONS + required + optional + TRAILING_OPTIONS
    args = ["base_url: the portal adapter's URL, e.g. ``https://adapter.example``."]
    args += [f"{o.name}: {o.doc}" for o in options]
    init = "Configures the client; nothing is sent until the first call.\n\nArgs:\n"
    init += "\n".join(f"    {line}" for line in args)
    init += "\n\nRaises:\n    ValueError: a setting is invalid (the message names it, never its value)."
    sync_doc = (
        "The QCVN 120 client: one method per packet, automatic login, typed errors, safe retries.\n\n"
        '``with Client("https://adapter.example", username=..., password=..., madonvi=...) as portal:``\n'
        "``portal.dong_bo_ho_so_mc(records)``. Safe to share between threads."
    )
    async_doc = (
        "The asynchronous QCVN 120 client: the same surface as :class:`Client`, with ``await``.\n\n"
        "``async with AsyncClient(...) as portal: await portal.lay_thu_tuc(ma_tthc=...)``"
    )
    async_options = tuple(
        replace(o, annotation="httpx.AsyncBaseTransport | None") if o.name == "transport" else o for o in options
    )
    return [
        ClientView("Client", "SyncEngine", False, docstring(sync_doc, 4), docstring(init), options),
        ClientView("AsyncClient", "AsyncEngine", True, docstring(async_doc, 4), docstring(init), async_options),
    ]


def capture_tables(reg: ir.Regulation) -> tuple[list[tuple[str, list[str]]], list[str]]:
    """Per packet with code fields in its answers, their key paths; and every wire name, sorted."""
    code_paths = [
        (packet.name, sorted(answer_code_paths(reg, packet.result_record)))
        for packet in sorted(reg.packets, key=lambda p: p.name)
    ]
    fields = [f for r in reg.records for f in r.fields] + [f for p in reg.packets for f in p.params]
    wire_names = sorted({f.wire_name for f in fields})
    return [(name, paths) for name, paths in code_paths if paths], wire_names


@dataclass(frozen=True)
class AnswerRuleView:
    path: str  # spec value: printed only through ``py``
    normative: bool
    where: str  # spec value: printed only through ``py``
    title: str  # spec value: printed only through ``py``


def answer_rules(reg: ir.Regulation, record: str | None) -> list[AnswerRuleView]:
    """Every key path of ``record`` (through nested records and lists), sorted, with what the spec
    says of it: normative (membership ``regulation`` at ``high`` confidence) or a guess."""
    out: list[AnswerRuleView] = []
    for path, f in reg.key_paths(record):
        normative = f.membership == "regulation" and f.confidence == "high"
        out.append(AnswerRuleView(path, normative, f.origin.ref, f"{f.title.vi} — {f.title.en}"))
    return sorted(out, key=lambda view: view.path)


def client_files(reg: ir.Regulation, ctx: Context) -> Files:
    """The client module and the package README (the package is assembled by ``python_package``)."""
    endpoints = endpoint_views(reg)
    code_paths, wire_names = capture_tables(reg)
    packets = [packet_view(reg, packet) for packet in reg.packets]
    files: Files = {}
    files[PACKAGE / "client.py"] = render_template(
        f"{TEMPLATES}/client.py.jinja",
        ctx=ctx,
        endpoints=endpoints,
        packets=packets,
        clients=client_views(endpoints),
        code_paths=code_paths,
        wire_names=wire_names,
        answer_fields=[
            (p.name, answer_rules(reg, p.result_record))
            for p in sorted(reg.packets, key=lambda p: p.name)
            if p.result_record
        ],
        user_agent=f"qcvn120-client/{__version__}",
    )
    files[PurePosixPath("python") / "README.md"] = render_template(
        "python/README.md.jinja",
        ctx=ctx,
        version=__version__,
        spec_version=reg.meta.spec_version,
        timezone=reg.meta.timezone,
        packets=packets,
    )
    return files

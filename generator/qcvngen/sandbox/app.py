"""The sandbox app: the generated national-portal stubs with the sandbox behind them, plus a view of what arrived.

The views (``/sandbox/`` and ``/sandbox/api/…``) are a development tool without authentication,
served on loopback by default: they show what every unit pushed, each item labelled with its unit
(``?madonvi=`` narrows them to one), with personal data masked — the fields the spec marks ``pii``
and every value under a key the spec does not know — unless ``show_personal_data`` is set. They
never change anything. The JSON views keep wire values; the HTML page shows dates readably.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import jinja2
from fastapi import FastAPI
from fastapi.responses import HTMLResponse, JSONResponse

from .. import ir
from ..resources import default_spec_dir
from . import runtime
from . import seed as seeds
from .accounts import Credentials
from .portal import MAX_SESSIONS_PER_ACCOUNT, SandboxPortal, portal_class
from .store import Store

DEFAULT_ACCOUNT = Credentials("sandbox", "sandbox", "000.00.00.G05")
MASK = "***"
# Viet Nam keeps UTC+7 all year (no daylight saving): a fixed offset needs no tz database.
VIETNAM = timezone(timedelta(hours=7), "ICT")

# A runtime HTML page, not generated code: its own environment with autoescaping on, so anything a
# client pushed is shown as text.
_PAGES = jinja2.Environment(
    loader=jinja2.PackageLoader("qcvngen.sandbox", "pages"), autoescape=True, undefined=jinja2.StrictUndefined
)


def wire_date(value: Any) -> str:
    """``20241115083000`` → ``15/11/2024 08:30:00`` (wire dates are Viet Nam time already); other text as is."""
    text = str(value or "")
    if len(text) == 14 and text.isascii() and text.isdigit():
        return f"{text[6:8]}/{text[4:6]}/{text[0:4]} {text[8:10]}:{text[10:12]}:{text[12:14]}"
    return text


def local_time(epoch: Any) -> str:
    """A Unix time (when the sandbox received something) as Viet Nam time, ``15/11/2024 08:30:00``."""
    if not isinstance(epoch, (int, float)):
        return ""
    return datetime.fromtimestamp(epoch, VIETNAM).strftime("%d/%m/%Y %H:%M:%S")


_PAGES.filters["wire_date"] = wire_date
_PAGES.filters["local_time"] = local_time


@dataclass(frozen=True)
class Masker:
    """Masks a stored record for the views, knowing its record type from the spec: values of fields
    marked ``pii`` and of keys the spec does not know become ``"***"``; nested records are walked."""

    # record name -> wire name -> (personal?, nested record name or None)
    records: dict[str, dict[str, tuple[bool, str | None]]]
    packets: dict[str, str]  # service -> its data record
    enabled: bool = True

    def service(self, value: Any, service: str) -> Any:
        """``value`` (a record, or a list of them) as the data of ``service``."""
        return self.record(value, self.packets.get(service))

    def record(self, value: Any, record: str | None) -> Any:
        """``value`` (a record of type ``record``, or a list of them) with its personal and unknown values masked."""
        if not self.enabled:
            return value
        if isinstance(value, list):
            return [self.record(item, record) for item in value]
        if not isinstance(value, dict):
            return value
        fields = self.records.get(record or "", {})
        out: dict[str, Any] = {}
        for key, item in value.items():
            personal, nested = fields.get(key, (True, None))  # an unknown key may hold anything
            if nested is not None:
                out[key] = self.record(item, nested)
            else:
                out[key] = MASK if personal and item not in ("", None, [], {}) else item
        return out


def _masker(reg: ir.Regulation, enabled: bool) -> Masker:
    records = {r.name: {f.wire_name: (f.pii, f.type.nested_record) for f in r.fields} for r in reg.records}
    packets = {p.name: p.data_record for p in reg.packets if p.data_record}
    return Masker(records, packets, enabled)


def create_sandbox_app(
    db: str | Path = ":memory:",
    accounts: list[Credentials] | None = None,
    *,
    session_ttl: float = 600.0,
    max_batch: int = 1000,
    show_personal_data: bool = False,
    max_sessions_per_account: int = MAX_SESSIONS_PER_ACCOUNT,
    limits: Mapping[str, Any] | None = None,
    capture: str | os.PathLike[str] | Callable[[dict[str, Any]], None] | None = None,
    spec: Path | None = None,
    seed: seeds.Seed | None = None,
) -> tuple[FastAPI, SandboxPortal]:
    """The portal app generated from ``spec`` (default: ``./spec`` if present, else the bundled spec),
    backed by a :class:`SandboxPortal` on ``db`` answering pulls from ``seed`` (default: the bundled
    one), plus the sandbox's views.

    Raises :class:`~.runtime.SpecNotServable`, :class:`~.seed.SeedError` or
    :class:`~.portal.NoBehaviour` (before anything is opened) when the spec, the seed or a packet
    cannot be served. ``capture`` (off by default) is the generated app's: a file or callable given
    the shapes of every authenticated request (docs/learn.md).
    """
    served = runtime.load(spec if spec is not None else default_spec_dir(Path.cwd()))
    seed = seed if seed is not None else seeds.load()
    seeds.check(seed, served)
    handler = portal_class(served, seed)  # before the state file is opened: refusing leaves nothing behind
    store = Store(db)
    portal = handler(served, store, accounts or [DEFAULT_ACCOUNT], seed, session_ttl, max_sessions_per_account)
    app: FastAPI = served.services.create_app(
        portal,
        max_batch=max_batch,
        logger=logging.getLogger("qcvngen.sandbox"),
        capture=capture,
        **dict(limits or {}),
    )
    reg = served.regulation
    _add_views(app, store, _masker(reg, not show_personal_data), {c["code"]: c for c in _status_codes(reg)})
    return app, portal


def _add_views(app: FastAPI, store: Store, masker: Masker, status_labels: dict[str, dict[str, str]]) -> None:
    """The read-only views of everything the sandbox holds, every unit's, each item labelled."""

    def dossiers(unit: str | None) -> list[dict[str, Any]]:
        out = []
        for dossier in store.dossiers(unit):
            shown = {**dossier, "record": masker.service(dossier["record"], "DongBoHoSoMC")}
            shown["progress"] = masker.service(dossier["progress"], "CapNhatTienDoHoSoMC")
            out.append(shown)
        return out

    @app.get("/sandbox/api/dossiers", include_in_schema=False)
    def dossiers_json(madonvi: str | None = None) -> JSONResponse:
        return JSONResponse({"dossiers": dossiers(madonvi)})

    @app.get("/sandbox/api/receipts", include_in_schema=False)
    def receipts_json(madonvi: str | None = None) -> JSONResponse:
        return JSONResponse({"counts": store.counts(madonvi), "receipts": store.receipts(madonvi)})

    @app.get("/sandbox/api/records/{service}", include_in_schema=False)
    def records_json(service: str, madonvi: str | None = None) -> JSONResponse:
        entries = [
            {**entry, "record": masker.service(entry["record"], service)}
            for entry in store.stored_with_units(service, madonvi)
        ]
        return JSONResponse({"service": service, "records": entries})

    @app.get("/sandbox/", include_in_schema=False)
    def dossiers_page(madonvi: str | None = None) -> HTMLResponse:
        page = _PAGES.get_template("dossiers.html").render(
            dossiers=dossiers(madonvi),
            counts=store.counts(madonvi),
            status=status_labels,
            units=store.units(),
            unit=madonvi,
        )
        return HTMLResponse(page)


def _status_codes(reg: ir.Regulation) -> list[dict[str, str]]:
    """TrangThaiHoSo labels (vi / en) from the spec, for the page (none when the spec has no such list)."""
    if not any(c.name == "TrangThaiHoSo" for c in reg.codelists):
        return []
    codes = reg.codelist("TrangThaiHoSo").codes
    return [{"code": c.code, "vi": c.title.vi, "en": c.title.en} for c in codes]

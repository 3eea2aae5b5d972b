"""The sandbox app: the generated national-portal stubs with the sandbox behind them, plus a view of what arrived."""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping
from importlib import resources
from pathlib import Path
from typing import Any

import jinja2
from fastapi import FastAPI
from fastapi.responses import HTMLResponse, JSONResponse

from .portal import Credentials, SandboxPortal
from .runtime import generated_modules
from .store import Store

DEFAULT_ACCOUNT = Credentials("sandbox", "sandbox", "000.00.00.G05")

# A runtime HTML page, not generated code: its own environment with autoescaping on, so anything a
# client pushed is shown as text.
_PAGES = jinja2.Environment(loader=jinja2.PackageLoader("qcvngen.sandbox", "pages"), autoescape=True, undefined=jinja2.StrictUndefined)


def load_seed() -> dict[str, Any]:
    seed = json.loads(resources.files("qcvngen.sandbox").joinpath("seed.json").read_text(encoding="utf-8"))
    return dict(seed)


def check_seed(seed: dict[str, Any]) -> None:
    """Seed answers must be what the generated models accept (a drifted spec fails loudly here)."""
    models = generated_modules().models
    for item in seed["procedures"]:
        models.LayThuTucResult.model_validate(item)
    for items in seed["decisions"].values():
        for item in items:
            models.LayQDCBResult.model_validate(item)
    for item in seed["petitions_public"] + seed["petitions_pending"]:
        models.DanhSachPAKNCongKhaiResult.model_validate(item)
    for item in seed["questions_citizens"]:
        models.LayDanhSachHoiDapGuiTuDVCQGResult.model_validate(item)
    for item in seed["questions_ministries"]:
        models.LayDanhSachHoiDapBoCoQuanResult.model_validate(item)


def create_sandbox_app(
    db: str | Path = ":memory:",
    accounts: list[Credentials] | None = None,
    *,
    session_ttl: float = 600.0,
    max_batch: int = 1000,
    show_personal_data: bool = False,
    limits: Mapping[str, Any] | None = None,
) -> tuple[FastAPI, SandboxPortal]:
    store = Store(db)
    seed = load_seed()
    check_seed(seed)
    portal = SandboxPortal(store, accounts or [DEFAULT_ACCOUNT], seed, session_ttl=session_ttl)
    app: FastAPI = generated_modules().app.create_app(portal, max_batch=max_batch, logger=logging.getLogger("qcvngen.sandbox"), **dict(limits or {}))
    reg = _spec()
    status_labels = {c["code"]: c for c in _status_codes(reg)}
    # Personal data stays masked in the views unless asked for (names, phones, e-mails, ID numbers).
    hidden = frozenset() if show_personal_data else _personal_keys(reg)

    @app.get("/sandbox/api/dossiers", include_in_schema=False)
    def dossiers_json() -> JSONResponse:
        return JSONResponse({"dossiers": mask(store.dossiers(), hidden)})

    @app.get("/sandbox/api/receipts", include_in_schema=False)
    def receipts_json() -> JSONResponse:
        return JSONResponse({"counts": store.counts(), "receipts": store.receipts()})

    @app.get("/sandbox/api/records/{service}", include_in_schema=False)
    def records_json(service: str) -> JSONResponse:
        return JSONResponse({"service": service, "records": mask(store.stored(service), hidden)})

    @app.get("/sandbox/", include_in_schema=False)
    def dossiers_page() -> HTMLResponse:
        page = _PAGES.get_template("dossiers.html").render(dossiers=store.dossiers(), counts=store.counts(), status=status_labels)
        return HTMLResponse(page)

    return app, portal


def _spec() -> Any:
    from ..pipeline import load_spec
    from ..resources import default_spec_dir

    reg, _ = load_spec(default_spec_dir(Path.cwd()))
    return reg


def _status_codes(reg: Any) -> list[dict[str, str]]:
    """TrangThaiHoSo labels (vi / en) from the spec, for the page."""
    if reg is None:
        return []
    codes = reg.codelist("TrangThaiHoSo").codes
    return [{"code": c.code, "vi": c.title.vi, "en": c.title.en} for c in codes]


def _personal_keys(reg: Any) -> frozenset[str]:
    """Wire names the spec marks as personal data (``pii: true``), in any record."""
    if reg is None:
        return frozenset()
    return frozenset(f.wire_name for record in reg.records for f in record.fields if f.pii)


def mask(value: Any, keys: frozenset[str]) -> Any:
    """A copy of ``value`` with the values of ``keys`` replaced by ``"***"`` at any depth."""
    if isinstance(value, dict):
        return {k: ("***" if k in keys and v not in ("", None) else mask(v, keys)) for k, v in value.items()}
    if isinstance(value, list):
        return [mask(item, keys) for item in value]
    return value

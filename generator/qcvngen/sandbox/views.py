"""The sandbox's read-only views of what arrived: private, paged, masked from the spec it serves.

``/sandbox/`` (HTML) and ``/sandbox/api/{dossiers,receipts,records/<service>}`` (JSON) answer only a
caller who shows either the view token printed in the sandbox's banner (every unit's data, each item
labelled with its unit; ``?madonvi=`` narrows it) or a live session of ``/auth`` (that session's unit
only), as ``Authorization: Bearer …``, as ``?token=…`` (a browser: the page then keeps it in an
HttpOnly cookie) or in that cookie. A page holds at most :data:`PAGE_LIMIT` items and names the next
one (``next``); a dossier shows its latest :data:`PROGRESS_SHOWN` steps and how many there are. So a
view costs the same whatever the sandbox holds, keeps nothing once answered, and never holds up a
shutdown.

Personal data is masked — the fields the spec marks ``pii`` and every value under a key it does not
know — unless ``show_personal_data`` is set. What is personal is read from the IR of the spec the
sandbox serves (:func:`masker_of`), the one its packages are built from.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any
from urllib.parse import quote, urlencode

import jinja2
from fastapi import FastAPI, Request
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response

from .. import ir
from .store import Store

MASK = "***"
PAGE_LIMIT = 100
PROGRESS_SHOWN = 20
COOKIE = "qcvngen_sandbox_view"
# A token longer than this is not one the sandbox issued: refused without comparing.
MAX_TOKEN_LENGTH = 200
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


# -- masking, from the served spec's IR ---------------------------------------------------------------
@dataclass(frozen=True)
class Masker:
    """Masks a stored record for the views, knowing its record type: values of fields marked
    personal and of keys the spec does not know become ``"***"``; nested records are walked."""

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


def masker_of(reg: ir.Regulation, enabled: bool) -> Masker:
    """What is personal, per record and field, from the IR of the spec the sandbox serves."""
    records = {r.name: {f.wire_name: (f.pii, f.type.nested_record) for f in r.fields} for r in reg.records}
    packets = {p.name: p.data_record for p in reg.packets if p.data_record}
    return Masker(records, packets, enabled)


def status_labels(reg: ir.Regulation) -> dict[str, dict[str, str]]:
    """TrangThaiHoSo labels (vi / en) from the served spec, for the page (none when it has no such list)."""
    if not any(c.name == "TrangThaiHoSo" for c in reg.codelists):
        return {}
    return {c.code: {"vi": c.title.vi, "en": c.title.en} for c in reg.codelist("TrangThaiHoSo").codes}


# -- who may look ------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Viewer:
    """A caller allowed to look: every unit (the banner's token) or one unit (a session's)."""

    unit: str | None
    token: str


def _given_token(request: Request) -> str | None:
    header = request.headers.get("authorization", "")
    scheme, _, value = header.partition(" ")
    if scheme.lower() == "bearer" and value.strip():
        return value.strip()
    return request.query_params.get("token") or request.cookies.get(COOKIE)


def viewer_of(request: Request, view_token: str, account_for_session: Callable[[str], Any]) -> Viewer | None:
    """The viewer a request shows itself to be, or None."""
    given = _given_token(request)
    if not given or len(given) > MAX_TOKEN_LENGTH:
        return None
    if secrets.compare_digest(given.encode("utf-8", "surrogatepass"), view_token.encode("utf-8")):
        return Viewer(None, given)
    account = account_for_session(given)
    return Viewer(str(account.madonvi), given) if account is not None else None


def _login_required() -> JSONResponse:
    return JSONResponse(
        {
            "error_code": "-2",
            "message": "Cần đăng nhập — login required: the view token printed in the sandbox's banner"
            " (Authorization: Bearer …, or ?token=…), or a session of /auth (its unit only)",
        },
        status_code=401,
        headers={"WWW-Authenticate": 'Bearer realm="qcvngen sandbox"'},
    )


def _bad_parameter(name: str, rule: str) -> JSONResponse:
    return JSONResponse(
        {"error_code": "-1", "message": f"Tham số {name} không hợp lệ — invalid {name}: {rule}"}, status_code=400
    )


@dataclass(frozen=True)
class Page:
    """Which page a view asks for: the unit it may see, at most ``limit`` items after ``after``."""

    unit: str | None
    after: int
    limit: int

    def next_url(self, path: str, last: int | None) -> str | None:
        """The URL of the following page, or None when this one is the last."""
        if last is None:
            return None
        query = {"after": last, "limit": self.limit, **({"madonvi": self.unit} if self.unit else {})}
        return f"{path}?{urlencode(query)}"


def _page(request: Request, viewer: Viewer) -> Page | JSONResponse:
    params = request.query_params
    unit = viewer.unit if viewer.unit is not None else (params.get("madonvi") or None)
    numbers: dict[str, int] = {}
    for name, default, low, high in (("after", 0, 0, 2**62), ("limit", PAGE_LIMIT, 1, PAGE_LIMIT)):
        text = params.get(name)
        if text is None:
            numbers[name] = default
        elif not (text.isascii() and text.isdigit() and len(text) <= 19 and low <= int(text) <= high):
            return _bad_parameter(name, f"a whole number from {low} to {high}")
        else:
            numbers[name] = int(text)
    return Page(unit, numbers["after"], numbers["limit"])


# -- the views -----------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Views:
    """The view routes over one store, masker and access rule."""

    store: Store
    masker: Masker
    status: dict[str, dict[str, str]]
    view_token: str
    account_for_session: Callable[[str], Any]

    def _open(self, request: Request) -> tuple[Viewer, Page] | Response:
        viewer = viewer_of(request, self.view_token, self.account_for_session)
        if viewer is None:
            return _login_required()
        page = _page(request, viewer)
        return page if isinstance(page, Response) else (viewer, page)

    def dossiers(self, page: Page) -> tuple[list[dict[str, Any]], int | None]:
        """One page of dossiers, masked, each with its latest progress steps."""
        items, last = self.store.dossier_page(page.unit, page.after, page.limit, PROGRESS_SHOWN)
        for item in items:
            item["record"] = self.masker.service(item["record"], "DongBoHoSoMC")
            item["progress"] = self.masker.service(item["progress"], "CapNhatTienDoHoSoMC")
        return items, last

    def add_to(self, app: FastAPI) -> None:
        """Mount ``/sandbox/`` and ``/sandbox/api/…`` on ``app``."""
        app.add_api_route("/sandbox/api/dossiers", self.dossiers_json, methods=["GET"], include_in_schema=False)
        app.add_api_route("/sandbox/api/receipts", self.receipts_json, methods=["GET"], include_in_schema=False)
        app.add_api_route("/sandbox/api/records/{service}", self.records_json, methods=["GET"], include_in_schema=False)
        app.add_api_route("/sandbox/", self.dossiers_page, methods=["GET"], include_in_schema=False)

    def dossiers_json(self, request: Request) -> Response:
        """``{"dossiers": [...], "next": url | null}``."""
        opened = self._open(request)
        if isinstance(opened, Response):
            return opened
        _, page = opened
        items, last = self.dossiers(page)
        return JSONResponse({"dossiers": items, "next": page.next_url("/sandbox/api/dossiers", last)})

    def receipts_json(self, request: Request) -> Response:
        """``{"counts": {...}, "receipts": [...], "next": url | null}``."""
        opened = self._open(request)
        if isinstance(opened, Response):
            return opened
        _, page = opened
        items, last = self.store.receipt_page(page.unit, page.after, page.limit)
        body = {"counts": self.store.counts(page.unit), "receipts": items}
        return JSONResponse({**body, "next": page.next_url("/sandbox/api/receipts", last)})

    def records_json(self, request: Request, service: str) -> Response:
        """``{"service": …, "records": [...], "next": url | null}``."""
        opened = self._open(request)
        if isinstance(opened, Response):
            return opened
        _, page = opened
        entries, last = self.store.record_page(service, page.unit, page.after, page.limit)
        for entry in entries:
            entry["record"] = self.masker.service(entry["record"], service)
        path = f"/sandbox/api/records/{quote(service, safe='')}"
        return JSONResponse({"service": service, "records": entries, "next": page.next_url(path, last)})

    def dossiers_page(self, request: Request) -> Response:
        """The HTML page of one page of dossiers; a ``?token=`` is moved into an HttpOnly cookie."""
        opened = self._open(request)
        if isinstance(opened, Response):
            return opened
        viewer, page = opened
        if request.query_params.get("token") == viewer.token:
            # Kept in an HttpOnly cookie, then out of the address bar and the browser's history.
            kept = [(k, v) for k, v in request.query_params.multi_items() if k != "token"]
            target = "/sandbox/" + (f"?{urlencode(kept)}" if kept else "")
            response: Response = RedirectResponse(target, status_code=303)
            response.set_cookie(COOKIE, viewer.token, httponly=True, samesite="strict", path="/sandbox")
            return response
        items, last = self.dossiers(page)
        html = _PAGES.get_template("dossiers.html").render(
            dossiers=items,
            counts=self.store.counts(page.unit),
            status=self.status,
            units=self.store.units() if viewer.unit is None else [viewer.unit],
            unit=page.unit,
            next_page=page.next_url("/sandbox/", last),
            progress_shown=PROGRESS_SHOWN,
        )
        return HTMLResponse(html)

"""The app factories: read a body within its limits, then parse, check and handle it off the event loop.

Each request is read on the event loop only as bytes (bounded by ``max_body_bytes`` and
``body_timeout``); everything that costs CPU in proportion to the body (decoding, parsing,
normalising, validating, the handler, rendering the answer) runs in a worker thread, at most
``max_parallel`` at once, so one client's body never holds up another client's answer. Before its
session is known, a large request costs a few native scans of its bytes: its ``session`` members,
however spelled, are looked up first (:func:`~.strictjson.session_candidates`), and without a live
one it is refused unparsed; logins run in a lane of their own, so bodies waiting for a worker
thread never queue a login behind them.
"""

from __future__ import annotations

import gc
import json
import logging
import math
import traceback
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass
from functools import partial
from importlib import resources
from typing import Any, Protocol

import anyio
import anyio.to_thread
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.requests import ClientDisconnect

from . import wording
from .answers import (
    INVALID_REQUEST,
    INVALID_SESSION,
    SERVER_ERROR,
    Account,
    Answer,
    CallContext,
    ErrorAnswer,
)
from .contract import Contract, unknown_keys, validate
from .limits import Limits
from .plainbody import PlainBody, read_plain, validate_plain
from .plainrequest import PlainReader, PlainRequest, plain_reader
from .recording import Recorder
from .refusals import Refused, invalid, over_limit
from .strictjson import (
    MAX_SESSION_CANDIDATES,
    ReadObject,
    SessionScan,
    check_node_budget,
    parse_object,
    read_object,
    session_candidates,
)
from .throttle import LoginThrottle
from .wholebody import WHOLE_BODY, WholeBody

# Below this size a request is parsed even without a live session, so that its other faults are
# reported precisely; above it, a request whose every "session" string is dead is refused unparsed.
PRECISE_BELOW_BYTES = 64 * 1024


@dataclass(frozen=True)
class Service:
    """One service: its name, endpoint class, handler method and request model."""

    name: str
    endpoint: str
    method: str
    request: type[BaseModel]
    # The request's schema in the served OpenAPI document, enforced besides the model; a Service
    # built without one (e.g. with a model of your own) is checked by its model only.
    schema: str | None = None
    # True only for a model proven to give the schema's verdict on every body whose scalars are all
    # JSON strings (the generated models: tests/test_differential.py); such a body then skips the
    # contract (see contract.validate). A model of your own keeps the contract on every body.
    exact_on_strings: bool = False


class SessionHandler(Protocol):
    """What the portal app needs of a handler besides its per-service methods."""

    def login(self, username: str, password: str) -> str | None:
        """A new session token for valid credentials, None otherwise."""

    def account_for_session(self, session: str) -> Account | None:
        """The account holding ``session``, or None when it is unknown or expired."""


def answer(
    status: int, error_code: str, message: str, headers: dict[str, str] | None = None
) -> JSONResponse:
    """A portal-style answer: ``{"error_code", "message"}``."""
    return JSONResponse(
        {"error_code": error_code, "message": message}, status_code=status, headers=headers
    )


_HTTP_MESSAGES = {
    404: "Không tìm thấy điểm cuối — no such endpoint",
    405: "Phương thức không được hỗ trợ, hãy dùng POST — method not allowed, use POST",
}


def portal_style_http_errors(app: FastAPI) -> None:
    """404/405 and other routing errors in the portal's answer shape (the Allow header kept)."""

    async def http_error(request: Request, exc: Exception) -> JSONResponse:
        status = exc.status_code if isinstance(exc, StarletteHTTPException) else 400
        headers = dict(exc.headers or {}) if isinstance(exc, StarletteHTTPException) else None
        message = _HTTP_MESSAGES.get(status, "Yêu cầu không hợp lệ — invalid request")
        return answer(status, INVALID_REQUEST, message, headers)

    app.add_exception_handler(StarletteHTTPException, http_error)


def _check_content_type(request: Request) -> None:
    media_type, *params = request.headers.get("content-type", "").lower().split(";")
    charsets = [
        p.strip().removeprefix("charset=").strip('"')
        for p in params
        if p.strip().startswith("charset=")
    ]
    if media_type.strip() != "application/json" or any(
        c not in ("utf-8", "utf8") for c in charsets
    ):
        raise Refused(
            415,
            INVALID_REQUEST,
            "Content-Type phải là application/json; charset=utf-8 — Content-Type must be application/json (UTF-8)",
        )


def _too_large(limit: int, setting: str) -> Refused:
    return over_limit(setting, limit, "Yêu cầu quá lớn", f"body larger than {limit} bytes")


async def read_body(
    request: Request, limit: int, setting: str, limits: Limits, *, scan_sessions: bool = False
) -> bytearray:
    """The raw body, at most ``limit`` bytes received within ``limits.body_timeout`` seconds and
    at ``limits.min_body_rate`` after a grace (:meth:`.Limits.body_due`), or a refusal. With
    ``scan_sessions`` a body received whole is scanned for its sessions as its bytes arrive
    (``raw.session_scan``), for a route that refuses dead sessions before parsing."""
    _check_content_type(request)
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise _too_large(limit, setting)
    take_whole = request.scope.get("extensions", {}).get(WHOLE_BODY)
    whole = take_whole() if take_whole is not None else None
    if whole is None:
        return await _read_messages(request, limit, setting, limits)
    if len(whole.buffer) > limit:  # not after the check above; here for the protocol's sake
        raise _too_large(limit, setting)
    if scan_sessions:
        scan = whole.buffer.session_scan = SessionScan(limits)
        whole.watch(scan.feed)
    return await _read_whole(whole, limits)


class _BodyDeadlines:
    """The whole body by ``last_call``; the bytes so far by when the minimum rate makes them due."""

    def __init__(self, limits: Limits) -> None:
        self.limits = limits
        self.started = anyio.current_time()
        self.last_call = self.started + limits.body_timeout

    def due(self, received: int) -> float:
        return self.started + self.limits.body_due(received)

    def refusal(self, received: int) -> Refused:
        now = anyio.current_time()
        if now < self.last_call:
            return _too_slow(self.limits, received, now - self.started)
        timeout = self.limits.body_timeout
        return Refused(
            408,
            INVALID_REQUEST,
            f"Hết thời gian nhận dữ liệu — body not received within {timeout:g} s (limit body_timeout={timeout:g})",
        )


async def _read_whole(whole: WholeBody, limits: Limits) -> bytearray:
    """A body the protocol writes into one buffer (:mod:`.wholebody`): no chunks to join."""
    deadlines = _BodyDeadlines(limits)
    while True:
        with anyio.CancelScope(deadline=deadlines.due(whole.received)) as late:
            if not await whole.wait():
                raise ClientDisconnect()
            return whole.buffer
        # Woken by a deadline: more bytes may have come meanwhile and moved it.
        if late.cancelled_caught and anyio.current_time() >= deadlines.due(whole.received):
            raise deadlines.refusal(whole.received)


async def _read_messages(request: Request, limit: int, setting: str, limits: Limits) -> bytearray:
    """A body from its ASGI messages, each checked against the limits as it comes."""
    # One growing buffer, never joined: a body is held once in memory, not twice.
    body = bytearray()
    chunks = request.stream().__aiter__()
    deadlines = _BodyDeadlines(limits)
    # One cancel scope for both deadlines, moved after each chunk (cheaper than one per chunk).
    with anyio.CancelScope() as late:
        while True:
            late.deadline = deadlines.due(len(body))
            try:
                chunk = await chunks.__anext__()
            except StopAsyncIteration:
                break
            if len(body) + len(chunk) > limit:
                raise _too_large(limit, setting)
            body += chunk
    if late.cancelled_caught:
        raise deadlines.refusal(len(body))
    return body


def _too_slow(limits: Limits, received: int, seconds: float) -> Refused:
    rate = limits.min_body_rate
    return Refused(
        408,
        INVALID_REQUEST,
        f"Dữ liệu đến quá chậm — body arriving slower than {rate} bytes/s ({received} bytes in "
        f"{seconds:.0f} s; limit min_body_rate={rate})",
    )


def reserved_bytes(request: Request, limit: int) -> int:
    """What a body is counted as in ``max_buffered_bytes``: its declared length (the limit when
    undeclared), or 0 below ``PRECISE_BELOW_BYTES`` (small bodies wait for nobody)."""
    declared = request.headers.get("content-length", "")
    size = int(declared) if declared.isdigit() else limit
    # Past the limit: refused at once by read_body, without waiting.
    return size if PRECISE_BELOW_BYTES <= size <= limit else 0


class BodyBudget:
    """The bytes of request bodies held at once (``max_buffered_bytes``): a body waits for room
    before it is read, so that many large bodies at once wait in the senders' socket buffers,
    not in this process's memory. Used on the event loop only."""

    def __init__(self, total: int) -> None:
        self.total = total
        self.held = 0
        self._freed: anyio.Event | None = None

    @asynccontextmanager
    async def held_for(self, size: int, timeout: float) -> AsyncIterator[None]:
        """Hold ``size`` bytes of the budget (one body alone may take it all), waiting at most
        ``timeout`` seconds for room, else a 503."""
        with anyio.move_on_after(timeout) as waiting:
            while size and self.held and self.held + size > self.total:
                self._freed = self._freed or anyio.Event()
                await self._freed.wait()
        if waiting.cancelled_caught:
            raise Refused(
                503,
                SERVER_ERROR,
                "Máy chủ đang bận, hãy thử lại — server busy receiving other bodies, retry later "
                f"(limit max_buffered_bytes={self.total})",
            )
        self.held += size
        try:
            yield
        finally:
            self.held -= size
            if self._freed is not None:
                self._freed.set()
                self._freed = None


class Runner:
    """Runs request work in worker threads, ``max_parallel`` at once per lane, turning failures
    into answers. Logins have a lane of their own: service calls waiting for a thread (hostile
    bodies among them) never hold a login up."""

    def __init__(self, limits: Limits, log: logging.Logger) -> None:
        self.limits = limits
        self.log = log
        self._lanes: dict[str, anyio.CapacityLimiter] = {}
        self.budget = BodyBudget(limits.max_buffered_bytes)

    def _lane(self, name: str) -> anyio.CapacityLimiter:
        # Made on first use, inside the event loop that runs the app.
        if name not in self._lanes:
            self._lanes[name] = anyio.CapacityLimiter(self.limits.max_parallel)
        return self._lanes[name]

    async def run(
        self,
        read: Callable[[], Awaitable[bytearray]],
        work: Callable[[bytearray], Response],
        lane: str = "calls",
        reserve: int = 0,
    ) -> Response:
        """``work(await read())`` in a worker thread of ``lane``, ``reserve`` bytes of the body
        budget held meanwhile; refusals and ErrorAnswers as portal answers, any other failure as
        a redacted 500."""
        try:
            async with self.budget.held_for(reserve, self.limits.body_timeout):
                raw = await read()
                return await anyio.to_thread.run_sync(work, raw, limiter=self._lane(lane))
        except Exception as exc:
            failure = exc
        response = self._answer(failure)
        _drop_frames(failure)
        return response

    def _answer(self, failure: Exception) -> Response:
        if isinstance(failure, Refused):
            self.log.debug(
                "refused: HTTP %d, error_code %s: %s",
                failure.status,
                failure.error_code,
                failure.message,
            )
            return answer(failure.status, failure.error_code, failure.message)
        if isinstance(failure, ErrorAnswer):
            return answer(failure.status, failure.error_code, failure.message)
        if isinstance(failure, ClientDisconnect):
            # The client left mid-body: nobody to answer, nothing worth a log line.
            return Response(status_code=400)
        # Anything else is a handler bug: logged with an id, answered with the id only.
        incident = uuid.uuid4().hex[:12]
        # The exception's text may quote request values; its type and the frames may not.
        frames = "".join(traceback.format_tb(failure.__traceback__))
        self.log.error("handler failure %s: %s\n%s", incident, type(failure).__name__, frames)
        return answer(500, SERVER_ERROR, f"Lỗi máy chủ — server error (incident {incident})")


def _drop_frames(failure: BaseException | None) -> None:
    """Let go of the frames a failure's traceback holds (and those of the failures it chains).

    Those frames hold the request body, and each frame refers back to the traceback: a cycle
    that only a full garbage collection frees, and refusals allocate too few objects to set one
    off (measured: 30 refused 8 MB bodies left 230 MB behind until the next ``gc.collect()``)."""
    seen: set[int] = set()
    while failure is not None and id(failure) not in seen:
        seen.add(id(failure))
        failure.__traceback__ = None
        failure = failure.__cause__ or failure.__context__


def _shown_service(name: object) -> str:
    plain = isinstance(name, str) and name.isascii() and name.isidentifier() and len(name) <= 60
    return repr(name) if plain else "(missing or not a name)"


def _invalid_session(detail: str = "") -> Refused:
    return Refused(
        401,
        INVALID_SESSION,
        f"Phiên làm việc không hợp lệ hoặc đã hết hạn — invalid or expired session{detail}",
    )


class PortalCalls:
    """The work of the portal app's routes, as plain functions run in worker threads."""

    def __init__(
        self,
        handler: SessionHandler,
        services: Mapping[str, Service],
        login_model: type[BaseModel],
        contract: Contract,
        limits: Limits,
        log: logging.Logger,
    ) -> None:
        self.handler = handler
        self.services = services
        self.login_model = login_model
        self.contract = contract
        self.limits = limits
        self.log = log
        self.recorder: Recorder | None = None
        self.throttle = LoginThrottle(free_failures=limits.login_free_failures)
        # A handler that reads requests only by their fields and keeps records as sent says so
        # (``reads_plain_requests = True``): the short way then hands it a PlainRequest, read by
        # its model's verdict without building the model instances (plainrequest.py).
        self.plain_readers: dict[str, PlainReader] = {}
        if getattr(handler, "reads_plain_requests", False) is True:
            for name, service in services.items():
                reader = plain_reader(service.request) if service.exact_on_strings else None
                if reader is not None:
                    self.plain_readers[name] = reader

    def login(self, raw: bytearray, address: str) -> Response:
        """``{username, password}`` → a session token, or 401; 429 while throttled (see
        :class:`~.throttle.LoginThrottle`: the password is then not checked)."""
        check_node_budget(raw, self.limits)
        body = parse_object(raw, self.limits)
        credentials = validate(self.login_model, body, self.contract, "LoginRequest")
        username = str(credentials.username)
        wait = self.throttle.wait(username, address)
        if wait > 0:
            self.log.info("login throttled")
            seconds = math.ceil(wait)
            return answer(
                429,
                INVALID_SESSION,
                f"Đăng nhập sai quá nhiều lần, hãy thử lại sau {seconds} giây — too many failed "
                f"logins, retry after {seconds} s",
                {"retry-after": str(seconds)},
            )
        token = self.handler.login(credentials.username, credentials.password)
        if token is None:
            self.throttle.failed(username, address)
            self.log.info("login refused")
            raise Refused(
                401, INVALID_SESSION, "Sai tên đăng nhập hoặc mật khẩu — invalid credentials"
            )
        self.throttle.succeeded(username, address)
        self.log.info("login accepted")
        return JSONResponse(
            {"error_code": "0", "message": "Đăng nhập thành công", "session": token}
        )

    def _refuse_dead_sessions(self, raw: bytearray) -> None:
        """A large request none of whose ``session`` members is live: 401 before parsing it.

        Nothing an unauthenticated caller sends beyond ``PRECISE_BELOW_BYTES`` is parsed: a body
        whose session members cannot all be looked at cheaply is refused like a dead one."""
        if len(raw) < PRECISE_BELOW_BYTES:
            return
        candidates = session_candidates(raw, self.limits)
        if candidates is None:
            raise _invalid_session(f" (more than {MAX_SESSION_CANDIDATES} session members)")
        if not any(c and self.handler.account_for_session(c) is not None for c in candidates):
            raise _invalid_session()

    def _service(self, body: dict[str, Any], endpoint: str) -> Service:
        name = body.get("service")
        service = self.services.get(name) if isinstance(name, str) else None
        if service is None:
            close = wording.closest(name, self.services)[:1] if isinstance(name, str) else []
            raise invalid(
                wording.hint_after(
                    f"Dịch vụ không tồn tại — unknown service {_shown_service(name)}", close
                )
            )
        if service.endpoint != endpoint:
            raise invalid(
                f"Dịch vụ {service.name} thuộc điểm cuối {service.endpoint} — "
                f"{service.name} is served at the {service.endpoint} endpoint"
            )
        return service

    def _account(self, body: dict[str, Any]) -> Account:
        session = body.get("session")
        account = (
            self.handler.account_for_session(session)
            if isinstance(session, str) and session
            else None
        )
        if account is None:
            raise _invalid_session()
        if body.get("madonvi") != account.madonvi:
            raise Refused(
                401,
                INVALID_SESSION,
                "Mã đơn vị không khớp phiên làm việc — madonvi does not match the session",
            )
        return account

    def call(self, raw: bytearray, endpoint: str, dstcode: str | None) -> Response:
        """One service call: session first, then the request's limits, model and schema, then the handler."""
        self._refuse_dead_sessions(raw)
        # The short way where the native scan vouches for the body (capture wants the parsed body).
        plain = read_plain(raw, self.limits) if self.recorder is None else None
        answered = self._serve_plain(raw, plain, endpoint, dstcode) if plain is not None else None
        if answered is not None:
            return JSONResponse(answered.to_wire(), status_code=answered.status)
        check_node_budget(raw, self.limits)
        read = read_object(raw, self.limits)
        body = read.data
        service = self._service(body, endpoint)
        account = self._account(body)
        serve = partial(self._serve, read, service, account, endpoint, dstcode)
        # Capture (off by default) sees only authenticated requests, never login.
        record = self.recorder
        result = serve() if record is None else record.around(service.name, endpoint, body, serve)
        return JSONResponse(result.to_wire(), status_code=result.status)

    def _serve_plain(
        self, raw: bytearray, plain: PlainBody, endpoint: str, dstcode: str | None
    ) -> Answer | None:
        """:meth:`_serve` for a body the native scan vouched for, in the careful way's order and
        with its refusals; None wherever the careful way must look again (it then says why)."""
        if plain.node_bound > self.limits.max_json_nodes:
            return None
        service = self._service(plain.envelope, endpoint)
        if not service.exact_on_strings or len(plain.records) > self.limits.max_batch:
            return None
        account = self._account(plain.envelope)
        reader = self.plain_readers.get(service.name)
        parsed: BaseModel | PlainRequest | None
        if reader is not None:
            parsed = reader.read(raw)
            unknown = reader.unknown_keys(parsed) if parsed is not None else ()
        else:
            parsed = validate_plain(service.request, raw)
            unknown = unknown_keys(parsed) if parsed is not None else ()
        if parsed is None:
            return None
        context = CallContext(
            account=account,
            endpoint=endpoint,
            dstcode=dstcode,
            unknown_keys=unknown,
            records_as_sent=tuple(plain.records),
        )
        result: Answer = getattr(self.handler, service.method)(parsed, context)
        self.log.info("%s: error_code %s", service.name, result.error_code)
        return result

    def _serve(
        self,
        read: ReadObject,
        service: Service,
        account: Account,
        endpoint: str,
        dstcode: str | None,
    ) -> Answer:
        """The request's limits, model and schema, then the handler's answer."""
        data = read.data.get("data")
        if isinstance(data, list) and len(data) > self.limits.max_batch:
            raise over_limit(
                "max_batch",
                self.limits.max_batch,
                "Quá nhiều bản ghi",
                f"at most {self.limits.max_batch} records per call",
            )
        parsed = validate(
            service.request,
            read.data,
            self.contract,
            service.schema,
            strings_only=read.strings_only and service.exact_on_strings,
            in_nfc=read.in_nfc,
        )
        context = CallContext(
            account=account, endpoint=endpoint, dstcode=dstcode, unknown_keys=unknown_keys(parsed)
        )
        result: Answer = getattr(self.handler, service.method)(parsed, context)
        self.log.info("%s: error_code %s", service.name, result.error_code)
        return result


# The young generation's threshold while the app runs (CPython's default: 700 allocations): above
# what one large request holds alive at its peak (see _settled).
GC_YOUNG_THRESHOLD = 100_000


@asynccontextmanager
async def _settled(app: FastAPI) -> AsyncIterator[None]:
    """At startup, move everything alive so far (modules, models, compiled schemas: it lives as
    long as the process) out of the garbage collector's way (``gc.freeze``). Otherwise every full
    collection walks it all again, and a large request, which allocates enough objects to set off
    several, spends about as long in the collector as in validation.

    And collect the young generation less often (``GC_YOUNG_THRESHOLD``, raised, never lowered nor
    turned on when an application turned it off): a 1,000-record request holds some 50,000 live
    containers (parsed objects, models) until it is answered, and at 700 the collector walks them
    about 75 times in all, some 10 ms of such a request's ~75 ms of CPU; at 20,000 it still
    collected a few times per request (~4.5 ms, a fifteenth of it); at 100,000, above the ~54,000
    containers such a request holds at its peak, not at all (bench/RESULTS.md): what it allocates
    is freed by reference counting when it is answered, so the count falls back. Only cycles wait
    longer, and those a refusal makes around the body are broken at once (``_drop_frames``)."""
    gc.collect()
    gc.freeze()
    young, *older = gc.get_threshold()
    if young:
        gc.set_threshold(max(young, GC_YOUNG_THRESHOLD), *older)
    yield


def _bare_app(title: str, limits: Limits) -> FastAPI:
    app = FastAPI(title=title, openapi_url=None, docs_url=None, redoc_url=None, lifespan=_settled)
    portal_style_http_errors(app)
    # Where serving.server_config finds them: the guarded protocol judges a slow body by the
    # app's own min_body_rate, never by a second setting of it.
    app.state.limits = limits
    return app


def packaged_document(package: str) -> bytes:
    """The OpenAPI document shipped in ``package`` (``openapi.json``): what the app serves, byte for byte."""
    return resources.files(package).joinpath("openapi.json").read_bytes()


def packaged_contract(package: str) -> bytes:
    """The request schemas the server judges by (``contract.json``): the JSON Schemas' verdict, which
    accepts more than the canonical form the served OpenAPI document describes."""
    return resources.files(package).joinpath("contract.json").read_bytes()


def build_portal_app(
    handler: SessionHandler,
    *,
    services: Mapping[str, Service],
    paths: Mapping[str, str],
    login_model: type[BaseModel],
    served_document: bytes,
    limits: Limits,
    logger: logging.Logger,
    recorder: Recorder | None = None,
    messages: Mapping[str, str] | None = None,
    contract_document: bytes | None = None,
) -> FastAPI:
    """The national-portal app: ``POST`` login at ``paths["auth"]``, services at the other endpoints.

    ``recorder`` (off by default) writes a capture line per authenticated request; ``messages``
    maps wire patterns to their rule in words (the generated ``wire.PATTERN_MESSAGES``).
    """
    app = _bare_app("QCVN 120 national portal", limits)
    calls = PortalCalls(
        handler,
        services,
        login_model,
        Contract(json.loads(contract_document or served_document), messages),
        limits,
        logger,
    )
    calls.recorder = recorder
    runner = Runner(limits, logger)
    login_limit = min(limits.max_login_bytes, limits.max_body_bytes)

    @app.get("/openapi.json", include_in_schema=False)
    async def openapi() -> Response:
        return Response(served_document, media_type="application/json")

    @app.post(paths["auth"])
    async def login(request: Request) -> Response:
        # The peer's address, or the client's as a trusted proxy forwards it (uvicorn's
        # proxy_headers, trusting 127.0.0.1 by default: see docs/deploy.md).
        address = request.client.host if request.client is not None else ""
        return await runner.run(
            lambda: read_body(request, login_limit, "max_login_bytes", limits),
            lambda raw: calls.login(raw, address),
            lane="login",
        )

    def service_route(endpoint: str) -> Callable[[Request], Awaitable[Response]]:
        async def call(request: Request) -> Response:
            dstcode = request.headers.get("dstcode")
            return await runner.run(
                lambda: read_body(
                    request, limits.max_body_bytes, "max_body_bytes", limits, scan_sessions=True
                ),
                lambda raw: calls.call(raw, endpoint, dstcode),
                reserve=reserved_bytes(request, limits.max_body_bytes),
            )

        return call

    for endpoint, path in paths.items():
        if endpoint != "auth":
            app.add_api_route(
                path, service_route(endpoint), methods=["POST"], include_in_schema=False
            )
    return app


def build_local_app(
    handler: object,
    *,
    services: Mapping[str, Service],
    paths: Mapping[str, str],
    document: dict[str, Any],
    limits: Limits,
    logger: logging.Logger,
    messages: Mapping[str, str] | None = None,
) -> FastAPI:
    """The services a ministry/province offers to the national portal, one path each."""
    app = _bare_app("QCVN 120 local services", limits)
    contract = Contract(document, messages)
    runner = Runner(limits, logger)

    def work(service: Service, raw: bytearray) -> Response:
        check_node_budget(raw, limits)
        read = read_object(raw, limits)
        trusted = read.strings_only and service.exact_on_strings
        parsed = validate(
            service.request,
            read.data,
            contract,
            service.schema,
            strings_only=trusted,
            in_nfc=read.in_nfc,
        )
        result: Answer = getattr(handler, service.method)(parsed)
        return JSONResponse(result.to_wire(), status_code=result.status)

    def route(service: Service) -> Callable[[Request], Awaitable[Response]]:
        async def call(request: Request) -> Response:
            return await runner.run(
                lambda: read_body(request, limits.max_body_bytes, "max_body_bytes", limits),
                lambda raw: work(service, raw),
                reserve=reserved_bytes(request, limits.max_body_bytes),
            )

        return call

    for name, service in services.items():
        app.add_api_route(paths[name], route(service), methods=["POST"], include_in_schema=False)
    return app

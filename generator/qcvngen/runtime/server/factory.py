"""The app factories: read a body within its limits, then parse, check and handle it off the event loop.

Each request is read on the event loop only as bytes (bounded by ``max_body_bytes`` and
``body_timeout``); everything that costs CPU in proportion to the body (decoding, parsing,
normalising, validating, the handler, rendering the answer) runs in a worker thread, at most
``max_parallel`` at once, so one client's body never holds up another client's answer. Before its
session is known, a large request costs a few native scans of its bytes: its ``session`` strings
are looked up first (:func:`~.strictjson.session_candidates`) and its JSON values counted against
``max_json_nodes`` before anything is parsed.
"""

from __future__ import annotations

import gc
import json
import logging
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
from .recording import Recorder
from .refusals import Refused, invalid, over_limit
from .strictjson import check_node_budget, parse_object, read_object, session_candidates

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


async def read_body(request: Request, limit: int, setting: str, timeout: float) -> bytearray:
    """The raw body, at most ``limit`` bytes received within ``timeout`` seconds, or a refusal."""
    _check_content_type(request)
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise _too_large(limit, setting)
    # One growing buffer, never joined: a body is held once in memory, not twice.
    body = bytearray()
    with anyio.move_on_after(timeout) as scope:
        async for chunk in request.stream():
            if len(body) + len(chunk) > limit:
                raise _too_large(limit, setting)
            body += chunk
    if scope.cancelled_caught:
        raise Refused(
            408,
            INVALID_REQUEST,
            f"Hết thời gian nhận dữ liệu — body not received within {timeout:g} s (limit body_timeout={timeout:g})",
        )
    return body


class Runner:
    """Runs request work in worker threads, ``max_parallel`` at once, turning failures into answers."""

    def __init__(self, limits: Limits, log: logging.Logger) -> None:
        self.limits = limits
        self.log = log
        self._limiter: anyio.CapacityLimiter | None = None

    async def run(
        self, read: Callable[[], Awaitable[bytearray]], work: Callable[[bytearray], Response]
    ) -> Response:
        """``work(await read())`` in a worker thread; refusals and ErrorAnswers as portal answers,
        any other failure as a redacted 500."""
        if self._limiter is None:
            self._limiter = anyio.CapacityLimiter(self.limits.max_parallel)
        try:
            raw = await read()
            return await anyio.to_thread.run_sync(work, raw, limiter=self._limiter)
        except Refused as refused:
            self.log.debug(
                "refused: HTTP %d, error_code %s: %s",
                refused.status,
                refused.error_code,
                refused.message,
            )
            return answer(refused.status, refused.error_code, refused.message)
        except ErrorAnswer as error:
            return answer(error.status, error.error_code, error.message)
        except ClientDisconnect:
            # The client left mid-body: nobody to answer, nothing worth a log line.
            return Response(status_code=400)
        # Anything else is a handler bug: logged with an id, answered with the id only.
        except Exception as exc:  # noqa: BLE001
            incident = uuid.uuid4().hex[:12]
            # The exception's text may quote request values; its type and the frames may not.
            frames = "".join(traceback.format_tb(exc.__traceback__))
            self.log.error("handler failure %s: %s\n%s", incident, type(exc).__name__, frames)
            return answer(500, SERVER_ERROR, f"Lỗi máy chủ — server error (incident {incident})")


def _shown_service(name: object) -> str:
    plain = isinstance(name, str) and name.isascii() and name.isidentifier() and len(name) <= 60
    return repr(name) if plain else "(missing or not a name)"


def _invalid_session() -> Refused:
    return Refused(
        401,
        INVALID_SESSION,
        "Phiên làm việc không hợp lệ hoặc đã hết hạn — invalid or expired session",
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

    def login(self, raw: bytearray) -> Response:
        """``{username, password}`` → a session token, or 401."""
        check_node_budget(raw, self.limits)
        body = parse_object(raw, self.limits)
        credentials = validate(self.login_model, body, self.contract, "LoginRequest")
        token = self.handler.login(credentials.username, credentials.password)
        if token is None:
            self.log.info("login refused")
            raise Refused(
                401, INVALID_SESSION, "Sai tên đăng nhập hoặc mật khẩu — invalid credentials"
            )
        self.log.info("login accepted")
        return JSONResponse(
            {"error_code": "0", "message": "Đăng nhập thành công", "session": token}
        )

    def _refuse_dead_sessions(self, raw: bytearray) -> None:
        """A large request none of whose ``session`` strings is live: 401 before parsing it."""
        if len(raw) < PRECISE_BELOW_BYTES:
            return
        candidates = session_candidates(raw)
        if candidates is None:
            return  # cannot tell cheaply: parsed under max_json_nodes, then checked
        if not any(c and self.handler.account_for_session(c) is not None for c in candidates):
            raise _invalid_session()

    def _service(self, body: dict[str, Any], endpoint: str) -> Service:
        name = body.get("service")
        service = self.services.get(name) if isinstance(name, str) else None
        if service is None:
            raise invalid(f"Dịch vụ không tồn tại — unknown service {_shown_service(name)}")
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
        check_node_budget(raw, self.limits)
        body, strings_only = read_object(raw, self.limits)
        service = self._service(body, endpoint)
        account = self._account(body)
        serve = partial(self._serve, body, strings_only, service, account, endpoint, dstcode)
        # Capture (off by default) sees only authenticated requests, never login.
        record = self.recorder
        result = serve() if record is None else record.around(service.name, endpoint, body, serve)
        return JSONResponse(result.to_wire(), status_code=result.status)

    def _serve(
        self,
        body: dict[str, Any],
        strings_only: bool,
        service: Service,
        account: Account,
        endpoint: str,
        dstcode: str | None,
    ) -> Answer:
        """The request's limits, model and schema, then the handler's answer."""
        data = body.get("data")
        if isinstance(data, list) and len(data) > self.limits.max_batch:
            raise over_limit(
                "max_batch",
                self.limits.max_batch,
                "Quá nhiều bản ghi",
                f"at most {self.limits.max_batch} records per call",
            )
        parsed = validate(
            service.request,
            body,
            self.contract,
            service.schema,
            strings_only=strings_only and service.exact_on_strings,
        )
        context = CallContext(
            account=account, endpoint=endpoint, dstcode=dstcode, unknown_keys=unknown_keys(parsed)
        )
        result: Answer = getattr(self.handler, service.method)(parsed, context)
        self.log.info("%s: error_code %s", service.name, result.error_code)
        return result


@asynccontextmanager
async def _settled(app: FastAPI) -> AsyncIterator[None]:
    """At startup, move everything alive so far (modules, models, compiled schemas: it lives as
    long as the process) out of the garbage collector's way (``gc.freeze``). Otherwise every full
    collection walks it all again, and a large request, which allocates enough objects to set off
    several, spends about as long in the collector as in validation."""
    gc.collect()
    gc.freeze()
    yield


def _bare_app(title: str) -> FastAPI:
    app = FastAPI(title=title, openapi_url=None, docs_url=None, redoc_url=None, lifespan=_settled)
    portal_style_http_errors(app)
    return app


def packaged_document(package: str) -> bytes:
    """The OpenAPI document shipped in ``package`` (``openapi.json``): what the app serves, byte for byte."""
    return resources.files(package).joinpath("openapi.json").read_bytes()


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
) -> FastAPI:
    """The national-portal app: ``POST`` login at ``paths["auth"]``, services at the other endpoints.

    ``recorder`` (off by default) writes a capture line per authenticated request; ``messages``
    maps wire patterns to their rule in words (the generated ``wire.PATTERN_MESSAGES``).
    """
    app = _bare_app("QCVN 120 national portal")
    calls = PortalCalls(
        handler,
        services,
        login_model,
        Contract(json.loads(served_document), messages),
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
        return await runner.run(
            lambda: read_body(request, login_limit, "max_login_bytes", limits.body_timeout),
            calls.login,
        )

    def service_route(endpoint: str) -> Callable[[Request], Awaitable[Response]]:
        async def call(request: Request) -> Response:
            dstcode = request.headers.get("dstcode")
            return await runner.run(
                lambda: read_body(
                    request, limits.max_body_bytes, "max_body_bytes", limits.body_timeout
                ),
                lambda raw: calls.call(raw, endpoint, dstcode),
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
    app = _bare_app("QCVN 120 local services")
    contract = Contract(document, messages)
    runner = Runner(limits, logger)

    def work(service: Service, raw: bytearray) -> Response:
        check_node_budget(raw, limits)
        body, strings_only = read_object(raw, limits)
        trusted = strings_only and service.exact_on_strings
        parsed = validate(service.request, body, contract, service.schema, strings_only=trusted)
        result: Answer = getattr(handler, service.method)(parsed)
        return JSONResponse(result.to_wire(), status_code=result.status)

    def route(service: Service) -> Callable[[Request], Awaitable[Response]]:
        async def call(request: Request) -> Response:
            return await runner.run(
                lambda: read_body(
                    request, limits.max_body_bytes, "max_body_bytes", limits.body_timeout
                ),
                lambda raw: work(service, raw),
            )

        return call

    for name, service in services.items():
        app.add_api_route(paths[name], route(service), methods=["POST"], include_in_schema=False)
    return app

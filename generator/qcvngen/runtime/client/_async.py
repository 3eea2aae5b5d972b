"""The asynchronous engine: sessions, batches, retries and bounded reading over ``httpx.AsyncClient``.

Written out alongside ``_sync`` (the same steps without ``await``); every decision lives in
``_base`` and the modules it imports, so the two engines cannot drift apart in behaviour.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Sequence
from types import TracebackType
from typing import Any, Self

import httpx
from pydantic import BaseModel

from ._answers import Answer, ModelT, interpret, result_items, session_of
from ._base import BaseClient, BatchResult, NewOrUpdate
from ._config import LOGIN, Secret
from ._decode import BoundedDecoder, DecodeError, TooLarge
from ._records import Canonical, encode
from ._retry import (
    backoff_delay,
    failure_from_exception,
    failure_from_status,
    log_exchange,
    log_retry,
)
from ._tolerance import PullResult
from .errors import AlreadyExistsError, Qcvn120Error, ResponseFormatError

__all__ = ["AsyncEngine"]


class AsyncEngine(BaseClient):
    """The engine of the generated ``AsyncClient``; safe to share between tasks of one event loop."""

    _http: httpx.AsyncClient

    def _open(
        self, timeout: float | httpx.Timeout, transport: httpx.AsyncBaseTransport | None
    ) -> None:
        self._http = httpx.AsyncClient(
            timeout=timeout, verify=self._verify, follow_redirects=False, transport=transport
        )
        self._lock = asyncio.Lock()
        self._sleep: Callable[[float], Awaitable[None]] = asyncio.sleep

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        """Closes the connection pool; the client cannot be used afterwards."""
        await self._http.aclose()

    async def login(self) -> None:
        """Logs in now (normally automatic on first use).

        Raises:
            SessionError: the portal refused the credentials.
            PortalNotFoundError: no portal answers at ``base_url`` + the auth path.
            TransportError: the portal could not be reached.
        """
        await self._session(renew=True)

    # -- pushes and pulls -------------------------------------------------------------------------

    async def _push(
        self,
        service: str,
        endpoint: str,
        model: type[BaseModel] | None,
        records: Sequence[Any] | None,
        params: dict[str, str],
        flag: str | None = None,
    ) -> list[BatchResult]:
        """Every batch of ``records``, in order; with ``flag`` (the update flag's wire name), each
        batch is sent "new or update" (:meth:`_send_new_or_update`)."""
        chunks = self._batches(service, model, records)
        total = sum(len(chunk or ()) for chunk in chunks)
        results: list[BatchResult] = []
        accepted = 0
        for number, chunk in enumerate(chunks, start=1):
            try:
                if flag is None:
                    results.append(await self._send(service, endpoint, chunk, params))
                else:
                    results.extend(
                        await self._send_new_or_update(service, endpoint, chunk or [], params, flag)
                    )
            except Qcvn120Error as error:
                self._mark(error, number, len(chunks), accepted, total)
                raise
            accepted += len(chunk or ())
        return results

    async def _send_new_or_update(
        self,
        service: str,
        endpoint: str,
        chunk: list[Canonical],
        params: dict[str, str],
        flag: str,
    ) -> list[BatchResult]:
        # The portal refuses a request as a whole: after "already exists" nothing of it was stored.
        # The held records are found (named by the portal, or by halving what it refused), the
        # others stored as new, once; only records the portal refused as held go as updates.
        results: list[BatchResult] = []
        finding = NewOrUpdate(chunk)
        while (part := finding.next_part()) is not None:
            try:
                results.append(await self._send(service, endpoint, part, {**params, flag: "False"}))
            except AlreadyExistsError as error:
                finding.refused(part, error)
        if finding.held:
            results.append(
                await self._send(service, endpoint, finding.held, {**params, flag: "True"})
            )
        return results

    async def _send(
        self,
        service: str,
        endpoint: str,
        chunk: list[Canonical] | None,
        params: dict[str, str],
    ) -> BatchResult:
        count = len(chunk) if chunk is not None else 0
        answer = await self._call(
            service, endpoint, self._payload(service, chunk, params), push=True, count=count
        )
        return BatchResult(error_code=answer.code, message=answer.message, count=count)

    async def _pull(
        self, service: str, endpoint: str, model: type[ModelT], params: dict[str, str]
    ) -> PullResult[ModelT]:
        answer = await self._call(
            service, endpoint, self._payload(service, None, params), push=False, count=0
        )
        return self._results(service, model, answer)

    async def _pull_raw(
        self, service: str, endpoint: str, params: dict[str, str]
    ) -> list[dict[str, Any]]:
        answer = await self._call(
            service, endpoint, self._payload(service, None, params), push=False, count=0
        )
        return [item for item in result_items(service, answer) if isinstance(item, dict)]

    # -- sessions ---------------------------------------------------------------------------------

    async def _call(
        self, service: str, endpoint: str, payload: dict[str, Any], *, push: bool, count: int
    ) -> Answer:
        """One call with the session: on an invalid-session answer, one new login and one repeat."""
        renewed = False
        while True:
            token = await self._session()
            body = {"session": token.reveal(), **payload}
            answer = await self._post(service, endpoint, body, push=push, count=count)
            self._capture(service, endpoint, answer, token, payload)
            if not answer.session_invalid:
                self._check(answer, service, token, payload)
                return answer
            if renewed:
                raise self._session_rejected(answer, service, token, payload)
            self._logger.info(
                "qcvn120 %s %s: session rejected (status=%d error_code=%s); logging in again",
                service,
                endpoint,
                answer.status,
                answer.code or "-",
            )
            await self._forget(token)
            renewed = True

    async def _session(self, *, renew: bool = False) -> Secret:
        """The cached token, or a new one; the lock makes concurrent calls share one login."""
        async with self._lock:
            token = self._cached_token(renew)
            if token is not None:
                return token
            self._token = None
            answer = await self._post(LOGIN, "auth", self._credentials(), push=False, count=0)
            token = session_of(answer, self._login_secrets())
            self._keep_token(token)
            return token

    async def _forget(self, stale: Secret) -> None:
        async with self._lock:
            self._drop_token(stale)

    # -- HTTP -------------------------------------------------------------------------------------

    async def _post(
        self, service: str, endpoint: str, body: dict[str, Any], *, push: bool, count: int
    ) -> Answer:
        """POSTs ``body`` under the retry policy; returns the interpreted answer."""
        url = self._config.url(endpoint)
        content = encode(body)
        attempt = 0
        while True:
            attempt += 1
            started = time.monotonic()
            try:
                status, headers, raw = await self._exchange(url, content, service)
            except httpx.HTTPError as exc:
                failure = failure_from_exception(exc, push=push, service=service, url=url)
                reason = type(exc).__name__
                if not failure.retry or attempt > self._config.max_retries:
                    failure.error.attempts = attempt
                    raise failure.error from exc
            else:
                found = failure_from_status(status, headers, push=push, service=service, url=url)
                code = ""
                try:
                    if found is None:
                        answer = interpret(status, raw, self._config, service=service, url=url)
                        code = answer.code
                        return answer
                finally:
                    log_exchange(self._logger, service, endpoint, count, status, code, started)
                failure, reason = found, f"HTTP {status}"
                if not failure.retry or attempt > self._config.max_retries:
                    failure.error.attempts = attempt
                    raise failure.error
            delay = backoff_delay(attempt, self._config, failure.retry_after)
            log_retry(self._logger, service, endpoint, attempt, reason, delay)
            await self._sleep(delay)

    async def _exchange(
        self, url: str, content: bytes, service: str
    ) -> tuple[int, httpx.Headers, bytes]:
        """One HTTP exchange; the answer is decoded here, bounded by ``max_response_bytes``."""
        limit = self._config.max_response_bytes
        # httpx's read timeout is per read: an answer dripped a byte at a time never trips it, so
        # the whole exchange also has a deadline.
        give_up = time.monotonic() + self._config.deadline
        async with self._http.stream(
            "POST", url, content=content, headers=self._headers
        ) as response:
            status = response.status_code
            if 300 <= status < 400 or status == 429 or (status >= 500 and status != 501):
                return status, response.headers, b""
            common: dict[str, Any] = {"service": service, "status": status, "url": url}
            declared = response.headers.get("content-length", "")
            try:
                if declared.isdigit() and int(declared) > limit:
                    raise TooLarge(limit)
                if response.is_stream_consumed:
                    # An in-memory answer (e.g. httpx.MockTransport) was read, and decoded, already.
                    if len(response.content) > limit:
                        raise TooLarge(limit)
                    return status, response.headers, response.content
                decoder = BoundedDecoder(response.headers.get("content-encoding", ""), limit)
                async for chunk in response.aiter_raw():
                    if time.monotonic() > give_up:
                        raise httpx.ReadTimeout("the answer took longer than the deadline")
                    decoder.feed(chunk)
                return status, response.headers, decoder.finish()
            except TooLarge:
                raise ResponseFormatError(f"the answer exceeds {limit} bytes", **common) from None
            except DecodeError as error:
                raise ResponseFormatError(
                    f"the answer cannot be decoded: {error}", **common
                ) from None

"""The retry policy: which failures may be tried again, how long to wait, and what is logged.

Session: the token is obtained on first use, cached for ``session_ttl`` seconds (600: OpenCPS keeps
it 10 minutes) and renewed after that, or when a call is answered as an invalid session (HTTP 401, or
an ``error_code`` in ``session_error_codes``, default ``("-2",)``): then exactly one new login and one
repeat of the call; a second rejection raises SessionError. Concurrent calls share one login.

Pushes validate every record first (RecordValidationError, nothing sent), then send batches of
``batch_size`` records and return one BatchResult per batch. An error in batch *n* of several tells
how many records of the earlier batches were accepted.

Retries (``max_retries`` after the first attempt, exponential backoff from ``backoff`` seconds up to
``backoff_max``, with jitter; a ``Retry-After`` header is honoured up to ``retry_after_max``):

* pulls and login are retried on connection errors, timeouts, a dropped connection, HTTP 5xx and 429;
* pushes are retried only where a resend cannot store the records twice: the connection was never
  established (ConnectError, ConnectTimeout, PoolTimeout) or HTTP 429 (refused before processing).
  A read timeout, a connection lost after sending or HTTP 5xx raise OutcomeUnknownError at once;
* HTTP 404, 405 and 501 without a portal answer mean no portal at that URL (PortalNotFoundError,
  never retried);
* an exchange whose answer is still arriving after ``deadline`` seconds (120) is a timeout, so a
  server that drips its answer cannot hold a call forever;
* redirects are never followed (ResponseFormatError); answers over ``max_response_bytes`` (32 MiB,
  counted after decompression, as it decompresses) raise ResponseFormatError.

Logs carry only the service, endpoint, record count, HTTP status, error_code and duration: never
credentials, tokens, bodies or record values. TLS verification cannot be turned off.
"""

from __future__ import annotations

import email.utils
import logging
import random
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import httpx

from ._config import CONTROL, Config
from .errors import (
    OutcomeUnknownError,
    Qcvn120Error,
    RequestTimeout,
    ServiceUnavailableError,
    TransportError,
)

# No connection was made: nothing reached the portal, so even a push may be sent again.
CONNECTION_NEVER_MADE = (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout)
# The request could not even be built or sent: retrying cannot help.
NOT_SENT = (httpx.UnsupportedProtocol, httpx.LocalProtocolError)
_REASON = 200


@dataclass(frozen=True)
class Failure:
    """One failed attempt: the error to raise if no retry is left, and whether a retry is allowed."""

    error: Qcvn120Error
    retry: bool
    retry_after: str | None = None


def reason_of(exc: BaseException) -> str:
    """The OS's or library's reason, one short line: ``ConnectError: [Errno 111] Connection refused``."""
    text = str(exc) or (str(exc.__cause__) if exc.__cause__ else "")
    text = " ".join(CONTROL.sub(" ", text[: _REASON * 4]).split())
    text = text if len(text) <= _REASON else text[: _REASON - 1] + "…"
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


def _host_port(url: str) -> str:
    parsed = httpx.URL(url)
    port = parsed.port or (443 if parsed.scheme == "https" else 80)
    return f"{parsed.host}:{port}"


def failure_from_exception(exc: httpx.HTTPError, *, push: bool, service: str, url: str) -> Failure:
    """What a failed exchange means for the retry policy."""
    reason = reason_of(exc)
    where = _host_port(url)
    common: dict[str, Any] = {"service": service, "url": url, "reason": reason}
    if isinstance(exc, CONNECTION_NEVER_MADE):
        kind = RequestTimeout if isinstance(exc, httpx.TimeoutException) else TransportError
        return Failure(
            kind(f"no connection to the portal at {where} ({reason})", **common), retry=True
        )
    if isinstance(exc, NOT_SENT):
        return Failure(
            TransportError(f"the request could not be sent ({reason})", **common), retry=False
        )
    if isinstance(exc, httpx.TransportError):
        if push:
            detail = (
                f"the push may have reached the portal at {where} ({reason}); it was not resent"
            )
            return Failure(OutcomeUnknownError(detail, **common), retry=False)
        kind = RequestTimeout if isinstance(exc, httpx.TimeoutException) else TransportError
        detail = f"the exchange with the portal at {where} failed ({reason})"
        return Failure(kind(detail, **common), retry=True)
    return Failure(TransportError(f"HTTP failure ({reason})", **common), retry=False)


def failure_from_status(
    status: int, headers: httpx.Headers, *, push: bool, service: str, url: str
) -> Failure | None:
    """429 and 5xx (but 501): retried for pulls; for pushes only 429, refused before any processing."""
    retry_after = headers.get("retry-after")
    if status == 429:
        error = ServiceUnavailableError(
            "the portal asks to slow down", service=service, status=status, url=url
        )
        return Failure(error, True, retry_after)
    if status >= 500 and status != 501:
        if push:
            detail = "the portal failed while handling the push; it was not resent"
            return Failure(
                OutcomeUnknownError(detail, service=service, status=status, url=url), False
            )
        error = ServiceUnavailableError(
            "the portal failed", service=service, status=status, url=url
        )
        return Failure(error, True, retry_after)
    return None


def parse_retry_after(value: str) -> float | None:
    """Seconds to wait from a Retry-After header (seconds or an HTTP date), None if unreadable."""
    text = value.strip()
    if text.isdigit():
        return float(text)
    try:
        when = email.utils.parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max((when - datetime.now(UTC)).total_seconds(), 0.0)


def backoff_delay(attempt: int, config: Config, retry_after: str | None) -> float:
    """Retry-After when the portal gives one (capped), else exponential backoff with jitter."""
    if retry_after is not None:
        seconds = parse_retry_after(retry_after)
        if seconds is not None:
            return min(seconds, config.retry_after_max)
    ceiling = min(config.backoff_max, config.backoff * 2.0 ** (attempt - 1))
    return ceiling / 2 + random.uniform(0, ceiling / 2)


# Logging: service, endpoint, batch size, HTTP status, error_code and duration — nothing else.


def log_exchange(
    logger: logging.Logger,
    service: str,
    endpoint: str,
    count: int,
    status: int,
    code: str,
    started: float,
) -> None:
    """One debug line per exchange."""
    logger.debug(
        "qcvn120 %s %s: records=%d status=%d error_code=%s duration=%.3fs",
        service,
        endpoint,
        count,
        status,
        code or "-",
        time.monotonic() - started,
    )


def log_retry(
    logger: logging.Logger, service: str, endpoint: str, attempt: int, reason: str, delay: float
) -> None:
    """One warning per retry."""
    logger.warning(
        "qcvn120 %s %s: attempt %d failed (%s); retrying in %.2fs",
        service,
        endpoint,
        attempt,
        reason,
        delay,
    )

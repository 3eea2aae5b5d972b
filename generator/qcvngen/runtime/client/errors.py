"""Typed errors of the QCVN 120 client; no message ever carries a credential, a token or a record value.

::

    Qcvn120Error
    ├── RecordValidationError     records refused locally; nothing was sent
    ├── PortalError               the portal answered a non-zero error_code
    │   └── AlreadyExistsError    … "-3", "3" or "đã tồn tại" (already exists); ``keys`` names them
    ├── SessionError              login refused, or a fresh session rejected again
    ├── TransportError            the call did not go through (safe to try again later)
    │   ├── RequestTimeout
    │   └── ServiceUnavailableError   HTTP 429 / 5xx on every attempt
    ├── ResponseFormatError       unreadable or unexpected answer (bad JSON, redirect, too large)
    │   └── PortalNotFoundError   no QCVN 120 portal answers at that URL (check base_url)
    └── OutcomeUnknownError       a push may have reached the portal; it was not resent

Every error carries, as fields and in its text: the service, the endpoint URL (``url``, never with
credentials), the HTTP ``status``, and, when the portal answered one, its ``code`` and ``message``
(the text shows the message with every credential and value sent blanked out). An error of a push
sent in several batches also tells which batch failed and how many records were accepted before it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

__all__ = [
    "AlreadyExistsError",
    "OutcomeUnknownError",
    "PortalError",
    "PortalNotFoundError",
    "Qcvn120Error",
    "RecordIssue",
    "RecordValidationError",
    "RequestTimeout",
    "ResponseFormatError",
    "ServiceUnavailableError",
    "SessionError",
    "TransportError",
]


class Qcvn120Error(Exception):
    """Base of every error the client raises.

    Attributes:
        detail: what went wrong, in the client's words.
        service: the packet (or ``"login"``).
        url: the endpoint called, without credentials.
        status: the HTTP status of the last answer, if any.
        reason: for transport failures, the operating system's or the HTTP library's reason.
        code: the portal's ``error_code`` (normalised string), if it answered one.
        message: the portal's own ``message``, unaltered (it may echo values sent).
        attempts: HTTP attempts made.
        batch, batches, accepted: for a push, batch ``batch`` (1-based) of ``batches`` failed after
            ``accepted`` records of earlier batches were accepted.
    """

    def __init__(
        self,
        detail: str,
        *,
        service: str | None = None,
        status: int | None = None,
        url: str | None = None,
        code: str | None = None,
        message: str | None = None,
        shown_message: str | None = None,
        reason: str | None = None,
    ) -> None:
        super().__init__(detail)
        self.detail = detail
        self.reason = reason
        self.service = service
        self.status = status
        self.url = url
        self.code = code
        self.message = message
        self.shown_message = shown_message
        self.attempts = 1
        self.batch: int | None = None
        self.batches: int | None = None
        self.accepted = 0
        self.records = 0

    def __str__(self) -> str:
        text = self.detail
        if self.code is not None:
            said = f"error_code {self.code}"
            if self.message is not None:
                said += f": {self.shown_message if self.shown_message is not None else '(message withheld)'}"
            text += f" — the portal said {said}"
        where: list[str] = []
        if self.service is not None:
            where.append(self.service)
        if self.url is not None:
            where.append(self.url)
        if self.status is not None:
            where.append(f"HTTP {self.status}")
        if self.attempts > 1:
            where.append(f"after {self.attempts} attempts")
        if where:
            text += f" [{', '.join(where)}]"
        if self.batch is not None and self.batches is not None and self.batches > 1:
            rest = self.records - self.accepted
            text += (
                f"; batch {self.batch} of {self.batches}: {self.accepted} record(s) of earlier"
                f" batches were accepted, the other {rest} were not"
            )
        return text


class PortalError(Qcvn120Error):
    """The portal answered a non-zero ``error_code`` (normalised to a string: ``-3``, ``"3"`` → "3").

    ``message`` is the portal's own text, unaltered, for the caller to inspect; ``str()`` shows it
    only with the client's credentials, the session and every value that was sent blanked out.
    Nothing of the request was stored (the portal refuses a request as a whole).
    """

    def __init__(
        self,
        code: str,
        message: str,
        *,
        service: str | None = None,
        status: int | None = None,
        shown_message: str | None = None,
        url: str | None = None,
    ) -> None:
        super().__init__(
            "the portal refused the request",
            service=service,
            status=status,
            url=url,
            code=code,
            message=message,
            shown_message=shown_message,
        )


class AlreadyExistsError(PortalError):
    """Records are already held by the portal (``-3``, ``3`` or a message with "đã tồn tại").

    ``keys`` holds the keys (``MaHoSo``) of the refused records, in request order, when the portal
    lists them in ``result`` (``refused`` holds them as ``{field: value}``); resend those with
    ``is_updating=True``, or push with the packet's ``…_new_or_update`` method, which does.
    """

    def __init__(
        self,
        code: str,
        message: str,
        *,
        service: str | None = None,
        status: int | None = None,
        shown_message: str | None = None,
        url: str | None = None,
        refused: tuple[Mapping[str, str], ...] = (),
    ) -> None:
        super().__init__(
            code, message, service=service, status=status, shown_message=shown_message, url=url
        )
        self.refused = refused
        self.keys: tuple[str, ...] = tuple(value for item in refused for value in item.values())


class SessionError(Qcvn120Error):
    """Login refused (wrong credentials, no session), or the portal rejected a fresh session again."""


class TransportError(Qcvn120Error):
    """The call did not go through: no connection, or no usable answer after every retry.

    ``reason`` is the operating system's or the HTTP library's reason (e.g. "Connection refused").
    """


class RequestTimeout(TransportError):
    """Connecting, waiting for a pooled connection or (for pulls) reading timed out on every attempt."""


class ServiceUnavailableError(TransportError):
    """The portal answered HTTP 429 or 5xx on every attempt (``status`` holds the last one)."""


class ResponseFormatError(Qcvn120Error):
    """The answer cannot be used: not JSON, not an object, no ``error_code``, duplicate keys, a
    redirect, too large, or pull results that do not fit their model. For a push, the records may
    have been stored.

    For results that do not fit, the text names each field in words (its title, table and row and
    the rule broken, never a value) and ``answer`` holds the answer's structure with every value
    replaced by its shape (``"<text, 12 characters>"``), safe to log; otherwise ``answer`` is None.
    """

    answer: object = None


class PortalNotFoundError(ResponseFormatError):
    """No QCVN 120 portal answered at the URL (HTTP 404/405/501, or an answer that is not one):
    ``base_url`` or an endpoint path is wrong."""


class OutcomeUnknownError(Qcvn120Error):
    """A push may have reached the portal (read timeout, connection lost after sending, HTTP 5xx).

    It is not resent, since a resend could store the records twice: check what the portal holds,
    or resend as an update where the packet has one (``dong_bo_ho_so_mc(..., is_updating=True)``).
    """


@dataclass(frozen=True)
class RecordIssue:
    """One problem of one record: its index in the sequence given, the field path and the reason."""

    index: int
    path: str
    type: str
    message: str

    def __str__(self) -> str:
        where = f"record {self.index}" + (f": {self.path}" if self.path else "")
        return f"{where}: {self.message}"


class RecordValidationError(Qcvn120Error):
    """Records failed their model before anything was sent; ``issues`` lists every problem (never a value)."""

    SHOWN = 20

    def __init__(self, issues: tuple[RecordIssue, ...], *, service: str | None = None) -> None:
        records = len({issue.index for issue in issues})
        shown = "; ".join(str(issue) for issue in issues[: self.SHOWN])
        more = f"; … {len(issues) - self.SHOWN} more" if len(issues) > self.SHOWN else ""
        super().__init__(
            f"{records} record(s) failed validation, nothing was sent: {shown}{more}",
            service=service,
        )
        self.issues = issues

"""What the sync and async clients share without I/O: settings, session state, batch planning.

The engines (``_sync.SyncEngine`` and ``_async.AsyncEngine``) are written out separately over
this base, as httpx writes ``Client`` and ``AsyncClient``: each I/O step exists twice, every
decision exists once, here or in the modules it imports.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import httpx
from pydantic import BaseModel

from . import capture as shapes
from ._answers import Answer, ModelT, parse_results, raise_for_code, redact
from ._config import (
    LOGGER_NAME,
    CaptureSink,
    Config,
    Secret,
    Verify,
    make_config,
    make_verify,
)
from ._records import Canonical, chunked, leaf_strings, validate_records
from ._tolerance import FieldRule, PullResult
from .errors import AlreadyExistsError, Qcvn120Error, SessionError

__all__ = ["BaseClient", "BatchResult", "NewOrUpdate", "UpdatePlan"]


@dataclass(frozen=True)
class BatchResult:
    """The portal's answer to one batch of a push: its error_code ("0"), message and record count."""

    error_code: str
    message: str
    count: int


@dataclass(frozen=True)
class UpdatePlan:
    """A batch refused as "already exists", split: records to resend as updates, and as new."""

    existing: list[Canonical]
    new: list[Canonical]


class NewOrUpdate:
    """Which records of a batch the portal holds, found with few extra round trips.

    The engine sends :meth:`next_part` as new until there is none; a part refused as "already
    exists" goes to :meth:`refused`. When the refusal names its records (``result``), the named
    ones are held and the rest is sent again as new; when it names none (a portal without that
    convention), the part is halved, down to single records, which are then known to be held.
    ``k`` held records of ``n`` cost at most about ``2·k·log2(n)`` extra requests. A record is
    stored as new at most once (an accepted part is never resent) and sent as an update only after
    the portal refused it as held — also when another writer stored it after this one began.
    """

    def __init__(self, chunk: list[Canonical]) -> None:
        self._pending: list[list[Canonical]] = [chunk] if chunk else []
        self.held: list[Canonical] = []

    def next_part(self) -> list[Canonical] | None:
        """The next records to send as new, or None when every record is stored or known held."""
        return self._pending.pop(0) if self._pending else None

    def refused(self, part: list[Canonical], error: AlreadyExistsError) -> None:
        """``part`` was refused as "already exists": narrow down which of its records are held."""
        plan = BaseClient._split(error, part)
        if plan is not None:
            self.held.extend(plan.existing)
            if plan.new:
                self._pending.insert(0, plan.new)
        elif len(part) == 1:
            self.held.extend(part)
        else:
            middle = len(part) // 2
            self._pending[0:0] = [part[:middle], part[middle:]]


class BaseClient:
    """Settings and session state of one client; see the generated ``Client`` for every parameter."""

    _http: httpx.Client | httpx.AsyncClient

    def __init__(
        self,
        base_url: str,
        *,
        paths: Mapping[str, str],
        user_agent: str,
        username: str,
        password: str,
        madonvi: str,
        dstcode: str | None,
        verify: Verify,
        logger: logging.Logger | None,
        batch_size: int,
        max_retries: int,
        backoff: float,
        backoff_max: float,
        retry_after_max: float,
        deadline: float,
        session_ttl: float,
        session_error_codes: Iterable[str],
        max_response_bytes: int,
        messages: Mapping[str, str],
        capture: CaptureSink | None = None,
        code_paths: Mapping[str, frozenset[str]] | None = None,
        wire_names: Iterable[str] = (),
        answer_fields: Mapping[str, Mapping[str, tuple[bool, str, str]]] | None = None,
        strict_answers: bool = False,
    ) -> None:
        self._config: Config = make_config(
            base_url=base_url,
            paths=paths,
            username=username,
            password=password,
            madonvi=madonvi,
            dstcode=dstcode,
            user_agent=user_agent,
            batch_size=batch_size,
            max_retries=max_retries,
            backoff=backoff,
            backoff_max=backoff_max,
            retry_after_max=retry_after_max,
            deadline=deadline,
            session_ttl=session_ttl,
            session_error_codes=session_error_codes,
            max_response_bytes=max_response_bytes,
            capture=capture,
        )
        # What the spec says about answers, for capture lines: paths whose values are codes (kept)
        # and the wire names a refusal's message may show (every other word can be a value).
        self._code_paths: Mapping[str, frozenset[str]] = dict(code_paths or {})
        self._wire_names = frozenset(wire_names)
        self._verify = make_verify(verify)
        self._headers = self._config.headers()
        self._logger = logger if logger is not None else logging.getLogger(LOGGER_NAME)
        self._token: Secret | None = None
        self._token_at = 0.0
        self._messages = dict(messages)
        # Per packet and answer path: (normative, table/row, title); a value breaking the rule of a
        # field that is not normative is kept as sent and warned about, unless strict_answers.
        self._answer_rules = {
            service: {path: FieldRule(*rule) for path, rule in paths.items()}
            for service, paths in (answer_fields or {}).items()
        }
        self._strict_answers = bool(strict_answers)

    def __repr__(self) -> str:
        config = self._config
        return f"{type(self).__name__}(base_url={config.base_url!r}, madonvi={config.madonvi!r})"

    @property
    def base_url(self) -> str:
        """The portal's base URL, as configured (normalised, without a trailing slash)."""
        return self._config.base_url

    @property
    def madonvi(self) -> str:
        """The unit code (``madonvi``) sent with every call."""
        return self._config.madonvi

    # -- decisions shared by both engines ---------------------------------------------------------

    def _cached_token(self, renew: bool) -> Secret | None:
        token = self._token
        fresh = time.monotonic() - self._token_at < self._config.session_ttl
        return token if token is not None and not renew and fresh else None

    def _keep_token(self, token: Secret) -> None:
        self._token, self._token_at = token, time.monotonic()

    def _drop_token(self, stale: Secret) -> None:
        # Only the token that failed is dropped: a concurrent call may already hold a newer one.
        if self._token is stale:
            self._token = None

    def _credentials(self) -> dict[str, str]:
        return {
            "username": self._config.username.reveal(),
            "password": self._config.password.reveal(),
        }

    def _login_secrets(self) -> set[str]:
        return {self._config.username.reveal(), self._config.password.reveal()}

    def _batches(
        self, service: str, model: type[BaseModel] | None, records: Sequence[Any] | None
    ) -> list[list[Canonical] | None]:
        # Every record is checked before the first byte is sent (and before logging in).
        if model is None:
            return [None]
        checked = validate_records(service, model, records, self._messages)
        return list(chunked(checked, self._config.batch_size))

    def _payload(
        self, service: str, chunk: list[Canonical] | None, params: Mapping[str, str]
    ) -> dict[str, Any]:
        payload: dict[str, Any] = {"madonvi": self._config.madonvi, "service": service}
        if chunk is not None:
            payload["data"] = chunk
        payload.update(params)
        return payload

    def _check(
        self, answer: Answer, service: str, token: Secret, payload: Mapping[str, Any]
    ) -> None:
        if answer.code != "0":  # only a refusal's message needs the values sent blanked out
            secrets = self._login_secrets() | {token.reveal()}
            raise_for_code(answer, service=service, secrets=secrets | leaf_strings(payload))

    def _capture(
        self, service: str, endpoint: str, answer: Answer, token: Secret, payload: Mapping[str, Any]
    ) -> None:
        """Records the shape of one answer (a refusal as its short entry) when capture is on; never
        login. Nothing sent can reach the line: an accepted answer is reduced to shapes, and a
        refusal keeps no message, only the spec's key names it named."""
        sink = self._config.capture
        if sink is None or not answer.code:
            return
        try:
            shapes.capture(
                sink,
                service,
                endpoint,
                answer.body,
                self._code_paths.get(service, frozenset()),
                keys=self._wire_names,
                count=len(payload.get("data") or ()),
            )
        except Exception as error:
            # The exchange happened: failing it now would make a stored push look refused and
            # invite a resend. Only the error's type is logged (its text may hold a path or value).
            self._logger.warning(
                "qcvn120 %s %s: capture not recorded (%s)", service, endpoint, type(error).__name__
            )

    def _results(self, service: str, model: type[ModelT], answer: Answer) -> PullResult[ModelT]:
        results = parse_results(
            service,
            model,
            answer,
            rules=self._answer_rules.get(service, {}),
            messages=self._messages,
            strict=self._strict_answers,
        )
        for warning in results.warnings:  # the field and the rule, never the value
            self._logger.warning("qcvn120 %s: %s", service, warning)
        return results

    def _session_rejected(
        self, answer: Answer, service: str, token: Secret, payload: Mapping[str, Any]
    ) -> SessionError:
        secrets = self._login_secrets() | {token.reveal()} | leaf_strings(payload)
        return SessionError(
            "the portal rejected a fresh session",
            code=answer.code or None,
            message=answer.message if answer.code else None,
            shown_message=redact(answer.message, secrets),
            service=service,
            status=answer.status,
            url=answer.url,
        )

    @staticmethod
    def _mark(error: Qcvn120Error, number: int, batches: int, accepted: int, records: int) -> None:
        error.batch, error.batches, error.accepted, error.records = (
            number,
            batches,
            accepted,
            records,
        )

    @staticmethod
    def _split(error: AlreadyExistsError, chunk: list[Canonical]) -> UpdatePlan | None:
        """The batch split by the keys the portal named; None when they do not single out records."""
        existing: list[Canonical] = []
        new: list[Canonical] = []
        for record in chunk:
            values = record.value()
            held = any(
                all(str(values.get(field)) == value for field, value in item.items())
                for item in error.refused
            )
            (existing if held else new).append(record)
        if not error.refused or len(existing) != len(error.refused):
            return None
        return UpdatePlan(existing, new)

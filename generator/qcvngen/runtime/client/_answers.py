"""Reading the portal's answers: strict JSON, the error_code, redacted messages, results, refused keys."""

from __future__ import annotations

import json
import unicodedata
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, TypeVar, cast

from pydantic import BaseModel, ValidationError

from ._config import CONTROL, LOGIN, Config, Secret, normalise_code
from ._tolerance import AnswerWarning, FieldRule, PullResult, classify, redacted, tolerant_record
from .errors import (
    AlreadyExistsError,
    PortalError,
    PortalNotFoundError,
    ResponseFormatError,
    SessionError,
)

ModelT = TypeVar("ModelT", bound=BaseModel)

# S3 observed both "-3" and "3" for "already exists" and also checks the message (REFERENCE §3.4).
ALREADY_EXISTS_CODES = frozenset({"-3", "3"})
ALREADY_EXISTS_TEXT = "đã tồn tại"
# Statuses with which a web server says "nothing here": no portal at that URL.
NOT_A_PORTAL = frozenset({404, 405, 501})
SHOWN_MESSAGE = 300
# Keys of refused records: each is a code (MaHoSo), so a long one is not a key but noise.
_MAX_KEY = 64
_MAX_KEYS = 10_000


@dataclass(frozen=True)
class Answer:
    """One interpreted HTTP answer; ``body`` may hold a session token, so it stays out of repr."""

    status: int
    code: str
    message: str
    session_invalid: bool
    url: str
    body: Mapping[str, Any] = field(repr=False)


class DuplicateKey(ValueError):
    """The same key twice in one JSON object: two readers could take different values."""


def _strict_pairs(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in pairs:
        if key in out:
            raise DuplicateKey(key)
        out[key] = value
    return out


def _reject_constant(name: str) -> None:
    raise ValueError("NaN and Infinity are not JSON")


def parse_json(raw: bytes) -> object:
    """The JSON value of ``raw``; DuplicateKey when an object repeats a key; None when not JSON."""
    try:
        return json.loads(
            raw.decode("utf-8-sig"),
            parse_constant=_reject_constant,
            object_pairs_hook=_strict_pairs,
        )
    except DuplicateKey:
        raise
    except (UnicodeDecodeError, ValueError, RecursionError):
        return None


def _not_a_portal(status: int, url: str, service: str, body: Any = None) -> PortalNotFoundError:
    said: dict[str, Any] = {}
    if isinstance(body, dict):
        message = body.get("message")
        text = message if isinstance(message, str) else ""
        said = {"code": normalise_code(body.get("error_code")), "message": text}
        said["shown_message"] = redact(text, ())
    return PortalNotFoundError(
        f"no portal answered at {url}: HTTP {status} — check base_url and the endpoint paths",
        service=service,
        status=status,
        url=url,
        **said,
    )


def interpret(status: int, raw: bytes, config: Config, *, service: str, url: str) -> Answer:
    """The answer of one exchange (not 429/5xx, which the retry policy handles)."""
    if 300 <= status < 400:
        raise ResponseFormatError(
            f"HTTP {status}: redirects are not followed", service=service, status=status, url=url
        )
    try:
        parsed = parse_json(raw)
    except DuplicateKey:
        raise ResponseFormatError(
            "the answer repeats a key in one JSON object", service=service, status=status, url=url
        ) from None
    code = normalise_code(parsed.get("error_code")) if isinstance(parsed, dict) else None
    if status in NOT_A_PORTAL:  # even in a portal's own words, nothing answers at this path
        raise _not_a_portal(status, url, service, parsed if code is not None else None)
    if not isinstance(parsed, dict) or code is None:
        if status == 401:  # some gateways answer an expired session with a bare 401
            return Answer(status, "", "", True, url, {})
        if service == LOGIN:
            raise _not_a_portal(status, url, service)
        what = (
            "a JSON object"
            if not isinstance(parsed, dict)
            else "a JSON object with a valid error_code"
        )
        raise ResponseFormatError(
            f"the answer is not {what}", service=service, status=status, url=url
        )
    message = parsed.get("message")
    text = (
        message
        if isinstance(message, str)
        else ("" if message is None else json.dumps(message, ensure_ascii=False))
    )
    invalid = status == 401 or code in config.session_error_codes
    if code == "0" and not 200 <= status < 300:
        raise ResponseFormatError(
            "error_code 0 with a failure status", service=service, status=status, url=url
        )
    return Answer(status, code, text, invalid, url, parsed)


def redact(text: str, secrets: Iterable[str]) -> str:
    """A portal message made safe to show: secrets and sent values blanked, one short line."""
    shown = unicodedata.normalize("NFC", text[: SHOWN_MESSAGE * 20])
    for secret in sorted({s for s in secrets if len(s) >= 3}, key=len, reverse=True):
        shown = shown.replace(secret, "***").replace(unicodedata.normalize("NFC", secret), "***")
    shown = " ".join(CONTROL.sub(" ", shown).split())
    return shown if len(shown) <= SHOWN_MESSAGE else shown[: SHOWN_MESSAGE - 1] + "…"


def refused_records(answer: Answer) -> tuple[dict[str, str], ...]:
    """The keys of the refused records the portal lists in ``result`` (``[{"MaHoSo": "A"}, …]``).

    Only short scalar values count (a key is a code); anything else makes the list unusable.
    """
    result = answer.body.get("result")
    if not isinstance(result, list) or len(result) > _MAX_KEYS:
        return ()
    refused: list[dict[str, str]] = []
    for item in result:
        if not isinstance(item, Mapping) or not 0 < len(item) <= 4:
            return ()
        keys: dict[str, str] = {}
        for name, value in item.items():
            if isinstance(value, bool) or not isinstance(value, (str, int)):
                return ()
            if not 0 < len(str(value)) <= _MAX_KEY or CONTROL.search(str(value)):
                return ()
            keys[str(name)[:_MAX_KEY]] = str(value)
        refused.append(keys)
    return tuple(refused)


def raise_for_code(answer: Answer, *, service: str, secrets: Iterable[str]) -> None:
    """PortalError (AlreadyExistsError for "already exists") for a non-zero error_code."""
    if answer.code == "0":
        return
    folded = unicodedata.normalize("NFC", answer.message).casefold()
    shown = redact(answer.message, secrets)
    common: dict[str, Any] = {
        "service": service,
        "status": answer.status,
        "shown_message": shown,
        "url": answer.url,
    }
    if answer.code in ALREADY_EXISTS_CODES or ALREADY_EXISTS_TEXT in folded:
        raise AlreadyExistsError(
            answer.code, answer.message, refused=refused_records(answer), **common
        )
    raise PortalError(answer.code, answer.message, **common)


def session_of(answer: Answer, secrets: Iterable[str]) -> Secret:
    """The token of a login answer, or SessionError (wrong credentials, non-zero code, no session)."""
    common: dict[str, Any] = {"service": LOGIN, "status": answer.status, "url": answer.url}
    if answer.session_invalid or answer.code != "0":
        raise SessionError(
            "login refused",
            code=answer.code or None,
            message=answer.message,
            shown_message=redact(answer.message, secrets),
            **common,
        )
    token = answer.body.get("session")
    if not isinstance(token, str) or not token.strip():
        raise SessionError(
            "login answered error_code 0 without a session", code=answer.code, **common
        )
    return Secret(token)


def result_items(service: str, answer: Answer) -> list[Any]:
    """``result`` as a list: absent → [], a list as is, ``{"data": [...]}`` (S1's LayDVC) → data, an object → [it]."""
    result = answer.body.get("result")
    if result is None:
        return []
    if isinstance(result, list):
        return result
    if isinstance(result, dict):
        data = result.get("data")
        return data if isinstance(data, list) else [result]
    raise ResponseFormatError(
        "result is neither a list nor an object",
        service=service,
        status=answer.status,
        url=answer.url,
    )


def parse_results(
    service: str,
    model: type[ModelT],
    answer: Answer,
    *,
    rules: Mapping[str, FieldRule] | None = None,
    messages: Mapping[str, str] | None = None,
    strict: bool = False,
) -> PullResult[ModelT]:
    """Pull results as models.

    A value that breaks the rule of a field the spec only guesses (``rules``: not ``regulation``
    or below ``high`` confidence) is kept as sent and reported in ``warnings``; anything else that
    does not fit — or anything at all with ``strict`` — is a ResponseFormatError that names the
    fields in words (never a value, never a regex) and carries the answer redacted to its shapes.
    """
    out: list[ModelT] = []
    warnings: list[AnswerWarning] = []
    fatal: list[str] = []
    for index, item in enumerate(result_items(service, answer)):
        try:
            out.append(model.model_validate(item))
            continue
        except ValidationError as error:
            found, broken, keep = classify(index, error, model, rules or {}, messages, strict)
        if broken or not isinstance(item, Mapping):
            fatal.extend(broken)
            continue
        out.append(cast(ModelT, tolerant_record(model, item, keep)))
        warnings.extend(found)
    if fatal:
        more = f"; … {len(fatal) - 20} more" if len(fatal) > 20 else ""
        unfit = ResponseFormatError(
            f"results do not fit {model.__name__}: {'; '.join(fatal[:20])}{more}",
            service=service,
            status=answer.status,
            url=answer.url,
        )
        unfit.answer = redacted(answer.body)
        raise unfit
    return PullResult(out, warnings)

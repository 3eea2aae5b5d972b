"""What a handler receives and returns: the account, the call's context, the portal's answer shape."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from pydantic import BaseModel

# error_code values of docs/wire-conventions.md.
OK = "0"
INVALID_REQUEST = "-1"
INVALID_SESSION = "-2"
ALREADY_EXISTS = "-3"
NOT_FOUND = "-4"
SERVER_ERROR = "-5"


@dataclass(frozen=True)
class Account:
    """The unit a session belongs to."""

    username: str
    madonvi: str

    def __repr__(self) -> str:
        return f"Account(madonvi={self.madonvi!r})"


@dataclass(frozen=True)
class CallContext:
    """Who called and how: the session's account, the endpoint class, the ``dstcode`` header and
    the keys an open table accepted without knowing them (``data[0].X``).

    ``records_as_sent``: each record of ``data`` as the client wrote it (a JSON object in UTF-8,
    strings only, in NFC, no key repeated), when the server read the body the short way
    (plainbody.py); empty otherwise. A store may keep these instead of serialising the records
    again: the same JSON values as ``model_dump_json(by_alias=True, exclude_unset=True)``, keys in
    the order sent. Never in ``repr`` (they hold personal data)."""

    account: Account
    endpoint: str
    dstcode: str | None
    unknown_keys: tuple[str, ...] = ()
    records_as_sent: tuple[bytes, ...] = field(default=(), repr=False)


@dataclass(frozen=True)
class Answer:
    """What a handler returns: the portal's ``error_code``/``message`` and, for pulls, ``result``."""

    error_code: str = OK
    message: str = "Thành công"
    result: Sequence[BaseModel | Mapping[str, Any]] | None = None
    status: int = 200

    def to_wire(self) -> dict[str, Any]:
        """The answer as the JSON object sent to the client."""
        body: dict[str, Any] = {"error_code": self.error_code, "message": self.message}
        if self.result is not None:
            body["result"] = [_wire(item) for item in self.result]
        return body


def _wire(item: BaseModel | Mapping[str, Any]) -> dict[str, Any]:
    if isinstance(item, BaseModel):
        return item.model_dump(by_alias=True, exclude_none=True, mode="json")
    return dict(item)


class ErrorAnswer(Exception):
    """Raise from a handler to answer with a non-zero ``error_code`` (a client sees a ``PortalError``)."""

    def __init__(self, error_code: str, message: str, status: int = 200) -> None:
        super().__init__(message)
        self.error_code = error_code
        self.message = message
        self.status = status

    def answer(self) -> Answer:
        """The same refusal as an :class:`Answer`."""
        return Answer(error_code=self.error_code, message=self.message, status=self.status)

"""The sandbox's accounts: parsing ``USER:PASSWORD:MADONVI`` texts and accounts files, any password allowed.

Text form (``--account``, ``$QCVNGEN_SANDBOX_ACCOUNTS``, one line of an accounts file): the three
parts are separated by ``:``; a backslash escapes the next character when it is ``:``, ``,``, ``#``
or ``\\`` (``pa\\:ss`` is the password ``pa:ss``), and any other backslash sequence is refused rather
than guessed at. ``$QCVNGEN_SANDBOX_ACCOUNTS`` holds several accounts separated by unescaped ``,``.

An accounts file is either JSON, ``[{"username": …, "password": …, "madonvi": …}, …]``, taken
verbatim (no escaping needed), or text with one account per line in the text form; blank lines and
lines whose first non-blank character is ``#`` are skipped.

Every part is NFC-normalised, as the server normalises each request, so a password configured in
NFD (as some keyboards and file systems write Vietnamese) logs in with either form.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from ..wirejson import parse

ESCAPABLE = frozenset(":,#\\")
MAX_FILE_BYTES = 1024 * 1024
USAGE = "an account is USER:PASSWORD:MADONVI (escape ':' ',' '#' '\\' in a part with a backslash)"


@dataclass(frozen=True)
class Credentials:
    """One sandbox account; every part NFC-normalised on construction."""

    username: str
    password: str
    madonvi: str

    def __post_init__(self) -> None:
        for name in ("username", "password", "madonvi"):
            value = getattr(self, name)
            if not isinstance(value, str) or not value:
                raise ValueError(f"{name} must be a non-empty string")
            try:
                value.encode("utf-8")
            except UnicodeEncodeError:
                raise ValueError(f"{name} is not valid Unicode text") from None
            object.__setattr__(self, name, unicodedata.normalize("NFC", value))

    def __repr__(self) -> str:  # never show the password
        return f"Credentials(username={self.username!r}, madonvi={self.madonvi!r})"

    @classmethod
    def parse(cls, text: str) -> Credentials:
        """``USER:PASSWORD:MADONVI`` with backslash escapes (see the module docstring)."""
        parts = [unescape(part) for part in split_unescaped(text, ":")]
        if len(parts) != 3 or not all(parts):
            raise ValueError(USAGE)
        return cls(*parts)


def split_unescaped(text: str, separator: str) -> list[str]:
    """``text`` cut at every ``separator`` not preceded by an escaping backslash; escapes are kept."""
    parts: list[str] = []
    current: list[str] = []
    chars = iter(text)
    for char in chars:
        if char == "\\":
            current.append(char)
            current.append(next(chars, ""))
        elif char == separator:
            parts.append("".join(current))
            current = []
        else:
            current.append(char)
    parts.append("".join(current))
    return parts


def unescape(text: str) -> str:
    """Resolve the backslash escapes of one part; an unknown or dangling escape is an error."""
    out: list[str] = []
    chars = iter(text)
    for char in chars:
        if char != "\\":
            out.append(char)
            continue
        following = next(chars, "")
        if following not in ESCAPABLE:  # "" (a dangling backslash) is not in it either
            # The offending character is not named: it may be part of a password.
            raise ValueError(f"a backslash must be followed by ':', ',', '#' or '\\'; {USAGE}")
        out.append(following)
    return "".join(out)


def from_environment(value: str) -> list[Credentials]:
    """Accounts from ``$QCVNGEN_SANDBOX_ACCOUNTS``: texts separated by unescaped ``,``."""
    return [Credentials.parse(text) for text in split_unescaped(value, ",") if text]


def from_file(path: Path) -> list[Credentials]:
    """Accounts from a JSON or line-per-account file; errors name the file and line."""
    try:
        size = path.stat().st_size
        if not path.is_file():
            raise ValueError(f"{path}: not a regular file")
        if size > MAX_FILE_BYTES:
            raise ValueError(f"{path}: larger than {MAX_FILE_BYTES} bytes")
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else "not UTF-8 text"
        raise ValueError(f"{path}: cannot read: {reason}") from None
    if text.lstrip().startswith(("[", "{")):
        return _from_json(path, text)
    accounts: list[Credentials] = []
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        try:
            accounts.append(Credentials.parse(line))
        except ValueError as exc:
            raise ValueError(f"{path}:{number}: {exc}") from None
    return accounts


def _from_json(path: Path, text: str) -> list[Credentials]:
    try:
        data = parse(text)
    except ValueError as exc:
        raise ValueError(f"{path}: invalid JSON: {exc}") from None
    if not isinstance(data, list):
        # ValueError, not TypeError: a user's file is wrong, and the CLI reports ValueErrors as such.
        expected = '{"username", "password", "madonvi"}'
        raise ValueError(f"{path}: expected a JSON list of {expected} objects")
    accounts: list[Credentials] = []
    for index, item in enumerate(data):
        if not isinstance(item, dict) or set(item) != {"username", "password", "madonvi"}:
            raise ValueError(f'{path}: [{index}]: expected exactly the keys "username", "password", "madonvi"')
        try:
            accounts.append(Credentials(item["username"], item["password"], item["madonvi"]))
        except ValueError as exc:
            raise ValueError(f"{path}: [{index}]: {exc}") from None
    return accounts


def check_unique(accounts: Iterable[Credentials]) -> list[Credentials]:
    """The accounts as a list, refused when a user name appears twice (which password would win?)."""
    seen: set[str] = set()
    out: list[Credentials] = []
    for account in accounts:
        if account.username in seen:
            raise ValueError(f"user {account.username!r} is configured twice")
        seen.add(account.username)
        out.append(account)
    return out


def configured_accounts(
    flags: list[str] | None, environment: str | None, file: Path | None, default: Credentials
) -> list[Credentials]:
    """What ``qcvngen sandbox`` runs with: ``--account`` flags and ``--accounts-file`` together,
    else ``$QCVNGEN_SANDBOX_ACCOUNTS``, else ``default``. Raises ValueError saying what is wrong."""
    accounts: list[Credentials] = []
    for text in flags or []:
        accounts.append(Credentials.parse(text))
    if file is not None:
        accounts.extend(from_file(file))
    if not accounts and environment:
        accounts = from_environment(environment)
    return check_unique(accounts) if accounts else [default]

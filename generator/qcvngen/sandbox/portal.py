"""The sandbox's behaviour behind the generated PortalHandler: a stateful stand-in for the national portal.

Behaviour comes from the IR, per direction: a push is stored under the caller's unit as sent; a pull
is answered from the seed (``seed.json``: the portal's own data) or from the unit's stored pushes.
Overrides (:data:`OVERRIDES`) only where the portal differs: DongBoHoSoMC stores new-or-updated
dossiers, CapNhatTienDoHoSoMC adds progress to held ones, and two pulls compute part of their
answer. :func:`build_portal` makes the handler class of the served spec; a packet with no behaviour
(a pull the seed does not answer) stops it with :class:`NoBehaviour`, naming the packet.

Isolation: a session belongs to one account and its unit (``madonvi``); every push is stored under
that unit and every pull reads only that unit's data plus the portal's own seed (the catalogue,
decisions and public petitions are the same for everyone; the citizens' questions of the seed are
addressed to whichever unit asks). A session is valid only while its account is configured exactly
as it was at login (same password, same unit), and an account holds at most
``max_sessions_per_account`` live sessions: a new login ends the oldest beyond that.
"""

from __future__ import annotations

import difflib
import math
import re
import secrets
import time
import unicodedata
from collections.abc import Callable, Iterable, Sequence
from typing import Any, Protocol, cast

from pydantic import BaseModel
from pydantic_core import SchemaSerializer

from .. import ir
from ..runtime.server.answers import Account, Answer, CallContext, ErrorAnswer
from ..runtime.server.plainrequest import PlainRequest
from .accounts import Credentials, check_unique
from .runtime import Served
from .seed import PullSeed, Seed
from .store import Store

MAX_SESSIONS_PER_ACCOUNT = 100
__all__ = ["MAX_SESSIONS_PER_ACCOUNT", "OVERRIDES", "Credentials", "NoBehaviour", "SandboxPortal", "build_portal"]

# What a behaviour is handed: the request model, or on the short way its fields alone (the
# portal reads requests by their fields' names and stores records as sent: reads_plain_requests).
Request = BaseModel | PlainRequest

_PLAIN = re.compile(r"[A-Za-z0-9_.\-\[\]/]{1,80}")


def _plain_key(key: str) -> str:
    return key if re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]{0,63}", key) else "<key>"


def _non_finite(value: Any, path: str) -> str | None:
    """The path of the first non-finite number in ``value`` (keys that are not plain names as ``<key>``)."""
    if isinstance(value, float) and not math.isfinite(value):
        return path
    if isinstance(value, dict):
        items: Iterable[tuple[str, Any]] = ((f"{path}.{_plain_key(str(k))}", v) for k, v in value.items())
    elif isinstance(value, list):
        items = ((f"{path}[{i}]", v) for i, v in enumerate(value))
    else:
        return None
    for where, item in items:
        found = _non_finite(item, where)
        if found:
            return found
    return None


def _wire(model: BaseModel, where: str, error: type[ErrorAnswer]) -> bytes:
    """A validated record as its wire JSON in UTF-8, exactly as sent: the keys the client set (a
    ``null`` under an unknown key included) and nothing else. JSON has no non-finite numbers, so a
    value that would only be stored changed (``1e400`` read as infinity, written as ``null``) is
    refused. Bytes, as pydantic's serialiser writes them (``model_dump_json`` would decode them to
    a str, a fifth of the cost): stored as text by ``CAST(? AS TEXT)`` (every INSERT and UPDATE of a record)."""
    serializer = type(model).__pydantic_serializer__
    if isinstance(serializer, SchemaSerializer):
        text = bytes(serializer.to_json(model, by_alias=True, exclude_unset=True))
    else:  # a class validated only inside another (forward references): pydantic's method builds it
        text = model.model_dump_json(by_alias=True, exclude_unset=True).encode()
    if b"null" in text:  # rare: only then pay for a second walk to tell a real null from a lost number
        found = _non_finite(model.model_dump(by_alias=True, exclude_unset=True), where)
        if found:
            raise error(
                "-1",
                f"{found}: số không hữu hạn, không lưu được nguyên trạng"
                " — a non-finite number (e.g. 1e400) cannot be stored as sent",
                400,
            )
    return text


def _shown(values: list[str], limit: int = 10) -> str:
    """Client-chosen keys or codes as they may appear in a message: plain ones only, at most ``limit``."""
    plain = [v for v in values if _PLAIN.fullmatch(v)]
    shown = ", ".join(plain[:limit])
    hidden = len(values) - min(len(plain), limit)
    return shown + (f" (+{hidden} more)" if hidden else "")


def closest(wanted: str, known: list[str], *, cutoff: float = 0.6, limit: int = 3) -> list[str]:
    """The known codes most like ``wanted``: similar enough, and nearly as similar as the best one
    (codes such as ``1.001193.000.00.00.H99`` share most characters, so a fixed cutoff names all)."""
    if len(wanted) > 200:  # a similarity of long texts costs more than a hint is worth
        return []
    scored = []
    for code in known:
        matcher = difflib.SequenceMatcher(None, wanted, code)
        if matcher.real_quick_ratio() >= cutoff and matcher.quick_ratio() >= cutoff:
            scored.append((matcher.ratio(), code))
    best = max((score for score, _ in scored), default=0.0)
    return [code for score, code in sorted(scored, key=lambda item: -item[0]) if score >= max(cutoff, best - 0.05)][
        :limit
    ]


def did_you_mean(wanted: str, known: list[str], *, list_when_at_most: int = 10) -> str:
    """``"; có phải … / did you mean …?"`` naming the closest known codes, and the whole list when it
    is short. Only known codes are named, never the value asked for (it may be anything)."""
    close = closest(wanted, known)
    out = f"; có phải / did you mean: {', '.join(close)}?" if close else ""
    if len(known) <= list_when_at_most:
        out += f" Mã có sẵn / known codes: {', '.join(known) if known else '(none)'}"
    return out


class NoBehaviour(ValueError):
    """A packet of the served spec the sandbox cannot answer; the message names it and what to add."""


class _Pushed(Protocol):
    """Every generated push request: its records under ``data``."""

    @property
    def data(self) -> Sequence[BaseModel]: ...


class _Dossier(Protocol):
    @property
    def ma_ho_so(self) -> str: ...


class _DossierPush(Protocol):
    """DongBoHoSoMC and CapNhatTienDoHoSoMC: records keyed by MaHoSo (and the new-or-update flag)."""

    @property
    def is_updating(self) -> str | None: ...

    @property
    def data(self) -> Sequence[_Dossier]: ...


class SandboxPortal:
    """The sandbox's national portal: accounts and sessions, stored pushes, pulls from seed and pushes.

    Made by :func:`build_portal`, which adds one method per packet of the served spec."""

    # It reads requests only by their fields' Python names and stores records as sent
    # (CallContext.records_as_sent), never as models: the app may hand it a PlainRequest.
    reads_plain_requests = True

    def __init__(
        self,
        served: Served,
        store: Store,
        accounts: list[Credentials],
        seed: Seed,
        session_ttl: float = 600.0,
        max_sessions_per_account: int = MAX_SESSIONS_PER_ACCOUNT,
    ) -> None:
        if max_sessions_per_account < 1:
            raise ValueError("max_sessions_per_account must be at least 1")
        self.served = served
        self.store = store
        self.seed = seed
        self.session_ttl = session_ttl
        self.max_sessions_per_account = max_sessions_per_account
        self.accounts: dict[str, Credentials] = {}
        self._fingerprints: dict[str, str] = {}
        self.set_accounts(accounts)

    # -- accounts and sessions -------------------------------------------------------------------
    def set_accounts(self, accounts: list[Credentials]) -> None:
        """Replace the configured accounts; sessions of a changed or removed account end now (and a
        session issued under an older configuration is refused even if it survived in the store)."""
        fingerprints = {
            a.username: self.store.fingerprint(a.username, a.password, a.madonvi) for a in check_unique(accounts)
        }
        for username in set(self._fingerprints) | set(fingerprints):
            if self._fingerprints.get(username) != fingerprints.get(username):
                self.store.end_sessions(username, keep_fingerprint=fingerprints.get(username))
        self.accounts = {a.username: a for a in accounts}
        self._fingerprints = fingerprints

    def login(self, username: str, password: str) -> str | None:
        """A new session token for a configured account whose password matches (after NFC), else None."""
        # The server NFC-normalises requests and Credentials its parts: the same form on both sides.
        account = self.accounts.get(unicodedata.normalize("NFC", username))
        given = unicodedata.normalize("NFC", password).encode("utf-8", "surrogatepass")
        # compare_digest even for an unknown user, so timing says nothing about which users exist.
        expected = account.password.encode("utf-8") if account else secrets.token_bytes(16)
        if not secrets.compare_digest(expected, given) or account is None:
            return None
        token = secrets.token_urlsafe(32)
        fingerprint = self._fingerprints[account.username]
        self.store.add_session(
            token, account.username, account.madonvi, self.session_ttl, fingerprint, self.max_sessions_per_account
        )
        return token

    def account_for_session(self, session: str) -> Account | None:
        """The account of a live session issued under the account's current configuration, else None."""
        found = self.store.session(session)
        if found is None:
            return None
        username, madonvi, fingerprint = found
        current = self._fingerprints.get(username)
        if current is None or not secrets.compare_digest(current, fingerprint):
            return None  # the account changed or went away since this session was issued
        return self.served.account(username=username, madonvi=madonvi)

    # -- answers, in the served package's own classes --------------------------------------------
    def answer(self, message: str = "Thành công", result: Sequence[Any] | None = None, code: str = "0") -> Answer:
        """An answer of the served package (its app renders only its own class)."""
        return self.served.answer(error_code=code, message=message, result=result)

    def _success(self, count: int, unknown: tuple[str, ...]) -> Answer:
        message = f"Đồng bộ thành công {count} bản ghi — {count} record(s) stored"
        if unknown:
            message += f"; khóa chưa biết được lưu nguyên trạng — unknown keys kept as sent: {_shown(list(unknown))}"
        return self.answer(message)

    def _refused(self, code: str, message: str, keys: list[str], hint: str = "") -> Answer:
        """A per-record refusal of a whole request (docs/wire-conventions.md): the refused records' keys
        as data in ``result``, one object per record in request order; plain ones in the message too."""
        return self.answer(f"{message}: {_shown(keys)}{hint}", [{"MaHoSo": key} for key in keys], code)

    def _texts(self, request: Request, context: CallContext) -> Sequence[bytes]:
        """Each record's wire JSON: as the client wrote it when the server read the body the short way
        (the same JSON values as the serialiser writes, keys in the order sent), else serialised."""
        records = cast(_Pushed, request).data
        if len(context.records_as_sent) == len(records):
            return context.records_as_sent
        return [_wire(record, f"data[{index}]", self.served.error) for index, record in enumerate(records)]

    # -- the behaviour every push has: stored under the caller's unit, as sent --------------------
    def _receipt(self, db: Any, service: str, madonvi: str, count: int, code: str = "0") -> None:
        db.execute(
            "INSERT INTO receipts (service, madonvi, records, error_code, received) VALUES (?, ?, ?, ?, ?)",
            (service, madonvi, count, code, time.time()),
        )

    def store_push(self, packet: ir.Packet, request: Request, context: CallContext) -> Answer:
        """Store the pushed records under the caller's unit, exactly as sent."""
        madonvi = context.account.madonvi
        texts = self._texts(request, context)
        now = time.time()
        with self.store.transaction() as db:
            db.executemany(
                "INSERT INTO records (service, madonvi, record, received) VALUES (?, ?, CAST(? AS TEXT), ?)",
                [(packet.name, madonvi, text, now) for text in texts],
            )
            self._receipt(db, packet.name, madonvi, len(texts))
        return self._success(len(texts), context.unknown_keys)

    # -- the behaviour every seeded pull has ------------------------------------------------------
    def _entry(self, packet: ir.Packet) -> PullSeed:
        return self.seed.pulls.get(packet.name) or PullSeed()

    def answer_pull(self, packet: ir.Packet, request: Request, context: CallContext) -> Answer:
        """The seed's answer: its items; the items of one parameter's value (-4 naming the closest
        seeded values when unknown); or the caller's unit's own pushes of another packet."""
        entry = self._entry(packet)
        if entry.from_push is not None:
            return self.answer(entry.message, self.store.stored(entry.from_push, context.account.madonvi))
        if entry.by is None:
            return self.answer(entry.message, entry.result)
        param = next(f for f in packet.params if f.wire_name == entry.by)
        wanted = getattr(request, param.py_name)
        found = entry.answers.get(str(wanted or ""))
        if found is None:
            hint = did_you_mean(str(wanted or ""), list(entry.answers))
            return self.answer(f"{entry.not_found}{hint}", [], "-4")
        return self.answer(entry.message, found)

    # -- overrides: where the portal does more than store or answer from the seed -----------------
    def _held(self, db: Any, madonvi: str, keys: list[str]) -> set[str]:
        unique = sorted(set(keys))
        marks = ",".join("?" * len(unique))
        return {
            row[0]
            for row in db.execute(
                f"SELECT ma_ho_so FROM dossiers WHERE madonvi = ? AND ma_ho_so IN ({marks})", (madonvi, *unique)
            )
        }

    def _suggest_dossiers(self, madonvi: str, missing: list[str]) -> str:
        """Close matches among the caller's own dossiers, for the first few missing keys."""
        held = [
            row[0]
            for row in self.store.query(
                "SELECT ma_ho_so FROM dossiers WHERE madonvi = ? ORDER BY updated DESC LIMIT 5000", (madonvi,)
            )
        ]
        close: list[str] = []
        for key in missing[:3]:
            close.extend(c for c in closest(key, held, cutoff=0.8, limit=2) if c not in close)
        return f"; có phải / did you mean: {', '.join(close)}?" if close else ""

    def store_dossiers(self, packet: ir.Packet, request: Request, context: CallContext) -> Answer:
        """DongBoHoSoMC: store new dossiers (or update held ones with ``isUpdating``), all or nothing per
        request: -3 names the dossiers already held, -4 the ones to update that are not."""
        madonvi = context.account.madonvi
        push = cast(_DossierPush, request)
        updating = push.is_updating == "True"
        keys = [record.ma_ho_so for record in push.data]
        first: dict[str, int] = {}
        for index, key in enumerate(keys):
            if key in first:
                # Schema-valid but contradictory: a business error (HTTP 200, error_code -1), like -3/-4.
                with self.store.transaction() as db:
                    self._receipt(db, packet.name, madonvi, 0, "-1")
                return self.answer(
                    f"Một MaHoSo xuất hiện hai lần trong cùng yêu cầu"
                    f" — data[{index}].MaHoSo repeats data[{first[key]}].MaHoSo",
                    code="-1",
                )
            first[key] = index
        texts = self._texts(request, context)
        now = time.time()
        with self.store.transaction() as db:
            held = self._held(db, madonvi, keys)
            # All or nothing: one refused record refuses the request, and nothing of it is stored.
            if not updating and held:
                self._receipt(db, packet.name, madonvi, 0, "-3")
                return self._refused("-3", "Hồ sơ đã tồn tại — dossier already exists", [k for k in keys if k in held])
            if updating and len(held) != len(keys):
                self._receipt(db, packet.name, madonvi, 0, "-4")
                missing = [k for k in keys if k not in held]
                hint = self._suggest_dossiers(madonvi, missing)
                return self._refused("-4", "Hồ sơ không tồn tại — dossier does not exist", missing, hint)
            if updating:
                db.executemany(
                    "UPDATE dossiers SET record = CAST(? AS TEXT), updated = ?, versions = versions + 1"
                    " WHERE madonvi = ? AND ma_ho_so = ?",
                    [(text, now, madonvi, key) for key, text in zip(keys, texts, strict=True)],
                )
            else:
                db.executemany(
                    "INSERT INTO dossiers VALUES (?, ?, CAST(? AS TEXT), ?, ?, 1)",
                    [(madonvi, key, text, now, now) for key, text in zip(keys, texts, strict=True)],
                )
            self._receipt(db, packet.name, madonvi, len(keys))
        return self._success(len(keys), context.unknown_keys)

    def add_progress(self, packet: ir.Packet, request: Request, context: CallContext) -> Answer:
        """CapNhatTienDoHoSoMC: add progress steps to the caller's dossiers; -4 (nothing stored) names
        the dossiers it does not hold."""
        madonvi = context.account.madonvi
        keys = [record.ma_ho_so for record in cast(_DossierPush, request).data]
        texts = self._texts(request, context)
        now = time.time()
        with self.store.transaction() as db:
            held = self._held(db, madonvi, keys)
            missing = [k for k in keys if k not in held]
            if missing:
                self._receipt(db, packet.name, madonvi, 0, "-4")
                message = (
                    "Hồ sơ không tồn tại, hãy gửi DongBoHoSoMC trước — dossier does not exist, send DongBoHoSoMC first"
                )
                return self._refused("-4", message, missing, self._suggest_dossiers(madonvi, missing))
            db.executemany(
                "INSERT INTO progress (madonvi, ma_ho_so, record, received) VALUES (?, ?, CAST(? AS TEXT), ?)",
                [(madonvi, key, text, now) for key, text in zip(keys, texts, strict=True)],
            )
            self._receipt(db, packet.name, madonvi, len(keys))
        return self._success(len(keys), context.unknown_keys)

    def public_petitions(self, packet: ir.Packet, request: Request, context: CallContext) -> Answer:
        """DanhSachPAKNCongKhai: the seeded public petitions, each with the total count."""
        entry = self._entry(packet)
        items = entry.result
        return self.answer(entry.message, [{**item, "TongSo": str(len(items))} for item in items])

    def citizens_questions(self, packet: ir.Packet, request: Request, context: CallContext) -> Answer:
        """LayDanhSachHoiDapGuiTuDVCQG: the seed's citizens' questions, addressed to the caller's unit,
        with that unit's own latest answer to each (answers of other units are never read)."""
        madonvi = context.account.madonvi
        answers = {str(a.get("HOIDAPID")): a for a in self.store.stored("DongBoKetQuaHoiDapGuiTuDVCQG", madonvi)}
        result = []
        for question in self._entry(packet).result:
            answer = answers.get(str(question["HOIDAPID"]))
            reply = {"NOIDUNGTRALOI": answer["NOIDUNGTRALOI"]} if answer and "NOIDUNGTRALOI" in answer else {}
            result.append({**question, "MADONVI": madonvi, **reply})
        return self.answer(self._entry(packet).message, result)


Behaviour = Callable[[SandboxPortal, ir.Packet, Request, CallContext], Answer]

# Where the portal does more than store a push or answer a pull from the seed, by packet name.
OVERRIDES: dict[str, Behaviour] = {
    "DongBoHoSoMC": SandboxPortal.store_dossiers,
    "CapNhatTienDoHoSoMC": SandboxPortal.add_progress,
    "DanhSachPAKNCongKhai": SandboxPortal.public_petitions,
    "LayDanhSachHoiDapGuiTuDVCQG": SandboxPortal.citizens_questions,
}


def behaviour_of(packet: ir.Packet, seed: Seed) -> Behaviour | None:
    """The packet's override; else a push's storing, a seeded pull's answer; else None (no behaviour)."""
    if packet.name in OVERRIDES:
        return OVERRIDES[packet.name]
    if packet.direction == "push":
        return SandboxPortal.store_push
    if packet.name in seed.pulls:
        return SandboxPortal.answer_pull
    return None


def _method(packet: ir.Packet, behaviour: Behaviour) -> Callable[[SandboxPortal, Request, CallContext], Answer]:
    def method(self: SandboxPortal, request: Request, context: CallContext) -> Answer:
        return behaviour(self, packet, request, context)

    method.__name__ = packet.method
    method.__doc__ = f"{packet.name} ({packet.direction}): {(behaviour.__doc__ or '').strip().splitlines()[0]}"
    return method


def portal_class(served: Served, seed: Seed) -> type[SandboxPortal]:
    """The handler class of the served spec: :class:`SandboxPortal` with one method per packet, a
    subclass of the served ``PortalHandler``. :class:`NoBehaviour` names a packet it cannot answer."""
    methods: dict[str, Any] = {}
    for packet in served.regulation.packets:
        behaviour = behaviour_of(packet, seed)
        if behaviour is None:
            raise NoBehaviour(
                f"{packet.name} (packet {packet.number}, {packet.direction}) has no sandbox behaviour: add"
                f' "{packet.name}" under "pulls" in a seed file (--seed FILE, shaped like qcvngen/sandbox/seed.json)'
                " or an override in qcvngen/sandbox/portal.py (OVERRIDES)"
            )
        methods[packet.method] = _method(packet, behaviour)
    cls = type("SandboxPortal", (SandboxPortal, served.portal_handler), methods)
    return cast(type[SandboxPortal], cls)


def build_portal(
    served: Served,
    store: Store,
    accounts: list[Credentials],
    seed: Seed,
    *,
    session_ttl: float = 600.0,
    max_sessions_per_account: int = MAX_SESSIONS_PER_ACCOUNT,
) -> SandboxPortal:
    """The sandbox portal of the served spec on ``store`` (see :func:`portal_class`)."""
    cls = portal_class(served, seed)
    return cls(served, store, accounts, seed, session_ttl, max_sessions_per_account)

"""The sandbox's behaviour behind the generated PortalHandler: a stateful stand-in for the national portal.

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
from collections.abc import Iterable
from typing import Any

from .accounts import Credentials, check_unique
from .runtime import generated_modules
from .store import Store

_server = generated_modules()
handler_module = _server.handler
PortalHandler = handler_module.PortalHandler
Answer = handler_module.Answer
Account = handler_module.Account
ErrorAnswer = handler_module.ErrorAnswer

MAX_SESSIONS_PER_ACCOUNT = 100
__all__ = ["MAX_SESSIONS_PER_ACCOUNT", "Credentials", "SandboxPortal"]

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


def _wire(model: Any, where: str) -> str:
    """A validated record as its wire JSON, exactly as sent: the keys the client set (a ``null`` under
    an unknown key included) and nothing else. JSON has no non-finite numbers, so a value that
    would only be stored changed (``1e400`` read as infinity, written as ``null``) is refused."""
    text = str(model.model_dump_json(by_alias=True, exclude_unset=True))
    if "null" in text:  # rare: only then pay for a second walk to tell a real null from a lost number
        found = _non_finite(model.model_dump(by_alias=True, exclude_unset=True), where)
        if found:
            raise ErrorAnswer(
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


def _success(count: int, unknown: tuple[str, ...]) -> Any:
    message = f"Đồng bộ thành công {count} bản ghi — {count} record(s) stored"
    if unknown:
        message += f"; khóa chưa biết được lưu nguyên trạng — unknown keys kept as sent: {_shown(list(unknown))}"
    return Answer(message=message)


def _refused(code: str, message: str, keys: list[str], hint: str = "") -> Any:
    """A per-record refusal of a whole request (docs/wire-conventions.md): the refused records' keys
    as data in ``result``, one object per record in request order; plain ones in the message too."""
    return Answer(error_code=code, message=f"{message}: {_shown(keys)}{hint}", result=[{"MaHoSo": key} for key in keys])


class SandboxPortal(PortalHandler):  # type: ignore[misc,valid-type]
    """The sandbox's national portal: accounts and sessions, stored pushes, pulls from seed and pushes."""

    def __init__(
        self,
        store: Store,
        accounts: list[Credentials],
        seed: dict[str, Any],
        session_ttl: float = 600.0,
        max_sessions_per_account: int = MAX_SESSIONS_PER_ACCOUNT,
    ) -> None:
        if max_sessions_per_account < 1:
            raise ValueError("max_sessions_per_account must be at least 1")
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

    def account_for_session(self, session: str) -> Any:
        """The account of a live session issued under the account's current configuration, else None."""
        found = self.store.session(session)
        if found is None:
            return None
        username, madonvi, fingerprint = found
        current = self._fingerprints.get(username)
        if current is None or not secrets.compare_digest(current, fingerprint):
            return None  # the account changed or went away since this session was issued
        return Account(username=username, madonvi=madonvi)

    # -- pushes ----------------------------------------------------------------------------------
    def _receipt(self, db: Any, service: str, madonvi: str, count: int, code: str = "0") -> None:
        db.execute(
            "INSERT INTO receipts (service, madonvi, records, error_code, received) VALUES (?, ?, ?, ?, ?)",
            (service, madonvi, count, code, time.time()),
        )

    def _store_records(self, service: str, request: Any, context: Any) -> Any:
        madonvi = context.account.madonvi
        texts = [_wire(record, f"data[{index}]") for index, record in enumerate(request.data)]
        now = time.time()
        with self.store.transaction() as db:
            db.executemany(
                "INSERT INTO records (service, madonvi, record, received) VALUES (?, ?, ?, ?)",
                [(service, madonvi, text, now) for text in texts],
            )
            self._receipt(db, service, madonvi, len(texts))
        return _success(len(texts), context.unknown_keys)

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

    def dong_bo_ho_so_mc(self, request: Any, context: Any) -> Any:
        """Store new dossiers (or update held ones with ``isUpdating``), all or nothing per request:
        -3 names the dossiers already held, -4 the ones to update that are not."""
        madonvi = context.account.madonvi
        updating = request.is_updating == "True"
        keys = [record.ma_ho_so for record in request.data]
        first: dict[str, int] = {}
        for index, key in enumerate(keys):
            if key in first:
                # Schema-valid but contradictory: a business error (HTTP 200, error_code -1), like -3/-4.
                with self.store.transaction() as db:
                    self._receipt(db, "DongBoHoSoMC", madonvi, 0, "-1")
                return Answer(
                    error_code="-1",
                    message=f"Một MaHoSo xuất hiện hai lần trong cùng yêu cầu"
                    f" — data[{index}].MaHoSo repeats data[{first[key]}].MaHoSo",
                )
            first[key] = index
        texts = [_wire(record, f"data[{index}]") for index, record in enumerate(request.data)]
        now = time.time()
        with self.store.transaction() as db:
            held = self._held(db, madonvi, keys)
            # All or nothing: one refused record refuses the request, and nothing of it is stored.
            if not updating and held:
                self._receipt(db, "DongBoHoSoMC", madonvi, 0, "-3")
                return _refused("-3", "Hồ sơ đã tồn tại — dossier already exists", [k for k in keys if k in held])
            if updating and len(held) != len(keys):
                self._receipt(db, "DongBoHoSoMC", madonvi, 0, "-4")
                missing = [k for k in keys if k not in held]
                return _refused(
                    "-4",
                    "Hồ sơ không tồn tại — dossier does not exist",
                    missing,
                    self._suggest_dossiers(madonvi, missing),
                )
            if updating:
                db.executemany(
                    "UPDATE dossiers SET record = ?, updated = ?, versions = versions + 1"
                    " WHERE madonvi = ? AND ma_ho_so = ?",
                    [(text, now, madonvi, key) for key, text in zip(keys, texts)],
                )
            else:
                db.executemany(
                    "INSERT INTO dossiers VALUES (?, ?, ?, ?, ?, 1)",
                    [(madonvi, key, text, now, now) for key, text in zip(keys, texts)],
                )
            self._receipt(db, "DongBoHoSoMC", madonvi, len(keys))
        return _success(len(keys), context.unknown_keys)

    def cap_nhat_tien_do_ho_so_mc(self, request: Any, context: Any) -> Any:
        """Add progress steps to the caller's dossiers; -4 (nothing stored) names the dossiers it does not hold."""
        madonvi = context.account.madonvi
        keys = [record.ma_ho_so for record in request.data]
        texts = [_wire(record, f"data[{index}]") for index, record in enumerate(request.data)]
        now = time.time()
        with self.store.transaction() as db:
            held = self._held(db, madonvi, keys)
            missing = [k for k in keys if k not in held]
            if missing:
                self._receipt(db, "CapNhatTienDoHoSoMC", madonvi, 0, "-4")
                message = (
                    "Hồ sơ không tồn tại, hãy gửi DongBoHoSoMC trước — dossier does not exist, send DongBoHoSoMC first"
                )
                return _refused("-4", message, missing, self._suggest_dossiers(madonvi, missing))
            db.executemany(
                "INSERT INTO progress (madonvi, ma_ho_so, record, received) VALUES (?, ?, ?, ?)",
                [(madonvi, key, text, now) for key, text in zip(keys, texts)],
            )
            self._receipt(db, "CapNhatTienDoHoSoMC", madonvi, len(keys))
        return _success(len(keys), context.unknown_keys)

    def dong_bo_danh_gia(self, request: Any, context: Any) -> Any:
        """Store the pushed evaluations (Table 4) as sent."""
        return self._store_records("DongBoDanhGia", request, context)

    def dong_bo_thong_ke_ho_so(self, request: Any, context: Any) -> Any:
        """Store the pushed dossier statistics (Table 5) as sent."""
        return self._store_records("DongBoThongKeHoSo", request, context)

    def dong_bo_pakn_dia_phuong(self, request: Any, context: Any) -> Any:
        """Store the pushed local petitions as sent."""
        return self._store_records("DongBoPAKNDiaPhuong", request, context)

    def dong_bo_ket_qua_xu_ly_pakn(self, request: Any, context: Any) -> Any:
        """Store the pushed petition outcomes as sent."""
        return self._store_records("DongBoKetQuaXuLyPAKN", request, context)

    def dong_bo_hoi_dap(self, request: Any, context: Any) -> Any:
        """Store the pushed questions and answers as sent."""
        return self._store_records("DongBoHoiDap", request, context)

    def dong_bo_ket_qua_hoi_dap_gui_tu_dvcqg(self, request: Any, context: Any) -> Any:
        """Store the caller's answers to citizens' questions (read back only by the same unit)."""
        return self._store_records("DongBoKetQuaHoiDapGuiTuDVCQG", request, context)

    # -- pulls: the seed (the portal's own data) and the caller's unit's pushes, nothing else ----------
    def lay_thu_tuc(self, request: Any, context: Any) -> Any:
        """The seeded procedure of ``MaTTHC``; -4 names the closest seeded codes when it is unknown."""
        found = [p for p in self.seed["procedures"] if p["MATTHC"] == request.ma_tthc]
        if not found:
            hint = did_you_mean(request.ma_tthc, [p["MATTHC"] for p in self.seed["procedures"]])
            return Answer(error_code="-4", message=f"Không tìm thấy thủ tục — procedure not found{hint}", result=[])
        return Answer(message="Thành công", result=found)

    def lay_qdcb(self, request: Any, context: Any) -> Any:
        """The seeded publication decision of ``IdQDCB``; -4 names the closest seeded ids when it is unknown."""
        found = self.seed["decisions"].get(request.id_qdcb)
        if not found:
            hint = did_you_mean(request.id_qdcb, sorted(self.seed["decisions"]))
            return Answer(
                error_code="-4", message=f"Không tìm thấy quyết định công bố — decision not found{hint}", result=[]
            )
        return Answer(message="Thành công", result=found)

    def danh_sach_pakn_cho_xu_ly(self, request: Any, context: Any) -> Any:
        """The seeded petitions waiting to be handled."""
        # Table 9's fields are unknown; the Table 13 candidate keys stand in (see seed.json's note).
        return Answer(
            message="Thành công (bảng 9 chưa biết, dùng khóa của bảng 13 — Table 9 unknown, Table 13 keys used)",
            result=self.seed["petitions_pending"],
        )

    def danh_sach_pakn_cong_khai(self, request: Any, context: Any) -> Any:
        """The seeded public petitions, each with the total count."""
        items = self.seed["petitions_public"]
        return Answer(message="Thành công", result=[{**item, "TongSo": str(len(items))} for item in items])

    def lay_tai_lieu_pakn(self, request: Any, context: Any) -> Any:
        """No documents: Table 12's fields are unknown, and the answer says so."""
        return Answer(
            message="Bảng 12 chưa biết: không có tài liệu nào được trả về"
            " — Table 12's fields are unknown; no document items are returned",
            result=[],
        )

    def lay_danh_sach_hoi_dap_gui_tu_dvcqg(self, request: Any, context: Any) -> Any:
        """The seed's citizens' questions, addressed to the caller's unit, with that unit's own latest
        answer to each (answers of other units are never read)."""
        madonvi = context.account.madonvi
        answers = {str(a.get("HOIDAPID")): a for a in self.store.stored("DongBoKetQuaHoiDapGuiTuDVCQG", madonvi)}
        result = []
        for question in self.seed["questions_citizens"]:
            answer = answers.get(str(question["HOIDAPID"]))
            reply = {"NOIDUNGTRALOI": answer["NOIDUNGTRALOI"]} if answer and "NOIDUNGTRALOI" in answer else {}
            result.append({**question, "MADONVI": madonvi, **reply})
        return Answer(message="Thành công", result=result)

    def lay_danh_sach_hoi_dap_bo_co_quan(self, request: Any, context: Any) -> Any:
        """The seeded questions and answers of ministries and agencies."""
        return Answer(message="Thành công", result=self.seed["questions_ministries"])

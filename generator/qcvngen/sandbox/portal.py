"""The sandbox's behaviour behind the generated PortalHandler: a stateful stand-in for the national portal."""

from __future__ import annotations

import re
import secrets
import time
from dataclasses import dataclass
from typing import Any

from .runtime import generated_modules
from .store import Store

_server = generated_modules()
handler_module = _server.handler
PortalHandler = handler_module.PortalHandler
Answer = handler_module.Answer
Account = handler_module.Account
PortalError = handler_module.PortalError


@dataclass(frozen=True)
class Credentials:
    username: str
    password: str
    madonvi: str

    def __repr__(self) -> str:  # never show the password
        return f"Credentials(username={self.username!r}, madonvi={self.madonvi!r})"

    @classmethod
    def parse(cls, text: str) -> Credentials:
        parts = text.split(":")
        if len(parts) != 3 or not all(parts):
            raise ValueError("an account is USER:PASSWORD:MADONVI")
        return cls(*parts)


def _wire(model: Any) -> str:
    """A validated record as its canonical wire JSON (pydantic serialises it in one native pass)."""
    return str(model.model_dump_json(by_alias=True, exclude_none=True))


_PLAIN = re.compile(r"[A-Za-z0-9_.\-\[\]/]{1,80}")


def _shown(values: list[str], limit: int = 10) -> str:
    """Client-chosen keys or codes as they may appear in a message: plain ones only, at most ``limit``."""
    plain = [v for v in values if _PLAIN.fullmatch(v)]
    shown = ", ".join(plain[:limit])
    hidden = len(values) - min(len(plain), limit)
    return shown + (f" (+{hidden} more)" if hidden else "")


def _success(count: int, unknown: tuple[str, ...]) -> Any:
    message = f"Đồng bộ thành công {count} bản ghi — {count} record(s) stored"
    if unknown:
        message += f"; khóa chưa biết được lưu nguyên trạng — unknown keys kept as sent: {_shown(list(unknown))}"
    return Answer(message=message)


class SandboxPortal(PortalHandler):  # type: ignore[misc,valid-type]
    def __init__(self, store: Store, accounts: list[Credentials], seed: dict[str, Any], session_ttl: float = 600.0) -> None:
        self.store = store
        self.accounts = {a.username: a for a in accounts}
        self.seed = seed
        self.session_ttl = session_ttl

    # -- authentication ------------------------------------------------------------------------
    def login(self, username: str, password: str) -> str | None:
        account = self.accounts.get(username)
        # surrogatepass: a password is compared byte for byte, whatever code points it holds.
        if account is None or not secrets.compare_digest(account.password.encode("utf-8", "surrogatepass"), password.encode("utf-8", "surrogatepass")):
            return None
        token = secrets.token_urlsafe(32)
        self.store.add_session(token, username, account.madonvi, self.session_ttl)
        return token

    def account_for_session(self, session: str) -> Any:
        found = self.store.session(session)
        return Account(username=found[0], madonvi=found[1]) if found else None

    # -- pushes ----------------------------------------------------------------------------------
    def _receipt(self, db: Any, service: str, madonvi: str, count: int, code: str = "0") -> None:
        db.execute("INSERT INTO receipts (service, madonvi, records, error_code, received) VALUES (?, ?, ?, ?, ?)", (service, madonvi, count, code, time.time()))

    def _store_records(self, service: str, request: Any, context: Any) -> Any:
        madonvi = context.account.madonvi
        now = time.time()
        with self.store.transaction() as db:
            for record in request.data:
                db.execute("INSERT INTO records (service, madonvi, record, received) VALUES (?, ?, ?, ?)", (service, madonvi, _wire(record), now))
            self._receipt(db, service, madonvi, len(request.data))
        return _success(len(request.data), context.unknown_keys)

    def dong_bo_ho_so_mc(self, request: Any, context: Any) -> Any:
        madonvi = context.account.madonvi
        updating = request.is_updating == "True"
        keys = [record.ma_ho_so for record in request.data]
        first: dict[str, int] = {}
        for index, key in enumerate(keys):
            if key in first:
                # Schema-valid but contradictory: a business error (HTTP 200, error_code -1), like -3/-4.
                with self.store.transaction() as db:
                    self._receipt(db, "DongBoHoSoMC", madonvi, 0, "-1")
                return Answer(error_code="-1", message=f"Một MaHoSo xuất hiện hai lần trong cùng yêu cầu — data[{index}].MaHoSo repeats data[{first[key]}].MaHoSo")
            first[key] = index
        now = time.time()
        with self.store.transaction() as db:
            held = {row[0] for row in db.execute(f"SELECT ma_ho_so FROM dossiers WHERE madonvi = ? AND ma_ho_so IN ({','.join('?' * len(keys))})", (madonvi, *keys))}
            if not updating and held:
                self._receipt(db, "DongBoHoSoMC", madonvi, 0, "-3")
                return Answer(error_code="-3", message=f"Hồ sơ đã tồn tại — dossier already exists: {_shown(sorted(held))}")
            if updating and len(held) != len(keys):
                missing = sorted(set(keys) - held)
                self._receipt(db, "DongBoHoSoMC", madonvi, 0, "-4")
                return Answer(error_code="-4", message=f"Hồ sơ không tồn tại — dossier does not exist: {_shown(missing)}")
            for record in request.data:
                text = _wire(record)
                if updating:
                    db.execute("UPDATE dossiers SET record = ?, updated = ?, versions = versions + 1 WHERE madonvi = ? AND ma_ho_so = ?", (text, now, madonvi, record.ma_ho_so))
                else:
                    db.execute("INSERT INTO dossiers VALUES (?, ?, ?, ?, ?, 1)", (madonvi, record.ma_ho_so, text, now, now))
            self._receipt(db, "DongBoHoSoMC", madonvi, len(keys))
        return _success(len(keys), context.unknown_keys)

    def cap_nhat_tien_do_ho_so_mc(self, request: Any, context: Any) -> Any:
        madonvi = context.account.madonvi
        keys = sorted({record.ma_ho_so for record in request.data})
        now = time.time()
        with self.store.transaction() as db:
            held = {row[0] for row in db.execute(f"SELECT ma_ho_so FROM dossiers WHERE madonvi = ? AND ma_ho_so IN ({','.join('?' * len(keys))})", (madonvi, *keys))}
            missing = [k for k in keys if k not in held]
            if missing:
                self._receipt(db, "CapNhatTienDoHoSoMC", madonvi, 0, "-4")
                return Answer(error_code="-4", message=f"Hồ sơ không tồn tại, hãy gửi DongBoHoSoMC trước — dossier does not exist, send DongBoHoSoMC first: {_shown(missing)}")
            for record in request.data:
                db.execute("INSERT INTO progress (madonvi, ma_ho_so, record, received) VALUES (?, ?, ?, ?)", (madonvi, record.ma_ho_so, _wire(record), now))
            self._receipt(db, "CapNhatTienDoHoSoMC", madonvi, len(request.data))
        return _success(len(request.data), context.unknown_keys)

    def dong_bo_danh_gia(self, request: Any, context: Any) -> Any:
        return self._store_records("DongBoDanhGia", request, context)

    def dong_bo_thong_ke_ho_so(self, request: Any, context: Any) -> Any:
        return self._store_records("DongBoThongKeHoSo", request, context)

    def dong_bo_pakn_dia_phuong(self, request: Any, context: Any) -> Any:
        return self._store_records("DongBoPAKNDiaPhuong", request, context)

    def dong_bo_ket_qua_xu_ly_pakn(self, request: Any, context: Any) -> Any:
        return self._store_records("DongBoKetQuaXuLyPAKN", request, context)

    def dong_bo_hoi_dap(self, request: Any, context: Any) -> Any:
        return self._store_records("DongBoHoiDap", request, context)

    def dong_bo_ket_qua_hoi_dap_gui_tu_dvcqg(self, request: Any, context: Any) -> Any:
        return self._store_records("DongBoKetQuaHoiDapGuiTuDVCQG", request, context)

    # -- pulls ---------------------------------------------------------------------------------
    def lay_thu_tuc(self, request: Any, context: Any) -> Any:
        found = [p for p in self.seed["procedures"] if p["MATTHC"] == request.ma_tthc]
        if not found:
            return Answer(error_code="-4", message="Không tìm thấy thủ tục — procedure not found", result=[])
        return Answer(message="Thành công", result=found)

    def lay_qdcb(self, request: Any, context: Any) -> Any:
        found = self.seed["decisions"].get(request.id_qdcb)
        if not found:
            return Answer(error_code="-4", message="Không tìm thấy quyết định công bố — decision not found", result=[])
        return Answer(message="Thành công", result=found)

    def danh_sach_pakn_cho_xu_ly(self, request: Any, context: Any) -> Any:
        # Table 9's fields are unknown; the Table 13 candidate keys stand in (see seed.json's note).
        return Answer(message="Thành công (bảng 9 chưa biết, dùng khóa của bảng 13 — Table 9 unknown, Table 13 keys used)", result=self.seed["petitions_pending"])

    def danh_sach_pakn_cong_khai(self, request: Any, context: Any) -> Any:
        items = self.seed["petitions_public"]
        return Answer(message="Thành công", result=[{**item, "TongSo": str(len(items))} for item in items])

    def lay_tai_lieu_pakn(self, request: Any, context: Any) -> Any:
        return Answer(message="Bảng 12 chưa biết: không có tài liệu nào được trả về — Table 12's fields are unknown; no document items are returned", result=[])

    def lay_danh_sach_hoi_dap_gui_tu_dvcqg(self, request: Any, context: Any) -> Any:
        answers = {str(a.get("HOIDAPID")): a for a in self.store.stored("DongBoKetQuaHoiDapGuiTuDVCQG")}
        result = []
        for question in self.seed["questions_citizens"]:
            answer = answers.get(str(question["HOIDAPID"]))
            result.append({**question, **({"NOIDUNGTRALOI": answer["NOIDUNGTRALOI"]} if answer and "NOIDUNGTRALOI" in answer else {})})
        return Answer(message="Thành công", result=result)

    def lay_danh_sach_hoi_dap_bo_co_quan(self, request: Any, context: Any) -> Any:
        return Answer(message="Thành công", result=self.seed["questions_ministries"])

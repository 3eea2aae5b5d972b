"""Calls to a running portal (the sandbox) that several tests make: log in, a realistic dossier."""

from __future__ import annotations

from typing import Any

import httpx

MADONVI = "000.00.00.G05"


def login(base: str, username: str = "opencps", password: str = "secret-pw") -> str:
    reply = httpx.post(f"{base}/auth", json={"username": username, "password": password}).json()
    assert reply["error_code"] == "0"
    return str(reply["session"])


def opencps_dossier(ma_ho_so: str) -> dict[str, Any]:
    """A DongBoHoSoMC record shaped like OpenCPS sends it: every value a string, "" for absent dates."""
    return {
        "MaHoSo": ma_ho_so,
        "MaTTHC": "1.001193.000.00.00.H99",
        "TenTTHC": "Đăng ký khai sinh",
        "MaLinhVuc": "G06-TP01",
        "TenLinhVuc": "Hộ tịch",
        "ChuHoSo": "Nguyễn Văn An",
        "LoaiDoiTuong": "1",
        "MaDoiTuong": "",
        "ThongTinKhac": "",
        "Email": "an.nguyen@example.invalid",
        "Fax": "",
        "SoDienThoai": "0912345678",
        "TrichYeuHoSo": "Đăng ký khai sinh cho con",
        "NgayTiepNhan": "20240105083000",
        "NgayHenTra": "",
        "TrangThaiHoSo": "2",
        "NgayTra": "",
        "ThongTinTra": "",
        "HinhThuc": "0",
        "NgayKetThucXuLy": "",
        "DonViXuLy": "UBND xã Yên Phú",
        "GhiChu": "",
        "TaiLieuNop": [
            {
                "TepDinhKemId": "1",
                "TenTepDinhKem": "to-khai.pdf",
                "IsDeleted": "False",
                "MaThanhPhanHoSo": "GT01",
                "DuongDanTaiTepTin": "https://example.invalid/f/1",
            }
        ],
        "DanhSachLePhi": [],
        "DanhSachTepDinhKemKhac": [],
        "DanhSachHoSoBoSung": [],
        "DanhSachGiayToKetQua": [],
    }

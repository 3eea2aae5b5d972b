"""The wire samples of ../shared/qcvn120/samples/ that are real or reconstructed, and what they are.

Hypothesis and analogue samples are deliberately left out (their sidecar .source.txt says so).
Values written as ``<placeholder>`` stand for a value, not for themselves: tests replace them
with the spec's example for that field before validating.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from .paths import SAMPLES

__all__ = [
    "EXCLUDED",
    "PLACEHOLDER",
    "RECORD_LISTS",
    "REQUESTS",
    "RESPONSES",
    "SAMPLES",
    "all_json_samples",
    "fill_placeholders",
    "load",
]

PLACEHOLDER = re.compile(r"^<[^<>]*>$")

# file → (bundle definition, how the sample sits in it)
REQUESTS = {
    "DanhSachPAKNChoXuLy.request.json": "DanhSachPAKNChoXuLyRequest",
    "DongBoDanhGia.request.json": "DongBoDanhGiaRequest",
    "DongBoThongKeHoSo.request.json": "DongBoThongKeHoSoRequest",
    "LayDanhSachHoiDap.request.json": "LayDanhSachHoiDapGuiTuDVCQGRequest",
    "LayTaiLieuPAKN.request.json": "LayTaiLieuPAKNRequest",
    "LayThuTuc.request.json": "LayThuTucRequest",
    "Login.request.json": "LoginRequest",
}
RESPONSES = {
    "LayDanhSachHoiDap.response-union.json": "LayDanhSachHoiDapGuiTuDVCQGResponse",
    "LayQDCB.response-partial.json": "LayQDCBResponse",
    "LayThuTuc.response-structure.json": "LayThuTucResponse",
    "Login.response.json": "LoginResponse",
    "Push.response.json": "DongBoHoSoMCResponse",
    "Push.response-already-exists.json": "DongBoHoSoMCResponse",
}
# Samples that hold bare records rather than an envelope.
RECORD_LISTS = {
    "LayThuTuc.response-skeleton.json": ("LayThuTucResult", None),
    "DanhSachPAKNCongKhai.response-partial.json": ("DanhSachPAKNCongKhaiResult", "DanhSachPAKNCongKhai"),
}
EXCLUDED = {
    "DongBoDanhGia.request.nested-hypothesis.json": "HYPOTHESIS only",
    "LayTaiLieuHoSo.gplx-analogue.request.json": "ANALOGUE only",
    "LayTaiLieuHoSo.gplx-analogue.response.json": "ANALOGUE only",
}


def load(name: str) -> Any:
    data = json.loads((SAMPLES / name).read_text(encoding="utf-8"))
    if name == "DongBoThongKeHoSo.request.json":
        # Its source note: the OpenCPS backend adds "session" before sending.
        data["session"] = "<session-token>"
    return data


def all_json_samples() -> list[str]:
    return sorted(p.name for p in Path(SAMPLES).glob("*.json"))


def fill_placeholders(data: Any, schema: dict[str, Any], bundle: dict[str, Any]) -> Any:
    """Replace ``<...>`` placeholders by the field's example from the schema bundle."""
    defs = bundle["$defs"]

    def resolve(node: dict[str, Any]) -> dict[str, Any]:
        while "$ref" in node:
            node = defs[node["$ref"].rsplit("/", 1)[-1]]
        return node

    node = resolve(schema)
    if isinstance(data, dict):
        props = node.get("properties", {})
        out = {}
        for key, value in data.items():
            prop = props.get(key, {})
            if isinstance(value, str) and PLACEHOLDER.match(value) and prop.get("examples"):
                out[key] = prop["examples"][0]
            else:
                out[key] = fill_placeholders(value, prop, bundle) if prop else value
        return out
    if isinstance(data, list):
        items = node.get("items", {})
        for variant in node.get("anyOf", []):
            items = resolve(variant).get("items", items)
        return [fill_placeholders(item, items, bundle) if items else item for item in data]
    return data

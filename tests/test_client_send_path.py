"""The client's send path: checked records travel as their canonical JSON text (spliced into the
request body), and the bytes sent are exactly what ``json.dumps`` wrote of their values before."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import BaseModel, ConfigDict, Field

from qcvngen.runtime.client._records import Canonical, encode, leaf_strings, validate_records
from qcvngen.runtime.client.errors import RecordValidationError


class _Inner(BaseModel):
    model_config = ConfigDict(extra="allow")
    ten: str | None = Field(None, alias="Ten")


class _Record(BaseModel):
    model_config = ConfigDict(extra="allow")
    ma: str = Field(alias="MaHoSo")
    so: int | None = Field(None, alias="So")
    nguoi: list[_Inner] = Field(default_factory=list, alias="NguoiNop")


def former_encode(body: dict[str, Any]) -> bytes:
    """What the client sent before records carried their text: json.dumps of the dumped values."""
    return json.dumps(body, ensure_ascii=False, separators=(",", ":"), allow_nan=False).encode("utf-8")


def _dumped(record: dict[str, Any]) -> dict[str, Any]:
    return _Record.model_validate(record).model_dump(by_alias=True, exclude_none=True, mode="json")


texts = st.text(st.characters(exclude_categories=["Cs"]), max_size=30)  # lone surrogates are not UTF-8


@settings(max_examples=300, deadline=None)
@given(
    st.lists(
        st.fixed_dictionaries(
            {"MaHoSo": texts, "NguoiNop": st.lists(st.fixed_dictionaries({"Ten": texts}), max_size=3)},
            optional={"So": st.integers(-(10**12), 10**12), "Extra": texts},
        ),
        min_size=1,
        max_size=5,
    ),
    texts,
)
def test_spliced_body_is_byte_for_byte_the_former_body(records: list[dict[str, Any]], session: str) -> None:
    checked = validate_records("X", _Record, records)
    assert all(isinstance(record, Canonical) for record in checked)
    body = {"session": session, "madonvi": "000.00.00.G05", "service": "X", "data": checked, "isUpdating": "False"}
    former = {**body, "data": [_dumped(record) for record in records]}
    assert encode(body) == former_encode(former)
    assert [record.value() for record in checked] == former["data"]


def test_values_are_read_back_for_redaction_and_never_shown() -> None:
    checked = validate_records("X", _Record, [{"MaHoSo": "H22-0001", "NguoiNop": [{"Ten": "Nguyễn Văn A"}]}])
    assert {"H22-0001", "Nguyễn Văn A"} <= leaf_strings({"data": checked})
    assert "H22" not in repr(checked)


def test_a_body_mixing_texts_and_values_is_still_json() -> None:
    mixed = [Canonical(b'{"MaHoSo":"a"}'), {"MaHoSo": "b"}]
    assert json.loads(encode({"data": mixed})) == {"data": [{"MaHoSo": "a"}, {"MaHoSo": "b"}]}
    assert encode({"data": []}) == b'{"data":[]}'


def test_an_extra_value_that_cannot_be_json_is_a_record_issue_before_sending() -> None:
    with pytest.raises(RecordValidationError) as caught:
        validate_records("X", _Record, [{"MaHoSo": "a", "Extra": object()}])
    assert [issue.type for issue in caught.value.issues] == ["serialisation"]

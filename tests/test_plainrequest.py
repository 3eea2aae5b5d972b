"""The plain reader (runtime/server/plainrequest.py): a request model's verdict without its model
instances, for a handler that keeps records as sent (the sandbox).

What must hold: every request of the spec has one; on every body of strings only it accepts exactly
what the model accepts and holds the model's values (by wire name, unknown keys where they are
reported), on any other body it accepts nothing the model refuses; it reports the unknown keys the
models report; a model whose meaning a typed dict might not keep gets no reader; the converters it
leaves out return every string unchanged. The sandbox, which is handed its requests, is compared
with the careful way over real HTTP in tests/test_plainbody.py.
"""

from __future__ import annotations

import copy
import importlib
import json
import pickle
from collections.abc import Callable, Iterator
from types import ModuleType
from typing import Any, Literal

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic import BaseModel, ConfigDict, Field, RootModel, ValidationError, field_validator, model_validator
from test_differential import RawNumber, _structural, cases
from typing_extensions import TypeAliasType

from qcvngen import ir
from qcvngen.examples import example_request
from qcvngen.pipeline import BuildResult
from qcvngen.runtime.client import _scalars as runtime_scalars
from qcvngen.runtime.server import plainrequest as runtime_plainrequest
from qcvngen.sandbox.runtime import Served


@pytest.fixture(scope="module")
def shipped(served: Served) -> ModuleType:
    """The served server package's own copy of the module."""
    return importlib.import_module(f"{served.services.__package__}.plainrequest")


def _strings_only(value: Any) -> bool:
    if isinstance(value, dict):
        return all(_strings_only(v) for v in value.values())
    if isinstance(value, list):
        return all(_strings_only(v) for v in value)
    return isinstance(value, str)


def _reported(model: BaseModel) -> dict[str, Any]:
    """The model's values as the reader holds them: by wire name, unknown keys kept only in the
    request and in the records of its ``data`` (deeper ones are dropped, as "ignore" does)."""

    def fields(record: BaseModel, keep_unknown: bool) -> dict[str, Any]:
        type(record).model_rebuild()  # a record class defined before those it nests: its fields' aliases
        held = {
            info.validation_alias if isinstance(info.validation_alias, str) else info.alias or name: value(
                getattr(record, name), name == "data" and record is model
            )
            for name, info in type(record).model_fields.items()
        }
        return {**held, **(record.model_extra or {})} if keep_unknown else held

    def value(item: Any, in_data: bool) -> Any:
        if isinstance(item, BaseModel):
            return fields(item, in_data)
        if isinstance(item, list):
            return [value(each, in_data) for each in item]
        return item

    return fields(model, True)


def _verdict(request: type[BaseModel], raw: bytes) -> BaseModel | None:
    try:
        return request.model_validate_json(raw, by_alias=True, by_name=False)
    except ValidationError:
        return None


def _bodies(reg: ir.Regulation) -> Iterator[tuple[str, str, bytes]]:
    """(packet, where, body) of every request of the value table and of the structural edits."""
    served = {packet.name for packet in reg.packets}  # login has no service
    for case in cases(reg):
        if case.definition.endswith("Request") and case.packet in served and case.text is not None:
            yield case.packet, case.where, case.text.encode()
    for packet, _definition, where, payload in _structural(reg):
        if packet in served:
            yield packet, where, json.dumps(payload, ensure_ascii=False).encode()


def test_every_request_of_the_spec_has_a_plain_reader(served: Served, shipped: ModuleType) -> None:
    for name, service in served.services.SERVICES.items():
        assert shipped.plain_reader(service.request) is not None, name


def test_on_bodies_of_strings_the_reader_gives_the_models_verdict_and_values(
    result: BuildResult, served: Served, shipped: ModuleType
) -> None:
    reg = result.regulation
    assert reg is not None
    readers = {name: shipped.plain_reader(s.request) for name, s in served.services.SERVICES.items()}
    problems: list[str] = []
    judged = {"strings, accepted": 0, "strings, refused": 0, "other, refused by the reader": 0}
    for packet, where, raw in _bodies(reg):
        request = served.services.SERVICES[packet].request
        model = _verdict(request, raw)
        read = readers[packet].read(raw)
        if _strings_only(json.loads(raw)):
            if (read is None) != (model is None):
                problems.append(f"{where}: the model {'refuses' if model is None else 'accepts'}, the reader not")
            elif model is not None and readers[packet].fields(raw) != _reported(model):
                problems.append(f"{where}: the reader holds other values than the model")
            judged["strings, accepted" if model is not None else "strings, refused"] += 1
        elif read is not None and model is None:
            problems.append(f"{where}: the reader accepts a body the model refuses")
        elif read is None:
            judged["other, refused by the reader"] += 1
    assert not problems, f"{len(problems)} disagreement(s):\n" + "\n".join(problems[:40])
    # Not vacuous: both verdicts on bodies of strings, and numbers the models convert sent back.
    assert min(judged.values()) >= 100, judged


def _mutated(draw: Callable[[st.SearchStrategy[Any]], Any], value: Any) -> Any:
    """``value`` with keys dropped, added (unknown, or a field's Python name), strings replaced."""
    if isinstance(value, dict):
        out = {}
        for key, item in value.items():
            choice = draw(st.integers(0, 9))
            if choice == 0:
                continue
            if choice == 1:
                out[key[:1].lower() + key[1:]] = _mutated(draw, item)
            else:
                out[key] = _mutated(draw, item)
        if draw(st.integers(0, 5)) == 0:
            out[draw(st.sampled_from(["KhongCo", "ma_ho_so", "data", "session", "x"]))] = "1"
        return out
    if isinstance(value, list):
        return [_mutated(draw, item) for item in value[: draw(st.integers(0, 2))]] or (
            value[:1] if draw(st.booleans()) else []
        )
    if isinstance(value, str) and draw(st.integers(0, 3)) == 0:
        return draw(
            st.sampled_from(["", " ", "1", "0", "True", "20240105083000", "2024-01-05", "x" * 300, value + " "])
        )
    return value


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_mutated_requests_of_strings_get_one_verdict(
    result: BuildResult, served: Served, shipped: ModuleType, data: st.DataObject
) -> None:
    reg = result.regulation
    assert reg is not None
    packet = data.draw(st.sampled_from(reg.packets))
    body = example_request(reg, packet)
    raw = json.dumps(_mutated(data.draw, body), ensure_ascii=False).encode()
    request = served.services.SERVICES[packet.name].request
    reader = shipped.plain_reader(request)
    model = _verdict(request, raw)
    read = reader.read(raw)
    assert (read is None) == (model is None), raw[:300]
    if model is not None:
        assert reader.fields(raw) == _reported(model)
        contract = importlib.import_module(f"{served.services.__package__}.contract")
        assert reader.unknown_keys(read) == contract.unknown_keys(model)


def test_the_unknown_keys_of_open_records_are_reported_as_the_models_report_them(
    result: BuildResult, served: Served, shipped: ModuleType
) -> None:
    contract = importlib.import_module(f"{served.services.__package__}.contract")
    reg = result.regulation
    assert reg is not None
    opened = 0
    for packet in reg.packets:
        if packet.data_record is None:
            continue
        body = example_request(reg, packet)
        body["data"] = [{**body["data"][0], "KhoaMoi": "a", "AKhac": "b"}, body["data"][0]]
        raw = json.dumps(body, ensure_ascii=False).encode()
        request = served.services.SERVICES[packet.name].request
        reader = shipped.plain_reader(request)
        model, read = _verdict(request, raw), reader.read(raw)
        assert (model is None) == (read is None), packet.name
        if model is not None:
            assert reader.unknown_keys(read) == contract.unknown_keys(model) == ("data[0].AKhac", "data[0].KhoaMoi")
            opened += 1
    assert opened >= 3


def _same(read: Any, model: BaseModel) -> int:
    """Every field of ``model`` read the same by its Python name on ``read``, nested records alike;
    how many fields were compared."""
    seen = 0
    for name in type(model).model_fields:
        mine, theirs = getattr(read, name), getattr(model, name)
        if isinstance(theirs, BaseModel):
            seen += _same(mine, theirs)
        elif isinstance(theirs, list) and theirs and isinstance(theirs[0], BaseModel):
            assert len(mine) == len(theirs), name
            seen += sum(_same(one, other) for one, other in zip(mine, theirs, strict=True))
        else:
            assert mine == theirs, name
            seen += 1
    return seen


def test_a_plain_request_is_read_by_python_names_nested_records_alike(
    result: BuildResult, served: Served, shipped: ModuleType
) -> None:
    reg = result.regulation
    assert reg is not None
    packet = reg.packet("DongBoHoSoMC")
    body = example_request(reg, packet)
    raw = json.dumps(body, ensure_ascii=False).encode()
    request = served.services.SERVICES[packet.name].request
    model = request.model_validate_json(raw, by_alias=True, by_name=False)
    read = shipped.plain_reader(request).read(raw)
    assert read.is_updating == model.is_updating and read.session == model.session
    record, expected = read.data[0], model.data[0]
    assert record.ma_ho_so == expected.ma_ho_so
    seen = _same(record, expected)
    assert seen >= 40, "DongBoHoSoMC nests records, each read"
    with pytest.raises(AttributeError):
        _ = record.MaHoSo  # a wire name is not a Python name
    with pytest.raises(AttributeError):
        _ = record._fields_of_another
    # Its repr names fields, never a value (they hold personal data).
    assert expected.ma_ho_so not in repr(record) and "ma_ho_so" in repr(record)
    # copy and pickle look for dunders: no recursion, a working copy.
    assert copy.copy(record).ma_ho_so == expected.ma_ho_so
    assert pickle.loads(pickle.dumps(read)).data[0].ma_ho_so == expected.ma_ho_so


def test_every_request_of_the_spec_is_read_alike_by_python_names(
    result: BuildResult, served: Served, shipped: ModuleType
) -> None:
    """Every request's example, its records repeated and given unknown keys at every depth: each
    field read by its Python name on the PlainRequest is the model's (nested records alike, also
    where a field holds records or a text, as DongBoDanhGia's DanhSachNoiDungYKien does)."""
    reg = result.regulation
    assert reg is not None
    compared = kept = 0
    for packet in reg.packets:
        body = example_request(reg, packet)
        request = served.services.SERVICES[packet.name].request
        records = body.get("data", [])
        # Unknown keys in the records and every record they nest; below them only (a closed
        # table's records); none.
        tried = [
            [_with_unknown_keys(r) for r in records * 2],
            [{k: _with_unknown_keys(v) for k, v in r.items()} for r in records * 2],
            records,
        ]
        for data in tried:
            raw = json.dumps({**body, "data": data} if records else body, ensure_ascii=False).encode()
            model = _verdict(request, raw)
            if model is not None:
                break
        assert model is not None, packet.name
        kept += data is not records
        read = shipped.plain_reader(request).read(raw)
        compared += _same(read, model)
        if "data" in body:
            assert read.data is read.data  # wrapped once
    assert compared >= 300 and kept >= 6


def _with_unknown_keys(value: Any) -> Any:
    if isinstance(value, dict):
        return {**{k: _with_unknown_keys(v) for k, v in value.items()}, "KhoaMoi": "x"}
    if isinstance(value, list):
        return [_with_unknown_keys(v) for v in value]
    return value


def test_a_record_list_beside_a_text_in_a_union_is_read_as_records(served: Served, shipped: ModuleType) -> None:
    """The review's case: DongBoDanhGia's DanhSachNoiDungYKien is ``list[NoiDungYKien] | "" | None``."""
    request = served.services.SERVICES["DongBoDanhGia"].request
    record = {
        "NgayTongHop": "7-2020",
        "TongSoNguoiDanhGia": "10",
        "PhanTramDanhGiaRatHaiLong": "60%",
        "PhanTramDanhGiaHaiLong": "30%",
        "PhanTramDanhGiaChuaHaiLong": "10%",
    }
    for opinions in ([{"MaThuTuc": "3.1", "KhoaMoi": "y"}], ""):
        body = {
            "session": "s",
            "madonvi": "m",
            "service": "DongBoDanhGia",
            "data": [{**record, "DanhSachNoiDungYKien": opinions}],
        }
        raw = json.dumps(body).encode()
        model, read = _verdict(request, raw), shipped.plain_reader(request).read(raw)
        assert model is not None and read is not None
        assert _same(read, model) >= 5
    assert read.data[0].danh_sach_noi_dung_y_kien == ""


# -- models whose meaning a typed dict might not keep get no reader --------------------------------
class Item(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str = Field(alias="Name")


class Plain(BaseModel):
    model_config = ConfigDict(extra="forbid")
    data: list[Item]


class Node(BaseModel):
    value: str = Field(alias="Value")
    children: list[Node] = Field(default_factory=list, alias="Children")


class Tree(BaseModel):
    data: list[Node]


class Checked(BaseModel):
    data: list[Item]

    @model_validator(mode="after")
    def _two(self) -> Checked:
        if len(self.data) != 2:
            raise ValueError("two")
        return self


class CheckedItem(BaseModel):
    name: str = Field(alias="Name")

    @model_validator(mode="before")
    @classmethod
    def _lower(cls, value: Any) -> Any:
        return value


class WithCheckedItem(BaseModel):
    data: list[CheckedItem]


class Posted(BaseModel):
    data: list[Item]

    def model_post_init(self, context: Any) -> None:
        pass


class Initialised(BaseModel):
    data: list[Item]

    def __init__(self, **values: Any) -> None:
        super().__init__(**values)


class TypedExtras(BaseModel):
    model_config = ConfigDict(extra="allow")
    __pydantic_extra__: dict[str, int] = Field(init=False)
    data: list[Item]


class Other(BaseModel):
    other: str


class Either(BaseModel):
    data: list[Item | Other]


class Mapped(BaseModel):
    data: dict[str, Item]


class Rooted(RootModel[list[Item]]):
    pass


class ValidatedRecords(BaseModel):
    data: list[Item]

    @field_validator("data")
    @classmethod
    def _named(cls, value: list[Item]) -> list[Item]:
        assert all(item.name for item in value)
        return value


class RecordsOrMapping(BaseModel):
    data: list[Item] | dict[str, str]


class RecordsOrText(BaseModel):
    model_config = ConfigDict(extra="forbid")
    data: list[Item] | Literal[""] | None = None


Short = TypeAliasType("Short", str)


class ShortItem(BaseModel):
    text: Short = Field(alias="A")
    more: Short = Field(alias="B")


class ShortRequest(BaseModel):
    model_config = ConfigDict(str_max_length=3)
    data: list[ShortItem]
    other: Short = Field(alias="X")


@pytest.mark.parametrize(
    "model",
    [
        Checked,
        WithCheckedItem,
        Posted,
        Initialised,
        TypedExtras,
        Either,
        Mapped,
        Rooted,
        ValidatedRecords,
        RecordsOrMapping,
    ],
    ids=lambda m: m.__name__,
)
def test_a_model_a_typed_dict_might_read_otherwise_gets_no_reader(model: type[BaseModel]) -> None:
    assert runtime_plainrequest.plain_reader(model) is None


def test_a_plain_model_and_a_recursive_one_are_read() -> None:
    reader = runtime_plainrequest.plain_reader(Plain)
    assert reader is not None
    plain = reader.read(b'{"data": [{"Name": "a"}]}')
    assert plain is not None and plain.data[0].name == "a"
    assert reader.read(b'{"data": [{"Name": "a", "X": "1"}]}') is None  # extra="forbid"
    assert reader.read(b'{"data": [{"name": "a"}]}') is None  # Python names are not wire names
    tree = runtime_plainrequest.plain_reader(Tree)
    assert tree is not None
    raw = b'{"data": [{"Value": "a", "Children": [{"Value": "b", "Children": [{"Value": "c"}]}]}]}'
    read = tree.read(raw)
    assert read is not None
    assert read.data[0].children[0].children[0].value == "c"
    assert read.data[0].children[0].children[0].children == []
    either = runtime_plainrequest.plain_reader(RecordsOrText)
    assert either is not None
    for raw in (b'{"data": [{"Name": "a"}]}', b'{"data": ""}', b"{}", b'{"data": "x"}', b'{"data": [{}]}'):
        model, read = _verdict(RecordsOrText, raw), either.read(raw)
        assert (model is None) == (read is None), raw
        if model is not None and read is not None:
            assert _same(read, model)


def test_the_reader_is_built_with_the_request_models_config() -> None:
    """The review's case: a shared type's definition is built under the request's config."""
    reader = runtime_plainrequest.plain_reader(ShortRequest)
    assert reader is not None
    cases = (b'{"data": [{"A": "abc", "B": "b"}], "X": "abc"}', b'{"data": [{"A": "abcdef", "B": "b"}], "X": "abcdef"}')
    for raw in cases:
        assert (_verdict(ShortRequest, raw) is None) == (reader.read(raw) is None), raw


# -- the converters the reader leaves out ------------------------------------------------------------
def _converters(served: Served) -> list[Any]:
    found: dict[int, Any] = {}

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            if str(node.get("type", "")).startswith("function-"):
                function = node.get("function", {}).get("function")
                found[id(function)] = function
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    for service in served.services.SERVICES.values():
        walk(service.request.__pydantic_core_schema__)
    return list(found.values())


def test_every_converter_of_the_models_is_marked_and_the_reader_keeps_none(served: Served, shipped: ModuleType) -> None:
    assert runtime_scalars.KEEPS_STRINGS == runtime_plainrequest.KEEPS_STRINGS == shipped.KEEPS_STRINGS
    converters = _converters(served)
    assert len(converters) >= 5
    assert all(getattr(c, shipped.KEEPS_STRINGS, False) is True for c in converters), converters
    for service in served.services.SERVICES.values():
        reader = shipped.plain_reader(service.request)
        assert "function-" not in repr(reader._validator), service.name


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    value=st.recursive(
        st.one_of(st.text(), st.sampled_from(["", "1", "1.0", "True", "False", "20240105083000", " 1", "1e5"])),
        lambda inner: st.one_of(st.lists(inner, max_size=3), st.dictionaries(st.text(max_size=5), inner, max_size=3)),
        max_leaves=8,
    )
)
def test_the_converters_it_leaves_out_return_every_value_of_a_body_of_strings_unchanged(
    served: Served, value: Any
) -> None:
    for convert in _converters(served):
        assert convert(value) is value, convert


def test_numbers_the_models_convert_are_refused_by_the_reader_never_accepted_otherwise(
    result: BuildResult, served: Served, shipped: ModuleType
) -> None:
    """Not a body the short way reads (the scan sends it the careful way), but the reader is never
    more lenient than the model: a number a converter turns into text is refused."""
    reg = result.regulation
    assert reg is not None
    names = {packet.name for packet in reg.packets}
    numbers = [
        c
        for c in cases(reg)
        if c.definition.endswith("Request") and c.packet in names and isinstance(c.value, (int, float, RawNumber))
    ]
    converted = 0
    for case in numbers:
        if case.text is None:
            continue
        raw = case.text.encode()
        request = served.services.SERVICES[case.packet].request
        model, read = _verdict(request, raw), shipped.plain_reader(request).read(raw)
        assert read is None or model is not None, case.where
        converted += model is not None and read is None
    assert converted >= 20

"""The tool cache (datamodel-code-generator's and ruff's output in the per-user cache's tools/): a
hit skips the tool, a corrupt or foreign entry is ignored, nothing is written through a link, and a
build from the cache is byte-for-byte the build without it."""

from __future__ import annotations

import json
import os
import re
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from qcvngen import build, toolcache
from support.paths import ROOT
from support.tool_calls import counting


@pytest.fixture
def here(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A working folder of its own, and an empty cache root of its own (``here/cache``), so hits
    and entries can be counted."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("QCVNGEN_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.delenv("QCVNGEN_NO_CACHE", raising=False)
    return tmp_path


def tools_of(here: Path) -> Path:
    return here / "cache" / toolcache.TOOLS_FOLDER


def only_entry(folder: Path) -> Path:
    entries = [path for path in tools_of(folder).iterdir() if path.suffix == ".json"]
    assert len(entries) == 1, entries
    return entries[0]


def test_a_hit_skips_the_tool_and_another_input_or_version_misses(here: Path) -> None:
    calls: list[str] = []
    assert toolcache.cached_many("t", ["v1"], {"x": "abc"}, counting(calls)) == {"x": "ABC"}
    assert toolcache.cached_many("t", ["v1"], {"x": "abc"}, counting(calls)) == {"x": "ABC"}
    assert calls == ["abc"]
    assert toolcache.cached_many("t", ["v2"], {"x": "abc"}, counting(calls)) == {"x": "ABC"}
    assert toolcache.cached_many("t", ["v1"], {"x": "abd"}, counting(calls)) == {"x": "ABD"}
    assert calls == ["abc", "abc", "abd"]


@pytest.mark.parametrize(
    "damage",
    [
        lambda entry: "not json{",
        lambda entry: json.dumps({**entry, "text": "INJECTED"}),  # text no longer matches its digest
        lambda entry: json.dumps({**entry, "key": "0" * 64}),  # an entry of another key
        lambda entry: json.dumps([entry]),
        lambda entry: "",
    ],
    ids=["corrupt", "altered", "foreign", "wrong-shape", "truncated"],
)
def test_a_damaged_entry_is_ignored_and_rewritten(here: Path, damage: Callable[[dict[str, str]], str]) -> None:
    calls: list[str] = []
    toolcache.cached_many("t", ["v"], {"x": "abc"}, counting(calls))
    entry_path = only_entry(here)
    entry_path.write_text(damage(json.loads(entry_path.read_text(encoding="utf-8"))), encoding="utf-8")
    assert toolcache.cached_many("t", ["v"], {"x": "abc"}, counting(calls)) == {"x": "ABC"}
    assert calls == ["abc", "abc"]
    assert json.loads(entry_path.read_text(encoding="utf-8"))["text"] == "ABC"


@pytest.mark.parametrize("linked", ["cache", "cache/tools"])
def test_nothing_is_written_through_a_linked_cache_folder(
    here: Path, tmp_path_factory: pytest.TempPathFactory, linked: str
) -> None:
    elsewhere = tmp_path_factory.mktemp("elsewhere")
    (here / linked).parent.mkdir(mode=0o700, exist_ok=True)
    (here / linked).symlink_to(elsewhere, target_is_directory=True)
    calls: list[str] = []
    for _ in range(2):
        assert toolcache.cached_many("t", ["v"], {"x": "abc"}, counting(calls)) == {"x": "ABC"}
    assert calls == ["abc", "abc"]
    assert list(elsewhere.iterdir()) == []


def test_bypass_and_the_environment_switch_run_the_tool(here: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[str] = []
    toolcache.cached_many("t", ["v"], {"x": "abc"}, counting(calls))
    with toolcache.bypass():
        toolcache.cached_many("t", ["v"], {"x": "abc"}, counting(calls))
    monkeypatch.setenv("QCVNGEN_NO_CACHE", "1")
    toolcache.cached_many("t", ["v"], {"x": "abc"}, counting(calls))
    assert calls == ["abc", "abc", "abc"]


def test_many_inputs_run_the_tool_once_on_the_misses_only(here: Path) -> None:
    batches: list[dict[str, str]] = []

    def produce(missing: dict[str, str]) -> dict[str, str]:
        batches.append(missing)
        return {name: text.upper() for name, text in missing.items()}

    assert toolcache.cached_many("m", ["v"], {"a": "x", "b": "y"}, produce) == {"a": "X", "b": "Y"}
    assert toolcache.cached_many("m", ["v"], {"a": "x", "b": "z"}, produce) == {"a": "X", "b": "Z"}
    assert batches == [{"a": "x", "b": "y"}, {"b": "z"}]


def test_a_build_from_the_cache_equals_a_build_without_it(here: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Cold (fills the cache), warm (every tool output read back), and with the cache off: same bytes."""
    import qcvngen.formatter

    first = build(ROOT / "spec")
    entries = sorted(path.name for path in tools_of(here).iterdir())
    assert any(name.startswith("datamodel-codegen-") for name in entries)
    assert any(name.startswith("ruff-format-") for name in entries)

    def tool_must_not_run(*args: object, **kwargs: object) -> str:
        raise AssertionError("a warm cache ran a tool")

    with monkeypatch.context() as patched:
        patched.setattr(qcvngen.formatter, "_format_with_ruff", tool_must_not_run)
        patched.setattr("datamodel_code_generator.generate", tool_must_not_run)
        warm = build(ROOT / "spec")
    monkeypatch.setenv("QCVNGEN_NO_CACHE", "1")
    uncached = build(ROOT / "spec")
    assert first.files == warm.files == uncached.files
    assert sorted(os.listdir(tools_of(here))) == entries  # nothing more was needed
    assert sorted(os.listdir(here)) == ["cache"]  # nothing in the working folder


def test_editing_one_table_reruns_the_model_generator_on_its_packet_module_only(
    here: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Issue 20: each models module is a cache entry of its own. After a build (one run of
    datamodel-code-generator per module), one edited ``max_length`` of Table 3 (packet
    CapNhatTienDoHoSoMC) runs it once, on that packet's module, adds one entry, changes that module
    only, and gives what an empty cache gives."""
    import datamodel_code_generator

    from qcvngen.pipeline import load_spec
    from qcvngen.targets.models import model_modules

    real = datamodel_code_generator.generate
    headers: list[str] = []

    def counted(schema: str, **options: Any) -> Any:
        headers.append(options["custom_file_header"])
        return real(schema, **options)

    monkeypatch.setattr("datamodel_code_generator.generate", counted)
    spec = here / "spec"
    shutil.copytree(ROOT / "spec", spec)
    first = build(spec)
    assert first.regulation is not None
    assert len(headers) == len(model_modules(first.regulation)) > 10
    table = spec / "tables" / "t03-cap-nhat-tien-do-ho-so-mc.yaml"
    text = table.read_text(encoding="utf-8")
    edited = re.sub(r"max_length: (\d+)", lambda m: f"max_length: {int(m[1]) + 7}", text, count=1)
    assert edited != text
    table.write_text(edited, encoding="utf-8")
    reg, _ = load_spec(spec)
    assert reg is not None and reg.record("CapNhatTienDoHoSoMCRecord") != first.regulation.record(
        "CapNhatTienDoHoSoMCRecord"
    )

    cache = tools_of(here)
    entries = {name for name in os.listdir(cache) if name.startswith("datamodel-codegen-")}
    headers.clear()
    rebuilt = build(spec)
    assert len(headers) == 1 and "CapNhatTienDoHoSoMCRecord" in headers[0], headers
    assert "DongBoHoSoMCRecord" not in headers[0]
    added = {name for name in os.listdir(cache) if name.startswith("datamodel-codegen-")} - entries
    assert len(added) == 1, added
    models = [path for path in rebuilt.files if "models" in path.parts]
    changed = sorted(path.as_posix() for path in models if rebuilt.files[path] != first.files[path])
    assert changed == [
        "python/qcvn120_client/models/cap_nhat_tien_do_ho_so_mc.py",
        "server/qcvn120_server/models/cap_nhat_tien_do_ho_so_mc.py",
    ]
    monkeypatch.setenv("QCVNGEN_NO_CACHE", "1")
    assert build(spec).files == rebuilt.files

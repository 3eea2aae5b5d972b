"""The HTML documentation site: built into tmp_path, served on loopback, driven in headless Chromium.

The browser tests need Chromium and chromedriver. When they are missing, the session installs
Debian's ``chromium`` and ``chromium-driver`` itself (as root, with apt-get, once, under a lock);
where it cannot, the tests fail with the command to run, rather than skip. Nothing else here
reaches the network.
"""

from __future__ import annotations

import dataclasses
import hashlib
import os
import re
import shutil
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator, Sequence
from html.parser import HTMLParser
from pathlib import Path, PurePosixPath
from typing import Any
from urllib.parse import urlsplit

import pytest
from typer.testing import CliRunner

from qcvngen import dsl, ir, kinds
from qcvngen.cli import app
from qcvngen.pipeline import load_spec
from qcvngen.site import MARKER, labels, make_server, render_site, write_site
from support.paths import ROOT, SPEC
from support.system_packages import Need, Plan, ensure, plan, provide

# Full suite only (`pytest -m ""`, .ci/run): a real Chromium drives the documentation site.
pytestmark = pytest.mark.slow

PACKET = "DongBoHoSoMC"
RECORD = "DongBoHoSoMCRecord"
SCREENSHOT = ROOT / "docs" / "screenshots" / "site.png"

# Words of the site's English labels, values and notes that no Vietnamese text on a page contains.
ENGLISH_WORDS = (
    "required",
    "yes",
    "no",
    "Table",
    "row",
    "string",
    "complete",
    "optional",
    "Field",
    "Type",
    "Description",
    "Notes",
    "Source",
    "Sources",
    "Coverage",
    "Direction",
    "Endpoint",
    "Packet",
    "each item",
    "unknown",
    "push",
    "pull",
    "record",
    "flag",
    "integer",
    "confidence",
    "high",
    "medium",
    "Max length",
    "Ref",
    "envelope",
    "parameters",
    "Built by",
    "the",
    "of",
    "and",
    # Words of the spec's English notes (their Vietnamese is shown instead).
    "from",
    "when",
    "only",
    "not",
    "with",
    "is",
    "are",
    "by",
    "sends",
    "reads",
    "unverified",
    "observed",
    "implementation",
)
# Letters that only Vietnamese writes (ă ơ ư đ, and the tone marks on them or with a dot below/hook above).
VIETNAMESE_LETTERS = re.compile("[ăắằẳẵặơớờởỡợưứừửữựđạảậẩẫấầẹẻẽếềểễệỉịĩọỏốồổỗộụủũỳỵỷỹ]", re.IGNORECASE)


# --- Chromium: found, or installed once per session, or a clear failure -------------------------

CHROMIUM = Need(
    ("chromium", "chromedriver"),
    ("chromium", "chromium-driver"),
    "tests/test_site.py drives the site in headless Chromium",
)
APT_COMMANDS = CHROMIUM.commands
BrowserPlan = Plan


def browser_plan(found: Callable[[str], str | None], euid: int, apt_get: str | None) -> Plan:
    """Decide, without side effects, how to get ``chromium`` and ``chromedriver`` onto this machine."""
    return plan(CHROMIUM, found, euid, apt_get)


def ensure_browser(
    found: Callable[[str], str | None],
    euid: int,
    apt_get: str | None,
    run: Callable[[Sequence[str]], subprocess.CompletedProcess[str]],
    lock: Path,
) -> list[tuple[str, ...]]:
    """Install Chromium if the plan says so, under an exclusive lock; return the commands run."""
    return ensure(CHROMIUM, found, euid, apt_get, run, lock)


@pytest.fixture(scope="session")
def chromium() -> tuple[str, str]:
    """Paths of chromium and chromedriver, installed first when missing and possible."""
    browser, driver = provide(CHROMIUM)
    return browser, driver


# --- the site -----------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def reg() -> ir.Regulation:
    loaded, diagnostics = load_spec(SPEC)
    assert loaded is not None, diagnostics
    return loaded


@pytest.fixture(scope="module")
def site_files(reg: ir.Regulation) -> dict[PurePosixPath, str]:
    return render_site(reg)


@pytest.fixture(scope="module")
def site_dir(site_files: dict[PurePosixPath, str], tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("site") / "site"
    write_site(out, site_files)
    return out


@pytest.fixture(scope="module")
def base_url(site_dir: Path) -> Iterator[str]:
    server = make_server(site_dir, 0, quiet=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/"
    server.shutdown()
    server.server_close()
    thread.join(timeout=5)


@pytest.fixture(scope="module")
def browser(chromium: tuple[str, str], tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = chromium[0]
    profile = tmp_path_factory.mktemp("chromium-profile")
    for flag in (
        "--headless=new",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--no-first-run",
        "--disable-dev-shm-usage",
        f"--user-data-dir={profile}",
        "--window-size=1400,900",
        "--lang=vi-VN",
    ):
        options.add_argument(flag)
    driver = webdriver.Chrome(service=Service(executable_path=chromium[1]), options=options)
    driver.set_page_load_timeout(30)
    yield driver
    driver.quit()


def _open(browser: Any, url: str, lang: str = "both") -> None:
    browser.get(url)
    browser.find_element("css selector", f"[data-set-lang='{lang}']").click()


def _field_table_rows(browser: Any, heading_start: str) -> list[Any]:
    xpath = f"//h2[starts-with(normalize-space(.), '{heading_start}')]/following::table[1]/tbody/tr"
    return list(browser.find_elements("xpath", xpath))


# --- in the browser ---------------------------------------------------------------------------


def test_packet_page_lists_every_field_of_table_2(browser: Any, base_url: str, reg: ir.Regulation) -> None:
    _open(browser, f"{base_url}packets/{PACKET}.html")
    rows = _field_table_rows(browser, "Bảng 2")
    fields = reg.record(RECORD).fields
    assert len(rows) == len(fields)
    shown = [row.find_element("css selector", "td:nth-child(2) code").text for row in rows]
    assert shown == [f.wire_name for f in fields]
    # Rows the regulation numbers show their number; candidates and later additions show "–".
    numbers = [row.find_element("css selector", "td:first-child").text for row in rows]
    expected = [str(f.origin.row) if f.origin.row is not None else "–" for f in fields]
    assert numbers == expected
    assert browser.find_element("id", "f-NgayHenTra").tag_name == "tr"


def test_language_switch_hides_the_other_language_and_is_remembered(browser: Any, base_url: str) -> None:
    page = f"{base_url}packets/{PACKET}.html"
    _open(browser, page, "en")
    row = browser.find_element("id", "f-NgayHenTra")
    vi_cell, en_cell = row.find_element("css selector", "td.l-vi"), row.find_element("css selector", "td.l-en")
    heading_vi = browser.find_element("css selector", "h2 .l-vi")
    assert en_cell.is_displayed() and en_cell.text == "appointment date for result"
    assert not vi_cell.is_displayed() and not heading_vi.is_displayed()
    assert browser.execute_script("return document.documentElement.lang") == "en"
    assert browser.find_element("id", "search-input").get_attribute("placeholder") == "Search fields, packets…"

    browser.get(f"{base_url}index.html")  # another page: the choice is remembered
    assert browser.execute_script("return document.documentElement.dataset.lang") == "en"
    assert browser.find_element("css selector", "[data-set-lang='en']").get_attribute("aria-pressed") == "true"

    _open(browser, page, "vi")
    row = browser.find_element("id", "f-NgayHenTra")
    assert row.find_element("css selector", "td.l-vi").is_displayed()
    assert row.find_element("css selector", "td.l-vi").text == "Ngày hẹn trả"
    assert not row.find_element("css selector", "td.l-en").is_displayed()
    assert row.find_element("css selector", "td:nth-child(4)").text == "có"  # required: yes
    assert row.find_element("css selector", "td:last-child").text == "Bảng 2, dòng 15"
    assert browser.execute_script("return document.documentElement.lang") == "vi"
    # Notes are bilingual: the Vietnamese is shown, the English hidden.
    note = browser.find_element("xpath", "//li[code[normalize-space(.)='NgayHenTra']]")
    assert note.is_displayed() and "Ngày hẹn trả" not in note.text
    assert note.find_element("css selector", "span.l-vi").is_displayed()
    assert not note.find_element("css selector", "span.l-en").is_displayed()

    _open(browser, page, "both")
    row = browser.find_element("id", "f-NgayHenTra")
    assert row.find_element("css selector", "td.l-vi").is_displayed()
    assert row.find_element("css selector", "td.l-en").is_displayed()
    assert row.find_element("css selector", "td:last-child").text == "Bảng 2, dòng 15 / Table 2, row 15"
    note = browser.find_element("xpath", "//li[code[normalize-space(.)='NgayHenTra']]")
    assert note.find_element("css selector", "span.l-vi").is_displayed()
    assert note.find_element("css selector", "span.l-en").is_displayed()


def _visible_text(browser: Any, url: str, lang: str) -> str:
    _open(browser, url, lang)
    return str(browser.find_element("tag name", "body").text)


def _english_titles(reg: ir.Regulation, packet: ir.Packet) -> list[str]:
    """The English titles of a packet's fields that are words of English (not its Vietnamese title, not a wire name)."""
    records = [reg.table(n).record for n in packet.tables if reg.table(n).record]
    fields = [*packet.params, *(f for r in records for f in reg.record(r).fields)]
    fields += [f for r in reg.nested_records(records) for f in r.fields]
    wire = {f.wire_name.lower() for f in fields}
    return [f.title.en for f in fields if f.title.en.lower() not in (f.title.vi.lower(), *wire)]


# File names and query assignments (envelope.yaml, samples/x.json, status=1) are wire text, not English.
_NOT_PROSE = re.compile(r"\S+\.(?:yaml|json|tsx|cs|vue|java|md)\b\S*|samples/\S+|\b\w+=\S*")


def _english_found(text: str, words: list[str]) -> list[str]:
    text = _NOT_PROSE.sub(" ", text)
    return sorted({w for w in words if re.search(rf"(?<![\w-]){re.escape(w)}(?![\w-])", text, re.IGNORECASE)})


def test_vietnamese_mode_shows_no_english(browser: Any, base_url: str, reg: ir.Regulation) -> None:
    """Every packet page and the main pages (but the sources catalogue, whose titles are citations)."""
    problems = {}
    for packet in reg.packets:
        titles = _english_titles(reg, packet)
        text = _visible_text(browser, f"{base_url}packets/{packet.name}.html", "vi")
        assert packet.purpose.vi in text and ("Trường" in text or not titles)
        found = _english_found(text, [*ENGLISH_WORDS, *titles, packet.purpose.en])
        if found:
            problems[packet.name] = found
    for page in ("index.html", "envelope.html", "codelists.html", "coverage.html"):
        found = _english_found(_visible_text(browser, base_url + page, "vi"), list(ENGLISH_WORDS))
        if found:
            problems[page] = found
    assert not problems


def _english_quoting_vietnamese(reg: ir.Regulation) -> list[str]:
    """English texts of the IR that themselves quote Vietnamese (a UI label, a place, a decision number)."""
    found: list[str] = []

    def walk(node: Any) -> None:
        if isinstance(node, ir.Text):
            found.append(node.en)
        elif isinstance(node, str):
            found.append(node)
        elif dataclasses.is_dataclass(node):
            for f in dataclasses.fields(node):
                if f.name not in ("example", "title") or not isinstance(getattr(node, f.name), str):
                    walk(getattr(node, f.name))
        elif isinstance(node, tuple):
            for item in node:
                walk(item)

    walk(reg)
    return sorted({text for text in found if VIETNAMESE_LETTERS.search(text)}, key=len, reverse=True)


def test_english_mode_shows_no_vietnamese(browser: Any, base_url: str, reg: ir.Regulation) -> None:
    """No Vietnamese letter is visible in English, except inside the spec's English text where it quotes Vietnamese."""
    quoted = _english_quoting_vietnamese(reg)
    text = _visible_text(browser, f"{base_url}packets/{PACKET}.html", "en")
    assert "appointment date for result" in text and not VIETNAMESE_LETTERS.findall(text)
    problems = {}
    for page in [f"packets/{p.name}.html" for p in reg.packets] + [
        "index.html",
        "envelope.html",
        "codelists.html",
        "coverage.html",
    ]:
        text = _visible_text(browser, base_url + page, "en")
        for quote in quoted:
            text = text.replace(quote, "")
        lines = [line for line in text.splitlines() if VIETNAMESE_LETTERS.search(line)]
        if lines:
            problems[page] = lines[:5]
    assert not problems


def _notes(*roots: Any) -> list[ir.Text]:
    """Every note held by ``roots`` and what they contain (tables, gaps, records, fields, codes)."""
    found: list[ir.Text] = []

    def walk(node: Any) -> None:
        if dataclasses.is_dataclass(node) and not isinstance(node, type):
            for f in dataclasses.fields(node):
                value = getattr(node, f.name)
                if f.name == "notes" and isinstance(value, ir.Text):
                    found.append(value)
                else:
                    walk(value)
        elif isinstance(node, tuple):
            for item in node:
                walk(item)

    for root in roots:
        walk(root)
    return found


def _page_notes(reg: ir.Regulation) -> dict[str, list[ir.Text]]:
    pages: dict[str, list[ir.Text]] = {"envelope.html": _notes(reg.envelope), "codelists.html": _notes(reg.codelists)}
    for packet in reg.packets:
        tables = [reg.table(n) for n in packet.tables]
        records = [reg.record(t.record) for t in tables if t.record]
        nested = reg.nested_records([r.name for r in records])
        pages[f"packets/{packet.name}.html"] = _notes(packet, *tables, *records, *nested)
    return pages


def test_every_note_shows_in_the_chosen_language_only(browser: Any, base_url: str, reg: ir.Regulation) -> None:
    """Notes are bilingual in the spec: VI shows each note's Vietnamese and not its English, EN the reverse."""
    problems: dict[str, list[str]] = {}
    counted = 0
    for page, notes in _page_notes(reg).items():
        assert all(n.vi for n in notes), page  # the bundled spec writes every note in both languages
        text_vi = _visible_text(browser, base_url + page, "vi")
        text_en = _visible_text(browser, base_url + page, "en")
        for n in notes:
            counted += 1
            shared = n.vi == n.en  # language-neutral ("1/2/3 (REFERENCE §5.6).") shows in both modes
            if n.vi not in text_vi or (not shared and n.en in text_vi):
                problems.setdefault(page, []).append(f"vi mode: {n.vi[:60]}")
            if n.en not in text_en or (not shared and n.vi in text_en):
                problems.setdefault(page, []).append(f"en mode: {n.en[:60]}")
    assert counted > 150 and not problems, problems


@pytest.mark.parametrize(("start", "query"), [("index.html", "NgayHenTra"), ("packets/LayThuTuc.html", "ngay hen tra")])
def test_search_finds_a_field_and_links_to_its_row(browser: Any, base_url: str, start: str, query: str) -> None:
    from selenium.webdriver.support.ui import WebDriverWait

    _open(browser, base_url + start)
    box = browser.find_element("id", "search-input")
    box.clear()
    box.send_keys(query)
    WebDriverWait(browser, 10).until(lambda d: d.find_elements("css selector", "#search-results a"))
    first = browser.find_element("css selector", "#search-results a")
    href = urlsplit(first.get_attribute("href"))
    assert (href.path, href.fragment) == (f"/packets/{PACKET}.html", "f-NgayHenTra")
    assert first.get_attribute("data-packet") == PACKET
    first.click()
    WebDriverWait(browser, 10).until(lambda d: d.current_url.endswith(f"/packets/{PACKET}.html#f-NgayHenTra"))
    target = browser.execute_script("return document.querySelector(':target')")
    assert target.get_attribute("id") == "f-NgayHenTra" and "NgayHenTra" in target.text


def test_site_works_from_disk_and_search_answers_in_the_chosen_language(browser: Any, site_dir: Path) -> None:
    """Opened as file:// (no server, no network): the switch, the remembered choice and the search all work."""
    from selenium.webdriver.support.ui import WebDriverWait

    _open(browser, (site_dir / "packets" / "LayThuTuc.html").as_uri(), "vi")
    assert not [e for e in browser.get_log("browser") if e["level"] == "SEVERE"]
    box = browser.find_element("id", "search-input")
    assert box.get_attribute("placeholder") == "Tìm trường, gói tin…"
    box.send_keys("ngay hen tra")
    WebDriverWait(browser, 10).until(lambda d: d.find_elements("css selector", "#search-results a"))
    first = browser.find_element("css selector", "#search-results a")
    assert first.get_attribute("href") == (site_dir / "packets" / f"{PACKET}.html").as_uri() + "#f-NgayHenTra"
    shown = browser.find_element("id", "search-results").text
    assert "Ngày hẹn trả" in shown and "Bảng 2, dòng 15" in shown
    assert not _english_found(shown, [*ENGLISH_WORDS, "appointment date for result"]), shown
    first.click()
    WebDriverWait(browser, 10).until(lambda d: d.current_url.endswith("#f-NgayHenTra"))
    assert browser.execute_script("return document.documentElement.dataset.lang") == "vi"
    _open(browser, (site_dir / "index.html").as_uri(), "both")  # leave the shared browser as the others expect


def test_search_finds_packets_and_says_when_nothing_matches(browser: Any, base_url: str) -> None:
    from selenium.webdriver.support.ui import WebDriverWait

    _open(browser, base_url + "index.html")
    box = browser.find_element("id", "search-input")
    box.send_keys("LayQDCB")
    WebDriverWait(browser, 10).until(lambda d: d.find_elements("css selector", "#search-results a"))
    first = browser.find_element("css selector", "#search-results a")
    assert first.get_attribute("data-kind") == "packet"
    assert urlsplit(first.get_attribute("href")).path == "/packets/LayQDCB.html"
    box.clear()
    box.send_keys("zzzz-no-such-field")
    WebDriverWait(browser, 10).until(lambda d: d.find_elements("css selector", "#search-results .r-none"))


def test_pages_load_without_console_errors_and_screenshot(
    browser: Any, base_url: str, site_files: dict[PurePosixPath, str], tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    from selenium.webdriver.support.ui import WebDriverWait

    for page in sorted(path.as_posix() for path in site_files if path.suffix == ".html"):
        browser.get(base_url + page)
        errors = [entry for entry in browser.get_log("browser") if entry["level"] == "SEVERE"]
        assert not errors, (page, errors)
    # The picture: Table 2 with the row a search for "hen tra" led to, and the search still open.
    browser.set_window_size(1680, 1050)
    _open(browser, f"{base_url}packets/{PACKET}.html#f-NgayHenTra", "both")
    browser.find_element("id", "search-input").send_keys("hen tra")
    WebDriverWait(browser, 10).until(lambda d: d.find_elements("css selector", "#search-results a"))
    # Typing scrolls the (sticky) search box "into view", that is to the top: bring the row back.
    browser.execute_script("document.getElementById('f-NgayHenTra').scrollIntoView({block: 'center'})")
    shot = tmp_path / "site.png"
    assert browser.save_screenshot(str(shot))
    browser.set_window_size(1400, 900)
    assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and shot.stat().st_size > 20_000
    # The README's picture is refreshed on request (or when missing), not on every run.
    if request.config.getoption("--update-golden") or not SCREENSHOT.exists():
        SCREENSHOT.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(shot, SCREENSHOT)


# --- without a browser ------------------------------------------------------------------------


class _Collector(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.ids: set[str] = set()
        self.text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))
        self.ids.update(value for name, value in attrs if name == "id" and value)

    def handle_data(self, data: str) -> None:
        self.text.append(data)


def _parse(text: str) -> _Collector:
    collector = _Collector()
    collector.feed(text)
    collector.close()
    return collector


def test_every_internal_link_and_asset_resolves(site_files: dict[PurePosixPath, str]) -> None:
    pages = {path: _parse(text) for path, text in site_files.items() if path.suffix == ".html"}
    assert PurePosixPath("index.html") in pages and len(pages) == len([p for p in site_files if p.suffix == ".html"])
    for path, parsed in pages.items():
        for tag, attrs in parsed.tags:
            target = attrs.get("href") if tag in ("a", "link") else attrs.get("src") if tag == "script" else None
            if target is None:
                continue
            assert not re.match(r"[a-z]+:|//", target), (path, target)  # nothing leaves the site
            file_part, _, fragment = target.partition("#")
            resolved = PurePosixPath(os.path.normpath((path.parent / file_part).as_posix())) if file_part else path
            assert resolved in site_files, (path, target)
            if fragment:
                assert fragment in pages[resolved].ids, (path, target)


def test_every_marked_text_has_its_other_language(site_files: dict[PurePosixPath, str]) -> None:
    """Nothing is hidden by the switch unless its translation, or a Vietnamese pointer to an English note, is shown."""
    pair = re.compile(
        r'<span class="l-vi" lang="vi">[^<]*</span>(?:<span class="l-sep">[^<]*</span>|<br class="l-sep">)'
        r'<span class="l-en" lang="en">(?:<em>)?[^<]*(?:</em>)?</span>'
    )
    for path, text in site_files.items():
        if path.suffix != ".html":
            continue
        body = text.split("<body>", 1)[1]
        spans = len(pair.findall(body))
        assert spans == body.count('<span class="l-vi"'), path
        pointers = body.count('class="l-vionly')
        assert body.count('<span class="l-en"') == spans + body.count('<span class="l-vionly"'), path
        assert body.count('<p class="l-vi"') == body.count('<p class="l-en" lang="en">'), path
        # A note paragraph has its Vietnamese, or (a note written in English only) a Vietnamese pointer.
        assert body.count('<p class="l-en note"') == body.count('<p class="l-vi note"') + body.count(
            '<p class="l-vionly note"'
        ), path
        assert pointers >= body.count('<p class="l-vionly')
        for row in re.findall(r"<tr[^>]*>.*?</tr>", body, re.DOTALL):
            assert row.count('<td class="l-vi"') == row.count('<td class="l-en"'), (path, row[:200])
            assert row.count('<th class="l-vi"') == row.count('<th class="l-en"'), (path, row[:200])


def test_the_vocabulary_names_every_value_the_ir_can_hold() -> None:
    """A new field kind, membership or confidence in the DSL cannot reach the site without its two names."""
    from typing import get_args

    assert set(labels.KINDS) == set(get_args(kinds.Kind)) == set(kinds.KINDS)
    assert set(labels.MEMBERSHIP) == set(get_args(dsl.Membership))
    assert set(labels.CONFIDENCE) == set(get_args(dsl.Confidence))
    assert set(labels.STATUS) == set(labels.STATUS_MEANING) == set(get_args(ir.CoverageStatus))
    assert set(labels.DIRECTION) == set(labels.DIRECTION_SHORT) == set(get_args(ir.Direction))
    assert set(labels.PART) == set(labels.PART_WAY) == set(get_args(ir.Part))
    assert set(labels.SOURCE_KINDS) == set(get_args(dsl.SourceSpec.model_fields["kind"].annotation))
    every = [
        *labels.KINDS.values(),
        *labels.LIST_OF.values(),
        *labels.REQUIRED.values(),
        *labels.MEMBERSHIP.values(),
        *labels.CONFIDENCE.values(),
        *labels.STATUS.values(),
        *[v for k, v in vars(labels.L).items() if isinstance(v, ir.Text) and not k.startswith("ENGLISH_ONLY")],
    ]
    for text in every:
        assert text.vi and text.en and not _english_found(text.vi, list(ENGLISH_WORDS)), text
    assert labels.ref(ir.Origin("t.yaml", 1, table=2, row=15)) == ir.Text("Bảng 2, dòng 15", "Table 2, row 15")
    assert labels.ref(ir.Origin("t.yaml", 1, table=6)) == ir.Text("Bảng 6, dòng chưa rõ", "Table 6, row unknown")
    assert labels.ref(ir.Origin("e.yaml", 1)) == ir.Text("phong bì", "envelope")


def test_search_index_holds_every_packet_and_every_field_shown(
    site_files: dict[PurePosixPath, str], reg: ir.Regulation
) -> None:
    import json

    text = site_files[PurePosixPath("assets/search-index.js")]
    entries = json.loads(text[text.index("[") : text.rindex("]") + 1])
    packets = [e for e in entries if e["kind"] == "packet"]
    assert [e["name"] for e in packets] == [p.name for p in reg.packets]
    assert all(e["vi"] and e["en"] for e in packets)
    for packet in reg.packets:
        listed = {e["name"] for e in entries if e["kind"] == "field" and e["page"] == f"packets/{packet.name}.html"}
        for number in packet.tables:
            table = reg.table(number)
            if table.record:
                assert {f.wire_name for f in reg.record(table.record).fields} <= listed, packet.name
    entry = next(e for e in entries if e["name"] == "NgayHenTra" and e["packet"] == PACKET)
    assert (entry["anchor"], entry["vi"], entry["en"], entry["ref_vi"], entry["ref_en"]) == (
        "f-NgayHenTra",
        "Ngày hẹn trả",
        "appointment date for result",
        "Bảng 2, dòng 15",
        "Table 2, row 15",
    )
    assert entry["section_vi"].startswith("Bảng 2 — ") and entry["section_en"].startswith("Table 2 — ")


MARKUP = [
    "</script><script>alert(1)</script>",
    '<img src=x onerror="alert(1)">',
    "<svg/onload=alert(1)>",
    '<a href="javascript:alert(1)">x</a>',
    "<!-- x --> <b>y</b>",
    "a<br>b",
    '<a id="evil"></a>',
    "[x](javascript:alert(1))",
    "<javascript:alert(1)>",
    "https://evil.example/?q=1",
    "&lt;script&gt; &#x3C;img&#x3E;",
    "*em* **strong** `code` | pipe",
    "Ngày / Date: x — y",
]


def _hostile(reg: ir.Regulation) -> ir.Regulation:
    record = reg.record(RECORD)
    fields = tuple(
        dataclasses.replace(
            f,
            title=ir.Text(vi=MARKUP[n % len(MARKUP)], en=MARKUP[(n + 3) % len(MARKUP)]),
            notes=ir.Text(vi=MARKUP[(n + 5) % len(MARKUP)], en=MARKUP[(n + 6) % len(MARKUP)]),
        )
        for n, f in enumerate(record.fields)
    )
    records = tuple(dataclasses.replace(r, fields=fields) if r.name == RECORD else r for r in reg.records)
    purpose = ir.Text(vi="Đồng bộ a<br>b " + MARKUP[1], en=MARKUP[0])
    packets = tuple(dataclasses.replace(p, purpose=purpose) if p.name == PACKET else p for p in reg.packets)
    return dataclasses.replace(reg, records=records, packets=packets)


def test_spec_text_never_becomes_markup(reg: ir.Regulation) -> None:
    import json

    files = render_site(_hostile(reg))
    allowed = {
        "html",
        "head",
        "meta",
        "title",
        "link",
        "script",
        "body",
        "header",
        "a",
        "div",
        "label",
        "input",
        "ol",
        "ul",
        "li",
        "button",
        "nav",
        "p",
        "span",
        "main",
        "h1",
        "h2",
        "h3",
        "table",
        "thead",
        "tbody",
        "tr",
        "th",
        "td",
        "code",
        "em",
        "strong",
        "br",
        "footer",
        "cite",
    }
    for path, page in files.items():
        if path.suffix != ".html":
            continue
        parsed = _parse(page)
        for tag, attrs in parsed.tags:
            assert tag in allowed, (path, tag)
            assert not any(name.startswith("on") for name in attrs), (path, tag, attrs)
            for name in ("href", "src"):
                assert not re.match(r"\s*[a-z]+:|//", attrs.get(name) or "", re.IGNORECASE), (path, tag, attrs)
        assert "evil" not in parsed.ids
        assert [a["src"] for tag, a in parsed.tags if tag == "script"] == [
            f"{'../' * (len(path.parts) - 1)}assets/{name}" for name in ("lang.js", "search-index.js", "site.js")
        ]
    # Each payload is shown as the very text it is, on the packet page and in the search index.
    text = "".join(_parse(files[PurePosixPath(f"packets/{PACKET}.html")]).text)
    for payload in MARKUP:
        assert payload in text, payload
    index = files[PurePosixPath("assets/search-index.js")]
    shown = {value for entry in json.loads(index[index.index("[") : index.rindex("]") + 1]) for value in entry.values()}
    assert set(MARKUP) <= shown


def test_site_is_deterministic_across_hash_seeds_and_folders(tmp_path: Path) -> None:
    def build(out: Path, seed: str, cwd: Path) -> str:
        env = {**os.environ, "PYTHONHASHSEED": seed, "TZ": "UTC" if seed == "1" else "Asia/Ho_Chi_Minh"}
        subprocess.run(
            [sys.executable, "-m", "qcvngen.cli", "docs", "--spec", str(SPEC), "--out", str(out)],
            cwd=cwd,
            env=env,
            check=True,
            capture_output=True,
            timeout=120,
        )
        digest = hashlib.sha256()
        for path in sorted(p for p in out.rglob("*") if p.is_file()):
            digest.update(path.relative_to(out).as_posix().encode() + b"\0" + path.read_bytes() + b"\0")
        return digest.hexdigest()

    (tmp_path / "elsewhere").mkdir()
    assert build(tmp_path / "a", "1", ROOT) == build(tmp_path / "b", "4242", tmp_path / "elsewhere")
    assert str(ROOT) not in (tmp_path / "a" / "index.html").read_text(encoding="utf-8")


def test_docs_command_writes_the_site_and_refuses_a_foreign_folder(tmp_path: Path) -> None:
    runner = CliRunner()
    out = tmp_path / "site"
    first = runner.invoke(app, ["docs", "--spec", str(SPEC), "--out", str(out)])
    assert first.exit_code == 0, first.output
    assert (out / "index.html").is_file() and (out / MARKER.as_posix()).is_file()
    again = runner.invoke(app, ["docs", "--spec", str(SPEC), "--out", str(out)])
    assert again.exit_code == 0 and "0 file(s) written" in again.output
    foreign = tmp_path / "mine"
    foreign.mkdir()
    (foreign / "notes.txt").write_text("keep me", encoding="utf-8")
    refused = runner.invoke(app, ["docs", "--spec", str(SPEC), "--out", str(foreign)])
    assert refused.exit_code == 2 and "not made by `qcvngen docs`" in refused.output
    assert (foreign / "notes.txt").read_text(encoding="utf-8") == "keep me"


# --- the browser's installation, decided without touching the machine ------------------------------


def _finder(*present: str) -> Callable[[str], str | None]:
    return lambda name: f"/usr/bin/{name}" if name in present else None


def test_browser_plan_does_nothing_when_both_are_installed() -> None:
    assert browser_plan(_finder("chromium", "chromedriver"), 1000, None) == BrowserPlan()


@pytest.mark.parametrize("present", [(), ("chromium",), ("chromedriver",)])
def test_browser_plan_installs_with_apt_as_root(present: tuple[str, ...]) -> None:
    plan = browser_plan(_finder(*present), 0, "/usr/bin/apt-get")
    assert plan.problem is None
    assert plan.commands == (
        ("apt-get", "update", "-qq"),
        ("apt-get", "install", "-y", "-qq", "chromium", "chromium-driver"),
    )


def test_browser_plan_fails_with_the_command_when_not_root() -> None:
    plan = browser_plan(_finder("chromium"), 1000, "/usr/bin/apt-get")
    assert plan.commands == () and plan.problem is not None
    assert "chromedriver missing" in plan.problem and "not running as root" in plan.problem
    assert "apt-get install -y chromium chromium-driver" in plan.problem


def test_browser_plan_fails_clearly_without_apt() -> None:
    plan = browser_plan(_finder(), 0, None)
    assert plan.commands == () and plan.problem is not None
    assert "chromium and chromedriver missing" in plan.problem and "no apt-get" in plan.problem


def test_ensure_browser_installs_once_under_the_lock(tmp_path: Path) -> None:
    """The second run (another worker, after the first installed) finds both and runs nothing."""
    installed: set[str] = set()
    ran: list[tuple[str, ...]] = []

    def run(command: Sequence[str]) -> subprocess.CompletedProcess[str]:
        ran.append(tuple(command))
        if "install" in command:
            installed.update({"chromium", "chromedriver"})
        return subprocess.CompletedProcess(list(command), 0, "", "")

    def found(name: str) -> str | None:
        return f"/usr/bin/{name}" if name in installed else None

    lock = tmp_path / "locks" / "chromium.lock"
    assert ensure_browser(found, 0, "/usr/bin/apt-get", run, lock) == list(APT_COMMANDS)
    assert ensure_browser(found, 0, "/usr/bin/apt-get", run, lock) == []
    assert ran == list(APT_COMMANDS) and lock.is_file()


def test_ensure_browser_reports_a_failed_install(tmp_path: Path) -> None:
    def run(command: Sequence[str]) -> subprocess.CompletedProcess[str]:
        return subprocess.CompletedProcess(list(command), 100, "", "E: Unable to locate package chromium")

    with pytest.raises(pytest.fail.Exception, match=r"apt-get update -qq` failed .*sudo apt-get update"):
        ensure_browser(_finder(), 0, "/usr/bin/apt-get", run, tmp_path / "chromium.lock")
    with pytest.raises(pytest.fail.Exception, match="not running as root"):
        ensure_browser(_finder(), 1000, "/usr/bin/apt-get", run, tmp_path / "chromium.lock")


def test_a_note_written_in_english_only_leaves_vietnamese_readers_a_pointer(tmp_path: Path) -> None:
    """The older plain-string note (resolve warns) is marked English; Vietnamese-only mode shows a pointer instead."""
    from support.paths import copy_spec

    spec = copy_spec(tmp_path)
    t03 = spec / "tables/t03-cap-nhat-tien-do-ho-so-mc.yaml"
    text = t03.read_text(encoding="utf-8")
    block = '    notes:\n      vi: "Phải khớp với một hồ sơ đã gửi bằng DongBoHoSoMC."\n      en: "Must match a dossier'
    assert block in text
    t03.write_text(text.replace(block, '    notes: "Must match a dossier', 1), encoding="utf-8")
    reg, diagnostics = load_spec(spec)
    assert reg is not None and [d.severity.value for d in diagnostics] == ["warning"]
    page = render_site(reg)[PurePosixPath("packets/CapNhatTienDoHoSoMC.html")]
    item = next(li for li in re.findall(r"<li><code>MaHoSo</code>.*?</li>", page))
    assert '<span class="l-en" lang="en">Must match a dossier already sent with DongBoHoSoMC.</span>' in item
    assert f'<span class="l-vionly" lang="vi">{labels.L.ENGLISH_ONLY_SHORT.vi}</span>' in item
    assert '<span class="l-vi"' not in item

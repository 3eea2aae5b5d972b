"""The HTML documentation site: built into tmp_path, served on loopback, driven in headless Chromium.

The browser tests need Debian's ``chromium`` and ``chromium-driver`` (CI installs them); they fail,
rather than skip, when those are missing. Nothing here reaches the network.
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
from collections.abc import Iterator
from html.parser import HTMLParser
from pathlib import Path, PurePosixPath
from typing import Any
from urllib.parse import urlsplit

import pytest
from conftest import ROOT, SPEC
from qcvngen import ir
from qcvngen.cli import app
from qcvngen.pipeline import load_spec
from qcvngen.site import MARKER, docs_markdown, make_server, render_site, write_site
from typer.testing import CliRunner

PACKET = "DongBoHoSoMC"
RECORD = "DongBoHoSoMCRecord"
SCREENSHOT = ROOT / "docs" / "screenshots" / "site.png"


@pytest.fixture(scope="module")
def reg() -> ir.Regulation:
    loaded, diagnostics = load_spec(SPEC)
    assert loaded is not None, diagnostics
    return loaded


@pytest.fixture(scope="module")
def site_files(reg: ir.Regulation) -> dict[PurePosixPath, str]:
    return render_site(docs_markdown(reg))


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


def _executable(name: str) -> str:
    found = shutil.which(name) or (f"/usr/bin/{name}" if Path(f"/usr/bin/{name}").exists() else None)
    if found is None:
        pytest.fail(f"{name} is missing: install Debian's chromium and chromium-driver (see .ci/run)")
    return found


@pytest.fixture(scope="module")
def browser(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = _executable("chromium")
    profile = tmp_path_factory.mktemp("chromium-profile")
    for flag in (
        "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-dev-shm-usage",
        f"--user-data-dir={profile}", "--window-size=1400,900", "--lang=vi-VN",
    ):
        options.add_argument(flag)
    driver = webdriver.Chrome(service=Service(executable_path=_executable("chromedriver")), options=options)
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
    assert browser.execute_script("return document.documentElement.lang") == "vi"

    browser.get(f"{base_url}index.html")  # another page: the choice is remembered
    assert browser.execute_script("return document.documentElement.dataset.lang") == "en"
    assert browser.find_element("css selector", "[data-set-lang='en']").get_attribute("aria-pressed") == "true"

    _open(browser, page, "vi")
    row = browser.find_element("id", "f-NgayHenTra")
    assert row.find_element("css selector", "td.l-vi").is_displayed()
    assert row.find_element("css selector", "td.l-vi").text == "Ngày hẹn trả"
    assert not row.find_element("css selector", "td.l-en").is_displayed()
    # Notes exist in English only: they stay visible in Vietnamese.
    notes = browser.find_elements("xpath", "//li[code[normalize-space(.)='NgayHenTra']]")
    assert notes and notes[0].is_displayed()

    _open(browser, page, "both")
    row = browser.find_element("id", "f-NgayHenTra")
    assert row.find_element("css selector", "td.l-vi").is_displayed()
    assert row.find_element("css selector", "td.l-en").is_displayed()


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


def test_language_marks_come_in_pairs(site_files: dict[PurePosixPath, str]) -> None:
    """Nothing is hidden by the switch unless its translation is shown instead."""
    pair = re.compile(
        r'<span class="l-vi" lang="vi">(?:(?!</?span).)*</span>'
        r'(?:<span class="l-sep">(?:(?!</?span).)*</span>|</td>\s*<td>)'  # "vi / en", or Table 1's group rows
        r'<span class="l-en" lang="en">(?:(?!</?span).)*</span>',
        re.DOTALL,
    )
    for path, text in site_files.items():
        if path.suffix != ".html":
            continue
        body = text.split('<main id="content">', 1)[1]
        assert len(pair.findall(body)) == body.count('<span class="l-vi"') == body.count('<span class="l-en"'), path
        assert body.count('<p class="l-vi"') == body.count('<p class="l-en"'), path
        for row in re.findall(r"<tr[^>]*>.*?</tr>", body, re.DOTALL):
            assert ('class="l-vi"' in row) == ('class="l-en"' in row), (path, row[:200])


def test_search_index_holds_every_packet_and_every_field_shown(
    site_files: dict[PurePosixPath, str], reg: ir.Regulation
) -> None:
    import json

    text = site_files[PurePosixPath("assets/search-index.js")]
    entries = json.loads(text[text.index("["):text.rindex("]") + 1])
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
    assert (entry["anchor"], entry["vi"], entry["en"], entry["ref"]) == (
        "f-NgayHenTra", "Ngày hẹn trả", "appointment date for result", "Table 2, row 15"
    )


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
        dataclasses.replace(f, title=ir.Text(vi=MARKUP[n % len(MARKUP)], en=MARKUP[(n + 3) % len(MARKUP)]),
                            notes=MARKUP[(n + 5) % len(MARKUP)])
        for n, f in enumerate(record.fields)
    )
    records = tuple(dataclasses.replace(r, fields=fields) if r.name == RECORD else r for r in reg.records)
    purpose = ir.Text(vi="Đồng bộ a<br>b " + MARKUP[1], en=MARKUP[0])
    packets = tuple(dataclasses.replace(p, purpose=purpose) if p.name == PACKET else p for p in reg.packets)
    return dataclasses.replace(reg, records=records, packets=packets)


def test_spec_text_never_becomes_markup(reg: ir.Regulation) -> None:
    import json

    files = render_site(docs_markdown(_hostile(reg)))
    allowed = {
        "html", "head", "meta", "title", "link", "script", "body", "header", "a", "div", "label", "input", "ol", "ul",
        "li", "button", "nav", "p", "span", "main", "h1", "h2", "h3", "table", "thead", "tbody", "tr", "th", "td",
        "code", "em", "strong", "br", "footer",
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
    shown = {value for entry in json.loads(index[index.index("["):index.rindex("]") + 1]) for value in entry.values()}
    assert set(MARKUP) <= shown


def test_site_is_deterministic_across_hash_seeds_and_folders(tmp_path: Path) -> None:
    def build(out: Path, seed: str, cwd: Path) -> str:
        env = {**os.environ, "PYTHONHASHSEED": seed, "TZ": "UTC" if seed == "1" else "Asia/Ho_Chi_Minh"}
        subprocess.run(
            [sys.executable, "-m", "qcvngen.cli", "docs", "--spec", str(SPEC), "--out", str(out)],
            cwd=cwd, env=env, check=True, capture_output=True, timeout=120,
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

"""The HTML documentation site: the generated Markdown docs as static pages, with a language switch and search.

``render_site`` turns the docs pages (what the ``docs`` target writes into generated/docs) into
``{path: text}``: one HTML page per Markdown page, the CSS/JS assets from templates/site/, and a
search index of packets and fields. It is pure and deterministic; ``write_site`` puts it on disk
through the writer, and ``make_server`` serves the folder on the loopback interface.
"""

from __future__ import annotations

import functools
import http.server
import json
import re
from collections.abc import Mapping
from pathlib import Path, PurePosixPath
from typing import Any, ClassVar

import jinja2

from .. import ir
from ..resources import templates_dir
from ..writer import Changes, write
from .convert import Page, convert, html_path

__all__ = [
    "MARKER",
    "Page",
    "SiteError",
    "convert",
    "docs_markdown",
    "html_path",
    "make_server",
    "render_site",
    "write_site",
]

Files = dict[PurePosixPath, str]

MARKER = PurePosixPath(".qcvngen-site")
_ASSETS = ("favicon.svg", "lang.js", "site.css", "site.js")
# The navigation's labels and order for the pages other than the packets.
_MAIN_PAGES = (
    ("README.md", "Bảng 1 — Các gói tin", "Table 1 — The packets"),
    ("envelope.md", "Phong bì, đăng nhập", "Envelope and login"),
    ("codelists.md", "Danh mục mã", "Code lists"),
    ("coverage.md", "Độ phủ", "Coverage"),
    ("sources.md", "Nguồn", "Sources"),
)


class SiteError(Exception):
    """The site cannot be built or written."""


@functools.lru_cache(maxsize=1)
def _environment() -> jinja2.Environment:
    # The shared environment (render.py) writes code and Markdown and must not autoescape; here every
    # value lands in HTML, so escaping is on by default and only converter output is marked safe.
    return jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(templates_dir())),
        undefined=jinja2.StrictUndefined,
        autoescape=True,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )


def _number_key(number: str) -> tuple[int, ...]:
    return tuple(int(part) for part in re.findall(r"\d+", number))


def render_site(markdown: Mapping[PurePosixPath, str]) -> Files:
    """The whole site for the docs pages ``markdown`` (paths relative to the docs folder)."""
    if PurePosixPath("README.md") not in markdown:
        raise SiteError("the docs have no README.md (Table 1)")
    pages = [convert(path, markdown[path]) for path in sorted(markdown) if path.suffix == ".md"]
    nav = _navigation(pages)
    template = _environment().get_template("site/page.html.jinja")
    files: Files = {}
    for page in pages:
        root = "../" * (len(page.path.parts) - 1)
        current = page.path.as_posix()
        files[page.path] = template.render(page=page, body=page.body, root=root, current=current, nav=nav)
    entries = sorted(
        (entry for page in pages for entry in page.entries),
        key=lambda e: (e["kind"] != "packet", _number_key(e["number"]), e["page"], e["anchor"]),
    )
    lines = ",\n".join(json.dumps(entry, ensure_ascii=False, sort_keys=True) for entry in entries)
    files[PurePosixPath("assets/search-index.js")] = (
        "// Search index of the QCVN 120:2019/BTTTT documentation site, built by `qcvngen docs`.\n"
        f"window.QCVN_SEARCH_INDEX = [\n{lines}\n];\n"
    )
    for name in _ASSETS:
        files[PurePosixPath("assets") / name] = (templates_dir() / "site" / name).read_text(encoding="utf-8")
    files[MARKER] = "Built by `qcvngen docs`, which replaces this folder as a whole.\n"
    return dict(sorted(files.items()))


def _navigation(pages: list[Page]) -> dict[str, list[dict[str, str]]]:
    labels = {PurePosixPath(source): (vi, en) for source, vi, en in _MAIN_PAGES}
    main: list[tuple[int, dict[str, str]]] = []
    packets: list[tuple[tuple[int, ...], dict[str, str]]] = []
    for page in pages:
        if page.source.parent.name == "packets":
            number, _, name = page.title.partition(" ")
            packets.append((_number_key(number), {"path": page.path.as_posix(), "number": number, "name": name}))
        else:
            vi, en = labels.get(page.source, (page.title, page.title))
            rank = list(labels).index(page.source) if page.source in labels else len(labels)
            main.append((rank, {"path": page.path.as_posix(), "vi": vi, "en": en}))
    return {
        "main": [item for _, item in sorted(main, key=lambda pair: (pair[0], pair[1]["path"]))],
        "packets": [item for _, item in sorted(packets, key=lambda pair: (pair[0], pair[1]["path"]))],
    }


def docs_markdown(reg: ir.Regulation) -> dict[PurePosixPath, str]:
    """The Markdown pages the ``docs`` target writes into generated/docs, keyed relative to that folder."""
    from ..targets import common, docs

    rendered = docs.render(reg, common.context_for(reg))
    return {path.relative_to(docs.FOLDER): text for path, text in rendered.items()}


def write_site(out: Path, files: Files) -> Changes:
    """Replace ``out`` with the site; refuse a non-empty folder that is not a previous site."""
    if out.is_dir() and any(out.iterdir()) and not (out / MARKER).is_file():
        raise SiteError(f"{out} is not empty and was not made by `qcvngen docs`; choose another --out")
    return write(out, files, marker=MARKER)


class _Handler(http.server.SimpleHTTPRequestHandler):
    extensions_map: ClassVar[dict[str, str]] = {  # type: ignore[misc]
        ".html": "text/html; charset=utf-8",
        ".css": "text/css; charset=utf-8",
        ".js": "text/javascript; charset=utf-8",
        ".svg": "image/svg+xml",
        "": "application/octet-stream",
    }
    quiet = False

    def end_headers(self) -> None:
        self.send_header("X-Content-Type-Options", "nosniff")
        self.send_header("Cache-Control", "no-cache")
        super().end_headers()

    def log_message(self, format: str, *args: Any) -> None:
        if not self.quiet:
            super().log_message(format, *args)


def make_server(
    root: Path, port: int, *, host: str = "127.0.0.1", quiet: bool = False
) -> http.server.ThreadingHTTPServer:
    """An HTTP server for the site folder (call ``serve_forever``; ``port`` 0 picks a free one)."""
    handler = type("SiteHandler", (_Handler,), {"quiet": quiet})
    return http.server.ThreadingHTTPServer((host, port), functools.partial(handler, directory=str(root)))

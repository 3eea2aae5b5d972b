"""The HTML documentation site, rendered from a bilingual view model of the IR, with a language switch and search.

``render_site`` turns the IR into ``{path: text}``: one HTML page per packet plus Table 1, the
envelope, code lists, coverage and sources, the CSS/JS assets from templates/site/, and a search
index of packets and fields. Every word on a page is marked as Vietnamese or English from the IR's
``Text(vi, en)`` pairs and the site's own vocabulary (``labels``), never guessed. It is pure and
deterministic; ``write_site`` puts it on disk through the writer, and ``make_server`` serves the
folder on the loopback interface.
"""

from __future__ import annotations

import dataclasses
import functools
import http.server
import json
from pathlib import Path, PurePosixPath
from typing import Any, ClassVar

import jinja2

from .. import ir
from ..resources import templates_dir
from ..version import __version__
from ..writer import Changes, write
from .labels import L
from .view import Page, pages

__all__ = [
    "MARKER",
    "Page",
    "SiteError",
    "make_server",
    "pages",
    "render_site",
    "write_site",
]

Files = dict[PurePosixPath, str]

MARKER = PurePosixPath(".qcvngen-site")
_ASSETS = ("favicon.svg", "lang.js", "site.css", "site.js")


class SiteError(Exception):
    """The site cannot be built or written."""


@functools.lru_cache(maxsize=1)
def _environment() -> jinja2.Environment:
    # The shared environment (render.py) writes code and Markdown and must not autoescape; here every
    # value lands in HTML, so escaping is on and nothing is marked safe but the macros' own markup.
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(templates_dir())),
        undefined=jinja2.StrictUndefined,
        autoescape=True,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
    env.globals["L"] = L
    return env


def render_site(reg: ir.Regulation) -> Files:
    """The whole site for the regulation ``reg``."""
    site = pages(reg)
    nav = _navigation(site)
    template = _environment().get_template("site/page.html.jinja")
    files: Files = {}
    for page in site:
        root = "../" * (len(page.path.parts) - 1)
        files[page.path] = template.render(
            page=page, reg=reg, root=root, current=page.path.as_posix(), nav=nav, version=__version__, **page.view
        )
    files[PurePosixPath("assets/search-index.js")] = _search_index(site)
    for name in _ASSETS:
        files[PurePosixPath("assets") / name] = (templates_dir() / "site" / name).read_text(encoding="utf-8")
    files[MARKER] = "Built by `qcvngen docs`, which replaces this folder as a whole.\n"
    return dict(sorted(files.items()))


def _search_index(site: list[Page]) -> str:
    """Packets first, then fields, in page order: a script that sets ``window.QCVN_SEARCH_INDEX``."""
    entries = [entry for page in site for entry in page.entries]
    entries.sort(key=lambda e: e.kind != "packet")  # stable: page order within each kind
    lines = ",\n".join(json.dumps(dataclasses.asdict(e), ensure_ascii=False, sort_keys=True) for e in entries)
    # "</" cannot close the script element the index is loaded by, but escape it anyway: it is spec text.
    lines = lines.replace("</", "<\\/")
    return (
        "// Search index of the QCVN 120:2019/BTTTT documentation site, built by `qcvngen docs`.\n"
        f"window.QCVN_SEARCH_INDEX = [\n{lines}\n];\n"
    )


def _navigation(site: list[Page]) -> dict[str, list[dict[str, Any]]]:
    main = [{"path": p.path.as_posix(), "title": p.title} for p in site if p.path.parent.name != "packets"]
    packets = [
        {"path": p.path.as_posix(), "number": p.view["packet"].number, "name": p.view["packet"].name}
        for p in site
        if p.path.parent.name == "packets"
    ]
    return {"main": main, "packets": packets}


def write_site(out: Path, files: Files) -> Changes:
    """Replace ``out`` with the site; refuse a non-empty folder that is not a previous site."""
    if out.is_dir() and any(out.iterdir()) and not (out / MARKER).is_file():
        raise SiteError(f"{out} is not empty and was not made by `qcvngen docs`; choose another --out")
    return write(out, files)


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

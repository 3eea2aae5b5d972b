"""What must hold of a build made from a hostile spec, checked file by file against a benign build.

* Python: parses (from bytes, so an encoding cookie would count), declares UTF-8, has the benign
  build's AST shape once every constant (and so every docstring) is masked, holds no raw control,
  format, bidi or separator character, and imports without side effects (see IMPORT_PROBE).
* JSON: parses strictly and has the benign build's shape (keys kept, scalar values masked).
* Markdown (markdown-it-py, GFM tables, its own link filter off so a javascript: link would show):
  tables keep their column count, no raw HTML but the template's own, only the template's links,
  no code blocks, the benign build's block/inline structure.
* HTML (if a target writes any): the benign build's tags and attribute names, no script/data URLs.
* Text: every placed value shows up somewhere, exactly in JSON/Python or as visible Markdown text.
"""

from __future__ import annotations

import ast
import io
import json
import os
import re
import subprocess
import sys
import tokenize
import unicodedata
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

# -- Python ----------------------------------------------------------------------------------------


class _Mask(ast.NodeTransformer):
    def __init__(self, names: bool) -> None:
        self.names = names

    def visit_Constant(self, node: ast.Constant) -> ast.AST:
        return ast.copy_location(ast.Constant(value=f"<{type(node.value).__name__}>"), node)

    def generic_visit(self, node: ast.AST) -> ast.AST:
        node = super().generic_visit(node)
        if self.names:
            for attr in ("id", "name", "attr", "arg", "asname"):
                if isinstance(getattr(node, attr, None), str) and not isinstance(node, ast.ImportFrom):
                    setattr(node, attr, "<name>")
        return node


def python_shape(data: bytes, *, names: bool = False) -> str:
    """The AST of ``data`` with every constant (and, with ``names``, every identifier) masked."""
    tree = _Mask(names).visit(ast.parse(data))
    if names:
        # A renamed class may sort elsewhere in its module: compare the statements as a multiset.
        return "\n".join(sorted(ast.dump(node, include_attributes=False) for node in tree.body))
    return ast.dump(tree, include_attributes=False)


def source_encoding(data: bytes) -> str:
    return tokenize.detect_encoding(io.BytesIO(data).readline)[0]


def python_strings(data: bytes) -> list[str]:
    return [
        node.value
        for node in ast.walk(ast.parse(data))
        if isinstance(node, ast.Constant) and isinstance(node.value, str)
    ]


# -- JSON ------------------------------------------------------------------------------------------


def _no_constant(name: str) -> Any:
    raise ValueError(f"non-standard JSON constant {name}")


def load_json(text: str) -> Any:
    return json.loads(text, parse_constant=_no_constant)


def json_shape(value: Any, *, names: bool = False) -> Any:
    """Keys and nesting with scalar values masked; with ``names``, keys masked too (kept as a multiset)."""
    if isinstance(value, dict):
        if names:
            return ("object", sorted(repr(json_shape(item, names=True)) for item in value.values()))
        return {key: json_shape(item) for key, item in value.items()}
    if isinstance(value, list):
        return [json_shape(item, names=names) for item in value]
    return type(value).__name__


def json_strings(value: Any, out: list[str]) -> list[str]:
    if isinstance(value, dict):
        for key, item in value.items():
            out.append(key)
            json_strings(item, out)
    elif isinstance(value, list):
        for item in value:
            json_strings(item, out)
    elif isinstance(value, str):
        out.append(value)
    return out


# -- characters ------------------------------------------------------------------------------------

_HIDDEN_CATEGORIES = ("Cc", "Cf", "Zl", "Zp", "Co", "Cs")


def is_hidden(ch: str) -> bool:
    """Invisible, reordering, line-breaking or not for interchange: controls, format (bidi,
    zero-width, BOM, tags), separators, private use, surrogates and noncharacters."""
    code = ord(ch)
    return unicodedata.category(ch) in _HIDDEN_CATEGORIES or 0xFDD0 <= code <= 0xFDEF or (code & 0xFFFE) == 0xFFFE


def hidden_characters(text: str, allowed: str = "\n\t") -> list[str]:
    """Raw hidden characters in generated text (they must appear only as escapes)."""
    found = sorted(ch for ch in set(text) if ch not in allowed and is_hidden(ch))
    return [f"U+{ord(ch):04X}" for ch in found]


_NOT_ASCII = re.compile(r"[^\t -~]")


_BREAKS = re.compile(r"\r\n|[\r\n\u2028\u2029\x85\x0b\x0c]")


def visible_text(value: str) -> str:
    """What a Markdown reader should see for ``value``: one line, hidden characters spelled out."""
    text = _BREAKS.sub(" ", value)
    return _NOT_ASCII.sub(lambda m: f"U+{ord(m.group()):04X}" if is_hidden(m.group()) else m.group(), text)


# -- Markdown --------------------------------------------------------------------------------------

_HEADER_COMMENT = re.compile(r"<!-- (Generated by qcvngen [^\n]*?) -->\n?\Z")
_ANCHOR_BLOCK = re.compile(r'<a id="[a-z0-9_]+"></a>\n?\Z')
_INLINE_HTML = re.compile(r'<br>\Z|<a id="[a-z0-9_]+">\Z|</a>\Z')
_SAFE_HREF = re.compile(r"(?:\.\./)?(?:packets/)?(?:[A-Za-z0-9_]+\.md)?(?:#[a-z0-9_]+)?\Z")


_CELL_SEPARATOR = re.compile(r"(?<!\\)\|")


def _split_row(line: str) -> list[str]:
    """Cells of a table row the way GFM (and markdown-it) split them: ``\\|`` is not a separator."""
    cells = _CELL_SEPARATOR.split(line.strip())
    if cells and not cells[0].strip():
        cells = cells[1:]
    if cells and not cells[-1].strip():
        cells = cells[:-1]
    return cells


def table_problems(text: str) -> tuple[int, list[str]]:
    """Number of tables and every row whose cell count differs from its header's."""
    problems: list[str] = []
    tables = 0
    lines = text.split("\n")
    index = 0
    while index < len(lines):
        if (
            lines[index].startswith("|")
            and index + 1 < len(lines)
            and re.fullmatch(r"\|(?:\s*:?-+:?\s*\|)+", lines[index + 1].strip())
        ):
            tables += 1
            width = len(_split_row(lines[index]))
            row = index + 1
            while row < len(lines) and lines[row].startswith("|"):
                got = len(_split_row(lines[row]))
                if got != width:
                    problems.append(f"line {row + 1}: {got} cells, header has {width}")
                row += 1
            index = row
        else:
            index += 1
    return tables, problems


def _markdown() -> Any:
    from markdown_it import MarkdownIt

    class TrustingMarkdownIt(MarkdownIt):
        """markdown-it drops javascript:/data: links by itself; other renderers may not, so let every
        link through and judge it here."""

        def validateLink(self, url: str) -> bool:  # noqa: N802 (markdown-it's method name)
            return True

    return TrustingMarkdownIt("commonmark").enable("table").enable("strikethrough")


@dataclass
class MarkdownFacts:
    structure: list[Any] = field(default_factory=list)
    texts: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    tables: int = 0


def markdown_facts(text: str) -> MarkdownFacts:
    facts = MarkdownFacts()
    facts.tables, facts.problems = table_problems(text)
    tokens = _markdown().parse(text)
    for number, token in enumerate(tokens):
        if token.type == "html_block":
            content = token.content
            header = _HEADER_COMMENT.match(content)
            if number == 0 and header and "--" not in header.group(1) and not header.group(1).endswith("-"):
                pass
            elif not _ANCHOR_BLOCK.match(content):
                facts.problems.append(f"raw HTML block {content[:80]!r}")
        if token.type == "code_block":
            facts.problems.append(f"code block {token.content[:80]!r}")
        if token.type == "fence":
            # A template's own fenced example (the client README's): its text is part of the
            # structure, so any spec text reaching it shows as a difference from the benign build.
            facts.structure.append(("fence", token.info, token.content))
        if token.type != "inline":
            facts.structure.append((token.type, token.tag, token.nesting))
            continue
        shape = []
        visible = []
        for child in token.children or []:
            if child.type in ("text", "text_special"):
                visible.append(child.content)
                continue
            shape.append(child.type)
            if child.type == "code_inline":
                visible.append(child.content)
            elif child.type == "html_inline" and not _INLINE_HTML.match(child.content):
                facts.problems.append(f"raw HTML {child.content[:80]!r}")
            elif child.type == "image":
                facts.problems.append(f"image {child.attrGet('src')!r}")
            elif child.type == "link_open":
                href = str(child.attrGet("href"))
                if child.markup in ("autolink", "linkify") or not _SAFE_HREF.match(href):
                    facts.problems.append(f"link to {href[:80]!r}")
            elif child.type in ("softbreak", "hardbreak"):
                visible.append("\n")
        facts.structure.append(("inline", tuple(shape)))
        facts.texts.append("".join(visible))
    return facts


# -- HTML ------------------------------------------------------------------------------------------

_UNSAFE_URL = re.compile(r"(?:java|vb)script:|data:", re.IGNORECASE)


@dataclass
class HtmlFacts:
    structure: list[Any] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)


def html_facts(text: str) -> HtmlFacts:
    """Tags with their attribute names, in order (the shape spec text must not change), and any
    URL attribute with a script or data scheme."""
    from html.parser import HTMLParser

    facts = HtmlFacts()

    class Walker(HTMLParser):
        def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
            facts.structure.append(("<", tag, tuple(sorted(name for name, _ in attrs))))
            for name, value in attrs:
                url = "".join(ch for ch in value or "" if ch > " ")
                if name in ("href", "src", "action", "formaction", "xlink:href") and _UNSAFE_URL.match(url):
                    facts.problems.append(f"<{tag} {name}={(value or '')[:80]!r}>")

        def handle_endtag(self, tag: str) -> None:
            facts.structure.append((">", tag))

        def handle_comment(self, data: str) -> None:
            facts.structure.append(("!--",))

    walker = Walker(convert_charrefs=True)
    walker.feed(text)
    walker.close()
    return facts


# -- the import probe ------------------------------------------------------------------------------

IMPORT_PROBE = r"""
import json, os, sys
sys.dont_write_bytecode = True
root = sys.argv[1]
import typing
import pydantic  # the generated code's own dependencies load before the hook: they are not under test
try:
    import httpx, fastapi  # noqa: F401
except ImportError:
    pass

events = []
WATCHED = ("os.system", "os.exec", "os.posix_spawn", "os.spawn", "os.fork", "os.forkpty", "os.kill",
           "subprocess.Popen", "os.remove", "os.unlink", "os.rename", "os.rmdir", "os.mkdir", "os.symlink",
           "os.link", "os.chmod", "os.truncate", "os.putenv", "os.unsetenv", "shutil.", "socket.connect",
           "socket.bind", "ctypes.", "urllib.Request", "webbrowser.open", "pty.spawn", "sys.settrace",
           "sys.setprofile", "builtins.input")
WRITE_FLAGS = os.O_WRONLY | os.O_RDWR | os.O_CREAT | os.O_TRUNC | os.O_APPEND

def hook(event, args):
    if event.startswith(WATCHED):
        events.append([event, repr(args)[:300]])
    elif event == "open":
        path, mode, flags = (list(args) + [None, None])[:3]
        if (isinstance(mode, str) and any(c in mode for c in "wax+")) or (isinstance(flags, int) and flags & WRITE_FLAGS):
            events.append(["open-for-write", repr(path)[:300]])

names = []
for dirpath, dirnames, filenames in os.walk(root):
    dirnames[:] = sorted(d for d in dirnames if d != "__pycache__")
    parent = os.path.dirname(dirpath)
    if "__init__.py" in filenames and not os.path.exists(os.path.join(parent, "__init__.py")):
        sys.path.insert(0, parent)
        for pkg_dir, pkg_dirs, pkg_files in os.walk(dirpath):
            pkg_dirs[:] = sorted(d for d in pkg_dirs if os.path.exists(os.path.join(pkg_dir, d, "__init__.py")))
            for name in sorted(pkg_files):
                if name.endswith(".py") and name != "__main__.py":
                    dotted = os.path.relpath(os.path.join(pkg_dir, name[:-3]), parent).replace(os.sep, ".")
                    names.append(dotted[: -len(".__init__")] if dotted.endswith(".__init__") else dotted)
        dirnames[:] = []

sys.addaudithook(hook)
import importlib, warnings
imported = []
with warnings.catch_warnings(record=True) as caught:
    warnings.simplefilter("always")
    for name in names:
        importlib.import_module(name)
        imported.append(name)

facts = {"imported": imported, "events": events, "models": {}, "codes": {},
         "warnings": [f"{w.category.__name__}: {w.message}"[:300] for w in caught]}
models = sys.modules.get("qcvn120_client.models")
if models is not None:
    for attr, cls in vars(models).items():
        # Every class of the models package (one module per packet), as its __init__ re-exports it.
        if isinstance(cls, type) and issubclass(cls, pydantic.BaseModel) and cls.__module__.startswith(models.__name__ + "."):
            cls.model_rebuild()  # classes with forward references complete their fields lazily
            facts["models"][attr] = {
                name: [info.alias, info.description, info.examples] for name, info in cls.model_fields.items()
            }
wire = sys.modules.get("qcvn120_client.wire")
if wire is not None:
    for name in wire.__all__:
        if name.startswith("Code"):
            alias = getattr(wire, name)
            literal = typing.get_args(getattr(alias, "__value__", alias))[0]  # a named TypeAliasType
            facts["codes"][name] = list(typing.get_args(literal))
    facts["timezone"] = wire.TIMEZONE
facts["validated"] = []
for module_name, class_name, payload in json.loads(sys.argv[2]) if len(sys.argv) > 2 else []:
    cls = getattr(sys.modules[module_name], class_name)
    obj = cls.model_validate(payload)
    facts["validated"].append([class_name, {k: getattr(obj, k) for k in cls.model_fields if getattr(obj, k) is not None},
                               obj.model_dump(by_alias=True, exclude_none=True)])
package = sys.modules.get("qcvn120_client")
if package is not None:
    facts["spec_version"] = getattr(package, "SPEC_VERSION", None)
sys.stdout.write(json.dumps(facts, ensure_ascii=True))
"""


def import_probe(out_dir: Path, cwd: Path, validate: list[Any] | None = None) -> tuple[dict[str, Any] | None, str]:
    """Import every generated module under an audit hook in a fresh interpreter; its facts or an error.

    ``validate``: ``[module, class, payload]`` triples; each payload is validated by the class and
    reported back as its attribute values and its by-alias dump.
    """
    env = {key: value for key, value in os.environ.items() if not key.startswith("PYTHON")}
    env["PYTHONDONTWRITEBYTECODE"] = "1"
    env["PYTHONIOENCODING"] = "utf-8"
    proc = subprocess.run(
        [sys.executable, "-I", "-c", IMPORT_PROBE, str(out_dir), json.dumps(validate or [])],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    if proc.returncode != 0:
        return None, proc.stderr[-3000:]
    return json.loads(proc.stdout), ""


def canaries(*roots: Path) -> list[str]:
    found: list[str] = []
    for root in roots:
        found += [str(p) for p in root.rglob("*CANARY*")]
    return found

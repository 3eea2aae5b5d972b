"""One hostile build, start to finish: write the spec, build, check every artefact, import it."""

from __future__ import annotations

import json
import tempfile
import time
import traceback
import unicodedata
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any

from qcvngen import build
from qcvngen.targets.schema_builder import describe
from qcvngen.writer import write

from . import checks
from .plan import Placement
from .specio import Tree, write_tree

Signatures = dict[str, Any]


@dataclass
class Report:
    label: str
    built: bool = False
    diagnostics: list[str] = field(default_factory=list)
    error: str = ""
    problems: list[str] = field(default_factory=list)
    absent: list[tuple[str, tuple[str, ...]]] = field(default_factory=list)
    stats: dict[str, int] = field(default_factory=dict)
    facts: dict[str, Any] = field(default_factory=dict)
    seconds: float = 0.0


def _names_follow_text(path: PurePosixPath) -> bool:
    """Modules whose identifiers are derived from spec text: the code-list enums, whose member names
    come from each code's English meaning (``naming.code_member_names``, always ``[A-Z][A-Z0-9_]*``)."""
    return path.name == "codes.py"


def signatures(files: dict[PurePosixPath, str], *, names: bool = False) -> Signatures:
    """Per file: the masked AST (.py), the shape (.json) or the block/inline structure (.md)."""
    out: Signatures = {}
    for path, text in files.items():
        if path.suffix == ".py":
            masked = names or _names_follow_text(path)
            out[path.as_posix()] = checks.python_shape(text.encode("utf-8"), names=masked)
        elif path.suffix == ".json":
            out[path.as_posix()] = checks.json_shape(checks.load_json(text), names=names)
        elif path.suffix == ".md":
            structure = checks.markdown_facts(text).structure
            out[path.as_posix()] = sorted(map(repr, structure)) if names else structure
        elif path.suffix == ".html":
            structure = checks.html_facts(text).structure
            out[path.as_posix()] = sorted(map(repr, structure)) if names else structure
    return out


def _round_trip(reg: Any, files: dict[PurePosixPath, str], facts: dict[str, Any]) -> list[str]:
    """Spec values reach the models, the wire types and the schemas exactly (no loss, no rewrite)."""
    problems: list[str] = []
    env = reg.envelope
    records = [*list(reg.records), env.login_request, env.login_response, env.request, env.response]
    bundle = json.loads(files[PurePosixPath("jsonschema/qcvn120.schema.json")])["$defs"]
    for record in records:
        model = facts["models"].get(record.name)
        if model is None:
            problems.append(f"no model class {record.name}")
            continue
        for fld in record.fields:
            want = [fld.wire_name, describe(fld.title), [fld.example] if fld.example is not None else None]
            if model.get(fld.py_name) != want:
                problems.append(f"{record.name}.{fld.py_name}: model has {str(model.get(fld.py_name))[:200]}")
            prop = bundle[record.name]["properties"][fld.wire_name]
            if prop.get("description") != want[1] or prop.get("examples") != want[2]:
                problems.append(f"{record.name}.{fld.wire_name}: schema description/examples differ")
    for codelist in reg.codelists:
        if not codelist.closed:
            continue
        codes = [c.code for c in codelist.codes]
        for name, want in ((f"Code{codelist.name}", codes), (f"Code{codelist.name}OrEmpty", [*codes, ""])):
            if facts["codes"].get(name) != want:
                problems.append(f"wire.{name} literals differ from the code list")
    if facts.get("spec_version") != reg.meta.spec_version:
        problems.append("SPEC_VERSION differs from regulation.yaml")
    if facts.get("timezone") != reg.meta.timezone:
        problems.append("wire.TIMEZONE differs from regulation.yaml")
    return problems


def _compare(got: Signatures, baseline: Signatures, names: bool) -> list[str]:
    if names:
        # Renamed packets rename files too: compare the multiset of shapes, not path by path.
        same = sorted(repr(v) for v in got.values()) == sorted(repr(v) for v in baseline.values())
        return [] if same else ["the shapes of the generated files differ from the benign build's"]
    problems = [
        f"{name}: shape differs from the benign build's" for name in sorted(got) if baseline.get(name) != got[name]
    ]
    if sorted(got) != sorted(baseline):
        problems.append(f"generated files differ from the benign build's: {sorted(set(got) ^ set(baseline))[:6]}")
    return problems


def check_files(
    files: dict[PurePosixPath, str], baseline: Signatures | None, *, names: bool = False
) -> tuple[list[str], dict[str, int], str, str]:
    """Every structural check; returns problems, counts and the exact / visible text haystacks."""
    problems: list[str] = []
    stats = {"py_files": 0, "json_files": 0, "md_files": 0, "md_tables": 0}
    exact: list[str] = []
    visible: list[str] = []
    got: Signatures = {}
    for path, text in sorted(files.items()):
        name = path.as_posix()
        data = text.encode("utf-8")  # raises on a lone surrogate
        if path.suffix in (".py", ".json", ".md", ".toml", ".html") and (hidden := checks.hidden_characters(text)):
            problems.append(f"{name}: raw hidden characters {hidden[:8]}")
        if path.suffix == ".py":
            stats["py_files"] += 1
            try:
                got[name] = checks.python_shape(data, names=names or _names_follow_text(path))
            except SyntaxError as exc:
                problems.append(f"{name}: does not parse: {exc}")
                continue
            if checks.source_encoding(data) != "utf-8":
                problems.append(f"{name}: declares source encoding {checks.source_encoding(data)!r}")
            exact += checks.python_strings(data)
        elif path.suffix == ".json":
            stats["json_files"] += 1
            try:
                value = checks.load_json(text)
            except ValueError as exc:
                problems.append(f"{name}: not JSON: {exc}")
                continue
            got[name] = checks.json_shape(value, names=names)
            exact += checks.json_strings(value, [])
        elif path.suffix == ".md":
            stats["md_files"] += 1
            facts = checks.markdown_facts(text)
            stats["md_tables"] += facts.tables
            problems += [f"{name}: {p}" for p in facts.problems]
            got[name] = sorted(map(repr, facts.structure)) if names else facts.structure
            visible += facts.texts
        elif path.suffix == ".html":
            stats["html_files"] = stats.get("html_files", 0) + 1
            html = checks.html_facts(text)
            problems += [f"{name}: {p}" for p in html.problems]
            got[name] = sorted(map(repr, html.structure)) if names else html.structure
        elif path.suffix == ".toml":
            import tomllib

            try:
                tomllib.loads(text)
            except tomllib.TOMLDecodeError as exc:
                problems.append(f"{name}: not TOML: {exc}")
    if baseline is not None:
        problems += _compare(got, baseline, names)
    return problems, stats, _haystack(exact), _haystack(visible)


def _haystack(items: list[str]) -> str:
    """The strings as one NFC text, deduplicated: the per-packet schemas repeat the bundle many times over."""
    return unicodedata.normalize("NFC", "\x00".join(sorted(set(items))))


def absent(placements: list[Placement], exact: str, visible: str) -> list[tuple[str, tuple[str, ...]]]:
    missing: list[tuple[str, tuple[str, ...]]] = []
    for placement in placements:
        value = unicodedata.normalize("NFC", placement.value)
        if not value.strip() or value in exact:
            continue
        shown = unicodedata.normalize("NFC", checks.visible_text(placement.value)).strip()
        if not (shown and shown in visible):
            missing.append((placement.sink, placement.labels))
    return missing


def run_case(
    label: str,
    tree: Tree,
    placements: list[Placement],
    baseline: Signatures | None,
    *,
    names: bool = False,
    import_check: bool = True,
    validate: list[Any] | None = None,
) -> Report:
    """Build ``tree``; when it builds, run every check. Never raises: an exception becomes ``error``."""
    report = Report(label)
    started = time.perf_counter()
    try:
        _run_case(report, tree, placements, baseline, names, import_check, validate)
    finally:
        report.seconds = time.perf_counter() - started
    return report


def _run_case(
    report: Report,
    tree: Tree,
    placements: list[Placement],
    baseline: Signatures | None,
    names: bool,
    import_check: bool,
    validate: list[Any] | None,
) -> None:
    with tempfile.TemporaryDirectory(prefix="qcvngen-hostile-") as tmp:
        root = Path(tmp)
        try:
            write_tree(tree, root / "spec")
            result = build(root / "spec")
            report.diagnostics = [str(d) for d in result.diagnostics]
            if not result.ok:
                return
            report.built = True
            report.problems, report.stats, exact, visible = check_files(result.files, baseline, names=names)
            report.absent = absent(placements, exact, visible)
            report.stats["placements"] = len(placements)
            if import_check:
                out = root / "out"
                write(out, result.files)
                (root / "cwd").mkdir()
                facts, error = checks.import_probe(out, root / "cwd", validate)
                if facts is None:
                    report.problems.append(f"import failed: {error}")
                else:
                    report.stats["modules_imported"] = len(facts["imported"])
                    report.problems += [f"import side effect {event}: {args}" for event, args in facts["events"]]
                    report.problems += [f"import warning {w}" for w in facts["warnings"]]
                    report.problems += _round_trip(result.regulation, result.files, facts)
                    report.facts = {"validated": facts.get("validated", []), "models": facts["models"]}
            report.problems += [f"canary created: {c}" for c in checks.canaries(root)]
        except Exception:
            report.error = traceback.format_exc()[-4000:]


DIAGNOSTIC = __import__("re").compile(r"^spec/[^:\n]+:\d+:\d+: ")


@dataclass
class ProbeReport:
    label: str
    refused: list[tuple[str, str]] = field(default_factory=list)  # (sink, payload label)
    accepted: list[tuple[str, str]] = field(default_factory=list)
    diagnostics: int = 0
    malformed: list[str] = field(default_factory=list)  # diagnostics without file:line:col
    error: str = ""


def run_probe(label: str, tree: Tree, placements: list[Placement]) -> ProbeReport:
    """Load (not build) ``tree``; which placed values drew a diagnostic on their own line."""
    from qcvngen.pipeline import load_spec

    report = ProbeReport(label)
    with tempfile.TemporaryDirectory(prefix="qcvngen-probe-") as tmp:
        try:
            lines = write_tree(tree, Path(tmp) / "spec")
            reg, diagnostics = load_spec(Path(tmp) / "spec")
        except Exception:
            report.error = traceback.format_exc()[-4000:]
            return report
    report.diagnostics = len(diagnostics)
    report.malformed = [str(d)[:200] for d in diagnostics if not DIAGNOSTIC.match(str(d))]
    hit = {(d.file, d.line) for d in diagnostics if d.severity.value == "error"}
    for placement in placements:
        line = lines[placement.file][placement.path]
        pair = (placement.sink, placement.labels[0])
        (report.refused if (f"spec/{placement.file}", line) in hit else report.accepted).append(pair)
    if reg is not None and not report.accepted:
        report.error = "load_spec returned an IR although every placed value was refused"
    return report

"""Render a learn report as text, JSON or Markdown: keys, kinds, lengths and counts only."""

from __future__ import annotations

import json
from collections import Counter
from typing import Any

from .. import directions
from .compare import PacketReport, Refusal, Report, UnknownKey, escape_controls

FORMATS = ("text", "json", "markdown")


def as_data(report: Report) -> dict[str, Any]:
    """The report as plain data (the shape of ``--format json``)."""
    return {
        "captures": report.captures,
        "records": report.records,
        "dates": {"from": report.dates[0], "to": report.dates[1]} if report.dates else None,
        "packets": [_packet(p) for p in report.packets],
    }


def _packet(rep: PacketReport) -> dict[str, Any]:
    return {
        "packet": rep.packet,
        "direction": rep.direction,
        "table": rep.table,
        "record": rep.record,
        "captures": rep.captures,
        "records": rep.records,
        "unknown_keys": [_unknown(u, rep.packet) for u in rep.unknown],
        "unseen_fields": list(rep.unseen),
        "new_codes": [{"path": p, "codelist": c, "codes": list(codes)} for p, c, codes in rep.new_codes],
        "contradictions": [{"path": p, "spec_type": k, "problem": why} for p, k, why in rep.contradictions],
        "refusals": [{"error_code": r.error_code, "said": r.said, "count": n} for r, n in _refusals(rep)],
        "refused_records": rep.refused_records,
    }


def _unknown(u: UnknownKey, packet: str) -> dict[str, Any]:
    return {
        "packet": packet,
        "record": u.record,
        "path": u.path,
        "name": u.name,
        "depth": u.depth,
        "records": u.stats.records,
        "captures": u.stats.captures,
        "kind": u.kind,
        "item_kind": u.item_kind,
        "kinds": dict(sorted(u.stats.kinds.items())),
        "max_length": u.stats.max_length,
        "list_length": list(u.stats.list_length) if u.stats.list_length else None,
        "nested": [{"path": p, "kind": k, "records": n} for p, k, n in u.nested],
        "proposed": u.rejected is None,
        "not_proposed_because": u.rejected,
    }


def render(report: Report, fmt: str) -> str:
    """The report in ``fmt`` (one of FORMATS)."""
    if fmt == "json":
        text = json.dumps(as_data(report), ensure_ascii=False, indent=2, sort_keys=True)
        # JSON escapes C0 controls but leaves C1 and line separators raw.
        return "\n".join(escape_controls(part) for part in text.split("\n")) + "\n"
    lines = _markdown(report) if fmt == "markdown" else _text(report)
    # Every line on its own: nothing a capture holds can start a line (no forged "::error::").
    return "\n".join(escape_controls(part) for line in lines for part in line.split("\n")) + "\n"


def _dates(report: Report) -> str:
    return f"{report.dates[0]} to {report.dates[1]}" if report.dates else "undated"


def _shape(u: UnknownKey) -> str:
    parts = [u.kind if u.item_kind is None else f"{u.kind} of {u.item_kind}"]
    if u.stats.max_length is not None:
        parts.append(f"max length {u.stats.max_length}")
    if u.stats.list_length:
        parts.append("list length {}–{}".format(*u.stats.list_length))
    if u.depth > 1:
        parts.append(f"depth {u.depth}")
    return ", ".join(parts)


def _text(report: Report) -> list[str]:
    out = [f"{report.captures} capture(s), {report.records} record(s), {_dates(report)}"]
    for rep in report.packets:
        where = f"Table {rep.table}" if rep.table else "no field table"
        what = directions.CAPTURE[rep.direction].en
        out.append(
            f"\n{rep.packet} ({rep.direction}, {where}): {rep.captures} capture(s) of {what}, {rep.records} record(s)"
        )
        for u in rep.unknown:
            out.append(
                f"  unknown key {u.path} [{_shape(u)}] in {u.stats.records} record(s), {u.stats.captures} capture(s)"
                + (f" — not proposed: {u.rejected}" if u.rejected else "")
            )
            out.extend(f"      {u.path}{p}: {k} in {n} record(s)" for p, k, n in u.nested)
        if rep.unseen:
            out.append("  spec fields never seen: " + ", ".join(rep.unseen))
        for path, codelist, codes in rep.new_codes:
            out.append(f"  codes missing from {codelist} at {path}: " + ", ".join(codes))
        for path, kind, why in rep.contradictions:
            out.append(f"  {path} is {kind} in the spec, but captures show {why}")
        for code, count, named in refusal_summary(rep):
            out.append(
                f"  refused {count} time(s) with error_code {code} (not learned from); keys named: {named or 'none'}"
            )
    return out


def refusal_summary(rep: PacketReport) -> list[tuple[str, int, str]]:
    """Per error_code: how many refusals, and the keys they named with counts (one line each)."""
    codes: dict[str, tuple[int, Counter[str]]] = {}
    for refusal, count in _refusals(rep):
        total, named = codes.get(refusal.error_code, (0, Counter()))
        named.update(dict.fromkeys(refusal.named, count))
        if refusal.message:
            named[refusal.message] += count  # the redacted message of a line written by an earlier version
        codes[refusal.error_code] = (total + count, named)
    return [
        (code, total, ", ".join(f"{key} ({n})" for key, n in sorted(named.items())))
        for code, (total, named) in sorted(codes.items())
    ]


def _refusals(rep: PacketReport) -> list[tuple[Refusal, int]]:
    """The refusals with their counts, by error code and then by what they said."""
    return sorted(rep.refusals.items(), key=lambda item: (item[0].error_code, item[0].said))


def _cell(text: str) -> str:
    return text.replace("\\", "\\\\").replace("|", "\\|").replace("`", "'").replace("\n", " ")


def _markdown(report: Report) -> list[str]:
    out = [f"# What the traffic showed\n\n{report.captures} capture(s), {report.records} record(s), {_dates(report)}."]
    for rep in report.packets:
        where = f"Table {rep.table}" if rep.table else "no field table"
        out.append(f"\n## {_cell(rep.packet)} ({rep.direction}, {where})\n")
        what = directions.CAPTURE[rep.direction].en
        out.append(f"{rep.captures} capture(s) of {what}, {rep.records} record(s).\n")
        if rep.unknown:
            out.append("| Unknown key | Shape | Records | Captures |\n|---|---|---|---|")
            for u in rep.unknown:
                why = f" — not proposed: {u.rejected}" if u.rejected else ""
                out.append(f"| `{_cell(u.path)}` | {_cell(_shape(u) + why)} | {u.stats.records} | {u.stats.captures} |")
                out.extend(f"| `{_cell(u.path + p)}` | {_cell(k)} | {n} | |" for p, k, n in u.nested)
        if rep.unseen:
            out.append("\nSpec fields never seen: " + ", ".join(f"`{_cell(n)}`" for n in rep.unseen))
        for path, codelist, codes in rep.new_codes:
            out.append(
                f"\nCodes missing from `{_cell(codelist)}` at `{_cell(path)}`: "
                + ", ".join(f"`{_cell(c)}`" for c in codes)
            )
        for path, kind, why in rep.contradictions:
            out.append(f"\n`{_cell(path)}` is `{kind}` in the spec, but captures show {_cell(why)}.")
        for code, count, named in refusal_summary(rep):
            out.append(
                f"\nRefused {count} time(s) with error_code `{_cell(code)}` (not learned from); keys named:"
                f" {_cell(named or 'none')}."
            )
    return out

"""A spec diff as a bilingual notice: plain text, Markdown, or JSON for tools."""

from __future__ import annotations

import json

from ..render import md, md_code, one_line
from .model import IMPACT_TEXT, Change, Impact, Scope, Side, SpecDiff

FORMATS = ("text", "json", "markdown")

_VERDICT = {
    True: "Có thay đổi không tương thích: hệ thống gửi dữ liệu cần cập nhật. / "
    "Breaking changes: data submitters must update their systems.",
    False: "Không có thay đổi không tương thích. / No breaking changes.",
}


def render(diff: SpecDiff, fmt: str) -> str:
    """The notice in ``fmt``, one of :data:`FORMATS`."""
    return {"text": render_text, "json": render_json, "markdown": render_markdown}[fmt](diff)


def _grouped(diff: SpecDiff) -> list[tuple[Scope, list[Change]]]:
    groups: dict[Scope, list[Change]] = {}
    for change in diff.changes:
        groups.setdefault(change.scope, []).append(change)
    return list(groups.items())


def _short(value: str | None, limit: int = 100) -> str:
    if value is None:
        return "—"
    return value if len(value) <= limit else value[: limit - 1] + "…"


def _side(side: Side, version: str) -> str:
    rev = f" @ {side.revision[:12]}" if side.revision else ""
    return f"{side.label}{rev} (spec_version {version})"


def _totals(diff: SpecDiff) -> str:
    return " · ".join(f"{vi.capitalize()} / {en.capitalize()}: {diff.count(i)}" for i, (vi, en) in IMPACT_TEXT.items())


def render_text(diff: SpecDiff) -> str:
    """The notice as plain text, one line per change (and one for its old → new values)."""
    lines = [
        f"{diff.regulation} — thông báo thay đổi đặc tả / specification change notice",
        f"Cũ / Old:  {one_line(_side(diff.old, diff.old_version))}",
        f"Mới / New: {one_line(_side(diff.new, diff.new_version))}",
        _totals(diff),
    ]
    for scope, changes in _grouped(diff):
        lines += ["", one_line(f"{scope.vi} / {scope.en}")]
        for c in changes:
            vi, en = IMPACT_TEXT[c.impact]
            lines.append(f"  [{vi} / {en}] {one_line(c.subject)}: {c.label[0]} / {c.label[1]}")
            if c.old is not None or c.new is not None:
                lines.append(f"      {one_line(_short(c.old))} → {one_line(_short(c.new))}")
    if not diff.changes:
        lines += ["", "Không có thay đổi. / No changes."]
    return "\n".join([*lines, "", _VERDICT[diff.breaking]]) + "\n"


def render_markdown(diff: SpecDiff) -> str:
    """The notice as Markdown: one section and table per scope."""
    lines = [
        f"# {md(diff.regulation)} — Thông báo thay đổi đặc tả / Specification change notice",
        "",
        f"* Cũ / Old: {md(_side(diff.old, diff.old_version))}",
        f"* Mới / New: {md(_side(diff.new, diff.new_version))}",
        f"* {_totals(diff)}",
        "",
        f"**{_VERDICT[diff.breaking]}**",
    ]
    for scope, changes in _grouped(diff):
        lines += ["", f"## {md(scope.vi)} / {md(scope.en)}", ""]
        lines += [
            "| Trường / Field | Thay đổi / Change | Cũ / Old | Mới / New | Mức / Class |",
            "|---|---|---|---|---|",
        ]
        for c in changes:
            vi, en = IMPACT_TEXT[c.impact]
            mark = f"**{vi} / {en}**" if c.impact is Impact.BREAKING else f"{vi} / {en}"
            lines.append(
                f"| {md_code(c.subject)} | {c.label[0]} / {c.label[1]} | {md(_short(c.old))} | {md(_short(c.new))}"
                f" | {mark} |"
            )
    return "\n".join(lines) + "\n"


def _json_side(s: Side, version: str) -> dict[str, str | None]:
    return {"source": s.label, "revision": s.revision, "spec_version": version}


def _json_change(c: Change) -> dict[str, object]:
    return {
        "group": {"vi": c.scope.vi, "en": c.scope.en},
        "packet": c.scope.packet,
        "table": c.table,
        "subject": c.subject,
        "kind": c.kind,
        "class": c.impact.value,
        "old": c.old,
        "new": c.new,
        "vi": c.label[0],
        "en": c.label[1],
    }


def render_json(diff: SpecDiff) -> str:
    """The notice as JSON: sides, verdict, counts per impact and every change."""
    data = {
        "regulation": diff.regulation,
        "old": _json_side(diff.old, diff.old_version),
        "new": _json_side(diff.new, diff.new_version),
        "breaking": diff.breaking,
        "summary": {i.value: diff.count(i) for i in Impact},
        "changes": [_json_change(c) for c in diff.changes],
    }
    return json.dumps(data, ensure_ascii=False, indent=2, sort_keys=True) + "\n"

"""Where hostile values go: the DSL's string-bearing positions, a benign skeleton, and the build plan.

The *skeleton* is the real spec with every optional text filled in and a few containers grown
(extra sources, headers, errors, endpoints, gaps, two code lists), all with benign values. Every
hostile build is the skeleton with hostile values in some positions, so its output must have the
benign skeleton build's shape exactly. Payloads are spread over ``BUILDS`` builds so that every
payload lands in every text position once; a position with fewer places than payloads per build
gets several payloads joined in one value.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from .specio import PathKey, Sink, Tree, get, match

BUILDS = 8
EXTRA = 24  # instances added to growable containers
JOIN = " · "
FIELD_LISTS = {
    "tables/*.yaml": (("fields", "*"), ("records", "*", "fields", "*")),
    "envelope.yaml": (
        ("login", "*", "*"),
        ("request", "*"),
        ("response", "*"),
        ("service_params", "*", "*"),
        ("local_services", "*", "params", "*"),
    ),
}
_ADDED = "Hostile"  # prefix of everything the skeleton adds


def _added(tree: Tree, rel: str, path: PathKey, key: str = "name") -> bool:
    """The instance sits in an entry the skeleton added (nothing refers to it)."""
    for cut in range(len(path), 0, -1):
        entry = get(tree[rel], path[:cut])
        value = entry.get(key) if isinstance(entry, dict) else None
        if isinstance(value, dict):  # a bilingual text (notes): its English says whether it was added
            value = value.get("en")
        if isinstance(value, str):
            return value.startswith((_ADDED, _ADDED.lower()))
    return False


def _example_ok(tree: Tree, rel: str, path: PathKey) -> bool:
    spec = get(tree[rel], path[:-1])
    return spec.get("type") in ("string", "id") and "max_length" not in spec


def _field_sinks(prefix: str, files: str, lists: tuple[PathKey, ...]) -> list[Sink]:
    def each(*tail: str | int) -> tuple[PathKey, ...]:
        return tuple(base + tuple(tail) for base in lists)

    return [
        Sink(f"{prefix}.title.vi", files, each("title", "vi")),
        Sink(f"{prefix}.title.en", files, each("title", "en")),
        Sink(f"{prefix}.notes.vi", files, each("notes", "vi")),
        Sink(f"{prefix}.notes.en", files, each("notes", "en")),
        Sink(f"{prefix}.example", files, each("example"), where=_example_ok),
    ]


TEXT_SINKS: list[Sink] = [
    *(
        Sink(f"regulation.{'.'.join(p)}", "regulation.yaml", (p,))
        for p in (
            ("id",),
            ("title", "vi"),
            ("title", "en"),
            ("circular",),
            ("issued",),
            ("effective",),
            ("issuer", "vi"),
            ("issuer", "en"),
            ("spec_version",),
            ("timezone",),
            ("datetime_format",),
            ("notes", "vi"),
            ("notes", "en"),
        )
    ),
    Sink("source.title", "sources.yaml", (("sources", "*", "title"),)),
    Sink("source.reference", "sources.yaml", (("sources", "*", "reference"),)),
    Sink("source.gives", "sources.yaml", (("sources", "*", "gives"),)),
    Sink("group.title.vi", "packets.yaml", (("groups", "*", "title", "vi"),)),
    Sink("group.title.en", "packets.yaml", (("groups", "*", "title", "en"),)),
    Sink("group.number", "packets.yaml", (("groups", "*", "number"),), where=lambda t, r, p: _added(t, r, p, "number")),
    Sink("section.title.vi", "packets.yaml", (("groups", "*", "sections", "*", "title", "vi"),)),
    Sink("section.title.en", "packets.yaml", (("groups", "*", "sections", "*", "title", "en"),)),
    Sink("packet.purpose.vi", "packets.yaml", (("packets", "*", "purpose", "vi"),)),
    Sink("packet.purpose.en", "packets.yaml", (("packets", "*", "purpose", "en"),)),
    Sink("packet.notes.vi", "packets.yaml", (("packets", "*", "notes", "vi"),)),
    Sink("packet.notes.en", "packets.yaml", (("packets", "*", "notes", "en"),)),
    Sink("packet.declared", "packets.yaml", (("packets", "*", "declared"),)),
    Sink("packet.number", "packets.yaml", (("packets", "*", "number"),)),
    Sink("endpoint.title.vi", "envelope.yaml", (("endpoints", "*", "title", "vi"),)),
    Sink("endpoint.title.en", "envelope.yaml", (("endpoints", "*", "title", "en"),)),
    Sink("endpoint.notes.vi", "envelope.yaml", (("endpoints", "*", "notes", "vi"),)),
    Sink("endpoint.notes.en", "envelope.yaml", (("endpoints", "*", "notes", "en"),)),
    Sink("header.description.vi", "envelope.yaml", (("headers", "*", "description", "vi"),)),
    Sink("header.description.en", "envelope.yaml", (("headers", "*", "description", "en"),)),
    Sink("error.code", "envelope.yaml", (("errors", "*", "code"),), where=lambda t, r, p: _added(t, r, p, "notes")),
    Sink("error.title.vi", "envelope.yaml", (("errors", "*", "title", "vi"),)),
    Sink("error.title.en", "envelope.yaml", (("errors", "*", "title", "en"),)),
    Sink("error.notes.vi", "envelope.yaml", (("errors", "*", "notes", "vi"),)),
    Sink("error.notes.en", "envelope.yaml", (("errors", "*", "notes", "en"),)),
    Sink("envelope.notes.vi", "envelope.yaml", (("notes", "vi"),)),
    Sink("envelope.notes.en", "envelope.yaml", (("notes", "en"),)),
    Sink("local_service.title.vi", "envelope.yaml", (("local_services", "*", "title", "vi"),)),
    Sink("local_service.title.en", "envelope.yaml", (("local_services", "*", "title", "en"),)),
    Sink("local_service.notes.vi", "envelope.yaml", (("local_services", "*", "notes", "vi"),)),
    Sink("local_service.notes.en", "envelope.yaml", (("local_services", "*", "notes", "en"),)),
    Sink("codelist.title.vi", "codelists.yaml", (("codelists", "*", "title", "vi"),)),
    Sink("codelist.title.en", "codelists.yaml", (("codelists", "*", "title", "en"),)),
    Sink("codelist.notes.vi", "codelists.yaml", (("codelists", "*", "notes", "vi"),)),
    Sink("codelist.notes.en", "codelists.yaml", (("codelists", "*", "notes", "en"),)),
    Sink("code.code", "codelists.yaml", (("codelists", "*", "codes", "*", "code"),), where=_added),
    Sink("code.title.vi", "codelists.yaml", (("codelists", "*", "codes", "*", "title", "vi"),)),
    Sink("code.title.en", "codelists.yaml", (("codelists", "*", "codes", "*", "title", "en"),)),
    Sink("code.notes.vi", "codelists.yaml", (("codelists", "*", "codes", "*", "notes", "vi"),)),
    Sink("code.notes.en", "codelists.yaml", (("codelists", "*", "codes", "*", "notes", "en"),)),
    Sink("table.title.vi", "tables/*.yaml", (("title", "vi"),)),
    Sink("table.title.en", "tables/*.yaml", (("title", "en"),)),
    Sink("table.notes.vi", "tables/*.yaml", (("notes", "vi"),)),
    Sink("table.notes.en", "tables/*.yaml", (("notes", "en"),)),
    Sink("gap.title.vi", "tables/*.yaml", (("gaps", "*", "title", "vi"),)),
    Sink("gap.title.en", "tables/*.yaml", (("gaps", "*", "title", "en"),)),
    Sink("gap.notes.vi", "tables/*.yaml", (("gaps", "*", "notes", "vi"),)),
    Sink("gap.notes.en", "tables/*.yaml", (("gaps", "*", "notes", "en"),)),
    Sink("record.title.vi", "tables/*.yaml", (("records", "*", "title", "vi"),)),
    Sink("record.title.en", "tables/*.yaml", (("records", "*", "title", "en"),)),
    # The skeleton's own record is referenced by no packet, so the docs (rightly) have no page for it.
    Sink(
        "record.notes.vi",
        "tables/*.yaml",
        (("records", "*", "notes", "vi"),),
        where=lambda t, r, p: not _added(t, r, p),
    ),
    Sink(
        "record.notes.en",
        "tables/*.yaml",
        (("records", "*", "notes", "en"),),
        where=lambda t, r, p: not _added(t, r, p),
    ),
    *_field_sinks("field", "tables/*.yaml", (("fields", "*"),)),
    *_field_sinks("record_field", "tables/*.yaml", (("records", "*", "fields", "*"),)),
    *_field_sinks("envelope_field", "envelope.yaml", FIELD_LISTS["envelope.yaml"][:3]),
    *_field_sinks("service_param", "envelope.yaml", FIELD_LISTS["envelope.yaml"][3:]),
]

# Names and references: a hostile value must be refused with a diagnostic at its line. `rename`
# says how an accepted value is given a real build (None: it can only be refused).
NAME_SINKS: list[Sink] = [
    Sink(
        "field.name", "tables/*.yaml", (("fields", "*", "name"), ("records", "*", "fields", "*", "name")), role="name"
    ),
    Sink("record.name", "tables/*.yaml", (("records", "*", "name"),), role="name"),
    Sink("codelist.name", "codelists.yaml", (("codelists", "*", "name"),), role="name"),
    Sink("packet.name", "packets.yaml", (("packets", "*", "name"),), role="name"),
    Sink("source.id", "sources.yaml", (("sources", "*", "id"),), role="name"),
    Sink("endpoint.name", "envelope.yaml", (("endpoints", "*", "name"),), role="name"),
    Sink("endpoint.path", "envelope.yaml", (("endpoints", "*", "path"),), role="name"),
    Sink("local_service.name", "envelope.yaml", (("local_services", "*", "name"),), role="name"),
    # An HTTP header token (the DSL refuses anything else, so no CR/LF can reach a request).
    Sink("header.name", "envelope.yaml", (("headers", "*", "name"),), role="name"),
    Sink("local_service.path", "envelope.yaml", (("local_services", "*", "path"),), role="name"),
    Sink("ref.table.packet", "tables/*.yaml", (("packet",),), role="ref"),
    Sink(
        "ref.field.codelist",
        "*.yaml",
        tuple((*base, "codelist") for lists in FIELD_LISTS.values() for base in lists),
        role="ref",
    ),
    Sink(
        "ref.field.record",
        "*.yaml",
        tuple((*base, "record") for lists in FIELD_LISTS.values() for base in lists),
        role="ref",
    ),
    Sink(
        "ref.field.of",
        "*.yaml",
        tuple((*base, "of") for lists in FIELD_LISTS.values() for base in lists),
        role="ref",
        where=lambda t, r, p: get(t[r], p) not in ("string", "any"),
    ),
    Sink(
        "ref.field.sources",
        "*.yaml",
        tuple((*base, "sources", "*") for lists in FIELD_LISTS.values() for base in lists),
        role="ref",
    ),
    Sink("ref.packet.group", "packets.yaml", (("packets", "*", "group"),), role="ref"),
    Sink("ref.packet.section", "packets.yaml", (("packets", "*", "section"),), role="ref"),
    Sink("ref.packet.endpoint", "packets.yaml", (("packets", "*", "endpoint"),), role="ref"),
    Sink("ref.local_service.result_record", "envelope.yaml", (("local_services", "*", "result_record"),), role="ref"),
]

# Keys of the DSL whose values are closed words (enums, booleans as text): not text positions.
CLOSED_WORDS = {"type", "membership", "confidence", "kind", "direction", "part"}


# -- the skeleton ------------------------------------------------------------------------------------


def _benign(n: int, what: str) -> str:
    return f"Benign {what} {n}"


def _note(n: int, what: str) -> dict[str, str]:
    """A benign bilingual note (notes are ``{vi, en}`` like titles)."""
    return {"vi": _benign(n, f"ghi chú {what}"), "en": _benign(n, f"{what} note")}


def _fill_field(spec: dict[str, Any], n: int) -> None:
    spec.setdefault("notes", _note(n, "field"))
    if spec.get("type") in ("string", "id") and "max_length" not in spec:
        spec.setdefault("example", f"benign-example-{n}")


def skeleton(original: Tree) -> Tree:
    """The spec with every optional text present and growable containers grown, all benign."""
    tree = copy.deepcopy(original)
    n = iter(range(1, 1_000_000))
    reg = tree["regulation.yaml"]
    reg.setdefault("notes", {"vi": _benign(next(n), "ghi chú"), "en": _benign(next(n), "note")})

    sources = tree["sources.yaml"]["sources"]
    sources += [
        {
            "id": f"S{900 + i}",
            "title": _benign(next(n), "source"),
            "kind": "inference",
            "reference": _benign(next(n), "reference"),
            "gives": _benign(next(n), "gives"),
        }
        for i in range(EXTRA)
    ]

    packets = tree["packets.yaml"]
    packets["groups"] += [
        {"number": f"{_ADDED}{i}", "title": {"vi": _benign(next(n), "nhóm"), "en": _benign(next(n), "group")}}
        for i in range(EXTRA)
    ]
    for packet in packets["packets"]:
        packet.setdefault("notes", _note(next(n), "packet"))
    declared = {t["table"]: t["declared"] for p in packets["packets"] for t in p["tables"]}

    env = tree["envelope.yaml"]
    env.setdefault("notes", _note(next(n), "envelope"))
    for endpoint in env["endpoints"]:
        endpoint.setdefault("notes", _note(next(n), "endpoint"))
    env["endpoints"] += [
        {
            "name": f"{_ADDED.lower()}_{i}",
            "path": f"/{_ADDED.lower()}{i}",
            "title": {"vi": _benign(next(n), "điểm cuối"), "en": _benign(next(n), "endpoint")},
            "notes": _note(next(n), "endpoint"),
        }
        for i in range(EXTRA)
    ]
    env["headers"] += [
        {
            "name": f"{_ADDED}-{i}",
            "required": False,
            "description": {"vi": _benign(next(n), "mô tả"), "en": _benign(next(n), "description")},
            "sources": ["S1"],
        }
        for i in range(EXTRA)
    ]
    for error in env.get("errors", []):
        error.setdefault("notes", _note(next(n), "error"))
    env.setdefault("errors", []).extend(
        {
            "code": f"E{i}",
            "title": {"vi": _benign(next(n), "lỗi"), "en": _benign(next(n), "error")},
            "sources": ["S1"],
            "notes": {
                "vi": f"{_ADDED} {_benign(next(n), 'ghi chú lỗi')}",
                "en": f"{_ADDED} {_benign(next(n), 'error note')}",
            },
        }
        for i in range(EXTRA)
    )
    for service in env.get("local_services", []):
        service.setdefault("notes", _note(next(n), "service"))

    lists = tree["codelists.yaml"]["codelists"]
    for closed in (True, False):
        lists.append(
            {
                "name": f"{_ADDED}{'Closed' if closed else 'Open'}",
                "title": {"vi": _benign(next(n), "danh mục"), "en": _benign(next(n), "list")},
                "closed": closed,
                "sources": ["S1"],
                "confidence": "low",
                "notes": _note(next(n), "list"),
                "codes": [
                    {
                        "code": f"{_ADDED.lower()}{i}",
                        "title": {"vi": _benign(next(n), "mã"), "en": _benign(next(n), "code")},
                    }
                    for i in range(EXTRA)
                ],
            }
        )
    for codelist in lists:
        codelist.setdefault("notes", _note(next(n), "list"))
        for code in codelist["codes"]:
            code.setdefault("notes", _note(next(n), "code"))

    for pattern_file, bases in FIELD_LISTS.items():
        for rel in sorted(tree):
            if not (rel == pattern_file or (pattern_file.startswith("tables/") and rel.startswith("tables/"))):
                continue
            for base in bases:
                for path in match(tree[rel], base):
                    _fill_field(get(tree[rel], path), next(n))

    # One record nothing refers to: a record name can be changed without touching anything else.
    tree["tables/t02-dong-bo-ho-so-mc.yaml"].setdefault("records", []).append(
        {
            "name": f"{_ADDED}Record",
            "title": {"vi": _benign(next(n), "bản ghi"), "en": _benign(next(n), "record")},
            "notes": _note(next(n), "record"),
            "fields": [
                {
                    "name": "HostileField",
                    "title": {"vi": _benign(next(n), "trường"), "en": _benign(next(n), "field")},
                    "type": "string",
                    "required": False,
                    "membership": "hypothesis",
                    "sources": ["S1"],
                    "confidence": "low",
                    "notes": _note(next(n), "field"),
                    "example": "benign-example",
                },
                {
                    "name": "HostileLink",
                    "title": {"vi": _benign(next(n), "trường"), "en": _benign(next(n), "field")},
                    "type": "record",
                    "record": "TaiLieuNop",
                    "required": False,
                    "membership": "hypothesis",
                    "sources": ["S1"],
                    "confidence": "low",
                    "notes": _note(next(n), "field"),
                },
            ],
        }
    )
    for rel in sorted(r for r in tree if r.startswith("tables/")):
        table = tree[rel]
        table.setdefault("notes", _note(next(n), "table"))
        for record in table.get("records", []):
            record.setdefault("notes", _note(next(n), "record"))
        gaps = table.setdefault("gaps", [])
        for gap in gaps:
            gap.setdefault("notes", _note(next(n), "gap"))
        taken = {f["row"] for f in table["fields"] if "row" in f} | {g["row"] for g in gaps}
        free = [row for row in range(1, declared.get(table["table"], 0) + 1) if row not in taken][:4]
        gaps += [
            {
                "row": row,
                "title": {"vi": _benign(next(n), "dòng"), "en": _benign(next(n), "row")},
                "sources": ["S1"],
                "notes": _note(next(n), "gap"),
            }
            for row in free
        ]
        if not gaps:
            del table["gaps"]
    return tree


# -- the plan ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Placement:
    sink: str
    file: str
    path: PathKey
    labels: tuple[str, ...]  # payloads joined in this value
    value: str


@dataclass
class Plan:
    builds: list[list[Placement]] = field(default_factory=list)
    pairs: set[tuple[str, str]] = field(default_factory=set)  # (sink, payload label) tried


def spread(
    sinks: list[Sink],
    tree: Tree,
    payloads: list[tuple[str, str]],
    builds: int = BUILDS,
    skip: frozenset[tuple[str, str]] = frozenset(),
) -> Plan:
    """Every payload into every sink once, over ``builds`` builds."""
    plan = Plan(builds=[[] for _ in range(builds)])
    for number, sink in enumerate(sinks):
        instances = sink.instances(tree)
        assert instances, f"sink {sink.name} has no place in the skeleton"
        usable = [p for p in payloads if (sink.name, p[0]) not in skip]
        for b in range(builds):
            # Payload i goes to build (i + number) % builds: each build mixes different payloads in
            # each sink, so the long ones spread over all builds instead of piling up in one.
            share = usable[(b - number) % builds :: builds]
            turn = number % max(len(share), 1)
            share = share[turn:] + share[:turn]  # vary which payload leads a joined value
            width = min(len(instances), len(share))
            for j in range(width):
                chunk = share[j::width]
                rel, path = instances[j]
                plan.builds[b].append(
                    Placement(
                        sink.name, rel, path, tuple(label for label, _ in chunk), JOIN.join(text for _, text in chunk)
                    )
                )
                plan.pairs.update((sink.name, label) for label, _ in chunk)
    return plan


def apply(tree: Tree, placements: list[Placement]) -> Tree:
    out = copy.deepcopy(tree)
    for placement in placements:
        holder = get(out[placement.file], placement.path[:-1])
        holder[placement.path[-1]] = placement.value
    return out


# -- names: probes and renames -------------------------------------------------------------------


def _renamed(prefix: str, key: str = "name") -> Callable[[dict[str, Any], int], None]:
    def fix(entry: dict[str, Any], index: int) -> None:
        entry[key] = f"{prefix}{index}"
        entry.pop("row", None)

    return fix


# How a copied entry is kept from tripping a duplicate check that would skip the probed value.
PROBE_FIXUPS: dict[str, Callable[[dict[str, Any], int], None]] = {
    "ref.field.codelist": _renamed("ProbeField"),
    "ref.field.record": _renamed("ProbeField"),
    "ref.field.of": _renamed("ProbeField"),
    "ref.packet.group": _renamed("ProbePacket"),
    "ref.packet.section": _renamed("ProbePacket"),
    "ref.packet.endpoint": _renamed("ProbePacket"),
    "ref.local_service.result_record": _renamed("ProbeService"),
}
NO_GROWTH = {"ref.table.packet"}  # one per table file: probed in rounds


def probe_trees(sink: Sink, tree: Tree, payloads: list[tuple[str, str]]) -> list[tuple[Tree, list[Placement]]]:
    """Specs that hold every payload in ``sink``: the sink's container grown to fit, or rounds."""
    instances = sink.instances(tree)
    out: list[tuple[Tree, list[Placement]]] = []
    if len(instances) < len(payloads) and sink.name not in NO_GROWTH:
        grown = copy.deepcopy(tree)
        rel, path = instances[0]
        cut = max(i for i, part in enumerate(path) if isinstance(part, int))
        container = get(grown[rel], path[:cut])
        fix = PROBE_FIXUPS.get(sink.name)
        present = [i for i in instances if i[0] == rel and i[1][:cut] == path[:cut]]
        for index in range(len(payloads) - len(present)):
            entry = copy.deepcopy(get(tree[rel], path[: cut + 1]))
            if fix is not None:
                fix(entry, index)
            container.append(entry)
        instances = [i for i in sink.instances(grown) if i[0] == rel and i[1][:cut] == path[:cut]]
        tree = grown
    for start in range(0, len(payloads), len(instances)):
        chunk = payloads[start : start + len(instances)]
        placements = [
            Placement(sink.name, rel, path, (label,), text)
            for (rel, path), (label, text) in zip(instances, chunk, strict=False)  # the last chunk may be shorter
        ]
        out.append((apply(tree, placements), placements))
    return out


def rename(tree: Tree, sink: str, value: str) -> Tree | None:
    """``tree`` with one name of kind ``sink`` changed to ``value`` consistently, or None if it
    cannot be changed without breaking a reference (such a value must be refused)."""
    out = copy.deepcopy(tree)
    if sink == "field.name":
        out["tables/t02-dong-bo-ho-so-mc.yaml"]["records"][-1]["fields"][0]["name"] = value
    elif sink == "record.name":
        out["tables/t02-dong-bo-ho-so-mc.yaml"]["records"][-1]["name"] = value
    elif sink == "codelist.name":
        next(c for c in out["codelists.yaml"]["codelists"] if c["name"] == f"{_ADDED}Closed")["name"] = value
    elif sink == "source.id":
        next(s for s in out["sources.yaml"]["sources"] if s["id"] == "S900")["id"] = value
    elif sink in ("endpoint.name", "endpoint.path"):
        endpoint = next(e for e in out["envelope.yaml"]["endpoints"] if e["name"] == f"{_ADDED.lower()}_0")
        endpoint[sink.split(".")[1]] = value
    elif sink in ("local_service.name", "local_service.path") and out["envelope.yaml"].get("local_services"):
        out["envelope.yaml"]["local_services"][0][sink.split(".")[1]] = value
    elif sink == "header.name":
        next(h for h in out["envelope.yaml"]["headers"] if h["name"] == f"{_ADDED}-0")["name"] = value
    elif sink == "packet.name":
        old = out["packets.yaml"]["packets"][0]["name"]
        out["packets.yaml"]["packets"][0]["name"] = value
        for rel, data in out.items():
            if rel.startswith("tables/") and data.get("packet") == old:
                data["packet"] = value
        params = out["envelope.yaml"].get("service_params", {})
        if old in params:
            out["envelope.yaml"]["service_params"] = {(value if k == old else k): v for k, v in params.items()}
    else:
        return None
    return out

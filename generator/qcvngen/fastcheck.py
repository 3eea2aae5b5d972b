"""A no-op ``qcvngen check`` without building: standard library only, so it starts in milliseconds.

After a build (or a full check) the CLI records a digest of everything the output depends on — the
spec, the templates, the generator's own source and the versions of the tools that shape the
output — together with the digest of every output file. When nothing of that has changed, the
output folder is proven fresh by re-hashing it; anything else falls back to a full build. The build
is deterministic (tests prove it), which is what makes the shortcut sound.

The record lives in the per-user cache folder (:mod:`qcvngen.usercache`), never in the working
folder, where a change under review could plant one. It is named by, and holds, the resolved spec,
templates and output folders it was made for, so one project's record never answers for another's.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import re
import sys
from pathlib import Path, PurePosixPath

# Both standard library only, like this module.
from . import usercache
from .safefs import SPEC_FILE_LIMIT, TOOL_CACHES, UnsafeFileError, hash_file, regular_files

CHECK_FOLDER = "check"  # under the per-user cache root
TOOLS = ("black", "ruff", "datamodel-code-generator", "pydantic", "jinja2", "PyYAML")
_PACKAGE = Path(__file__).resolve().parent
_DIST_INFO = re.compile(r"(?P<name>[^-]+)-(?P<version>[^-]+)\.dist-info")


def _files_under(root: Path, suffixes: tuple[str, ...] | None = None) -> list[PurePosixPath]:
    """Regular files under ``root``; a link, FIFO or device anywhere raises (see :mod:`qcvngen.safefs`)."""
    found = regular_files(root, skip_dirs=TOOL_CACHES)
    return [path for path in found if suffixes is None or path.name.endswith(suffixes)]


def inputs_before_build(spec_dir: Path, templates_dir: Path) -> str | None:
    """:func:`input_digest` for :func:`record`, taken before a build; None when it cannot be taken."""
    try:
        return input_digest(spec_dir, templates_dir)
    except (OSError, UnsafeFileError):
        return None


def input_digest(spec_dir: Path, templates_dir: Path) -> str:
    """One digest of everything the output depends on; raises ``UnsafeFileError`` on anything odd."""
    digest = hashlib.sha256()
    roots = (("spec", spec_dir, None), ("templates", templates_dir, None), ("generator", _PACKAGE, (".py",)))
    for label, root, suffixes in roots:
        # A spec file over the loader's limit is refused by a build: never hash it.
        limit = SPEC_FILE_LIMIT if label == "spec" else None
        for path in _files_under(root, suffixes):
            digest.update(f"{label}/{path.as_posix()}\0".encode())
            digest.update(hash_file(root, path, limit=limit).encode())
    for tool, version in tool_versions().items():
        digest.update(f"{tool}={version}\0".encode())
    return digest.hexdigest()


def _normalised(name: str) -> str:
    return re.sub(r"[-_.]+", "_", name).lower()


def tool_versions() -> dict[str, str]:
    """The installed version of each of :data:`TOOLS` (``none`` when absent), read from the names
    of the ``*.dist-info`` folders on ``sys.path``, as ``importlib.metadata`` finds them (first
    entry wins) but without importing it: that import was half of a no-op check."""
    wanted = {_normalised(tool): tool for tool in TOOLS}
    found: dict[str, str] = {}
    for entry in sys.path:
        try:
            names = os.listdir(entry or ".")
        except OSError:
            continue
        for name in names:
            matched = _DIST_INFO.fullmatch(name)
            if matched and _normalised(matched["name"]) in wanted:
                found.setdefault(wanted[_normalised(matched["name"])], matched["version"])
    if len(found) < len(TOOLS):  # installed some other way (an egg, a zip): ask importlib.metadata
        from importlib import metadata

        for tool in TOOLS:
            if tool not in found:
                try:
                    found[tool] = metadata.version(tool)
                except metadata.PackageNotFoundError:
                    found[tool] = "none"
    return {tool: found[tool] for tool in TOOLS}


def output_digests(out_dir: Path) -> dict[str, str]:
    """The digest of every output file, read in chunks (``.pyc`` and tool caches left out)."""
    return {
        path.as_posix(): hash_file(out_dir, path) for path in _files_under(out_dir) if not path.name.endswith(".pyc")
    }


def project_of(spec_dir: Path, templates_dir: Path, out_dir: Path) -> dict[str, str]:
    """The folders a record is for, resolved: the same spec or output reached by another name is
    the same project, and another working folder is another project."""
    return {"spec": str(spec_dir.resolve()), "templates": str(templates_dir.resolve()), "out": str(out_dir.resolve())}


def manifest_path(folder: Path, project: dict[str, str]) -> Path:
    key = hashlib.sha256(json.dumps(project, sort_keys=True).encode()).hexdigest()
    return folder / f"check-{key}.json"


def record(spec_dir: Path, templates_dir: Path, out_dir: Path, inputs: str | None = None) -> None:
    """Remember that ``out_dir`` is a fresh build of these inputs (best effort: a cache only).

    ``inputs``: their :func:`input_digest` taken *before* the build read them (a file saved while
    it ran must not be recorded as built); None digests them now, for a caller that knows nothing
    changed since."""
    folder = usercache.folder(CHECK_FOLDER)
    if folder is None:
        return
    project = project_of(spec_dir, templates_dir, out_dir)
    target = manifest_path(folder, project)
    scratch = folder / f".{target.name}.{os.getpid()}.tmp"
    try:
        manifest = {
            "project": project,
            "inputs": inputs or input_digest(spec_dir, templates_dir),
            "files": output_digests(out_dir),
        }
        flags = os.O_WRONLY | os.O_CREAT | os.O_TRUNC | getattr(os, "O_NOFOLLOW", 0)
        with os.fdopen(os.open(scratch, flags, 0o600), "w", encoding="utf-8") as stream:
            stream.write(json.dumps(manifest, sort_keys=True))
        os.replace(scratch, target)  # whole or not at all; replaces a link itself, never writes through it
    except (OSError, UnsafeFileError):
        with contextlib.suppress(OSError):
            scratch.unlink()


def is_fresh(spec_dir: Path, templates_dir: Path, out_dir: Path) -> bool:
    """True only when the recorded inputs and outputs both still match; False means "build to know"."""
    folder = usercache.folder(CHECK_FOLDER)
    if folder is None:
        return False
    try:
        project = project_of(spec_dir, templates_dir, out_dir)
        handle = os.open(manifest_path(folder, project), os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0))
        with os.fdopen(handle, encoding="utf-8") as stream:
            manifest = json.loads(stream.read())
        if not isinstance(manifest, dict) or manifest.get("project") != project:
            return False
        if manifest.get("inputs") != input_digest(spec_dir, templates_dir):
            return False
        # A link, FIFO or device in the output, or a missing marker, sends `check` to the full path,
        # which reports it: this shortcut only ever answers "fresh".
        return bool(manifest.get("files") == output_digests(out_dir))
    except (OSError, ValueError, UnsafeFileError):
        return False

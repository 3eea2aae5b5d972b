"""Output and spec folders: qcvngen replaces only what it made and follows nothing out of them.

Every case uses real files in tmp_path. Commands that could hang on a FIFO run in a subprocess whose
timeout is only a safety net: the assertions are on the exit code and the message.
"""

from __future__ import annotations

import os
import stat
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path, PurePosixPath

import pytest
from typer.testing import CliRunner

from qcvngen import safefs
from qcvngen.cli import app
from qcvngen.fastcheck import is_fresh, record
from qcvngen.loader import MAX_FILE_BYTES, load_file
from qcvngen.resources import templates_dir
from qcvngen.writer import OUTPUT_MARKER, OUTPUT_MARKER_TEXT, STAGING_MARKER, OutputError, claim, compare, write
from support.paths import ROOT, SPEC, copy_spec

SAFETY_NET = 300  # seconds; a hang fails the test instead of the whole run, nothing asserts on time
SPARSE = 200 * 1024 * 1024
SMALL = {PurePosixPath("a.txt"): "a\n", PurePosixPath("sub/b.txt"): "b\n"}


def qcvngen(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "qcvngen.cli", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=SAFETY_NET,
        check=False,
    )


def snapshot(root: Path) -> dict[str, bytes | str]:
    """Every entry under ``root`` with its bytes (files) or its kind (anything else), links not followed."""
    found: dict[str, bytes | str] = {}
    for path in sorted(root.rglob("*")):
        mode = path.lstat().st_mode
        found[path.relative_to(root).as_posix()] = path.read_bytes() if stat.S_ISREG(mode) else safefs.describe(mode)
    return found


def user_folder(root: Path) -> Path:
    (root / "src").mkdir(parents=True)
    (root / "notes.txt").write_text("important\n", encoding="utf-8")
    (root / "src" / "main.py").write_text("print('mine')\n", encoding="utf-8")
    return root


def dead_pid() -> int:
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    return child.pid


# -- a folder qcvngen did not make ----------------------------------------------------------------


@pytest.mark.parametrize("command", ["build", "check"])
def test_a_folder_of_user_files_is_refused_and_left_as_it_was(tmp_path: Path, command: str) -> None:
    out = user_folder(tmp_path / "p")
    before = snapshot(tmp_path)
    result = CliRunner().invoke(app, [command, "--spec", str(SPEC), "--out", str(out)])
    assert result.exit_code == 2, result.output
    assert f"output folder {out} holds 2 entries but no .qcvngen-output marker" in result.output
    assert "Traceback" not in result.output
    assert snapshot(tmp_path) == before  # nothing touched, no staging folder beside it either


def test_an_empty_or_absent_folder_is_fine_and_gets_the_marker(tmp_path: Path) -> None:
    (tmp_path / "empty").mkdir()
    for name in ("empty", "absent/deeper"):
        write(tmp_path / name, SMALL)
        assert (tmp_path / name / OUTPUT_MARKER).read_text(encoding="utf-8") == OUTPUT_MARKER_TEXT
    # The marker is an output file like any other: `check` reports it missing.
    (tmp_path / "empty" / OUTPUT_MARKER).write_text("edited\n", encoding="utf-8")
    assert compare(tmp_path / "empty", SMALL).changed == [OUTPUT_MARKER]


def test_the_current_folder_and_a_repository_root_are_refused_even_with_a_marker(tmp_path: Path) -> None:
    here = tmp_path / "work"
    here.mkdir()
    (here / OUTPUT_MARKER).write_text(OUTPUT_MARKER_TEXT, encoding="utf-8")
    refused = qcvngen("build", "--spec", str(SPEC), "--out", str(here), cwd=here)
    assert refused.returncode == 2 and "is the current folder" in refused.stderr, refused.stderr
    parent = qcvngen("build", "--spec", str(SPEC), "--out", "..", cwd=here)
    assert parent.returncode == 2 and "holds the current folder" in parent.stderr, parent.stderr
    repo = tmp_path / "repo"
    (repo / ".git").mkdir(parents=True)
    (repo / OUTPUT_MARKER).write_text(OUTPUT_MARKER_TEXT, encoding="utf-8")
    with pytest.raises(OutputError, match=r"root of a repository \(it holds \.git\)"):
        write(repo, SMALL)
    assert sorted(p.name for p in repo.iterdir()) == [".git", OUTPUT_MARKER.name]


def test_the_committed_generated_folder_carries_the_marker() -> None:
    assert (ROOT / "generated" / OUTPUT_MARKER).read_text(encoding="utf-8") == OUTPUT_MARKER_TEXT
    claim(ROOT / "generated")  # raises if the repository's own output would be refused


# -- staging folders ------------------------------------------------------------------------------


def test_only_marked_staging_folders_of_dead_processes_are_cleaned_up(tmp_path: Path) -> None:
    gone = dead_pid()
    backup = tmp_path / ".gen.bak-2024-05"
    backup.mkdir()
    (backup / "old.txt").write_text("my backup\n", encoding="utf-8")
    lookalike = tmp_path / f".gen.new-{gone}-mine"  # our name, but no marker: not ours
    lookalike.mkdir()
    (lookalike / "data.txt").write_text("keep\n", encoding="utf-8")
    abandoned = tmp_path / f".gen.new-{gone}-abc"
    (abandoned / "tree").mkdir(parents=True)
    (abandoned / STAGING_MARKER).touch()
    (abandoned / "tree" / "half.txt").write_text("half-written\n", encoding="utf-8")
    killed_early = tmp_path / f".gen.new-{gone}-def"  # killed before its marker: empty, rmdir-ed
    killed_early.mkdir()
    running = tmp_path / f".gen.new-{os.getpid()}-ghi"  # a build still running: left alone
    running.mkdir()
    (running / STAGING_MARKER).touch()
    write(tmp_path / "gen", SMALL)
    left = sorted(p.name for p in tmp_path.iterdir())
    assert left == sorted([".gen.bak-2024-05", lookalike.name, running.name, "gen"])
    assert (backup / "old.txt").read_text(encoding="utf-8") == "my backup\n"
    assert (lookalike / "data.txt").read_text(encoding="utf-8") == "keep\n"


def test_a_sibling_backup_survives_the_build_command(tmp_path: Path) -> None:
    backup = tmp_path / ".gen.bak-2024-05"
    backup.mkdir()
    (backup / "notes.txt").write_text("backup\n", encoding="utf-8")
    runner = CliRunner()
    assert runner.invoke(app, ["build", "--spec", str(SPEC), "--out", str(tmp_path / "gen")]).exit_code == 0
    assert (backup / "notes.txt").read_text(encoding="utf-8") == "backup\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == [".gen.bak-2024-05", "gen"]


# -- the folder's mode ----------------------------------------------------------------------------


@pytest.mark.parametrize("mode", [0o755, 0o750, 0o775])
def test_the_output_folder_keeps_its_mode(tmp_path: Path, mode: int) -> None:
    out = tmp_path / "gen"
    out.mkdir()
    out.chmod(mode)
    write(out, SMALL)
    assert stat.S_IMODE(out.stat().st_mode) == mode
    write(out, {**SMALL, PurePosixPath("c.txt"): "c\n"})  # replaced as a whole: still the same mode
    assert stat.S_IMODE(out.stat().st_mode) == mode and (out / "c.txt").is_file()


def test_a_new_output_folder_gets_the_umask_mode_not_0700(tmp_path: Path) -> None:
    old = os.umask(0o022)
    try:
        write(tmp_path / "gen", SMALL)
    finally:
        os.umask(old)
    assert stat.S_IMODE((tmp_path / "gen").stat().st_mode) == 0o755


# -- nothing inside the output folder is followed or opened ---------------------------------------


def odd_entries(out: Path, outside: Path) -> dict[str, Callable[[], None]]:
    def link_to_outside() -> None:
        (out / "a.txt").unlink()
        (out / "a.txt").symlink_to(outside)

    return {
        "FIFO": lambda: os.mkfifo(out / "sub" / "pipe"),
        "link to /dev/zero": lambda: (out / "zero").symlink_to("/dev/zero"),
        "link to a file outside": link_to_outside,
        "linked folder": lambda: (out / "elsewhere").symlink_to(outside.parent, target_is_directory=True),
    }


@pytest.mark.parametrize("case", ["FIFO", "link to /dev/zero", "link to a file outside", "linked folder"])
def test_links_and_fifos_in_the_output_folder_are_refused_without_hanging(tmp_path: Path, case: str) -> None:
    outside = tmp_path / "outside" / "secret.txt"
    outside.parent.mkdir()
    outside.write_text("not yours\n", encoding="utf-8")
    out = tmp_path / "gen"
    write(out, SMALL)
    odd_entries(out, outside)[case]()
    kind = "FIFO (named pipe)" if case == "FIFO" else "symbolic link"
    for command in ("check", "build"):
        done = qcvngen(command, "--spec", str(SPEC), "--out", str(out), cwd=tmp_path)
        assert done.returncode == 2, done.stdout + done.stderr
        assert f"is a {kind}" in done.stderr and "Traceback" not in done.stderr, done.stderr
    assert outside.read_text(encoding="utf-8") == "not yours\n"
    assert os.path.lexists(out / "a.txt")


def test_docs_goes_through_the_same_checks(tmp_path: Path) -> None:
    site = tmp_path / "site"
    runner = CliRunner()
    assert runner.invoke(app, ["docs", "--spec", str(SPEC), "--out", str(site)]).exit_code == 0
    assert not (site / OUTPUT_MARKER).exists()  # the site carries its own marker, .qcvngen-site
    os.mkfifo(site / "pipe")
    done = qcvngen("docs", "--spec", str(SPEC), "--out", str(site), cwd=tmp_path)
    assert done.returncode == 2 and "is a FIFO (named pipe)" in done.stderr, done.stderr


def test_compare_reads_no_more_than_the_expected_bytes(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    out = tmp_path / "gen"
    write(out, SMALL)
    os.truncate(out / "a.txt", SPARSE)  # a 200 MB (sparse) file where 2 bytes are expected
    read = count_reads(monkeypatch)
    changes = compare(out, SMALL)
    assert changes.changed == [PurePosixPath("a.txt")]
    assert sum(read) <= 1024, sum(read)


def count_reads(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Every byte count that qcvngen.safefs reads from now on."""
    sizes: list[int] = []
    real = os.read

    def counting(fd: int, n: int) -> bytes:
        data = real(fd, n)
        sizes.append(len(data))
        return data

    monkeypatch.setattr("qcvngen.safefs.os.read", counting)
    return sizes


# -- the spec folder ------------------------------------------------------------------------------


def test_an_oversized_spec_file_is_refused_before_it_is_read(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    spec = copy_spec(tmp_path)
    with open(spec / "sources.yaml", "r+b") as handle:
        handle.truncate(SPARSE)
    read = count_reads(monkeypatch)
    doc, problems = load_file(spec / "sources.yaml", "spec/sources.yaml")
    assert doc is None and sum(read) == 0
    assert problems[0].message == f"file ({SPARSE} bytes) is larger than {MAX_FILE_BYTES} bytes; not read"
    result = CliRunner().invoke(app, ["validate", "--spec", str(spec)])
    assert result.exit_code == 2 and f"spec/sources.yaml:1:1: file ({SPARSE} bytes) is larger than" in result.output


def test_check_fast_path_does_not_hash_an_oversized_spec_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    spec, out = copy_spec(tmp_path), tmp_path / "gen"
    write(out, SMALL)
    record(spec, templates_dir(), out)
    assert is_fresh(spec, templates_dir(), out)
    with open(spec / "tables" / "t99-huge.yaml", "wb") as handle:
        handle.truncate(SPARSE)
    read = count_reads(monkeypatch)
    assert not is_fresh(spec, templates_dir(), out)
    assert sum(read) < 16 * 1024 * 1024, sum(read)  # the other inputs only, never the 200 MB


def secret_outside(tmp_path: Path) -> Path:
    secret = tmp_path / "private" / "secret.yaml"
    secret.parent.mkdir()
    secret.write_text("password: SECRET-LINE-hunter2 [\n", encoding="utf-8")  # a YAML error would echo it
    return secret


def test_a_spec_file_linked_to_a_file_outside_is_refused_unread(tmp_path: Path) -> None:
    spec = copy_spec(tmp_path)
    (spec / "sources.yaml").unlink()
    (spec / "sources.yaml").symlink_to(secret_outside(tmp_path))
    result = CliRunner().invoke(app, ["validate", "--spec", str(spec)])
    assert result.exit_code == 2
    assert "spec/sources.yaml:1:1: is a symbolic link" in result.output
    assert "SECRET" not in result.output and "hunter2" not in result.output


def test_a_linked_tables_folder_is_refused_unread(tmp_path: Path) -> None:
    spec = copy_spec(tmp_path)
    moved = tmp_path / "private" / "tables"
    moved.parent.mkdir()
    (spec / "tables").rename(moved)
    (moved / "t99-secret.yaml").write_text("SECRET-LINE: [\n", encoding="utf-8")
    (spec / "tables").symlink_to(moved, target_is_directory=True)
    result = CliRunner().invoke(app, ["validate", "--spec", str(spec)])
    assert result.exit_code == 2
    assert "its folder tables is a symbolic link" in result.output
    assert "SECRET" not in result.output


def test_a_fifo_in_the_spec_folder_does_not_hang_validate_or_check(tmp_path: Path) -> None:
    spec = copy_spec(tmp_path)
    os.mkfifo(spec / "tables" / "t99-pipe.yaml")
    validate = qcvngen("validate", "--spec", str(spec), cwd=tmp_path)
    assert validate.returncode == 2 and "spec/tables/t99-pipe.yaml" in validate.stderr, validate.stderr
    check = qcvngen("check", "--spec", str(spec), "--out", str(tmp_path / "gen"), cwd=tmp_path)
    assert check.returncode == 2 and "Traceback" not in check.stderr, check.stderr


# -- a rebuild writes only what changed -----------------------------------------------------------

OLD_TREE = {PurePosixPath(f"d{i % 3}/f{i}.txt"): f"old {i}\n" for i in range(40)}


def _inodes(root: Path) -> dict[str, os.stat_result]:
    return {p.relative_to(root).as_posix(): p.lstat() for p in root.rglob("*") if p.is_file()}


def count_fsyncs(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    calls: list[int] = []
    real = os.fsync

    def counting(fd: int) -> None:
        calls.append(fd)
        real(fd)

    monkeypatch.setattr("qcvngen.writer.os.fsync", counting)
    return calls


def test_a_rebuild_links_unchanged_files_and_flushes_only_what_it_wrote(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    out = tmp_path / "gen"
    write(out, OLD_TREE)
    before = _inodes(out)
    new = dict(OLD_TREE)
    new[PurePosixPath("d1/f1.txt")] = "edited\n"
    new[PurePosixPath("d3/added.txt")] = "added\n"
    del new[PurePosixPath("d2/f2.txt")]
    fsyncs = count_fsyncs(monkeypatch)
    changes = write(out, new)
    after = _inodes(out)
    assert sorted(after) == sorted([*(p.as_posix() for p in new), OUTPUT_MARKER.as_posix()])
    assert all((out / path).read_text() == text for path, text in new.items())
    kept = [p.as_posix() for p in changes.unchanged]
    assert len(kept) == 39  # 38 old files and the marker
    assert all(after[p].st_ino == before[p].st_ino for p in kept), "unchanged files are the same files"
    assert after["d1/f1.txt"].st_ino != before["d1/f1.txt"].st_ino
    assert all(info.st_nlink == 1 for info in after.values()), "the old tree's names are gone"
    # Two files written, the new tree's five folders (root, d0–d3), then the parent holding the
    # swapped names: no flush of the 39 others.
    assert len(fsyncs) == 2 + 5 + 1, fsyncs


def test_a_file_system_without_hard_links_gets_copies(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    out = tmp_path / "gen"
    write(out, OLD_TREE)
    before = _inodes(out)

    def refuse(*args: object, **kwargs: object) -> None:
        raise PermissionError("hard links not supported here")

    monkeypatch.setattr("qcvngen.writer.os.link", refuse)
    new = {**OLD_TREE, PurePosixPath("d0/f0.txt"): "edited\n"}
    write(out, new)
    after = _inodes(out)
    assert all((out / path).read_text() == text for path, text in new.items())
    assert all(after[p].st_ino != before[p].st_ino for p in after if p in before)

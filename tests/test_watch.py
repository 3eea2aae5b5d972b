"""``qcvngen build --watch``: one warm process rebuilds after each settled change, exactly as a fresh
build would, waits out a broken spec, and stops cleanly.

The process test drives the real console script on a copy of the spec; its deadlines are only a
safety net (nothing asserts on time): the assertions are on what it printed and wrote.
"""

from __future__ import annotations

import os
import select
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import IO

import pytest

from qcvngen.watch import OWN_CODE_EVERY, Stamp, Watcher, stamp
from support.paths import ROOT, copy_spec

SAFETY_NET = 120  # seconds for one expected line; a hang fails the test instead of the whole run


class Inputs:
    """Stamps handed out in order, then the last one forever; sleeps recorded, not slept."""

    def __init__(self, *stamps: Stamp) -> None:
        self.stamps = list(stamps)
        self.slept: list[float] = []

    def __call__(self) -> Stamp:
        return self.stamps.pop(0) if len(self.stamps) > 1 else self.stamps[0]

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)


def one(name: str, size: int) -> Stamp:
    return ((name, size, size),)


def test_one_rebuild_at_start_and_one_per_settled_change() -> None:
    # Unchanged, then a change that keeps moving for two looks (an editor's save), then quiet.
    inputs = Inputs(one("a", 1), one("a", 1), one("a", 2), one("a", 3), one("a", 4), one("a", 4))
    rebuilds: list[int] = []
    watcher = Watcher(
        inputs=inputs, own_code=lambda: (), rebuild=lambda: rebuilds.append(1), restart=lambda: None, sleep=inputs.sleep
    )
    watcher.run(rounds=10)
    assert len(rebuilds) == 2, "the first build and one for the whole save, not one per write"


def test_a_change_of_its_own_code_restarts_instead_of_rebuilding() -> None:
    code = iter([one("cli.py", 1), one("cli.py", 1), one("cli.py", 2)])  # at start, then each OWN_CODE_EVERY
    restarts: list[int] = []
    rebuilds: list[int] = []
    watcher = Watcher(
        inputs=lambda: one("a", 1),
        own_code=lambda: next(code),
        rebuild=lambda: rebuilds.append(1),
        restart=lambda: restarts.append(1),
        sleep=lambda seconds: None,
    )
    watcher.run(rounds=3 * OWN_CODE_EVERY)
    assert (len(rebuilds), len(restarts)) == (1, 1)


def test_stamp_sees_an_edit_that_keeps_the_size(tmp_path: Path) -> None:
    table = tmp_path / "t.yaml"
    table.write_text("max_length: 50\n")
    before = stamp(tmp_path)
    table.write_text("max_length: 51\n")
    os.utime(table, ns=(1, before[0][2] + 1_000_000))
    assert stamp(tmp_path) != before


def test_stamp_does_not_look_into_the_output_folder(tmp_path: Path) -> None:
    (tmp_path / "packets.yaml").write_text("a: 1\n")
    (tmp_path / "gen").mkdir()
    (tmp_path / "gen" / "out.json").write_text("{}")
    assert [path for path, _, _ in stamp(tmp_path, skip=tmp_path / "gen")] == [str(tmp_path / "packets.yaml")]


class Lines:
    """A child's stdout or stderr, read line by line without blocking past a deadline."""

    def __init__(self, stream: IO[bytes] | None) -> None:
        assert stream is not None
        self.fd = stream.fileno()
        self.buffer = b""
        self.seen: list[str] = []

    def until(self, needle: str) -> str:
        deadline = time.monotonic() + SAFETY_NET
        while True:
            for line in self._lines():
                if needle in line:
                    return line
            left = deadline - time.monotonic()
            assert left > 0, f"no line with {needle!r}; saw {self.seen}"
            ready, _, _ = select.select([self.fd], [], [], left)
            if ready:
                chunk = os.read(self.fd, 65536)
                assert chunk, f"the process ended before {needle!r}; saw {self.seen}"
                self.buffer += chunk

    def _lines(self) -> Iterator[str]:
        while b"\n" in self.buffer:
            line, self.buffer = self.buffer.split(b"\n", 1)
            text = line.decode()
            self.seen.append(text)
            yield text


def tree(root: Path) -> dict[str, bytes]:
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def fresh_build(spec: Path, out: Path) -> dict[str, bytes]:
    subprocess.run(
        [sys.executable, "-m", "qcvngen.console", "build", "--spec", str(spec), "--out", str(out)],
        check=True,
        capture_output=True,
        cwd=out.parent,
    )
    return tree(out)


@pytest.fixture
def watching(tmp_path: Path) -> Iterator[tuple[subprocess.Popen[bytes], Lines, Lines, Path, Path]]:
    spec = copy_spec(tmp_path / "spec")
    out = tmp_path / "gen"
    process = subprocess.Popen(
        [sys.executable, "-m", "qcvngen.console", "build", "--watch", "--spec", str(spec), "--out", str(out)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        cwd=tmp_path,
    )
    try:
        yield process, Lines(process.stdout), Lines(process.stderr), spec, out
    finally:
        if process.poll() is None:
            process.kill()
        process.wait(timeout=SAFETY_NET)


def test_watch_rebuilds_as_a_fresh_build_would_and_waits_out_a_broken_spec(
    watching: tuple[subprocess.Popen[bytes], Lines, Lines, Path, Path], tmp_path: Path
) -> None:
    process, stdout, stderr, spec, out = watching
    assert "file(s) written" in stdout.until("watching")
    table = spec / "tables" / "t03-cap-nhat-tien-do-ho-so-mc.yaml"
    original = table.read_text(encoding="utf-8")
    edited = original.replace("max_length: 50", "max_length: 64", 1)
    assert edited != original, "the table no longer has the length this test edits"

    table.write_text(edited, encoding="utf-8")
    line = stdout.until("watching")
    assert " 0 file(s) written" not in line, line
    assert tree(out) == fresh_build(spec, tmp_path / "fresh"), "a watched rebuild equals a fresh build"

    before = tree(out)
    table.write_text(edited.replace("max_length: 64", "max_length: many", 1), encoding="utf-8")
    error = stderr.until("t03-cap-nhat-tien-do-ho-so-mc.yaml:")
    assert "max_length" in error and "integer" in error, error
    assert "left as it was" in stderr.until("left as it was")
    assert tree(out) == before, "nothing is written while the spec is broken"

    table.write_text(original, encoding="utf-8")
    stdout.until("watching")
    assert tree(out) == fresh_build(spec, tmp_path / "fresh-again")

    process.send_signal(signal.SIGINT)
    assert "stopped watching" in stdout.until("stopped watching")
    assert process.wait(timeout=SAFETY_NET) == 0


def test_watch_refuses_a_folder_it_did_not_make_before_watching(tmp_path: Path) -> None:
    out = tmp_path / "mine"
    out.mkdir()
    (out / "notes.txt").write_text("my own file\n")
    done = subprocess.run(
        [sys.executable, "-m", "qcvngen.console", "build", "--watch", "--out", str(out)],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=SAFETY_NET,
    )
    assert done.returncode == 2
    assert "marker" in done.stderr and "Traceback" not in done.stderr
    assert (out / "notes.txt").read_text() == "my own file\n"

"""Debian programs some tests need (Chromium, nginx): found, installed once per run, or a clear failure.

The README's test command must pass on a fresh machine with nothing installed by hand, so a test
that needs a program installs it itself when it can (as root, with apt-get, once, under a lock that
parallel runs share) and otherwise fails saying how to install it: never a silent skip.
"""

from __future__ import annotations

import dataclasses
import fcntl
import os
import shutil
import subprocess
import tempfile
from collections.abc import Callable, Sequence
from pathlib import Path

import pytest

__all__ = ["Need", "Plan", "ensure", "found_on_path", "plan", "provide"]

Finder = Callable[[str], str | None]
Runner = Callable[[Sequence[str]], subprocess.CompletedProcess[str]]


@dataclasses.dataclass(frozen=True)
class Need:
    """Programs a test needs, the Debian packages that bring them, and which test needs them."""

    programs: tuple[str, ...]
    packages: tuple[str, ...]
    why: str

    @property
    def commands(self) -> tuple[tuple[str, ...], ...]:
        return (("apt-get", "update", "-qq"), ("apt-get", "install", "-y", "-qq", *self.packages))

    @property
    def manual(self) -> str:
        return f"sudo apt-get update && sudo apt-get install -y {' '.join(self.packages)}"


@dataclasses.dataclass(frozen=True)
class Plan:
    """What the run does about a need: nothing, run ``commands``, or fail with ``problem``."""

    commands: tuple[tuple[str, ...], ...] = ()
    problem: str | None = None


def plan(need: Need, found: Finder, euid: int, apt_get: str | None) -> Plan:
    """Decide, without side effects, how to get ``need``'s programs onto this machine."""
    missing = [name for name in need.programs if found(name) is None]
    if not missing:
        return Plan()
    what = " and ".join(missing)
    if apt_get is None:
        return Plan(
            problem=f"{what} missing ({need.why}) and this machine has no apt-get to install them: install them and put them on PATH"
        )
    if euid != 0:
        return Plan(
            problem=f"{what} missing ({need.why}) and the tests are not running as root, so they cannot install them: run `{need.manual}`, or run the tests as root once"
        )
    return Plan(commands=need.commands)


def ensure(need: Need, found: Finder, euid: int, apt_get: str | None, run: Runner, lock: Path) -> list[tuple[str, ...]]:
    """Install ``need`` if the plan says so, under an exclusive lock; return the commands run."""
    if plan(need, found, euid, apt_get) == Plan():
        return []
    lock.parent.mkdir(parents=True, exist_ok=True)
    with lock.open("a") as handle:
        # Parallel runs wait here; whoever comes second finds the programs installed and runs nothing.
        fcntl.flock(handle, fcntl.LOCK_EX)
        current = plan(need, found, euid, apt_get)
        if current.problem:
            pytest.fail(current.problem, pytrace=False)
        ran: list[tuple[str, ...]] = []
        for command in current.commands:
            done = run(command)
            ran.append(tuple(command))
            if done.returncode != 0:
                tail = (done.stdout + done.stderr)[-2000:]
                pytest.fail(
                    f"`{' '.join(command)}` failed ({done.returncode}); install by hand: {need.manual}\n{tail}",
                    pytrace=False,
                )
        if plan(need, found, euid, apt_get) != Plan():
            pytest.fail(f"{' and '.join(need.programs)} still missing after {need.manual!r}", pytrace=False)
        return ran


def found_on_path(name: str) -> str | None:
    """``name`` on PATH, or in /usr/bin or /usr/sbin (root's PATH may lack the latter)."""
    return shutil.which(name) or next((p for d in ("/usr/bin", "/usr/sbin") if Path(p := f"{d}/{name}").exists()), None)


def _apt(command: Sequence[str]) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    return subprocess.run(list(command), capture_output=True, text=True, env=env, timeout=1800, check=False)


def provide(need: Need) -> list[str]:
    """The paths of ``need``'s programs on this machine, installed first when missing and possible."""
    # One lock for every need: two apt-get processes cannot run at once anyway.
    lock = Path(tempfile.gettempdir()) / "qcvngen-apt-install.lock"
    ensure(need, found_on_path, os.geteuid(), shutil.which("apt-get"), _apt, lock)
    paths = [found_on_path(name) for name in need.programs]
    assert all(paths), paths
    return [p for p in paths if p]

"""A large request body received straight into one buffer of its declared length.

The guarded protocol (:mod:`.serving`) offers, in a request's ASGI scope under
``extensions[WHOLE_BODY]``, a callable that the app calls *instead of* its first ``receive()``.
It returns a :class:`WholeBody` (or None when the body cannot be taken whole: small, chunked,
``Expect: 100-continue``, already being read) whose bytes the socket writes into directly: no
per-chunk HTTP events, no chunk copies or joins. The app awaits :meth:`WholeBody.wait` under its
own deadlines, reading :attr:`WholeBody.received` to judge the sender's rate.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

WHOLE_BODY = "qcvngen.whole_body"
# Below this size a body comes in ASGI messages as usual: the saving would not show.
WHOLE_BODY_FROM = 64 * 1024
# Bytes read at once (asyncio's own read size): work on them (a scan) finds them in the CPU's cache,
# and other connections (logins) are served between two reads (1 MiB: login median ~1.5x).
READ_AT_MOST = 256 * 1024


class ReceivedBody(bytearray):
    """A body's bytes, with what the app learnt of them as they arrived (``session_scan``)."""

    __slots__ = ("session_scan",)

    def __init__(self, size: int) -> None:
        super().__init__(size)
        self.session_scan: Any = None


class WholeBody:
    """One body being received: ``buffer`` holds ``received`` bytes of ``len(buffer)``."""

    def __init__(self, size: int, early: bytes | bytearray) -> None:
        self.buffer = ReceivedBody(size)
        self.buffer[: len(early)] = early
        self.received = len(early)
        self.lost = False
        self._settled = asyncio.Event()
        self._watchers: list[Callable[[bytearray, int], None]] = []

    def watch(self, watcher: Callable[[bytearray, int], None]) -> None:
        """Call ``watcher(buffer, received)`` now and after each arrival, on the event loop:
        work done on bytes just received (a scan) finds them still in the CPU's cache."""
        self._watchers.append(watcher)
        watcher(self.buffer, self.received)

    def arrived(self, nbytes: int) -> None:
        """``nbytes`` more bytes were written at ``rest()``."""
        self.received += nbytes
        for watcher in self._watchers:
            watcher(self.buffer, self.received)

    def rest(self) -> memoryview:
        """Where the next bytes go (a fresh view each time: none outlives the read)."""
        end = min(len(self.buffer), self.received + READ_AT_MOST)
        return memoryview(self.buffer)[self.received : end]

    @property
    def complete(self) -> bool:
        return self.received == len(self.buffer)

    def settle(self, *, lost: bool = False) -> None:
        """The last byte arrived, or (``lost``) the connection closed before it."""
        self.lost = lost
        self._settled.set()

    async def wait(self) -> bool:
        """Until settled: True when the whole body arrived, False when the connection was lost."""
        await self._settled.wait()
        return not self.lost

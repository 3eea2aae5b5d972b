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

WHOLE_BODY = "qcvngen.whole_body"
# Below this size a body comes in ASGI messages as usual: the saving would not show.
WHOLE_BODY_FROM = 64 * 1024


class WholeBody:
    """One body being received: ``buffer`` holds ``received`` bytes of ``len(buffer)``."""

    def __init__(self, buffer: bytearray) -> None:
        self.buffer = buffer
        self.received = 0
        self.lost = False
        self._settled = asyncio.Event()

    def rest(self) -> memoryview:
        """Where the next bytes go (a fresh view each time: none outlives the read)."""
        return memoryview(self.buffer)[self.received :]

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

"""Content-Encoding decoded by the client itself, bounded AS IT DECODES, stacked encodings included.

httpx decodes a whole chunk before the caller can count it, so ``gzip, gzip, gzip`` of 318 bytes
can grow to gigabytes between two checks. Here every stage is a ``zlib.decompressobj`` asked for at
most a few KiB at a time (``max_length``); the output of each stage is counted as it is produced,
and the final stage may never exceed the limit. Peak memory stays a small multiple of the limit.
"""

from __future__ import annotations

import zlib
from collections.abc import Iterable

# Output asked of zlib per call: small, so that no single call can balloon.
_STEP = 64 * 1024


class DecodeError(Exception):
    """The answer's Content-Encoding is unknown or its data is corrupt."""


class TooLarge(Exception):
    """The decoded answer exceeds the limit."""


class _Stage:
    """One zlib stream (gzip members restart; deflate with or without the zlib header)."""

    def __init__(self, encoding: str, limit: int) -> None:
        self.encoding = encoding
        self.limit = limit
        self.produced = 0
        self._zlib: zlib._Decompress | None = None
        if encoding == "gzip":
            self._zlib = zlib.decompressobj(16 + zlib.MAX_WBITS)

    def _open_deflate(self, data: bytes) -> None:
        # RFC 9110 says zlib-wrapped; some servers send raw deflate: the header tells which.
        zlib_header = len(data) >= 2 and data[0] & 0x0F == 8 and (data[0] * 256 + data[1]) % 31 == 0
        self._zlib = zlib.decompressobj(zlib.MAX_WBITS if zlib_header else -zlib.MAX_WBITS)

    def feed(self, data: bytes) -> list[bytes]:
        """Decoded pieces of ``data``; raises TooLarge as soon as the output passes the limit."""
        if self._zlib is None:
            if not data:
                return []
            self._open_deflate(data)
        assert self._zlib is not None
        out: list[bytes] = []
        pending = data
        while True:
            try:
                piece = self._zlib.decompress(pending, min(_STEP, self.limit - self.produced + 1))
            except zlib.error as error:
                raise DecodeError(f"corrupt {self.encoding} data") from error
            self.produced += len(piece)
            if self.produced > self.limit:
                raise TooLarge(self.limit)
            if piece:
                out.append(piece)
            pending = self._zlib.unconsumed_tail
            if self._zlib.eof and self._zlib.unused_data and self.encoding == "gzip":
                # A further gzip member: a new stream picks up where this one ended.
                pending = self._zlib.unused_data
                self._zlib = zlib.decompressobj(16 + zlib.MAX_WBITS)
                continue
            if not pending and not piece:
                return out

    def finish(self) -> list[bytes]:
        """Whatever the stream still holds; a truncated stream is corrupt."""
        if self._zlib is None:
            return []
        pieces = self.feed(b"")
        if not self._zlib.eof:
            raise DecodeError(f"truncated {self.encoding} data")
        return pieces


def encodings(header: str) -> list[str]:
    """The codings of a Content-Encoding header, in the order they were applied."""
    names = [part.strip().lower() for part in header.split(",")]
    return [name for name in names if name and name != "identity"]


class BoundedDecoder:
    """Raw body chunks in, decoded bytes out; never more than ``limit`` decoded bytes held.

    Intermediate stages (an encoding applied under another) are bounded too, by a little more
    than ``limit``, since compressed data can be slightly larger than what it holds.
    """

    def __init__(self, content_encoding: str, limit: int) -> None:
        codings = encodings(content_encoding)
        for coding in codings:
            if coding not in ("gzip", "deflate", "x-gzip"):
                raise DecodeError(f"unsupported Content-Encoding {coding[:40]!r}")
        slack = limit + limit // 8 + 1024
        # Decoding runs in reverse order of application: the last coding applied comes off first.
        stages = [c.replace("x-gzip", "gzip") for c in reversed(codings)]
        self._stages = [
            _Stage(c, limit if i == len(stages) - 1 else slack) for i, c in enumerate(stages)
        ]
        self._limit = limit
        self._size = 0
        self._out: list[bytes] = []

    def _push(self, pieces: Iterable[bytes], start: int) -> None:
        for piece in pieces:
            if start == len(self._stages):
                self._size += len(piece)
                if self._size > self._limit:
                    raise TooLarge(self._limit)
                self._out.append(piece)
            else:
                self._push(self._stages[start].feed(piece), start + 1)

    def feed(self, chunk: bytes) -> None:
        """Decode one raw chunk of the body."""
        self._push([chunk], 0)

    def finish(self) -> bytes:
        """The whole decoded body."""
        for index, stage in enumerate(self._stages):
            self._push(stage.finish(), index + 1)
        return b"".join(self._out)

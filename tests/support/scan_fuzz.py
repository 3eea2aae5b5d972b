"""Drive a build of qcvn120_speedups over many mutated bodies (run in a process of its own, under a
sanitizer, by tests/test_plainbody.py): every call must return, and agree with Python's own counts.

Each body is also handed over as the last bytes before a page nobody may read (a read one byte past
the body's end kills the process): Python's own buffers end with spare bytes a sanitizer cannot
tell from the body.

    python scan_fuzz.py FOLDER ROUNDS     # FOLDER holds the module to drive
"""

from __future__ import annotations

import ctypes
import json
import mmap
import random
import sys

folder, rounds = sys.argv[1], int(sys.argv[2])
sys.path.insert(0, folder)
import qcvn120_speedups as native  # type: ignore[import-not-found]  # noqa: E402  (the build under test, from FOLDER)

assert native.__file__.startswith(folder), native.__file__

RECORD = {"MaHoSo": "H-1", "TenTTHC": "Đăng ký khai sinh", "GhiChu": "dòng 1\ndòng 2", "TaiLieuNop": [{"Ten": "a.pdf"}]}
BASES = [
    json.dumps(
        {"session": "s", "madonvi": "x", "service": "DongBoHoSoMC", "data": [RECORD] * n}, ensure_ascii=False
    ).encode()
    for n in (1, 3)
]
ALPHABET = b'{}[]",:\\ \n\tabsession\xc3\xa9\xe1\xba\xa1\xed\xa0\x80\xf0\x9f\x98\x80u0'
PAGE = mmap.PAGESIZE
ROOM = 16 * PAGE
_region = mmap.mmap(-1, ROOM + PAGE)
_libc = ctypes.CDLL(None, use_errno=True)
_start = ctypes.addressof(ctypes.c_char.from_buffer(_region))
PROT_NONE = 0  # mmap has PROT_READ and PROT_WRITE, not this one
assert _libc.mprotect(ctypes.c_void_p(_start + ROOM), PAGE, PROT_NONE) == 0, ctypes.get_errno()


def guarded(raw: bytes) -> memoryview:
    """``raw`` as the last bytes before the unreadable page."""
    assert len(raw) <= ROOM
    _region[ROOM - len(raw) : ROOM] = raw
    return memoryview(_region)[ROOM - len(raw) : ROOM]


rng = random.Random(20)
plain = 0
for _ in range(rounds):
    raw = bytearray(rng.choice(BASES))
    for _ in range(rng.randint(0, 4)):
        at = rng.randrange(len(raw) + 1)
        roll = rng.random()
        if roll < 0.3:
            del raw[at : at + rng.randint(1, 8)]
        elif roll < 0.7:
            raw[at:at] = bytes(rng.choice(ALPHABET) for _ in range(rng.randint(1, 6)))
        else:
            del raw[at:]
    if rng.random() < 0.2:
        raw = bytearray(rng.choice(ALPHABET) for _ in range(rng.randint(0, 60)))
    limits = (rng.choice([1, 2, 3, 32, 100]), rng.choice([0, 1, 5, 10_000]), rng.choice([0, 1, 30, 1000]))
    found = native.scan(bytes(raw), *limits)
    assert found == native.scan(raw, *limits) == native.scan(guarded(bytes(raw)), *limits)
    plain += found is not None
    start, end = rng.randint(0, len(raw) + 5), rng.randint(0, len(raw) + 40)
    assert native.count_byte(raw, 0x22, start, end) == bytes(raw).count(b'"', start, end)
    expected, at = [], bytes(raw).find(b'"session"', start, end)
    while at >= 0:
        expected.append(at)
        at = bytes(raw).find(b'"session"', at + 1, end)
    assert native.find_all(raw, b'"session"', start, end) == expected
    edge = guarded(bytes(raw))
    assert native.count_byte(edge, 0x22, start, end) == bytes(raw).count(b'"', start, end)
    assert native.find_all(edge, b'"session"', start, end) == expected
# Nesting past every bound, objects past 64 keys, a long data array.
native.scan(b"[" * 100_000, 32, 10, 10)
native.scan(b'{"a":' * 70 + b'"x"' + b"}" * 70, 1000, 10, 10)
native.scan(b"{" + b",".join(b'"k%d":"v"' % i for i in range(200)) + b"}", 32, 10_000, 1000)
native.scan(b'{"data":[' + b",".join([b'{"a":"b"}'] * 20_000) + b"]}", 32, 100_000, 1000)
print(f"{rounds} bodies, {plain} plain")

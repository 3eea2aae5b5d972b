"""The optional native helpers of this package: ``qcvn120_speedups``, compiled from
generator/speedups/qcvn120_speedups.c when qcvngen is installed with a C compiler.

Each is None where the module is missing (a server vendored without qcvngen) or switched off
(``QCVN120_NATIVE_SCAN=off``: an operator's switch, and the tests' way of comparing); the callers
then do the same work in Python, with the same results (tests/test_plainbody.py compares them).
"""

from __future__ import annotations

import importlib
import os
from collections.abc import Callable
from types import ModuleType

SWITCH = "QCVN120_NATIVE_SCAN"
# What this runtime expects scan to promise (qcvn120_speedups.c, SCAN_CONTRACT): a module built
# from another version of the source is not used.
CONTRACT = 2

# scan(body, max_depth, max_list_items, max_object_keys) -> (node bound, where ``data``'s array
# starts and ends, its records as sent) or None: see qcvn120_speedups.c.
Scanned = tuple[int, int, int, list[bytes]] | None
Scan = Callable[[bytes | bytearray, int, int, int], Scanned]
# count_byte(body, byte, start, end) == body.count(bytes([byte]), start, end)
CountByte = Callable[[bytes | bytearray, int, int, int], int]
# find_all(body, needle, start, end): every position where needle (2+ bytes) starts in body[start:end]
FindAll = Callable[[bytes | bytearray, bytes, int, int], list[int]]


def load() -> ModuleType | None:
    """``qcvn120_speedups`` when it is installed, keeps this runtime's contract and is not switched
    off, else None."""
    if os.environ.get(SWITCH, "").strip().lower() == "off":
        return None
    try:
        module = importlib.import_module("qcvn120_speedups")
    except ImportError:
        return None
    return module if getattr(module, "CONTRACT", None) == CONTRACT else None


_MODULE = load()
scan: Scan | None = getattr(_MODULE, "scan", None)
count_byte: CountByte | None = getattr(_MODULE, "count_byte", None)
find_all: FindAll | None = getattr(_MODULE, "find_all", None)

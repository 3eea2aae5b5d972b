"""The short way through a request body, taken where a native scan vouches for it.

Most bodies a portal receives are plain: strings only, in NFC (characters written or
``\\u``-escaped alike), no repeated key, well inside the limits. For such a body,
``strictjson.read_object`` then the model over the parsed dicts does twice the work the model
alone does from the bytes. Here one native pass
(``qcvn120_speedups.scan``, compiled with qcvngen; see generator/speedups/) proves a body plain and
cuts out each record of ``data`` as sent (for the handler: what a store keeps); pydantic then reads
the request from the bytes, and the app reads the service and session from the small envelope.

This way never refuses: whenever the scan cannot vouch for a body, or the models object to it,
:func:`read_plain` or :func:`validate_plain` return None and the careful way (``strictjson``, then
``contract.validate``) reads the body again and says why. Without the native module (a server
vendored without qcvngen, or built without a C compiler), every body goes the careful way. Both
ways give the same verdict and the same request (tests/test_plainbody.py compares them).
"""

from __future__ import annotations

import json
import sys
from typing import Any, NamedTuple

from pydantic import BaseModel, ValidationError

from . import native
from .limits import Limits

# Beyond these the scan looks no deeper and counts no more keys (qcvn120_speedups.c: MAX_NEST, MAX_KEYS).
MAX_DEPTH = 66
MAX_KEYS = 64


class PlainBody(NamedTuple):
    """A body the native scan vouched for."""

    # The top-level members as sent, ``data`` an empty list.
    envelope: dict[str, Any]
    # Each item of ``data``: a JSON object as sent, strings only, in NFC, no key repeated.
    records: list[bytes]
    # strictjson.node_bound of the body.
    node_bound: int


def read_plain(raw: bytes | bytearray, limits: Limits) -> PlainBody | None:
    """``raw`` as a :class:`PlainBody`, or None (the careful way then reads it)."""
    scan = native.scan
    if scan is None:
        return None
    # Within what the scan's C integers hold (it bounds depth and keys far lower itself): a limit
    # set higher must not turn into an error the careful way would not give.
    found = scan(
        raw,
        min(limits.max_depth, MAX_DEPTH),
        min(limits.max_list_items, sys.maxsize),
        min(limits.max_object_keys, MAX_KEYS),
    )
    if found is None:
        return None
    node_bound, start, end, records = found
    envelope = json.loads(bytes(raw[:start]) + b"[]" + bytes(raw[end:]))
    return PlainBody(envelope, records, node_bound)


def validate_plain(request: type[BaseModel], raw: bytes | bytearray) -> BaseModel | None:
    """The request ``raw`` holds, read by its model from the bytes under wire names only (as
    ``contract.from_wire`` reads a parsed body); None when the model objects (the careful way then
    says why)."""
    try:
        return request.model_validate_json(raw, by_alias=True, by_name=False)
    except ValidationError:
        return None

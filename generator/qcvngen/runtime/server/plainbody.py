"""The short way through a request body, taken where a native scan vouches for it.

Most bodies a portal receives are plain: strings only, in NFC (characters written or
``\\u``-escaped alike), no repeated key, well inside the limits. For such a body,
``strictjson.read_object`` then the model over the parsed dicts does twice the work the model
alone does from the bytes. Here one native pass
(``qcvn120_speedups.scan``, compiled with qcvngen; see generator/speedups/) proves a body plain and
cuts out each record of ``data`` as sent; pydantic then reads each record from its bytes, and the
request from its small envelope and those records.

This way never refuses: whenever the scan cannot vouch for a body, or the models object to it,
:func:`read_plain` or :func:`validate_plain` return None and the careful way (``strictjson``, then
``contract.validate``) reads the body again and says why. Without the native module (a server
vendored without qcvngen, or built without a C compiler), every body goes the careful way. Both
ways give the same verdict and the same request (tests/test_plainbody.py compares them).
"""

from __future__ import annotations

import json
from typing import Any, NamedTuple

from pydantic import BaseModel, ValidationError

from . import native
from .limits import Limits


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
    found = scan(raw, limits.max_depth, limits.max_list_items, limits.max_object_keys)
    if found is None:
        return None
    node_bound, start, end, records = found
    if records is None:
        return None
    envelope = json.loads(bytes(raw[:start]) + b"[]" + bytes(raw[end:]))
    return PlainBody(envelope, records, node_bound)


def validate_plain(
    request: type[BaseModel], record: type[BaseModel], body: PlainBody
) -> BaseModel | None:
    """The request ``body`` holds, each item of its ``data`` read by ``record`` from its bytes, all
    under their wire names (as ``contract.from_wire`` reads a parsed body); None when a model
    objects (the careful way then says why)."""
    try:
        records = [
            record.model_validate_json(text, by_alias=True, by_name=False) for text in body.records
        ]
        return request.model_validate(
            {**body.envelope, "data": records}, by_alias=True, by_name=False
        )
    except ValidationError:
        return None

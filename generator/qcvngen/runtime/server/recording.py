"""Capture lines for what the server receives: shapes of the requests, never a value.

Off unless ``create_app(..., capture=...)`` names a sink (a JSON Lines file or a callable). A request
is recorded only once it has passed authentication (login never is), with the answer's
``error_code`` and, for refusals, the message with every value blanked: the values received, and any
word that could be one. The format is the client's (``capture.py``, docs/capture.schema.json) with
``direction`` ``"request"``: the records are the request's ``data``.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from . import capture
from .answers import Answer, ErrorAnswer
from .refusals import Refused

# A request is walked once more for the values to blank from a message; these bound that walk.
_MAX_DEPTH = 8
_MAX_STRINGS = 10_000


def received_strings(body: Any) -> set[str]:
    """The string values of a request (bounded), blanked from a refusal's message."""
    out: set[str] = set()
    stack: list[tuple[Any, int]] = [(body, 0)]
    while stack and len(out) < _MAX_STRINGS:
        value, depth = stack.pop()
        if isinstance(value, str):
            out.add(value)
        elif depth < _MAX_DEPTH and isinstance(value, dict):
            stack.extend((item, depth + 1) for item in value.values())
        elif depth < _MAX_DEPTH and isinstance(value, list):
            stack.extend((item, depth + 1) for item in value)
    return out


class Recorder:
    """Writes one capture line per authenticated request; a failure to write never fails it."""

    def __init__(
        self,
        sink: capture.Sink,
        code_paths: Mapping[str, Iterable[str]],
        wire_names: Iterable[str],
        log: logging.Logger,
    ) -> None:
        if not callable(sink) and not (isinstance(sink, (str, os.PathLike)) and os.fspath(sink)):
            raise ValueError("capture must be None, a file path or a callable taking one line")
        self.sink = sink
        self.code_paths = {name: frozenset(paths) for name, paths in code_paths.items()}
        self.wire_names = frozenset(wire_names)
        self.log = log

    def around(
        self, service: str, endpoint: str, body: Mapping[str, Any], serve: Callable[[], Answer]
    ) -> Answer:
        """``serve()``, recorded with its answer's code, or with the refusal it raised."""
        try:
            result = serve()
        except (Refused, ErrorAnswer) as refusal:
            self.record(service, endpoint, body, refusal.error_code, refusal.message)
            raise
        self.record(service, endpoint, body, result.error_code, result.message)
        return result

    def record(
        self, service: str, endpoint: str, body: Mapping[str, Any], error_code: str, message: str
    ) -> None:
        """One ``direction: "request"`` line for ``body`` answered with ``error_code``."""
        try:
            line = capture.build_line(
                service,
                endpoint,
                body,
                self.code_paths.get(service, frozenset()),
                direction="request",
            )
            line["error_code"] = str(error_code)
            if line["error_code"] != "0" and message.strip():
                sent = received_strings(body)
                line["message"] = capture.redact_message(message, sent, self.wire_names)
            capture.emit(line, self.sink)
        except Exception as error:  # noqa: BLE001 - a callback may raise anything
            # The request was served: failing it now would make a stored push look refused. Only
            # the error's type is logged (its text may hold a path or a value).
            self.log.warning(
                "%s %s: capture not recorded (%s)", service, endpoint, type(error).__name__
            )

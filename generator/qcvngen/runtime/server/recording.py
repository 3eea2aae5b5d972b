"""Capture lines for what the server receives: shapes of the requests, never a value.

Off unless ``create_app(..., capture=...)`` names a sink (a JSON Lines file or a callable). A request
is recorded only once it has passed authentication (login never is), with the answer's
``error_code``; a refused request leaves only a short refusal entry (its code, how many records, the
spec's key names its message named), never a value or a key of what was refused. The format is the client's (``capture.py``, docs/capture.schema.json) with
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
        # A path becomes a capped, rotating file, checked now (a FIFO, device or link is refused).
        self.sink = capture.sink_of(sink)
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
            if str(error_code) != "0":
                # A refused request teaches nothing: one short entry, no value, none of its keys.
                line = capture.refusal_line(
                    service,
                    endpoint,
                    direction="request",
                    error_code=str(error_code),
                    count=len(capture.records_of(body, "request")),
                    message=message,
                    keys=self.wire_names,
                )
            else:
                line = capture.build_line(
                    service,
                    endpoint,
                    body,
                    self.code_paths.get(service, frozenset()),
                    direction="request",
                )
                line["error_code"] = "0"
            capture.emit(line, self.sink)
        except Exception as error:
            # The request was served: failing it now would make a stored push look refused. Only
            # the error's type is logged (its text may hold a path or a value).
            self.log.warning(
                "%s %s: capture not recorded (%s)", service, endpoint, type(error).__name__
            )

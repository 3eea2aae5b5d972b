"""The named limits of the generated apps: every refusal names the setting that caused it."""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import TypedDict

# Seconds a body may take before ``min_body_rate`` applies (a connection may start slowly): part of
# the one rule (``Limits.body_due``) by which the app answers 408 and the guarded protocol ranks a
# connection as late.
BODY_RATE_GRACE = 5.0


@dataclass(frozen=True)
class Limits:
    """Bounds on the work one request may cause; the defaults fit real traffic with room to spare.

    A 1,000-record ``DongBoHoSoMC`` batch with nested lists filled is about 2.5 MB and 120,000 JSON
    values, with objects of about 40 keys: each default is several times that.

    Attributes:
        max_body_bytes: bytes of one request body (413).
        max_login_bytes: bytes of one login body: a user name and a password (413).
        max_json_nodes: JSON values in one body, counted on the raw text before it is parsed, as
            the ``{``, ``[`` and ``,`` it holds (those inside strings count too: an upper bound) (413).
        max_object_keys: keys of one JSON object (413).
        max_list_items: items of one JSON array (413).
        max_depth: nesting of arrays and objects (400).
        max_batch: records in the ``data`` of one call (413).
        body_timeout: seconds to receive a whole body once its headers arrived (408).
        min_body_rate: bytes per second a body must keep up on average once it has had
            ``BODY_RATE_GRACE`` seconds (408): a trickle is cut off long before ``body_timeout``.
            The guarded protocol (:mod:`.serving`) reads it from here to choose which connection
            to close at its cap: one setting, one rule (:meth:`body_due`).
        login_free_failures: failed logins of an account at one address before each further one
            doubles a delay (429 with ``Retry-After``); four times as many from one address, twice
            as many of one account from anywhere (see :mod:`.throttle`).
        max_parallel: requests parsed, validated and handled at once in worker threads, per lane
            (logins have their own); the others wait their turn without holding the event loop.
        max_buffered_bytes: bytes of request bodies of 64 KiB or more held at once, from the first
            byte received until the answer is ready (each counted at its declared length); the
            others wait before they are read, and get 503 when none is free within ``body_timeout``.
    """

    max_body_bytes: int = 8 * 1024 * 1024
    max_login_bytes: int = 64 * 1024
    max_json_nodes: int = 500_000
    max_object_keys: int = 1_000
    max_list_items: int = 10_000
    max_depth: int = 32
    max_batch: int = 1_000
    body_timeout: float = 60.0
    min_body_rate: int = 8 * 1024
    login_free_failures: int = 5
    max_parallel: int = 8
    max_buffered_bytes: int = 64 * 1024 * 1024

    def __post_init__(self) -> None:
        for item in fields(self):
            if getattr(self, item.name) <= 0:
                raise ValueError(f"{item.name} must be positive")

    def body_due(self, received: int) -> float:
        """Seconds after a body began by which its first ``received`` bytes must be in: within
        ``body_timeout``, and at ``min_body_rate`` once it has had ``BODY_RATE_GRACE`` seconds.
        Past it the app answers 408 and the guarded protocol counts the connection as late."""
        return min(self.body_timeout, BODY_RATE_GRACE + received / self.min_body_rate)


class LimitOptions(TypedDict, total=False):
    """The keyword arguments of ``create_app``/``create_local_app`` that set :class:`Limits`."""

    max_body_bytes: int
    max_login_bytes: int
    max_json_nodes: int
    max_object_keys: int
    max_list_items: int
    max_depth: int
    max_batch: int
    body_timeout: float
    min_body_rate: int
    login_free_failures: int
    max_parallel: int
    max_buffered_bytes: int

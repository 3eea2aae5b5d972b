"""The sandbox app: the generated national-portal stubs with the sandbox behind them, plus views of what arrived.

The views (``/sandbox/`` and ``/sandbox/api/…``, :mod:`.views`) are private (the view token printed
in the banner, or a session of ``/auth`` for its own unit), paged (at most 100 items) and masked
from the OpenAPI document the sandbox serves. They never change anything.
"""

from __future__ import annotations

import logging
import os
import secrets
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from fastapi import FastAPI

from ..resources import default_spec_dir
from . import runtime
from . import seed as seeds
from .accounts import Credentials
from .portal import MAX_SESSIONS_PER_ACCOUNT, SandboxPortal, portal_class
from .store import Store
from .views import Views, masker_of, status_labels

DEFAULT_ACCOUNT = Credentials("sandbox", "sandbox", "000.00.00.G05")


def create_sandbox_app(
    db: str | Path = ":memory:",
    accounts: list[Credentials] | None = None,
    *,
    session_ttl: float = 600.0,
    max_batch: int = 1000,
    show_personal_data: bool = False,
    max_sessions_per_account: int = MAX_SESSIONS_PER_ACCOUNT,
    limits: Mapping[str, Any] | None = None,
    capture: str | os.PathLike[str] | Callable[[dict[str, Any]], None] | None = None,
    view_token: str | None = None,
    spec: Path | None = None,
    seed: seeds.Seed | None = None,
) -> tuple[FastAPI, SandboxPortal]:
    """The portal app generated from ``spec`` (default: ``./spec`` if present, else the bundled spec),
    backed by a :class:`SandboxPortal` on ``db`` answering pulls from ``seed`` (default: the bundled
    one), plus the sandbox's views.

    Raises :class:`~.runtime.SpecNotServable`, :class:`~.seed.SeedError` or
    :class:`~.portal.NoBehaviour` (before anything is opened) when the spec, the seed or a packet
    cannot be served. ``capture`` (off by default) is the generated app's: a file or callable given
    the shapes of every authenticated request (docs/learn.md). ``view_token`` opens the views to
    every unit's data (a random one when None); it is ``app.state.view_token``, for the banner.
    """
    served = runtime.load(spec if spec is not None else default_spec_dir(Path.cwd()))
    seed = seed if seed is not None else seeds.load()
    seeds.check(seed, served)
    handler = portal_class(served, seed)  # before the state file is opened: refusing leaves nothing behind
    store = Store(db)
    portal = handler(served, store, accounts or [DEFAULT_ACCOUNT], seed, session_ttl, max_sessions_per_account)
    app: FastAPI = served.services.create_app(
        portal,
        max_batch=max_batch,
        logger=logging.getLogger("qcvngen.sandbox"),
        capture=capture,
        **dict(limits or {}),
    )
    app.state.view_token = view_token or secrets.token_urlsafe(24)
    Views(
        store,
        masker_of(served.regulation, not show_personal_data),
        status_labels(served.regulation),
        app.state.view_token,
        portal.account_for_session,
    ).add_to(app)
    return app, portal

"""The sandbox app: the generated national-portal stubs with the sandbox behind them, plus views of what arrived.

The views (``/sandbox/`` and ``/sandbox/api/…``, :mod:`.views`) are private (the view token printed
in the banner, or a session of ``/auth`` for its own unit), paged (at most 100 items) and masked
from the OpenAPI document the sandbox serves. They never change anything.
"""

from __future__ import annotations

import json
import logging
import os
import secrets
from collections.abc import Callable, Mapping
from importlib import resources
from pathlib import Path
from typing import Any

from fastapi import FastAPI

from .accounts import Credentials
from .portal import MAX_SESSIONS_PER_ACCOUNT, SandboxPortal
from .runtime import generated_modules
from .store import Store
from .views import Views, masker_from_document, status_labels

DEFAULT_ACCOUNT = Credentials("sandbox", "sandbox", "000.00.00.G05")


def load_seed() -> dict[str, Any]:
    """The seed answers bundled with the sandbox (seed.json)."""
    seed = json.loads(resources.files("qcvngen.sandbox").joinpath("seed.json").read_text(encoding="utf-8"))
    return dict(seed)


def check_seed(seed: dict[str, Any]) -> None:
    """Seed answers must be what the generated models accept (a drifted spec fails loudly here)."""
    models = generated_modules().models
    for item in seed["procedures"]:
        models.LayThuTucResult.model_validate(item)
    for items in seed["decisions"].values():
        for item in items:
            models.LayQDCBResult.model_validate(item)
    for item in seed["petitions_public"] + seed["petitions_pending"]:
        models.DanhSachPAKNCongKhaiResult.model_validate(item)
    for item in seed["questions_citizens"]:
        models.LayDanhSachHoiDapGuiTuDVCQGResult.model_validate(item)
    for item in seed["questions_ministries"]:
        models.LayDanhSachHoiDapBoCoQuanResult.model_validate(item)


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
) -> tuple[FastAPI, SandboxPortal]:
    """The generated portal app backed by a :class:`SandboxPortal` on ``db``, plus the sandbox's views.

    ``capture`` (off by default) is the generated app's: a file or callable given the shapes of
    every authenticated request (docs/learn.md). ``view_token`` opens the views to every unit's
    data (a random one when None); it is ``app.state.view_token``, for the banner.
    """
    store = Store(db)
    seed = load_seed()
    check_seed(seed)
    portal = SandboxPortal(
        store,
        accounts or [DEFAULT_ACCOUNT],
        seed,
        session_ttl=session_ttl,
        max_sessions_per_account=max_sessions_per_account,
    )
    app: FastAPI = generated_modules().app.create_app(
        portal,
        max_batch=max_batch,
        logger=logging.getLogger("qcvngen.sandbox"),
        capture=capture,
        **dict(limits or {}),
    )
    served = generated_modules()
    document = _served_document()
    app.state.view_token = view_token or secrets.token_urlsafe(24)
    Views(
        store,
        masker_from_document(document, not show_personal_data),
        status_labels(served.models.__package__ or "qcvn120_client"),
        app.state.view_token,
        portal.account_for_session,
    ).add_to(app)
    return app, portal


def _served_document() -> dict[str, Any]:
    """The OpenAPI document of the generated server package the sandbox runs (what it serves)."""
    package = generated_modules().app.__package__ or "qcvn120_server"
    return dict(json.loads(resources.files(package).joinpath("openapi.json").read_bytes()))

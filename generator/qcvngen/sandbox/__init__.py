"""``qcvngen sandbox``: a local, stateful stand-in for the National Public Service Portal."""

from __future__ import annotations

from .accounts import Credentials
from .app import DEFAULT_ACCOUNT, create_sandbox_app
from .portal import MAX_SESSIONS_PER_ACCOUNT, SandboxPortal

__all__ = ["DEFAULT_ACCOUNT", "MAX_SESSIONS_PER_ACCOUNT", "Credentials", "SandboxPortal", "create_sandbox_app"]

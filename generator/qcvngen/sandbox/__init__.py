"""``qcvngen sandbox``: a local, stateful stand-in for the National Public Service Portal."""

from __future__ import annotations

from .app import DEFAULT_ACCOUNT, create_sandbox_app
from .portal import Credentials, SandboxPortal

__all__ = ["DEFAULT_ACCOUNT", "Credentials", "SandboxPortal", "create_sandbox_app"]

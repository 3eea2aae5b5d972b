"""schemathesis auth for QCVN 120: log in once, put the session (and the unit) into every JSON body.

The portal has no HTTP security scheme: the session travels in the request body (`security: []`).
Use: SCHEMATHESIS_HOOKS=schemathesis_auth (this file on PYTHONPATH), with QCVN120_BASE_URL,
QCVN120_USERNAME, QCVN120_PASSWORD and QCVN120_MADONVI set; docs/other-languages.md shows it.
"""

from __future__ import annotations

import json
import os
import urllib.request
from typing import Any

import schemathesis


@schemathesis.auth(refresh_interval=300)
class PortalSession:
    """The session of one account, renewed every 5 minutes (the sandbox's sessions last 10)."""

    def get(self, case: Any, ctx: Any) -> str:
        credentials = {"username": os.environ["QCVN120_USERNAME"], "password": os.environ["QCVN120_PASSWORD"]}
        request = urllib.request.Request(
            os.environ["QCVN120_BASE_URL"].rstrip("/") + "/auth",
            data=json.dumps(credentials).encode(),
            headers={"Content-Type": "application/json"},
        )
        with urllib.request.urlopen(request, timeout=30) as answer:
            return str(json.load(answer)["session"])

    def set(self, case: Any, data: str, ctx: Any) -> None:
        if case.path != "/auth" and isinstance(case.body, dict):
            case.body = {**case.body, "session": data, "madonvi": os.environ["QCVN120_MADONVI"]}

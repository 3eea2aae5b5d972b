"""The generated server stubs alone under uvicorn, for the ingest table: a handler that accepts the
sandbox's login and answers every packet "0" without storing anything, so the row beside the
sandbox's shows what the stubs themselves cost (strict parse, model validation, dispatch).

    python bench/stub_server.py PORT
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import baselines


def stub_app() -> Any:
    from qcvn120_server import services
    from qcvn120_server.handler import Account, Answer, PortalHandler

    account = Account("sandbox", baselines.MADONVI)

    def accept(self: Any, request: Any, context: Any) -> Answer:
        return Answer()

    methods: dict[str, Any] = dict.fromkeys(PortalHandler.__abstractmethods__, accept)
    methods["login"] = lambda self, username, password: "stub-session" if (username, password) == ("sandbox", "sandbox") else None
    methods["account_for_session"] = lambda self, session: account if session == "stub-session" else None
    handler = type("AcceptEverything", (PortalHandler,), methods)()
    return services.create_app(handler)


def main() -> None:
    import uvicorn

    uvicorn.run(stub_app(), host="127.0.0.1", port=int(sys.argv[1]), log_level="warning")


if __name__ == "__main__":
    main()

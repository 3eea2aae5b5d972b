"""new-or-update without the sandbox's convention (issue 17 part 5).

A fake portal on real uvicorn whose "already exists" (-3) names no dossier: the client finds the
held ones by halving, stores nothing twice and sends updates only for what the portal holds. Then
two clients push the same dossiers at once into the real sandbox: neither fails, each dossier is
stored once and updated once.
"""

from __future__ import annotations

import threading
from typing import Any

import pytest

from support.fake_portal import FakePortal, serve
from support.portal_calls import MADONVI, opencps_dossier
from support.sandbox_process import start_sandbox, view_all


class SilentPortal:
    """DongBoHoSoMC like a portal that answers -3 for a batch holding any known dossier, naming none."""

    def __init__(self, held: set[str]) -> None:
        self.held = dict.fromkeys(held, 0)  # MaHoSo → updates received
        self.stored_as_new: list[str] = []
        self.requests: list[tuple[str, list[str]]] = []

    def __call__(self, body: dict[str, Any]) -> dict[str, Any]:
        keys = [record["MaHoSo"] for record in body.get("data", [])]
        updating = body.get("isUpdating") == "True"
        self.requests.append(("update" if updating else "new", keys))
        if updating:
            if any(key not in self.held for key in keys):
                return {"error_code": "-1", "message": "Không tìm thấy hồ sơ"}
            for key in keys:
                self.held[key] += 1
            return {"error_code": "0", "message": "Cập nhật thành công"}
        if any(key in self.held for key in keys):
            return {"error_code": "-3", "message": "Hồ sơ đã tồn tại", "result": []}
        for key in keys:
            self.held[key] = 0
        self.stored_as_new.extend(keys)
        return {"error_code": "0", "message": "Thành công"}


def client(url: str, **options: Any) -> Any:
    import qcvn120_client

    return qcvn120_client.Client(url, username="u", password="p", madonvi="000.00.00.H99", backoff=0, **options)


@pytest.mark.parametrize("held_at", [(), (5,), (0, 7, 8, 15), tuple(range(16))])
def test_held_dossiers_are_found_when_the_refusal_names_none(models: Any, held_at: tuple[int, ...]) -> None:
    keys = [f"H99.01-261130-{n:04d}" for n in range(16)]
    held = {keys[n] for n in held_at}
    portal = SilentPortal(held)
    with serve(FakePortal(portal)) as url, client(url, batch_size=16) as push:
        results = push.dong_bo_ho_so_mc_new_or_update([opencps_dossier(key) for key in keys])
    assert all(result.error_code == "0" for result in results)
    assert sorted(portal.stored_as_new) == sorted(set(keys) - held), "every new dossier stored, once"
    assert {key: n for key, n in portal.held.items() if n} == dict.fromkeys(held, 1), "updates: held ones, once"
    updates = [keys for kind, keys in portal.requests if kind == "update"]
    assert all(set(update) <= held for update in updates), "never an update for a dossier the portal lacks"
    # Few extra round trips: at most about 2·k·log2(n) for k held of n, plus the update.
    extra = len(portal.requests) - 1
    assert extra <= max(1, 2 * len(held) * 4 + 1), portal.requests


def test_a_dossier_stored_by_another_writer_in_between_is_retried_once_as_an_update(models: Any) -> None:
    keys = [f"H99.01-261130-{n:04d}" for n in range(8)]
    portal = SilentPortal({keys[0]})
    inner = portal.__call__
    calls = {"n": 0}

    def racing(body: dict[str, Any]) -> dict[str, Any]:
        calls["n"] += 1
        if calls["n"] == 2:  # between the refusal and the resend, another writer stores keys[6]
            portal.held.setdefault(keys[6], 0)
        return inner(body)

    with serve(FakePortal(racing)) as url, client(url, batch_size=8) as push:
        push.dong_bo_ho_so_mc_new_or_update([opencps_dossier(key) for key in keys])
    assert sorted(portal.stored_as_new) == sorted(set(keys) - {keys[0], keys[6]})
    assert portal.held[keys[0]] == 1 and portal.held[keys[6]] == 1


def test_two_clients_new_or_update_the_same_dossiers_at_once(tmp_path: Any, models: Any) -> None:
    import qcvn120_client

    sandbox = start_sandbox(tmp_path / "state.sqlite3")
    failures: list[BaseException] = []
    rounds, size = 20, 6
    options = {"username": "sandbox", "password": "sandbox", "madonvi": MADONVI, "backoff": 0}
    # Small batches, in opposite orders: each client's batches overlap the other's mid-way, so a
    # dossier refused as new by one is often stored by the other before the first resends it.
    clients = [qcvn120_client.Client(sandbox.base_url, batch_size=batch, **options) for batch in (2, 3)]
    try:

        def push(portal: Any, batch: list[dict[str, Any]], start: threading.Barrier) -> None:
            try:
                start.wait()
                portal.dong_bo_ho_so_mc_new_or_update(batch)
            except BaseException as error:
                failures.append(error)

        for portal in clients:
            portal.login()
        for round_ in range(rounds):
            batch = [opencps_dossier(f"H99.01-2611{round_:02d}-{n:04d}") for n in range(size)]
            start = threading.Barrier(2)
            orders = [batch, batch[::-1]]
            threads = [
                threading.Thread(target=push, args=(p, order, start)) for p, order in zip(clients, orders, strict=True)
            ]
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join(timeout=60)
        dossiers = view_all(sandbox.base_url, "/sandbox/api/dossiers", "dossiers")
    finally:
        for portal in clients:
            portal.close()
        sandbox.stop()
    assert not failures, [repr(f) for f in failures]
    keys = [d["MaHoSo"] for d in dossiers if d["MaHoSo"].startswith("H99.01-2611")]
    assert len(keys) == len(set(keys)) == rounds * size, "each dossier stored once"
    versions = {d["versions"] for d in dossiers if d["MaHoSo"] in keys}
    assert versions == {2}, "each stored by one client and updated by the other"

"""The audit middleware's grouped writes: every request audited, many per write under load."""

from __future__ import annotations

import threading
import time
from typing import Any

import anyio
import httpx
from starlette.types import Receive, Scope, Send

from api.middleware import AuditMiddleware


async def _ok(scope: Scope, receive: Receive, send: Send) -> None:
    scope["state"]["n_results"] = int(scope["path"].rsplit("/", 1)[-1])  # which request
    await anyio.sleep(0.01)
    await send({"type": "http.response.start", "status": 200, "headers": []})
    await send({"type": "http.response.body", "body": b"{}"})


def test_concurrent_requests_are_each_audited_once_in_fewer_writes() -> None:
    """Forty concurrent requests against a slow writer: each entry is stored exactly once,
    before its request's ASGI call returns, and writes carry several entries each."""
    stored: list[dict[str, Any]] = []
    calls: list[int] = []
    lock = threading.Lock()

    def writer(entries: list[dict[str, Any]]) -> None:
        time.sleep(0.02)  # a slow commit, so requests finish while one is in flight
        with lock:
            calls.append(len(entries))
            stored.extend(entries)

    app = AuditMiddleware(_ok, writer=writer)
    returned_before_stored: list[int] = []

    async def one(client: httpx.AsyncClient, i: int) -> None:
        response = await client.get(f"/v1/things/{i}")
        assert response.status_code == 200
        with lock:
            if i not in {e["n_results"] for e in stored}:
                returned_before_stored.append(i)

    async def main() -> None:
        transport = httpx.ASGITransport(app=app)
        client = httpx.AsyncClient(transport=transport, base_url="http://t")
        async with client, anyio.create_task_group() as tasks:
            for i in range(40):
                tasks.start_soon(one, client, i)

    anyio.run(main)
    assert len(stored) == 40
    assert all(e["status"] == 200 and e["method"] == "GET" for e in stored)
    assert sorted(e["n_results"] for e in stored) == list(range(40))
    assert all("created_at" in e for e in stored)
    assert sum(calls) == 40 and len(calls) < 40, calls
    assert not returned_before_stored


def test_a_failing_writer_never_fails_the_request() -> None:
    """The writer raising is logged; the response and the next request are unaffected."""

    def writer(entries: list[dict[str, Any]]) -> None:
        raise RuntimeError("database gone")

    app = AuditMiddleware(_ok, writer=writer)

    async def main() -> None:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
            for i in range(2):
                assert (await client.get(f"/v1/x/{i}")).status_code == 200

    anyio.run(main)

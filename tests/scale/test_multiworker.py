"""Several workers, one PostgreSQL store: the real ``vcsmatch serve --workers 2``.

Each worker is a separate process with its own copy of the model; they share only the
database. These tests check that a model registered while the server runs reaches every worker
(each polls the registry every ``model_poll_seconds``) and that ratings sent through either
worker land in the one shared log. A response is traced to the worker that answered it by the
server-side socket of its connection (``/proc``), so "every worker" is checked, not assumed.
"""

from __future__ import annotations

import contextlib
import http.client
import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

pytestmark = [
    pytest.mark.slow,
    pytest.mark.postgres,
    pytest.mark.skipif(not Path("/proc/net/tcp").exists(), reason="traces workers via /proc"),
]

VCSMATCH = str(Path(sys.executable).with_name("vcsmatch"))
#: Generous: two workers import scikit-learn and load a model on a shared 2-core machine.
START_DEADLINE_S = 240.0
#: How long a new model may take to reach every worker (poll interval 0.5 s, plus loading).
SPREAD_DEADLINE_S = 120.0


@dataclass
class Server:
    url: str
    port: int
    process: subprocess.Popen[bytes]
    log: Path


@dataclass
class Seeded:
    data_dir: Path
    database_url: str
    model_dir: Path
    key: str
    people: list[dict]


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory: pytest.TempPathFactory) -> tuple[object, Path]:
    """A small synthetic world and a Recommender trained on it, saved as `vcsmatch train` does."""
    from vcsmatch.ranking.recommender import Recommender
    from vcsmatch.synthetic import make_world

    world = make_world(n_services=60, n_people=150, n_new_people=8, seed=3)
    model = Recommender(show_progress=False).set_params(
        parts__collaborative__n_factors=8, parts__collaborative__iterations=5
    )
    model.fit(world.catalogue, world.ratings)
    return world, model.save(tmp_path_factory.mktemp("model"))


@pytest.fixture
def seeded(postgres_url: str, model_dir: tuple[object, Path], tmp_path: Path) -> Seeded:
    """A fresh PostgreSQL store holding the catalogue, model version "scale-v1" and a key."""
    from vcsmatch.settings import Settings
    from vcsmatch.store import api_keys, catalogue_versions, model_registry
    from vcsmatch.store.db import dispose_engines, open_store

    world, directory = model_dir
    sessions = open_store(Settings(data_dir=tmp_path, database_url=postgres_url))
    with sessions() as session:
        catalogue_versions.save_catalogue(session, world.catalogue)  # type: ignore[attr-defined]
        model_registry.register_model(session, directory, version="scale-v1")
        key, _ = api_keys.create_key(session, "practitioner", "scale test")
    dispose_engines()
    people = [
        {**p.model_dump(mode="json", exclude_none=True, exclude={"reference"}), "top_k": 3}
        for p in world.new_people  # type: ignore[attr-defined]
        if p.has_location
    ]
    return Seeded(tmp_path, postgres_url, directory, key, people)


@pytest.fixture
def server(seeded: Seeded) -> Iterator[Server]:
    """`vcsmatch serve --workers 2` in its own process group, killed as a group afterwards."""
    port = _free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("VCSMATCH_")}
    env.update(
        VCSMATCH_DATA_DIR=str(seeded.data_dir),
        VCSMATCH_DATABASE_URL=seeded.database_url,
        VCSMATCH_MODEL_POLL_SECONDS="0.5",
        VCSMATCH_RATE_LIMIT_PER_MINUTE="100000",
        # the learner and exploration stay off (see tests/conftest.py)
        VCSMATCH_LEARN_ENABLED="false",
        VCSMATCH_EXPLORE_SHARE="0",
    )
    log = seeded.data_dir / "serve.log"
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [VCSMATCH, "serve", "--port", str(port), "--workers", "2"],
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        yield Server(f"http://127.0.0.1:{port}", port, proc, log)
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _group_pids(pgid: int) -> list[int]:
    """Every live process in the process group ``pgid`` (the server and its workers)."""
    pids = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        fields = stat[stat.rindex(")") + 2 :].split()
        if int(fields[2]) == pgid:  # fields after the name: state, ppid, pgrp, ...
            pids.append(int(entry.name))
    return pids


def _answering_pid(server: Server, client_port: int) -> int | None:
    """The pid holding the server side of the loopback connection from ``client_port``."""
    inode = None
    want_local = f"0100007F:{server.port:04X}"
    want_remote = f"0100007F:{client_port:04X}"
    for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
        parts = line.split()
        if parts[1] == want_local and parts[2] == want_remote:
            inode = parts[9]
            break
    if inode is None:
        return None
    target = f"socket:[{inode}]"
    for pid in _group_pids(server.process.pid):
        fd_dir = Path(f"/proc/{pid}/fd")
        with contextlib.suppress(OSError):
            for fd in fd_dir.iterdir():
                with contextlib.suppress(OSError):
                    if os.readlink(fd) == target:
                        return pid
    return None


def _call(
    server: Server, method: str, path: str, body: dict | None = None, key: str | None = None
) -> tuple[int | None, int, dict]:
    """One request on a fresh connection: (answering worker's pid, status, JSON body)."""
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=30)
    try:
        headers = {"Content-Type": "application/json"}
        if key:
            headers["Authorization"] = f"Bearer {key}"
        conn.request(method, path, body=None if body is None else json.dumps(body), headers=headers)
        response = conn.getresponse()
        payload = response.read()
        # the connection is still open (keep-alive): find who holds its other end
        pid = _answering_pid(server, conn.sock.getsockname()[1])
        data = json.loads(payload) if payload else {}
        return pid, response.status, data
    finally:
        conn.close()


def _wait_ready(server: Server) -> set[int]:
    """Poll /ready on fresh connections until two distinct workers have each answered 200."""
    ready: set[int] = set()
    deadline = time.monotonic() + START_DEADLINE_S
    while len(ready) < 2:
        if server.process.poll() is not None or time.monotonic() > deadline:
            pytest.fail(f"server not ready with 2 workers:\n{server.log.read_text()[-3000:]}")
        try:
            pid, status, _ = _call(server, "GET", "/ready")
        except OSError:
            time.sleep(0.5)
            continue
        if status == 200 and pid is not None:
            ready.add(pid)
        else:
            time.sleep(0.2)
    return ready


def test_new_model_reaches_every_worker_without_restart(server: Server, seeded: Seeded) -> None:
    """A model registered while two workers serve is used by both within the poll deadline."""
    from vcsmatch.settings import Settings
    from vcsmatch.store import model_registry
    from vcsmatch.store.db import dispose_engines, open_store

    workers = _wait_ready(server)
    versions = {}
    for i in range(40):
        pid, status, data = _call(
            server, "POST", "/v1/recommendations", seeded.people[i % len(seeded.people)], seeded.key
        )
        assert status == 200, data
        if pid is not None:  # None: the connection closed before it could be traced
            versions[pid] = data["model_version"]
        if set(versions) >= workers:
            break
    assert versions == dict.fromkeys(workers, "scale-v1")

    sessions = open_store(Settings(data_dir=seeded.data_dir, database_url=seeded.database_url))
    with sessions() as session:
        model_registry.register_model(session, seeded.model_dir, version="scale-v2")
    dispose_engines()

    latest: dict[int | None, str] = {}
    deadline = time.monotonic() + SPREAD_DEADLINE_S
    i = 0
    while not all(latest.get(pid) == "scale-v2" for pid in workers):
        assert time.monotonic() < deadline, f"after {SPREAD_DEADLINE_S} s workers serve {latest}"
        pid, status, data = _call(
            server, "POST", "/v1/recommendations", seeded.people[i % len(seeded.people)], seeded.key
        )
        i += 1
        assert status == 200, data  # no request fails while a worker swaps models
        latest[pid] = data["model_version"]
        time.sleep(0.05)
    assert server.process.poll() is None  # nothing restarted the server
    assert set(_group_pids(server.process.pid)) >= workers  # the same worker processes


def test_ratings_through_different_workers_share_one_log(server: Server, seeded: Seeded) -> None:
    """Ratings sent through each of two workers are all in the one PostgreSQL ratings log."""
    from vcsmatch.settings import Settings
    from vcsmatch.store import ratings_log
    from vcsmatch.store.db import dispose_engines, open_store

    workers = _wait_ready(server)
    stored: dict[int, list[int]] = {}
    for i in range(60):
        person = seeded.people[i % len(seeded.people)]
        pid, status, rec = _call(server, "POST", "/v1/recommendations", person, seeded.key)
        assert status == 200, rec
        if not rec["suggestions"]:
            continue
        rating = {
            "request_id": rec["request_id"],
            "service_id": rec["suggestions"][0]["service_id"],
            "rating": 1 + i % 5,
            "idempotency_key": f"scale-{i}",
        }
        pid, status, body = _call(server, "POST", "/v1/ratings", rating, seeded.key)
        assert status == 201, body
        assert pid is not None
        stored.setdefault(pid, []).extend(r["id"] for r in body["data"])
        if set(stored) >= workers and sum(map(len, stored.values())) >= 10:
            break
    assert set(stored) >= workers, f"ratings reached only workers {sorted(stored)}"

    sessions = open_store(Settings(data_dir=seeded.data_dir, database_url=seeded.database_url))
    with sessions() as session:
        in_log = {r.id for r in ratings_log.list_ratings(session)}
    dispose_engines()
    sent = {rid for ids in stored.values() for rid in ids}
    assert sent <= in_log
    assert len(in_log) == len(sent)  # the fresh store held no ratings before this test

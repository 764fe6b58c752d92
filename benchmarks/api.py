"""The serving path through the real server: ``python benchmarks/api.py [--quick]``.

Starts ``vcsmatch serve --workers N`` on a scratch store (a synthetic 700-service catalogue and a
model trained on its ratings, on SQLite and on a fresh PostgreSQL database when a server answers
at 127.0.0.1:5432) and drives it from a bounded async client (``httpx.AsyncClient``, keep-alive
connections, loopback) for ``--seconds`` per phase, at 1, 4 and 16 clients, with 1 and 2
workers:

- ``GET /health``: the framework's own ceiling on this machine, measured in the same run;
- ``POST /v1/recommendations``: one person per request (needs, strengths, age, sex, a place),
  top 10, authenticated, logged minimised with its exposures and audited, as in production;
- ``GET /v1/services?q=...&postcode=...``: the front door's search, text and a real postcode.

Prints, per store and worker count, each endpoint's sequential p50/p99 (one client) and its
throughput at each client count, as ratios to health's measured beside it, and the targets:
sequential recommendation p50 within the in-process ranking time (``Recommender.recommend`` on
the same people, timed in this process in the same run) + 2 ms; search p50 within 3x health's;
at 16 clients and one worker, recommendations at 0.6x health's throughput or more.

The sequential phases run twice: with ``httpx`` (as the throughput phases) and with the
standard library's ``http.client`` on one blocking connection. ``httpx``'s own work is most of
health's latency (about 0.75 ms of 0.95 on a 2-core machine; some 0.3 ms of it httpcore trying
``import sniffio`` on every request when sniffio is not installed), so the plain client's
figures are nearer the server's own, and the targets are judged on both.

``--baseline DIR`` runs a second server from another checkout (a ``git worktree`` of main, say)
beside this one, on a store of its own prepared by its own code, and alternates the two phase by
phase, so "before" and "after" meet the same machine load; the tables then show both.
``--profile DIR`` samples this checkout's workers with py-spy during the recommendation phase at
16 clients (``pip install py-spy``): collapsed stacks, a flame graph SVG and a table of where the
CPU goes. The machine is shared: read the ratios, which are measured side by side.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import http.client
import json
import os
import pickle
import random
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import numpy as np
from _common import (
    PYTHON,
    console,
    exit_cleanly_on_sigterm,
    hot_functions,
    machine,
    percentiles,
    postgres_database,
    py_spy,
    serve,
    server_env,
    table,
    verdict,
)
from search import TEXTS

BENCHMARKS = Path(__file__).resolve().parent
ENDPOINTS = ("health", "recommend", "search")


@dataclass
class Workload:
    """What the clients send: people for recommendations, text and postcodes for search."""

    bodies: list[dict]
    postcodes: list[str]


def make_world(n_people: int, seed: int) -> tuple[object, object, Workload, list[object]]:
    """A synthetic world (catalogue, ratings), the request bodies for its new people, and
    those people as ``Person`` objects (for the in-process ranking time)."""
    from vcsmatch.synthetic import make_world as synthetic_world

    world = synthetic_world(n_services=700, n_people=n_people, n_new_people=300, seed=seed)
    bodies = []
    for p in world.new_people:
        body = p.model_dump(mode="json", exclude_none=True, exclude={"reference"})
        body["top_k"] = 10
        bodies.append(body)
    codes = sorted({p.postcode for p in world.people + world.new_people if p.postcode})
    return world.catalogue, world.ratings, Workload(bodies, codes), list(world.new_people)


def in_process_ranking_ms(model_dir: Path, people: list[object], n: int = 300) -> dict[str, float]:
    """``Recommender.recommend`` alone, as the route calls it (postcode resolved to coordinates
    first, the serving exploration policy), over the benchmark's people: ms percentiles."""
    from vcsmatch.features.location import locate
    from vcsmatch.ranking.exploration import Exploration
    from vcsmatch.ranking.recommender import Recommender
    from vcsmatch.settings import Settings

    settings = Settings()
    model = Recommender.load(model_dir)
    # The route's policy (api.routes.recommendations.exploration_policy; this script's name
    # hides the ``api`` package).
    policy = (
        Exploration(share=settings.explore_share, max_ratings=settings.explore_max_ratings)
        if settings.explore_share > 0
        else None
    )
    located = []
    for person in people:
        where = locate(person, settings=settings)  # type: ignore[arg-type]
        if where is not None and person.latitude is None:  # type: ignore[attr-defined]
            person = person.model_copy(update={"latitude": where[0], "longitude": where[1]})  # type: ignore[attr-defined]
        located.append(person)
    for person in located[:20]:
        model.recommend(person, top_k=10, exploration=policy)
    times = []
    for i in range(n):
        start = time.perf_counter()
        model.recommend(located[i % len(located)], top_k=10, exploration=policy)
        times.append((time.perf_counter() - start) * 1000.0)
    return percentiles(times)


async def drive(
    url: str,
    endpoint: str,
    seconds: float,
    clients: int,
    workload: Workload,
    headers: dict[str, str],
) -> dict[str, float]:
    """Keep ``clients`` requests to ``endpoint`` in flight for ``seconds``."""
    latencies: list[float] = []
    errors = 0
    limits = httpx.Limits(max_connections=clients, max_keepalive_connections=clients)
    rng = random.Random(0)
    async with httpx.AsyncClient(base_url=url, limits=limits, timeout=30, headers=headers) as c:
        await asyncio.gather(*[_one(c, endpoint, workload, rng) for _ in range(clients * 4)])
        stop = time.perf_counter() + seconds

        async def client() -> None:
            nonlocal errors
            while time.perf_counter() < stop:
                t = time.perf_counter()
                status = await _one(c, endpoint, workload, rng)
                latencies.append((time.perf_counter() - t) * 1000.0)
                errors += status != 200

        start = time.perf_counter()
        await asyncio.gather(*[client() for _ in range(clients)])
        elapsed = time.perf_counter() - start
    out = percentiles(latencies)
    out["rps"] = len(latencies) / elapsed
    out["errors"] = errors
    out["sent"] = len(latencies) + clients * 4  # with the warm-up
    return out


async def _one(c: httpx.AsyncClient, endpoint: str, workload: Workload, rng: random.Random) -> int:
    if endpoint == "health":
        r = await c.get("/health")
    elif endpoint == "recommend":
        r = await c.post("/v1/recommendations", json=rng.choice(workload.bodies))
    else:
        params = {"q": rng.choice(TEXTS), "postcode": rng.choice(workload.postcodes)}
        r = await c.get("/v1/services", params=params)
    return r.status_code


def plain_sequential(
    url: str, endpoint: str, seconds: float, workload: Workload, headers: dict[str, str]
) -> dict[str, float]:
    """One request after another on one keep-alive ``http.client`` connection for
    ``seconds``: the server's latency with as little client work as the stdlib allows."""
    host, port = url.removeprefix("http://").split(":")
    connection = http.client.HTTPConnection(host, int(port), timeout=30)
    rng = random.Random(0)
    bodies = [json.dumps(b).encode() for b in workload.bodies]
    searches = [
        "/v1/services?" + httpx.QueryParams(q=q, postcode=p).__str__()
        for q, p in zip(TEXTS * 40, workload.postcodes * 2, strict=False)
    ]
    posted = {**headers, "Content-Type": "application/json"}

    def one() -> int:
        if endpoint == "health":
            connection.request("GET", "/health", headers=headers)
        elif endpoint == "recommend":
            connection.request("POST", "/v1/recommendations", rng.choice(bodies), posted)
        else:
            connection.request("GET", rng.choice(searches), headers=headers)
        response = connection.getresponse()
        response.read()
        return response.status

    for _ in range(20):
        one()
    latencies, errors = [], 0
    stop = time.perf_counter() + seconds
    try:
        while time.perf_counter() < stop:
            t = time.perf_counter()
            errors += one() != 200
            latencies.append((time.perf_counter() - t) * 1000.0)
    finally:
        connection.close()
    out = percentiles(latencies)
    out["errors"] = errors
    return out


@dataclass
class Side:
    """One checkout's server: this one, or ``--baseline``'s."""

    name: str
    root: Path  # the checkout whose code the server runs
    env: dict[str, str] = field(default_factory=dict)
    auth: dict[str, str] = field(default_factory=dict)
    #: A directory of stand-ins that refuse to import, put first on the server's path.
    hidden: Path | None = None
    #: (store, workers, endpoint, clients) -> measurements
    results: dict[tuple[str, int, str, int], dict[str, float]] = field(default_factory=dict)
    #: (store, workers, endpoint) -> sequential measurements with ``http.client``
    plain: dict[tuple[str, int, str], dict[str, float]] = field(default_factory=dict)


def prepare_side(
    side: Side, data_dir: Path, db_url: str, catalogue: object, model_dir: Path
) -> None:
    """Put the catalogue and model into ``side``'s own store, with ``side``'s own code (its
    migrations may differ from this checkout's), and a practitioner key."""
    data_dir.mkdir(parents=True)
    pickled = data_dir / "catalogue.pickle"
    pickled.write_bytes(pickle.dumps(catalogue))
    code = (
        "import pickle, sys\n"
        "from pathlib import Path\n"
        "from _common import prepare_store\n"
        "catalogue = pickle.loads(Path(sys.argv[1]).read_bytes())\n"
        "data_dir, url, model_dir = Path(sys.argv[2]), sys.argv[3], Path(sys.argv[4])\n"
        "keys = prepare_store(data_dir, url, catalogue, model_dir=model_dir)\n"
        "print(keys['practitioner'])\n"
    )
    out = run_as_side(side, "preparing the store", code, [pickled, data_dir, db_url, model_dir])
    side.auth = {"Authorization": f"Bearer {out.split()[-1]}"}
    path = [str(side.root)] if side.hidden is None else [str(side.hidden), str(side.root)]
    side.env = server_env(data_dir, db_url, PYTHONPATH=os.pathsep.join(path))


def train_side(side: Side, where: Path, catalogue: object, ratings: object) -> Path:
    """A model of ``side``'s own code, fitted on the same world: a baseline may not read this
    checkout's model format (a newer version), and each server should serve its own model."""
    where.mkdir(parents=True)
    pickled = where / "world.pickle"
    pickled.write_bytes(pickle.dumps((catalogue, ratings)))
    code = (
        "import pickle, sys\n"
        "from pathlib import Path\n"
        "from vcsmatch.ranking.recommender import Recommender\n"
        "catalogue, ratings = pickle.loads(Path(sys.argv[1]).read_bytes())\n"
        "Recommender(show_progress=False).fit(catalogue, ratings).save(Path(sys.argv[2]))\n"
    )
    run_as_side(side, "training the model", code, [pickled, where / "model"])
    return where / "model"


def run_as_side(side: Side, what: str, code: str, args: list[object]) -> str:
    """Run ``code`` with ``side``'s own code on the path (and ``_common``); its stdout."""
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(side.root), str(BENCHMARKS)])}
    done = subprocess.run(
        [PYTHON, "-c", code, *map(str, args)],
        env=env,
        cwd=side.root,
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        raise SystemExit(f"{what} of the {side.name} side failed:\n{done.stderr[-3000:]}")
    return done.stdout


def hide_modules(directory: Path, modules: list[str]) -> Path:
    """Stand-in packages that raise ImportError, so a baseline server runs as it would without
    a dependency this checkout added (uvicorn falls back to asyncio's loop without uvloop)."""
    for module in modules:
        (directory / module).mkdir(parents=True)
        (directory / module / "__init__.py").write_text(
            f"raise ImportError('{module} is hidden from the baseline by benchmarks/api.py')\n"
        )
    return directory


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seconds", type=float, default=8.0, help="duration of each phase")
    parser.add_argument("--quick", action="store_true", help="3 s phases (a run of minutes)")
    parser.add_argument("--clients", type=int, nargs="+", default=[1, 4, 16])
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--database", choices=["both", "postgres", "sqlite"], default="both")
    parser.add_argument("--people", type=int, default=1000, help="training people")
    parser.add_argument("--baseline", type=Path, help="another checkout to run beside this one")
    parser.add_argument(
        "--baseline-without",
        nargs="+",
        default=[],
        metavar="MODULE",
        help="modules the baseline's server may not import (dependencies this side added: uvloop)",
    )
    parser.add_argument(
        "--profile", type=Path, help="py-spy this checkout's workers (recommend, 16 clients)"
    )
    args = parser.parse_args()
    seconds = 3.0 if args.quick else args.seconds
    clients = sorted(set(args.clients) | {1})

    exit_cleanly_on_sigterm()
    console.print(f"machine: {machine()}")
    console.print("building a synthetic world and training a model...")
    catalogue, ratings, workload, people = make_world(args.people, seed=0)
    sides = [Side("after" if args.baseline else "this", BENCHMARKS.parent)]
    if args.baseline:
        sides.insert(0, Side("before", args.baseline.resolve()))

    stores: list[str] = []
    profiles: dict[int, list[Path]] = {}
    with contextlib.ExitStack() as stack:
        tmp = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="vcsmatch-bench-")))
        if args.baseline_without:
            sides[0].hidden = hide_modules(tmp / "hidden", args.baseline_without)
        from vcsmatch.ranking.recommender import Recommender

        model_dir = Recommender(show_progress=False).fit(catalogue, ratings).save(tmp / "model")
        ranking = in_process_ranking_ms(model_dir, people)
        models = {side.name: model_dir for side in sides}
        if args.baseline:  # the baseline serves a model of its own code's format
            models["before"] = train_side(sides[0], tmp / "model-before", catalogue, ratings)
        console.print(
            f"in-process ranking (Recommender.recommend, 700 services): p50 "
            f"{ranking['p50']:.2f} ms, p99 {ranking['p99']:.2f} ms"
        )
        for store in ("sqlite", "postgres"):
            if args.database not in ("both", store):
                continue
            urls = {}
            for side in sides:
                if store == "postgres":
                    urls[side.name] = stack.enter_context(postgres_database()) or ""
                    if not urls[side.name]:
                        if args.database == "postgres":
                            raise SystemExit("no PostgreSQL server answers at 127.0.0.1:5432")
                        break
                else:
                    urls[side.name] = ""
            if len(urls) < len(sides):
                console.print("no PostgreSQL server at 127.0.0.1:5432: SQLite only")
                continue
            stores.append(store)
            for side in sides:
                where = tmp / f"{store}-{side.name}"
                prepare_side(side, where, urls[side.name], catalogue, models[side.name])
            for n_workers in args.workers:
                console.print(f"[bold]{store}, {n_workers} worker(s)[/bold]")
                with contextlib.ExitStack() as servers:
                    running = [
                        servers.enter_context(serve(s.env, workers=n_workers)) for s in sides
                    ]
                    for side, server in zip(sides, running, strict=True):
                        _warm(server.url, workload, side.auth)
                    for endpoint in ENDPOINTS:
                        for n_clients in clients:
                            for side, server in zip(sides, running, strict=True):
                                profile = (
                                    args.profile
                                    if side is sides[-1]
                                    and endpoint == "recommend"
                                    and n_clients == max(clients)
                                    else None
                                )
                                where = (
                                    profile / f"{store}-{n_workers}-workers" if profile else None
                                )
                                cpu0 = server.cpu_seconds()
                                with py_spy(
                                    server.worker_pids(), where, seconds, svg=True
                                ) as stacks:
                                    m = asyncio.run(
                                        drive(
                                            server.url,
                                            endpoint,
                                            seconds,
                                            n_clients,
                                            workload,
                                            side.auth,
                                        )
                                    )
                                m["cpu_ms"] = (server.cpu_seconds() - cpu0) / m["sent"] * 1000
                                side.results[store, n_workers, endpoint, n_clients] = m
                                if n_clients == 1:
                                    side.plain[store, n_workers, endpoint] = plain_sequential(
                                        server.url, endpoint, seconds, workload, side.auth
                                    )
                                if stacks:
                                    profiles[n_workers] = stacks
    report(sides, stores, args.workers, clients, ranking)
    for n_workers, stacks in profiles.items():
        rows = hot_functions(stacks, top=20, project=("api/", "vcsmatch/"))
        if rows:
            table(
                f"py-spy --gil, recommend at {max(clients)} clients, {n_workers} worker(s): share "
                "of the workers' CPU samples by innermost project function (-> library under it)",
                ["where", "share"],
                rows,
            )
    console.print(f"load average at end: {os.getloadavg()[0]:.1f}")


def _warm(url: str, workload: Workload, auth: dict[str, str]) -> None:
    """Every code path once per worker before timing (postcode areas load on first use)."""

    async def warm() -> None:
        limits = httpx.Limits(max_connections=8)
        async with httpx.AsyncClient(base_url=url, headers=auth, limits=limits, timeout=60) as c:
            rng = random.Random(1)
            for endpoint in ENDPOINTS:
                await asyncio.gather(*[_one(c, endpoint, workload, rng) for _ in range(60)])

    asyncio.run(warm())


def report(
    sides: list[Side],
    stores: list[str],
    workers: list[int],
    clients: list[int],
    ranking: dict[str, float],
) -> None:
    """The tables: per store and workers, each endpoint against health; then the targets."""
    rows = []
    for store in stores:
        for n_workers in workers:
            for endpoint in ENDPOINTS:
                for side in sides:
                    r = side.results
                    seq = r[store, n_workers, endpoint, 1]
                    health_seq = r[store, n_workers, "health", 1]
                    row: list[object] = [
                        f"{store}, {n_workers}w, {endpoint}"
                        + (f" ({side.name})" if len(sides) > 1 else ""),
                        seq["p50"],
                        seq["p99"],
                        f"{seq['p50'] / health_seq['p50']:.1f}x",
                    ]
                    for n in clients:
                        m, h = r[store, n_workers, endpoint, n], r[store, n_workers, "health", n]
                        row.append(f"{m['rps']:,.0f} ({m['rps'] / h['rps']:.2f}x)")
                    row.append(r[store, n_workers, endpoint, max(clients)]["cpu_ms"])
                    row.append(sum(r[store, n_workers, endpoint, n]["errors"] for n in clients))
                    rows.append(row)
    table(
        "sequential p50/p99 (1 client; x health's p50), throughput req/s at each client count "
        "(x health's at the same count), server CPU ms/req at the most clients",
        [
            "store, workers, endpoint",
            "p50 ms",
            "p99 ms",
            "p50/health",
            *[f"{n} client(s)" for n in clients],
            "CPU ms/req",
            "errors",
        ],
        rows,
    )
    rows = []
    for store in stores:
        for n_workers in workers:
            for side in sides:
                plain = side.plain
                health = plain[store, n_workers, "health"]["p50"]
                row: list[object] = [
                    f"{store}, {n_workers}w" + (f" ({side.name})" if len(sides) > 1 else "")
                ]
                for endpoint in ENDPOINTS:
                    m = plain[store, n_workers, endpoint]
                    row.append(f"{m['p50']:.2f} / {m['p99']:.2f} ({m['p50'] / health:.1f}x)")
                rows.append(row)
    table(
        "sequential p50 / p99 ms with http.client (one blocking connection: little client "
        "work), x health's p50",
        ["store, workers", *ENDPOINTS],
        rows,
    )
    rows = []
    budget = ranking["p50"] + 2.0
    for store in stores:
        for side in sides:
            r = side.results
            name = f"{store}" + (f" ({side.name})" if len(sides) > 1 else "")
            w1 = min(workers)
            top = max(clients)
            share = r[store, w1, "recommend", top]["rps"] / r[store, w1, "health", top]["rps"]
            sequential = {
                "httpx": {e: r[store, w1, e, 1]["p50"] for e in ENDPOINTS},
                "http.client": {e: side.plain[store, w1, e]["p50"] for e in ENDPOINTS},
            }
            for client, p50 in sequential.items():
                rec, search, health = p50["recommend"], p50["search"], p50["health"]
                rows.append(
                    [
                        name,
                        client,
                        f"{rec:.2f} ms vs {budget:.2f} ({verdict(rec <= budget)})",
                        f"{search / health:.1f}x ({verdict(search <= 3 * health)})",
                        f"{share:.2f}x ({verdict(share >= 0.6)})" if client == "httpx" else "",
                    ]
                )
    table(
        f"targets, {min(workers)} worker: recommend p50 <= in-process ranking p50 "
        f"({ranking['p50']:.2f} ms) + 2 ms; search p50 <= 3x health's; recommend throughput at "
        f"{max(clients)} clients >= 0.6x health's (httpx)",
        [
            "store",
            "sequential client",
            "recommend p50",
            "search p50 / health",
            "recommend / health req/s",
        ],
        rows,
    )
    bad = sum(m["errors"] for s in sides for m in [*s.results.values(), *s.plain.values()])
    if bad:
        console.print(f"[bold red]{bad:.0f} requests did not answer 200[/bold red]")
    if np.isnan(ranking["p50"]):
        console.print("[bold red]in-process ranking was not measured[/bold red]")


if __name__ == "__main__":
    main()

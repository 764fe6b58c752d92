"""API throughput and latency: ``python benchmarks/api.py [--seconds 15] [--database sqlite]``.

Starts the real server (``vcsmatch serve --workers N``) on a scratch data directory whose store
holds a synthetic 700-service catalogue and a model trained on its ratings, then drives it from
a bounded async client (``httpx.AsyncClient``, ``--concurrency`` requests in flight, keep-alive
connections, loopback only) for ``--seconds`` per phase:

- ``GET /health``: the framework's own ceiling on this machine, measured in the same run;
- ``POST /v1/recommendations``: one person per request (needs, strengths, age, sex, a place),
  top 10, each request authenticated, logged minimised and audited as in production.

with 1 and with 2 workers. Prints requests/s and p50/p99 of each, and the targets: recommend
throughput at least 40% of health's, and p99 under 50 ms or within 2x health's p99 (the client
and the server share this machine's cores). ``--database postgres`` (the default when a server
answers at 127.0.0.1:5432) uses a fresh PostgreSQL database, as a multi-worker deployment does;
``sqlite`` the embedded file.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import random
import tempfile
import time
from pathlib import Path

import httpx
from _common import (
    console,
    exit_cleanly_on_sigterm,
    hot_functions,
    machine,
    percentiles,
    postgres_database,
    prepare_store,
    py_spy,
    serve,
    server_env,
    table,
    verdict,
)


def person_bodies(n_people: int, seed: int) -> tuple[object, object, list[dict]]:
    """A synthetic world (catalogue, ratings) and request bodies for its new people."""
    from vcsmatch.synthetic import make_world

    world = make_world(n_services=700, n_people=n_people, n_new_people=300, seed=seed)
    bodies = []
    for p in world.new_people:
        body = p.model_dump(mode="json", exclude_none=True, exclude={"reference"})
        body["top_k"] = 10
        bodies.append(body)
    return world.catalogue, world.ratings, bodies


async def drive(
    url: str,
    method: str,
    path: str,
    seconds: float,
    concurrency: int,
    headers: dict[str, str] | None = None,
    bodies: list[dict] | None = None,
) -> dict[str, float]:
    """Keep ``concurrency`` requests in flight for ``seconds``; latency and throughput."""
    latencies: list[float] = []
    errors = 0
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    rng = random.Random(0)
    async with httpx.AsyncClient(base_url=url, limits=limits, timeout=30, headers=headers) as c:
        # warm every connection (and every worker's code paths) first
        await asyncio.gather(*[_one(c, method, path, bodies, rng) for _ in range(concurrency * 4)])
        stop = time.perf_counter() + seconds

        async def worker() -> None:
            nonlocal errors
            while time.perf_counter() < stop:
                t = time.perf_counter()
                status = await _one(c, method, path, bodies, rng)
                latencies.append((time.perf_counter() - t) * 1000.0)
                errors += status != 200

        start = time.perf_counter()
        await asyncio.gather(*[worker() for _ in range(concurrency)])
        elapsed = time.perf_counter() - start
    out = percentiles(latencies)
    out["rps"] = len(latencies) / elapsed
    out["n"] = len(latencies)
    out["errors"] = errors
    out["sent"] = len(latencies) + concurrency * 4  # with the warm-up
    return out


async def _one(
    client: httpx.AsyncClient,
    method: str,
    path: str,
    bodies: list[dict] | None,
    rng: random.Random,
) -> int:
    if bodies:
        r = await client.request(method, path, json=rng.choice(bodies))
    else:
        r = await client.request(method, path)
    return r.status_code


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seconds", type=float, default=15.0, help="duration of each phase")
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--database", choices=["auto", "postgres", "sqlite"], default="auto")
    parser.add_argument("--people", type=int, default=1000, help="training people")
    parser.add_argument(
        "--profile", type=Path, help="sample the workers with py-spy during recommend, into DIR"
    )
    args = parser.parse_args()

    exit_cleanly_on_sigterm()
    console.print(f"machine: {machine()}")
    console.print("building a synthetic world and training a model...")
    catalogue, ratings, bodies = person_bodies(args.people, seed=0)

    results: dict[int, dict[str, dict[str, float]]] = {}
    profiles: dict[int, list[Path]] = {}
    rss: dict[int, list[float]] = {}
    with contextlib.ExitStack() as stack:
        tmp = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="vcsmatch-bench-")))
        db_url = ""
        if args.database != "sqlite":
            db_url = stack.enter_context(postgres_database()) or ""
            if not db_url and args.database == "postgres":
                raise SystemExit("no PostgreSQL server answers at 127.0.0.1:5432")
        store = "PostgreSQL" if db_url else "SQLite"
        keys = prepare_store(tmp, db_url, catalogue, ratings)
        auth = {"Authorization": f"Bearer {keys['practitioner']}"}
        env = server_env(tmp, db_url)
        for n_workers in args.workers:
            console.print(f"[bold]{n_workers} worker(s)[/bold], store: {store}")
            with serve(env, workers=n_workers) as server:
                url = server.url
                cpu0 = server.cpu_seconds()
                health = asyncio.run(drive(url, "GET", "/health", args.seconds, args.concurrency))
                cpu1 = server.cpu_seconds()
                health["cpu_ms"] = (cpu1 - cpu0) / health["sent"] * 1000
                where = args.profile / f"{n_workers}-workers" if args.profile else None
                with py_spy(server.worker_pids(), where, args.seconds) as stacks:
                    recs = asyncio.run(
                        drive(
                            url,
                            "POST",
                            "/v1/recommendations",
                            args.seconds,
                            args.concurrency,
                            headers=auth,
                            bodies=bodies,
                        )
                    )
                recs["cpu_ms"] = (server.cpu_seconds() - cpu1) / recs["sent"] * 1000
                profiles[n_workers] = stacks
                rss[n_workers] = server.worker_rss_mb()
            results[n_workers] = {"health": health, "recommend": recs}

    rows = []
    for n_workers, r in results.items():
        for name, m in r.items():
            rows.append(
                [
                    f"{name}, {n_workers} worker(s)",
                    m["rps"],
                    m["p50"],
                    m["p99"],
                    m["cpu_ms"],
                    m["errors"],
                ]
            )
    table(
        f"concurrency {args.concurrency}, {args.seconds:.0f} s per phase, store {store} "
        "(server CPU ms per request: the work, whatever the machine's load)",
        ["phase", "requests/s", "p50 ms", "p99 ms", "server CPU ms/req", "errors"],
        rows,
    )
    rows = []
    for n_workers, r in results.items():
        h, m = r["health"], r["recommend"]
        share = m["rps"] / h["rps"]
        p99_ratio = m["p99"] / h["p99"]
        p99_ok = m["p99"] < 50 or p99_ratio <= 2
        rows.append(
            [
                f"{n_workers} worker(s)",
                f"{share:.0%} ({verdict(share >= 0.4)})",
                f"{m['p99']:.1f} ms = {p99_ratio:.1f}x health ({verdict(p99_ok)})",
            ]
        )
    table(
        "targets: recommend >= 40% of health requests/s; p99 < 50 ms or <= 2x health p99",
        ["workers", "recommend / health rps", "recommend p99"],
        rows,
    )
    if 1 in results and 2 in results:
        gain = results[2]["recommend"]["rps"] / results[1]["recommend"]["rps"]
        console.print(f"2 workers / 1 worker, recommend requests/s: {gain:.2f}x")
    for n_workers, r in results.items():
        ratio = r["recommend"]["cpu_ms"] / r["health"]["cpu_ms"]
        console.print(
            f"{n_workers} worker(s): a recommendation costs the server {ratio:.1f}x the CPU of "
            "a health check (the throughput ratio it allows when the server has the cores)"
        )
    console.print(f"load average at end: {os.getloadavg()[0]:.1f}")
    for n_workers, sizes in rss.items():
        each = ", ".join(f"{mb:,.0f}" for mb in sizes)
        console.print(f"resident memory per worker with {n_workers} worker(s): {each} MB")
    for n_workers, stacks in profiles.items():
        rows = hot_functions(stacks, top=20, project=("api/", "vcsmatch/"))
        if rows:
            table(
                f"py-spy --gil, recommend phase, {n_workers} worker(s): share of the workers' "
                "CPU samples, by innermost project function (-> the library running under it)",
                ["where", "share"],
                rows,
            )
    bad = sum(m["errors"] for r in results.values() for m in r.values())
    if bad:
        console.print(f"[bold red]{bad:.0f} requests did not answer 200[/bold red]")


if __name__ == "__main__":
    main()

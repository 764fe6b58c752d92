"""Sustained load at a fixed request rate: ``python benchmarks/load.py [--rate 30] [--seconds 60]``.

Starts the real server (``vcsmatch serve --workers 2``) on a scratch store (a synthetic
catalogue and a model trained on its ratings), then an open-loop async client
(``httpx.AsyncClient`` on loopback) starts requests on a fixed schedule, ``--rate`` a second
for ``--seconds``, whatever the answers' speed (a closed loop would slow down with the server
and hide queueing). The mix, chosen per request from a seeded generator:

- ``recommend``: ``POST /v1/recommendations`` for one new person of the synthetic world;
- ``rate``: ``POST /v1/ratings`` citing one of the recommendations answered so far (its
  ``request_id``), with a unique idempotency key;
- ``search``: ``GET /v1/services`` with free text and a postcode.

Bounded in count (``rate x seconds`` requests), in flight (``--max-in-flight``; a request that
would exceed it is counted as failed, not queued) and in time (10 s per request, and the run
stops by itself). Prints count, failures, and p50/p95/p99/max latency per kind (from each
request's scheduled start, so time spent queued counts), and exits 1 when any request failed.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import random
import tempfile
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

import httpx
from _common import (
    console,
    exit_cleanly_on_sigterm,
    machine,
    percentiles,
    postgres_database,
    prepare_store,
    serve,
    server_env,
    table,
    verdict,
)
from rich.progress import Progress

KINDS = ("recommend", "rate", "search")
SEARCH_TEXTS = ("lunch club", "dementia cafe", "befriending", "walking group", "carers", "art")
REQUEST_TIMEOUT_S = 10.0


@dataclass
class Results:
    latencies_ms: dict[str, list[float]] = field(default_factory=lambda: {k: [] for k in KINDS})
    failures: dict[str, list[str]] = field(default_factory=lambda: {k: [] for k in KINDS})
    request_ids: list[str] = field(default_factory=list)
    max_in_flight: int = 0
    late_starts: int = 0


def world_for_load(seed: int) -> tuple[object, object, list[dict], list[str], list[str]]:
    """A synthetic county: catalogue, ratings, request bodies, its services and postcodes."""
    from vcsmatch.synthetic import make_world

    world = make_world(n_services=400, n_people=1500, n_new_people=300, seed=seed)
    bodies = []
    for p in world.new_people:
        body = p.model_dump(mode="json", exclude_none=True, exclude={"reference"})
        body["top_k"] = 10
        bodies.append(body)
    postcodes = sorted({p.postcode for p in world.new_people if p.postcode})
    services = [s.id for s in world.catalogue.services]
    return world.catalogue, world.ratings, bodies, services, postcodes


async def one_request(
    client: httpx.AsyncClient,
    kind: str,
    rng: random.Random,
    bodies: list[dict],
    postcodes: list[str],
    results: Results,
) -> None:
    """Send one request of ``kind``; record a failure for anything but the expected 2xx."""
    if kind == "rate" and not results.request_ids:
        kind = "recommend"  # nothing to rate yet
    try:
        if kind == "recommend":
            r = await client.post("/v1/recommendations", json=rng.choice(bodies))
            if r.status_code == 200:
                results.request_ids.append(r.json()["request_id"])
                suggestions = r.json()["suggestions"]
                if suggestions:
                    results.request_ids[-1] += "|" + rng.choice(suggestions)["service_id"]
            expected = 200
        elif kind == "rate":
            request_id, _, service_id = rng.choice(results.request_ids).partition("|")
            body = {
                "request_id": request_id,
                "service_id": service_id,
                "rating": rng.randint(1, 5),
                "idempotency_key": uuid.uuid4().hex,
            }
            r = await client.post("/v1/ratings", json=body)
            expected = 201
        else:
            params = {"q": rng.choice(SEARCH_TEXTS), "postcode": rng.choice(postcodes)}
            r = await client.get("/v1/services", params=params)
            expected = 200
    except httpx.HTTPError as exc:
        results.failures[kind].append(type(exc).__name__)
        return
    if r.status_code != expected:
        results.failures[kind].append(f"HTTP {r.status_code}")


async def hold_rate(
    url: str,
    headers: dict[str, str],
    rate: float,
    seconds: float,
    max_in_flight: int,
    bodies: list[dict],
    postcodes: list[str],
    mix: dict[str, float],
    seed: int,
) -> tuple[Results, float]:
    """Start ``rate`` requests a second for ``seconds`` on a fixed schedule (open loop)."""
    results = Results()
    rng = random.Random(seed)
    kinds = rng.choices(list(mix), weights=list(mix.values()), k=int(rate * seconds))
    limits = httpx.Limits(max_connections=max_in_flight, max_keepalive_connections=max_in_flight)
    in_flight = 0
    tasks: set[asyncio.Task[None]] = set()

    async def timed(kind: str, scheduled: float) -> None:
        nonlocal in_flight
        try:
            await asyncio.wait_for(
                one_request(client, kind, rng, bodies, postcodes, results), REQUEST_TIMEOUT_S
            )
        except TimeoutError:
            results.failures[kind].append("timeout")
        finally:
            in_flight -= 1
        results.latencies_ms[kind].append((time.perf_counter() - scheduled) * 1000.0)

    async with httpx.AsyncClient(
        base_url=url, headers=headers, limits=limits, timeout=REQUEST_TIMEOUT_S
    ) as client:
        # Warm-up, unmeasured: every connection and both workers' code paths.
        warmup = Results()
        for kind in ("recommend", "rate", "search") * 4:
            await one_request(client, kind, rng, bodies, postcodes, warmup)
        with Progress(console=console, transient=True) as bar:
            task_id = bar.add_task(f"{rate:g} requests/s", total=len(kinds))
            start = time.perf_counter()
            for i, kind in enumerate(kinds):
                scheduled = start + i / rate
                delay = scheduled - time.perf_counter()
                if delay > 0:
                    await asyncio.sleep(delay)
                elif delay < -0.05:
                    results.late_starts += 1  # the client itself fell behind its schedule
                if in_flight >= max_in_flight:
                    results.failures[kind].append("too many in flight")
                    continue
                in_flight += 1
                results.max_in_flight = max(results.max_in_flight, in_flight)
                task = asyncio.create_task(timed(kind, scheduled))
                tasks.add(task)
                task.add_done_callback(tasks.discard)
                bar.update(task_id, completed=i + 1)
            if tasks:
                await asyncio.wait(tasks, timeout=REQUEST_TIMEOUT_S * 2)
            elapsed = time.perf_counter() - start
    return results, elapsed


def parse_mix(text: str) -> dict[str, float]:
    mix = {}
    for part in text.split(","):
        kind, _, weight = part.partition("=")
        if kind not in KINDS:
            raise SystemExit(f"--mix: unknown kind {kind!r}; use {', '.join(KINDS)}")
        mix[kind] = float(weight)
    return mix


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rate", type=float, default=30.0, help="requests started per second")
    parser.add_argument("--seconds", type=float, default=60.0, help="how long to hold the rate")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--max-in-flight", type=int, default=64)
    parser.add_argument("--mix", default="recommend=0.4,rate=0.3,search=0.3")
    parser.add_argument("--database", choices=["auto", "postgres", "sqlite"], default="sqlite")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    mix = parse_mix(args.mix)

    exit_cleanly_on_sigterm()
    console.print(f"machine: {machine()}")
    console.print("building a synthetic world and training a model...")
    catalogue, ratings, bodies, _, postcodes = world_for_load(args.seed)
    with contextlib.ExitStack() as stack:
        tmp = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="vcsmatch-load-")))
        db_url = ""
        if args.database != "sqlite":
            db_url = stack.enter_context(postgres_database()) or ""
            if not db_url and args.database == "postgres":
                raise SystemExit("no PostgreSQL server answers at 127.0.0.1:5432")
        store = "PostgreSQL" if db_url else "SQLite"
        keys = prepare_store(tmp, db_url, catalogue, ratings)
        auth = {"Authorization": f"Bearer {keys['practitioner']}"}
        console.print(f"{args.workers} worker(s), store {store}: holding {args.rate:g} req/s...")
        with serve(server_env(tmp, db_url), workers=args.workers) as server:
            results, elapsed = asyncio.run(
                hold_rate(
                    server.url,
                    auth,
                    args.rate,
                    args.seconds,
                    args.max_in_flight,
                    bodies,
                    postcodes,
                    mix,
                    args.seed,
                )
            )

    rows = []
    total = failed = 0
    for kind in KINDS:
        lat = results.latencies_ms[kind]
        fails = results.failures[kind]
        total += len(lat) + sum(f == "too many in flight" for f in fails)
        failed += len(fails)
        if not lat:
            continue
        p = percentiles(lat)
        rows.append([kind, len(lat), len(fails), p["p50"], p["p95"], p["p99"], max(lat)])
    everything = [x for k in KINDS for x in results.latencies_ms[k]]
    p = percentiles(everything)
    rows.append(["all", len(everything), failed, p["p50"], p["p95"], p["p99"], max(everything)])
    table(
        f"{args.rate:g} requests/s for {args.seconds:g} s on loopback, {args.workers} worker(s), "
        f"store {store} (latency from each request's scheduled start)",
        ["kind", "count", "failed", "p50 ms", "p95 ms", "p99 ms", "max ms"],
        rows,
    )
    achieved = total / elapsed
    console.print(
        f"achieved {achieved:.1f} requests/s over {elapsed:.1f} s; most in flight "
        f"{results.max_in_flight}; client behind schedule {results.late_starts} time(s)"
    )
    for kind in KINDS:
        if results.failures[kind]:
            console.print(f"{kind} failures: {sorted(set(results.failures[kind]))}")
    console.print(f"0 failed requests: {verdict(failed == 0)}")
    raise SystemExit(0 if failed == 0 else 1)


if __name__ == "__main__":
    main()

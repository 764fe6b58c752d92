"""The learning loop, end to end: ``python benchmarks/loop.py [--rounds 4] [--people 250]``.

What a new council meets, through the real server (``vcsmatch serve``, SQLite, learner on with
``VCSMATCH_LEARN_INTERVAL_SECONDS=30 VCSMATCH_LEARN_MIN_NEW_RATINGS=500``): an empty store, a
700-service catalogue imported over ``POST /v1/catalogue``, suggestions at once (day one), then
``--rounds`` rounds in which ``--people`` new residents are each shown 8 suggestions that a
simulated practitioner rates from the synthetic world's truth (``{"ratings": [...]}`` batches
citing each ``request_id``). After each round it waits for the service to retrain by itself.

Prints, in one run:
- NDCG@10 of the served suggestions against the world's true relevance, over fixed new
  residents, on day one and after each round (and the gain over day one);
- each retrain's time (ratings arrived -> new model serving), and the promotion decisions;
- recommendation p50/p99 while a model trains, against idle, measured in the same run;
- the goal beyond: a model trained offline on three times as many ratings logged by the old
  "nearby" tool (the world's own log), on the same residents.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import threading
import time
from pathlib import Path

import httpx
import numpy as np
from _common import (
    console,
    exit_cleanly_on_sigterm,
    machine,
    percentiles,
    serve,
    server_env,
    table,
    verdict,
)

from vcsmatch.catalogue.hsds3 import write_hsds3
from vcsmatch.evaluation.metrics import gain, ndcg_at_k
from vcsmatch.features.person import Person
from vcsmatch.synthetic import World, make_world

SHOWN = 8
K = 10


def body(person: Person, top_k: int) -> dict[str, object]:
    out = person.model_dump(
        include={"latitude", "longitude", "age", "sex", "needs", "strengths"}, exclude_none=True
    )
    return {**out, "top_k": top_k}


def true_ndcg_of_lists(world: World, people: list[Person], lists: list[list[str]]) -> float:
    ids = world.catalogue.ids()
    values = []
    for person, ranked in zip(people, lists, strict=True):
        rel = world.true_relevance(person)
        gains = {sid: float(gain(r)) for sid, r in zip(ids, rel, strict=True)}
        v = ndcg_at_k(ranked, gains, K)
        if v is not None:
            values.append(v)
    return float(np.mean(values))


def served_ndcg(client: httpx.Client, world: World, people: list[Person]) -> float:
    lists = []
    for person in people:
        answer = client.post("/v1/recommendations", json=body(person, K))
        answer.raise_for_status()
        lists.append([s["service_id"] for s in answer.json()["suggestions"]])
    return true_ndcg_of_lists(world, people, lists)


def rate_round(client: httpx.Client, world: World, people: list[Person], seed: int) -> int:
    rng = np.random.default_rng(seed)
    index = world.catalogue.index()
    ratings = []
    for person in people:
        answer = client.post("/v1/recommendations", json=body(person, SHOWN))
        answer.raise_for_status()
        shown = answer.json()["suggestions"]
        truth = world.true_relevance(person, [index[s["service_id"]] for s in shown])
        for s, expected in zip(shown, truth, strict=True):
            stars = int(np.clip(np.rint(expected + rng.normal(0, 0.5)), 1, 5))
            ratings.append(
                {
                    "request_id": answer.json()["request_id"],
                    "service_id": s["service_id"],
                    "rating": stars,
                }
            )
    for start in range(0, len(ratings), 500):
        client.post(
            "/v1/ratings", json={"ratings": ratings[start : start + 500]}
        ).raise_for_status()
    return len(ratings)


class Prober:
    """Times one recommendation every ~50 ms on its own connection, tagging each sample with
    whether a model was training at that moment (from the learner's lease in GET /v1/model)."""

    def __init__(self, url: str, auth: dict[str, str], people: list[Person]) -> None:
        self.client = httpx.Client(base_url=url, headers=auth, timeout=60)
        self.people = people
        self.training = False
        self.samples: dict[bool, list[float]] = {True: [], False: []}
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self.run, daemon=True)

    def run(self) -> None:
        i = 0
        while not self.stop.is_set():
            person = self.people[i % len(self.people)]
            started = time.perf_counter()
            self.client.post("/v1/recommendations", json=body(person, K)).raise_for_status()
            self.samples[self.training].append((time.perf_counter() - started) * 1000)
            i += 1
            time.sleep(0.05)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rounds", type=int, default=4)
    parser.add_argument("--people", type=int, default=250, help="new residents per round")
    parser.add_argument("--services", type=int, default=700)
    parser.add_argument("--eval-people", type=int, default=200)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--timeout", type=float, default=600.0, help="seconds to wait a retrain")
    args = parser.parse_args()
    exit_cleanly_on_sigterm()
    console.print(machine())
    world = make_world(
        n_services=args.services,
        n_people=max(3000, args.rounds * args.people),
        n_new_people=args.eval_people,
        seed=args.seed,
    )
    residents = world.people[: args.rounds * args.people]
    evaluate_on = list(world.new_people)

    with tempfile.TemporaryDirectory() as tmp:
        data = Path(tmp)
        from vcsmatch.settings import Settings
        from vcsmatch.store import api_keys
        from vcsmatch.store.db import dispose_engines, open_store

        with open_store(Settings(data_dir=data))() as session:
            keys = {
                r: api_keys.create_key(session, r, f"loop {r}")[0]
                for r in ("practitioner", "admin", "analyst")
            }
        dispose_engines()
        env = server_env(
            data,
            VCSMATCH_LEARN_INTERVAL_SECONDS="30",
            VCSMATCH_LEARN_MIN_NEW_RATINGS="500",
            VCSMATCH_LEARN_ENABLED="true",
        )
        auth = {r: {"Authorization": f"Bearer {k}"} for r, k in keys.items()}
        rows: list[list[object]] = []
        with serve(env, ready_path="/health") as server:
            url = server.url
            admin = httpx.Client(base_url=url, headers=auth["admin"], timeout=600)
            started = time.perf_counter()
            admin.post(
                "/v1/catalogue",
                content=json.dumps(write_hsds3(world.catalogue)),
                headers={"Content-Type": "application/json"},
            ).raise_for_status()
            console.print(f"catalogue imported in {time.perf_counter() - started:.1f}s")
            practitioner = httpx.Client(base_url=url, headers=auth["practitioner"], timeout=120)
            analyst = httpx.Client(base_url=url, headers=auth["analyst"], timeout=60)
            figures = [served_ndcg(practitioner, world, evaluate_on)]
            version = analyst.get("/v1/model").json()["version"]
            rows.append(["day one", version, 0, "", f"{figures[0]:.3f}", ""])
            prober = Prober(url, auth["practitioner"], evaluate_on)
            prober.thread.start()
            changed = 0
            for r in range(args.rounds):
                people = residents[r * args.people : (r + 1) * args.people]
                n = rate_round(practitioner, world, people, seed=r)
                rated_at = time.perf_counter()
                model = analyst.get("/v1/model").json()
                deadline = rated_at + args.timeout
                while model["version"] == version and time.perf_counter() < deadline:
                    lease_busy = analyst.get("/v1/model").json()
                    prober.training = _training(lease_busy)
                    time.sleep(0.5)
                    model = lease_busy
                prober.training = False
                waited = time.perf_counter() - rated_at
                new = model["version"] != version
                changed += new
                version = model["version"]
                figures.append(served_ndcg(practitioner, world, evaluate_on))
                last = model["history"][0] if model["history"] else {}
                rows.append(
                    [
                        f"round {r + 1}",
                        version,
                        n,
                        f"{waited:.1f}" if new else "no change",
                        f"{figures[-1]:.3f}",
                        f"{last.get('decision', '')}: {last.get('reason', '')[:70]}",
                    ]
                )
            prober.stop.set()
            prober.thread.join()

    table(
        "The loop through the API (true NDCG@10 over fixed new residents)",
        ["step", "serving model", "ratings", "retrain s", "NDCG@10", "last decision"],
        rows,
    )
    idle = percentiles(prober.samples[False]) if prober.samples[False] else {}
    busy = percentiles(prober.samples[True]) if prober.samples[True] else {}
    table(
        "Recommendation latency while a model trains, against idle (same run)",
        ["state", "n", "p50 ms", "p99 ms"],
        [
            [
                "idle",
                len(prober.samples[False]),
                idle.get("p50", float("nan")),
                idle.get("p99", float("nan")),
            ],
            [
                "training",
                len(prober.samples[True]),
                busy.get("p50", float("nan")),
                busy.get("p99", float("nan")),
            ],
        ],
    )
    if idle and busy:
        console.print(f"p99 training / idle: {busy['p99'] / idle['p99']:.2f}x")

    from vcsmatch.ranking.recommender import Recommender

    n_offline = min(len(world.ratings), 3 * args.rounds * args.people * SHOWN)
    offline_frame = world.ratings.sort_values("rated_at").iloc[:n_offline]
    offline = Recommender(show_progress=False).fit(world.catalogue, offline_frame)
    offline_ndcg = true_ndcg_of_lists(
        world, evaluate_on, [[s.service_id for s in offline.recommend(p, K)] for p in evaluate_on]
    )
    gain_over_day_one = figures[-1] - figures[0]
    console.print(
        f"day one {figures[0]:.3f} -> after {args.rounds} rounds {figures[-1]:.3f} "
        f"(+{gain_over_day_one:.3f}; target +0.10: {verdict(gain_over_day_one >= 0.10)}); "
        f"model changed by itself after {changed} of {args.rounds} rounds "
        f"(target >= {args.rounds - 1}: {verdict(changed >= args.rounds - 1)})"
    )
    console.print(
        f"offline on {n_offline} ratings logged by the old nearby tool: {offline_ndcg:.3f}; "
        f"the loop is {offline_ndcg - figures[-1]:+.3f} from it (goal: within 0.05)"
    )


def _training(model: dict[str, object]) -> bool:
    """Whether the learner holds the lease now (a retrain under way)."""
    learning = model.get("learning") or {}
    return bool(isinstance(learning, dict) and learning.get("training"))


if __name__ == "__main__":
    main()

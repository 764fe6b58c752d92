"""How fast one recommendation is, in process, at 700 and at 100,000 services.

Beside each figure, in the same run, the floor: one vectorised score of every candidate (a
matrix-vector product over their feature rows) plus a numpy top-k. The ratio says how much the
whole hybrid (candidates, five parts, blend, diversity, reasons) costs over that floor.

Targets (docs, issue 4; issue 14): p99 < 5 ms at 700 services and < 25 ms at 100,000, and at
700 services within 10 times the floor. BLAS is limited to one thread, as a server scoring one
request per thread should be (OPENBLAS_NUM_THREADS=1). The 100,000-service catalogue is the 700
copied and jittered over the same county, so a person has tens of thousands of candidates (the
worst case, not a national directory's typical one). Each call is timed in wall time and in
the thread's CPU time (the work done, whatever else the machine runs).

``--baseline DIR`` times another checkout's code (a ``git worktree`` of main, say) beside this
one: each side in its own process with its own code on the path, fitting its own model on the
same world, both pinned to one core (``--cpu``), passes over the people alternating between the
sides (``--rounds``), then both sides' figures and the ratio after/before, and whether both gave
the same suggestions, scores and reasons for every person.

    .venv/bin/python benchmarks/ranking.py [--people 200] [--big 100000]
        [--baseline DIR] [--rounds 8] [--cpu N]
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

BENCHMARKS = Path(__file__).resolve().parent


def grow(catalogue: Any, n: int, seed: int = 0) -> Any:  # noqa: ANN401 - a Catalogue
    """``n`` services: copies of ``catalogue``'s, with new ids, spread over a wider county."""
    from vcsmatch.catalogue.model import Catalogue, Location

    rng = np.random.default_rng(seed)
    base = catalogue.services
    out = []
    for i in range(n):
        s = base[i % len(base)]
        if i < len(base):
            out.append(s)
            continue
        dlat, dlon = rng.normal(0, 0.15, size=2)
        locs = [
            Location(latitude=loc.latitude + dlat, longitude=loc.longitude + dlon)
            for loc in s.locations
            if loc.latitude is not None and loc.longitude is not None
        ]
        out.append(s.model_copy(update={"id": f"{s.id}-x{i}", "locations": locs}))
    return Catalogue(services=out)


def timings(model: Any, people: list, top_k: int = 10) -> dict[str, list[float]]:  # noqa: ANN401
    """Per person, seconds for ``recommend`` (wall and the thread's CPU), and wall seconds for
    the floor on its candidates.

    The floor scores each candidate's dense row of needs, activities and delivery modes (one
    float32 matrix-vector product) and selects the top k with numpy."""
    from vcsmatch.features.location import locate

    sf = model.service_features_
    dense = np.hstack(
        [sf.need_matrix_, sf.activity_matrix_, sf.modes_, np.ones((model.n_services_, 1))]
    ).astype(np.float32)
    full, cpu, floor = [], [], []
    for p in people:
        t, c = time.perf_counter(), time.thread_time()
        model.recommend(p, top_k)
        cpu.append(time.thread_time() - c)
        full.append(time.perf_counter() - t)
        loc = locate(p)
        rows = model.candidates_.find(p, loc, model.default_radius_km, model.max_nearby).rows
        w = np.ones(dense.shape[1], dtype=np.float32)
        t = time.perf_counter()
        scores = dense[rows] @ w
        k = min(top_k, len(scores))
        if k:
            top = np.argpartition(-scores, k - 1)[:k]
            top[np.argsort(-scores[top])]
        floor.append(time.perf_counter() - t)
    return {"full": full, "cpu": cpu, "floor": floor}


def digest(model: Any, people: list, top_k: int = 10) -> str:  # noqa: ANN401
    """A fingerprint of every person's suggestions: ids, exact scores, reasons, facts, parts."""
    h = hashlib.sha256()
    for p in people:
        for s in model.recommend(p, top_k):
            reasons = [(r.kind, r.text, repr(r.weight)) for r in s.reasons]
            parts = sorted((k, repr(v)) for k, v in s.components.items())
            row = [s.service_id, repr(s.score), repr(s.distance_km), reasons, s.eligibility, parts]
            h.update(json.dumps(row).encode())
    return h.hexdigest()[:16]


class Bench:
    """One checkout's models over the benchmark's world, at 700 services and at ``big``."""

    def __init__(self, n_people: int, big: int) -> None:
        from threadpoolctl import threadpool_limits

        import vcsmatch
        from vcsmatch.ranking.recommender import Recommender
        from vcsmatch.synthetic import make_world

        # one request is scored on one thread (a server parallelises across requests);
        # threaded BLAS on tiny mat-vecs only adds contention
        threadpool_limits(1)
        self.code = str(Path(vcsmatch.__file__).parent.parent)
        world = make_world(n_services=700, n_people=3000, n_new_people=n_people, seed=0)
        self.people = world.new_people
        t = time.perf_counter()
        small = Recommender(show_progress=False).fit(world.catalogue, world.ratings)
        self.fit_s = time.perf_counter() - t
        self.n_ratings = len(world.ratings)
        t = time.perf_counter()
        self.models = {"700": small, str(big): small.rebind(grow(world.catalogue, big))}
        self.rebind_s = time.perf_counter() - t
        for m in self.models.values():  # warm caches: the first call only matters once
            for p in self.people:
                m.recommend(p, 10)

    def facts(self) -> dict[str, Any]:
        return {
            "code": self.code,
            "fit_s": self.fit_s,
            "rebind_s": self.rebind_s,
            "n_ratings": self.n_ratings,
            "digest": {k: digest(m, self.people) for k, m in self.models.items()},
        }


def worker(n_people: int, big: int) -> None:
    """A side of ``--baseline``: answer one JSON line per request on stdin (a label: one
    timed pass over the people at that size), starting with the side's facts."""
    bench = Bench(n_people, big)
    print(json.dumps(bench.facts()), flush=True)
    for line in sys.stdin:
        label = line.strip()
        if not label:
            break
        print(json.dumps(timings(bench.models[label], bench.people)), flush=True)


@dataclass
class Side:
    """One checkout's worker process and the samples it returned."""

    name: str
    root: Path
    proc: subprocess.Popen | None = None
    facts: dict[str, Any] = field(default_factory=dict)
    samples: dict[str, dict[str, list[float]]] = field(default_factory=dict)

    def start(self, n_people: int, big: int, cpu: int | None) -> None:
        env = {**os.environ, "PYTHONPATH": str(self.root), "OPENBLAS_NUM_THREADS": "1"}
        args = [sys.executable, str(Path(__file__).resolve()), "--worker"]
        args += ["--people", str(n_people), "--big", str(big)]
        self.proc = subprocess.Popen(
            args, env=env, cwd=self.root, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
        )
        if cpu is not None:  # both sides on one core: a busier or slower core is no side's
            os.sched_setaffinity(self.proc.pid, {cpu})
        self.facts = self._read()

    def run(self, label: str) -> None:
        assert self.proc is not None and self.proc.stdin is not None  # noqa: S101 - started
        self.proc.stdin.write(label + "\n")
        self.proc.stdin.flush()
        for key, values in self._read().items():
            self.samples.setdefault(label, {}).setdefault(key, []).extend(values)

    def stop(self) -> None:
        if self.proc is not None and self.proc.stdin is not None:
            self.proc.stdin.close()
            self.proc.wait(timeout=60)

    def _read(self) -> dict[str, Any]:
        assert self.proc is not None and self.proc.stdout is not None  # noqa: S101 - started
        line = self.proc.stdout.readline()
        if not line:
            raise SystemExit(f"the {self.name} side ({self.root}) stopped; see its error above")
        return json.loads(line)


def figures(samples: dict[str, list[float]]) -> dict[str, float]:
    """Median and p99 in ms of the wall time, the CPU time and the floor."""
    out: dict[str, float] = {}
    for key in ("full", "cpu", "floor"):
        a = np.asarray(samples[key]) * 1e3
        out[f"{key}_med"], out[f"{key}_p99"] = float(np.median(a)), float(np.percentile(a, 99))
    return out


HEADER = (
    f"{'side':>7} {'services':>9} {'median ms':>10} {'p99 ms':>8} {'cpu med':>8} {'cpu p99':>8}"
    f" {'floor med':>10} {'floor p99':>10} {'ratio med':>10} {'ratio p99':>10}"
)


def row(side: str, label: str, f: dict[str, float]) -> str:
    return (
        f"{side:>7} {label:>9} {f['full_med']:10.2f} {f['full_p99']:8.2f} {f['cpu_med']:8.2f}"
        f" {f['cpu_p99']:8.2f} {f['floor_med']:10.3f} {f['floor_p99']:10.3f}"
        f" {f['full_med'] / f['floor_med']:10.0f} {f['full_p99'] / f['floor_p99']:10.0f}"
    )


def compare(args: argparse.Namespace) -> None:
    """This checkout beside ``args.baseline``, passes alternating, then both and the ratio."""
    from _common import machine

    print(machine())
    sides = [Side("before", args.baseline.resolve()), Side("after", BENCHMARKS.parent)]
    cpu = None if args.cpu < 0 else args.cpu
    print("both sides on core", cpu if cpu is not None else "any")
    try:
        for side in sides:
            side.start(args.people, args.big, cpu)
            f = side.facts
            print(
                f"{side.name}: {f['code']}: fit on {f['n_ratings']} ratings {f['fit_s']:.1f} s,"
                f" rebind to {args.big} services {f['rebind_s']:.1f} s"
            )
        labels = ["700", str(args.big)]
        for r in range(args.rounds):
            for side in sides if r % 2 == 0 else sides[::-1]:
                for label in labels:
                    side.run(label)
    finally:
        for side in sides:
            side.stop()
    print(f"{args.rounds} passes over {args.people} people per side and size, alternating")
    print(HEADER)
    for label in labels:
        before, after = (figures(s.samples[label]) for s in sides)
        print(row("before", label, before))
        print(row("after", label, after))
        ratios = "  ".join(
            f"{name} {after[key] / before[key]:.2f}x"
            for name, key in (("median", "full_med"), ("p99", "full_p99"), ("cpu", "cpu_med"))
        )
        same = sides[0].facts["digest"][label] == sides[1].facts["digest"][label]
        print(
            f"{'':>7} {label:>9} after/before: {ratios}; same suggestions, scores, reasons: "
            f"{'yes' if same else 'NO'}"
        )
    print(f"load average {os.getloadavg()[0]:.1f} at the end")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--people", type=int, default=200)
    parser.add_argument("--big", type=int, default=100_000)
    parser.add_argument("--baseline", type=Path, help="another checkout to time beside this one")
    parser.add_argument("--rounds", type=int, default=8, help="alternating passes per side")
    parser.add_argument(
        "--cpu",
        type=int,
        default=max(os.sched_getaffinity(0)),
        help="the core both sides run on (-1: any)",
    )
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        worker(args.people, args.big)
    elif args.baseline is not None:
        compare(args)
    else:
        bench = Bench(args.people, args.big)
        print(f"fit on {bench.n_ratings} ratings: {bench.fit_s:.1f} s")
        print(f"rebind to {args.big} services: {bench.rebind_s:.1f} s")
        print(HEADER)
        for label, model in bench.models.items():
            print(row("this", label, figures(timings(model, bench.people))))


if __name__ == "__main__":
    main()

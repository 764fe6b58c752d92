"""Training at scale: ``benchmarks/training.py [--sizes 1e6 1e7] [--als-only] [--baseline DIR]``.

For each size, a training frame of that many ratings is made by scaling up the synthetic world
(``make_world``'s 3,000 rated people over 700 services, copied with new person ids, jittered
places and ages, ratings nudged at random and dates shifted: vectorised, no ``Person`` objects),
then, each in a fresh child process:

- ``Recommender().fit`` (the hybrid ranker, progress shown), and
- ``implicit``'s ALS alone on the same people x services interaction matrix, with the ranker's
  own settings (the floor: what the collaborative part alone costs),

each timed, with the child's peak resident memory (``ru_maxrss`` of the child, read in a
throwaway parent so each figure is one child's own; tracemalloc misses numpy's and C's memory).
Prints seconds, peak GB, ratings per second and the ratios, and the targets: 1 million ratings
in under 2 minutes on 2 cores, 10 million under 8 GB peak.

``--baseline DIR`` also fits ``Recommender`` with another checkout's code (a ``git worktree``
of main, say, with its own ``.venv``): the same child script and frame, run by
``DIR/.venv/bin/python``, so its ``vcsmatch`` is that checkout's; the baseline child runs right
before this checkout's, and the table gives after / before.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd
from _common import (
    PYTHON,
    console,
    exit_cleanly_on_sigterm,
    machine,
    measure_in_fresh_parent,
    table,
    verdict,
)

#: Ratings of the base world copied to reach a size (``make_world`` defaults: 700 services).
BASE = {"n_services": 700, "n_people": 3000, "n_new_people": 0, "seed": 0}
#: The ranker's ALS settings (``Recommender``'s defaults), for the ALS-alone floor.
ALS_SETTINGS = {"factors": 32, "regularization": 0.05, "iterations": 15}


def scaled_frame(n_ratings: int, seed: int = 0) -> tuple[object, pd.DataFrame]:
    """(catalogue, training frame of ``n_ratings`` rows) from copies of the base world."""
    from vcsmatch.synthetic import make_world

    world = make_world(**BASE)
    base = world.ratings.reset_index(drop=True)
    n_base = len(base)
    copies = -(-n_ratings // n_base)
    rng = np.random.default_rng(seed)
    idx = np.tile(np.arange(n_base), copies)[:n_ratings]
    copy = np.repeat(np.arange(copies, dtype=np.int64), n_base)[:n_ratings]
    # one jitter per (copy, base person), shared by that person's rows
    person_code, person_names = pd.factorize(base["person_id"])
    n_people = len(person_names)
    who = copy * n_people + person_code[idx]
    lat_j = rng.normal(0.0, 0.01, copies * n_people)[who]
    lon_j = rng.normal(0.0, 0.015, copies * n_people)[who]
    age_j = rng.integers(-3, 4, copies * n_people)[who]
    rating = base["rating"].to_numpy()[idx]
    nudge = rng.choice([-1, 0, 0, 0, 0, 0, 0, 0, 1], size=n_ratings)
    frame = pd.DataFrame(
        {
            "person_id": pd.Series(person_names[person_code[idx]])
            + "-"
            + pd.Series(copy).astype(str),
            "service_id": base["service_id"].to_numpy()[idx],
            "rating": np.clip(rating + nudge, 1, 5).astype(np.int64),
            "practitioner_id": base["practitioner_id"].to_numpy()[idx],
            "rated_at": base["rated_at"].iloc[idx].reset_index(drop=True)
            + pd.to_timedelta(copy % 365, unit="D"),
            "age": np.clip(base["age"].to_numpy()[idx] + age_j, 18, 110),
            "sex": base["sex"].to_numpy()[idx],
            "needs": base["needs"].to_numpy()[idx],
            "strengths": base["strengths"].to_numpy()[idx],
            "latitude": base["latitude"].to_numpy()[idx] + lat_j,
            "longitude": base["longitude"].to_numpy()[idx] + lon_j,
        }
    )
    return world.catalogue, frame


def interaction_matrix(catalogue: object, frame: pd.DataFrame):  # noqa: ANN201 - csr_matrix
    """People x services confidences, as the ranker builds them (relevant ratings only)."""
    import scipy.sparse as sp

    from vcsmatch.ratings import RELEVANT_AT

    people, _ = pd.factorize(frame["person_id"])
    services = frame["service_id"].map(catalogue.index()).to_numpy(dtype=np.int64)  # type: ignore[attr-defined]
    rating = frame["rating"].to_numpy()
    conf = np.where(rating >= RELEVANT_AT, 1.0 + (rating - RELEVANT_AT), 0.0)
    C = sp.csr_matrix(
        (conf.astype(np.float32), (people, services)),
        shape=(people.max() + 1, len(catalogue)),  # type: ignore[arg-type]
    )
    C.eliminate_zeros()
    return C


def child(n_ratings: int, what: str, result_path: str) -> None:
    """Run in the measured child: make the frame, fit one thing, write phase times."""
    t0 = time.perf_counter()
    catalogue, frame = scaled_frame(n_ratings)
    made = time.perf_counter() - t0
    n_people = int(frame["person_id"].nunique())
    console.print(f"frame: {len(frame):,} ratings, {n_people:,} people, made in {made:.1f} s")
    t1, c1 = time.perf_counter(), time.process_time()
    if what == "full":
        import vcsmatch
        from vcsmatch.ranking.recommender import Recommender

        console.print(f"code: {Path(vcsmatch.__file__).parent.parent}")
        Recommender(show_progress=True).fit(catalogue, frame)
    else:
        from implicit.cpu.als import AlternatingLeastSquares
        from threadpoolctl import threadpool_limits

        C = interaction_matrix(catalogue, frame)
        with threadpool_limits(1, "blas"):
            AlternatingLeastSquares(**ALS_SETTINGS, random_state=0, num_threads=1).fit(
                C, show_progress=True
            )
    fit, fit_cpu = time.perf_counter() - t1, time.process_time() - c1
    with open(result_path, "w") as fh:
        json.dump({"make_s": made, "fit_s": fit, "fit_cpu_s": fit_cpu, "people": n_people}, fh)


def measure(n_ratings: int, what: str, python: str = PYTHON) -> dict[str, float]:
    """One child run (by ``python``, whose ``vcsmatch`` it fits): its phase times and its own
    peak RSS."""
    nan = float("nan")
    with tempfile.NamedTemporaryFile(suffix=".json") as out:
        run = measure_in_fresh_parent([python, __file__, "--child", str(n_ratings), what, out.name])
        try:
            phases = json.loads(Path(out.name).read_text())
        except ValueError:
            phases = {"make_s": nan, "fit_s": nan, "fit_cpu_s": nan, "people": 0}
    return {
        **phases,
        "total_s": run.seconds,
        "peak_gb": run.peak_rss_mb / 1024,
        "rc": run.returncode,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sizes", type=float, nargs="+", default=[1e6, 1e7])
    parser.add_argument("--als-only", action="store_true", help="skip the full ranker's fit")
    parser.add_argument("--baseline", type=Path, help="another checkout to fit beside this one")
    parser.add_argument("--child", nargs=3, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(int(args.child[0]), args.child[1], args.child[2])
        return

    exit_cleanly_on_sigterm()
    console.print(f"machine: {machine()}")
    rows = []
    verdicts = []
    memory_gb = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    gb_per_rating: dict[str, float] = {}  # from the largest run so far, to skip hopeless sizes
    for size in sorted(int(s) for s in args.sizes):
        kinds = ["als"] if args.als_only else ["als", "full"]
        if args.baseline is not None and not args.als_only:
            kinds.insert(1, "baseline")
        res = {}
        for what in kinds:
            expected = gb_per_rating.get(what, 0.0) * size
            if expected > 0.9 * memory_gb:
                note = (
                    f"{size:,} ratings, {what}: not run: the last size's peak extrapolates to "
                    f"~{expected:.0f} GB, more than this machine's {memory_gb:.0f} GB"
                )
                console.print(note)
                verdicts.append(note)
                continue
            console.print(f"[bold]{size:,} ratings: {what}[/bold]")
            if what == "baseline":
                python = str(args.baseline.resolve() / ".venv" / "bin" / "python")
                res[what] = measure(size, "full", python)
            else:
                res[what] = measure(size, what)
            if res[what]["rc"] != 0:
                console.print(f"the {what} child failed (exit {res[what]['rc']})")
                res.pop(what)
                break
            gb_per_rating[what] = res[what]["peak_gb"] / size
        if "als" not in res:
            continue
        als = res["als"]
        for what, r in res.items():
            label = {
                "full": "Recommender.fit",
                "baseline": "Recommender.fit, baseline",
                "als": "ALS alone",
            }[what]
            rows.append(
                [
                    f"{size:,} ratings, {label}",
                    f"{r['people']:,}",
                    r["make_s"],
                    r["fit_s"],
                    r["fit_cpu_s"],
                    f"{r['fit_s'] / als['fit_s']:.1f}x / {r['fit_cpu_s'] / als['fit_cpu_s']:.1f}x",
                    f"{size / r['fit_s']:,.0f}",
                    f"{r['peak_gb']:.2f}",
                ]
            )
        if "full" in res:
            full = res["full"]
            if size == 1_000_000:
                verdicts.append(
                    f"1M ratings: fit {full['fit_s']:.0f} s wall, {full['fit_cpu_s']:.0f} s CPU "
                    f"(target < 120 s on 2 cores): {verdict(full['fit_s'] < 120)}"
                )
            if "baseline" in res:
                base = res["baseline"]
                verdicts.append(
                    f"{size:,} ratings: fit after / before (--baseline) "
                    f"{full['fit_s'] / base['fit_s']:.2f}x wall, "
                    f"{full['fit_cpu_s'] / base['fit_cpu_s']:.2f}x CPU; peak "
                    f"{full['peak_gb']:.2f} / {base['peak_gb']:.2f} GB"
                )
            if size == 10_000_000:
                verdicts.append(
                    f"10M ratings peak {full['peak_gb']:.1f} GB (target < 8 GB): "
                    f"{verdict(full['peak_gb'] < 8)}"
                )
    table(
        "training time and peak memory (peak = the whole child: frame + fit)",
        [
            "run",
            "people",
            "make frame s",
            "fit s",
            "fit CPU s",
            "vs ALS (wall / CPU)",
            "ratings/s",
            "peak GB",
        ],
        rows,
    )
    console.print(f"load average at end: {os.getloadavg()[0]:.1f} (2 cores)")
    for line in verdicts:
        console.print(line)
    sys.stdout.flush()


if __name__ == "__main__":
    main()

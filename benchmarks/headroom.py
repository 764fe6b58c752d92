"""Where the model falls short of the located world's ceiling, part by part.

    .venv/bin/python benchmarks/headroom.py [--seed 0] [--quick] [--plot FILE.png]

``benchmarks/quality.py`` says how far the model is from the ceiling (ranking by the world's
relevance without each person's individual taste); this says why, in one run:

1. **What each part of the world's utility is worth**: the ceiling's NDCG@10 with one part
   (``vcsmatch.synthetic.UTILITY_PARTS``) left out. A large drop marks a part that a ranker
   must learn to come near the ceiling.
2. **Where the model's picks fall short**: the mean of each part over the model's first ten
   suggestions and over the ceiling's, per new person, and the difference. The parts with the
   largest shortfall are where the next gain lies (for example ``latent``: the tastes that
   person features explain, which only a factorisation of ratings can learn).

A diagnostic of our own synthetic world, not a target: the parts are the world's construction,
so a change should be judged on real data too (``benchmarks/real_ratings.py``).
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

from quality import world_sizes  # noqa: E402 - after the path set-up

from vcsmatch.evaluation.metrics import gain, ndcg_at_k  # noqa: E402
from vcsmatch.ranking.recommender import Recommender  # noqa: E402
from vcsmatch.synthetic import UTILITY_PARTS, World, make_world  # noqa: E402
from vcsmatch.synthetic._world import _expected_rating  # noqa: E402

K = 10


def part_values(world: World) -> tuple[list[dict[str, np.ndarray]], np.ndarray]:
    """Each new person's utility parts (catalogue order), and whether each service is
    eligible for them (people x services)."""
    parts = [world.utility_parts(person) for person in world.new_people]
    eligible = np.vstack([world.knowable_relevance(p) != 1.0 for p in world.new_people])
    return parts, eligible


def ceiling_picks(
    parts: list[dict[str, np.ndarray]], eligible: np.ndarray, left_out: str | None = None
) -> list[list[int]]:
    """Per person, the first ``K`` catalogue rows by knowable relevance, less one part's
    utility (``left_out``): the ceiling's suggestions, as ``quality.Ceiling`` makes them."""
    out = []
    for i, person_parts in enumerate(parts):
        utility = sum(v for name, v in person_parts.items() if name != left_out)
        rel = np.where(eligible[i], _expected_rating(np.asarray(utility)), 1.0)
        out.append([j for j in np.argsort(-rel, kind="stable")[:K] if rel[j] > 1.0])
    return out


def mean_ndcg(world: World, picks: list[list[int]]) -> float:
    """Mean NDCG@10 of each new person's picked catalogue rows against their true relevance
    (people with nothing relevant skipped, as ``evaluate`` does)."""
    ids = world.catalogue.ids()
    scores = []
    for i, rows in enumerate(picks):
        truth = dict(zip(ids, gain(world.new_relevance[i]), strict=True))
        got = ndcg_at_k([ids[j] for j in rows], truth, K)
        if got is not None:
            scores.append(got)
    return float(np.mean(scores))


def top_parts(parts: list[dict[str, np.ndarray]], picks: list[list[int]]) -> dict[str, float]:
    """Per part, the mean over people of its mean over their picks (people with none skipped)."""
    out = {}
    for name in UTILITY_PARTS:
        means = [parts[i][name][rows].mean() for i, rows in enumerate(picks) if len(rows)]
        out[name] = float(np.mean(means))
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--quick", action="store_true", help="a smaller world (a dry run)")
    parser.add_argument("--plot", type=Path, help="write the shortfall per part as a PNG")
    args = parser.parse_args(argv)
    n_services, n_people, n_new = world_sizes(args.quick)
    started = time.perf_counter()
    world = make_world(n_services, n_people, n_new, seed=args.seed)
    print(f"{world!r}, made in {time.perf_counter() - started:.1f}s")
    parts, eligible = part_values(world)

    best_picks = ceiling_picks(parts, eligible)
    full = mean_ndcg(world, best_picks)
    print(f"\nceiling NDCG@{K} (knowable utility, every part): {full:.3f}")
    print(f"{'left out':>12} {'ceiling':>8} {'drop':>7}")
    for name in UTILITY_PARTS:
        without = mean_ndcg(world, ceiling_picks(parts, eligible, name))
        print(f"{name:>12} {without:8.3f} {without - full:+7.3f}")

    model = Recommender(show_progress=True).fit(world.catalogue, world.ratings)
    index = world.catalogue.index()
    suggested = model.recommend_batch(world.new_people, top_k=K)
    model_picks = [[index[s.service_id] for s in row] for row in suggested]
    model_ndcg = mean_ndcg(world, model_picks)
    ours, best = top_parts(parts, model_picks), top_parts(parts, best_picks)
    print(f"\nmodel NDCG@{K}: {model_ndcg:.3f} ({model_ndcg / full:.2f}x the ceiling)")
    print(f"mean utility part over the first {K} (rating points before the squash)")
    print(f"{'part':>12} {'model':>8} {'ceiling':>8} {'short by':>9}")
    for name in UTILITY_PARTS:
        print(f"{name:>12} {ours[name]:8.3f} {best[name]:8.3f} {best[name] - ours[name]:+9.3f}")
    total = sum(best.values()) - sum(ours.values())
    print(f"{'all':>12} {sum(ours.values()):8.3f} {sum(best.values()):8.3f} {total:+9.3f}")
    print("\nA diagnostic of our own synthetic world: judge a change on real data too.")
    if args.plot:
        _plot(args.plot, {name: best[name] - ours[name] for name in UTILITY_PARTS})
        print(f"plot: {args.plot}")
    return 0


def _plot(path: Path, shortfall: dict[str, float]) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 3.5))
    names = list(shortfall)
    ax.barh(names, [shortfall[n] for n in names], color="#3b6ea5")
    ax.axvline(0, color="black", linewidth=0.8)
    ax.invert_yaxis()
    ax.set_xlabel(f"ceiling's first {K} minus the model's (mean utility, rating points)")
    ax.set_title("Where the model's suggestions fall short of the ceiling")
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=120)
    plt.close(fig)


if __name__ == "__main__":
    raise SystemExit(main())

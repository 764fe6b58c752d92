"""Ranking quality on public rating data with demographics, through the real commands.

    .venv/bin/python benchmarks/real_ratings.py [--data DIR] [--datasets coat ml-100k]
        [--folds 5] [--new-share 0.2] [--seed 0]

The data are not in this repository (never commit them): ``--data`` (default
``../shared/realdata``) holds ``coat/`` (Schnabel et al.'s Coat: ``train.ascii``,
``test.ascii``, ``user_item_features/user_features.ascii``) and/or ``ml-100k/`` (MovieLens
100k: ``u.data``, ``u.user``, ``u.item``). A data set that is absent is skipped with a note.

Each data set becomes vcsmatch's own files: every item an online service (``services.json``,
HSDS 3.0), every person their age and sex (no location, needs or strengths, which public data
do not record), ratings as RATINGS.csv. People are split into folds; in each, one fold's people
are NEW (none of their ratings is seen), the model is trained on the others through
``vcsmatch train`` and ranks the whole catalogue for each new person through ``vcsmatch
recommend --top-k <catalogue size>``. The baselines are fitted on the same training files in
process. NDCG@10 (graded gains, ``vcsmatch.evaluation.metrics``):

- Coat (people rated items they chose, then 16 items drawn at random: missing not at random,
  with a random slice that is the truth): the ranker's order of each new person's random
  slice. Must beat the per-sex mean rating shrunk to the overall mean; goal 0.70.
- MovieLens (self-selected, no random slice): the top 10 of the whole catalogue against all of
  each new person's ratings. Must beat per-group popularity; goal 0.45.

Figures are means over the folds (every person is new once), with each fold's CPU seconds of
the two commands (children's CPU time).
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import resource
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchmarks._common import VCSMATCH  # noqa: E402 - after the path set-up above
from vcsmatch.catalogue.hsds3 import write_hsds3  # noqa: E402
from vcsmatch.catalogue.model import Catalogue, Service  # noqa: E402
from vcsmatch.evaluation.metrics import gain, ndcg_at_k  # noqa: E402
from vcsmatch.files import read_people, read_ratings, read_recommendations  # noqa: E402
from vcsmatch.ranking.baselines import (  # noqa: E402
    GlobalPopularity,
    GroupMeanRating,
    GroupPopularity,
)

K = 10
DEFAULT_DATA = ROOT.parent / "shared" / "realdata"
#: Coat's age bands (``user_features_map.txt`` order) as one age inside each.
COAT_AGES = (25, 35, 45, 55, 65, 18)
RATED_AT = "2015-01-01T00:00:00Z"  # Coat has no times; one moment for every rating


@dataclass
class RatingSet:
    """One public data set in vcsmatch's terms."""

    name: str
    items: pd.DataFrame  # item_id, name, description
    users: pd.DataFrame  # person_id, age, sex
    train: pd.DataFrame  # person_id, service_id, rating, rated_at: what the model may learn
    truth: pd.DataFrame  # person_id, service_id, rating: what a new person is judged by
    #: "slice": judge the order of each person's truth items; "top": the catalogue's top K
    judged: str
    goal: float
    must_beat: str


def load_coat(directory: Path) -> RatingSet:
    """Coat: 290 people x 300 jackets; ``train.ascii`` self-selected, ``test.ascii`` random."""
    train = np.loadtxt(directory / "train.ascii", dtype=np.int64)
    test = np.loadtxt(directory / "test.ascii", dtype=np.int64)
    feats = np.loadtxt(directory / "user_item_features" / "user_features.ascii", dtype=np.int64)
    n_users, n_items = train.shape
    users = pd.DataFrame(
        {
            "person_id": [f"u{u}" for u in range(n_users)],
            # columns: gender (2), age band (6), location (3), fashion interest (3)
            "age": [COAT_AGES[int(np.argmax(f[2:8]))] for f in feats],
            "sex": ["male" if f[0] else "female" for f in feats],
        }
    )
    items = pd.DataFrame(
        {
            "item_id": [f"coat-{i}" for i in range(n_items)],
            "name": [f"Jacket {i}" for i in range(n_items)],
            "description": ["A jacket."] * n_items,
        }
    )
    return RatingSet(
        "coat",
        items,
        users,
        _dense_ratings(train, with_time=True),
        _dense_ratings(test, with_time=False),
        judged="slice",
        goal=0.70,
        must_beat="sex-mean-rating",
    )


def _dense_ratings(matrix: np.ndarray, *, with_time: bool) -> pd.DataFrame:
    u, i = np.nonzero(matrix)
    frame = pd.DataFrame(
        {
            "person_id": [f"u{x}" for x in u],
            "service_id": [f"coat-{x}" for x in i],
            "rating": matrix[u, i],
        }
    )
    if with_time:
        frame["rated_at"] = RATED_AT
    return frame


ML_GENRES = (
    "unknown Action Adventure Animation Children's Comedy Crime Documentary Drama Fantasy "
    "Film-Noir Horror Musical Mystery Romance Sci-Fi Thriller War Western"
).split()


def load_movielens(directory: Path) -> RatingSet:
    """MovieLens 100k: 943 people, 1,682 films, every rating self-selected."""
    data = pd.read_csv(
        directory / "u.data", sep="\t", names=["user", "item", "rating", "ts"], dtype=np.int64
    )
    user = pd.read_csv(
        directory / "u.user", sep="|", names=["user", "age", "sex", "job", "zip"], dtype=str
    )
    item = pd.read_csv(directory / "u.item", sep="|", header=None, encoding="latin-1", dtype=str)
    genres = item.iloc[:, 5:24].astype(int).to_numpy()
    items = pd.DataFrame(
        {
            "item_id": [f"ml-{x}" for x in item[0]],
            "name": [str(t)[:400] or f"Film {x}" for t, x in zip(item[1], item[0], strict=True)],
            "description": [
                "A film: " + ", ".join(g for g, on in zip(ML_GENRES, row, strict=True) if on) + "."
                for row in genres
            ],
        }
    )
    users = pd.DataFrame(
        {
            "person_id": [f"u{x}" for x in user["user"]],
            "age": user["age"].astype(int),
            "sex": user["sex"].map({"M": "male", "F": "female"}),
        }
    )
    ratings = pd.DataFrame(
        {
            "person_id": [f"u{x}" for x in data["user"]],
            "service_id": [f"ml-{x}" for x in data["item"]],
            "rating": data["rating"],
            "rated_at": data["ts"].astype(str),  # whole Unix seconds, as RATINGS.csv accepts
        }
    )
    return RatingSet(
        "ml-100k",
        items,
        users,
        ratings,
        ratings[["person_id", "service_id", "rating"]],
        judged="top",
        goal=0.45,
        must_beat="group-popularity",
    )


LOADERS: dict[str, tuple[str, Callable[[Path], RatingSet]]] = {
    "coat": ("train.ascii", load_coat),
    "ml-100k": ("u.data", load_movielens),
}


def write_files(rs: RatingSet, new: set[str], out: Path) -> dict[str, Path]:
    """services.json, people.csv, ratings.csv (training people only) and new_people.csv."""
    out.mkdir(parents=True, exist_ok=True)
    services = [
        Service(
            id=r.item_id,
            name=r.name,
            description=r.description,
            delivery_modes=["online"],
            source=f"public ratings: {rs.name}",
        )
        for r in rs.items.itertuples(index=False)
    ]
    paths = {
        "catalogue": out / "services.json",
        "people": out / "people.csv",
        "ratings": out / "ratings.csv",
        "new_people": out / "new_people.csv",
    }
    write_hsds3(Catalogue(services=services, source=rs.name), paths["catalogue"])
    is_new = rs.users["person_id"].isin(new)
    for key, who in (("people", rs.users[~is_new]), ("new_people", rs.users[is_new])):
        frame = who.assign(postcode="", latitude="", longitude="", needs="", strengths="")
        frame[
            ["person_id", "postcode", "latitude", "longitude", "age", "sex", "needs", "strengths"]
        ].to_csv(paths[key], index=False)
    train = rs.train[~rs.train["person_id"].isin(new)].assign(practitioner_id="")
    train[["person_id", "service_id", "rating", "practitioner_id", "rated_at"]].to_csv(
        paths["ratings"], index=False
    )
    return paths


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def run_commands(paths: dict[str, Path], n_items: int, work: Path, seed: int) -> dict[str, list]:
    """``vcsmatch train`` then ``vcsmatch recommend --top-k n_items``: each new person's
    ranked service ids."""
    model_dir, recs = work / "model", work / "recs.csv"
    commands = [
        [VCSMATCH, "train", "--catalogue", str(paths["catalogue"]), "--people",
         str(paths["people"]), "--ratings", str(paths["ratings"]), "--model-dir",
         str(model_dir), "--no-evaluate", "--seed", str(seed)],
        [VCSMATCH, "recommend", "--catalogue", str(paths["catalogue"]), "--model-dir",
         str(model_dir), "--people", str(paths["new_people"]), "--top-k", str(n_items),
         "--output", str(recs)],
    ]  # fmt: skip
    for command in commands:
        done = subprocess.run(command, capture_output=True, text=True, env=os.environ.copy())
        if done.returncode != 0:
            raise SystemExit(f"{command[1]} failed:\n{done.stdout}\n{done.stderr}")
    frame = read_recommendations(recs).sort_values(["person_id", "rank"])
    return {pid: list(g["service_id"]) for pid, g in frame.groupby("person_id", sort=False)}


def run_baselines(paths: dict[str, Path], n_items: int) -> dict[str, dict[str, list]]:
    """The baselines, fitted in process on the same files: each new person's ranked ids."""
    from vcsmatch.catalogue.importing import load_catalogue

    catalogue = load_catalogue(paths["catalogue"])
    frame = read_ratings(paths["ratings"], read_people(paths["people"]), catalogue)
    new_people = read_people(paths["new_people"])
    rankers = {
        "global-popularity": GlobalPopularity(),
        "group-popularity": GroupPopularity(),
        "sex-mean-rating": GroupMeanRating(group="sex"),
        "age-sex-mean-rating": GroupMeanRating(group="age_band_sex"),
    }
    out = {}
    for name, ranker in rankers.items():
        ranker.fit(catalogue, frame)
        lists = ranker.recommend_batch(new_people, top_k=n_items, explain=False)
        out[name] = {
            p.reference: [s.service_id for s in lst]
            for p, lst in zip(new_people, lists, strict=True)
        }
    return out


def score(rs: RatingSet, lists: dict[str, list], people: Sequence[str]) -> tuple[float, int]:
    """Mean NDCG@K over the new people who have a positive gain, and how many there were."""
    values = []
    truth = rs.truth[rs.truth["person_id"].isin(people)]
    for pid, rows in truth.groupby("person_id"):
        gains = dict(zip(rows["service_id"], gain(rows["rating"].to_numpy()), strict=True))
        ranked = lists.get(pid, [])
        if rs.judged == "slice":
            # the ranker's order of the slice; slice items it did not rank go last
            ordered = [s for s in ranked if s in gains]
            ranked = ordered + [s for s in rows["service_id"] if s not in set(ordered)]
        value = ndcg_at_k(ranked, gains, K)
        if value is not None:
            values.append(value)
    return float(np.mean(values)) if values else float("nan"), len(values)


def run_dataset(rs: RatingSet, folds: int, new_share: float, seed: int) -> dict[str, float]:
    """Every fold's figures, printed, and their means."""
    rng = np.random.default_rng(seed)
    order = rng.permutation(rs.users["person_id"].to_numpy())
    n_folds = folds if folds > 0 else 1
    if folds > 0:
        groups = [order[f::folds] for f in range(folds)]
    else:
        groups = [order[: round(new_share * len(order))]]
    n_items = len(rs.items)
    totals: dict[str, list[float]] = {}
    print(
        f"\n== {rs.name}: {len(rs.users)} people, {n_items} services, {len(rs.train)} training "
        f"ratings (mean {rs.train['rating'].mean():.2f}); judged by "
        f"{'the order of each new person' + chr(39) + 's random slice' if rs.judged == 'slice' else 'the top 10 against all their ratings'}"  # noqa: E501
    )
    for f, new in enumerate(groups[:n_folds]):
        with tempfile.TemporaryDirectory(prefix=f"vcsmatch-{rs.name}-") as tmp:
            work = Path(tmp)
            paths = write_files(rs, set(new), work / "files")
            cpu0, wall0 = _children_cpu(), time.perf_counter()
            lists = {"model": run_commands(paths, n_items, work, seed)}
            cpu = _children_cpu() - cpu0
            wall = time.perf_counter() - wall0
            lists.update(run_baselines(paths, n_items))
        lengths = [len(v) for v in lists["model"].values()]
        row = {}
        for name, ranked in lists.items():
            row[name], n_scored = score(rs, ranked, list(new))
            totals.setdefault(name, []).append(row[name])
        print(
            f"fold {f + 1}/{n_folds}: {len(new)} new people ({n_scored} scored), "
            f"recommend --top-k {n_items} gave {min(lengths)}-{max(lengths)} per person; "
            f"train+recommend {cpu:.1f} s CPU ({wall:.1f} s wall); "
            + ", ".join(f"{k} {v:.3f}" for k, v in row.items())
        )
    means = {k: float(np.mean(v)) for k, v in totals.items()}
    print(f"{'ranker':<22}{'ndcg@10':>9}{'model/x':>9}")
    for name, value in means.items():
        ratio = "" if name == "model" else f"{means['model'] / value:.3f}x"
        print(f"{name:<22}{value:>9.4f}{ratio:>9}")
    beat = means["model"] > means[rs.must_beat]
    print(
        f"target model > {rs.must_beat}: {'PASS' if beat else 'FAIL'}; goal {rs.goal}: "
        f"{means['model']:.4f} {'PASS' if means['model'] >= rs.goal else 'FAIL'}"
    )
    return means


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--datasets", nargs="+", default=list(LOADERS), choices=list(LOADERS))
    parser.add_argument("--folds", type=int, default=5, help="0: one split of --new-share")
    parser.add_argument("--new-share", type=float, default=0.2)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    started = dt.datetime.now(dt.UTC)
    print(f"real ratings benchmark, {started:%Y-%m-%d %H:%M} UTC, data from {args.data}")
    ran = 0
    for name in args.datasets:
        marker, loader = LOADERS[name]
        directory = args.data / name
        if not (directory / marker).exists():
            print(f"\n{name}: skipped, no {directory / marker} (public data, not in the repo)")
            continue
        run_dataset(loader(directory), args.folds, args.new_share, args.seed)
        ran += 1
    if not ran:
        print("no data set found: nothing measured")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

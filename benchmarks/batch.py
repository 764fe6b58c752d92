"""Batch scoring: ``python benchmarks/batch.py [--people 2000]``: people per second.

Trains a model on the synthetic county (700 services), writes its catalogue (HSDS 3.0 JSON)
and ``--people`` new people (PEOPLE.csv) to a scratch directory, then runs the real command

    vcsmatch recommend --catalogue services.json --model-dir model --people people.csv \\
        --output recs.csv

in a child process, beside ``Recommender.recommend_batch`` over the same people in this
process (the same ranking without process start, file reading and writing). Prints people
per second for both, the command's fixed start-up cost (the same command on 10 people), and
the ratios.
"""

from __future__ import annotations

import argparse
import subprocess
import tempfile
import time
from pathlib import Path

from _common import VCSMATCH, console, exit_cleanly_on_sigterm, machine, table


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--people", type=int, default=2000)
    parser.add_argument("--training-people", type=int, default=1500)
    args = parser.parse_args()
    exit_cleanly_on_sigterm()
    console.print(f"machine: {machine()}")

    from vcsmatch.catalogue.hsds3 import write_hsds3
    from vcsmatch.files import read_people, write_people
    from vcsmatch.ranking.recommender import Recommender
    from vcsmatch.synthetic import make_world

    console.print("building a synthetic world and training a model...")
    world = make_world(n_services=700, n_people=args.training_people, n_new_people=args.people)
    model = Recommender(show_progress=False).fit(world.catalogue, world.ratings)
    with tempfile.TemporaryDirectory(prefix="vcsmatch-batch-") as tmp:
        d = Path(tmp)
        write_hsds3(world.catalogue, d / "services.json")
        model.save(d / "model")
        write_people(d / "people.csv", world.new_people)
        write_people(d / "few.csv", world.new_people[:10])

        def command(people: Path, output: Path) -> float:
            start = time.perf_counter()
            subprocess.run(
                [VCSMATCH, "recommend", "--catalogue", str(d / "services.json"), "--model-dir",
                 str(d / "model"), "--people", str(people), "--output", str(output)],
                check=True,
            )  # fmt: skip
            return time.perf_counter() - start

        startup = command(d / "few.csv", d / "few-recs.csv")
        cli = command(d / "people.csv", d / "recs.csv")
        n_lines = sum(1 for _ in (d / "recs.csv").open()) - 1

        people = read_people(d / "people.csv")
        start = time.perf_counter()
        for i in range(0, len(people), 100):
            model.recommend_batch(people[i : i + 100], top_k=10)
        in_process = time.perf_counter() - start

    n = args.people
    table(
        f"batch scoring, {n:,} people, 700 services, top 10 ({n_lines:,} rows written)",
        ["run", "seconds", "people/s", "vs in process"],
        [
            ["Recommender.recommend_batch, in process", in_process, n / in_process, "1.00x"],
            ["vcsmatch recommend (whole command)", cli, n / cli, f"{in_process / cli:.2f}x"],
            [
                "vcsmatch recommend less start-up",
                cli - startup,
                n / max(cli - startup, 1e-9),
                f"{in_process / max(cli - startup, 1e-9):.2f}x",
            ],
            ["start-up (the command on 10 people)", startup, "", ""],
        ],
    )


if __name__ == "__main__":
    main()

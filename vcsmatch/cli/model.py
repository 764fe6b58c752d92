"""`vcsmatch train | recommend | evaluate | synthetic`: the model's command-line contract.

These exact forms are how other tools drive vcsmatch, so their flags do not change::

    vcsmatch train --catalogue CATALOGUE.json --people PEOPLE.csv --ratings RATINGS.csv --model-dir DIR
    vcsmatch recommend --catalogue CATALOGUE.json --model-dir DIR --people PEOPLE.csv --top-k 10 --output RECS.csv
    vcsmatch evaluate --catalogue CATALOGUE.json --people PEOPLE.csv --ratings RATINGS.csv --report report.html
    vcsmatch synthetic --output DIR

Thin: parse, call the library, print. Bad data exits with code 1 and the full list of bad rows
(``vcsmatch.files.BadRows``); training never runs on data it cannot trust. Nothing printed
names a person or their features: only counts, line numbers and aggregate metrics.
"""  # noqa: E501 - the command forms are quoted whole

from __future__ import annotations

import time
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console

from vcsmatch.errors import VcsmatchError

out = Console(highlight=False, soft_wrap=True)
err = Console(stderr=True, highlight=False, soft_wrap=True)


class SplitChoice(StrEnum):
    person = "person"
    time = "time"


_ExistingFile = {"exists": True, "dir_okay": False, "readable": True}
CatalogueOpt = Annotated[
    Path, typer.Option("--catalogue", help="The catalogue (HSDS 3.0 JSON).", **_ExistingFile)
]
PeopleOpt = Annotated[
    Path,
    typer.Option(
        "--people",
        help="PEOPLE.csv: person_id,postcode,latitude,longitude,age,sex,needs,strengths",
        **_ExistingFile,
    ),
]
RatingsOpt = Annotated[
    Path,
    typer.Option(
        "--ratings",
        help="RATINGS.csv: person_id,service_id,rating,practitioner_id,rated_at",
        **_ExistingFile,
    ),
]
ModelDirOpt = Annotated[Path, typer.Option("--model-dir", help="The model's directory.")]
# no upper bound: a list as long as the catalogue is a valid request (a full ranking)
TopKOpt = Annotated[int, typer.Option("--top-k", min=1, help="Suggestions per person.")]


def _refuse(error: BaseException) -> typer.Exit:
    """Print why the input was refused; the caller raises the returned exit (code 1)."""
    err.print(f"refused: {error}", markup=False)
    return typer.Exit(1)


def _load_catalogue(path: Path):  # noqa: ANN202 - a Catalogue
    from vcsmatch.catalogue.importing import load_catalogue

    try:
        return load_catalogue(path)
    except (VcsmatchError, ValueError, OSError) as error:
        raise _refuse(error) from None


def _load_training_files(catalogue_path: Path, people_path: Path | None, ratings_path: Path):  # noqa: ANN202
    from vcsmatch.files import read_people, read_ratings

    catalogue = _load_catalogue(catalogue_path)
    try:
        people = read_people(people_path) if people_path is not None else []
        ratings = read_ratings(ratings_path, people, catalogue)
    except (VcsmatchError, ValueError, OSError) as error:
        raise _refuse(error) from None
    return catalogue, ratings


def _from_store(catalogue_path: Path | None):  # noqa: ANN202
    from vcsmatch.settings import get_settings
    from vcsmatch.store import catalogue_versions, ratings_log
    from vcsmatch.store.db import open_store

    sessions = open_store(get_settings())
    with sessions() as session:
        if catalogue_path is not None:
            catalogue = _load_catalogue(catalogue_path)
        else:
            active = catalogue_versions.active_catalogue(session)
            if active is None:
                err.print("refused: the store has no active catalogue; import one first")
                raise typer.Exit(1)
            catalogue = active[1]
        ratings = ratings_log.ratings_frame(session, with_ids=True)
    seen_up_to = int(ratings["rating_id"].max()) if len(ratings) else 0
    ratings = ratings.drop(columns=["rating_id", "request_id"])
    known = set(catalogue.ids())
    unknown = int((~ratings["service_id"].isin(known)).sum())
    if unknown:
        # The log outlives catalogue versions: ratings of services withdrawn since are kept in
        # the log but cannot train a model bound to this catalogue.
        err.print(
            f"note: {unknown} stored ratings name services not in this catalogue; they are left out"
        )
        ratings = ratings[ratings["service_id"].isin(known)].reset_index(drop=True)
    return catalogue, ratings, seen_up_to


def _held_out_metrics(catalogue, ratings, params: dict[str, Any], k: int, seed: int):  # noqa: ANN001, ANN202
    """Fit on 80% of the people, score on the other 20%, against the baselines."""
    from vcsmatch.evaluation import evaluate, split_by_person
    from vcsmatch.ranking.recommender import Recommender

    train, test = split_by_person(ratings, test_size=0.2, seed=seed)
    return evaluate(
        {"model": Recommender(**params)},
        catalogue,
        train,
        test,
        k=k,
        split="by person (20% held out)",
    )


#: Why NDCG on logged ratings is not the headline, in words for the reader of ``evaluate``.
LOGGED_NDCG_CAVEAT = (
    "ndcg@{k} on logged ratings favours the old tool: practitioners could rate only what it "
    "showed them (mostly the nearest services), so every service it did not show counts as "
    "not relevant and its own picks score best. rated_ndcg@{k} orders only the services each "
    "person rated, which the old tool's exposure cannot flatter: read it first."
)

#: What the off-policy figure is, in words.
SNIPS_NOTE = (
    "snips@{k} weights each held-out rating by the inverse of the chance the old tool showed "
    "it ({source}) and averages the gain of the rated services each ranker's top {k} holds: "
    "an estimate of what its suggestions would be worth that does not reward copying what the "
    "old tool showed (it cannot judge services the log never showed)."
)


def _print_fair_first(result: Any) -> None:  # noqa: ANN401 - an EvaluationResult
    """The table, then the model's ratios on the figure fair under the old tool's exposure
    (true relevance on a synthetic world, else the order of rated services), then the
    logged-rating ratios with the reason they mislead, then the safety figures."""
    k = result.k
    fair = "true_ndcg" if result.primary == "true_ndcg" else "rated_ndcg"
    out.print(result.table(), markup=False)
    out.print(f"fair under the old tool's exposure: {fair}@{k}")
    others = [name for name in result.models if name != "model"]
    for name in others:
        out.print(f"model / {name} ({fair}): {result.ratio('model', name, fair):.2f}x")
    if result.primary != "true_ndcg":
        out.print(LOGGED_NDCG_CAVEAT.format(k=k))
        for name in others:
            out.print(
                f"model / {name} (ndcg on logged ratings): {result.ratio('model', name):.2f}x"
            )
    model = result.models["model"]
    if result.propensity_source:
        out.print(SNIPS_NOTE.format(k=k, source=result.propensity_source))
        out.print(f"model snips@{k}: {model.snips:.3f} (se {model.snips_se:.3f})")
        for name in others:
            out.print(f"model / {name} (snips): {result.ratio('model', name, 'snips'):.2f}x")
    out.print(
        f"model: {model.off_need:.1%} of its top 5 meet none of the person's needs; "
        f"{model.specialist} specialist suggestions without their need; "
        f"{model.ineligible} ineligible"
    )


def register(app: typer.Typer) -> None:
    """Add this module's commands to the root app."""

    @app.command()
    def train(
        model_dir: ModelDirOpt,
        catalogue: Annotated[
            Path | None,
            typer.Option(
                "--catalogue",
                help="The catalogue (HSDS 3.0 JSON). With --from-store, default: the active one.",
                exists=True,
                dir_okay=False,
            ),
        ] = None,
        people: Annotated[
            Path | None,
            typer.Option(
                "--people",
                help="PEOPLE.csv (with --ratings; not needed for the ratings export's CSV).",
                exists=True,
                dir_okay=False,
            ),
        ] = None,
        ratings: Annotated[
            Path | None,
            typer.Option(
                "--ratings",
                help="RATINGS.csv (with --people), or the ratings export's CSV as it is.",
                exists=True,
                dir_okay=False,
            ),
        ] = None,
        from_store: Annotated[
            bool, typer.Option("--from-store", help="Train on the store's ratings log.")
        ] = False,
        register_model: Annotated[
            bool, typer.Option("--register", help="Put the trained model in the store's registry.")
        ] = False,
        evaluate_first: Annotated[
            bool,
            typer.Option(
                "--evaluate/--no-evaluate",
                help="Score a held-out 20% of people first (the header's metrics).",
            ),
        ] = True,
        top_k: Annotated[int, typer.Option("--top-k", min=1, help="k of the metrics.")] = 10,
        seed: Annotated[int, typer.Option(help="Seed of the held-out split and the model.")] = 0,
    ) -> None:
        """Train the ranker on rated people and save it to --model-dir."""
        from vcsmatch.ranking.recommender import Recommender

        seen_up_to: int | None = None  # the newest stored rating the model learns from
        if from_store:
            if people is not None or ratings is not None:
                err.print(
                    "error: --from-store reads ratings from the store; drop --people and --ratings"
                )
                raise typer.Exit(2)
            cat, frame, seen_up_to = _from_store(catalogue)
        else:
            if catalogue is None or ratings is None:
                err.print("error: give --catalogue and --ratings (and --people), or --from-store")
                raise typer.Exit(2)
            cat, frame = _load_training_files(catalogue, people, ratings)
        if len(frame) == 0:
            out.print(
                "no ratings yet: building the day-one model (needs met, strengths matched, "
                "distance against travel, delivery mode and eligibility; it learns once "
                "practitioners rate its suggestions)"
            )
        n_people = frame["person_id"].nunique()
        out.print(
            f"{len(frame)} ratings of {frame['service_id'].nunique()} services by "
            f"{n_people} people; {len(cat)} services in the catalogue"
        )

        params: dict[str, Any] = {"random_state": seed}
        metrics: dict[str, float] = {}
        if len(frame) == 0:
            pass  # nothing to evaluate on
        elif evaluate_first and n_people >= 10:
            out.print("held-out evaluation (fit on 80% of people, score the other 20%):")
            result = _held_out_metrics(cat, frame, params, top_k, seed)
            out.print(result.table(), markup=False)
            model_scores = result.models["model"]
            metrics = {
                f"ndcg@{top_k}": model_scores.ndcg,
                f"recall@{top_k}": model_scores.recall,
                f"rated_ndcg@{top_k}": model_scores.rated_ndcg,
                f"snips@{top_k}": model_scores.snips,
                "coverage": float(model_scores.coverage),
                "held_out_people": float(result.n_test_people),
            }
            for name in ("nearest", "content-only", "group-popularity", "sex-mean-rating"):
                metrics[f"ndcg@{top_k}:{name}"] = result.models[name].ndcg
        elif evaluate_first:
            out.print("too few people for a held-out evaluation; skipped")

        started = time.perf_counter()
        try:
            model = Recommender(**params).fit(cat, frame)
        except (VcsmatchError, ValueError) as error:
            raise _refuse(error) from None
        model.metrics_ = {k: float(v) for k, v in metrics.items() if v == v}  # drop NaN
        model.save(model_dir)
        out.print(
            f"model {model.version_} trained in {time.perf_counter() - started:.1f}s "
            f"and saved to {model_dir}"
        )
        if register_model:
            from vcsmatch.settings import get_settings
            from vcsmatch.store import learner_lease, model_registry
            from vcsmatch.store.db import open_store

            with open_store(get_settings())() as session:
                before = model_registry.serving_version(session)
                try:
                    version = model_registry.register_model(
                        session,
                        model_dir,
                        metrics=model.metrics_,
                        n_ratings=model.n_ratings_,
                        version=model.version_,
                    )
                except (VcsmatchError, ValueError) as error:
                    raise _refuse(error) from None
                newest = seen_up_to
                model_registry.record_attempt(
                    session,
                    trigger="manual",
                    decision="promoted",
                    reason="registered by hand with `vcsmatch train --register` (no gate)",
                    candidate_version=version,
                    serving_version=before,
                    fingerprint=model.fingerprint_,
                    n_ratings=model.n_ratings_,
                    last_rating_id=newest,
                    details={"metrics": model.metrics_},
                )
                if newest is not None:
                    learner_lease.mark_seen(session, newest)
            out.print(f"registered as model version {version}, now serving")

    @app.command()
    def recommend(
        catalogue: CatalogueOpt,
        model_dir: ModelDirOpt,
        people: PeopleOpt,
        output: Annotated[Path, typer.Option("--output", help="RECS.csv to write.")],
        top_k: TopKOpt = 10,
    ) -> None:
        """Rank services for every person in --people and write RECS.csv."""
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

        from vcsmatch.files import read_people, write_recommendations
        from vcsmatch.ranking.recommender import Recommender

        cat = _load_catalogue(catalogue)
        try:
            model = Recommender.load(model_dir)
            the_people = read_people(people)
        except (VcsmatchError, ValueError, OSError) as error:
            raise _refuse(error) from None
        if model.catalogue_ != cat:
            model = model.rebind(cat)
        rows: list[tuple[str, list]] = []
        with Progress(
            TextColumn("{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            transient=True,
            console=err,
        ) as progress:
            task = progress.add_task("recommending", total=len(the_people))
            for start in range(0, len(the_people), 100):
                batch = the_people[start : start + 100]
                lists = model.recommend_batch(batch, top_k=top_k)
                rows.extend((p.reference or "", s) for p, s in zip(batch, lists, strict=True))
                progress.advance(task, len(batch))
        write_recommendations(output, rows)
        n = sum(len(s) for _, s in rows)
        empty = sum(1 for _, s in rows if not s)
        out.print(
            f"{n} suggestions for {len(rows)} people written to {output}"
            + (f" ({empty} people had no eligible service)" if empty else "")
        )

    @app.command("evaluate")
    def evaluate_command(
        catalogue: CatalogueOpt,
        people: PeopleOpt,
        ratings: RatingsOpt,
        report: Annotated[Path, typer.Option("--report", help="HTML report to write.")],
        model_dir: Annotated[
            Path | None,
            typer.Option(
                "--model-dir",
                help="Evaluate this model's parameters (refitted on the "
                "training split, so no test rating leaks in).",
            ),
        ] = None,
        split: Annotated[SplitChoice, typer.Option("--split", help="Hold out people or time.")] = (
            SplitChoice.person
        ),
        test_size: Annotated[float, typer.Option(min=0.01, max=0.99)] = 0.2,
        top_k: TopKOpt = 10,
        seed: Annotated[int, typer.Option(help="Seed of the person split.")] = 0,
        exposures: Annotated[
            Path | None,
            typer.Option(
                "--exposures",
                help="EXPOSURES.csv (person_id, service_id, propensity): what the old tool "
                "showed, for the off-policy figure (default: estimated from the ratings).",
                exists=True,
                dir_okay=False,
            ),
        ] = None,
    ) -> None:
        """Compare the model with the baselines on held-out data and write an HTML report."""
        from vcsmatch.evaluation import (
            evaluate,
            split_by_person,
            split_by_time,
            write_html_report,
        )
        from vcsmatch.ranking.recommender import Recommender

        cat, frame = _load_training_files(catalogue, people, ratings)
        if model_dir is not None:
            try:
                params = Recommender.load(model_dir).get_params(deep=False)
            except (VcsmatchError, ValueError, OSError) as error:
                raise _refuse(error) from None
        else:
            params = {"random_state": seed}
        if split is SplitChoice.person:
            train, test = split_by_person(frame, test_size=test_size, seed=seed)
            described = f"by person ({test_size:.0%} of people held out)"
        else:
            train, test = split_by_time(frame, fraction=1.0 - test_size)
            described = f"by time (latest {test_size:.0%} of ratings held out)"
        if len(train) == 0 or len(test) == 0:
            err.print("refused: too few ratings to split into training and test sets")
            raise typer.Exit(1)
        shown = None
        if exposures is not None:
            import pandas as pd

            from vcsmatch.evaluation.evaluate import check_exposures

            try:
                shown = check_exposures(
                    pd.read_csv(exposures, dtype={"person_id": str, "service_id": str})
                )
            except (ValueError, OSError) as error:
                raise _refuse(error) from None
        result = evaluate(
            {"model": Recommender(**params)},
            cat,
            train,
            test,
            k=top_k,
            split=described,
            exposures=shown,
        )
        _print_fair_first(result)
        write_html_report(result, report)
        out.print(f"report written to {report}")

    @app.command()
    def synthetic(
        output: Annotated[Path, typer.Option("--output", help="Directory to write into.")],
        services: Annotated[int, typer.Option("--services", min=1)] = 700,
        n_people: Annotated[int, typer.Option("--people", min=0)] = 3000,
        new_people: Annotated[int, typer.Option("--new-people", min=0)] = 500,
        seed: Annotated[int, typer.Option("--seed")] = 0,
        online_only: Annotated[bool, typer.Option("--online-only")] = False,
    ) -> None:
        """Write a synthetic world: services.json, people.csv, ratings.csv, new_people.csv."""
        from vcsmatch.synthetic import make_world

        started = time.perf_counter()
        with err.status("generating the synthetic world"):
            world = make_world(services, n_people, new_people, seed=seed, online_only=online_only)
            paths = world.write(output)
        out.print(
            f"synthetic world (seed {seed}{', online only' if online_only else ''}) in "
            f"{time.perf_counter() - started:.1f}s: {len(world.catalogue)} services, "
            f"{len(world.people)} rated people, {len(world.ratings)} ratings, "
            f"{len(world.new_people)} new people"
        )
        for path in paths.values():
            out.print(f"  {path}")

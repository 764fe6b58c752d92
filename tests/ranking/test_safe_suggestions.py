"""Safe by construction: specialist services only for their need, and suggestions that meet
none of the person's needs bounded at the head of the list and explained."""

from __future__ import annotations

import numpy as np
import pytest
from ranking_worlds import catalogue, person, service

from vcsmatch.features.specialist import SpecialistServices, main_need
from vcsmatch.ranking.diversity import HEAD, rerank
from vcsmatch.ranking.exploration import Exploration
from vcsmatch.ranking.recommender import Recommender
from vcsmatch.synthetic import World
from vcsmatch.taxonomy import load_taxonomy


def test_the_taxonomy_marks_specialist_needs() -> None:
    """Domestic abuse and alcohol and drugs are marked specialist in needs.csv; others not."""
    codes = load_taxonomy().specialist_codes
    assert {"domestic-abuse", "substance-misuse"} <= codes
    assert "social-isolation" not in codes and "mental-wellbeing" not in codes


def test_a_service_is_specialist_by_its_main_need_only() -> None:
    """A women's-aid outreach (main need domestic abuse) is specialist; a lunch club that
    lists domestic abuse second is not; a text-only service goes by its first inferred need."""
    outreach = service("outreach", needs=("domestic-abuse", "mental-wellbeing"), modes=("phone",))
    lunch = service("lunch", needs=("nutrition", "domestic-abuse"))
    inferred = service("inferred").model_copy(update={"inferred_needs": ["substance-misuse"]})
    nothing = service("nothing")
    assert main_need(lunch) == "nutrition" and main_need(nothing) is None
    special = SpecialistServices().fit(catalogue(outreach, lunch, inferred, nothing))
    assert special.specialist_.tolist() == [True, False, True, False]
    assert special.allowed(["mental-wellbeing"]).tolist() == [False, True, False, True]
    assert special.allowed(["domestic-abuse"]).tolist() == [True, True, False, True]
    assert special.allowed([]).tolist() == [False, True, False, True]


def test_rerank_bounds_off_need_picks_in_the_head_and_scores_never_rise() -> None:
    """With at most one off-need pick in the first five, the best-scored off-need services
    wait below the head while services meeting a need remain; scores still never rise."""
    relevance = np.array([9.0, 8.0, 7.0, 6.0, 5.0, 4.0, 3.0, 2.0])
    off = np.array([True, True, True, False, False, False, False, True])
    match = (~off).astype(float)[:, None]
    order, gains = rerank(relevance, match, 8, 0.0, off_need=off, max_off_in_head=1)
    assert order[:HEAD].tolist() == [0, 3, 4, 5, 6]
    assert off[order[:HEAD]].sum() == 1
    assert sorted(order.tolist()) == list(range(8))
    assert np.all(np.diff(gains) <= 0)
    free, _ = rerank(relevance, match, 8, 0.0)
    assert off[free[:HEAD]].sum() == 3


def test_the_bound_yields_when_too_few_services_meet_a_need() -> None:
    """With fewer need-meeting services than head places, off-need ones fill the head
    rather than leaving it short."""
    relevance = np.array([5.0, 4.0, 3.0, 2.0])
    off = np.array([True, True, True, False])
    order, _ = rerank(relevance, np.zeros((4, 1)), 4, 0.0, off_need=off, max_off_in_head=0)
    assert order.tolist() == [3, 0, 1, 2]


def _off_need(model: Recommender, p: object, recs: list) -> list[bool]:
    index = model.catalogue_.index()
    cols = [model.content_.need_col_[c] for c in p.needs]  # type: ignore[attr-defined]
    return [not (model.content_.need_matrix_[index[s.service_id], cols] > 0).any() for s in recs]


@pytest.fixture(scope="module")
def bounded_and_free(small_world: World) -> tuple[Recommender, Recommender]:
    """The hybrid with the default bound and with none, fitted on the small world."""
    bounded = Recommender(show_progress=False).fit(small_world.catalogue, small_world.ratings)
    free = Recommender(max_off_need_share=1.0, show_progress=False).fit(
        small_world.catalogue, small_world.ratings
    )
    return bounded, free


def test_the_hybrid_bounds_off_need_suggestions_in_its_top_five(
    bounded_and_free: tuple[Recommender, Recommender], small_world: World
) -> None:
    """With ``max_off_need_share=0.2`` at most one of the first five suggestions meets none
    of the person's needs while enough services meet one; without the bound more do."""
    bounded, free = bounded_and_free
    n_bounded = n_free = 0
    for p in small_world.new_people:
        recs = bounded.recommend(p, top_k=10)
        off = _off_need(bounded, p, recs)
        on_need_candidates = sum(1 for o in _off_need(bounded, p, free.recommend(p, 50)) if not o)
        if on_need_candidates >= HEAD:
            assert sum(off[:HEAD]) <= 1, p.needs
        n_bounded += sum(off[:HEAD])
        n_free += sum(_off_need(free, p, free.recommend(p, top_k=10))[:HEAD])
    assert n_free > n_bounded


def test_every_off_need_suggestion_says_why(
    bounded_and_free: tuple[Recommender, Recommender], small_world: World
) -> None:
    """A suggestion meeting none of the person's needs leads with an ``off_need`` reason that
    names its grounds; one meeting a need has none."""
    _, free = bounded_and_free
    seen = 0
    for p in small_world.new_people:
        recs = free.recommend(p, top_k=10)
        for s, off in zip(recs, _off_need(free, p, recs), strict=True):
            kinds = [r.kind for r in s.reasons]
            if off:
                seen += 1
                assert kinds[0] == "off_need"
                assert s.reasons[0].text.startswith("meets none of the needs recorded; ")
            else:
                assert "off_need" not in kinds
    assert seen >= 10


def test_an_off_need_suggestion_names_the_interest_it_matches() -> None:
    """A gardening club suggested to a lonely gardener (the club meets no need of theirs)
    says it is there for the interest."""
    cat = catalogue(
        service("garden-club", needs=("physical-activity",), activities=("gardening",)),
        service("befriending", needs=("social-isolation",), km_north=3.0),
    )
    model = Recommender(show_progress=False).fit(cat, _no_ratings())
    recs = model.recommend(person(strengths=["gardening"]), top_k=2)
    garden = next(s for s in recs if s.service_id == "garden-club")
    assert garden.reasons[0].kind == "off_need"
    assert "interest: gardening" in garden.reasons[0].text


def _no_ratings():  # noqa: ANN202 - an empty training frame
    from ranking_worlds import ratings_frame

    return ratings_frame([])


@pytest.mark.parametrize("bad", [-0.1, 1.5, "0.2", True, None])
def test_max_off_need_share_must_be_a_share(bad: object, small_world: World) -> None:
    """A bad ``max_off_need_share`` is refused naming the parameter and the value."""
    with pytest.raises(ValueError, match=r"'max_off_need_share' parameter .* \[0, 1\]\. Got"):
        Recommender(max_off_need_share=bad, show_progress=False).fit(  # type: ignore[arg-type]
            small_world.catalogue, small_world.ratings
        )


@pytest.mark.parametrize(
    "policy",
    [
        Exploration(share=1.0, max_ratings=1_000_000, protected=0, seed=3),
        Exploration(share=0.4, max_ratings=1_000_000, protected=3, seed=4),
    ],
)
def test_exploration_slots_obey_the_off_need_bound(
    policy: Exploration, bounded_and_free: tuple[Recommender, Recommender], small_world: World
) -> None:
    """Explored slots, even every slot of the head, never take the top five past
    ``max_off_need_share``: a person who gave needs is only explored services meeting one."""
    bounded, free = bounded_and_free
    explored = 0
    for p in small_world.new_people:
        if not p.needs:
            continue
        recs = bounded.recommend(p, top_k=HEAD, exploration=policy)
        off = _off_need(bounded, p, recs)
        drawn = [s.propensity < 1.0 for s in recs]
        explored += sum(drawn)
        on_need_candidates = sum(1 for o in _off_need(bounded, p, free.recommend(p, 50)) if not o)
        if on_need_candidates >= HEAD:
            assert sum(off) <= 1, p.needs
        assert not any(o and d for o, d in zip(off, drawn, strict=True))
    assert explored > 0

"""Free text to taxonomy codes, on the real taxonomy in catalogue/taxonomy/."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from vcsmatch.catalogue.model import Catalogue, Service
from vcsmatch.errors import NotFittedError
from vcsmatch.features.service import ServiceFeatures
from vcsmatch.features.text import CodeSuggester, CodeSuggestion, infer_service_codes
from vcsmatch.taxonomy import load_taxonomy


@pytest.fixture(scope="module")
def suggester() -> CodeSuggester:
    """Fitted once on the shipped taxonomy."""
    return CodeSuggester().fit(load_taxonomy())


def codes(found: list[CodeSuggestion]) -> list[str]:
    return [s.code for s in found]


def test_the_issue_example(suggester: CodeSuggester) -> None:
    """The issue's sentence gives social isolation and bereavement, and gardening as strength."""
    text = "lonely since my wife died, used to love the allotment"
    needs = suggester.suggest(text, kind="need")
    assert set(codes(needs)[:2]) == {"social-isolation", "bereavement"}
    assert all(s.confidence >= 0.9 for s in needs[:2])
    assert needs[0].label in {"Social isolation and loneliness", "Bereavement"}
    strengths = suggester.suggest(text, kind="strength")
    assert "gardening" in codes(strengths)
    assert "gardening" not in codes(needs) and "bereavement" not in codes(strengths)


@pytest.mark.parametrize(
    ("text", "kind", "expected"),
    [
        ("struggles with washing and dressing", "need", "personal-care"),
        ("worried about bills and debt", "need", "money-advice"),
        ("She has Alzheimer's", "need", "dementia"),
        ("can't get out since the bus stopped", "need", "transport"),
        ("used to sing in the church choir", "strength", "music"),
        ("likes knitting and crosswords", "strength", "games-puzzles"),
        ("loves walking the dog", "activity", "walking"),
    ],
)
def test_everyday_phrases_map_to_codes(
    suggester: CodeSuggester, text: str, kind: str, expected: str
) -> None:
    """Phrases a front-door worker writes land on the right code above the default threshold."""
    assert expected in codes(suggester.suggest(text, kind=kind))


@pytest.mark.parametrize(
    ("typo", "kind", "expected"),
    [
        ("very lonley", "need", "social-isolation"),
        ("has an alotment", "strength", "gardening"),
        ("bereavment", "need", "bereavement"),
        ("demenshia", "need", "dementia"),
    ],
)
def test_typos_are_forgiven_at_lower_confidence(
    suggester: CodeSuggester, typo: str, kind: str, expected: str
) -> None:
    """A misspelt synonym still maps, a little less confidently than the exact word."""
    found = {s.code: s.confidence for s in suggester.suggest(typo, kind=kind)}
    assert expected in found
    assert 0.5 <= found[expected] < 1.0


@pytest.mark.parametrize(
    "text", ["The weather is nice today", "after my operation I need help", "Ms Jones called"]
)
def test_unrelated_or_generic_text_suggests_nothing(suggester: CodeSuggester, text: str) -> None:
    """Small talk and generic words ("help", "Ms") stay below the default threshold."""
    assert suggester.suggest(text, kind="need") == []
    assert suggester.suggest(text, kind="strength") == []


def test_half_a_phrase_is_weaker_than_the_whole(suggester: CodeSuggester) -> None:
    """ "looking after my mum" is carer support; "after lunch" is only a faint hint of it."""
    col = load_taxonomy().need_codes.index("carer-support")
    whole = suggester.scores("I am looking after my mum", "need")[col]
    half = suggester.scores("see you after lunch", "need")[col]
    assert whole >= 0.9 and half < 0.3


_SHARED = CodeSuggester().fit()  # hypothesis tests cannot take function-scoped fixtures


@settings(max_examples=100, deadline=None)
@given(st.text(max_size=200), st.sampled_from(["need", "strength"]))
def test_confidences_are_probabilities_sorted_and_thresholded(text: str, kind: str) -> None:
    """For any text, confidences lie in [0, 1], come most-confident first and respect limits."""
    suggester = _SHARED
    found = suggester.suggest(text, kind=kind, top_n=3, min_confidence=0.2)
    confidences = [s.confidence for s in found]
    assert len(found) <= 3
    assert all(0.2 <= c <= 1.0 for c in confidences)
    assert confidences == sorted(confidences, reverse=True)


def test_bad_parameters_and_unfitted_use(suggester: CodeSuggester) -> None:
    """Bad kind, top_n or min_confidence name the parameter; unfitted use is NotFittedError."""
    with pytest.raises(ValueError, match="'kind'"):
        suggester.suggest("lonely", kind="wish")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="top_n"):
        suggester.suggest("lonely", top_n=0)
    with pytest.raises(ValueError, match="min_confidence"):
        suggester.suggest("lonely", min_confidence=2)
    with pytest.raises(NotFittedError):
        CodeSuggester().suggest("lonely")


def test_infer_service_codes_fills_only_what_was_not_published(suggester: CodeSuggester) -> None:
    """Codes come from the description only where the service published none of that kind."""
    cat = Catalogue(
        services=[
            Service(
                id="lunch",
                name="Friendship lunch club",
                description="A hot meal and company for older people who live alone.",
            ),
            Service(
                id="choir",
                name="Singing for the brain",
                needs=["dementia"],
                description="A choir for people with dementia and their carers.",
            ),
            Service(
                id="tagged",
                name="Allotment group",
                needs=["physical-activity"],
                activities=["gardening"],
                description="Growing vegetables, for the lonely.",
            ),
        ]
    )
    out = infer_service_codes(cat, suggester)
    lunch, choir, tagged = out.services
    assert {"nutrition", "social-isolation"} <= set(lunch.inferred_needs)
    assert choir.inferred_needs == [] and choir.needs == ["dementia"]
    assert "music" in choir.inferred_activities
    assert tagged == cat.services[2]
    assert cat.services[0].inferred_needs == []  # the input is not modified
    sf = ServiceFeatures().fit(out)
    col = sf.need_codes_.index("nutrition")
    assert sf.need_matrix_[0, col] == pytest.approx(0.6)  # inferred, so weighed less

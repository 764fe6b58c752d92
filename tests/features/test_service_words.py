"""Service words: a vocabulary learned from one catalogue reads any other in the same columns."""

from __future__ import annotations

import numpy as np
import pytest

from vcsmatch.catalogue.model import Catalogue, Service
from vcsmatch.errors import NotFittedError
from vcsmatch.features.service_words import ServiceWords


def _catalogue(names: list[str]) -> Catalogue:
    return Catalogue(services=[Service(id=f"s{i}", name=n) for i, n in enumerate(names)])


NAMES = (
    [f"{town} Men's Shed" for town in ("Ipswich", "Bury", "Diss", "Eye", "Hadleigh")]
    + [f"{town} Lunch Club" for town in ("Ipswich", "Bury", "Diss", "Eye", "Hadleigh", "Beccles")]
    + [f"Walking group {i}" for i in range(6)]
)


def test_vocabulary_keeps_words_shared_by_several_services() -> None:
    """Words of at least ``min_services`` services are kept; one-off words and numbers are
    not."""
    words = ServiceWords(min_services=5, max_share=0.5).fit(_catalogue(NAMES))
    assert set(words.vocabulary_) == {"shed", "men", "lunch", "club", "walking", "group"}
    X = words.transform(_catalogue(NAMES))
    assert X.shape == (len(NAMES), 6) and X.dtype == np.float32
    col = {w: j for j, w in enumerate(words.vocabulary_)}
    assert X[0, col["shed"]] == 1.0 and X[0, col["lunch"]] == 0.0


def test_other_catalogue_is_read_in_the_same_columns() -> None:
    """A new catalogue version uses the training vocabulary; unknown words set nothing."""
    words = ServiceWords(min_services=5, max_share=0.5).fit(_catalogue(NAMES))
    X = words.transform(_catalogue(["Framlingham Lunch Club", "Pottery for all"]))
    col = {w: j for j, w in enumerate(words.vocabulary_)}
    assert X[0, col["lunch"]] == 1.0 and X[0].sum() == 2.0
    assert X[1].sum() == 0.0


def test_tiny_catalogue_gives_no_word_columns() -> None:
    """Too few services for any word to qualify: zero columns, not an error."""
    words = ServiceWords().fit(_catalogue(["One", "Two"]))
    assert words.vocabulary_ == ()
    assert words.transform(_catalogue(["Three"])).shape == (1, 0)


def test_unfitted_use_raises() -> None:
    with pytest.raises(NotFittedError):
        ServiceWords().transform(_catalogue(NAMES))

"""Service words: which of a fixed vocabulary of words a service's name and description use.

Directories name the kind of a service in words ("men's shed", "memory café", "lunch club")
more reliably than in codes: codes are over-claimed or missing, and two services with the same
codes can be very different things. As service features of the taste model, words let it learn
"men aged 65 to 79 rate sheds highly" from every service called a shed, and carry that to a
service nobody has rated yet. The vocabulary is learned once, at training, from the training
catalogue, and kept with the model, so a new catalogue version is read in the same columns.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.feature_extraction.text import CountVectorizer

from vcsmatch.catalogue.model import Catalogue, Service
from vcsmatch.errors import NotFittedError

#: Words of at least three letters (numbers and codes say nothing of the kind of service).
TOKEN_PATTERN = r"(?u)\b[^\W\d_]{3,}\b"


def service_text(service: Service) -> str:
    """The text a service's words come from: its name and description."""
    return f"{service.name} {service.description or ''}"


class ServiceWords(TransformerMixin, BaseEstimator):
    """Catalogue -> 0/1 matrix over a vocabulary of the catalogue's words.

    Words used by fewer than ``min_services`` services (names of single services) or by more
    than ``max_share`` of them (words every service uses) are left out; of the rest, the
    ``max_words`` most used are kept. After ``fit``: ``vocabulary_`` (a tuple of words, the
    column order).
    """

    def __init__(self, min_services: int = 5, max_share: float = 0.3, max_words: int = 300) -> None:
        self.min_services = min_services
        self.max_share = max_share
        self.max_words = max_words

    def fit(self, catalogue: Catalogue | Sequence[Service], y: Any = None) -> ServiceWords:
        texts = [service_text(s) for s in catalogue]
        vectorizer = CountVectorizer(
            binary=True,
            lowercase=True,
            stop_words="english",
            token_pattern=TOKEN_PATTERN,
            min_df=self.min_services,
            max_df=self.max_share,
            max_features=self.max_words,
        )
        try:
            vectorizer.fit(texts)
            words = vectorizer.get_feature_names_out()
        except ValueError:  # too few services, or no word common enough: no word columns
            words = []
        self.vocabulary_ = tuple(str(w) for w in words)
        return self

    def transform(self, catalogue: Catalogue | Sequence[Service]) -> np.ndarray:
        """``n_services x len(vocabulary_)`` float32, 1 where the service uses the word."""
        if not hasattr(self, "vocabulary_"):
            raise NotFittedError("ServiceWords is not fitted yet; call fit(catalogue) first.")
        services = list(catalogue)
        if not self.vocabulary_:
            return np.zeros((len(services), 0), dtype=np.float32)
        vectorizer = CountVectorizer(
            binary=True,
            lowercase=True,
            stop_words="english",
            token_pattern=TOKEN_PATTERN,
            vocabulary=list(self.vocabulary_),
        )
        out = vectorizer.transform([service_text(s) for s in services])
        return out.toarray().astype(np.float32)

    def get_feature_names_out(self, input_features: Any = None) -> np.ndarray:
        if not hasattr(self, "vocabulary_"):
            raise NotFittedError("ServiceWords is not fitted yet; call fit(catalogue) first.")
        return np.asarray([f"word={w}" for w in self.vocabulary_], dtype=object)

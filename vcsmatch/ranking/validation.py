"""Checks every ranker runs at its boundary, with scikit-learn style messages.

Messages name the record and the field, never a person's feature values.
"""

from __future__ import annotations

import hashlib
import numbers
from typing import Any

import numpy as np
import pandas as pd

from vcsmatch.catalogue.model import Catalogue
from vcsmatch.errors import DataError, NotFittedError
from vcsmatch.features.person import Person
from vcsmatch.ratings import TRAINING_COLUMNS


def check_top_k(top_k: Any, method: str) -> int:
    """``top_k`` must be a positive int (bools are not ints here)."""
    if isinstance(top_k, bool) or not isinstance(top_k, numbers.Integral) or top_k < 1:
        raise ValueError(
            f"The 'top_k' parameter of {method} must be a positive int. Got {top_k!r} instead."
        )
    return int(top_k)


def check_person(person: Any, method: str) -> Person:
    """A ``Person``; anything else is a ``TypeError`` naming what came instead."""
    if not isinstance(person, Person):
        raise TypeError(
            f"The 'person' parameter of {method} must be a Person. "
            f"Got an object of type {type(person).__name__} instead."
        )
    return person


def check_catalogue(catalogue: Any, method: str) -> Catalogue:
    """A non-empty ``Catalogue``."""
    if not isinstance(catalogue, Catalogue):
        raise TypeError(
            f"The 'catalogue' parameter of {method} must be a Catalogue. "
            f"Got an object of type {type(catalogue).__name__} instead."
        )
    if len(catalogue) == 0:
        raise ValueError(f"The 'catalogue' parameter of {method} must hold at least one service.")
    return catalogue


def check_ratings(ratings: Any, catalogue: Catalogue, *, allow_empty: bool = False) -> pd.DataFrame:
    """A training frame (``vcsmatch/ratings.py``) whose services are all in ``catalogue``.

    Refuses rather than learns from what it cannot trust: missing columns, ratings outside
    1..5, unknown services. Rows are named by their position in the frame.
    """
    if not isinstance(ratings, pd.DataFrame):
        raise TypeError(
            "The 'ratings' parameter of fit must be a training frame (pandas DataFrame). "
            f"Got an object of type {type(ratings).__name__} instead."
        )
    missing = [c for c in TRAINING_COLUMNS if c not in ratings.columns]
    if missing:
        raise DataError("ratings", None, missing[0], f"missing column(s) {missing}")
    if len(ratings) == 0 and not allow_empty:
        raise DataError("ratings", None, "rating", "no ratings to learn from")
    rating = pd.to_numeric(ratings["rating"], errors="coerce")
    bad = ~rating.isin([1, 2, 3, 4, 5])
    if bad.any():
        row = int(np.flatnonzero(bad.to_numpy())[0])
        raise DataError("ratings", None, "rating", f"row {row}: not an integer from 1 to 5")
    known = set(catalogue.ids())
    unknown = ~ratings["service_id"].isin(known)
    if unknown.any():
        row = int(np.flatnonzero(unknown.to_numpy())[0])
        sid = ratings["service_id"].iloc[row]
        raise DataError("ratings", None, "service_id", f"row {row}: no service {sid!r}")
    if ratings["person_id"].isna().any():
        row = int(np.flatnonzero(ratings["person_id"].isna().to_numpy())[0])
        raise DataError("ratings", None, "person_id", f"row {row}: empty")
    return ratings


def check_fitted(model: Any, attribute: str = "fingerprint_") -> None:
    """Raise ``NotFittedError`` when ``model`` has not been fitted."""
    if not hasattr(model, attribute):
        raise NotFittedError(
            f"This {type(model).__name__} instance is not fitted yet. Call 'fit' with a "
            "catalogue and ratings before using it."
        )


def fingerprint(ratings: pd.DataFrame) -> str:
    """SHA-256 of the training frame's content, independent of row order.

    Each row is hashed from its column arrays (``pandas.util.hash_pandas_object``), the row
    hashes are sorted (row order does not count) and the sorted array is hashed: linear in the
    rows, where writing the frame out as text cost seconds per million ratings.
    """
    cols = list(TRAINING_COLUMNS)
    frame = ratings[cols].copy()
    for col in ("needs", "strengths"):
        frame[col] = frame[col].map(lambda v: ";".join(v) if v is not None else "")
    frame["rated_at"] = pd.to_datetime(frame["rated_at"], utc=True).astype("int64")
    rows = pd.util.hash_pandas_object(frame, index=False).to_numpy(dtype=np.uint64)
    rows = np.sort(rows)
    digest = hashlib.sha256(",".join(cols).encode("utf-8"))
    digest.update(rows.tobytes())
    return digest.hexdigest()

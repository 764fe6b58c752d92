"""Person features: a sparse one-hot of age band, sex, needs, strengths and a coarse area.

The same transformer reads people at recommendation time (``list[Person]``) and the training
frame (``vcsmatch/ratings.py`` columns) at fit time, so both land in the same columns. The
area is a grid cell of ``area_cell_deg`` degrees (0.1 degree is about 11 km north-south): coarse
enough to group neighbours, never a home address. Categories are fixed by the taxonomy for
needs and strengths, by ``AGE_BANDS``/``SEXES`` for age and sex, and learned at ``fit`` for
areas; an area not seen at fit sets no column. "Unknown" age band and "no location" are
columns of their own.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np
import pandas as pd
import scipy.sparse as sp
from sklearn.base import BaseEstimator, TransformerMixin

from vcsmatch.errors import NotFittedError, UnknownCodeError
from vcsmatch.features.person import AGE_BAND_CODES, SEXES, Person, age_band
from vcsmatch.taxonomy import Taxonomy, load_taxonomy

GROUPS: tuple[str, ...] = ("age_band", "sex", "needs", "strengths", "area")
UNKNOWN = "unknown"


def _nan_to_none(value: Any) -> Any:
    if value is None:
        return None
    if isinstance(value, float) and math.isnan(value):
        return None
    return value


def _records(X: Any) -> list[dict[str, Any]]:
    """People or a training frame -> plain records with the fields features need."""
    if isinstance(X, pd.DataFrame):
        frame = X
        records = []
        for row in frame.itertuples(index=False):
            rec = row._asdict()
            age = _nan_to_none(rec.get("age"))
            records.append(
                {
                    "band": age_band(int(age)) if age is not None else rec.get("age_band"),
                    "sex": rec.get("sex") or "not_recorded",
                    "needs": tuple(rec.get("needs") or ()),
                    "strengths": tuple(rec.get("strengths") or ()),
                    "lat": _nan_to_none(rec.get("latitude")),
                    "lon": _nan_to_none(rec.get("longitude")),
                }
            )
        return records
    if isinstance(X, Person):
        X = [X]
    if isinstance(X, str | bytes) or not isinstance(X, Iterable):
        raise TypeError(
            f"PersonFeatures expects a list of Person or a training frame. Got {type(X)!r}."
        )
    records = []
    for person in X:
        if not isinstance(person, Person):
            raise TypeError(
                "PersonFeatures expects a list of Person or a training frame. "
                f"Got an element of type {type(person)!r}."
            )
        lat = lon = None
        if person.latitude is not None:
            lat, lon = person.latitude, person.longitude
        elif person.postcode:
            from vcsmatch.features.location import locate

            found = locate(person)
            if found is not None:
                lat, lon = found
        records.append(
            {
                "band": person.band,
                "sex": person.sex,
                "needs": tuple(person.needs),
                "strengths": tuple(person.strengths),
                "lat": lat,
                "lon": lon,
            }
        )
    return records


class PersonFeatures(TransformerMixin, BaseEstimator):
    """People -> CSR one-hot of age band, sex, needs, strengths and a coarse area cell."""

    def __init__(
        self,
        area_cell_deg: float = 0.1,
        groups: Sequence[str] = GROUPS,
        taxonomy: Taxonomy | None = None,
    ) -> None:
        self.area_cell_deg = area_cell_deg
        self.groups = groups
        self.taxonomy = taxonomy

    def _validate_params(self) -> None:
        if not (isinstance(self.area_cell_deg, int | float) and 0 < self.area_cell_deg <= 10):
            raise ValueError(
                "The 'area_cell_deg' parameter of PersonFeatures must be a number in (0, 10]. "
                f"Got {self.area_cell_deg!r} instead."
            )
        bad = [g for g in self.groups if g not in GROUPS]
        if bad or not self.groups:
            raise ValueError(
                f"The 'groups' parameter of PersonFeatures must be a non-empty subset of "
                f"{GROUPS}. Got {tuple(self.groups)!r} instead."
            )

    def _cell(self, lat: float | None, lon: float | None) -> str:
        if lat is None or lon is None:
            return UNKNOWN
        step = float(self.area_cell_deg)
        # the epsilon keeps 52.3 / 0.1 = 522.999... in cell 523; names are the cell's south-west
        # corner, e.g. "52.3,-1.2" (vcsmatch.ranking.persistence parses them back)
        south = math.floor(lat / step + 1e-9) * step
        west = math.floor(lon / step + 1e-9) * step
        return f"{round(south, 6):.10g},{round(west, 6):.10g}"

    def fit(self, X: Any, y: Any = None) -> PersonFeatures:
        self._validate_params()
        records = _records(X)
        tax = self.taxonomy or load_taxonomy()
        areas = sorted({self._cell(r["lat"], r["lon"]) for r in records} - {UNKNOWN})
        vocab: dict[str, list[str]] = {
            "age_band": [*AGE_BAND_CODES, UNKNOWN],
            "sex": list(SEXES),
            "needs": list(tax.need_codes),
            "strengths": list(tax.strength_codes),
            "area": [*areas, UNKNOWN],
        }
        self.categories_ = {g: vocab[g] for g in GROUPS if g in self.groups}
        names: list[str] = []
        offsets: dict[str, int] = {}
        for group, cats in self.categories_.items():
            offsets[group] = len(names)
            names.extend(f"{group}={c}" for c in cats)
        self._offsets = offsets
        self._index = {
            group: {c: offsets[group] + j for j, c in enumerate(cats)}
            for group, cats in self.categories_.items()
        }
        self.feature_names_out_ = np.asarray(names, dtype=object)
        self.n_features_out_ = len(names)
        return self

    def transform(self, X: Any) -> sp.csr_matrix:
        if not hasattr(self, "categories_"):
            raise NotFittedError("PersonFeatures is not fitted yet; call fit(people) first.")
        records = _records(X)
        rows: list[int] = []
        cols: list[int] = []
        index = self._index
        for i, r in enumerate(records):
            if "age_band" in index:
                rows.append(i)
                cols.append(index["age_band"][r["band"] or UNKNOWN])
            if "sex" in index:
                col = index["sex"].get(r["sex"])
                if col is None:
                    raise ValueError(f"record {i}: field 'sex': not one of {SEXES}")
                rows.append(i)
                cols.append(col)
            for group, kind in (("needs", "need"), ("strengths", "strength")):
                if group not in index:
                    continue
                for code in dict.fromkeys(r[group]):
                    col = index[group].get(code)
                    if col is None:
                        raise UnknownCodeError(kind, code)
                    rows.append(i)
                    cols.append(col)
            if "area" in index:
                col = index["area"].get(self._cell(r["lat"], r["lon"]))
                if col is not None:  # an area not seen at fit sets nothing
                    rows.append(i)
                    cols.append(col)
        data = np.ones(len(rows), dtype=float)
        return sp.csr_matrix(
            (data, (np.asarray(rows, dtype=np.intp), np.asarray(cols, dtype=np.intp))),
            shape=(len(records), self.n_features_out_),
        )

    def get_feature_names_out(self, input_features: Any = None) -> np.ndarray:
        if not hasattr(self, "feature_names_out_"):
            raise NotFittedError("PersonFeatures is not fitted yet; call fit(people) first.")
        return self.feature_names_out_.copy()

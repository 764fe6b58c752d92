"""Person features: a sparse one-hot of age band, sex, needs, strengths and a coarse area
(and, on request, the age band x sex cross).

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
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
import scipy.sparse as sp
from sklearn.base import BaseEstimator, TransformerMixin

from vcsmatch.errors import NotFittedError, UnknownCodeError
from vcsmatch.features.person import AGE_BAND_CODES, AGE_BANDS, SEXES, Person
from vcsmatch.taxonomy import Taxonomy, load_taxonomy

#: Every group of features this transformer can encode; ``age_band_sex`` is the cross of the
#: two (what men aged 65 to 79 value need not be what men and people aged 65 to 79 value).
GROUPS: tuple[str, ...] = ("age_band", "sex", "age_band_sex", "needs", "strengths", "area")
#: The groups encoded unless asked otherwise.
DEFAULT_GROUPS: tuple[str, ...] = ("age_band", "sex", "needs", "strengths", "area")
UNKNOWN = "unknown"


@dataclass
class _Columns:
    """People as columns: what the features need, nothing else."""

    band: np.ndarray  # object: band code or None
    sex: np.ndarray  # object: one of SEXES
    needs: list[tuple[str, ...]]
    strengths: list[tuple[str, ...]]
    lat: np.ndarray  # float, NaN when not located
    lon: np.ndarray

    def __len__(self) -> int:
        return len(self.sex)


_BAND_EDGES = np.asarray([lo for _, lo, _ in AGE_BANDS[1:]], dtype=float)


def _bands_of_ages(ages: np.ndarray) -> np.ndarray:
    out = np.asarray(AGE_BAND_CODES, dtype=object)[np.digitize(np.nan_to_num(ages), _BAND_EDGES)]
    out[~np.isfinite(ages) | (ages < 0) | (ages > 130)] = None
    return out


def _codes(value: Any) -> tuple[str, ...]:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return ()
    if isinstance(value, str):  # a ';'-separated cell, as in PEOPLE.csv
        return tuple(c.strip() for c in value.split(";") if c.strip())
    return tuple(value)


def _columns(X: Any) -> _Columns:
    """People (``list[Person]``) or a training frame -> columns."""
    if isinstance(X, pd.DataFrame):
        n = len(X)

        def col(name: str, default: Any) -> pd.Series:
            return X[name] if name in X.columns else pd.Series([default] * n, index=X.index)

        ages = pd.to_numeric(col("age", np.nan), errors="coerce").to_numpy(dtype=float)
        band = _bands_of_ages(ages)
        if "age_band" in X.columns:
            given = X["age_band"].to_numpy(dtype=object)
            band = np.where(pd.isna(band), given, band)
        sex = col("sex", "not_recorded").fillna("not_recorded").to_numpy(dtype=object)
        return _Columns(
            band=np.asarray([None if pd.isna(b) else b for b in band], dtype=object),
            sex=sex,
            needs=[_codes(v) for v in col("needs", ())],
            strengths=[_codes(v) for v in col("strengths", ())],
            lat=pd.to_numeric(col("latitude", np.nan), errors="coerce").to_numpy(dtype=float),
            lon=pd.to_numeric(col("longitude", np.nan), errors="coerce").to_numpy(dtype=float),
        )
    if isinstance(X, Person):
        X = [X]
    if isinstance(X, str | bytes) or not isinstance(X, Iterable):
        raise TypeError(
            f"PersonFeatures expects a list of Person or a training frame. Got {type(X)!r}."
        )
    people = list(X)
    lat = np.full(len(people), np.nan)
    lon = np.full(len(people), np.nan)
    for i, person in enumerate(people):
        if not isinstance(person, Person):
            raise TypeError(
                "PersonFeatures expects a list of Person or a training frame. "
                f"Got an element of type {type(person)!r}."
            )
        if person.latitude is not None and person.longitude is not None:
            lat[i], lon[i] = person.latitude, person.longitude
        elif person.postcode:
            from vcsmatch.features.location import locate

            found = locate(person)
            if found is not None:
                lat[i], lon[i] = found
    return _Columns(
        band=np.asarray([p.band for p in people], dtype=object),
        sex=np.asarray([p.sex for p in people], dtype=object),
        needs=[tuple(p.needs) for p in people],
        strengths=[tuple(p.strengths) for p in people],
        lat=lat,
        lon=lon,
    )


class PersonFeatures(TransformerMixin, BaseEstimator):
    """People -> CSR one-hot of age band, sex, needs, strengths and a coarse area cell."""

    def __init__(
        self,
        area_cell_deg: float = 0.1,
        groups: Sequence[str] = DEFAULT_GROUPS,
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

    def _cells(self, lat: np.ndarray, lon: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Integer grid cells (row, column); the epsilon keeps 52.3 / 0.1 = 522.999... in 523."""
        step = float(self.area_cell_deg)
        with np.errstate(invalid="ignore"):
            i = np.floor(lat / step + 1e-9)
            j = np.floor(lon / step + 1e-9)
        return i, j

    def _cell_name(self, i: float, j: float) -> str:
        """A cell's south-west corner, e.g. "52.3,-1.2" (vcsmatch.ranking.persistence parses it)."""
        step = float(self.area_cell_deg)
        return f"{round(i * step, 6):.10g},{round(j * step, 6):.10g}"

    def fit(self, X: Any, y: Any = None) -> PersonFeatures:
        self._validate_params()
        cols = _columns(X)
        tax = self.taxonomy or load_taxonomy()
        i, j = self._cells(cols.lat, cols.lon)
        located = np.isfinite(i) & np.isfinite(j)
        cells = sorted(set(zip(i[located].tolist(), j[located].tolist(), strict=True)))
        names = {cell: self._cell_name(*cell) for cell in cells}
        vocab: dict[str, list[str]] = {
            "age_band": [*AGE_BAND_CODES, UNKNOWN],
            "sex": list(SEXES),
            "age_band_sex": [f"{b}|{x}" for b in (*AGE_BAND_CODES, UNKNOWN) for x in SEXES],
            "needs": list(tax.need_codes),
            "strengths": list(tax.strength_codes),
            "area": sorted(names.values()) + [UNKNOWN],
        }
        self.categories_ = {g: vocab[g] for g in GROUPS if g in self.groups}
        feature_names: list[str] = []
        self._index: dict[str, dict[str, int]] = {}
        for group, cats in self.categories_.items():
            self._index[group] = {c: len(feature_names) + k for k, c in enumerate(cats)}
            feature_names.extend(f"{group}={c}" for c in cats)
        self._cell_index = (
            {cell: self._index["area"][name] for cell, name in names.items()}
            if "area" in self._index
            else {}
        )
        self.feature_names_out_ = np.asarray(feature_names, dtype=object)
        self.n_features_out_ = len(feature_names)
        return self

    def transform(self, X: Any) -> sp.csr_matrix:
        if not hasattr(self, "categories_"):
            raise NotFittedError("PersonFeatures is not fitted yet; call fit(people) first.")
        cols = _columns(X)
        n = len(cols)
        rows: list[np.ndarray] = []
        columns: list[np.ndarray] = []
        every = np.arange(n)
        index = self._index
        if "age_band" in index:
            lookup = index["age_band"]
            unknown = lookup[UNKNOWN]
            band_cols = np.fromiter(
                (lookup.get(b, unknown) if b is not None else unknown for b in cols.band),
                dtype=np.intp,
                count=n,
            )
            rows.append(every)
            columns.append(band_cols)
        if "sex" in index:
            lookup = index["sex"]
            sex_cols = np.fromiter((lookup.get(s, -1) for s in cols.sex), dtype=np.intp, count=n)
            bad = np.flatnonzero(sex_cols < 0)
            if bad.size:
                raise ValueError(f"record {int(bad[0])}: field 'sex': not one of {SEXES}")
            rows.append(every)
            columns.append(sex_cols)
        if "age_band_sex" in index:
            lookup = index["age_band_sex"]
            bands = (UNKNOWN if b is None else b for b in cols.band)
            cross = np.fromiter(
                (lookup.get(f"{b}|{x}", -1) for b, x in zip(bands, cols.sex, strict=True)),
                dtype=np.intp,
                count=n,
            )
            keep = cross >= 0  # an unknown sex was reported above when "sex" is on
            rows.append(every[keep])
            columns.append(cross[keep])
        for group, kind, lists in (
            ("needs", "need", cols.needs),
            ("strengths", "strength", cols.strengths),
        ):
            if group not in index:
                continue
            lookup = index[group]
            counts = np.fromiter((len(t) for t in lists), dtype=np.intp, count=n)
            flat = [c for t in lists for c in t]
            code_cols = np.fromiter(
                (lookup.get(c, -1) for c in flat), dtype=np.intp, count=len(flat)
            )
            if (code_cols < 0).any():
                raise UnknownCodeError(kind, flat[int(np.flatnonzero(code_cols < 0)[0])])
            rows.append(np.repeat(every, counts))
            columns.append(code_cols)
        if "area" in index:
            i, j = self._cells(cols.lat, cols.lon)
            located = np.isfinite(i) & np.isfinite(j)
            unknown = index["area"][UNKNOWN]
            area_cols = np.full(n, unknown, dtype=np.intp)
            if located.any() and self._cell_index:
                known = pd.MultiIndex.from_tuples(list(self._cell_index))
                found = known.get_indexer(pd.MultiIndex.from_arrays([i[located], j[located]]))
                targets = np.fromiter(self._cell_index.values(), dtype=np.intp)
                # -1: an area not seen at fit sets no column
                area_cols[located] = np.where(found >= 0, targets[found], -1)
            elif located.any():
                area_cols[located] = -1
            keep = area_cols >= 0
            rows.append(every[keep])
            columns.append(area_cols[keep])
        r = np.concatenate(rows) if rows else np.empty(0, dtype=np.intp)
        c = np.concatenate(columns) if columns else np.empty(0, dtype=np.intp)
        X_out = sp.csr_matrix((np.ones(r.size), (r, c)), shape=(n, self.n_features_out_))
        X_out.sum_duplicates()
        X_out.data[:] = 1.0  # a code listed twice is still one-hot
        return X_out

    def get_feature_names_out(self, input_features: Any = None) -> np.ndarray:
        if not hasattr(self, "feature_names_out_"):
            raise NotFittedError("PersonFeatures is not fitted yet; call fit(people) first.")
        return self.feature_names_out_.copy()

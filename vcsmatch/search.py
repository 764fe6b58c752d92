"""Catalogue search for front-door staff: ranked free text plus hard filters, in milliseconds.

Someone on the phone says "my mum's lonely and forgetful, she's in E5": the worker types
"lonely memory cafe", a postcode and a radius, and needs the right services at once. So:

- **Free text** is ranked by TF-IDF (sublinear, L2) over each service's name (counted twice),
  description, organisation and the labels *and synonyms* of its needs and activities, so
  "lonely" finds befriending schemes tagged ``social-isolation`` even if their text never says
  "lonely". Query words the catalogue never uses are corrected against its vocabulary by
  character similarity (rapidfuzz), so "demntia cafe" reads as "dementia cafe". Phrases in the
  query that are taxonomy synonyms ("lonely", "meals on wheels") add a bonus for services
  carrying that code.
- **Filters** (need codes, distance, age, sex, delivery mode, free only, open on a weekday,
  active only) are numpy masks built once at ``fit``; distance uses
  ``vcsmatch.features.geo.SpatialIndex`` over every service location.
- Only the page being shown is explained: matched words, matched needs and the eligibility
  facts that were checked.
- **Stale listings** (``vcsmatch.staleness``): given ``stale_after_months``, matches last
  reviewed that long ago come after every fresh match, in their own order, and say so
  ("last checked 14 months ago"), as suggestions do.

The caller resolves postcodes (``vcsmatch.features.location``); this module takes coordinates.
"""

from __future__ import annotations

import datetime as dt
import math
import re
import unicodedata
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, model_validator
from rapidfuzz import fuzz, process
from scipy import sparse
from sklearn.feature_extraction.text import ENGLISH_STOP_WORDS, TfidfVectorizer

from vcsmatch.catalogue.model import DELIVERY_MODES, Catalogue, DeliveryMode, Service, Weekday
from vcsmatch.errors import NotFittedError
from vcsmatch.features.person import Sex
from vcsmatch.staleness import stale_reason
from vcsmatch.taxonomy import Taxonomy, load_taxonomy

WEEKDAYS: tuple[str, ...] = ("MO", "TU", "WE", "TH", "FR", "SA", "SU")
WEEKDAY_NAMES: dict[str, str] = dict(
    zip(
        WEEKDAYS,
        ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"),
        strict=True,
    )
)

#: Weight of a service's published codes against inferred ones when a query names a need.
_INFERRED_WEIGHT = 0.5
#: Bonus per unit of matched-code fraction, added to the text cosine.
_CODE_BONUS = 0.35
#: Share of the text score a service at the edge of the radius loses to a nearer one.
_DISTANCE_WEIGHT = 0.3
#: Smallest rapidfuzz ratio at which an unknown query word is read as a catalogue word.
_TYPO_CUTOFF = 78.0
#: Up to this many service locations a place search scans them all (one vectorised haversine:
#: about 30 us at a county's 1,000) instead of asking the BallTree, whose per-query input
#: checks alone cost more than that; the scan also yields every service's nearest distance,
#: which the page's hits show. Larger catalogues keep the tree.
_SCAN_MAX_LOCATIONS = 20_000


# --- query and results ---------------------------------------------------------------------


class SearchQuery(BaseModel):
    """What a front-door worker asks for. Every field is optional; no field means no filter.

    Location is coordinates (``latitude``/``longitude``): resolve a postcode first with
    ``vcsmatch.features.location``. With a location, services whose nearest location is
    within ``radius_km`` match, plus online/phone services when ``include_remote``.
    """

    model_config = ConfigDict(extra="forbid", frozen=True, str_strip_whitespace=True)

    text: str | None = Field(default=None, max_length=500)
    needs: tuple[str, ...] = Field(default=(), max_length=50)
    activities: tuple[str, ...] = Field(default=(), max_length=50)
    latitude: float | None = Field(default=None, ge=-90, le=90)
    longitude: float | None = Field(default=None, ge=-180, le=180)
    radius_km: float = Field(default=10.0, gt=0, le=500)
    include_remote: bool = True
    age: int | None = Field(default=None, ge=0, le=120)
    sex: Sex | None = None
    delivery_modes: tuple[DeliveryMode, ...] = ()
    free_only: bool = False
    open_on: Weekday | None = None
    active_only: bool = True
    page: int = Field(default=1, ge=1, le=10_000)
    size: int = Field(default=20, ge=1, le=1000)

    @model_validator(mode="after")
    def _coordinates_paired(self) -> SearchQuery:
        if (self.latitude is None) != (self.longitude is None):
            raise ValueError("latitude and longitude must be given together")
        return self

    @property
    def has_location(self) -> bool:
        return self.latitude is not None


@dataclass(frozen=True)
class SearchHit:
    """One service in a page of results, with why it is there."""

    service: Service
    score: float
    distance_km: float | None = None
    #: Catalogue words the query matched (after typo correction), e.g. ``("dementia", "cafe")``.
    matched_terms: tuple[str, ...] = ()
    #: Need codes the service carries that the query asked for or implied.
    matched_needs: tuple[str, ...] = ()
    matched_activities: tuple[str, ...] = ()
    #: The filters that were checked and passed, in words (``"age 72 is within 65 and over"``).
    facts: tuple[str, ...] = ()
    #: Why it matched, in words, most important first.
    why: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready: the service as our model's JSON plus the match details."""
        return {
            "service": self.service.model_dump(mode="json"),
            "score": round(self.score, 6),
            "distance_km": None if self.distance_km is None else round(self.distance_km, 3),
            "matched_terms": list(self.matched_terms),
            "matched_needs": list(self.matched_needs),
            "matched_activities": list(self.matched_activities),
            "facts": list(self.facts),
            "why": list(self.why),
        }


@dataclass(frozen=True)
class SearchPage:
    """One page of results, with the envelope fields HSDS's API uses, meaning what they mean
    there (``size`` is the number of results on this page, not the size asked for)."""

    total_items: int
    total_pages: int
    page_number: int
    size: int
    contents: list[SearchHit]
    first_page: bool = True
    last_page: bool = True
    empty: bool = True
    #: Query words read as other words, e.g. ``{"demntia": "dementia"}``.
    corrections: dict[str, str] = field(default_factory=dict)
    #: Need and activity codes the free text was read as implying.
    implied_needs: tuple[str, ...] = ()
    implied_activities: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        return {
            "total_items": self.total_items,
            "total_pages": self.total_pages,
            "page_number": self.page_number,
            "size": self.size,
            "first_page": self.first_page,
            "last_page": self.last_page,
            "empty": self.empty,
            "contents": [h.to_dict() for h in self.contents],
            "corrections": dict(self.corrections),
            "implied_needs": list(self.implied_needs),
            "implied_activities": list(self.implied_activities),
        }


# --- text normalisation --------------------------------------------------------------------

_TOKEN = re.compile(r"[a-z0-9]+")
#: Synonym words are kept even where sklearn counts them as stop words ("alone", "own").
_KEEP = {"alone", "own", "out", "get", "cant", "fire", "down", "few", "off", "back", "full"}
_STOP = frozenset(ENGLISH_STOP_WORDS - _KEEP) | {"s", "t"}


@lru_cache(maxsize=200_000)
def _stem(word: str) -> str:
    """A deliberately light stem (plural ``s``) so "cafes" meets "cafe" and "clubs" "club"."""
    if len(word) > 4 and word.endswith("ies"):
        return word[:-3] + "y"
    if len(word) > 3 and word.endswith("s") and not word.endswith(("ss", "us", "is")):
        return word[:-1]
    return word


def _fold(text: str) -> str:
    """Lower case, no accents or apostrophes: "Café" -> "cafe", "Alzheimer's" -> "alzheimers".

    Anything not ASCII after decomposition (combining accents, curly quotes, other scripts)
    is dropped: tokens are ``[a-z0-9]+`` anyway.
    """
    if not text.isascii():
        text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode("ascii")
    return text.lower().replace("'", "")


def tokenize(text: str) -> list[str]:
    """The words search compares: folded, stemmed, without stop words."""
    return [_stem(w) for w in _TOKEN.findall(_fold(text)) if w not in _STOP]


def _identity(tokens: list[str]) -> list[str]:
    return tokens


# --- the index -----------------------------------------------------------------------------


class CatalogueSearch:
    """Free-text and filtered search over one catalogue version.

    ``fit(catalogue)`` builds the text matrix and filter arrays; ``search(query)`` answers
    in a few milliseconds even at 100,000 services. ``taxonomy`` defaults to the shipped one.
    """

    def __init__(self, taxonomy: Taxonomy | None = None) -> None:
        self.taxonomy = taxonomy

    # fit ---------------------------------------------------------------------------------

    def fit(self, catalogue: Catalogue) -> CatalogueSearch:
        """Index ``catalogue`` (its row order is kept: row ``i`` is ``catalogue.services[i]``)."""
        from vcsmatch.features.geo import ServiceAreas, SpatialIndex

        if not isinstance(catalogue, Catalogue):
            raise TypeError(
                f"The 'catalogue' parameter of fit must be a Catalogue. "
                f"Got {type(catalogue).__name__} instead."
            )
        tax = self.taxonomy or load_taxonomy()
        self.taxonomy_ = tax
        services = list(catalogue.services)
        n = len(services)
        self.services_ = services
        self.index_ = {s.id: i for i, s in enumerate(services)}
        self.need_codes_ = tax.need_codes
        self.activity_codes_ = tax.activity_codes
        need_col = {c: j for j, c in enumerate(self.need_codes_)}
        act_col = {c: j for j, c in enumerate(self.activity_codes_)}

        # Text: each code contributes its label and synonyms to the service's document.
        code_words: dict[tuple[str, str], list[str]] = {}
        for kind, terms in (("need", tax.needs), ("activity", tax.strengths)):
            for t in terms:
                code_words[(kind, t.code)] = tokenize(" ".join((t.label, *t.synonyms)))
        docs: list[list[str]] = []
        for s in services:
            words = tokenize(s.name) * 2
            words += tokenize(s.description)
            if s.organisation:
                words += tokenize(s.organisation)
            for c in s.all_needs:
                words += code_words.get(("need", c), [])
            for c in s.all_activities:
                words += code_words.get(("activity", c), [])
            docs.append(words)
        vec = TfidfVectorizer(
            analyzer=_identity, sublinear_tf=True, dtype=np.float32, min_df=1, norm="l2"
        )
        if n:
            matrix = vec.fit_transform(docs)
        else:
            vec.fit([["_"]])
            matrix = sparse.csr_matrix((0, 1), dtype=np.float32)
        self.vectorizer_ = vec
        self.vocabulary_: dict[str, int] = vec.vocabulary_
        self.terms_ = np.array(vec.get_feature_names_out(), dtype=object)
        self.idf_ = vec.idf_.astype(np.float32)
        self.text_csr_ = matrix.tocsr()
        self.text_csc_ = matrix.tocsc()
        # Words worth correcting towards: real words, not numbers.
        self.vocab_words_ = [w for w in self.vocabulary_ if len(w) >= 3 and not w.isdigit()]

        # Synonym phrases -> codes (query side).
        phrases: dict[tuple[str, ...], set[tuple[str, str]]] = {}
        for kind, terms in (("need", tax.needs), ("activity", tax.strengths)):
            for t in terms:
                for phrase in (t.code.replace("-", " "), t.label, *t.synonyms):
                    toks = tuple(tokenize(phrase))
                    if toks:
                        phrases.setdefault(toks, set()).add((kind, t.code))
        self.phrases_ = phrases
        self.max_phrase_len_ = max((len(p) for p in phrases), default=1)

        # Codes as dense weights: 1.0 published, 0.5 inferred.
        needs = np.zeros((n, len(self.need_codes_)), dtype=np.float32)
        acts = np.zeros((n, len(self.activity_codes_)), dtype=np.float32)
        for i, s in enumerate(services):
            for c in s.inferred_needs:
                if c in need_col:
                    needs[i, need_col[c]] = _INFERRED_WEIGHT
            for c in s.needs:
                if c in need_col:
                    needs[i, need_col[c]] = 1.0
            for c in s.inferred_activities:
                if c in act_col:
                    acts[i, act_col[c]] = _INFERRED_WEIGHT
            for c in s.activities:
                if c in act_col:
                    acts[i, act_col[c]] = 1.0
        # Column-major: queries read a few whole columns.
        self.need_matrix_ = np.asfortranarray(needs)
        self.activity_matrix_ = np.asfortranarray(acts)

        # Alphabetical position, for listings with nothing to rank by.
        names = np.array([s.name.casefold() for s in services], dtype=object)
        self.name_rank_ = np.empty(n, dtype=np.int64)
        self.name_rank_[np.argsort(names, kind="stable")] = np.arange(n)

        # Filters.
        self.active_ = np.array([s.is_active for s in services], dtype=bool)
        self.min_age_ = np.array(
            [-1 if s.eligibility.min_age is None else s.eligibility.min_age for s in services],
            dtype=np.int16,
        )
        self.max_age_ = np.array(
            [999 if s.eligibility.max_age is None else s.eligibility.max_age for s in services],
            dtype=np.int16,
        )
        self.sex_only_ = np.array([s.eligibility.sex or "" for s in services], dtype=object)
        self.female_only_ = self.sex_only_ == "female"
        self.male_only_ = self.sex_only_ == "male"
        self.modes_ = np.array(
            [[m in s.delivery_modes for m in DELIVERY_MODES] for s in services], dtype=bool
        ).reshape(n, len(DELIVERY_MODES))
        self.remote_ = np.array([s.reaches_remotely for s in services], dtype=bool)
        self.free_ = np.array([s.cost.free is True for s in services], dtype=bool)
        today = dt.date.today()
        self.open_days_ = np.array([_open_days(s, today) for s in services], dtype=bool)
        self.open_days_ = self.open_days_.reshape(n, 7)

        # Locations: every located place, mapped back to its service row.
        loc_rows, lats, lons = [], [], []
        for i, s in enumerate(services):
            for loc in s.locations:
                if loc.latitude is not None and loc.longitude is not None:
                    loc_rows.append(i)
                    lats.append(loc.latitude)
                    lons.append(loc.longitude)
        self.loc_rows_ = np.array(loc_rows, dtype=np.int64)
        self.loc_lat_ = np.array(lats, dtype=np.float64)
        self.loc_lon_ = np.array(lons, dtype=np.float64)
        self.located_ = np.zeros(n, dtype=bool)
        self.located_[self.loc_rows_] = True
        # For the scan (``_nearest_all``): the haversine's per-location terms, and where each
        # located service's run of locations starts (``loc_rows_`` is sorted).
        self.loc_lat_rad_ = np.radians(self.loc_lat_)
        self.loc_lon_rad_ = np.radians(self.loc_lon_)
        self.loc_cos_lat_ = np.cos(self.loc_lat_rad_)
        self.loc_owner_rows_, self.loc_starts_ = np.unique(self.loc_rows_, return_index=True)
        self.spatial_ = SpatialIndex().fit(self.loc_lat_, self.loc_lon_, self.loc_rows_)
        self.areas_ = ServiceAreas().fit(services)
        # Review dates as (year * 12 + month, day); -1: never said, so never stale.
        reviewed = [s.reviewed_on for s in services]
        self.reviewed_month_ = np.array(
            [-1 if d is None else d.year * 12 + d.month for d in reviewed], dtype=np.int64
        )
        self.reviewed_day_ = np.array([0 if d is None else d.day for d in reviewed], dtype=np.int64)
        self.n_services_ = n
        return self

    # search ------------------------------------------------------------------------------

    def search(
        self,
        query: SearchQuery,
        *,
        stale_after_months: int | None = None,
        today: dt.date | None = None,
    ) -> SearchPage:
        """Services matching every filter in ``query``, best first, one page of them.

        Ordering: with free text, by text score (ties nearest first); with need codes only,
        by how well the codes match, then distance; with only a location, nearest first;
        otherwise by name. With ``stale_after_months``, listings last reviewed that many
        months before ``today`` (default: today) come after all the others, with the reason.
        Raises ``UnknownCodeError`` for a need or activity code not in the taxonomy.
        """
        if not hasattr(self, "services_"):
            raise NotFittedError("CatalogueSearch is not fitted yet: call fit(catalogue) first")
        if not isinstance(query, SearchQuery):
            raise TypeError(
                "The 'query' parameter of search must be a SearchQuery. "
                f"Got {type(query).__name__} instead."
            )
        tax = self.taxonomy_
        want_needs = tax.validate("need", query.needs)
        want_acts = tax.validate("activity", query.activities)
        n = self.n_services_
        mask = np.ones(n, dtype=bool)
        facts_for: list[str] = []

        if query.active_only:
            mask &= self.active_
        if query.age is not None:
            mask &= (self.min_age_ <= query.age) & (query.age <= self.max_age_)
        if query.sex == "female":
            mask &= ~self.male_only_
        elif query.sex == "male":
            mask &= ~self.female_only_
        if query.delivery_modes:
            cols = [DELIVERY_MODES.index(m) for m in query.delivery_modes]
            mask &= self.modes_[:, cols].any(axis=1)
            facts_for.append("delivery")
        if query.free_only:
            mask &= self.free_
        if query.open_on is not None:
            mask &= self.open_days_[:, WEEKDAYS.index(query.open_on)]

        # Code filters (OR within a kind: a service that helps with any asked-for need).
        code_score = np.zeros(n, dtype=np.float32)
        if want_needs:
            cols = [self.need_codes_.index(c) for c in want_needs]
            sub = self.need_matrix_[:, cols]
            mask &= sub.max(axis=1) > 0
            code_score += sub.sum(axis=1) / len(cols)
        if want_acts:
            cols = [self.activity_codes_.index(c) for c in want_acts]
            sub = self.activity_matrix_[:, cols]
            mask &= sub.max(axis=1) > 0
            code_score += sub.sum(axis=1) / len(cols)

        # Location: nearest location within the radius, or remote, or covering area.
        distance = nearest = None
        if query.has_location:
            if len(self.loc_rows_) <= _SCAN_MAX_LOCATIONS:
                nearest = self._nearest_all(query.latitude, query.longitude)
                distance = np.where(nearest <= query.radius_km, nearest, np.inf)
            else:
                distance = self._distances_within(query.latitude, query.longitude, query.radius_km)
            near = np.isfinite(distance)
            if query.include_remote:
                near |= self.remote_
            near |= self.areas_.contains(query.latitude, query.longitude)
            mask &= near

        # Free text.
        corrections: dict[str, str] = {}
        implied: set[tuple[str, str]] = set()
        text_score = None
        query_cols: np.ndarray = np.empty(0, dtype=np.int64)
        if query.text and tokenize(query.text):
            tokens, corrections = self._correct(tokenize(query.text))
            implied = self._implied_codes(tokens)
            query_cols, weights = self._query_vector(tokens)
            text_score = np.zeros(n, dtype=np.float32)
            csc = self.text_csc_
            for j, w in zip(query_cols, weights, strict=True):
                a, b = csc.indptr[j], csc.indptr[j + 1]
                text_score[csc.indices[a:b]] += csc.data[a:b] * w
            bonus = self._implied_bonus(implied)
            if bonus is not None:
                text_score += _CODE_BONUS * bonus
            mask &= text_score > 0

        if text_score is not None and distance is not None:
            # Near beats far among equally good text matches: up to 30% off at the radius
            # edge; services that need no travel count as half-way.
            frac = np.where(np.isfinite(distance), distance / query.radius_km, 0.5)
            text_score = text_score * (1.0 - _DISTANCE_WEIGHT * np.clip(frac, 0.0, 1.0))

        rows = np.flatnonzero(mask)
        stale = None
        if stale_after_months is not None:
            today = today or dt.date.today()
            stale = self._stale(today, stale_after_months)
        total = len(rows)
        size = query.size
        total_pages = math.ceil(total / size) if total else 0
        start = (query.page - 1) * size
        if start >= total:
            page_rows = np.empty(0, dtype=np.int64)
        else:
            page_rows = self._order(rows, text_score, code_score, distance, start + size, stale)
            page_rows = page_rows[start:]
        score_of = text_score if text_score is not None else code_score
        hits = [
            self._hit(
                int(r),
                query,
                float(score_of[r]),
                query_cols,
                want_needs,
                want_acts,
                implied,
                corrections,
                (today, stale_after_months) if stale is not None and stale[r] else None,
                None if nearest is None else float(nearest[r]),
            )
            for r in page_rows
        ]
        return SearchPage(
            total_items=total,
            total_pages=total_pages,
            page_number=query.page,
            size=len(hits),
            contents=hits,
            first_page=query.page == 1,
            last_page=query.page >= total_pages,
            empty=not hits,
            corrections=corrections,
            implied_needs=tuple(sorted(c for k, c in implied if k == "need")),
            implied_activities=tuple(sorted(c for k, c in implied if k == "activity")),
        )

    def get(self, service_id: str) -> Service:
        """The service with ``service_id`` (raises ``NotFoundError``)."""
        from vcsmatch.errors import NotFoundError

        if not hasattr(self, "services_"):
            raise NotFittedError("CatalogueSearch is not fitted yet: call fit(catalogue) first")
        try:
            return self.services_[self.index_[service_id]]
        except KeyError:
            raise NotFoundError(f"no service with id {service_id!r}") from None

    # internals ---------------------------------------------------------------------------

    def _stale(self, today: dt.date, after_months: int) -> np.ndarray:
        """Per service: reviewed ``after_months`` or more before ``today`` (as
        ``vcsmatch.staleness.months_since`` counts)."""
        months = today.year * 12 + today.month - self.reviewed_month_
        months -= today.day < self.reviewed_day_
        return (self.reviewed_month_ >= 0) & (months >= after_months)

    def _distances_within(self, lat: float, lon: float, radius_km: float) -> np.ndarray:
        """Per service: km to its nearest location inside the radius, else ``inf``.

        Asks the ``SpatialIndex``'s fitted BallTree for the points *unsorted*: search orders
        results its own way, and sorting tens of thousands of in-radius points by distance
        (as ``SpatialIndex.query_radius`` does for its callers) costs about ten times the
        tree query. Several locations of one service keep the nearest (``minimum.at``).
        """
        from vcsmatch.features.geo import EARTH_RADIUS_KM

        out = np.full(self.n_services_, np.inf, dtype=np.float64)
        index = self.spatial_
        if index.tree_ is None:
            return out
        ind, dist = index.tree_.query_radius(
            np.radians([[float(lat), float(lon)]]),
            r=radius_km / EARTH_RADIUS_KM,
            return_distance=True,
            sort_results=False,
        )
        np.minimum.at(out, index.owners_[ind[0]], dist[0] * EARTH_RADIUS_KM)
        return out

    def _nearest_all(self, lat: float, lon: float) -> np.ndarray:
        """Per service: km to its nearest location, ``inf`` for services without one.

        ``haversine_km``'s arithmetic, term for term (so the same distances), over every
        location at once with the per-location terms computed at ``fit``.
        """
        from vcsmatch.features.geo import EARTH_RADIUS_KM

        out = np.full(self.n_services_, np.inf, dtype=np.float64)
        if not len(self.loc_rows_):
            return out
        p1, l1 = np.radians(np.asarray(lat, dtype=float)), np.radians(np.asarray(lon, dtype=float))
        a = (
            np.sin((self.loc_lat_rad_ - p1) / 2.0) ** 2
            + np.cos(p1) * self.loc_cos_lat_ * np.sin((self.loc_lon_rad_ - l1) / 2.0) ** 2
        )
        km = 2.0 * EARTH_RADIUS_KM * np.arcsin(np.sqrt(np.clip(a, 0.0, 1.0)))
        out[self.loc_owner_rows_] = np.minimum.reduceat(km, self.loc_starts_)
        return out

    def _nearest_km(self, row: int, lat: float, lon: float) -> float | None:
        from vcsmatch.features.geo import haversine_km

        # loc_rows_ is sorted (built in catalogue order), so a service's locations are a slice.
        lo, hi = np.searchsorted(self.loc_rows_, [row, row + 1])
        if lo == hi:
            return None
        return float(np.min(haversine_km(lat, lon, self.loc_lat_[lo:hi], self.loc_lon_[lo:hi])))

    def _correct(self, tokens: list[str]) -> tuple[list[str], dict[str, str]]:
        """Read words the catalogue never uses as the nearest word it does use."""
        out, corrections = [], {}
        for tok in tokens:
            if tok in self.vocabulary_ or tok.isdigit() or len(tok) < 4:
                out.append(tok)
                continue
            best = process.extractOne(
                tok, self.vocab_words_, scorer=fuzz.ratio, score_cutoff=_TYPO_CUTOFF
            )
            if best is None:
                out.append(tok)
            else:
                corrections[tok] = best[0]
                out.append(best[0])
        return out, corrections

    def _implied_codes(self, tokens: list[str]) -> set[tuple[str, str]]:
        """Taxonomy codes whose label or a synonym appears as a phrase in ``tokens``."""
        found: set[tuple[str, str]] = set()
        for length in range(1, self.max_phrase_len_ + 1):
            for i in range(len(tokens) - length + 1):
                found |= self.phrases_.get(tuple(tokens[i : i + length]), set())
        return found

    def _implied_bonus(self, implied: set[tuple[str, str]]) -> np.ndarray | None:
        needs = [self.need_codes_.index(c) for k, c in implied if k == "need"]
        acts = [self.activity_codes_.index(c) for k, c in implied if k == "activity"]
        if not needs and not acts:
            return None
        total = np.zeros(self.n_services_, dtype=np.float32)
        if needs:
            total += self.need_matrix_[:, needs].sum(axis=1)
        if acts:
            total += self.activity_matrix_[:, acts].sum(axis=1)
        return total / (len(needs) + len(acts))

    def _query_vector(self, tokens: list[str]) -> tuple[np.ndarray, np.ndarray]:
        counts: dict[int, int] = {}
        for tok in tokens:
            j = self.vocabulary_.get(tok)
            if j is not None:
                counts[j] = counts.get(j, 0) + 1
        if not counts:
            return np.empty(0, dtype=np.int64), np.empty(0, dtype=np.float32)
        cols = np.array(sorted(counts), dtype=np.int64)
        tf = np.array([1.0 + math.log(counts[j]) for j in cols], dtype=np.float32)
        w = tf * self.idf_[cols]
        return cols, w / np.linalg.norm(w)

    def _order(
        self,
        rows: np.ndarray,
        text_score: np.ndarray | None,
        code_score: np.ndarray,
        distance: np.ndarray | None,
        k: int,
        stale: np.ndarray | None = None,
    ) -> np.ndarray:
        """The first ``k`` of ``rows`` in display order (deterministic).

        One float key per row: the score rounded to 1e-6 (so float noise never beats
        distance), plus the distance scaled below 1e-6 to break ties nearest first, plus a
        constant beyond every score for a ``stale`` row; then ``argpartition`` for the top
        ``k`` and a sort of those alone. Row order breaks the last ties.
        """
        if text_score is None and not code_score.any() and distance is None:
            key = self.name_rank_[rows].astype(np.float64)
        else:
            if text_score is not None:
                primary = -text_score[rows] - 0.1 * code_score[rows]
            else:
                primary = -code_score[rows]
            key = np.round(primary.astype(np.float64), 6)
            if distance is not None:
                dist = distance[rows]
                finite = np.isfinite(dist)
                far = float(dist[finite].max()) + 1.0 if finite.any() else 1.0
                dist = np.where(finite, dist, far)  # no travel / area only: after the located
                key = key + dist / (far * 2.0) * 1e-6
        if stale is not None:
            # beyond every score (a few units) and name rank (< n), small enough to keep the
            # float precision the distance tie-break needs
            key = key + np.where(stale[rows], float(self.n_services_ + 10), 0.0)
        if k < len(rows):
            top = np.argpartition(key, k - 1)[:k]
            cut = key[top].max()
            top = np.flatnonzero(key <= cut)  # every row tied at the cut, for determinism
            rows, key = rows[top], key[top]
        order = np.lexsort((rows, key))
        return rows[order[:k]]

    def _hit(
        self,
        row: int,
        query: SearchQuery,
        score: float,
        query_cols: np.ndarray,
        want_needs: list[str],
        want_acts: list[str],
        implied: set[tuple[str, str]],
        corrections: dict[str, str],
        stale: tuple[dt.date, int] | None = None,
        nearest_km: float | None = None,
    ) -> SearchHit:
        s = self.services_[row]
        tax = self.taxonomy_
        why: list[str] = []
        facts: list[str] = []

        terms: tuple[str, ...] = ()
        if len(query_cols):
            csr = self.text_csr_
            present = csr.indices[csr.indptr[row] : csr.indptr[row + 1]]
            have = set(present.tolist())
            terms = tuple(str(self.terms_[j]) for j in query_cols.tolist() if j in have)
        matched_needs = [c for c in want_needs if c in s.all_needs]
        matched_needs += [
            c
            for k, c in sorted(implied)
            if k == "need" and c in s.all_needs and c not in want_needs
        ]
        matched_acts = [c for c in want_acts if c in s.all_activities]
        matched_acts += [
            c
            for k, c in sorted(implied)
            if k == "activity" and c in s.all_activities and c not in want_acts
        ]
        if terms:
            fixed = {v: k for k, v in corrections.items()}
            words = [f'"{t}" (you typed "{fixed[t]}")' if t in fixed else f'"{t}"' for t in terms]
            why.append("matches " + ", ".join(words))
        for c in matched_needs:
            how = "" if c in s.needs else " (inferred from its description)"
            why.append(f"helps with {tax.label('need', c).lower()}{how}")
        for c in matched_acts:
            how = "" if c in s.activities else " (inferred from its description)"
            why.append(f"offers {tax.label('activity', c).lower()}{how}")

        distance_km = None
        if query.has_location:
            if nearest_km is None:  # not scanned: ask for this service alone
                distance_km = self._nearest_km(row, query.latitude, query.longitude)
            else:
                distance_km = nearest_km if math.isfinite(nearest_km) else None
            if distance_km is not None and distance_km <= query.radius_km:
                facts.append(f"{distance_km:.1f} km away, within {query.radius_km:g} km")
                why.append(f"{distance_km:.1f} km away")
            elif s.reaches_remotely and query.include_remote:
                modes = " and ".join(
                    _mode_words(m) for m in s.delivery_modes if m in ("online", "phone")
                )
                facts.append(f"available {modes}, so distance does not matter")
                why.append(f"available {modes}")
            else:
                facts.append("covers the area searched")
                why.append("covers the area searched")
        if query.age is not None:
            facts.append(f"age {query.age} is within {age_range_words(s)}")
        if query.sex in ("female", "male") and s.eligibility.sex:
            facts.append(f"open to {s.eligibility.sex} people only, which fits")
        if query.delivery_modes:
            got = [m for m in s.delivery_modes if m in query.delivery_modes]
            facts.append("delivered " + " and ".join(_mode_words(m) for m in got))
        if query.free_only:
            facts.append("free")
        if query.open_on is not None:
            facts.append(f"runs on {WEEKDAY_NAMES[query.open_on]}s")
        if query.active_only:
            facts.append("currently running")
        if stale is not None and (reason := stale_reason(s, *stale)) is not None:
            why.append(reason.text)
        return SearchHit(
            service=s,
            score=score,
            distance_km=distance_km,
            matched_terms=terms,
            matched_needs=tuple(matched_needs),
            matched_activities=tuple(matched_acts),
            facts=tuple(facts),
            why=tuple(why),
        )


# --- small helpers the web page shares -----------------------------------------------------


def _open_days(s: Service, today: dt.date) -> list[bool]:
    """The weekdays a service runs on, from its schedules that are in force ``today``."""
    days = [False] * 7
    for sch in s.schedules:
        if (sch.valid_to and sch.valid_to < today) or (sch.valid_from and sch.valid_from > today):
            continue
        if sch.weekdays:
            for d in sch.weekdays:
                days[WEEKDAYS.index(d)] = True
        elif sch.freq == "DAILY":
            days = [True] * 7
    return days


def _mode_words(mode: str) -> str:
    return {
        "in_person": "in person",
        "online": "online",
        "phone": "by phone",
        "home_visit": "at home",
    }.get(mode, mode)


def age_range_words(s: Service) -> str:
    """A service's age rule in words: "65 and over", "18 to 25", "all ages"."""
    lo, hi = s.eligibility.min_age, s.eligibility.max_age
    if lo is None and hi is None:
        return "all ages"
    if hi is None:
        return f"{lo} and over"
    if lo is None:
        return f"{hi} and under"
    return f"{lo} to {hi}"


def delivery_words(s: Service) -> list[str]:
    """Delivery modes in words, e.g. ``["in person", "by phone"]``."""
    return [_mode_words(m) for m in s.delivery_modes]

"""Hard eligibility rules that no learned score can override.

A service is excluded for a person, with the first rule that fails in this order:

- ``inactive``: its status is not ``active`` (inactive, defunct, temporarily closed);
- ``age``: the person's age is outside ``[min_age, max_age]``. A person known only by an age
  band is excluded only when the whole band is outside the range;
- ``sex``: the service is for one sex and the person is recorded as the other. A person whose
  sex is ``another`` or ``not_recorded`` is *not* excluded: only a definite mismatch excludes,
  and the restriction is reported as a fact ("women only") so the practitioner checks;
- ``outside_area``: the service declares a service area (any delivery mode: a declared HSDS
  service area means "only for people here") and the person's home is outside it. A person
  with no known location is kept by default (we cannot say they live outside) and the area is
  reported as a fact to check; ``unknown_location="exclude"`` drops such services instead.

Unknown age or sex likewise never excludes; the restriction becomes a fact to check.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Literal

import numpy as np

from vcsmatch.catalogue.model import Catalogue, Service
from vcsmatch.errors import NotFittedError
from vcsmatch.features.geo import ServiceAreas
from vcsmatch.features.person import AGE_BANDS, Person

#: The rule names, in the order they are tested.
RULES: tuple[str, ...] = ("inactive", "age", "sex", "outside_area")

#: Why a service was excluded, in words for the UI and explanations.
EXCLUSION_TEXT: dict[str, str] = {
    "inactive": "not running at the moment",
    "age": "outside the service's age range",
    "sex": "the service is for one sex only",
    "outside_area": "the person lives outside the area the service covers",
}

_SEX_WORDS = {"female": "women only", "male": "men only"}
_BANDS = {code: (lo, hi) for code, lo, hi in AGE_BANDS}


def age_range_text(min_age: float, max_age: float) -> str | None:
    """``(65, nan)`` -> ``"open to ages 65 and over"``; ``None`` when there is no limit."""
    lo = None if np.isnan(min_age) else f"{min_age:g}"  # 0.5 for a service for babies
    hi = None if np.isnan(max_age) else f"{max_age:g}"
    if lo is None and hi is None:
        return None
    if hi is None:
        return f"open to ages {lo} and over"
    if lo is None or lo == "0":
        return f"open to ages {hi} and under"
    return f"open to ages {lo} to {hi}"


@dataclass
class EligibilityResult:
    """The outcome of one person against the whole catalogue (arrays in catalogue order)."""

    eligible: np.ndarray
    #: per service: 0 eligible, else 1 + the index in ``RULES`` of the rule that excluded it
    rule: np.ndarray
    _filter: EligibilityFilter = field(repr=False)
    _age_known: bool = field(default=False, repr=False)
    _sex_known: bool = field(default=False, repr=False)
    _located: bool = field(default=False, repr=False)

    def facts(self, row: int) -> list[str]:
        """The service's rules that applied to this person and passed, in words.

        Restrictions we could not test (age or sex not recorded, home not known) are included
        with "check" so the practitioner confirms them. Excluded rows have no facts.
        """
        if not self.eligible[row]:
            return []
        return list(
            self._filter._facts_of(int(row), self._age_known, self._sex_known, self._located)
        )

    @property
    def excluded(self) -> dict[int, str]:
        """Excluded rows and the rule that excluded each (built on demand: a national
        catalogue excludes tens of thousands of services per person, and ranking needs none
        of their names)."""
        rows = np.flatnonzero(self.rule)
        names = np.asarray(("",) + RULES, dtype=object)[self.rule[rows]]
        return dict(zip(rows.tolist(), names.tolist(), strict=True))

    def reason(self, row: int) -> str | None:
        """The rule that excluded ``row`` (one of ``RULES``), or ``None`` when eligible."""
        code = int(self.rule[int(row)])
        return RULES[code - 1] if code else None

    def __repr__(self) -> str:
        return (
            f"EligibilityResult(eligible={int(self.eligible.sum())}/{self.eligible.size}, "
            f"excluded={int(np.count_nonzero(self.rule))})"
        )


class EligibilityFilter:
    """Fit on a catalogue; ``check(person, location)`` tests every service at once."""

    def __init__(self, unknown_location: Literal["keep", "exclude"] = "keep") -> None:
        self.unknown_location = unknown_location

    def fit(self, catalogue: Catalogue | Sequence[Service], y: object = None) -> EligibilityFilter:
        if self.unknown_location not in ("keep", "exclude"):
            raise ValueError(
                "The 'unknown_location' parameter of EligibilityFilter must be 'keep' or "
                f"'exclude'. Got {self.unknown_location!r} instead."
            )
        services = list(catalogue)
        n = len(services)
        self.n_services_ = n
        self.service_ids_ = np.asarray([s.id for s in services], dtype=object)
        self.active_ = np.fromiter((s.is_active for s in services), dtype=bool, count=n)
        self.min_age_ = np.array(
            [np.nan if s.eligibility.min_age is None else s.eligibility.min_age for s in services],
            dtype=float,
        )
        self.max_age_ = np.array(
            [np.nan if s.eligibility.max_age is None else s.eligibility.max_age for s in services],
            dtype=float,
        )
        self.sex_ = np.asarray([s.eligibility.sex or "" for s in services], dtype="U6")
        self.areas_ = ServiceAreas().fit(services)
        self.area_names_ = [
            ", ".join(a.name for a in s.service_areas if a.name and a.geometry is not None)
            for s in services
        ]
        # what ``check`` tests, derived once: the age limits with a missing one as a bound no
        # age is beyond (-inf, +inf), and each sex's services
        self._inactive = ~self.active_
        self._min_age = np.where(np.isnan(self.min_age_), -np.inf, self.min_age_)
        self._max_age = np.where(np.isnan(self.max_age_), np.inf, self.max_age_)
        self._for_sex = {sex: self.sex_ == sex for sex in ("female", "male")}
        self._facts: dict[tuple[int, bool, bool, bool], tuple[str, ...]] = {}
        return self

    def _check_fitted(self) -> None:
        if not hasattr(self, "active_"):
            raise NotFittedError("EligibilityFilter is not fitted yet; call fit(catalogue) first.")

    def check(self, person: Person, location: tuple[float, float] | None) -> EligibilityResult:
        """Which services the person may use and, for each excluded one, which rule said no.

        ``location`` is the person's home (``vcsmatch.features.location.locate``), or ``None``.
        """
        self._check_fitted()
        n = self.n_services_
        rule = np.zeros(n, dtype=np.int8)  # 0 eligible, else 1 + index in RULES

        def mark(mask: np.ndarray, name: str) -> None:
            rule[mask & (rule == 0)] = 1 + RULES.index(name)

        rule[self._inactive] = 1 + RULES.index("inactive")  # the first rule: nothing marked yet

        if person.age is not None:
            lo = hi = float(person.age)
        elif person.age_band is not None:
            lo, hi = (float(x) for x in _BANDS[person.age_band])
        else:
            lo = hi = None
        age_known = lo is not None
        if age_known:
            # a missing limit is -inf or +inf here, which no age is beyond
            mark((hi < self._min_age) | (lo > self._max_age), "age")

        sex_known = person.sex in ("female", "male")
        if sex_known:
            mark(self._for_sex["male" if person.sex == "female" else "female"], "sex")

        declared = self.areas_.declared_
        if location is not None:
            inside = self.areas_.contains(location[0], location[1])
            mark(declared & ~inside, "outside_area")
        elif self.unknown_location == "exclude":
            mark(declared, "outside_area")

        return EligibilityResult(
            eligible=rule == 0,
            rule=rule,
            _filter=self,
            _age_known=age_known,
            _sex_known=sex_known,
            _located=location is not None,
        )

    def _facts_of(
        self, row: int, age_known: bool, sex_known: bool, located: bool
    ) -> tuple[str, ...]:
        """``_facts_for``, worded once per service and what is known of the person (a
        service's facts are shown again and again)."""
        key = (row, age_known, sex_known, located)
        facts = self._facts.get(key)
        if facts is None:
            facts = tuple(self._facts_for(row, age_known, sex_known, located))
            self._facts[key] = facts
        return facts

    def _facts_for(self, row: int, age_known: bool, sex_known: bool, located: bool) -> list[str]:
        out: list[str] = []
        ages = age_range_text(self.min_age_[row], self.max_age_[row])
        if ages:
            out.append(ages if age_known else f"{ages} (age not recorded: check)")
        sex = self.sex_[row]
        if sex:
            words = _SEX_WORDS[sex]
            out.append(words if sex_known else f"{words} (sex not recorded: check)")
        if self.areas_.declared_[row]:
            name = self.area_names_[row] or "its service area"
            out.append(
                f"covers {name}, where the person lives"
                if located
                else f"covers {name} only (home not known: check)"
            )
        return out

    def rules_text(self, row: int) -> list[str]:
        """The service's own restrictions in words, whoever the person is."""
        self._check_fitted()
        out: list[str] = []
        if not self.active_[row]:
            out.append(EXCLUSION_TEXT["inactive"])
        ages = age_range_text(self.min_age_[row], self.max_age_[row])
        if ages:
            out.append(ages)
        if self.sex_[row]:
            out.append(_SEX_WORDS[self.sex_[row]])
        if self.areas_.declared_[row]:
            out.append(f"covers {self.area_names_[row] or 'its service area'} only")
        return out

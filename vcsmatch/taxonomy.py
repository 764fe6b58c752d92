"""Our need and strength codes, read from ``catalogue/taxonomy/*.csv``.

Strength codes double as the codes of a service's activities: a person who loves gardening
matches a service whose activity is gardening.

A need marked ``specialist`` (domestic abuse, alcohol and drugs) is one whose services are for
people with that need only: a service whose main need it is is never suggested to anyone else
(``vcsmatch.features.specialist``).
"""

from __future__ import annotations

import csv
from collections.abc import Iterable
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Literal

from vcsmatch.errors import UnknownCodeError
from vcsmatch.paths import TAXONOMY_DIR

Kind = Literal["need", "strength", "activity"]

#: HSDS attribute taxonomies that carry our own codes.
NEEDS_TAXONOMY = "vcsmatch-needs"
ACTIVITIES_TAXONOMY = "vcsmatch-activities"
ELIGIBILITY_TAXONOMY = "vcsmatch-eligibility"


@dataclass(frozen=True)
class Term:
    """One taxonomy term."""

    code: str
    label: str
    description: str
    synonyms: tuple[str, ...] = ()
    care_act_outcome: str = ""
    #: Services meeting this need as their main one are only for people with the need.
    specialist: bool = False


@dataclass(frozen=True)
class Taxonomy:
    """The need and strength vocabularies, in file order (which fixes array columns)."""

    needs: tuple[Term, ...]
    strengths: tuple[Term, ...]

    @cached_property
    def need_codes(self) -> tuple[str, ...]:
        return tuple(t.code for t in self.needs)

    @cached_property
    def specialist_codes(self) -> frozenset[str]:
        """Need codes marked specialist in ``needs.csv``."""
        return frozenset(t.code for t in self.needs if t.specialist)

    @cached_property
    def strength_codes(self) -> tuple[str, ...]:
        return tuple(t.code for t in self.strengths)

    @property
    def activity_codes(self) -> tuple[str, ...]:
        return self.strength_codes

    def terms(self, kind: Kind) -> tuple[Term, ...]:
        return self.needs if kind == "need" else self.strengths

    def label(self, kind: Kind, code: str) -> str:
        """The human label of a code, e.g. ``carer-support`` -> ``Carer support``."""
        for term in self.terms(kind):
            if term.code == code:
                return term.label
        raise UnknownCodeError(kind, code)

    def validate(self, kind: Kind, codes: Iterable[str]) -> list[str]:
        """Return ``codes`` de-duplicated in order, raising ``UnknownCodeError`` on the first
        code that is not in the vocabulary."""
        known = set(self.need_codes if kind == "need" else self.strength_codes)
        out: list[str] = []
        for code in codes:
            if code not in known:
                raise UnknownCodeError(kind, code)
            if code not in out:
                out.append(code)
        return out


def _read_terms(path: Path) -> tuple[Term, ...]:
    with path.open(newline="", encoding="utf-8-sig") as fh:
        rows = list(csv.DictReader(fh))
    return tuple(
        Term(
            code=row["code"].strip(),
            label=row["label"].strip(),
            description=row["description"].strip(),
            synonyms=tuple(s.strip() for s in (row.get("synonyms") or "").split(";") if s.strip()),
            care_act_outcome=(row.get("care_act_outcome") or "").strip(),
            specialist=(row.get("specialist") or "").strip().lower() in ("yes", "true", "1"),
        )
        for row in rows
    )


_DEFAULT: Taxonomy | None = None


def load_taxonomy(directory: Path | None = None) -> Taxonomy:
    """Load ``needs.csv`` and ``strengths.csv`` from ``directory`` (default: the shipped ones).

    The shipped taxonomy is read once and shared: it is immutable.
    """
    global _DEFAULT
    if directory is None and _DEFAULT is not None:
        return _DEFAULT
    d = directory or TAXONOMY_DIR
    tax = Taxonomy(needs=_read_terms(d / "needs.csv"), strengths=_read_terms(d / "strengths.csv"))
    if directory is None:
        _DEFAULT = tax
    return tax

"""Crosswalks: map each council's own taxonomy terms onto our need and activity codes.

Directories label the same thing differently ("Loneliness", "Social isolation", an LGA code),
so a CSV with the columns ``taxonomy,code,label,kind,target`` says which of our codes a term
means. A row matches a term by taxonomy and code first, else by label (case-insensitive);
a row whose taxonomy is ``*`` (or blank) matches that code or label in any taxonomy. Terms
no row matches are kept on the service (``unmapped_terms``) and counted in the import report.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from vcsmatch.catalogue.model import ExternalTerm
from vcsmatch.errors import CatalogueError
from vcsmatch.paths import CATALOGUE_DIR
from vcsmatch.taxonomy import Taxonomy, load_taxonomy

#: The crosswalk used when an import names none.
DEFAULT_CROSSWALK_PATH = CATALOGUE_DIR / "crosswalks" / "default.csv"

KINDS: tuple[str, ...] = ("need", "activity", "eligibility")
ELIGIBILITY_CODES: tuple[str, ...] = ("female-only", "male-only")
COLUMNS: tuple[str, ...] = ("taxonomy", "code", "label", "kind", "target")
ANY_TAXONOMY = "*"


def _norm(text: str | None) -> str:
    """Case- and spacing-insensitive form of a code or label ("Older  People" == "older people")."""
    return re.sub(r"\s+", " ", (text or "").replace("&", " and ")).strip().casefold()


@dataclass(frozen=True)
class CrosswalkRow:
    taxonomy: str
    code: str
    label: str
    kind: str
    target: str


class Crosswalk:
    """A validated set of rows, indexed for lookup by (taxonomy, code) and (taxonomy, label)."""

    def __init__(self, rows: Iterable[CrosswalkRow], *, taxonomy: Taxonomy | None = None) -> None:
        tax = taxonomy or load_taxonomy()
        known = {
            "need": frozenset(tax.need_codes),
            "activity": frozenset(tax.activity_codes),
            "eligibility": frozenset(ELIGIBILITY_CODES),
        }
        self.rows: tuple[CrosswalkRow, ...] = tuple(rows)
        self._by_code: dict[tuple[str, str], list[tuple[str, str]]] = {}
        self._by_label: dict[tuple[str, str], list[tuple[str, str]]] = {}
        for n, row in enumerate(self.rows, start=2):
            where = f"crosswalk line {n}"
            if row.kind not in KINDS:
                raise CatalogueError(where, "kind", f"must be one of {KINDS}, got {row.kind!r}")
            if row.target not in known[row.kind]:
                raise CatalogueError(where, "target", f"unknown {row.kind} code {row.target!r}")
            if not row.code and not row.label:
                raise CatalogueError(where, "code", "a row needs a code or a label")
            tax_key = _norm(row.taxonomy) or ANY_TAXONOMY
            target = (row.kind, row.target)
            if row.code:
                bucket = self._by_code.setdefault((tax_key, _norm(row.code)), [])
                if target not in bucket:
                    bucket.append(target)
            if row.label:
                bucket = self._by_label.setdefault((tax_key, _norm(row.label)), [])
                if target not in bucket:
                    bucket.append(target)

    @classmethod
    def from_csv(cls, path: str | Path, *, taxonomy: Taxonomy | None = None) -> Crosswalk:
        """Read a crosswalk CSV (UTF-8, BOM allowed); bad rows raise ``CatalogueError``."""
        path = Path(path)
        try:
            text = path.read_text(encoding="utf-8-sig")
        except (OSError, UnicodeDecodeError) as exc:
            raise CatalogueError(str(path), "<file>", f"cannot read crosswalk: {exc}") from None
        return cls.from_text(text, taxonomy=taxonomy)

    @classmethod
    def from_text(cls, text: str, *, taxonomy: Taxonomy | None = None) -> Crosswalk:
        reader = csv.DictReader(io.StringIO(text))
        missing = [c for c in COLUMNS if c not in (reader.fieldnames or [])]
        if missing:
            raise CatalogueError("crosswalk", "<header>", f"missing columns {missing}")
        rows = [
            CrosswalkRow(*((r.get(c) or "").strip() for c in COLUMNS))
            for r in reader
            if any((v or "").strip() for v in r.values() if isinstance(v, str))
        ]
        return cls(rows, taxonomy=taxonomy)

    @classmethod
    def empty(cls) -> Crosswalk:
        """A crosswalk that maps nothing (every external term is reported unmapped)."""
        return cls(())

    def __len__(self) -> int:
        return len(self.rows)

    def map(self, term: ExternalTerm) -> list[tuple[str, str]]:
        """The ``(kind, code)`` pairs a term stands for; empty when no row matches it."""
        tax = _norm(term.taxonomy)
        if term.code:
            code = _norm(term.code)
            for key in ((tax, code), (ANY_TAXONOMY, code)):
                if key in self._by_code:
                    return list(self._by_code[key])
        if term.label:
            label = _norm(term.label)
            for key in ((tax, label), (ANY_TAXONOMY, label)):
                if key in self._by_label:
                    return list(self._by_label[key])
        return []


def default_crosswalk(taxonomy: Taxonomy | None = None) -> Crosswalk:
    """The shipped crosswalk of common UK directory terms (``catalogue/crosswalks``)."""
    return Crosswalk.from_csv(DEFAULT_CROSSWALK_PATH, taxonomy=taxonomy)

"""What the import driver and the format modules share: the report, the term mapping and
the format contract.

A leaf module (it imports no format module and not the driver), so ``importing`` can import
every format and each format can import these types without an import cycle.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from vcsmatch.catalogue.crosswalk import Crosswalk
from vcsmatch.catalogue.model import DELIVERY_MODES, Catalogue, ExternalTerm, Service
from vcsmatch.errors import CatalogueError
from vcsmatch.taxonomy import (
    ACTIVITIES_TAXONOMY,
    ELIGIBILITY_TAXONOMY,
    NEEDS_TAXONOMY,
    Taxonomy,
)

#: What ``import_file`` reads: a path, raw JSON bytes (an HTTP body) or parsed JSON.
PathOrObj = str | Path | bytes | dict[str, Any] | list[Any]


@dataclass(frozen=True)
class Rejection:
    """One record that could not be imported."""

    record_id: str
    field: str
    reason: str
    #: 1-based position of the record in the feed (across pages).
    position: int

    def to_dict(self) -> dict[str, Any]:
        return {
            "record_id": self.record_id,
            "field": self.field,
            "reason": self.reason,
            "position": self.position,
        }


@dataclass
class ImportReport:
    """What an import did: counts, every rejected record, every external term left unmapped."""

    format: str
    source: str | None = None
    read: int = 0
    accepted: int = 0
    rejected: list[Rejection] = field(default_factory=list)
    #: (taxonomy, code, label) of external terms no crosswalk row matched -> services using it.
    unmapped_terms: Counter[tuple[str | None, str | None, str | None]] = field(
        default_factory=Counter
    )
    #: Problems with the file as a whole (bad JSON, missing pages); each one fails the import.
    file_errors: list[str] = field(default_factory=list)
    #: Things worth knowing that refuse nothing (e.g. fewer pages than the envelope announced).
    warnings: list[str] = field(default_factory=list)
    #: Source fields an imported record lost (path with list positions as ``[]``) -> records.
    lost_fields: Counter[str] = field(default_factory=Counter)

    @property
    def n_rejected(self) -> int:
        return len(self.rejected)

    @property
    def ok(self) -> bool:
        """True when nothing was rejected and the file itself was readable."""
        return not self.rejected and not self.file_errors

    def to_dict(self) -> dict[str, Any]:
        return {
            "format": self.format,
            "source": self.source,
            "read": self.read,
            "accepted": self.accepted,
            "rejected": self.n_rejected,
            "rejections": [r.to_dict() for r in self.rejected],
            "unmapped_terms": [
                {"taxonomy": t, "code": c, "label": lab, "count": n}
                for (t, c, lab), n in sorted(
                    self.unmapped_terms.items(), key=lambda kv: (-kv[1], str(kv[0]))
                )
            ],
            "file_errors": list(self.file_errors),
            "warnings": list(self.warnings),
            "lost_fields": [
                {"field": f, "records": n}
                for f, n in sorted(self.lost_fields.items(), key=lambda kv: (-kv[1], kv[0]))
            ],
        }

    def to_text(self) -> str:
        """A plain-text summary for the terminal, one rejected record per line."""
        lines = [
            f"format: {self.format}" + (f"  source: {self.source}" if self.source else ""),
            f"read {self.read}, accepted {self.accepted}, rejected {self.n_rejected}",
        ]
        lines += [f"error: {e}" for e in self.file_errors]
        if self.rejected:
            lines.append("rejected records:")
            lines += [
                f"  #{r.position} {r.record_id}: {r.field}: {r.reason}" for r in self.rejected
            ]
        if self.unmapped_terms:
            lines.append(f"unmapped external terms ({len(self.unmapped_terms)}):")
            for (tax, code, label), n in sorted(
                self.unmapped_terms.items(), key=lambda kv: (-kv[1], str(kv[0]))
            ):
                what = " / ".join(x for x in (code, label) if x) or "?"
                lines.append(f"  {tax or '?'}: {what} ({n} service{'s' if n != 1 else ''})")
        if self.lost_fields:
            lines.append(f"fields not kept ({len(self.lost_fields)}):")
            for f, n in sorted(self.lost_fields.items(), key=lambda kv: (-kv[1], kv[0])):
                lines.append(f"  {f} ({n} record{'s' if n != 1 else ''})")
        lines += [f"warning: {w}" for w in self.warnings]
        return "\n".join(lines)


@dataclass(frozen=True)
class ImportResult:
    """The imported catalogue and the report of how it was read."""

    catalogue: Catalogue
    report: ImportReport


class TermContext:
    """What a format converter needs to map taxonomy terms: our taxonomy and the crosswalk.

    It also tallies unmapped terms for the report.
    """

    def __init__(self, taxonomy: Taxonomy, crosswalk: Crosswalk) -> None:
        self.taxonomy = taxonomy
        self.crosswalk = crosswalk
        self.need_codes = frozenset(taxonomy.need_codes)
        self.activity_codes = frozenset(taxonomy.activity_codes)
        #: Problems a record survived (a value coerced or left out), for the report.
        self.warnings: list[str] = []
        #: Source paths of values left out (``service_at_locations[0].location.latitude``).
        self.lost: list[str] = []
        #: Paths of the values the converter took from the current record (``Record.read``).
        self.read: set[str] = set()

    def warn(self, record_id: str | None, field_path: str, reason: str) -> None:
        """Note a problem that refuses nothing: the record is imported without the value."""
        self.warnings.append(f"{record_id or '?'}: {field_path}: {reason}")

    def lose(self, record_id: str | None, field_path: str, reason: str | None = None) -> None:
        """Note a source field the record is imported without (warned when ``reason``)."""
        if reason is not None:
            self.warn(record_id, field_path, reason)
        self.lost.append(field_path)

    def check_code(self, kind: str, code: str, record_id: str | None, field_path: str) -> str:
        """Raise ``CatalogueError`` unless ``code`` is one of ours for ``kind``."""
        known = self.need_codes if kind == "need" else self.activity_codes
        if code not in known:
            raise CatalogueError(record_id, field_path, f"unknown {kind} code {code!r}")
        return code


#: Our own HSDS attribute taxonomies beyond ``vcsmatch.taxonomy``'s three.
DELIVERY_TAXONOMY = "vcsmatch-delivery"
#: Fields of ours HSDS has no home for, as attributes whose ``value`` holds the text.
META_TAXONOMY = "vcsmatch-meta"
_OUR_KINDS = {
    NEEDS_TAXONOMY: "need",
    ACTIVITIES_TAXONOMY: "activity",
    ELIGIBILITY_TAXONOMY: "eligibility",
}
_SEX_OF = {"female-only": "female", "male-only": "male"}


class MappedTerms:
    """Codes collected from one record's taxonomy terms, in the order they were published."""

    def __init__(self) -> None:
        self.needs: list[str] = []
        self.activities: list[str] = []
        self.inferred_needs: list[str] = []
        self.inferred_activities: list[str] = []
        self.sex: set[str] = set()
        self.modes: list[str] = []
        self.unmapped: list[ExternalTerm] = []

    def add(self, kind: str, code: str, *, inferred: bool = False) -> None:
        target = {
            ("need", False): self.needs,
            ("need", True): self.inferred_needs,
            ("activity", False): self.activities,
            ("activity", True): self.inferred_activities,
        }.get((kind, inferred))
        if kind == "eligibility":
            self.sex.add(_SEX_OF[code])
        elif target is not None and code not in target:
            target.append(code)

    def add_term(
        self,
        term: ExternalTerm,
        ctx: TermContext,
        record_id: str | None,
        field_path: str,
        *,
        inferred: bool = False,
    ) -> None:
        """File one published term: our own taxonomies directly (codes checked), any other
        through the crosswalk, and what the crosswalk does not know as unmapped."""
        taxonomy = (term.taxonomy or "").strip().lower()
        kind = _OUR_KINDS.get(taxonomy)
        if kind is not None or taxonomy == DELIVERY_TAXONOMY:
            code = term.code
            if code is None:
                raise CatalogueError(record_id, field_path, f"no code in taxonomy {taxonomy}")
            if taxonomy == DELIVERY_TAXONOMY:
                if code not in DELIVERY_MODES:
                    raise CatalogueError(record_id, field_path, f"unknown delivery mode {code!r}")
                if code not in self.modes:
                    self.modes.append(code)
            elif kind == "eligibility":
                if code not in _SEX_OF:
                    raise CatalogueError(
                        record_id, field_path, f"unknown eligibility code {code!r}"
                    )
                self.add(kind, code)
            else:
                self.add(kind, ctx.check_code(kind, code, record_id, field_path), inferred=inferred)
            return
        targets = ctx.crosswalk.map(term)
        if not targets:
            if term not in self.unmapped:
                self.unmapped.append(term)
            return
        for kind, code in targets:
            self.add(kind, code)

    def sex_restriction(self, record_id: str | None, field_path: str) -> str | None:
        if len(self.sex) > 1:
            raise CatalogueError(record_id, field_path, "both female-only and male-only")
        return next(iter(self.sex), None)

    def service_fields(self) -> dict[str, Any]:
        """The keyword arguments of ``Service`` these terms fill."""
        return {
            "needs": self.needs,
            "activities": self.activities,
            "inferred_needs": [c for c in self.inferred_needs if c not in self.needs],
            "inferred_activities": [
                c for c in self.inferred_activities if c not in self.activities
            ],
            "unmapped_terms": self.unmapped,
        }


class Converter(Protocol):
    """Turns one published record into a ``Service`` or raises ``CatalogueError``."""

    def __call__(self, record: dict[str, Any], ctx: TermContext) -> Service: ...


@dataclass(frozen=True)
class FormatSpec:
    """How one format is recognised, unwrapped and converted."""

    name: str
    #: How strongly a record looks like this format (0 = not at all).
    score: Callable[[dict[str, Any]], int]
    convert: Converter

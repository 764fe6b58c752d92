"""Importing a published service directory: reading files, detecting the format, the report.

Each format module (``hsds3``, ``oruk``, ``outpost``) only knows how to turn ONE published
record into a :class:`~vcsmatch.catalogue.model.Service`, raising
:class:`~vcsmatch.errors.CatalogueError` (record id, field, reason) when it cannot. Everything
the formats share lives here: reading files (BOM, paged dumps, directories), unwrapping page
envelopes, duplicate ids, the all-or-nothing rule and the :class:`ImportReport`.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, Protocol

from vcsmatch.catalogue.crosswalk import Crosswalk, default_crosswalk
from vcsmatch.catalogue.html import looks_like_html, sanitise, to_text
from vcsmatch.catalogue.model import DELIVERY_MODES, Catalogue, ExternalTerm, Service
from vcsmatch.errors import CatalogueError, ImportFailed
from vcsmatch.taxonomy import (
    ACTIVITIES_TAXONOMY,
    ELIGIBILITY_TAXONOMY,
    NEEDS_TAXONOMY,
    Taxonomy,
    load_taxonomy,
)

Format = Literal["auto", "hsds3", "oruk3", "oruk", "outpost"]
#: ``oruk3`` is Open Referral UK 3.0, the UK profile of HSDS 3.0: read as HSDS 3.0.
FORMATS: tuple[str, ...] = ("hsds3", "oruk3", "oruk", "outpost")

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

    def warn(self, record_id: str | None, field_path: str, reason: str) -> None:
        """Note a problem that refuses nothing: the record is imported without the value."""
        self.warnings.append(f"{record_id or '?'}: {field_path}: {reason}")

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


# --------------------------------------------------------------------------------------------
# Reading JSON documents


@dataclass(frozen=True)
class Document:
    """One parsed JSON file (or object), with the name reports use for it."""

    name: str
    data: Any


def _natural_key(path: Path) -> list[Any]:
    """Sort ``page2.json`` before ``page10.json``."""
    return [int(p) if p.isdigit() else p.lower() for p in re.split(r"(\d+)", path.name)]


def _parse_bytes(raw: bytes, name: str) -> Any:
    encoding = "utf-16" if raw.startswith((b"\xff\xfe", b"\xfe\xff")) else "utf-8-sig"
    try:
        text = raw.decode(encoding)
    except UnicodeDecodeError as exc:
        raise _file_failure(
            name, f"not valid {encoding.replace('-sig', '')} text (byte {exc.start}: {exc.reason})"
        ) from None
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise _file_failure(
            name, f"not valid JSON (line {exc.lineno} column {exc.colno}: {exc.msg})"
        ) from None
    except RecursionError:
        raise _file_failure(name, "not valid JSON (nested too deeply)") from None


def _file_failure(name: str, reason: str, fmt: str = "unknown") -> ImportFailed:
    report = ImportReport(format=fmt, source=name, file_errors=[f"{name}: {reason}"])
    return ImportFailed(f"cannot import {name}: {reason}", report)


def _read_path(path: Path) -> list[Document]:
    try:
        is_dir = path.is_dir()
        if is_dir:
            files = sorted(
                (p for p in path.iterdir() if p.suffix.lower() == ".json"), key=_natural_key
            )
        else:
            raw = path.read_bytes()
    except FileNotFoundError:
        raise _file_failure(str(path), "no such file") from None
    except (OSError, ValueError) as exc:  # permissions, a name too long, a NUL in the name
        reason = getattr(exc, "strerror", None) or str(exc)
        raise _file_failure(repr(str(path))[:200], f"cannot be read ({reason})") from None
    if is_dir:
        if not files:
            raise _file_failure(str(path), "directory holds no .json files")
        return [doc for f in files for doc in _read_path(f)]
    return [Document(str(path), _parse_bytes(raw, str(path)))]


def read_documents(source: PathOrObj | Sequence[str | Path]) -> list[Document]:
    """Read a file, a directory of page files, a list of page files or an already-parsed object.

    A list whose items are paths is a list of files; any other list is one parsed document.
    """
    if isinstance(source, str | Path):
        return _read_path(Path(source))
    if isinstance(source, bytes):
        return [Document("<bytes>", _parse_bytes(source, "<bytes>"))]
    if (
        isinstance(source, list | tuple)
        and source
        and all(isinstance(s, str | Path) for s in source)
    ):
        return [doc for s in source for doc in _read_path(Path(s))]
    if isinstance(source, dict | list | tuple):
        return [Document("<object>", list(source) if isinstance(source, tuple) else source)]
    raise _file_failure(repr(type(source).__name__), "expected a path, a list or a dict")


_ENVELOPE_KEYS = ("contents", "content")


def _pages(docs: list[Document]) -> Iterator[tuple[Document, Any]]:
    """Yield each page of each document: a list of documents may be a list of envelopes."""
    for doc in docs:
        data = doc.data
        if (
            isinstance(data, list)
            and data
            and all(isinstance(d, dict) and any(k in d for k in _ENVELOPE_KEYS) for d in data)
            and not any("id" in d for d in data)
        ):
            for page in data:
                yield doc, page
        else:
            yield doc, data


def _is_organisation(doc: Any) -> bool:
    """An HSDS 3.0 organisation document: services nested under it, and no service ``status``."""
    return (
        isinstance(doc, dict)
        and isinstance(doc.get("services"), list)
        and "status" not in doc
        and ("organization_identifiers" in doc or "legal_status" in doc or "website" in doc)
    )


def _services_of_organisations(records: list[Any]) -> list[Any]:
    """Organisation documents (``organization_full.json``) replaced by their nested services,
    each carrying the organisation it belongs to."""
    out: list[Any] = []
    for rec in records:
        if not _is_organisation(rec):
            out.append(rec)
            continue
        org = {k: v for k, v in rec.items() if k != "services"}
        for svc in rec["services"]:
            if isinstance(svc, dict):
                svc = {**svc, "organization": svc.get("organization") or org}
                svc.setdefault("organization_id", org.get("id"))
            out.append(svc)
    return out


def _records_of(page: Any, name: str) -> tuple[list[Any], dict[str, Any] | None]:
    """Unwrap a page: a bare list of records, or an envelope with ``contents``/``content``."""
    if isinstance(page, list):
        return page, None
    if isinstance(page, dict):
        for key in _ENVELOPE_KEYS:
            if key in page:
                items = page[key]
                if items is None:
                    return [], page
                if not isinstance(items, list):
                    raise _file_failure(name, f"page field {key!r} is not a list")
                return items, page
        if "id" in page and ("name" in page or "title" in page):
            return [page], None  # a single service object
        raise _file_failure(name, "not a list of services nor a page with 'contents'/'content'")
    raise _file_failure(name, f"top level is a JSON {type(page).__name__}, not a list or object")


# --------------------------------------------------------------------------------------------
# Format detection and the import driver


def _formats() -> dict[str, FormatSpec]:
    from vcsmatch.catalogue import hsds3, oruk, outpost

    return {"hsds3": hsds3.FORMAT, "oruk": oruk.FORMAT, "outpost": outpost.FORMAT}


def detect_format(records: Iterable[Any], envelope: dict[str, Any] | None = None) -> str | None:
    """Name the format whose shape the first few records (and the envelope) fit best."""
    specs = _formats()
    totals = dict.fromkeys(specs, 0)
    if envelope is not None:
        if "contents" in envelope:
            totals["hsds3"] += 3
        elif "content" in envelope:
            totals["oruk"] += 1
            totals["outpost"] += 1
    seen = 0
    for rec in records:
        if not isinstance(rec, dict):
            continue
        for name, spec in specs.items():
            totals[name] += spec.score(rec)
        seen += 1
        if seen >= 20:
            break
    best = max(totals.values())
    if best <= 0:
        return None
    winners = [n for n, v in totals.items() if v == best]
    return winners[0] if len(winners) == 1 else None


def record_id_of(record: Any, position: int) -> str:
    """The id a report names: the record's own id, else its position."""
    if isinstance(record, dict):
        rid = record.get("id")
        if isinstance(rid, str) and rid.strip():
            return rid.strip()
        if isinstance(rid, int) and not isinstance(rid, bool):
            return str(rid)
    return f"#{position}"


def _progress(items: list[Any], enabled: bool, label: str) -> Iterable[Any]:
    """A progress bar on stderr (stdout may be carrying exported JSON)."""
    if not enabled:
        return items
    from rich.console import Console
    from rich.progress import track

    return track(
        items,
        description=label,
        total=len(items),
        transient=True,
        console=Console(stderr=True),
    )


def import_file(
    path_or_obj: PathOrObj | Sequence[str | Path],
    format: Format = "auto",  # noqa: A002 - the CLI's option is --format
    *,
    skip_invalid: bool = False,
    crosswalk: Crosswalk | str | Path | None = None,
    progress: bool = False,
    taxonomy: Taxonomy | None = None,
    max_invalid: float = 0.0,
) -> ImportResult:
    """Import a published directory (HSDS 3.0, Open Referral UK 1.0 or Outpost) as a Catalogue.

    All-or-nothing by default: if any record is invalid, ``ImportFailed`` is raised carrying
    the full report, so a bad feed never half-replaces a good catalogue. With
    ``skip_invalid=True`` the valid records are imported and the report still lists every
    rejected one. ``max_invalid`` is the share of invalid records (0.05 for 5%) up to which
    the valid ones are imported anyway (the CLI's default tolerance for real feeds).
    """
    if not 0.0 <= max_invalid <= 1.0:
        raise ValueError(
            "The 'max_invalid' parameter of import_file must be a share from 0 to 1. "
            f"Got {max_invalid!r} instead."
        )
    if format != "auto" and format not in FORMATS:
        raise ValueError(
            f"The 'format' parameter of import_file must be one of "
            f"{('auto', *FORMATS)}. Got {format!r} instead."
        )
    docs = read_documents(path_or_obj)
    source = docs[0].name if len(docs) == 1 else f"{docs[0].name} (+{len(docs) - 1} pages)"
    if docs[0].name in ("<object>", "<bytes>"):
        source = None

    records: list[Any] = []
    first_envelope: dict[str, Any] | None = None
    announced_pages: int | None = None
    n_pages = 0
    for doc, page in _pages(docs):
        items, envelope = _records_of(page, doc.name)
        records.extend(items)
        n_pages += 1
        if envelope is not None:
            first_envelope = first_envelope or envelope
            for key in ("total_pages", "totalPages"):
                value = envelope.get(key)
                if isinstance(value, int) and not isinstance(value, bool):
                    announced_pages = max(announced_pages or 0, value)

    records = _services_of_organisations(records)
    fmt = format
    if fmt == "auto":
        detected = detect_format(records, first_envelope)
        if detected is None:
            # No format-specific field at all: plain {id, name} objects are read as HSDS 3.0,
            # our own format; anything else cannot be guessed safely.
            if all(isinstance(r, dict) and "id" in r and "name" in r for r in records[:20]):
                detected = "hsds3"
            else:
                raise _file_failure(
                    source or "input",
                    "cannot tell whether this is HSDS 3.0, Open Referral UK or Outpost; "
                    "pass format= explicitly",
                )
        fmt = detected
    spec = _formats()["hsds3" if fmt == "oruk3" else fmt]

    report = ImportReport(format=fmt, source=source, read=len(records))
    if announced_pages is not None and announced_pages > n_pages:
        report.warnings.append(
            f"the feed announces {announced_pages} pages but {n_pages} were read"
        )

    tax = taxonomy or load_taxonomy()
    if crosswalk is None:
        cw = default_crosswalk(tax)
    elif isinstance(crosswalk, Crosswalk):
        cw = crosswalk
    else:
        cw = Crosswalk.from_csv(crosswalk, taxonomy=tax)
    ctx = TermContext(tax, cw)

    services: list[Service] = []
    first_seen: dict[str, int] = {}
    n_warnings = 0
    for position, record in enumerate(_progress(records, progress, f"importing {fmt}"), start=1):
        rid = record_id_of(record, position)
        try:
            if not isinstance(record, dict):
                raise CatalogueError(
                    rid, "<record>", f"expected a JSON object, got {type(record).__name__}"
                )
            n_warnings = len(ctx.warnings)
            service = spec.convert(record, ctx)
            if looks_like_html(service.description):
                service = service.model_copy(
                    update={
                        "description": to_text(service.description),
                        "description_html": sanitise(service.description) or None,
                    }
                )
            if service.id in first_seen:
                raise CatalogueError(
                    service.id,
                    "id",
                    f"duplicate id (first used by record #{first_seen[service.id]})",
                )
        except CatalogueError as exc:
            del ctx.warnings[n_warnings:]  # a rejected record is reported once, as rejected
            report.rejected.append(Rejection(exc.record_id or rid, exc.field, exc.reason, position))
            continue
        first_seen[service.id] = position
        services.append(service)
        for term in service.unmapped_terms:
            report.unmapped_terms[(term.taxonomy, term.code, term.label)] += 1

    too_many = report.n_rejected > max_invalid * report.read
    if report.rejected and not skip_invalid and too_many:
        report.accepted = 0
        limit = f" (more than {max_invalid:.0%})" if max_invalid else ""
        raise ImportFailed(
            f"import refused: {report.n_rejected} of {report.read} records are invalid{limit} "
            f"(first: {report.rejected[0].record_id}: {report.rejected[0].field}: "
            f"{report.rejected[0].reason}); nothing was imported",
            report,
        )
    report.warnings.extend(ctx.warnings)
    report.accepted = len(services)
    return ImportResult(Catalogue(services=services, source=source), report)


def load_catalogue(path: str | Path) -> Catalogue:
    """Read an HSDS 3.0 file (such as the shipped sample) strictly: any bad record fails."""
    return import_file(path, format="hsds3").catalogue

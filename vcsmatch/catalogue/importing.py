"""Importing a published service directory: reading files, detecting the format, the report.

Each format module (``hsds3``, ``oruk``, ``outpost``) only knows how to turn ONE published
record into a :class:`~vcsmatch.catalogue.model.Service`, raising
:class:`~vcsmatch.errors.CatalogueError` (record id, field, reason) when it cannot. Everything
the driver does lives here: reading files (BOM, paged dumps, directories), unwrapping page
envelopes and organisation documents, duplicate ids and the invalid-share rule; the types the
formats share (:class:`ImportReport`, :class:`TermContext`, :class:`FormatSpec`) live in the
leaf module ``formats``, so there is no import cycle.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from vcsmatch.catalogue import documents, hsds3, oruk, outpost
from vcsmatch.catalogue.crosswalk import Crosswalk, default_crosswalk
from vcsmatch.catalogue.formats import (  # noqa: F401 - re-exported
    DELIVERY_TAXONOMY,
    META_TAXONOMY,
    Converter,
    FormatSpec,
    ImportReport,
    ImportResult,
    MappedTerms,
    PathOrObj,
    Rejection,
    TermContext,
)
from vcsmatch.catalogue.html import looks_like_html, sanitise, to_text
from vcsmatch.catalogue.model import Catalogue, Service
from vcsmatch.catalogue.verbatim import unread
from vcsmatch.errors import CatalogueError, ImportFailed
from vcsmatch.taxonomy import (
    Taxonomy,
    load_taxonomy,
)

Format = Literal["auto", "hsds3", "oruk3", "oruk", "outpost"]
#: ``oruk3`` is Open Referral UK 3.0, the UK profile of HSDS 3.0: read as HSDS 3.0.
FORMATS: tuple[str, ...] = ("hsds3", "oruk3", "oruk", "outpost")
#: The share of invalid records up to which the CLI and the API import the valid ones.
DEFAULT_MAX_INVALID = 0.05

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
        if documents.is_service_at_location(page):
            return [page], None
        raise _file_failure(name, "not a list of services nor a page with 'contents'/'content'")
    raise _file_failure(name, f"top level is a JSON {type(page).__name__}, not a list or object")


# --------------------------------------------------------------------------------------------
# Format detection and the import driver


def _formats() -> dict[str, FormatSpec]:
    return {"hsds3": hsds3.FORMAT, "oruk": oruk.FORMAT, "outpost": outpost.FORMAT}


def detect_format(records: Sequence[Any], envelope: dict[str, Any] | None = None) -> str | None:
    """Name the format whose shape the first few records (and the envelope) fit best.

    HSDS 3.0 records that use only what the UK profile keeps, and some of what it adds,
    are Open Referral UK 3.0 (``oruk3``).
    """
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
    if winners == ["hsds3"]:
        return documents.profile_of(records)
    return winners[0] if len(winners) == 1 else None


_INDEX = re.compile(r"\[\d+\]")
#: HSDS 3.0 requires an address's country; one we cannot tell is reported, never guessed.
_NO_COUNTRY = (
    "HSDS 3.0 requires a country (ISO 3166-1) and none was given, nor a UK postcode to tell "
    "it by: exported empty"
)


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
    declared: str | None = None
    for doc, page in _pages(docs):
        if documents.is_version_document(page):
            declared = declared or documents.declared_format(page)
            continue
        items, envelope = _records_of(page, doc.name)
        records.extend(items)
        n_pages += 1
        if envelope is not None:
            first_envelope = first_envelope or envelope
            for key in ("total_pages", "totalPages"):
                value = envelope.get(key)
                if isinstance(value, int) and not isinstance(value, bool):
                    announced_pages = max(announced_pages or 0, value)

    if n_pages == 0:
        raise _file_failure(
            source or "input",
            "is the feed's version document ('/'), not services: import its /services pages",
        )
    records = documents.services_of(records)
    fmt = format
    if fmt == "auto":
        detected = declared or detect_format(records, first_envelope)
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
    if spec is hsds3.FORMAT:
        kinds = {documents.kind_of(r) for r in records[:20] if isinstance(r, dict)}
        if len(kinds) == 1 and "service" not in kinds:
            raise _file_failure(
                source or "input",
                f"holds HSDS {kinds.pop()} records, not services: import services, "
                "service_at_locations or organisations with their services",
                fmt,
            )

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
    for position, record in enumerate(_progress(records, progress, f"importing {fmt}"), start=1):
        rid = record_id_of(record, position)
        n_warnings, n_lost = len(ctx.warnings), len(ctx.lost)
        try:
            if not isinstance(record, dict):
                raise CatalogueError(
                    rid, "<record>", f"expected a JSON object, got {type(record).__name__}"
                )
            if spec is hsds3.FORMAT and (kind := documents.kind_of(record)) != "service":
                raise CatalogueError(rid, "<record>", f"an HSDS {kind}, not a service")
            ctx.read.clear()
            service = spec.convert(record, ctx)
            if spec is not hsds3.FORMAT:  # HSDS keeps what it does not model verbatim
                ctx.lost.extend(unread(record, ctx.read))
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
            del ctx.lost[n_lost:]
            report.rejected.append(Rejection(exc.record_id or rid, exc.field, exc.reason, position))
            continue
        first_seen[service.id] = position
        services.append(service)
        for path in hsds3.countryless_addresses(service):
            ctx.warn(service.id, path, _NO_COUNTRY)
        for lost in {_INDEX.sub("[]", p) for p in ctx.lost[n_lost:]}:
            report.lost_fields[lost] += 1
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

"""Outpost API pages (wearefuturegov/outpost-api-service), used by several English councils.

Each page is ``{number, size, totalPages, totalElements, first, last, content: [...]}``; each
service is what Outpost's ``IndexedServicesSerializer`` writes (wearefuturegov/outpost):
``id`` (an integer), ``name``, ``description``, ``url``, ``status``, ``min_age``/``max_age``,
``free``, ``needs_referral``, ``updated_at``, ``organisation {id, name, ...}``,
``taxonomies[] {id, name, slug, parent_id}``, ``suitabilities[] {id, name, slug}``,
``send_needs[] {id, name, slug}``, ``locations[] {id, name, address_1, city, postal_code,
geometry {type: Point, coordinates: [lon, lat]}, accessibilities[] {name, slug}}``,
``regular_schedules[] {weekday: "Monday", opens_at, closes_at}``, ``contacts[] {name, title,
email, phone}``, ``cost_options[] {option, amount, cost_type}``, ``links``, ``meta``.

Outpost's status is computed by the platform; we keep its meaning: only ``active`` is
active, ``temporarily closed`` is temporarily closed, ``archived`` and ``marked for deletion``
are defunct, and ``pending``, ``scheduled``, ``expired``, ``invisible`` are inactive.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from vcsmatch.catalogue.crosswalk import Crosswalk
from vcsmatch.catalogue.formats import (
    FormatSpec,
    ImportResult,
    MappedTerms,
    PathOrObj,
    TermContext,
)
from vcsmatch.catalogue.model import (
    Contact,
    Cost,
    Eligibility,
    ExternalTerm,
    Location,
    Schedule,
    Service,
)
from vcsmatch.catalogue.parsing import (
    Record,
    build,
    check_age_range,
    free_from_options,
    one_line_address,
    parse_date,
    weekday_code,
)

#: External taxonomy names given to Outpost's three vocabularies (for the crosswalk).
TAXONOMIES = {
    "taxonomies": "outpost-taxonomies",
    "suitabilities": "outpost-suitabilities",
    "send_needs": "outpost-send-needs",
}
_STATUS = {
    "active": "active",
    "temporarily closed": "temporarily_closed",
    "archived": "defunct",
    "marked for deletion": "defunct",
    "pending": "inactive",
    "scheduled": "inactive",
    "expired": "inactive",
    "invisible": "inactive",
}


_REFERRAL = {True: "Referral needed", False: "No referral needed"}


def _score(rec: dict[str, Any]) -> int:
    keys = set(rec)
    score = 3 * len(keys & {"taxonomies", "suitabilities", "min_age", "max_age", "send_needs"})
    score += 2 * len(keys & {"target_directories", "needs_referral", "organisation", "free"})
    score += len(keys & {"locations", "regular_schedules", "links", "meta"})
    score -= 3 * len(keys & {"service_taxonomys", "eligibilitys", "attributes", "minimum_age"})
    return score


def _point(loc: Record) -> tuple[float | None, float | None]:
    """(lat, lon) from a GeoJSON Point ``geometry`` (coordinates are lon, lat), else the
    plain ``latitude``/``longitude`` some exports add."""
    geom = loc.obj("geometry")
    if geom is None:
        return loc.number("latitude"), loc.number("longitude")
    kind = geom.text("type")
    coords = geom.get("coordinates")
    if kind != "Point":
        raise geom.fail("type", f"expected a GeoJSON Point, got {kind!r}")
    if (
        not isinstance(coords, list)
        or len(coords) < 2
        or not all(isinstance(c, int | float) and not isinstance(c, bool) for c in coords[:2])
    ):
        raise geom.fail("coordinates", "expected [longitude, latitude] numbers")
    return float(coords[1]), float(coords[0])


def _locations(rec: Record) -> tuple[list[Location], list[str]]:
    locations: list[Location] = []
    accessibility: list[str] = []
    for loc in rec.objs("locations"):
        lat, lon = _point(loc)
        locations.append(
            build(
                Location,
                {
                    "id": loc.text("id"),
                    "name": loc.text("name"),
                    "address": one_line_address(loc, ("address_1", "city", "state_province")),
                    "postcode": loc.text("postal_code") or loc.text("postcode"),
                    "latitude": lat,
                    "longitude": lon,
                },
                loc,
                {"latitude": "geometry.coordinates", "longitude": "geometry.coordinates"},
            )
        )
        for acc in loc.objs("accessibilities"):
            text = acc.text("name") or acc.text("label")
            if text and text not in accessibility:
                accessibility.append(text)
    return locations, accessibility


def _schedules(rec: Record) -> list[Schedule]:
    """One schedule per distinct opening time, with every weekday that shares it."""
    by_times: dict[tuple[str | None, str | None], list[str]] = {}
    for s in rec.objs("regular_schedules"):
        day = s.text("weekday")
        code = weekday_code(day) if day else None
        if code is None:
            raise s.fail("weekday", f"not a weekday: {day!r}")
        days = by_times.setdefault((s.text("opens_at"), s.text("closes_at")), [])
        if code not in days:
            days.append(code)
    out = []
    for i, ((opens, closes), days) in enumerate(by_times.items()):
        out.append(
            build(
                Schedule,
                {"weekdays": days, "opens_at": opens, "closes_at": closes, "freq": "WEEKLY"},
                rec,
                {"opens_at": f"regular_schedules[{i}].opens_at",
                 "closes_at": f"regular_schedules[{i}].closes_at"},
            )
        )  # fmt: skip
    return out


def _cost(rec: Record) -> Cost:
    options = rec.objs("cost_options")
    free = rec.flag("free")
    if free is None:
        free = free_from_options(options)
    parts = []
    for o in options:
        amount = o.number("amount")
        label = " ".join(filter(None, (o.text("option"), o.text("cost_type"))))
        parts.append(f"{label} £{amount:.2f}".strip() if amount is not None else label)
    return build(Cost, {"free": free, "description": "; ".join(p for p in parts if p) or None}, rec)


def convert(raw: dict[str, Any], ctx: TermContext) -> Service:
    """One Outpost service -> ``Service`` (raises ``CatalogueError``)."""
    rec = Record.root(raw, read=ctx.read)
    mapped = MappedTerms()
    for key, taxonomy in TAXONOMIES.items():
        for t in rec.objs(key):
            term = ExternalTerm(
                taxonomy=taxonomy,
                code=t.text("slug") or t.text("id"),
                label=t.text("name") or t.text("label"),
            )
            mapped.add_term(term, ctx, rec.id, t.path("slug"))

    status = rec.text("status")
    if status is not None and status.lower() not in _STATUS:
        raise rec.fail("status", f"must be one of {sorted(_STATUS)}, got {status[:40]!r}")
    check_age_range(rec, "min_age", "max_age")

    locations, accessibility = _locations(rec)
    modes = list(mapped.modes) or (["in_person"] if locations else [])
    referral = rec.flag("needs_referral")
    org = rec.obj("organisation")
    contacts = [
        build(
            Contact,
            {
                "name": c.text("name"),
                "title": c.text("title"),
                "email": c.text("email"),
                "phone": c.text("phone"),
            },
            c,
        )
        for c in rec.objs("contacts")
    ]
    return build(
        Service,
        {
            "id": rec.id,
            "name": rec.text("name"),
            "description": rec.text("description") or "",
            "organisation": org.text("name") if org else None,
            "organisation_id": org.text("id") if org else None,
            "status": _STATUS[status.lower()] if status else "active",
            **mapped.service_fields(),
            "eligibility": build(
                Eligibility,
                {
                    "min_age": rec.get("min_age"),
                    "max_age": rec.get("max_age"),
                    "sex": mapped.sex_restriction(rec.id, rec.path("suitabilities")),
                },
                rec,
                {"min_age": "min_age", "max_age": "max_age", "sex": "suitabilities"},
            ),
            "delivery_modes": modes,
            "locations": locations,
            "schedules": _schedules(rec),
            "cost": _cost(rec),
            "referral": None if referral is None else _REFERRAL[referral],
            "contacts": contacts,
            "url": rec.text("url"),
            "email": rec.text("email"),
            "phone": contacts[0].phone if contacts else None,
            "accessibility": accessibility,
            "last_reviewed": parse_date(rec, "updated_at"),
        },
        rec,
        {"organisation": "organisation.name"},
    )


FORMAT = FormatSpec(name="outpost", score=_score, convert=convert)


def read_outpost(
    path_or_obj: PathOrObj,
    *,
    crosswalk: Crosswalk | str | Path | None = None,
    skip_invalid: bool = False,
    progress: bool = False,
) -> ImportResult:
    """Import Outpost API pages (a file, a directory of pages, or parsed JSON)."""
    from vcsmatch.catalogue.importing import import_file  # the driver imports this module

    return import_file(
        path_or_obj, "outpost", skip_invalid=skip_invalid, crosswalk=crosswalk, progress=progress
    )

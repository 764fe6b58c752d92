"""Open Referral UK 1.0: the service JSON most live UK directory feeds publish.

ORUK nests each table of its data package under the service with an ``s`` appended
(OpenReferralUK/human-services, ``ExtendedDataPackage.json``): ``service_taxonomys[].taxonomy
{id, name, vocabulary}``, ``eligibilitys[] {eligibility, minimum_age, maximum_age, gender}``,
``service_at_locations[].location {latitude, longitude, physical_addresses[],
accessibility_for_disabilities[]}``, ``regular_schedules[] {weekday, byday, opens_at,
closes_at, freq, interval}``, ``cost_options``, ``contacts[].phones``, ``languages[].language``,
``service_areas[] {service_area, extent}``, ``organization``. Feeds are paged as
``{totalElements, totalPages, number, size, first, last, content: [...]}``.

Read-only: we export HSDS 3.0, not ORUK.
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
    ServiceArea,
)
from vcsmatch.catalogue.parsing import (
    Record,
    build,
    free_from_options,
    parse_date,
    parse_geojson_extent,
    read_addresses,
    split_byday,
    weekday_code,
)

#: ``attending_type`` (ORUK enum) -> our delivery mode.
_ATTENDING = {
    "venue": "in_person",
    "online": "online",
    "phone": "phone",
    "home visit": "home_visit",
}
_STATUSES = {"active", "inactive", "defunct", "temporarily closed"}
_SEXES = {"female": "female", "male": "male", "women": "female", "men": "male"}


def _score(rec: dict[str, Any]) -> int:
    keys = set(rec)
    score = 3 * len(keys & {"service_taxonomys", "eligibilitys", "regular_schedules"})
    score += 2 * len(keys & {"attending_type", "attending_access", "deliverable_type"})
    score += len(keys & {"service_at_locations", "fees", "organization"})
    score -= 3 * len(keys & {"taxonomies", "suitabilities", "min_age", "attributes"})
    return score


def _age(rec: Record, key: str) -> int | float | None:
    """An age in years from 0 to 130; fractions are valid (0.5 for a service for babies)."""
    value = rec.number(key)
    if value is None:
        return None
    if not 0 <= value <= 130:
        raise rec.fail(key, f"not an age in years from 0 to 130 (got {value:g})")
    return int(value) if value.is_integer() else value


def _fold(ages: list[float | None], pick: Any) -> float | None:
    """The loosest bound over rows; None (no bound) if any row has none."""
    known = [a for a in ages if a is not None]
    return pick(known) if ages and len(known) == len(ages) else None


def _eligibility(rec: Record) -> Eligibility:
    """Fold the eligibility rows into one rule set: the union of the ages they admit.

    ``maximum_age`` 0 is read as "no upper limit": ORUK makes the field required, and feeds
    fill it with 0 when the service has none.
    """
    rows = rec.objs("eligibilitys") or rec.objs("eligibilities")
    mins: list[float | None] = []
    maxes: list[float | None] = []
    sexes: list[str | None] = []
    rules: list[str] = []
    for row in rows:
        lo, hi = _age(row, "minimum_age"), _age(row, "maximum_age")
        if hi == 0:
            hi = None
        if lo is not None and hi is not None and lo > hi:
            raise row.fail("minimum_age", f"greater than maximum_age ({lo:g} > {hi:g})")
        mins.append(lo)
        maxes.append(hi)
        text = row.text("eligibility")
        gender = (row.text("gender") or "").lower()
        sexes.append(_SEXES.get((text or "").lower()) or _SEXES.get(gender))
        if text and text not in rules:
            rules.append(text)
    sex = sexes[0] if sexes and all(s == sexes[0] for s in sexes) else None
    return build(
        Eligibility,
        {
            "min_age": _fold(mins, min),
            "max_age": _fold(maxes, max),
            "sex": sex,
            "rules": "; ".join(rules) or None,
        },
        rec,
        {"": "eligibilitys"},
    )


def _schedule(s: Record) -> Schedule:
    weekdays = split_byday(s, "byday")
    if not weekdays and s.get("weekday") is not None:
        day = s.text("weekday")
        code = weekday_code(day) if day else None
        if code is None:
            raise s.fail("weekday", f"not a weekday: {day!r}")
        weekdays = [code]
    freq = s.text("freq")
    return build(
        Schedule,
        {
            "weekdays": weekdays,
            "opens_at": s.text("opens_at"),
            "closes_at": s.text("closes_at"),
            "freq": freq.upper() if freq else "WEEKLY",
            "interval": s.get("interval"),
            "valid_from": parse_date(s, "valid_from"),
            "valid_to": parse_date(s, "valid_to"),
            "description": s.text("description"),
        },
        s,
        {"weekdays": "byday"},
    )


def _locations(rec: Record) -> tuple[list[Location], list[str]]:
    locations: list[Location] = []
    accessibility: list[str] = []
    for sal in rec.objs("service_at_locations"):
        loc = sal.obj("location")
        if loc is None:
            continue
        address, postcode, parts = read_addresses(loc, "physical_addresses")
        locations.append(
            build(
                Location,
                {
                    "id": loc.text("id"),
                    "name": loc.text("name"),
                    "address": address,
                    "postcode": postcode,
                    "latitude": loc.number("latitude"),
                    "longitude": loc.number("longitude"),
                    "addresses": parts,
                },
                loc,
                {"address": "physical_addresses", "postcode": "physical_addresses"},
            )
        )
        for acc in loc.objs("accessibility_for_disabilities"):
            text = acc.text("accessibility") or acc.text("details")
            if text and text not in accessibility:
                accessibility.append(text)
    return locations, accessibility


def _service_areas(rec: Record) -> list[ServiceArea]:
    areas = []
    for a in rec.objs("service_areas"):
        geometry = None
        extent = a.get("extent")
        if isinstance(extent, dict) or (isinstance(extent, str) and extent.strip()[:1] == "{"):
            geometry = parse_geojson_extent(a, "extent")
        name = a.text("name") or a.text("service_area")
        areas.append(
            build(ServiceArea, {"id": a.text("id"), "name": name, "geometry": geometry}, a)
        )
    return areas


def _contacts(rec: Record) -> list[Contact]:
    out = []
    for c in rec.objs("contacts"):
        phones = c.objs("phones")
        out.append(
            build(
                Contact,
                {
                    "name": c.text("name"),
                    "title": c.text("title"),
                    "email": c.text("email"),
                    "phone": phones[0].text("number") if phones else c.text("phone"),
                },
                c,
            )
        )
    return out


def convert(raw: dict[str, Any], ctx: TermContext) -> Service:
    """One Open Referral UK service object -> ``Service`` (raises ``CatalogueError``)."""
    rec = Record.root(raw, read=ctx.read)
    mapped = MappedTerms()
    for st in rec.objs("service_taxonomys"):
        tax = st.obj("taxonomy")
        if tax is None:  # a flat link: keep the id so the term is reported, not dropped
            if st.text("taxonomy_id"):
                mapped.add_term(ExternalTerm(code=st.text("taxonomy_id")), ctx, rec.id, "")
            continue
        term = ExternalTerm(
            taxonomy=tax.text("vocabulary"), code=tax.text("id"), label=tax.text("name")
        )
        mapped.add_term(term, ctx, rec.id, tax.path("id"))

    status = rec.text("status")
    if status is not None and status.lower() not in _STATUSES:
        raise rec.fail("status", f"must be one of {sorted(_STATUSES)}, got {status[:40]!r}")

    locations, accessibility = _locations(rec)
    modes = list(mapped.modes)
    attending = rec.text("attending_type")
    if attending:
        for part in attending.replace(";", ",").split(","):
            mode = _ATTENDING.get(part.strip().lower())
            if mode is None:  # outside the ORUK enum: the record is still usable without it
                ctx.warn(rec.id, "attending_type", f"unknown attending type {part.strip()!r}")
                continue
            if mode not in modes:
                modes.append(mode)
    if not modes and locations:
        modes = ["in_person"]

    eligibility = _eligibility(rec)
    if mapped.sex:
        sex = mapped.sex_restriction(rec.id, rec.path("service_taxonomys"))
        eligibility = eligibility.model_copy(update={"sex": sex})

    org = rec.obj("organization")
    languages: list[str] = []
    for lang in rec.objs("languages"):
        name = lang.text("language") or lang.text("name")
        if name and name not in languages:
            languages.append(name)
    phones = rec.objs("phones")

    return build(
        Service,
        {
            "id": rec.id,
            "name": rec.text("name"),
            "description": rec.text("description") or "",
            "organisation": org.text("name") if org else None,
            "organisation_id": rec.text("organization_id") or (org.text("id") if org else None),
            "status": status.lower().replace(" ", "_") if status else "active",
            **mapped.service_fields(),
            "eligibility": eligibility,
            "delivery_modes": modes,
            "locations": locations,
            "service_areas": _service_areas(rec),
            "schedules": [_schedule(s) for s in rec.objs("regular_schedules")],
            "cost": build(
                Cost,
                {
                    "free": free_from_options(rec.objs("cost_options")),
                    "description": rec.text("fees"),
                },
                rec,
                {"description": "fees", "free": "cost_options"},
            ),
            "referral": rec.text("application_process") or rec.text("attending_access"),
            "contacts": _contacts(rec),
            "url": rec.text("url"),
            "email": rec.text("email"),
            "phone": phones[0].text("number") if phones else None,
            "languages": languages,
            "accessibility": accessibility,
            "last_reviewed": parse_date(rec, "assured_date"),
            "source": None,
        },
        rec,
        {"organisation": "organization.name", "referral": "application_process"},
    )


FORMAT = FormatSpec(name="oruk", score=_score, convert=convert)


def read_oruk(
    path_or_obj: PathOrObj,
    *,
    crosswalk: Crosswalk | str | Path | None = None,
    skip_invalid: bool = False,
    progress: bool = False,
) -> ImportResult:
    """Import an Open Referral UK 1.0 file, page dump or parsed object (see ``import_file``)."""
    from vcsmatch.catalogue.importing import import_file  # the driver imports this module

    return import_file(
        path_or_obj, "oruk", skip_invalid=skip_invalid, crosswalk=crosswalk, progress=progress
    )

"""HSDS 3.0 (Open Referral, specification branch 3.0): read full service objects, write them back.

Shape read: a list of ``service`` objects (``schema/compiled/service.json``) or a page
envelope (``total_items, total_pages, page_number, size, first_page, last_page, empty,
contents``). Our own codes travel as attributes whose ``taxonomy_term.taxonomy`` is
``vcsmatch-needs``, ``vcsmatch-activities``, ``vcsmatch-eligibility`` (``female-only``,
``male-only``) or ``vcsmatch-delivery`` (``in_person``, ``online``, ``phone``,
``home_visit``); an attribute ``value`` of ``inferred`` marks a code inferred from text.
Terms of any other taxonomy go through the crosswalk. Fields of ours HSDS has no home for
(the source, accessibility of a service without a physical location) are attributes of the
``vcsmatch-meta`` taxonomy whose ``value`` holds the text.

HSDS requires an ``id`` on every nested object; where our model has none, the writer derives
a stable UUID from the service id and the object's position, and the reader recognises such
derived ids and drops them again, so export then import gives back the same catalogue.
The one normalisation: a service with no delivery modes gets them derived from its
locations on import (a physical location means in person, a virtual one online).
"""

from __future__ import annotations

import functools
import json
import re
import uuid
from pathlib import Path
from typing import Any

from vcsmatch.catalogue.crosswalk import Crosswalk
from vcsmatch.catalogue.formats import (
    DELIVERY_TAXONOMY,
    META_TAXONOMY,
    FormatSpec,
    ImportResult,
    MappedTerms,
    PathOrObj,
    TermContext,
)
from vcsmatch.catalogue.ids import NAMESPACE as _NAMESPACE
from vcsmatch.catalogue.ids import derived_id, public_id
from vcsmatch.catalogue.model import (
    Address,
    Catalogue,
    Contact,
    Cost,
    CostOption,
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
    check_age_range,
    free_from_options,
    parse_date,
    parse_datetime,
    parse_geojson_extent,
    read_addresses,
    split_byday,
    summary_country,
)
from vcsmatch.catalogue.verbatim import (
    as_public_uuid,
    as_uri,
    lay_under,
    rename_ids,
    repair,
    unmodelled,
)
from vcsmatch.errors import CatalogueError
from vcsmatch.taxonomy import (
    ACTIVITIES_TAXONOMY,
    ELIGIBILITY_TAXONOMY,
    NEEDS_TAXONOMY,
    Taxonomy,
    load_taxonomy,
)

INFERRED = "inferred"
_STATUS_IN = {"temporarily closed": "temporarily_closed"}
_STATUSES = frozenset({"active", "inactive", "defunct", "temporarily closed", "temporarily_closed"})
_STATUS_OUT = {"temporarily_closed": "temporarily closed"}
#: The ``vcsmatch-meta`` code whose attribute value is the source's own id of an object.
SOURCE_ID = "source_id"
#: ... and the source's own id of the service's organisation.
ORGANIZATION_SOURCE_ID = "organization_source_id"


# --------------------------------------------------------------------------------------------
# Reading


def _score(rec: dict[str, Any]) -> int:
    keys = set(rec)
    score = 0
    score += 2 * len(keys & {"attributes", "minimum_age", "maximum_age", "cost_options"})
    score += len(
        keys
        & {
            "eligibility_description",
            "fees_description",
            "assured_date",
            "last_modified",
            "schedules",
            "service_areas",
            "status",
        }
    )
    # Open Referral UK and Outpost records carry these instead.
    score -= 3 * len(
        keys
        & {
            "service_taxonomys",
            "eligibilitys",
            "regular_schedules",
            "taxonomies",
            "suitabilities",
            "min_age",
            "max_age",
        }
    )
    return score


def _term_of(attr: Record) -> tuple[ExternalTerm | None, Record]:
    """The term an attribute links to, and the record to blame for a bad code.

    A flat export may give only ``taxonomy_term_id``: the id is kept as the term's code, so
    the term is still crosswalked or reported rather than dropped.
    """
    term = attr.obj("taxonomy_term")
    if term is None:
        term_id = attr.text("taxonomy_term_id")
        return (ExternalTerm(code=term_id) if term_id else None), attr
    taxonomy = term.text("taxonomy")
    detail = term.obj("taxonomy_detail")
    if taxonomy is None and detail is not None:
        taxonomy = detail.text("name")
    taxonomy = taxonomy or term.text("taxonomy_id")
    code, label, description = term.text("code"), term.text("name"), term.text("description")
    if description in (label, code):
        description = None  # the exporter writes the label (or code) where there is none
    return ExternalTerm(taxonomy=taxonomy, code=code, label=label, description=description), term


def _meta(rec: Record) -> dict[str, str]:
    """The ``vcsmatch-meta`` attributes of an object: code -> value (first one wins)."""
    meta: dict[str, str] = {}
    for attr in rec.objs("attributes"):
        term = attr.obj("taxonomy_term")
        if term is None or (term.text("taxonomy") or "").lower() != META_TAXONOMY:
            continue
        code, value = term.text("code"), attr.text("value")
        if code and value and code != "accessibility":
            meta.setdefault(code, value)
    return meta


def _read_attributes(rec: Record, ctx: TermContext) -> tuple[MappedTerms, list[str]]:
    """Split a service's attributes into our codes and modes, external terms, and the
    accessibility notes kept as attributes (other meta fields are read by ``_meta``)."""
    mapped = MappedTerms()
    accessibility: list[str] = []
    for attr in rec.objs("attributes"):
        ext, term = _term_of(attr)
        if ext is None:
            continue
        value = attr.text("value")
        if (ext.taxonomy or "").strip().lower() == META_TAXONOMY:
            if ext.code == "accessibility" and value and value not in accessibility:
                accessibility.append(value)
            continue
        inferred = (value or "").lower() == INFERRED
        mapped.add_term(ext, ctx, rec.id, term.path("code"), inferred=inferred)
    return mapped, accessibility


def _coordinates(loc: Record, ctx: TermContext) -> tuple[Any, Any]:
    """A location's (latitude, longitude); a pair outside the globe is reported and dropped."""
    lat, lon = loc.number("latitude"), loc.number("longitude")
    for key, value, bound in (("latitude", lat, 90), ("longitude", lon, 180)):
        if value is not None and not -bound <= value <= bound:
            ctx.lose(
                loc.id,
                loc.path(key),
                f"{value:g} is outside -{bound}..{bound}: coordinates left out",
            )
            other = "longitude" if key == "latitude" else "latitude"
            if loc.get(other) is not None:
                ctx.lose(loc.id, loc.path(other))
            return None, None
    return lat, lon


def _read_locations(rec: Record, ctx: TermContext) -> tuple[list[Location], list[str], bool, bool]:
    """Physical locations, their accessibility notes, and whether any is physical/virtual."""
    locations: list[Location] = []
    accessibility: list[str] = []
    physical = virtual = False
    for sal in rec.objs("service_at_locations"):
        loc = sal.obj("location")
        if loc is None:
            continue
        kind = (loc.text("location_type") or "physical").lower()
        if kind == "virtual":
            virtual = True
            continue
        if kind != "physical":
            continue  # a postal address is where letters go, not where the service is
        physical = True
        address, postcode, addresses = read_addresses(loc, "addresses")
        latitude, longitude = _coordinates(loc, ctx)
        loc_id = _meta(loc).get(SOURCE_ID) or loc.text("id")
        if loc_id == derived_id(rec.id, "location", len(locations)):
            loc_id = None
        locations.append(
            build(
                Location,
                {
                    "id": loc_id,
                    "name": loc.text("name"),
                    "address": address,
                    "postcode": postcode,
                    "latitude": latitude,
                    "longitude": longitude,
                    "addresses": addresses,
                    "external_identifier": loc.text("external_identifier"),
                    "external_identifier_type": loc.text("external_identifier_type"),
                },
                loc,
            )
        )
        for acc in loc.objs("accessibility"):
            text = acc.text("description") or acc.text("details")
            if text and text not in accessibility:
                accessibility.append(text)
    return locations, accessibility, physical, virtual


def _own_id(rec: Record, derived: str) -> str | None:
    """A nested object's id as published (see ``as_public_uuid``); None for one our
    exporter derived, so export then import gives back the same object."""
    text = rec.text("id")
    if text is None:
        return None
    public = as_public_uuid(text)
    return None if public == derived else public


def _read_schedule(s: Record, derived: str) -> Schedule:
    return build(
        Schedule,
        {
            "id": _own_id(s, derived),
            "weekdays": split_byday(s, "byday"),
            "opens_at": s.get("opens_at"),
            "closes_at": s.get("closes_at"),
            "freq": s.text("freq").upper() if s.text("freq") else None,
            "interval": s.get("interval"),
            "valid_from": s.get("valid_from"),
            "valid_to": s.get("valid_to"),
            "dtstart": parse_date(s, "dtstart"),
            "until": parse_date(s, "until"),
            "count": s.get("count"),
            "bymonthday": _month_days(s),
            "description": s.text("description"),
        },
        s,
    )


def _month_days(s: Record) -> list[int]:
    """``bymonthday`` (``"2,3,-5"``) as numbers; RFC 5545 allows 1..31 and -31..-1."""
    text = s.text("bymonthday")
    if text is None:
        return []
    days = []
    for part in re.split(r"[,\s;]+", text):
        if not part:
            continue
        try:
            day = int(part)
        except ValueError:
            raise s.fail("bymonthday", f"not a day of the month: {part[:10]!r}") from None
        if not 1 <= abs(day) <= 31:
            raise s.fail("bymonthday", f"not a day of the month: {day}")
        days.append(day)
    return days


def _read_cost(rec: Record) -> Cost:
    """The cost: free or not, the text, and the options unless they say only free/charge
    as our exporter writes that."""
    records = rec.objs("cost_options")
    free = free_from_options(records)
    options = [
        build(
            CostOption,
            {
                "id": _own_id(o, _cost_option_id(rec.id, i)),
                "option": o.text("option"),
                "amount": o.number("amount"),
                "currency": o.text("currency"),
                "amount_description": o.text("amount_description"),
                "valid_from": parse_date(o, "valid_from"),
                "valid_to": parse_date(o, "valid_to"),
            },
            o,
        )
        for i, o in enumerate(records)
    ]
    if [o.model_copy(update={"id": None}) for o in options] == _cost_options_of(free):
        options = []  # the source's ids of these are kept by ``_keep_verbatim``
        options = []
    return build(
        Cost,
        {
            "free": free,
            "description": rec.text("fees_description") or rec.text("fees"),
            "options": options,
        },
        rec,
        {"description": "fees_description", "free": "cost_options"},
    )


def _cost_options_of(free: bool | None) -> list[CostOption]:
    """The one option the exporter writes for a cost known only as free or not."""
    if free is None:
        return []
    if free:
        return [CostOption(option="Free", amount=0, currency="GBP")]
    return [CostOption(option="Charge", currency="GBP")]


def _cost_option_id(sid: str, i: int) -> str:
    return derived_id(sid, "cost_option", i) if i else derived_id(sid, "cost_option")


def _read_contacts(rec: Record) -> list[Contact]:
    out = []
    for i, c in enumerate(rec.objs("contacts")):
        phones = c.objs("phones")
        out.append(
            build(
                Contact,
                {
                    "id": _own_id(c, derived_id(rec.id, "contact", i)),
                    "name": c.text("name"),
                    "title": c.text("title"),
                    "email": c.text("email"),
                    "phone": phones[0].text("number") if phones else None,
                },
                c,
            )
        )
    return out


def convert(raw: dict[str, Any], ctx: TermContext) -> Service:
    """One HSDS 3.0 service object -> ``Service`` (raises ``CatalogueError``)."""
    rec = Record.root(raw)
    n_lost = len(ctx.lost)
    meta = _meta(rec)
    source = meta.get("source")
    # The source's own id, kept beside the public UUID by our export, is the service's id.
    rec.id = meta.get(SOURCE_ID) or rec.id
    mapped, meta_access = _read_attributes(rec, ctx)
    locations, loc_access, physical, virtual = _read_locations(rec, ctx)
    modes = mapped.modes
    if not modes:
        modes = (["in_person"] if physical else []) + (["online"] if virtual else [])

    org = rec.obj("organization")
    org_id = meta.get(ORGANIZATION_SOURCE_ID) or rec.text("organization_id")
    org_name = org.text("name") if org else None
    if org_id is None and org is not None:
        org_id = org.text("id")
        if org_id == derived_id(rec.id, "organization"):
            org_id = None

    areas = []
    for i, a in enumerate(rec.objs("service_areas")):
        area_id = _meta(a).get(SOURCE_ID) or a.text("id")
        if area_id == derived_id(rec.id, "service_area", i):
            area_id = None
        geometry = None
        if (a.text("extent_type") or "").lower() == "geojson" and a.get("extent") not in (None, ""):
            try:
                geometry = parse_geojson_extent(a, "extent")
            except CatalogueError as exc:  # the area is still named: keep it, without a shape
                ctx.lose(exc.record_id, exc.field, f"{exc.reason}: extent left out")
        areas.append(
            build(ServiceArea, {"id": area_id, "name": a.text("name"), "geometry": geometry}, a)
        )

    schedules = [
        _read_schedule(s, derived_id(rec.id, "schedule", i))
        for i, s in enumerate(rec.objs("schedules"))
    ]
    for sal in rec.objs("service_at_locations"):
        for s in sal.objs("schedules"):
            sched = _read_schedule(s, derived_id(rec.id, "schedule", len(schedules)))
            if sched not in schedules:
                schedules.append(sched)

    phones = rec.objs("phones")
    last_modified = parse_datetime(rec, "last_modified")
    last_reviewed = parse_date(rec, "assured_date")  # as given, even on last_modified's day
    status = rec.text("status")
    if status is not None and status.lower() not in _STATUSES:
        raise rec.fail("status", f"must be one of {sorted(_STATUSES)}, got {status[:40]!r}")
    status = status.lower() if status else None
    check_age_range(rec, "minimum_age", "maximum_age")
    eligibility = build(
        Eligibility,
        {
            "min_age": rec.get("minimum_age"),
            "max_age": rec.get("maximum_age"),
            "sex": mapped.sex_restriction(rec.id, rec.path("attributes")),
            "rules": rec.text("eligibility_description"),
        },
        rec,
        {
            "min_age": "minimum_age",
            "max_age": "maximum_age",
            "sex": "attributes",
            "rules": "eligibility_description",
            "": "minimum_age",
        },
    )
    languages: list[str] = []
    for lang in rec.objs("languages"):
        name = lang.text("name") or lang.text("code")
        if name and name not in languages:
            languages.append(name)
    accessibility = list(loc_access)
    accessibility += [a for a in meta_access if a not in accessibility]

    service = build(
        Service,
        {
            "id": rec.id,
            "name": rec.text("name"),
            "description": rec.text("description") or "",
            "organisation": org_name,
            "organisation_id": org_id,
            "organisation_description": org.text("description") if org else None,
            "status": _STATUS_IN.get(status, status) if status else "active",
            **mapped.service_fields(),
            "eligibility": eligibility,
            "delivery_modes": modes,
            "locations": locations,
            "service_areas": areas,
            "schedules": schedules,
            "cost": _read_cost(rec),
            "referral": rec.text("application_process"),
            "contacts": _read_contacts(rec),
            "url": rec.text("url"),
            "email": rec.text("email"),
            "phone": phones[0].text("number") if phones else None,
            "languages": languages,
            "accessibility": accessibility,
            "last_reviewed": last_reviewed,
            "last_modified": last_modified,
            "source": source,
        },
        rec,
        {
            "organisation": "organization.name",
            "organisation_description": "organization.description",
            "referral": "application_process",
            "last_reviewed": "assured_date",
            "phone": "phones[0].number",
            "needs": "attributes",
            "activities": "attributes",
            "delivery_modes": "attributes",
        },
    )
    return _keep_verbatim(raw, service, ctx, n_lost)


def _keep_verbatim(raw: dict[str, Any], service: Service, ctx: TermContext, n_lost: int) -> Service:
    """``service`` holding the fields of ``raw`` the model does not, so the export keeps them.

    Values the reader refused stay out; verbatim values HSDS would refuse are repaired or
    left out, and each one left out is reported.
    """
    written = service_to_hsds3(service, ctx.taxonomy)
    ids: dict[str, str] = {}
    extra = unmodelled(raw, written, set(ctx.lost[n_lost:]), ids=ids)
    extra, refused = repair(extra)
    for path, reason in refused:
        ctx.lose(service.id, path, f"{reason}: left out")
    if not extra and not ids:
        return service
    return service.model_copy(update={"hsds_extra": extra, "hsds_ids": ids})


FORMAT = FormatSpec(name="hsds3", score=_score, convert=convert)


def read_hsds3(
    path_or_obj: PathOrObj,
    *,
    crosswalk: Crosswalk | str | Path | None = None,
    skip_invalid: bool = False,
    progress: bool = False,
) -> ImportResult:
    """Import an HSDS 3.0 file, page dump or parsed object (see ``import_file``)."""
    from vcsmatch.catalogue.importing import import_file  # the driver imports this module

    return import_file(
        path_or_obj, "hsds3", skip_invalid=skip_invalid, crosswalk=crosswalk, progress=progress
    )


# --------------------------------------------------------------------------------------------
# Writing


@functools.lru_cache(maxsize=1024)
def term_id(taxonomy: str, code: str) -> str:
    """The id of one of our taxonomy terms: the same in every export (pure, so cached)."""
    return str(uuid.uuid5(_NAMESPACE, f"term/{taxonomy}/{code}"))


def _attribute(
    owner: tuple[str, str],
    n: int,
    taxonomy: str,
    code: str,
    name: str,
    value: str | None = None,
    entity: str = "service",
) -> dict[str, Any]:
    """An attribute linking one of our terms to ``owner`` (its derived-id seed, public id)."""
    tid = term_id(taxonomy, code)
    attr: dict[str, Any] = {
        "id": derived_id(owner[0], entity, "attribute", n)
        if entity != "service"
        else derived_id(owner[0], "attribute", n),
        "link_id": owner[1],
        "link_type": entity,
        "link_entity": entity,
        "taxonomy_term_id": tid,
        "taxonomy_term": {
            "id": tid,
            "code": code,
            "name": name,
            "description": name,
            "taxonomy": taxonomy,
        },
    }
    if value is not None:
        attr["value"] = value
    return attr


def _label(tax: Taxonomy, kind: str, code: str) -> str:
    try:
        return tax.label("need" if kind == "need" else "strength", code)
    except KeyError:
        return code


def _drop_none(d: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in d.items() if v is not None}


def service_to_hsds3(service: Service, taxonomy: Taxonomy | None = None) -> dict[str, Any]:
    """One ``Service`` as an HSDS 3.0 service object."""
    tax = taxonomy or load_taxonomy()
    s = service
    sid = s.id  # seeds the ids derived for nested objects
    pid = public_id("service", sid, s.source)
    attrs: list[dict[str, Any]] = []

    def add(taxonomy_name: str, code: str, name: str, value: str | None = None) -> None:
        attrs.append(_attribute((sid, pid), len(attrs), taxonomy_name, code, name, value))

    for code in s.needs:
        add(NEEDS_TAXONOMY, code, _label(tax, "need", code))
    for code in s.inferred_needs:
        add(NEEDS_TAXONOMY, code, _label(tax, "need", code), INFERRED)
    for code in s.activities:
        add(ACTIVITIES_TAXONOMY, code, _label(tax, "activity", code))
    for code in s.inferred_activities:
        add(ACTIVITIES_TAXONOMY, code, _label(tax, "activity", code), INFERRED)
    if s.eligibility.sex is not None:
        code = f"{s.eligibility.sex}-only"
        add(ELIGIBILITY_TAXONOMY, code, code.replace("-", " ").capitalize())
    for mode in s.delivery_modes:
        add(DELIVERY_TAXONOMY, mode, mode.replace("_", " ").capitalize())
    for term in s.unmapped_terms:
        attrs.append(
            {
                "id": derived_id(sid, "attribute", len(attrs)),
                "link_id": pid,
                "link_type": "service",
                "link_entity": "service",
                "taxonomy_term": _drop_none(
                    {
                        "id": derived_id(sid, "term", len(attrs)),
                        "code": term.code,
                        "name": term.label or term.code or "",
                        "description": term.description or term.label or term.code or "",
                        "taxonomy": term.taxonomy,
                    }
                ),
            }
        )
    if s.source is not None:
        add(META_TAXONOMY, "source", "Source", s.source)
    if pid != sid:
        add(META_TAXONOMY, SOURCE_ID, "Source id", sid)
    org_pid = None
    if s.organisation_id is not None:
        org_pid = public_id("organization", s.organisation_id, s.source)
        if org_pid != s.organisation_id:
            add(META_TAXONOMY, ORGANIZATION_SOURCE_ID, "Organisation source id", s.organisation_id)
    if not s.locations:
        for text in s.accessibility:
            add(META_TAXONOMY, "accessibility", "Accessibility", text)

    sals: list[dict[str, Any]] = []
    for i, loc in enumerate(s.locations):
        loc_id = (
            public_id("location", loc.id, s.source) if loc.id else derived_id(sid, "location", i)
        )
        location: dict[str, Any] = _drop_none(
            {
                "id": loc_id,
                "location_type": "physical",
                "name": loc.name,
                "latitude": loc.latitude,
                "longitude": loc.longitude,
                "external_identifier": loc.external_identifier,
                "external_identifier_type": loc.external_identifier_type,
            }
        )
        addresses = _addresses_of(loc)
        if addresses:
            location["addresses"] = [
                _address(
                    a,
                    derived_id(sid, "address", i, j) if j else derived_id(sid, "address", i),
                    loc_id,
                )
                for j, a in enumerate(addresses)
            ]
        location["accessibility"] = [
            {"id": derived_id(sid, "accessibility", i, j), "location_id": loc_id, "description": a}
            for j, a in enumerate(s.accessibility)
        ]
        if loc.id is not None and loc_id != loc.id:
            location["attributes"] = [
                _attribute(
                    (f"{sid}/location/{i}", loc_id),
                    0,
                    META_TAXONOMY,
                    SOURCE_ID,
                    "Source id",
                    loc.id,
                    entity="location",
                )
            ]
        sals.append(
            {
                "id": derived_id(sid, "service_at_location", i),
                "service_id": pid,
                "location_id": loc_id,
                "location": location,
            }
        )
    if "online" in s.delivery_modes:
        loc_id = derived_id(sid, "virtual_location")
        sals.append(
            {
                "id": derived_id(sid, "service_at_location", "virtual"),
                "service_id": pid,
                "location_id": loc_id,
                "location": _drop_none(
                    {
                        "id": loc_id,
                        "location_type": "virtual",
                        "name": "Online",
                        "url": as_uri(s.url),
                    }
                ),
            }
        )

    schedules = []
    for i, sc in enumerate(s.schedules):
        schedules.append(
            _drop_none(
                {
                    "id": sc.id or derived_id(sid, "schedule", i),
                    "service_id": pid,
                    "freq": sc.freq,
                    "interval": sc.interval,
                    "byday": ",".join(sc.weekdays) if sc.weekdays else None,
                    "opens_at": sc.opens_at.isoformat() if sc.opens_at else None,
                    "closes_at": sc.closes_at.isoformat() if sc.closes_at else None,
                    "valid_from": sc.valid_from.isoformat() if sc.valid_from else None,
                    "valid_to": sc.valid_to.isoformat() if sc.valid_to else None,
                    "dtstart": sc.dtstart.isoformat() if sc.dtstart else None,
                    "until": sc.until.isoformat() if sc.until else None,
                    "count": sc.count,
                    "bymonthday": ",".join(map(str, sc.bymonthday)) if sc.bymonthday else None,
                    "description": sc.description,
                }
            )
        )

    areas = []
    for i, a in enumerate(s.service_areas):
        area_id = public_id("service_area", a.id, s.source) if a.id else None
        area = _drop_none(
            {
                "id": area_id or derived_id(sid, "service_area", i),
                "service_id": pid,
                "name": a.name,
                "extent": json.dumps(a.geometry, separators=(",", ":")) if a.geometry else None,
                "extent_type": "geojson" if a.geometry else None,
            }
        )
        if a.id is not None and area_id != a.id:
            area["attributes"] = [
                _attribute(
                    (f"{sid}/service_area/{i}", area["id"]),
                    0,
                    META_TAXONOMY,
                    SOURCE_ID,
                    "Source id",
                    a.id,
                    entity="service_area",
                )
            ]
        areas.append(area)

    cost_options = [
        _drop_none(
            {
                "id": o.id or _cost_option_id(sid, i),
                "service_id": pid,
                "option": o.option,
                "amount": _number(o.amount),
                "currency": o.currency,
                "amount_description": o.amount_description,
                "valid_from": o.valid_from.isoformat() if o.valid_from else None,
                "valid_to": o.valid_to.isoformat() if o.valid_to else None,
            }
        )
        for i, o in enumerate(s.cost.options or _cost_options_of(s.cost.free))
    ]

    contacts = []
    for i, c in enumerate(s.contacts):
        cid = c.id or derived_id(sid, "contact", i)
        contact = _drop_none(
            {"id": cid, "service_id": pid, "name": c.name, "title": c.title, "email": c.email}
        )
        if c.phone is not None:
            contact["phones"] = [
                {
                    "id": derived_id(cid, "phone") if c.id else derived_id(sid, "contact_phone", i),
                    "contact_id": cid,
                    "number": c.phone,
                }
            ]
        contacts.append(contact)

    out: dict[str, Any] = {
        "id": pid,
        "name": s.name,
        "description": s.description_html or s.description,
        "status": _STATUS_OUT.get(s.status, s.status),
        "url": as_uri(s.url),
        "email": s.email,
        "organization_id": org_pid,
        "eligibility_description": s.eligibility.rules,
        "minimum_age": s.eligibility.min_age,
        "maximum_age": s.eligibility.max_age,
        "application_process": s.referral,
        "fees_description": s.cost.description,
        "assured_date": s.last_reviewed.isoformat() if s.last_reviewed else None,
        "last_modified": s.last_modified.isoformat() if s.last_modified else None,
    }
    out = _drop_none(out)
    if s.organisation is not None:
        out["organization"] = {
            "id": org_pid or derived_id(sid, "organization"),
            "name": s.organisation,
            "description": s.organisation_description or "",
        }
    if s.phone is not None:
        out["phones"] = [{"id": derived_id(sid, "phone"), "service_id": pid, "number": s.phone}]
    out["schedules"] = schedules
    out["service_areas"] = areas
    out["service_at_locations"] = sals
    out["languages"] = [
        {"id": derived_id(sid, "language", i), "service_id": pid, "name": lang}
        for i, lang in enumerate(s.languages)
    ]
    out["cost_options"] = cost_options
    out["contacts"] = contacts
    out["attributes"] = attrs
    if s.hsds_ids:
        rename_ids(out, s.hsds_ids)
    return lay_under(out, s.hsds_extra) if s.hsds_extra else out


def _addresses_of(loc: Location) -> list[Address]:
    """A location's addresses as exported: its parts, else one made of its summary."""
    if loc.addresses or (loc.address is None and loc.postcode is None):
        return loc.addresses
    return [
        Address(
            address_1=loc.address, postal_code=loc.postcode, country=summary_country(loc.postcode)
        )
    ]


def countryless_addresses(service: Service) -> list[str]:
    """The export's paths of addresses with no country. HSDS 3.0 requires one (an ISO 3166-1
    code) and we never guess it: the importer warns, and the export writes it empty."""
    return [
        f"service_at_locations[{i}].location.addresses[{j}].country"
        for i, loc in enumerate(service.locations)
        for j, a in enumerate(_addresses_of(loc))
        if not a.country
    ]


def _number(value: float | None) -> int | float | None:
    """A whole amount as an int (``35``, not ``35.0``)."""
    return int(value) if value is not None and value.is_integer() else value


def _address(a: Address, address_id: str, location_id: str) -> dict[str, Any]:
    """An HSDS address; the parts HSDS requires are empty text where the source had none."""
    return _drop_none(
        {
            "id": address_id,
            "location_id": location_id,
            "attention": a.attention,
            "address_1": a.address_1 or "",
            "address_2": a.address_2,
            "city": a.city or "",
            "region": a.region,
            "state_province": a.state_province or "",
            "postal_code": a.postal_code or "",
            "country": a.country or "",
            "address_type": a.address_type,
        }
    )


def write_hsds3(catalogue: Catalogue, path: str | Path | None = None) -> list[dict[str, Any]]:
    """The catalogue as a list of HSDS 3.0 service objects; also written to ``path`` if given.

    The file is UTF-8 JSON without a byte-order mark.
    """
    tax = load_taxonomy()
    services = [service_to_hsds3(s, tax) for s in catalogue.services]
    if path is not None:
        _write_json(Path(path), services)
    return services


def write_hsds3_pages(
    catalogue: Catalogue, size: int = 100, directory: str | Path | None = None
) -> list[dict[str, Any]]:
    """The catalogue as HSDS 3.0 page envelopes of ``size`` services (``contents``).

    With ``directory``, each page is also written as ``page-<n>.json`` there.
    """
    if not isinstance(size, int) or isinstance(size, bool) or size < 1:
        raise ValueError(
            f"The 'size' parameter of write_hsds3_pages must be a positive int. Got {size!r} "
            "instead."
        )
    services = write_hsds3(catalogue)
    total_pages = max(1, -(-len(services) // size))
    pages = []
    for n in range(1, total_pages + 1):
        contents = services[(n - 1) * size : n * size]
        pages.append(
            {
                "total_items": len(services),
                "total_pages": total_pages,
                "page_number": n,
                "size": len(contents),
                "first_page": n == 1,
                "last_page": n == total_pages,
                "empty": not contents,
                "contents": contents,
            }
        )
    if directory is not None:
        d = Path(directory)
        d.mkdir(parents=True, exist_ok=True)
        for page in pages:
            _write_json(d / f"page-{page['page_number']}.json", page)
    return pages


def _write_json(path: Path, data: Any) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_text(json.dumps(data, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
    tmp.replace(path)


__all__ = [
    "DELIVERY_TAXONOMY",
    "META_TAXONOMY",
    "as_uri",
    "countryless_addresses",
    "derived_id",
    "read_hsds3",
    "term_id",
    "service_to_hsds3",
    "write_hsds3",
    "write_hsds3_pages",
]

"""What an HSDS 3.0 / Open Referral UK 3.0 document holds, before any record is read.

Feeds publish more than services: an organisation with its services nested, services at
locations with their service nested, the feed's ``/`` version document, and objects that
are not services at all (locations, taxonomies, taxonomy terms). The import driver asks
this module to turn the first two into the services they carry, to tell which standard a
version document declares, and to name what cannot be imported as a service.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

_ORGANISATION_KEYS = frozenset({"organization_identifiers", "legal_status", "website",
                                "tax_status", "year_incorporated", "logo"})  # fmt: skip
_LOCATION_KEYS = frozenset({"location_type", "addresses", "latitude", "longitude",
                            "transportation", "external_identifier"})  # fmt: skip
_TERM_KEYS = frozenset({"term_uri", "taxonomy_detail", "parent_id", "taxonomy_id", "term"})
_TAXONOMY_KEYS = frozenset({"id", "name", "description", "uri", "version", "taxonomy_terms"})
#: Fields only a service has (HSDS 3.0 ``service.json``).
_SERVICE_KEYS = frozenset({"status", "attributes", "service_at_locations", "service_areas",
                           "cost_options", "minimum_age", "maximum_age", "eligibility_description",
                           "application_process", "fees_description", "organization_id",
                           "assured_date"})  # fmt: skip


#: HSDS 3.0 service fields the UK profile leaves out, and the fields the profile adds.
_NOT_IN_ORUK3 = frozenset({"program_id", "alternate_name", "interpretation_services",
                           "application_process", "fees_description", "wait_time",
                           "eligibility_description", "licenses", "phones", "program",
                           "required_documents", "metadata"})  # fmt: skip
_ORG_NOT_IN_ORUK3 = frozenset({"alternate_name", "contacts", "funding", "legal_status",
                               "locations", "metadata", "phones", "programs", "tax_id",
                               "tax_status", "year_incorporated"})  # fmt: skip


def _oruk3_marks(rec: dict[str, Any]) -> bool:
    """Whether a service uses a field only the UK profile has (a term's ``term``, an area's
    ``service_area``, an accessibility's ``accessibility``)."""
    for attr in rec.get("attributes") or []:
        term = attr.get("taxonomy_term") if isinstance(attr, dict) else None
        if isinstance(term, dict) and "term" in term:
            return True
    if any(isinstance(a, dict) and "service_area" in a for a in rec.get("service_areas") or []):
        return True
    for sal in rec.get("service_at_locations") or []:
        loc = sal.get("location") if isinstance(sal, dict) else None
        if isinstance(loc, dict) and any(
            isinstance(a, dict) and "accessibility" in a for a in loc.get("accessibility") or []
        ):
            return True
    return False


def _profile_organisation(rec: dict[str, Any]) -> bool:
    """Whether a service's organisation has more than a name, all of it in the UK profile."""
    org = rec.get("organization")
    return isinstance(org, dict) and len(org) > 3 and not _ORG_NOT_IN_ORUK3 & set(org)


def profile_of(records: Sequence[Any]) -> str:
    """``oruk3`` when the first services use nothing the UK profile leaves out and either a
    field only the profile has or an organisation described in the profile's terms; else
    ``hsds3`` (the two are read alike; the name goes in the report)."""
    first = [r for r in records[:20] if isinstance(r, dict)]
    if not first or any(_NOT_IN_ORUK3 & set(r) for r in first):
        return "hsds3"
    marked = any(_oruk3_marks(r) or _profile_organisation(r) for r in first)
    return "oruk3" if marked else "hsds3"


def is_version_document(doc: Any) -> bool:
    """The feed's ``/`` answer (``version``, ``profile``, ``openapi_url``), not a record."""
    return (
        isinstance(doc, dict)
        and isinstance(doc.get("version"), str)
        and ("openapi_url" in doc or "profile" in doc)
        and not {"id", "contents", "content"} & set(doc)
    )


def declared_format(doc: dict[str, Any]) -> str | None:
    """The format a version document declares: ``oruk3`` for the UK profile of HSDS 3,
    ``hsds3`` for HSDS 3 itself, None for anything else."""
    if not str(doc.get("version")).strip().startswith("3"):
        return None
    where = f"{doc.get('profile', '')} {doc.get('openapi_url', '')}".lower()
    return "oruk3" if "openreferraluk" in where or "uk-profile" in where else "hsds3"


def is_organisation(doc: Any) -> bool:
    """An HSDS 3.0 organisation document: services nested under it, and no service ``status``."""
    return (
        isinstance(doc, dict)
        and isinstance(doc.get("services"), list)
        and "status" not in doc
        and bool(_ORGANISATION_KEYS & set(doc))
    )


def is_service_at_location(doc: Any) -> bool:
    """An HSDS service_at_location: its service nested, and its location beside it."""
    return (
        isinstance(doc, dict)
        and isinstance(doc.get("service"), dict)
        and ("location" in doc or "location_id" in doc)
        and "name" not in doc
    )


def kind_of(doc: dict[str, Any]) -> str:
    """What an HSDS object is: ``service``, or the kind of object that is not one."""
    keys = set(doc)
    if keys & _SERVICE_KEYS:
        return "service"
    if keys & _LOCATION_KEYS:
        return "location"
    if keys & _TERM_KEYS or ("code" in keys and "taxonomy" in keys):
        return "taxonomy term"
    if keys & _ORGANISATION_KEYS:
        return "organisation"
    if keys <= _TAXONOMY_KEYS and keys & {"uri", "version", "taxonomy_terms"}:
        return "taxonomy"
    return "service"


def services_of(records: list[Any]) -> list[Any]:
    """The records with organisations replaced by their nested services (each carrying its
    organisation) and services at locations by their service (carrying that location; the
    locations of one service gathered in one record)."""
    out: list[Any] = []
    by_id: dict[Any, dict[str, Any]] = {}
    for rec in records:
        if is_organisation(rec):
            org = {k: v for k, v in rec.items() if k != "services"}
            for svc in rec["services"]:
                if isinstance(svc, dict):
                    svc = {**svc, "organization": svc.get("organization") or org}
                    svc.setdefault("organization_id", org.get("id"))
                out.append(svc)
        elif is_service_at_location(rec):
            svc = rec["service"]
            sal = {k: v for k, v in rec.items() if k != "service"}
            sal.setdefault("service_id", svc.get("id"))
            known = by_id.get(svc.get("id")) if isinstance(svc.get("id"), str | int) else None
            if known is None:
                known = {**svc, "service_at_locations": list(svc.get("service_at_locations") or [])}
                if isinstance(svc.get("id"), str | int):
                    by_id[svc["id"]] = known
                out.append(known)
            known["service_at_locations"].append(sal)
        else:
            out.append(rec)
    return out

"""The Open Referral UK 3.0 feed: our catalogue as the objects and pages the profile serves.

The API layer (``api/routes/openreferral.py``) only routes; what the feed holds is built here:
HSDS 3.0 services (``hsds3.service_to_hsds3``, every id a UUID), service-at-locations, and
our needs, activities, eligibility and delivery vocabularies published as taxonomies whose
term ids are the ones the services' attributes link to.
"""

from __future__ import annotations

import math
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from vcsmatch.catalogue.hsds3 import (
    DELIVERY_TAXONOMY,
    META_TAXONOMY,
    ORGANIZATION_SOURCE_ID,
    SOURCE_ID,
    service_to_hsds3,
    term_id,
)
from vcsmatch.catalogue.ids import NAMESPACE
from vcsmatch.catalogue.model import DELIVERY_MODES, Catalogue
from vcsmatch.taxonomy import (
    ACTIVITIES_TAXONOMY,
    ELIGIBILITY_TAXONOMY,
    NEEDS_TAXONOMY,
    Taxonomy,
    load_taxonomy,
)

ORUK_VERSION = "3.0"
PROFILE_URL = "https://openreferraluk.org/"
_DESCRIPTIONS = {
    NEEDS_TAXONOMY: "What a person needs help with (vcsmatch needs vocabulary).",
    ACTIVITIES_TAXONOMY: "What a service offers to do (vcsmatch activities vocabulary).",
    ELIGIBILITY_TAXONOMY: "Who a service is restricted to.",
    DELIVERY_TAXONOMY: "How a service is delivered.",
    META_TAXONOMY: "Facts HSDS has no field for; the attribute's value holds the text.",
}
_META_TERMS = {
    "source": "Source",
    SOURCE_ID: "Source id",
    ORGANIZATION_SOURCE_ID: "Organisation source id",
    "accessibility": "Accessibility",
}


def taxonomy_id(name: str) -> str:
    return str(uuid.uuid5(NAMESPACE, f"taxonomy/{name}"))


def _terms(tax: Taxonomy) -> list[tuple[str, str, str, str]]:
    """(taxonomy, code, name, description) of every term the feed publishes."""
    out = [(NEEDS_TAXONOMY, t.code, t.label, t.description or t.label) for t in tax.needs]
    out += [(ACTIVITIES_TAXONOMY, t.code, t.label, t.description or t.label) for t in tax.strengths]
    out += [(ELIGIBILITY_TAXONOMY, c, c.replace("-", " ").capitalize(), c) for c in
            ("female-only", "male-only")]  # fmt: skip
    out += [(DELIVERY_TAXONOMY, m, m.replace("_", " ").capitalize(), m) for m in DELIVERY_MODES]
    out += [(META_TAXONOMY, code, name, name) for code, name in _META_TERMS.items()]
    return out


@dataclass(frozen=True)
class Feed:
    """Everything the feed serves for one catalogue snapshot, keyed by public id."""

    services: list[dict[str, Any]]
    service_at_locations: list[dict[str, Any]]
    taxonomies: list[dict[str, Any]]
    taxonomy_terms: list[dict[str, Any]]

    def by_id(self, kind: str) -> dict[str, dict[str, Any]]:
        return {o["id"]: o for o in getattr(self, kind)}


def build_feed(catalogue: Catalogue, taxonomy: Taxonomy | None = None) -> Feed:
    tax = taxonomy or load_taxonomy()
    services = [service_to_hsds3(s, tax) for s in catalogue.services]
    sals = []
    for svc in services:
        summary = {k: svc[k] for k in ("id", "name", "status") if k in svc}
        for sal in svc["service_at_locations"]:
            sals.append({**sal, "service": summary})
    names = list(_DESCRIPTIONS)
    taxonomies = [{"id": taxonomy_id(n), "name": n, "description": _DESCRIPTIONS[n]} for n in names]
    terms = [
        {
            "id": term_id(t, code),
            "code": code,
            "name": name,
            "description": description,
            "taxonomy_id": taxonomy_id(t),
            "taxonomy": t,
        }
        for t, code, name, description in _terms(tax)
    ]
    return Feed(services, sals, taxonomies, terms)


def page(items: Sequence[dict[str, Any]], page_number: int, per_page: int) -> dict[str, Any]:
    """The HSDS page envelope of one page (``page_number`` from 1)."""
    total_pages = max(1, math.ceil(len(items) / per_page))
    contents = list(items[(page_number - 1) * per_page : page_number * per_page])
    return {
        "total_items": len(items),
        "total_pages": total_pages,
        "page_number": page_number,
        "size": len(contents),
        "first_page": page_number == 1,
        "last_page": page_number >= total_pages,
        "empty": not contents,
        "contents": contents,
    }

"""The typed service model: what matching and front-door search need to know of a service.

This is vcsmatch's own shape, not HSDS's: importers map each published format onto it and the
exporter maps it back to HSDS 3.0. Codes in ``needs`` and ``activities`` are our taxonomy's
(``catalogue/taxonomy``); terms a crosswalk could not map stay in ``unmapped_terms``.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

Status = Literal["active", "inactive", "defunct", "temporarily_closed"]
DeliveryMode = Literal["in_person", "online", "phone", "home_visit"]
SexRestriction = Literal["female", "male"]
Weekday = Literal["MO", "TU", "WE", "TH", "FR", "SA", "SU"]

DELIVERY_MODES: tuple[str, ...] = ("in_person", "online", "phone", "home_visit")
#: Modes that reach a person wherever they live (they need no travel).
REMOTE_MODES: frozenset[str] = frozenset({"online", "phone"})


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


AddressType = Literal["physical", "postal", "virtual"]


class Address(_Model):
    """One address of a location with its parts, as HSDS 3.0 holds it.

    ``country`` is what the source said (ISO 3166-1 alpha-2), never assumed.
    """

    attention: str | None = None
    address_1: str | None = None
    address_2: str | None = None
    city: str | None = None
    region: str | None = None
    state_province: str | None = None
    postal_code: str | None = None
    country: str | None = None
    address_type: AddressType = "physical"


class Location(_Model):
    """A physical place the service is delivered from.

    ``address`` and ``postcode`` are the one-line summary search and display read;
    ``addresses`` keeps the published parts (empty when the summary says all there is).
    """

    id: str | None = None
    name: str | None = None
    address: str | None = None
    postcode: str | None = None
    latitude: float | None = Field(default=None, ge=-90, le=90)
    longitude: float | None = Field(default=None, ge=-180, le=180)
    addresses: list[Address] = Field(default_factory=list)
    #: A national identifier of the place (``UPRN`` in England) and its scheme.
    external_identifier: str | None = None
    external_identifier_type: str | None = None


class ServiceArea(_Model):
    """An area the service covers, as a GeoJSON Polygon or MultiPolygon geometry."""

    id: str | None = None
    name: str | None = None
    geometry: dict[str, Any] | None = None


class Schedule(_Model):
    """When the service runs: RFC 5545-style weekly rule with opening times."""

    #: The source's id (a UUID: a source id that is none is kept as UUID5 of itself).
    id: str | None = None
    weekdays: list[Weekday] = Field(default_factory=list)
    opens_at: dt.time | None = None
    closes_at: dt.time | None = None
    freq: Literal["WEEKLY", "MONTHLY", "DAILY"] | None = "WEEKLY"
    interval: int | None = Field(default=None, ge=1)
    valid_from: dt.date | None = None
    valid_to: dt.date | None = None
    #: RFC 5545 rule parts: first occurrence, last one or number of them, days of the month.
    dtstart: dt.date | None = None
    until: dt.date | None = None
    count: int | None = Field(default=None, ge=1)
    bymonthday: list[int] = Field(default_factory=list)
    description: str | None = None

    @model_validator(mode="before")
    @classmethod
    def _daily_as_weekly(cls, data: Any) -> Any:
        """HSDS 3.0 allows WEEKLY or MONTHLY: a daily rule is a weekly one on all seven days."""
        if isinstance(data, dict) and str(data.get("freq") or "").upper() == "DAILY":
            data = {**data, "freq": "WEEKLY"}
            if not data.get("weekdays"):
                data["weekdays"] = ["MO", "TU", "WE", "TH", "FR", "SA", "SU"]
            if data.get("interval") not in (None, 1):
                data["interval"] = None  # every n days has no weekly equivalent
        return data


class Contact(_Model):
    #: The source's id, as for ``Schedule.id``.
    id: str | None = None
    name: str | None = None
    title: str | None = None
    phone: str | None = None
    email: str | None = None


class Eligibility(_Model):
    """Hard eligibility rules. Ages are inclusive; ``sex`` restricts to one sex."""

    #: Fractional ages are valid HSDS (0.5 for a service for babies).
    min_age: int | float | None = Field(default=None, ge=0, le=130)
    max_age: int | float | None = Field(default=None, ge=0, le=130)
    sex: SexRestriction | None = None
    rules: str | None = None

    @model_validator(mode="after")
    def _ages_ordered(self) -> Eligibility:
        if self.min_age is not None and self.max_age is not None and self.min_age > self.max_age:
            raise ValueError("min_age is greater than max_age")
        return self


class CostOption(_Model):
    """One published price: what it is for, the amount and its currency as given."""

    #: The source's id, as for ``Schedule.id``.
    id: str | None = None
    option: str | None = None
    amount: float | None = None
    currency: str | None = None
    amount_description: str | None = None
    valid_from: dt.date | None = None
    valid_to: dt.date | None = None


class Cost(_Model):
    free: bool | None = None
    description: str | None = None
    #: The published cost options (empty when ``free`` says all the source said).
    options: list[CostOption] = Field(default_factory=list)


class ExternalTerm(_Model):
    """A taxonomy term as a source published it (kept even when we cannot map it)."""

    taxonomy: str | None = None
    code: str | None = None
    label: str | None = None
    #: The term's description where it says more than its label or code.
    description: str | None = None


class Service(_Model):
    """One community or voluntary-sector service."""

    id: str = Field(min_length=1, max_length=200)
    name: str = Field(min_length=1, max_length=500)
    #: Plain text (what search and ranking read); a feed's HTML is turned into text on import.
    description: str = ""
    #: The feed's HTML description cut to a small safe subset, for display (None if plain).
    description_html: str | None = None
    organisation: str | None = None
    organisation_id: str | None = None
    organisation_description: str | None = None
    status: Status = "active"
    needs: list[str] = Field(default_factory=list)
    activities: list[str] = Field(default_factory=list)
    #: Codes inferred from the description text rather than published attributes.
    inferred_needs: list[str] = Field(default_factory=list)
    inferred_activities: list[str] = Field(default_factory=list)
    eligibility: Eligibility = Field(default_factory=Eligibility)
    delivery_modes: list[DeliveryMode] = Field(default_factory=list)
    locations: list[Location] = Field(default_factory=list)
    service_areas: list[ServiceArea] = Field(default_factory=list)
    schedules: list[Schedule] = Field(default_factory=list)
    cost: Cost = Field(default_factory=Cost)
    referral: str | None = None
    contacts: list[Contact] = Field(default_factory=list)
    url: str | None = None
    email: str | None = None
    phone: str | None = None
    languages: list[str] = Field(default_factory=list)
    accessibility: list[str] = Field(default_factory=list)
    #: When the record was last checked (HSDS ``assured_date``, else the date it changed).
    last_reviewed: dt.date | None = None
    #: When the source last changed the record (HSDS ``last_modified``).
    last_modified: dt.datetime | None = None
    source: str | None = None
    unmapped_terms: list[ExternalTerm] = Field(default_factory=list)
    #: The source's HSDS fields this model does not hold, verbatim and in the record's own
    #: shape (lists aligned with what the exporter writes), so an export gives them back.
    #: See ``catalogue/verbatim.py``.
    hsds_extra: dict[str, Any] = Field(default_factory=dict)
    #: The source's ids of nested objects the model holds as text (phones, languages,
    #: accessibility, attributes...): the id the exporter would derive -> the source's id.
    hsds_ids: dict[str, str] = Field(default_factory=dict)

    @property
    def reviewed_on(self) -> dt.date | None:
        """When the listing was last known right: its assured date (``last_reviewed``, as the
        source gave it), else the day the source last changed it."""
        if self.last_reviewed is not None:
            return self.last_reviewed
        return self.last_modified.date() if self.last_modified is not None else None

    @property
    def is_active(self) -> bool:
        return self.status == "active"

    @property
    def all_needs(self) -> list[str]:
        """Published needs, then inferred ones not already published."""
        return self.needs + [c for c in self.inferred_needs if c not in self.needs]

    @property
    def all_activities(self) -> list[str]:
        return self.activities + [c for c in self.inferred_activities if c not in self.activities]

    @property
    def reaches_remotely(self) -> bool:
        """True when the person need not travel (online or phone)."""
        return any(m in REMOTE_MODES for m in self.delivery_modes)


class Catalogue(_Model):
    """An ordered collection of services with unique ids.

    The order is the row order of every per-service array built from the catalogue.
    """

    services: list[Service] = Field(default_factory=list)
    source: str | None = None

    @model_validator(mode="after")
    def _unique_ids(self) -> Catalogue:
        seen: set[str] = set()
        for s in self.services:
            if s.id in seen:
                raise ValueError(f"duplicate service id {s.id!r}")
            seen.add(s.id)
        return self

    def __len__(self) -> int:
        return len(self.services)

    def __iter__(self) -> Iterator[Service]:  # type: ignore[override]
        return iter(self.services)

    def ids(self) -> list[str]:
        return [s.id for s in self.services]

    def index(self) -> dict[str, int]:
        """Service id -> row position."""
        return {s.id: i for i, s in enumerate(self.services)}

    def get(self, service_id: str) -> Service:
        """The service with this id, or with this public (UUID) id as HSDS exports name it."""
        from vcsmatch.catalogue.ids import as_uuid, public_id
        from vcsmatch.errors import NotFoundError

        for s in self.services:
            if s.id == service_id:
                return s
        wanted = as_uuid(service_id)
        if wanted is not None:
            for s in self.services:
                if public_id("service", s.id, s.source) == wanted:
                    return s
        raise NotFoundError(f"no service with id {service_id!r}")

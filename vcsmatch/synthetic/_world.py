"""A synthetic county: services, residents, and practitioners' ratings logged under a policy.

The world is built so that what a ranker should learn is known:

- **Content** drives relevance: a service that meets none of a person's needs is rarely
  relevant; activities matching strengths help; in-person services lose relevance with
  distance relative to how far the person can travel (less far with age); online services
  suit younger people better than the very old.
- **Only ratings reveal** the rest: each service has a latent quality, each kind of service is
  valued differently by age band and sex (plus a few strong planted effects, e.g. men's sheds
  for men aged 65 to 79 who are isolated), and each service has latent traits that people
  with given features like or dislike (a low-rank interaction whose person side is a function
  of age band, sex and needs, plus an individual part no feature explains).
- **The logging policy** is the old tool's: it showed the nearest ~10 eligible services, the
  practitioner added a few found by searching on a need, and ratings exist only for what was
  shown. So ratings are plentiful for nearby, generic services and absent for most others.
- **New services**: about 8% of services opened in the log's last six weeks or after it
  ended (``World.opened_after_log()``). Having no ratings says nothing about their quality:
  they could not have been shown. A learner that treats unrated services as negatives learns
  that "new" means "bad" and buries them; ``new_share`` in the evaluation shows it.

Ratings are a noisy function of true relevance (the expected rating, 1 to 5) plus each
practitioner's leniency. ``online_only=True`` gives a world shaped like public rating data
sets with user demographics: every service online, people without location, exposure biased
to popular services.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from vcsmatch.catalogue.model import (
    Catalogue,
    Contact,
    Cost,
    Eligibility,
    Location,
    Schedule,
    Service,
    ServiceArea,
)
from vcsmatch.errors import NotFoundError
from vcsmatch.features.person import AGE_BAND_CODES, Person
from vcsmatch.ratings import TRAINING_COLUMNS
from vcsmatch.synthetic._geography import SUFFOLK_TOWNS, suffolk_postcodes
from vcsmatch.synthetic._referrals import make_referrals
from vcsmatch.synthetic._templates import (
    ORGANISATION_PATTERNS,
    PLACE_WORDS,
    SERVICE_TYPES,
    ServiceType,
)
from vcsmatch.taxonomy import load_taxonomy

#: The last day of the ratings log; ratings spread over the 18 months before it.
LOG_END = pd.Timestamp("2026-06-30T17:00:00Z")
LOG_DAYS = 548

# Weights of the parts of true utility, in rating points (see ``_utility``).
W_PRIMARY = 1.0  # meets the person's main need
W_OTHER = 0.4  # per other need met (up to two)
W_NO_NEED = -2.0  # meets none of the person's needs
W_ACTIVITY = 0.3  # per activity matching a strength (up to two)
W_LATENT = 0.8  # latent traits x latent tastes
SD_QUALITY = 1.0  # latent service quality
SD_TASTE = 0.5  # what each age band x sex thinks of each kind of service
SLOPE = 1.1
CENTRE = 0.4
#: Share of services that opened near or after the end of the ratings log.
NEW_SERVICE_SHARE = 0.08
#: Share of services that claim needs they hardly meet (directories over-claim).
OVERCLAIM_SHARE = 0.2

_SEX_INDEX = {"female": 0, "male": 1, "another": 2, "not_recorded": 2}
_WEEKDAYS = ("MO", "TU", "WE", "TH", "FR")


@dataclass(frozen=True)
class PlantedEffect:
    """A strong taste of one group for one kind of service, only visible through ratings."""

    service_type: str
    effect: float
    bands: tuple[str, ...] = ()
    sex: str | None = None
    need: str | None = None

    def describe(self) -> str:
        who = []
        if self.sex:
            who.append({"female": "women", "male": "men"}[self.sex])
        if self.bands:
            who.append("aged " + "/".join(self.bands))
        if self.need:
            who.append(f"with need {self.need}")
        return f"{self.service_type}: {self.effect:+.1f} for {' '.join(who) or 'everyone'}"


PLANTED_EFFECTS: tuple[PlantedEffect, ...] = (
    PlantedEffect("mens-shed", 1.4, ("65-79",), "male", "social-isolation"),
    PlantedEffect("tea-dance", 1.0, ("80+",), "female"),
    PlantedEffect("tea-dance", -1.0, ("18-24", "25-49", "50-64"), "male"),
    PlantedEffect("online-wellbeing", 1.2, ("18-24", "25-49"), None, "mental-wellbeing"),
    PlantedEffect("memory-cafe", 0.8, ("80+",), None, "dementia"),
    PlantedEffect("memory-cafe", 0.8, (), None, "carer-support"),
    PlantedEffect("lunch-club", 0.9, ("80+",), None, "nutrition"),
    PlantedEffect("lunch-club", -0.8, ("50-64", "25-49", "18-24")),
    PlantedEffect("digital-dropin", 0.8, ("65-79", "80+"), None, "digital-inclusion"),
    PlantedEffect("swim-gym", -1.0, ("80+",)),
    PlantedEffect("craft-club", 0.8, ("65-79", "80+"), "female"),
    PlantedEffect("walking-group", 0.7, ("50-64", "65-79"), None, "mental-wellbeing"),
)


@dataclass
class _People:
    """Every person's true state (rated and new people alike), row-aligned arrays."""

    reference: np.ndarray
    age: np.ndarray
    sex: np.ndarray  # str
    band: np.ndarray  # int index into AGE_BAND_CODES
    needs: np.ndarray  # bool (n, n_needs)
    primary: np.ndarray  # int need index
    strengths: np.ndarray  # bool (n, n_strengths)
    lat: np.ndarray  # true home (NaN in the online world)
    lon: np.ndarray
    travel_km: np.ndarray
    latent: np.ndarray  # (n, k) taste factors
    #: The part of ``latent`` that features explain (the rest is individual).
    latent_from_features: np.ndarray
    recorded: list[Person]


@dataclass
class _Services:
    type_index: np.ndarray
    needs: np.ndarray  # true needs met, bool (n, n_needs)
    activities: np.ndarray  # bool (n, n_strengths)
    in_person: np.ndarray
    online: np.ndarray
    phone: np.ndarray
    home_visit: np.ndarray
    lat: np.ndarray  # NaN when the service has no physical location
    lon: np.ndarray
    area: list  # shapely geometry or None
    min_age: np.ndarray
    max_age: np.ndarray
    sex: np.ndarray  # "", "female", "male"
    active: np.ndarray
    closed_at: np.ndarray  # days into the log when an inactive service closed
    opened_at: np.ndarray  # days into the log when the service opened (0: before the log)
    quality: np.ndarray
    latent: np.ndarray  # (n, k)
    popularity: np.ndarray  # online world: how visible the service is


@dataclass
class World:
    """A generated county; see the module docstring for what it plants."""

    catalogue: Catalogue
    people: list[Person]
    ratings: pd.DataFrame
    #: What the old tool showed: ``person_id, service_id, shown_at, rated`` (ratings are a
    #: subset: practitioners rated most, not all, of what they were shown).
    impressions: pd.DataFrame
    new_people: list[Person]
    #: ``(len(new_people), len(catalogue))`` true expected ratings of the new people.
    new_relevance: np.ndarray
    seed: int
    online_only: bool
    #: Latent quality per service (catalogue order), in rating points.
    service_quality: np.ndarray
    planted_effects: tuple[PlantedEffect, ...] = PLANTED_EFFECTS
    #: Referrals of rated suggestions and what became of them
    #: (``vcsmatch.synthetic._referrals.COLUMNS``).
    referrals: pd.DataFrame = field(default_factory=pd.DataFrame)
    _people: _People = field(repr=False, default=None)  # type: ignore[assignment]
    _services: _Services = field(repr=False, default=None)  # type: ignore[assignment]
    _rows: dict[str, int] = field(repr=False, default_factory=dict)
    _taste: np.ndarray = field(repr=False, default=None)  # type: ignore[assignment]

    def __repr__(self) -> str:
        kind = "online-only " if self.online_only else ""
        return (
            f"World({kind}seed={self.seed}: {len(self.catalogue)} services, "
            f"{len(self.people)} rated people, {len(self.ratings)} ratings, "
            f"{len(self.new_people)} new people)"
        )

    def opened_after_log(self) -> list[str]:
        """Ids of services that opened after the ratings log ends: nobody could rate them."""
        ids = self.catalogue.ids()
        return [ids[i] for i in np.flatnonzero(self._services.opened_at >= LOG_DAYS)]

    def opened_at(self) -> pd.Series:
        """When each service opened (service id -> UTC time; NaT: before the log began)."""
        days = self._services.opened_at
        when = LOG_END - pd.to_timedelta(LOG_DAYS - days, unit="D")
        when = when.where(days > 0, pd.NaT)
        return pd.Series(when, index=pd.Index(self.catalogue.ids(), name="service_id"))

    def service_types(self) -> list[str]:
        """Each service's kind (template key), catalogue order."""
        return [SERVICE_TYPES[i].key for i in self._services.type_index]

    def true_relevance(
        self, person: Person | str, service_rows: Sequence[int] | np.ndarray | None = None
    ) -> np.ndarray:
        """The expected rating (1 to 5) of each service for a person of this world.

        ``person`` is a ``Person`` of this world (matched by ``reference``) or its reference.
        Services the person is not eligible for score 1.0. ``service_rows`` selects catalogue
        rows (default: all).
        """
        return self._relevance_of(person, service_rows, individual=True)

    def knowable_relevance(
        self, person: Person | str, service_rows: Sequence[int] | np.ndarray | None = None
    ) -> np.ndarray:
        """True relevance without the person's individual taste: the ceiling of a ranker that
        knows the world's rules and only the person's features (a diagnostic, not a target:
        ranking by it scores below 1 against ``true_relevance``)."""
        return self._relevance_of(person, service_rows, individual=False)

    def utility_parts(self, person: Person | str) -> dict[str, np.ndarray]:
        """What each part of the world's utility (``UTILITY_PARTS``, in rating points before
        the squash into an expected rating) gives every service (catalogue order) for a person
        of this world, without their individual taste: the parts sum to the utility behind
        ``knowable_relevance`` (which also scores ineligible services 1.0). A diagnostic of
        what a ranker misses (``benchmarks/headroom.py``), not something to fit."""
        idx = np.array([self._row_of(person)])
        parts: dict[str, np.ndarray] = {}
        _utility(self._people, self._services, self._taste, idx, individual=False, parts=parts)
        return {name: parts[name][0] for name in UTILITY_PARTS}

    def _row_of(self, person: Person | str) -> int:
        ref = person if isinstance(person, str) else person.reference
        if ref is None or ref not in self._rows:
            raise NotFoundError("the person is not part of this synthetic world")
        return self._rows[ref]

    def _relevance_of(
        self,
        person: Person | str,
        service_rows: Sequence[int] | np.ndarray | None,
        individual: bool,
    ) -> np.ndarray:
        idx = np.array([self._row_of(person)])
        rel = _relevance(
            self._people, self._services, self._taste, idx, at_day=None, individual=individual
        )[0]
        if service_rows is None:
            return rel
        return rel[np.asarray(service_rows, dtype=np.intp)]

    def write(self, directory: str | Path) -> dict[str, Path]:
        """Write ``services.json`` (HSDS 3.0), ``people.csv``, ``ratings.csv``,
        ``new_people.csv`` in the command-line file formats, and ``referrals.csv``
        (``person_id, service_id, team, status, reason, referred_at``); returns their paths."""
        from vcsmatch.catalogue.hsds3 import write_hsds3
        from vcsmatch.files import write_people, write_ratings

        out = Path(directory)
        out.mkdir(parents=True, exist_ok=True)
        paths = {
            "catalogue": out / "services.json",
            "people": out / "people.csv",
            "ratings": out / "ratings.csv",
            "new_people": out / "new_people.csv",
            "referrals": out / "referrals.csv",
        }
        write_hsds3(self.catalogue, paths["catalogue"])
        write_people(paths["people"], self.people)
        write_ratings(paths["ratings"], self.ratings)
        write_people(paths["new_people"], self.new_people)
        self.referrals.to_csv(paths["referrals"], index=False, date_format="%Y-%m-%dT%H:%M:%SZ")
        return paths


def make_world(
    n_services: int = 700,
    n_people: int = 3000,
    n_new_people: int = 500,
    seed: int = 0,
    online_only: bool = False,
    *,
    n_practitioners: int = 40,
    shown: int = 10,
    rating_noise: float = 0.6,
    n_factors: int = 6,
) -> World:
    """Generate a world. Deterministic for a given set of arguments.

    ``shown`` is how many nearest services the old tool listed; ``rating_noise`` the standard
    deviation of a practitioner's judgement around the true relevance.
    """
    if n_services < 1 or n_people < 0 or n_new_people < 0:
        raise ValueError(
            "make_world needs n_services >= 1 and non-negative n_people and n_new_people. "
            f"Got {n_services}, {n_people}, {n_new_people} instead."
        )
    rng = np.random.default_rng(seed)
    tax = load_taxonomy()
    need_codes = tax.need_codes
    strength_codes = tax.strength_codes
    n_types = len(SERVICE_TYPES)

    # What each group (age band x sex) thinks of each kind of service, and how person features
    # map to latent tastes: fixed by the seed, learnable only from ratings.
    taste = rng.normal(0.0, SD_TASTE, size=(n_types, len(AGE_BAND_CODES), 3))
    w_band = rng.normal(0.0, 1.0, size=(len(AGE_BAND_CODES), n_factors))
    w_sex = rng.normal(0.0, 1.0, size=(3, n_factors))
    w_need = rng.normal(0.0, 0.7, size=(len(need_codes), n_factors))
    w_strength = rng.normal(0.0, 0.5, size=(len(strength_codes), n_factors))

    services, catalogue = _make_services(
        rng, n_services, online_only, need_codes, strength_codes, n_factors, seed
    )
    people = _make_people(
        rng,
        n_people + n_new_people,
        online_only,
        need_codes,
        strength_codes,
        (w_band, w_sex, w_need, w_strength),
        n_people,
    )
    rated = np.arange(n_people)
    new = np.arange(n_people, n_people + n_new_people)

    ratings, impressions = _log_ratings(
        rng,
        people,
        services,
        catalogue,
        taste,
        rated,
        online_only,
        n_practitioners,
        shown,
        rating_noise,
    )
    new_rel = (
        _relevance(people, services, taste, new, at_day=None)
        if len(new)
        else np.zeros((0, len(catalogue)))
    )
    return World(
        catalogue=catalogue,
        people=[people.recorded[i] for i in rated],
        ratings=ratings,
        impressions=impressions,
        new_people=[people.recorded[i] for i in new],
        new_relevance=new_rel,
        seed=seed,
        online_only=online_only,
        service_quality=services.quality.copy(),
        referrals=make_referrals(ratings, seed),
        _people=people,
        _services=services,
        _rows={str(r): i for i, r in enumerate(people.reference)},
        _taste=taste,
    )


# --------------------------------------------------------------------------- services


def _choose_modes(rng: np.random.Generator, st: ServiceType) -> tuple[str, ...]:
    weights = np.array([w for _, w in st.modes])
    return st.modes[rng.choice(len(st.modes), p=weights / weights.sum())][0]


def _circle(lat: float, lon: float, radius_km: float, n: int = 24) -> dict:
    """A GeoJSON Polygon approximating a circle (lon/lat order, closed ring)."""
    ring = []
    for k in range(n + 1):
        a = 2 * math.pi * (k % n) / n
        dlat = radius_km / 110.574 * math.sin(a)
        dlon = radius_km / (111.320 * math.cos(math.radians(lat))) * math.cos(a)
        ring.append([round(lon + dlon, 6), round(lat + dlat, 6)])
    return {"type": "Polygon", "coordinates": [ring]}


def _make_services(
    rng: np.random.Generator,
    n: int,
    online_only: bool,
    need_codes: tuple[str, ...],
    strength_codes: tuple[str, ...],
    n_factors: int,
    seed: int,
) -> tuple[_Services, Catalogue]:
    import shapely

    pcs = suffolk_postcodes()
    town_w = np.array([t.weight for t in SUFFOLK_TOWNS]) ** 0.8
    town_w /= town_w.sum()
    type_w = np.array([t.weight for t in SERVICE_TYPES])
    type_w /= type_w.sum()
    need_pos = {c: i for i, c in enumerate(need_codes)}
    str_pos = {c: i for i, c in enumerate(strength_codes)}
    by_town = [np.flatnonzero((pcs.town == t) & ~pcs.rural) for t in range(len(SUFFOLK_TOWNS))]
    by_town_rural = [np.flatnonzero((pcs.town == t) & pcs.rural) for t in range(len(SUFFOLK_TOWNS))]

    cols = {k: [] for k in ("type", "lat", "lon", "min", "max", "sex", "active", "closed")}
    needs = np.zeros((n, len(need_codes)), dtype=bool)
    acts = np.zeros((n, len(strength_codes)), dtype=bool)
    modes_arr = np.zeros((n, 4), dtype=bool)
    areas: list = []
    out: list[Service] = []
    name_counts: dict[str, int] = {}
    source = f"vcsmatch synthetic world (seed {seed})"
    for i in range(n):
        t = int(rng.choice(len(SERVICE_TYPES), p=type_w))
        st = SERVICE_TYPES[t]
        town_i = int(rng.choice(len(SUFFOLK_TOWNS), p=town_w))
        town = SUFFOLK_TOWNS[town_i].name
        place = PLACE_WORDS[int(rng.integers(len(PLACE_WORDS)))] if rng.random() < 0.4 else town
        modes = ("online",) if online_only else _choose_modes(rng, st)
        # Needs: the template's main need always, the others mostly; sometimes one more.
        s_needs = [st.needs[0]] + [c for c in st.needs[1:] if rng.random() < 0.75]
        if rng.random() < 0.15:
            s_needs.append(need_codes[int(rng.integers(len(need_codes)))])
        s_acts = [c for c in st.activities if rng.random() < 0.8]
        if rng.random() < 0.15:
            s_acts.append(strength_codes[int(rng.integers(len(strength_codes)))])
        s_needs = list(dict.fromkeys(s_needs))
        s_acts = list(dict.fromkeys(s_acts))
        for c in s_needs:
            needs[i, need_pos[c]] = True
        for c in s_acts:
            acts[i, str_pos[c]] = True
        for m, mode in enumerate(("in_person", "online", "phone", "home_visit")):
            modes_arr[i, m] = mode in modes

        # Eligibility: the template's, with a little local variation.
        min_age, max_age, sex = st.min_age, st.max_age, st.sex
        if min_age is not None and min_age >= 50 and rng.random() < 0.3:
            min_age = int(rng.choice([50, 55, 60, 65]))
        if min_age is None and rng.random() < 0.25:
            min_age = 18
        if sex is None and not online_only and rng.random() < 0.03:
            sex = str(rng.choice(["female", "male"]))
        if online_only and rng.random() < 0.7:
            min_age, max_age = (None, None)
        status = "active"
        closed = np.inf
        if rng.random() < 0.04:
            status = "inactive"
            closed = float(rng.uniform(0, LOG_DAYS))

        locations: list[Location] = []
        service_areas: list[ServiceArea] = []
        lat = lon = np.nan
        geom = None
        if not online_only and ("in_person" in modes or "home_visit" in modes):
            pool = by_town_rural[town_i] if rng.random() < 0.15 else by_town[town_i]
            if len(pool) == 0:
                pool = by_town[town_i]
            k = int(pool[rng.integers(len(pool))])
            lat, lon = float(pcs.latitude[k]), float(pcs.longitude[k])
            street = f"{int(rng.integers(1, 120))} {place} Road" if place != town else "High Street"
            locations.append(
                Location(
                    id=f"syn-loc-{i + 1:04d}",
                    name=f"{place} Community Centre" if "in_person" in modes else f"{town} office",
                    address=f"{street}, {town}",
                    postcode=str(pcs.postcode[k]),
                    latitude=round(lat, 6),
                    longitude=round(lon, 6),
                )
            )
        if not online_only and "home_visit" in modes:
            radius = float(rng.uniform(6.0, 18.0))
            centre = SUFFOLK_TOWNS[town_i]
            geometry = _circle(centre.latitude, centre.longitude, radius)
            service_areas.append(
                ServiceArea(
                    id=f"syn-area-{i + 1:04d}",
                    name=f"{town} and villages within {radius:.0f} km",
                    geometry=geometry,
                )
            )
            geom = shapely.geometry.shape(geometry)
            shapely.prepare(geom)

        pattern = st.names[int(rng.integers(len(st.names)))]
        base = pattern.format(town="Online" if online_only else town, place=place)
        name_counts[base] = name_counts.get(base, 0) + 1
        name = base if name_counts[base] == 1 else f"{base} ({name_counts[base]})"
        org_k = int(rng.integers(len(ORGANISATION_PATTERNS)))
        org = ORGANISATION_PATTERNS[org_k].format(town=town)
        publish_codes = rng.random() >= 0.08  # some services publish no codes at all
        # What a directory says is not quite the truth: secondary needs go unpublished, and
        # some services claim needs they hardly meet.
        published = [s_needs[0]] + [c for c in s_needs[1:] if rng.random() < 0.85]
        if rng.random() < OVERCLAIM_SHARE:
            extra = rng.choice(len(need_codes), size=int(rng.integers(1, 4)), replace=False)
            published += [need_codes[j] for j in extra]
        published = list(dict.fromkeys(published))
        free = bool(rng.random() < st.free_share)
        day = _WEEKDAYS[int(rng.integers(len(_WEEKDAYS)))]
        opens = int(rng.choice([9, 10, 11, 13, 14]))
        out.append(
            Service(
                id=f"syn-{i + 1:04d}",
                name=name,
                description=(
                    st.description.format(town=town)
                    + " [Synthetic record generated by vcsmatch: not a real service.]"
                ),
                organisation=f"{org} (synthetic)",
                organisation_id=f"syn-org-{org_k + 1:02d}-{town_i + 1:02d}",
                status=status,
                needs=published if publish_codes else [],
                activities=s_acts if publish_codes else [],
                eligibility=Eligibility(min_age=min_age, max_age=max_age, sex=sex),
                delivery_modes=list(modes),
                locations=locations,
                service_areas=service_areas,
                schedules=[
                    Schedule(
                        weekdays=[day],
                        opens_at=dt.time(opens, 0),
                        closes_at=dt.time(opens + 2, 0),
                        freq="WEEKLY",
                    )
                ]
                if "in_person" in modes
                else [],
                cost=Cost(
                    free=free,
                    description=None if free else f"£{int(rng.integers(2, 9))} per session",
                ),
                referral="Self-referral welcome" if rng.random() < 0.7 else "Referral needed",
                contacts=[Contact(phone=f"01632 960{int(rng.integers(0, 1000)):03d}")],
                email=f"hello@{st.key}.example.org",
                url=f"https://{st.key}.example.org/{i + 1:04d}",
                languages=["en"],
                last_reviewed=dt.date(2026, 1, 1) + dt.timedelta(days=int(rng.integers(0, 180))),
                source=source,
            )
        )
        cols["type"].append(t)
        cols["lat"].append(lat)
        cols["lon"].append(lon)
        cols["min"].append(np.nan if min_age is None else min_age)
        cols["max"].append(np.nan if max_age is None else max_age)
        cols["sex"].append(sex or "")
        cols["active"].append(status == "active")
        cols["closed"].append(closed)
        areas.append(geom)

    # A few services are new: they opened in the log's last six weeks or after it ended, so
    # ratings know little or nothing of them (drawn apart so the rest of the world is stable).
    late = np.random.default_rng([seed, 1])
    opened_at = np.where(
        late.random(n) < NEW_SERVICE_SHARE, late.uniform(LOG_DAYS - 45, LOG_DAYS + 45, n), 0.0
    )
    quality = rng.normal(0.0, SD_QUALITY, size=n)
    latent = rng.normal(0.0, 1.0, size=(n, n_factors))
    popularity = 0.6 * quality + rng.normal(0.0, 0.8, size=n)
    services = _Services(
        type_index=np.array(cols["type"], dtype=np.intp),
        needs=needs,
        activities=acts,
        in_person=modes_arr[:, 0],
        online=modes_arr[:, 1],
        phone=modes_arr[:, 2],
        home_visit=modes_arr[:, 3],
        lat=np.array(cols["lat"], dtype=float),
        lon=np.array(cols["lon"], dtype=float),
        area=areas,
        min_age=np.array(cols["min"], dtype=float),
        max_age=np.array(cols["max"], dtype=float),
        sex=np.array(cols["sex"], dtype=object),
        active=np.array(cols["active"], dtype=bool),
        closed_at=np.array(cols["closed"], dtype=float),
        opened_at=opened_at,
        quality=quality,
        latent=latent,
        popularity=popularity,
    )
    return services, Catalogue(services=out, source=source)


# --------------------------------------------------------------------------- people

#: Need prevalence by age band (rows follow AGE_BAND_CODES), before normalisation.
_NEED_BY_BAND = {
    "social-isolation": (1, 2, 2, 3, 5, 6),
    "physical-activity": (1, 1, 2, 2, 3, 2),
    "mental-wellbeing": (3, 5, 5, 3, 2, 1),
    "carer-support": (1, 1, 2, 3, 3, 2),
    "dementia": (0, 0, 0, 0.3, 2, 4),
    "learning-disability": (2, 3, 1.5, 0.5, 0.2, 0.1),
    "nutrition": (0.3, 0.3, 0.5, 1, 2, 3),
    "home-safety": (0.2, 0.2, 0.5, 1, 2, 3),
    "personal-care": (0.3, 0.5, 0.8, 1, 2, 3),
    "money-advice": (1, 2, 3, 2, 1, 0.5),
    "housing": (1, 2, 2, 1, 0.5, 0.5),
    "employment-volunteering": (1, 3, 2, 1, 0.3, 0.1),
    "digital-inclusion": (0.1, 0.2, 0.5, 1, 2, 2),
    "transport": (0.3, 0.3, 0.5, 1, 2, 3),
    "bereavement": (0.3, 0.3, 0.5, 1, 1.5, 2),
    "long-term-condition": (0.3, 0.5, 1, 2, 3, 3),
    "hearing-sight-loss": (0.2, 0.2, 0.3, 0.8, 2, 3),
    "substance-misuse": (0.5, 2, 2, 1, 0.3, 0.1),
    "domestic-abuse": (0.5, 1.5, 1.5, 0.5, 0.2, 0.1),
    "advocacy": (1, 1, 1, 1, 1, 1),
    "parenting-caring-for-child": (0.2, 1, 2, 0.3, 0.1, 0.0),
}
#: Where the social-care front door's adults fall (18+ only).
_BAND_SHARE = np.array([0.0, 0.06, 0.16, 0.16, 0.30, 0.32])


def _make_people(
    rng: np.random.Generator,
    n: int,
    online_only: bool,
    need_codes: tuple[str, ...],
    strength_codes: tuple[str, ...],
    weights: tuple[np.ndarray, ...],
    n_rated: int,
) -> _People:
    w_band, w_sex, w_need, w_strength = weights
    pcs = suffolk_postcodes()
    n_needs, n_str = len(need_codes), len(strength_codes)
    band = rng.choice(len(AGE_BAND_CODES), size=n, p=_BAND_SHARE / _BAND_SHARE.sum())
    from vcsmatch.features.person import AGE_BANDS

    lo = np.array([b[1] for b in AGE_BANDS])[band]
    hi = np.minimum(np.array([b[2] for b in AGE_BANDS])[band], 99)
    age = rng.integers(lo, hi + 1)
    sex = rng.choice(
        np.array(["female", "male", "another", "not_recorded"]),
        size=n,
        p=[0.57, 0.41, 0.01, 0.01],
    )
    prevalence = np.array([_NEED_BY_BAND.get(c, (0.5,) * 6) for c in need_codes], dtype=float).T
    needs = np.zeros((n, n_needs), dtype=bool)
    primary = np.zeros(n, dtype=np.intp)
    strengths = np.zeros((n, n_str), dtype=bool)
    str_pop = rng.gamma(2.0, 1.0, size=n_str)
    for i in range(n):
        p = prevalence[band[i]] + 0.02
        k = 1 + int(rng.random() < 0.55) + int(rng.random() < 0.2)
        chosen = rng.choice(n_needs, size=k, replace=False, p=p / p.sum())
        needs[i, chosen] = True
        primary[i] = chosen[0]
        m = int(rng.choice([0, 1, 2, 3], p=[0.2, 0.35, 0.3, 0.15]))
        if m:
            strengths[i, rng.choice(n_str, size=m, replace=False, p=str_pop / str_pop.sum())] = True
    sex_i = np.array([_SEX_INDEX[s] for s in sex])
    # Latent tastes: a function of features (learnable) plus an individual part (not).
    feat = w_band[band] + w_sex[sex_i]
    feat += (needs.astype(float) @ w_need) / np.sqrt(needs.sum(axis=1, keepdims=True))
    feat += (strengths.astype(float) @ w_strength) / np.sqrt(
        np.maximum(strengths.sum(axis=1, keepdims=True), 1)
    )
    latent = feat / 2.0 + rng.normal(0.0, 0.5, size=feat.shape)

    lat = np.full(n, np.nan)
    lon = np.full(n, np.nan)
    postcode = np.full(n, None, dtype=object)
    if not online_only:
        town_w = np.array([t.weight for t in SUFFOLK_TOWNS])
        town = rng.choice(len(SUFFOLK_TOWNS), size=n, p=town_w / town_w.sum())
        rural = rng.random(n) < 0.3
        pools = {}
        for t in range(len(SUFFOLK_TOWNS)):
            for r in (False, True):
                pool = np.flatnonzero((pcs.town == t) & (pcs.rural == r))
                pools[t, r] = pool if len(pool) else np.flatnonzero(pcs.town == t)
        for i in range(n):
            pool = pools[int(town[i]), bool(rural[i])]
            k = int(pool[rng.integers(len(pool))])
            lat[i], lon[i], postcode[i] = pcs.latitude[k], pcs.longitude[k], pcs.postcode[k]
    # How far someone will travel to an in-person service: less with age, more with a car.
    base_km = np.array([12.0, 12.0, 12.0, 10.0, 7.0, 4.0])[band]
    travel = base_km * rng.lognormal(0.0, 0.35, size=n) * np.where(rng.random(n) < 0.25, 2.0, 1.0)

    # How the front door recorded each person's location.
    how = rng.choice(4, size=n, p=[0.80, 0.10, 0.05, 0.05])
    recorded: list[Person] = []
    refs = np.array(
        [f"syn-p{i + 1:05d}" if i < n_rated else f"syn-n{i - n_rated + 1:05d}" for i in range(n)],
        dtype=object,
    )
    for i in range(n):
        kw: dict = {}
        if not online_only:
            if how[i] in (0, 1):
                kw["postcode"] = postcode[i]
            if how[i] in (0, 2):
                kw["latitude"] = round(float(lat[i]), 6)
                kw["longitude"] = round(float(lon[i]), 6)
        has_needs = not online_only or rng.random() < 0.5
        recorded.append(
            Person(
                reference=refs[i],
                age=int(age[i]),
                sex=str(sex[i]),
                needs=[need_codes[j] for j in _ordered(needs[i], primary[i])] if has_needs else [],
                strengths=[strength_codes[j] for j in np.flatnonzero(strengths[i])],
                **kw,
            )
        )
    return _People(
        reference=refs,
        age=age.astype(float),
        sex=sex.astype(object),
        band=band.astype(np.intp),
        needs=needs,
        primary=primary,
        strengths=strengths,
        lat=lat,
        lon=lon,
        travel_km=travel,
        latent=latent,
        latent_from_features=feat / 2.0,
        recorded=recorded,
    )


def _ordered(row: np.ndarray, first: int) -> list[int]:
    return [int(first)] + [int(j) for j in np.flatnonzero(row) if j != first]


# --------------------------------------------------------------------------- relevance


def _haversine(lat1: np.ndarray, lon1: np.ndarray, lat2: np.ndarray, lon2: np.ndarray):  # noqa: ANN202
    from vcsmatch.synthetic._geography import _haversine_km

    return _haversine_km(lat1, lon1, lat2, lon2)


def _eligible(p: _People, s: _Services, idx: np.ndarray, at_day: np.ndarray | None) -> np.ndarray:
    """World truth, matching ``EligibilityFilter``'s rules (true home for the area test)."""
    import shapely

    age = p.age[idx][:, None]
    ok = ~(~np.isnan(s.min_age)[None, :] & (age < np.nan_to_num(s.min_age)[None, :]))
    ok &= ~(~np.isnan(s.max_age)[None, :] & (age > np.nan_to_num(s.max_age, nan=999)[None, :]))
    sex = p.sex[idx][:, None]
    restricted = (s.sex != "")[None, :]
    definite = np.isin(sex, ["female", "male"])
    ok &= ~(restricted & definite & (sex != s.sex[None, :]))
    if at_day is None:
        ok &= s.active[None, :]
    else:
        ok &= at_day[:, None] < s.closed_at[None, :]
        ok &= at_day[:, None] >= s.opened_at[None, :]
    lat, lon = p.lat[idx], p.lon[idx]
    located = ~np.isnan(lat)
    for j, geom in enumerate(s.area):
        if geom is None:
            continue
        inside = np.zeros(len(idx), dtype=bool)
        if located.any():
            inside[located] = shapely.intersects_xy(geom, lon[located], lat[located])
        ok[:, j] &= inside
    return ok


#: The parts of utility, in the order ``_utility`` adds them (``World.utility_parts``).
UTILITY_PARTS: tuple[str, ...] = (
    "needs",
    "activities",
    "distance",
    "delivery",
    "quality",
    "group_taste",
    "latent",
)


def _utility(
    p: _People,
    s: _Services,
    taste: np.ndarray,
    idx: np.ndarray,
    individual: bool = True,
    parts: dict[str, np.ndarray] | None = None,
) -> np.ndarray:
    """Unbounded utility, in rating points, for people ``idx`` against every service.

    ``individual=False`` leaves out each person's own taste (what no feature explains).
    ``parts``, when given, receives what each of ``UTILITY_PARTS`` added (they sum to the
    utility up to rounding; the utility itself is summed exactly as without them).
    """

    def record(name: str, value: np.ndarray) -> None:
        if parts is not None:
            if name not in parts:
                parts[name] = np.zeros(u.shape)
            parts[name] += value

    need_hits = p.needs[idx].astype(float) @ s.needs.T.astype(float)
    primary_met = s.needs.T[p.primary[idx]].astype(float)  # (n_idx, n_services)
    other = np.minimum(need_hits - primary_met, 2.0)
    u = np.where(need_hits > 0, W_PRIMARY * primary_met + W_OTHER * other, W_NO_NEED)
    record("needs", u)
    act_hits = p.strengths[idx].astype(float) @ s.activities.T.astype(float)
    activity = W_ACTIVITY * np.minimum(act_hits, 2.0)
    u += activity
    record("activities", activity)

    band = p.band[idx]
    sex_i = np.array([_SEX_INDEX[x] for x in p.sex[idx]])
    # Distance: an in-person service beyond half the person's range loses relevance; one that
    # can also phone or visit loses less.
    if np.isnan(s.lat).all() or np.isnan(p.lat[idx]).all():
        dist = np.full(u.shape, np.nan)
    else:
        dist = _haversine(p.lat[idx][:, None], p.lon[idx][:, None], s.lat[None, :], s.lon[None, :])
    travel = p.travel_km[idx][:, None]
    far = np.clip(np.nan_to_num(dist, nan=0.0) / travel - 0.5, 0.0, 3.0)
    only_in_person = s.in_person & ~s.phone & ~s.home_visit & ~s.online
    softened = np.where(only_in_person, 1.2, 0.5)[None, :]
    in_person = s.in_person[None, :] & ~np.isnan(dist)
    distance = np.where(in_person & ~s.home_visit[None, :], softened * far, 0.0)
    u -= distance
    record("distance", -distance)
    # Remote delivery against age: online suits the young, the phone suits the very old.
    remote_only = (s.online | s.phone) & ~s.in_person & ~s.home_visit
    online_fit = np.array([0.3, 0.3, 0.2, 0.0, -0.3, -0.8])[band][:, None]
    phone_fit = np.array([-0.2, -0.2, 0.0, 0.0, 0.1, 0.3])[band][:, None]
    for delivery in (
        np.where(remote_only[None, :] & s.online[None, :] & ~s.phone[None, :], online_fit, 0.0),
        np.where(remote_only[None, :] & s.phone[None, :], phone_fit, 0.0),
    ):
        u += delivery
        record("delivery", delivery)

    # What only ratings reveal.
    u += s.quality[None, :]
    record("quality", s.quality[None, :])
    group_taste = taste[s.type_index[None, :], band[:, None], sex_i[:, None]]
    u += group_taste
    record("group_taste", group_taste)
    for eff in PLANTED_EFFECTS:
        t = _type_index(eff.service_type)
        cols = s.type_index == t
        if not cols.any():
            continue
        rows = np.ones(len(idx), dtype=bool)
        if eff.bands:
            rows &= np.isin(band, [AGE_BAND_CODES.index(b) for b in eff.bands])
        if eff.sex:
            rows &= p.sex[idx] == eff.sex
        if eff.need:
            rows &= p.needs[idx][:, load_taxonomy().need_codes.index(eff.need)]
        u[np.ix_(rows, cols)] += eff.effect
        if parts is not None:
            planted = np.zeros(u.shape)
            planted[np.ix_(rows, cols)] = eff.effect
            record("group_taste", planted)
    k = p.latent.shape[1]
    latent = p.latent[idx] if individual else p.latent_from_features[idx]
    tastes = W_LATENT * (latent @ s.latent.T) / math.sqrt(k)
    u += tastes
    record("latent", tastes)
    return u


def _type_index(key: str) -> int:
    for i, st in enumerate(SERVICE_TYPES):
        if st.key == key:
            return i
    raise KeyError(key)


def _expected_rating(u: np.ndarray) -> np.ndarray:
    """Squash utility into an expected rating between 1 and 5."""
    return 1.0 + 4.0 / (1.0 + np.exp(-SLOPE * (u - CENTRE)))


def _relevance(
    p: _People,
    s: _Services,
    taste: np.ndarray,
    idx: np.ndarray,
    at_day: np.ndarray | None,
    individual: bool = True,
) -> np.ndarray:
    rel = _expected_rating(_utility(p, s, taste, idx, individual))
    return np.where(_eligible(p, s, idx, at_day), rel, 1.0)


# --------------------------------------------------------------------------- ratings log


def _log_ratings(
    rng: np.random.Generator,
    p: _People,
    s: _Services,
    catalogue: Catalogue,
    taste: np.ndarray,
    rated: np.ndarray,
    online_only: bool,
    n_practitioners: int,
    shown: int,
    noise: float,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    day = rng.uniform(0, LOG_DAYS, size=len(rated))
    leniency = rng.normal(0.0, 0.25, size=n_practitioners)
    practitioner = rng.integers(0, n_practitioners, size=len(rated))
    rows_p: list[np.ndarray] = []
    rows_s: list[np.ndarray] = []
    rows_u: list[np.ndarray] = []
    imp_p: list[np.ndarray] = []
    imp_s: list[np.ndarray] = []
    batch = 500
    for start in range(0, len(rated), batch):
        idx = rated[start : start + batch]
        d = day[start : start + batch]
        util = _utility(p, s, taste, idx)
        elig = _eligible(p, s, idx, d)
        if not online_only:
            dist = _haversine(
                p.lat[idx][:, None], p.lon[idx][:, None], s.lat[None, :], s.lon[None, :]
            )
            dist = np.where(np.isnan(dist), np.inf, dist)
        meets = (p.needs[idx].astype(float) @ s.needs.T.astype(float)) > 0
        for r, i in enumerate(idx):
            pool = np.flatnonzero(elig[r])
            if len(pool) == 0:
                continue
            if online_only:
                # People chose what to rate: popular services, and ones they expect to like.
                n_rate = min(len(pool), 12 + int(rng.geometric(1 / 25)))
                w = np.exp(0.9 * s.popularity[pool] + 0.5 * util[r, pool])
                chosen = rng.choice(pool, size=n_rate, replace=False, p=w / w.sum())
                imp_p.append(np.full(len(chosen), i))
                imp_s.append(chosen)
            else:
                with_place = pool[np.isfinite(dist[r, pool])]
                k = int(np.clip(shown + rng.integers(-2, 3), 1, None))
                recorded_loc = p.recorded[i].has_location
                if recorded_loc and len(with_place):
                    nearest = with_place[np.argsort(dist[r, with_place], kind="stable")[:k]]
                else:  # no location on record: the old tool listed remote services only
                    remote = pool[~np.isfinite(dist[r, pool]) | s.home_visit[pool]]
                    remote = remote if len(remote) else pool
                    nearest = rng.choice(remote, size=min(k // 2 + 1, len(remote)), replace=False)
                # The practitioner also searched on a need and added a few results.
                searched = pool[meets[r, pool]]
                extra = (
                    rng.choice(
                        searched, size=min(int(rng.integers(0, 4)), len(searched)), replace=False
                    )
                    if len(searched)
                    else np.array([], dtype=np.intp)
                )
                chosen = np.unique(np.concatenate([nearest, extra]).astype(np.intp))
                imp_p.append(np.full(len(chosen), i))
                imp_s.append(chosen)
                chosen = chosen[rng.random(len(chosen)) < 0.85]  # not everything gets rated
            rows_p.append(np.full(len(chosen), i))
            rows_s.append(chosen)
            rows_u.append(util[r, chosen])
    impressions = _impressions(p, catalogue, rated, day, imp_p, imp_s, rows_p, rows_s)
    if not rows_p:
        return _empty_frame(), impressions
    pi = np.concatenate(rows_p)
    si = np.concatenate(rows_s)
    order = np.searchsorted(rated, pi)
    util_pairs = np.concatenate(rows_u)
    prac = practitioner[order]
    score = _expected_rating(util_pairs) + rng.normal(0.0, noise, size=len(pi)) + leniency[prac]
    rating = np.clip(np.rint(score), 1, 5).astype(int)
    when = LOG_END - pd.to_timedelta(LOG_DAYS - day[order], unit="D")
    when = when + pd.to_timedelta(rng.integers(0, 1800, size=len(pi)), unit="s")
    recorded = [p.recorded[i] for i in pi]
    frame = pd.DataFrame(
        {
            "person_id": p.reference[pi].astype(str),
            "service_id": np.asarray(catalogue.ids(), dtype=object)[si],
            "rating": rating,
            "practitioner_id": [f"syn-prac-{k + 1:03d}" for k in prac],
            "rated_at": pd.DatetimeIndex(when).floor("s"),
            "age": p.age[pi].astype(float),
            "sex": p.sex[pi].astype(str),
            "needs": [tuple(x.needs) for x in recorded],
            "strengths": [tuple(x.strengths) for x in recorded],
            "latitude": [_recorded_lat(x) for x in recorded],
            "longitude": [_recorded_lon(x) for x in recorded],
        }
    )
    # Training rows carry the location as recorded; postcode-only people are located here by
    # their postcode's centroid (which is where the world put them).
    has_pc = np.array([x.postcode is not None and x.latitude is None for x in recorded])
    frame.loc[has_pc, "latitude"] = p.lat[pi][has_pc]
    frame.loc[has_pc, "longitude"] = p.lon[pi][has_pc]
    frame = frame.sort_values(["rated_at", "person_id", "service_id"], kind="stable")
    return frame.reset_index(drop=True)[list(TRAINING_COLUMNS)], impressions


def _impressions(
    p: _People,
    catalogue: Catalogue,
    rated: np.ndarray,
    day: np.ndarray,
    imp_p: list[np.ndarray],
    imp_s: list[np.ndarray],
    rows_p: list[np.ndarray],
    rows_s: list[np.ndarray],
) -> pd.DataFrame:
    """What the old tool showed (one row per person and service shown) and whether rated."""
    ids = np.asarray(catalogue.ids(), dtype=object)
    if not imp_p:
        return pd.DataFrame(
            {
                "person_id": pd.Series(dtype=object),
                "service_id": pd.Series(dtype=object),
                "shown_at": pd.Series(dtype="datetime64[ns, UTC]"),
                "rated": pd.Series(dtype=bool),
            }
        )
    pi, si = np.concatenate(imp_p), np.concatenate(imp_s)
    n_s = len(ids)
    rated_pairs = set(
        (np.concatenate(rows_p) * n_s + np.concatenate(rows_s)).tolist() if rows_p else []
    )
    when = LOG_END - pd.to_timedelta(LOG_DAYS - day[np.searchsorted(rated, pi)], unit="D")
    return pd.DataFrame(
        {
            "person_id": p.reference[pi].astype(str),
            "service_id": ids[si],
            "shown_at": pd.DatetimeIndex(when).floor("s"),
            "rated": np.isin(pi * n_s + si, list(rated_pairs)),
        }
    )


def _recorded_lat(x: Person) -> float:
    return float(x.latitude) if x.latitude is not None else np.nan


def _recorded_lon(x: Person) -> float:
    return float(x.longitude) if x.longitude is not None else np.nan


def _empty_frame() -> pd.DataFrame:
    return pd.DataFrame({c: pd.Series(dtype=object) for c in TRAINING_COLUMNS})

"""The web page's forms: read what was typed, check it, and keep it for redisplay.

Each parser returns a ``Form`` holding the values exactly as typed (so a page with an error
shows them again) and the errors, in page order, as GOV.UK messages that say how to fix the
answer. Values are never echoed into logs or exceptions.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from vcsmatch.catalogue.model import DELIVERY_MODES
from vcsmatch.errors import PostcodeError
from vcsmatch.features.location import PostcodeDirectory, normalise_postcode
from vcsmatch.features.person import SEXES, Person
from vcsmatch.search import WEEKDAY_NAMES, WEEKDAYS, SearchQuery
from vcsmatch.taxonomy import Taxonomy

MAX_TEXT = 500
MAX_SITUATION = 2000
RADII_KM: tuple[str, ...] = ("1", "2", "5", "10", "20", "50")
DEFAULT_RADIUS = "5"
PAGE_SIZE = 10
SEX_LABELS: dict[str, str] = {
    "not_recorded": "Not recorded",
    "female": "Female",
    "male": "Male",
    "another": "Another sex or gender",
}
MODE_LABELS: dict[str, str] = {
    "in_person": "In person",
    "online": "Online",
    "phone": "By phone",
    "home_visit": "Home visits",
}


@dataclass
class Form:
    """What was typed (as text) and what is wrong with it."""

    values: dict[str, Any] = field(default_factory=dict)
    errors: list[tuple[str, str]] = field(default_factory=list)

    def error(self, field_id: str, message: str) -> None:
        self.errors.append((field_id, message))

    def error_for(self, field_id: str) -> str | None:
        return next((m for f, m in self.errors if f == field_id), None)

    @property
    def ok(self) -> bool:
        return not self.errors


def _text(form: Mapping[str, Any], name: str, limit: int = 200) -> str:
    value = form.get(name)
    return value.strip()[: limit + 1] if isinstance(value, str) else ""


def _list(form: Any, name: str) -> list[str]:
    getlist = getattr(form, "getlist", None)
    items = getlist(name) if getlist else form.get(name, [])
    if isinstance(items, str):
        items = [items]
    return [v for v in items if isinstance(v, str)][:100]


def _age(form: Form, raw: str) -> int | None:
    if not raw:
        return None
    if not raw.isdecimal():
        form.error("age", "Age must be a whole number of years, like 72")
        return None
    age = int(raw)
    if age > 120:
        form.error("age", "Age must be 120 or less")
        return None
    return age


def _postcode(
    form: Form, raw: str, directory: PostcodeDirectory, *, required: bool = False
) -> tuple[str, tuple[float, float]] | None:
    if not raw:
        if required:
            form.error("postcode", "Enter a postcode, like IP4 1AE")
        return None
    try:
        postcode = normalise_postcode(raw)
    except PostcodeError:
        form.error("postcode", "Enter a real postcode, like IP4 1AE")
        return None
    try:
        return postcode, directory.lookup(postcode)
    except PostcodeError:
        form.error("postcode", "We do not know this postcode: check it, or enter another nearby")
        return None


def parse_search(
    raw: Mapping[str, Any], taxonomy: Taxonomy, directory: PostcodeDirectory
) -> tuple[Form, SearchQuery | None]:
    """The search form -> a ``SearchQuery`` (None when something needs correcting)."""
    form = Form()
    v = form.values
    v["text"] = _text(raw, "text", MAX_TEXT)
    v["need"] = _text(raw, "need")
    v["postcode"] = _text(raw, "postcode", 16)
    v["radius"] = _text(raw, "radius") or DEFAULT_RADIUS
    v["age"] = _text(raw, "age", 10)
    v["mode"] = _text(raw, "mode")
    v["open_on"] = _text(raw, "open_on")
    v["free_only"] = _text(raw, "free_only") == "yes"
    # A fresh form includes online and phone services; a submitted one says.
    v["include_remote"] = _text(raw, "include_remote") == "yes" or not raw.get("submitted")
    page_raw = _text(raw, "page", 6)
    page = int(page_raw) if page_raw.isdecimal() and 1 <= int(page_raw) <= 10_000 else 1

    if len(v["text"]) > MAX_TEXT:
        form.error("text", f"Search words must be {MAX_TEXT} characters or fewer")
    if v["need"] and v["need"] not in taxonomy.need_codes:
        form.error("need", "Choose a need from the list")
    located = _postcode(form, v["postcode"], directory)
    if v["radius"] not in RADII_KM:
        form.error("radius", "Choose a distance from the list")
    age = _age(form, v["age"])
    if v["mode"] and v["mode"] not in DELIVERY_MODES:
        form.error("mode", "Choose how the service is delivered from the list")
    if v["open_on"] and v["open_on"] not in WEEKDAYS:
        form.error("open_on", "Choose a day from the list")
    if not form.ok:
        return form, None
    query = SearchQuery(
        text=v["text"] or None,
        needs=(v["need"],) if v["need"] else (),
        latitude=located[1][0] if located else None,
        longitude=located[1][1] if located else None,
        radius_km=float(v["radius"]),
        include_remote=v["include_remote"],
        age=age,
        delivery_modes=(v["mode"],) if v["mode"] else (),
        free_only=v["free_only"],
        open_on=v["open_on"] or None,
        page=page,
        size=PAGE_SIZE,
    )
    return form, query


def parse_person(
    raw: Any, taxonomy: Taxonomy, directory: PostcodeDirectory, *, need_codes: bool = True
) -> tuple[Form, Person | None]:
    """The "suggest for a person" form -> a ``Person`` (None when something needs correcting).

    ``need_codes``: whether to insist on at least one need (not when only interpreting text).
    """
    form = Form()
    v = form.values
    v["postcode"] = _text(raw, "postcode", 16)
    v["age"] = _text(raw, "age", 10)
    v["sex"] = _text(raw, "sex") or "not_recorded"
    v["needs"] = _list(raw, "needs")
    v["strengths"] = _list(raw, "strengths")
    v["situation"] = _text(raw, "situation", MAX_SITUATION)

    located = _postcode(form, v["postcode"], directory, required=True)
    age = _age(form, v["age"])
    if v["sex"] not in SEXES:
        form.error("sex", "Choose one of the options for sex")
    unknown_needs = [c for c in v["needs"] if c not in taxonomy.need_codes]
    unknown_strengths = [c for c in v["strengths"] if c not in taxonomy.strength_codes]
    if unknown_needs:
        form.error("needs", "Choose needs from the list")
    elif need_codes and not v["needs"]:
        form.error("needs", "Choose at least one need, or describe the situation below")
    if unknown_strengths:
        form.error("strengths", "Choose strengths from the list")
    if len(v["situation"]) > MAX_SITUATION:
        form.error("situation", f"The description must be {MAX_SITUATION} characters or fewer")
    if not form.ok:
        return form, None
    person = Person(
        postcode=located[0] if located else None,
        latitude=located[1][0] if located else None,
        longitude=located[1][1] if located else None,
        age=age,
        sex=v["sex"],
        needs=taxonomy.validate("need", v["needs"]),
        strengths=taxonomy.validate("strength", v["strengths"]),
    )
    return form, person


def parse_find(
    raw: Any,
    taxonomy: Taxonomy,
    directory: PostcodeDirectory,
    town_lookup: Any,
    *,
    need_codes: bool = True,
) -> tuple[Form, Person | None]:
    """The public "find services" form -> a ``Person`` located by postcode or town (None when
    something needs correcting). ``town_lookup(name)`` gives a town's coordinates or None.
    Messages speak to the resident ("your"), and nothing typed is echoed anywhere else."""
    form = Form()
    v = form.values
    v["place"] = _text(raw, "place", 60)
    v["age"] = _text(raw, "age", 10)
    v["needs"] = _list(raw, "needs")
    v["strengths"] = _list(raw, "strengths")
    v["situation"] = _text(raw, "situation", MAX_SITUATION)

    located: tuple[float, float] | None = None
    if not v["place"]:
        if need_codes:
            form.error("place", "Enter a postcode or a town, like IP4 1AE or Ipswich")
    else:
        try:
            located = directory.lookup(normalise_postcode(v["place"]))
        except PostcodeError:
            located = town_lookup(v["place"])
            if located is None:
                form.error(
                    "place", "We do not know this place: enter a postcode, like IP4 1AE, instead"
                )
    age = _age(form, v["age"])
    if need_codes and age is None and not form.error_for("age"):
        form.error("age", "Enter the age in years, like 72")
    if [c for c in v["needs"] if c not in taxonomy.need_codes]:
        form.error("needs", "Choose what help is needed from the list")
    elif need_codes and not v["needs"]:
        form.error("needs", "Choose at least one kind of help, or describe the situation above")
    if [c for c in v["strengths"] if c not in taxonomy.strength_codes]:
        form.error("strengths", "Choose interests from the list")
    if len(v["situation"]) > MAX_SITUATION:
        form.error("situation", f"The description must be {MAX_SITUATION} characters or fewer")
    if not form.ok or located is None:
        return form, None
    person = Person(
        latitude=located[0],
        longitude=located[1],
        age=age,
        needs=taxonomy.validate("need", v["needs"]),
        strengths=taxonomy.validate("strength", v["strengths"]),
    )
    return form, person


def need_options(taxonomy: Taxonomy) -> list[tuple[str, str]]:
    return [(t.code, t.label) for t in taxonomy.needs]


def strength_options(taxonomy: Taxonomy) -> list[tuple[str, str]]:
    return [(t.code, t.label) for t in taxonomy.strengths]


def day_options() -> list[tuple[str, str]]:
    return [("", "Any day")] + [(d, WEEKDAY_NAMES[d]) for d in WEEKDAYS]


def mode_options() -> list[tuple[str, str]]:
    return [("", "Any way")] + [(m, MODE_LABELS[m]) for m in DELIVERY_MODES]


def radius_options() -> list[tuple[str, str]]:
    return [(r, f"Within {r} km") for r in RADII_KM]


def sex_options() -> Sequence[tuple[str, str]]:
    return list(SEX_LABELS.items())

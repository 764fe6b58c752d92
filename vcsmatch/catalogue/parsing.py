"""Reading one published record defensively, so every problem names the record and the field.

``Record`` wraps a JSON object with its path inside the record (``service_at_locations[0]
.location.latitude``); its accessors accept what the specs allow (nulls, missing keys, extra
keys, numbers where text is expected) and raise ``CatalogueError`` for anything else, so a
malformed feed yields a report, never a ``TypeError``. ``build`` validates one of our pydantic
models and translates its first error into the source field's path.
"""

from __future__ import annotations

import datetime as dt
import json
import math
import re
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

from vcsmatch.catalogue.model import Address
from vcsmatch.errors import CatalogueError

M = TypeVar("M", bound=BaseModel)

WEEKDAYS: tuple[str, ...] = ("MO", "TU", "WE", "TH", "FR", "SA", "SU")
_DAY_NAMES = {
    "monday": "MO", "tuesday": "TU", "wednesday": "WE", "thursday": "TH", "friday": "FR",
    "saturday": "SA", "sunday": "SU",
    "mon": "MO", "tue": "TU", "tues": "TU", "wed": "WE", "thu": "TH", "thur": "TH",
    "thurs": "TH", "fri": "FR", "sat": "SA", "sun": "SU",
}  # fmt: skip


def _kind(value: Any) -> str:
    return {dict: "an object", list: "a list", bool: "true/false", str: "text"}.get(
        type(value), type(value).__name__
    )


class Record:
    """A JSON object inside one published record, with its path for error messages.

    ``read`` (shared by a record and the objects inside it) collects the path of every value
    a converter took, so the driver can name the source fields a record lost. Opening an
    object or a list of objects (``obj``, ``objs``) takes none of its fields by itself.
    """

    __slots__ = ("data", "where", "id", "read")

    def __init__(
        self,
        data: dict[str, Any],
        where: str,
        record_id: str | None,
        read: set[str] | None = None,
    ) -> None:
        self.data = data
        self.where = where
        self.id = record_id
        self.read = read if read is not None else set()

    @classmethod
    def root(cls, data: dict[str, Any], id_key: str = "id", read: set[str] | None = None) -> Record:
        """The record itself; its id must be non-empty text or an integer."""
        raw = data.get(id_key)
        if raw is None or (isinstance(raw, str) and not raw.strip()):
            raise CatalogueError(None, id_key, "missing")
        if isinstance(raw, bool) or not isinstance(raw, str | int):
            raise CatalogueError(None, id_key, f"expected text or a whole number, got {_kind(raw)}")
        if read is not None:
            read.add(id_key)
        return cls(data, "", str(raw).strip(), read)

    def _take(self, key: str) -> Any:
        self.read.add(self.path(key))
        return self.data.get(key)

    def path(self, key: str | int) -> str:
        if isinstance(key, int):
            return f"{self.where}[{key}]"
        return f"{self.where}.{key}" if self.where else key

    def fail(self, key: str | int, reason: str) -> CatalogueError:
        return CatalogueError(self.id, self.path(key), reason)

    def get(self, key: str) -> Any:
        return self._take(key)

    def text(self, key: str) -> str | None:
        """Text, or None when missing/null/blank; numbers are accepted as their text."""
        value = self._take(key)
        if value is None:
            return None
        if isinstance(value, str):
            return value.strip() or None
        if isinstance(value, int | float) and not isinstance(value, bool):
            if isinstance(value, float) and not math.isfinite(value):
                raise self.fail(key, "expected text, got a non-finite number")
            return str(value)
        raise self.fail(key, f"expected text, got {_kind(value)}")

    def number(self, key: str) -> float | None:
        value = self._take(key)
        if value is None or (isinstance(value, str) and not value.strip()):
            return None
        if isinstance(value, bool):
            raise self.fail(key, "expected a number, got true/false")
        if isinstance(value, int | float):
            result = float(value)
        elif isinstance(value, str):
            try:
                result = float(value.strip().lstrip("£$€"))
            except ValueError:
                raise self.fail(key, f"expected a number, got {value[:40]!r}") from None
        else:
            raise self.fail(key, f"expected a number, got {_kind(value)}")
        if not math.isfinite(result):
            raise self.fail(key, "expected a finite number")
        return result

    def flag(self, key: str) -> bool | None:
        value = self._take(key)
        if value is None or isinstance(value, bool):
            return value
        if isinstance(value, str) and value.strip().lower() in ("true", "false", "yes", "no"):
            return value.strip().lower() in ("true", "yes")
        raise self.fail(key, f"expected true or false, got {_kind(value)}")

    def obj(self, key: str) -> Record | None:
        value = self.data.get(key)
        if value is None:
            return None
        if not isinstance(value, dict):
            raise self.fail(key, f"expected an object, got {_kind(value)}")
        return Record(value, self.path(key), self.id, self.read)

    def objs(self, key: str) -> list[Record]:
        """A list of objects; null items are skipped, a missing/null list is empty."""
        value = self.data.get(key)
        if value is None:
            return []
        if isinstance(value, dict):  # some feeds send a lone object where a list belongs
            value = [value]
        if not isinstance(value, list):
            raise self.fail(key, f"expected a list, got {_kind(value)}")
        out = []
        base = self.path(key)
        for i, item in enumerate(value):
            if item is None:
                continue
            if not isinstance(item, dict):
                raise CatalogueError(
                    self.id, f"{base}[{i}]", f"expected an object, got {_kind(item)}"
                )
            out.append(Record(item, f"{base}[{i}]", self.id, self.read))
        return out

    def texts(self, key: str) -> list[str]:
        """A list of text items (or one text) as a list; blanks and nulls dropped."""
        value = self._take(key)
        if value is None:
            return []
        if isinstance(value, str):
            return [value.strip()] if value.strip() else []
        if not isinstance(value, list):
            raise self.fail(key, f"expected a list, got {_kind(value)}")
        out = []
        for i, item in enumerate(value):
            if item is None:
                continue
            if not isinstance(item, str | int) or isinstance(item, bool):
                raise CatalogueError(
                    self.id, f"{self.path(key)}[{i}]", f"expected text, got {_kind(item)}"
                )
            if str(item).strip():
                out.append(str(item).strip())
        return out


def _reason(err: dict[str, Any]) -> str:
    msg = str(err.get("msg", "invalid"))
    msg = msg.removeprefix("Value error, ")
    value = err.get("input")
    if err.get("type") in ("missing", "string_type") and value is None:
        return "missing"
    if isinstance(value, str | int | float) and not isinstance(value, bool):
        shown = repr(value) if len(repr(value)) <= 60 else repr(value)[:57] + "...'"
        msg = f"{msg} (got {shown})"
    return msg


def build(
    model: type[M], data: dict[str, Any], rec: Record, paths: dict[str, str] | None = None
) -> M:
    """Validate ``data`` as ``model``; on failure raise ``CatalogueError`` naming the source field.

    ``paths`` maps our field names to the source's (relative to ``rec``) where they differ;
    the key ``""`` names the field blamed for whole-model rules (e.g. min above max age).
    """
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        err = exc.errors()[0]
        loc = [str(p) for p in err.get("loc", ())]
        first = loc[0] if loc else ""
        source = (paths or {}).get(first, first or "<record>")
        raise CatalogueError(rec.id, rec.path(source), _reason(dict(err))) from None


def check_age_range(rec: Record, min_key: str, max_key: str) -> None:
    """Refuse a minimum age above the maximum, naming the source's own field names."""
    lo, hi = rec.number(min_key), rec.number(max_key)
    if lo is not None and hi is not None and lo > hi:
        raise rec.fail(min_key, f"greater than {max_key} ({lo:g} > {hi:g})")


def parse_date(rec: Record, key: str) -> dt.date | None:
    """A date from ``YYYY-MM-DD`` or an ISO 8601 date-time (its date part)."""
    value = rec.text(key)
    if value is None:
        return None
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        pass
    try:
        return dt.datetime.fromisoformat(value).date()
    except ValueError:
        raise rec.fail(key, f"not an ISO 8601 date ({value[:40]!r})") from None


def parse_datetime(rec: Record, key: str) -> dt.datetime | None:
    """An ISO 8601 date-time (a bare date is midnight; ``Z`` is UTC)."""
    value = rec.text(key)
    if value is None:
        return None
    try:
        return dt.datetime.fromisoformat(value)
    except ValueError:
        raise rec.fail(key, f"not an ISO 8601 date-time ({value[:40]!r})") from None


def weekday_code(text: str) -> str | None:
    """``MO``..``SU`` from ``MO``, ``1MO`` (ordinal dropped), ``Monday``, ``mon`` or ISO 1-7."""
    t = text.strip()
    m = re.fullmatch(r"[+-]?\d{0,2}([A-Za-z]{2})", t)
    if m and m.group(1).upper() in WEEKDAYS:
        return m.group(1).upper()
    if t.lower() in _DAY_NAMES:
        return _DAY_NAMES[t.lower()]
    if t.isdigit() and 1 <= int(t) <= 7:
        return WEEKDAYS[int(t) - 1]
    return None


def split_byday(rec: Record, key: str) -> list[str]:
    """Weekday codes from an RFC 5545 ``BYDAY`` list (``"MO,WE"``) or a list of day names."""
    value = rec.get(key)
    if value is None:
        return []
    if isinstance(value, str):
        parts = [p for p in re.split(r"[,\s;]+", value) if p]
    elif isinstance(value, list):
        parts = [str(p) for p in value if p is not None and not isinstance(p, bool)]
    elif isinstance(value, int) and not isinstance(value, bool):
        parts = [str(value)]
    else:
        raise rec.fail(key, f"expected weekdays, got {_kind(value)}")
    out: list[str] = []
    for part in parts:
        code = weekday_code(part)
        if code is None:
            raise rec.fail(key, f"not a weekday: {part[:20]!r}")
        if code not in out:
            out.append(code)
    return out


_POLYGONS = ("Polygon", "MultiPolygon")


def _polygon_geometry(obj: Any) -> dict[str, Any] | None:
    """The Polygon/MultiPolygon in a geometry, Feature or FeatureCollection (None if none)."""
    if not isinstance(obj, dict):
        return None
    kind = obj.get("type")
    if kind in _POLYGONS:
        return obj
    if kind == "Feature":
        return _polygon_geometry(obj.get("geometry"))
    if kind == "FeatureCollection" and isinstance(obj.get("features"), list):
        polys: list[Any] = []
        for f in obj["features"]:
            g = _polygon_geometry(f)
            if g is None:
                return None
            if g["type"] == "Polygon":
                polys.append(g.get("coordinates"))
            else:
                polys.extend(g.get("coordinates") or [])
        if len(polys) == 1:
            return {"type": "Polygon", "coordinates": polys[0]}
        return {"type": "MultiPolygon", "coordinates": polys} if polys else None
    return None


def check_geometry(geometry: Any, rec: Record, key: str) -> dict[str, Any]:
    """A GeoJSON Polygon/MultiPolygon that shapely can build, else ``CatalogueError``."""
    geom = _polygon_geometry(geometry)
    if geom is None:
        raise rec.fail(key, "GeoJSON is not a Polygon or MultiPolygon")
    from shapely.geometry import shape

    try:
        shp = shape(geom)
        if shp.is_empty:
            raise ValueError("empty")
    except Exception as exc:  # noqa: BLE001 - shapely raises many kinds for bad coordinates
        raise rec.fail(key, f"GeoJSON polygon has bad coordinates ({type(exc).__name__})") from None
    return geom


def parse_geojson_extent(rec: Record, key: str) -> dict[str, Any]:
    """An HSDS ``extent`` (GeoJSON as text, or already an object) as a polygon geometry."""
    value = rec.get(key)
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except (json.JSONDecodeError, RecursionError):
            raise rec.fail(key, "extent_type is geojson but extent is not valid JSON") from None
    return check_geometry(value, rec, key)


ADDRESS_KEYS: tuple[str, ...] = (
    "address_1", "address_2", "address_3", "address_4", "city", "region", "state_province",
)  # fmt: skip


def one_line_address(rec: Record, keys: tuple[str, ...] = ADDRESS_KEYS) -> str | None:
    """The address lines present, joined with commas (None when there are none)."""
    return ", ".join(p for p in (rec.text(k) for k in keys) if p) or None


_ADDRESS_PARTS = (
    "attention", "address_1", "address_2", "city", "region", "state_province", "postal_code",
    "country",
)  # fmt: skip
_UK_POSTCODE = re.compile(r"^[A-Z]{1,2}[0-9][A-Z0-9]? ?[0-9][A-Z]{2}$", re.IGNORECASE)


def summary_country(postcode: str | None) -> str | None:
    """The country an address with no parts is published with: GB for a UK postcode, else
    none (a country is never assumed)."""
    return "GB" if postcode and _UK_POSTCODE.match(postcode.strip()) else None


def read_addresses(
    loc: Record, key: str = "addresses"
) -> tuple[str | None, str | None, list[Address]]:
    """(one-line address, postcode, the addresses with their parts) of a location.

    The summary comes from the physical address, else the first. The parts are left out
    when they say no more than the summary does as our exporter writes it, so an export
    imports back as it was.
    """
    records = loc.objs(key)
    if not records:
        return None, None, []
    chosen = next((a for a in records if a.text("address_type") == "physical"), records[0])
    address, postcode = one_line_address(chosen), chosen.text("postal_code")
    parts = []
    for a in records:
        kind = (a.text("address_type") or "physical").lower()
        parts.append(
            build(
                Address,
                {**{k: a.text(k) for k in _ADDRESS_PARTS}, "address_type": kind},
                a,
            )
        )
    summary = Address(address_1=address, postal_code=postcode, country=summary_country(postcode))
    if parts == [summary]:
        parts = []
    return address, postcode, parts


_FREE = re.compile(r"\bfree\b|\bno charge\b", re.IGNORECASE)


def free_from_options(options: list[Record]) -> bool | None:
    """Whether listed cost options mean the service is free (None when none are listed).

    Any positive amount means a charge; all amounts zero, or every option saying "free",
    means free; any other listed option is taken as a charge.
    """
    if not options:
        return None
    amounts = [o.number("amount") for o in options]
    if any(a is not None and a > 0 for a in amounts):
        return False
    if all(a == 0 for a in amounts):
        return True
    texts = [
        " ".join(filter(None, (o.text("option"), o.text("amount_description")))) for o in options
    ]
    return all(_FREE.search(t) for t in texts)

"""The HSDS fields vcsmatch keeps verbatim: what a record holds beyond the service model.

Matching needs a few dozen fields; HSDS defines hundreds (``alternate_name``, ``funding``,
a schedule's ``wkst``...). A council re-publishing its directory through vcsmatch must not
lose them, so the importer keeps, for each record, the part of the source the exporter
would not write from the model (:func:`unmodelled`), and the exporter lays it under what it
writes (:func:`lay_under`). Where both have a field the model's value wins (it is the one
matching used). Lists are kept aligned with the exporter's own lists, paired by a key where
the order may differ (attributes by taxonomy and code, locations by type and name); source
items with no counterpart follow, whole.

A verbatim field that would make the export invalid HSDS (an id that is not a UUID, a URL
without a scheme, a value outside an HSDS enum) is repaired where that is safe (ids become
UUID5 of themselves, so references still agree) or left out, and reported by the caller.
"""

from __future__ import annotations

import copy
import re
import uuid
from collections.abc import Callable, Iterator
from typing import Any

from vcsmatch.catalogue.ids import NAMESPACE, as_uuid

#: HSDS 3.0 fields whose schema says ``format: uuid``.
UUID_FIELDS = frozenset({
    "id", "contact_id", "link_id", "location_id", "organization_id", "parent_id",
    "parent_organization_id", "phone_id", "program_id", "resource_id",
    "service_at_location_id", "service_id", "taxonomy_id", "taxonomy_term_id",
})  # fmt: skip
#: ... ``format: uri``, ``format: email`` and the enumerations.
URI_FIELDS = frozenset({"schedule_link", "term_uri", "uri", "url", "website"})
EMAIL_FIELDS = frozenset({"assurer_email", "email"})
ENUMS: dict[str, frozenset[str]] = {
    "address_type": frozenset({"physical", "postal", "virtual"}),
    "freq": frozenset({"WEEKLY", "MONTHLY"}),
    "location_type": frozenset({"physical", "postal", "virtual"}),
    "status": frozenset({"active", "inactive", "defunct", "temporarily closed"}),
    "wkst": frozenset({"MO", "TU", "WE", "TH", "FR", "SA", "SU"}),
}

#: Lone nested objects whose id the exporter derives (others, such as a location or the
#: organisation, carry their public id).
DERIVED_ONE = frozenset({"taxonomy_term"})

Key = Callable[[dict[str, Any]], Any]


def _attribute_key(item: dict[str, Any]) -> Any:
    term = item.get("taxonomy_term")
    if not isinstance(term, dict):
        return ("id", item.get("taxonomy_term_id"))
    return (str(term.get("taxonomy") or "").lower(), term.get("code"), term.get("name"))


def _location_key(item: dict[str, Any]) -> Any:
    loc = item.get("location")
    if not isinstance(loc, dict):
        return None
    kind = str(loc.get("location_type") or "physical").lower()
    return (kind,) if kind == "virtual" else (kind, loc.get("name"))


#: How items of a list are paired with the exporter's (by position where not named).
KEYS: dict[str, Key] = {"attributes": _attribute_key, "service_at_locations": _location_key}


def _similarity(raw: dict[str, Any], gen: dict[str, Any]) -> int:
    """How many of ``gen``'s plain values (not ids) ``raw`` holds as they are."""
    return sum(
        1
        for k, v in gen.items()
        if k not in UUID_FIELDS and not isinstance(v, dict | list) and raw.get(k) == v
    )


def _source_id(item: Any) -> str | None:
    """The id a source item is published under (its own UUID, else UUID5 of it)."""
    if not isinstance(item, dict) or item.get("id") in (None, ""):
        return None
    return as_public_uuid(str(item["id"]))


def _pairs(raw: list[Any], gen: list[Any], key: Key | None) -> tuple[list[int | None], list[int]]:
    """For each exporter item, the index of the source item it stands for (or None); and the
    source items nothing stands for.

    With a ``key``, items pair by key. Otherwise by id where the exporter wrote the source's
    id, then by the most values in common (the nearest position on a tie), so a reordered
    or de-duplicated list does not lend one object's fields to another.
    """
    used: set[int] = set()
    chosen: list[int | None] = [None] * len(gen)
    if key is not None:
        for j, g in enumerate(gen):
            want = key(g) if isinstance(g, dict) else None
            found = next(
                (
                    i
                    for i, r in enumerate(raw)
                    if i not in used and isinstance(r, dict) and key(r) == want
                ),
                None,
            )
            if found is not None:
                used.add(found)
            chosen[j] = found
        return chosen, [i for i in range(len(raw)) if i not in used]
    by_id: dict[str, list[int]] = {}
    for i, r in enumerate(raw):
        if (sid := _source_id(r)) is not None:
            by_id.setdefault(sid, []).append(i)
    for j, g in enumerate(gen):
        same = by_id.get(g.get("id"), []) if isinstance(g, dict) else []
        i = next((i for i in same if i not in used), None)  # duplicates pair in order
        if i is not None:
            used.add(i)
            chosen[j] = i
    ranked = sorted(
        (
            (
                _similarity(r, g) if isinstance(r, dict) and isinstance(g, dict) else -1,
                -abs(i - j),
                -j,
                j,
                i,
            )
            for j, g in enumerate(gen)
            if chosen[j] is None
            for i, r in enumerate(raw)
            if i not in used
        ),
        reverse=True,
    )
    for *_, j, i in ranked:
        if chosen[j] is None and i not in used:
            used.add(i)
            chosen[j] = i
    return chosen, [i for i in range(len(raw)) if i not in used]


def _path(where: str, key: str | int) -> str:
    if isinstance(key, int):
        return f"{where}[{key}]"
    return f"{where}.{key}" if where else key


def _prune(value: Any, where: str, dropped: set[str]) -> Any:
    """``value`` without the paths in ``dropped`` (values the reader refused)."""
    if isinstance(value, dict):
        return {
            k: _prune(v, _path(where, k), dropped)
            for k, v in value.items()
            if _path(where, k) not in dropped
        }
    if isinstance(value, list):
        return [_prune(v, _path(where, i), dropped) for i, v in enumerate(value)]
    return value


def unmodelled(
    raw: dict[str, Any],
    gen: dict[str, Any],
    dropped: set[str] = frozenset(),
    where: str = "",
    ids: dict[str, str] | None = None,
) -> dict[str, Any]:
    """The part of the source object ``raw`` that the exporter's ``gen`` does not hold.

    ``dropped`` names source paths (``service_at_locations[0].location.latitude``) the reader
    refused: they are not kept. A list comes back aligned with ``gen``'s list (``{}`` where
    a paired item adds nothing), followed by the source items nothing was paired with; a
    paired item that adds something names the id it is laid under. ``ids``, if given,
    collects the ids the exporter derived for paired items whose source gave its own:
    derived id -> the source's (a UUID; UUID5 of a source id that is none).
    """
    out: dict[str, Any] = {}
    for k, v in raw.items():
        path = _path(where, k)
        if path in dropped or v is None:
            continue
        if k not in gen:
            out[k] = _prune(v, path, dropped)
        elif isinstance(v, dict) and isinstance(gen[k], dict):
            gid, src = gen[k].get("id"), _source_id(v)
            if (
                ids is not None
                and k in DERIVED_ONE
                and isinstance(gid, str)
                and src
                not in (
                    None,
                    gid,
                )
            ):
                ids.setdefault(gid, src)
            sub = unmodelled(v, gen[k], dropped, path, ids)
            if sub:
                out[k] = sub
        elif isinstance(v, list) and isinstance(gen[k], list):
            chosen, rest = _pairs(v, gen[k], KEYS.get(k))
            items: list[Any] = []
            for g, i in zip(gen[k], chosen, strict=True):
                r = v[i] if i is not None else None
                if not (isinstance(r, dict) and isinstance(g, dict)):
                    items.append({})
                    continue
                gid, src = g.get("id"), _source_id(r)
                if ids is not None and isinstance(gid, str) and src and src != gid:
                    ids.setdefault(gid, src)
                sub = unmodelled(r, g, dropped, _path(path, i), ids)
                if sub and isinstance(gid, str):
                    sub = {"id": (ids or {}).get(gid, gid), **sub}
                items.append(sub)
            items += [_prune(v[i], _path(path, i), dropped) for i in rest if v[i] is not None]
            if any(items):
                out[k] = items
    return out


def lay_under(gen: dict[str, Any], extra: dict[str, Any]) -> dict[str, Any]:
    """``gen`` with the verbatim fields of ``extra`` added where ``gen`` has none (in place).

    An item of a list goes under the item with its id; one without an id goes by position
    (items past the end of ``gen``'s list are source items of their own, added whole).
    """
    for k, v in extra.items():
        if k not in gen:
            gen[k] = copy.deepcopy(v)
        elif isinstance(v, dict) and isinstance(gen[k], dict):
            lay_under(gen[k], v)
        elif isinstance(v, list) and isinstance(gen[k], list):
            mine = gen[k]
            n = len(mine)
            by_id: dict[Any, list[dict[str, Any]]] = {}
            for g in mine:
                if isinstance(g, dict) and "id" in g:
                    by_id.setdefault(g["id"], []).append(g)
            for j, item in enumerate(v):
                anchor = item.get("id") if isinstance(item, dict) else None
                if by_id.get(anchor):
                    lay_under(by_id[anchor].pop(0), item)  # duplicates in order
                elif j < n:
                    if anchor is None and isinstance(item, dict) and isinstance(mine[j], dict):
                        lay_under(mine[j], item)
                elif item not in ({}, None):
                    mine.append(copy.deepcopy(item))
    return gen


def rename_ids(value: Any, ids: dict[str, str]) -> Any:
    """``value`` with every id (and reference to one) in ``ids`` replaced (in place)."""
    if isinstance(value, dict):
        for k, v in value.items():
            if isinstance(v, str) and k in UUID_FIELDS:
                value[k] = ids.get(v, v)
            else:
                rename_ids(v, ids)
    elif isinstance(value, list):
        for v in value:
            rename_ids(v, ids)
    return value


_SCHEME = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*:\S*$")
_HOST = re.compile(r"^[\w-]+(\.[\w-]+)+(:\d+)?([/?#]\S*)?$")


def as_uri(url: str | None) -> str | None:
    """A URL HSDS accepts (``format: uri`` needs a scheme): ``www.x.org`` -> ``https://...``.

    Text that is no URL at all gives None, so it is left out rather than published as one.
    """
    if not isinstance(url, str):
        return None
    url = url.strip()
    if _SCHEME.match(url):
        return url
    if _HOST.match(url):
        return "https://" + url
    return None


def as_public_uuid(value: str) -> str:
    """A UUID for a verbatim id: itself if it is one, else UUID5 of it (references agree)."""
    return as_uuid(value) or str(uuid.uuid5(NAMESPACE, f"verbatim\x1f{value}"))


def repair(value: Any, where: str = "") -> tuple[Any, list[tuple[str, str]]]:
    """``value`` made valid where HSDS checks a format or an enum; also each (path, reason)
    of a field left out because it could not be repaired."""
    lost: list[tuple[str, str]] = []

    def walk(v: Any, path: str, key: str | None) -> Any:
        if isinstance(v, dict):
            out = {}
            for k, item in v.items():
                fixed = walk(item, _path(path, k), k)
                if fixed is not _LEFT_OUT:
                    out[k] = fixed
            return out
        if isinstance(v, list):
            return [x for i, item in enumerate(v) if (x := walk(item, _path(path, i), None))
                    is not _LEFT_OUT]  # fmt: skip
        if key is None or not isinstance(v, str):
            return v
        if key in UUID_FIELDS:
            return as_public_uuid(v)
        if key in URI_FIELDS:
            uri = as_uri(v)
            if uri is None:
                lost.append((path, f"{v[:40]!r} is not a URL"))
                return _LEFT_OUT
            return uri
        if key in EMAIL_FIELDS and "@" not in v:
            lost.append((path, f"{v[:40]!r} is not an email address"))
            return _LEFT_OUT
        if key in ENUMS and v not in ENUMS[key]:
            lost.append((path, f"{v[:40]!r} is not one of {sorted(ENUMS[key])}"))
            return _LEFT_OUT
        return v

    return walk(value, where, None), lost


_LEFT_OUT = object()


def leaf_paths(obj: Any, where: str = "", *, empty: bool = True) -> Iterator[str]:
    """Every leaf of a JSON value as a path (``schedules[0].byday``); empty containers too
    unless ``empty`` is False."""
    if isinstance(obj, dict | list) and not obj:
        if empty:
            yield where
    elif isinstance(obj, dict):
        for k, v in obj.items():
            yield from leaf_paths(v, _path(where, k), empty=empty)
    elif isinstance(obj, list):
        for i, v in enumerate(obj):
            yield from leaf_paths(v, _path(where, i), empty=empty)
    elif obj is not None:
        yield where


def unread(record: dict[str, Any], read: set[str]) -> list[str]:
    """The leaf paths of ``record`` no path in ``read`` reaches (the fields a converter of a
    format other than HSDS left behind)."""
    out = []
    for path in leaf_paths(record, empty=False):
        cuts = [i for i, ch in enumerate(path) if ch in ".["] + [len(path)]
        if not any(path[:i] in read for i in cuts):
            out.append(path)
    return out


__all__ = [
    "as_public_uuid", "as_uri", "lay_under", "leaf_paths", "rename_ids", "repair", "unmodelled",
    "unread",
]  # fmt: skip

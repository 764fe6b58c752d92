"""The command line's data files: PEOPLE.csv, RATINGS.csv and RECS.csv.

- PEOPLE.csv: ``person_id,postcode,latitude,longitude,age,sex,needs,strengths``; needs and
  strengths are ``;``-separated taxonomy codes; postcode and coordinates may be empty.
- RATINGS.csv: ``person_id,service_id,rating,practitioner_id,rated_at`` (rating 1 to 5,
  ``rated_at`` ISO 8601; a time without an offset is read as UTC; whole Unix seconds, as in
  public rating data sets, are accepted too). A file that also has the columns
  ``age,sex,needs,strengths,latitude,longitude`` (the ratings export's CSV) carries each
  person on its rows and needs no PEOPLE.csv.
- RECS.csv: ``person_id,rank,service_id,score,reasons`` (reasons joined by ``"; "``).

Readers check every row and collect every problem before raising one ``BadRows`` (a
``DataError``) that lists them with file, line number and field: training must refuse data it
cannot trust, and the person fixing the file wants the whole list at once. Messages never
repeat a person's values (postcode, age, reference): only the line and field. A code that is
not in the taxonomy is named: it is the analyst's typo, not one of the person's needs.
Files may start with a UTF-8 byte-order mark; unknown extra columns are ignored.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
from pydantic import ValidationError

from vcsmatch.catalogue.model import Catalogue
from vcsmatch.errors import DataError, PostcodeError
from vcsmatch.features.person import SEXES, Person
from vcsmatch.ranking.result import Suggestion
from vcsmatch.ratings import TRAINING_COLUMNS
from vcsmatch.taxonomy import Taxonomy, load_taxonomy

PEOPLE_COLUMNS: tuple[str, ...] = (
    "person_id",
    "postcode",
    "latitude",
    "longitude",
    "age",
    "sex",
    "needs",
    "strengths",
)
RATINGS_COLUMNS: tuple[str, ...] = (
    "person_id",
    "service_id",
    "rating",
    "practitioner_id",
    "rated_at",
)
#: The person's features a ratings file may carry on each row, as the ratings export does.
INLINE_PERSON_COLUMNS: tuple[str, ...] = tuple(
    c for c in TRAINING_COLUMNS if c not in RATINGS_COLUMNS
)
RECS_COLUMNS: tuple[str, ...] = ("person_id", "rank", "service_id", "score", "reasons")

#: How many problems a ``BadRows`` message lists (all are kept in ``problems``).
MAX_LISTED = 20

_SEX_ALIASES = {"f": "female", "m": "male", "woman": "female", "man": "male"}


@dataclass(frozen=True)
class RowProblem:
    """One bad field of one row."""

    line: int | None
    field: str
    reason: str

    def __str__(self) -> str:
        where = f"line {self.line}" if self.line is not None else "file"
        return f"{where}: field {self.field!r}: {self.reason}"


class BadRows(DataError):
    """Every problem found in one file; ``problems`` holds them all, the message the first 20.

    ``line``/``field``/``reason`` (from ``DataError``) describe the first problem.
    """

    def __init__(self, source: str, problems: Sequence[RowProblem]) -> None:
        self.problems = list(problems)
        first = self.problems[0]
        super().__init__(source, first.line, first.field, first.reason)
        listed = "\n".join(f"  {p}" for p in self.problems[:MAX_LISTED])
        more = len(self.problems) - MAX_LISTED
        tail = f"\n  ... and {more} more" if more > 0 else ""
        count = len(self.problems)
        self.args = (
            f"{source}: {count} problem{'s' if count != 1 else ''} found; nothing was read:\n"
            f"{listed}{tail}",
        )

    def __str__(self) -> str:
        return str(self.args[0])


class _Collector:
    def __init__(self, source: str) -> None:
        self.source = source
        self.problems: list[RowProblem] = []

    def add(self, line: int | None, field: str, reason: str) -> None:
        self.problems.append(RowProblem(line, field, reason))

    def raise_if_any(self) -> None:
        if self.problems:
            raise BadRows(self.source, self.problems)


# --------------------------------------------------------------------------- reading rows


def _read_rows(
    path: str | Path, required: Sequence[str]
) -> tuple[str, list[tuple[int, dict[str, str]]]]:
    """Decode the file and return ``(source name, [(line number, row)])``.

    Raises ``BadRows`` for an unreadable file, bad encoding, a broken CSV or missing columns.
    """
    path = Path(path)
    source = path.name
    try:
        raw = path.read_bytes()
    except OSError as error:
        raise DataError(source, None, "file", f"cannot be read ({error.strerror})") from None
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        line = raw[: error.start].count(b"\n") + 1
        raise BadRows(source, [RowProblem(line, "file", "is not valid UTF-8 text")]) from None
    if "\x00" in text:
        line = text[: text.index("\x00")].count("\n") + 1
        raise BadRows(source, [RowProblem(line, "file", "contains a NUL character")])
    reader = csv.reader(io.StringIO(text, newline=""), strict=True)
    rows: list[tuple[int, dict[str, str]]] = []
    try:
        header = next(reader, None)
        if header is None or not any(h.strip() for h in header):
            raise BadRows(source, [RowProblem(1, "header", "the file is empty (no header row)")])
        names = [h.strip().lower() for h in header]
        missing = [c for c in required if c not in names]
        if missing:
            raise BadRows(
                source, [RowProblem(1, c, "column is missing from the header") for c in missing]
            )
        problems = _Collector(source)
        line = reader.line_num
        for values in reader:
            start = line + 1
            line = reader.line_num
            if not values or all(not v.strip() for v in values):
                continue  # blank lines are harmless
            if len(values) != len(names):
                problems.add(
                    start, "row", f"has {len(values)} fields where the header has {len(names)}"
                )
                continue
            rows.append((start, dict(zip(names, values, strict=True))))
    except csv.Error as error:
        raise BadRows(
            source, [RowProblem(reader.line_num, "file", f"is not valid CSV ({error})")]
        ) from None
    problems.raise_if_any()
    return source, rows


def _clean(value: str | None) -> str:
    return (value or "").strip()


def _parse_float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise ValueError("not finite")
    return value


def _parse_int(text: str) -> int:
    value = float(text)
    if not math.isfinite(value) or value != int(value):
        raise ValueError("not a whole number")
    return int(value)


def _split_codes(text: str) -> list[str]:
    return [c.strip() for c in text.split(";") if c.strip()]


# --------------------------------------------------------------------------- people


def read_people(
    path: str | Path, *, taxonomy: Taxonomy | None = None, check_postcodes: bool = True
) -> list[Person]:
    """Read PEOPLE.csv into ``Person``s (``person_id`` becomes ``Person.reference``).

    With ``check_postcodes`` each postcode must be one the postcode directory knows, so a
    person is never silently treated as having no location.
    """
    tax = taxonomy or load_taxonomy()
    source, rows = _read_rows(path, ("person_id",))
    problems = _Collector(source)
    people: list[Person] = []
    seen: dict[str, int] = {}
    directory = _postcode_directory() if check_postcodes else None
    for line, row in rows:
        n_before = len(problems.problems)
        fields: dict = {}
        ref = _clean(row.get("person_id"))
        if not ref:
            problems.add(line, "person_id", "is empty")
        elif len(ref) > 128:
            problems.add(line, "person_id", "is longer than 128 characters")
        elif ref in seen:
            problems.add(line, "person_id", f"repeats the person on line {seen[ref]}")
        else:
            seen[ref] = line
        fields["reference"] = ref
        fields.update(_person_fields(row, line, problems, tax, directory))
        if len(problems.problems) > n_before:
            continue
        try:
            people.append(Person(**fields))
        except ValidationError as error:
            for err in error.errors():
                field = str(err["loc"][0]) if err["loc"] else "row"
                field = "person_id" if field == "reference" else field
                problems.add(line, field, err["msg"])
    problems.raise_if_any()
    return people


def _person_fields(
    row: Mapping[str, str],
    line: int,
    problems: _Collector,
    tax: Taxonomy,
    directory,  # noqa: ANN001 - PostcodeDirectory or None, imported lazily
) -> dict:
    """A person's features from a row of PEOPLE.csv or of the ratings export (which carries
    them inline), every problem added to ``problems``."""
    fields: dict = {}
    postcode = _clean(row.get("postcode"))
    if postcode:
        fields["postcode"] = _check_postcode(postcode, directory, line, problems)
    lat_text, lon_text = _clean(row.get("latitude")), _clean(row.get("longitude"))
    if bool(lat_text) != bool(lon_text):
        problems.add(line, "latitude", "latitude and longitude must be given together")
    elif lat_text:
        for name, text, bound in (("latitude", lat_text, 90), ("longitude", lon_text, 180)):
            try:
                value = _parse_float(text)
            except ValueError:
                problems.add(line, name, "is not a number")
                continue
            if not -bound <= value <= bound:
                problems.add(line, name, f"is outside -{bound} to {bound}")
            fields[name] = value

    age_text = _clean(row.get("age"))
    if age_text:
        try:
            age = _parse_int(age_text)
        except ValueError:
            problems.add(line, "age", "is not a whole number")
        else:
            if not 0 <= age <= 120:
                problems.add(line, "age", "is outside 0 to 120")
            fields["age"] = age

    sex_text = _clean(row.get("sex")).lower().replace(" ", "_")
    sex = _SEX_ALIASES.get(sex_text, sex_text) or "not_recorded"
    if sex not in SEXES:
        problems.add(line, "sex", f"must be one of {', '.join(SEXES)} or empty")
    fields["sex"] = sex

    for name, kind in (("needs", "need"), ("strengths", "strength")):
        codes = _split_codes(row.get(name) or "")
        known = set(tax.need_codes if kind == "need" else tax.strength_codes)
        unknown = [c for c in dict.fromkeys(codes) if c not in known]
        if unknown:  # named: the analyst's own typo in their own file, not a person's need
            shown = ", ".join(repr(c if len(c) <= 40 else c[:37] + "...") for c in unknown[:5])
            more = f" and {len(unknown) - 5} more" if len(unknown) > 5 else ""
            problems.add(
                line,
                name,
                f"{shown}{more} {'are' if len(unknown) > 1 else 'is'} not "
                f"{'' if len(unknown) > 1 else 'a '}{kind} code{'s' if len(unknown) > 1 else ''} "
                "of the taxonomy (vcsmatch taxonomy lists them)",
            )
        fields[name] = list(dict.fromkeys(codes))
    return fields


def _postcode_directory():  # noqa: ANN202 - PostcodeDirectory, imported lazily
    from vcsmatch.features.location import get_postcode_directory

    return get_postcode_directory()


def _check_postcode(text: str, directory, line: int, problems: _Collector) -> str:  # noqa: ANN001
    from vcsmatch.features.location import normalise_postcode

    try:
        postcode = normalise_postcode(text)
    except PostcodeError:
        problems.add(line, "postcode", "is not a UK postcode")
        return text
    if directory is not None:
        try:
            directory.lookup(postcode)
        except PostcodeError:
            problems.add(line, "postcode", "is not in the postcode data")
        except (OSError, ValueError):
            problems.add(line, "postcode", "could not be looked up")
    return postcode


def write_people(path: str | Path, people: Iterable[Person]) -> Path:
    """Write PEOPLE.csv (``Person.reference`` as ``person_id``)."""
    path = Path(path)
    with path.open("w", newline="", encoding="utf-8") as fh:
        out = csv.writer(fh)
        out.writerow(PEOPLE_COLUMNS)
        for p in people:
            out.writerow(
                [
                    p.reference or "",
                    p.postcode or "",
                    "" if p.latitude is None else f"{p.latitude:.6f}",
                    "" if p.longitude is None else f"{p.longitude:.6f}",
                    "" if p.age is None else p.age,
                    p.sex,
                    ";".join(p.needs),
                    ";".join(p.strengths),
                ]
            )
    return path


# --------------------------------------------------------------------------- ratings


def _parse_time(text: str) -> dt.datetime:
    """ISO 8601 (no offset = UTC); also whole Unix seconds, as public rating data sets use.

    Returns an aware UTC datetime within pandas' range (converted to a column in one go).
    """
    try:
        value = dt.datetime.fromisoformat(text)
    except ValueError:
        if not (text.isascii() and text.isdigit() and 9 <= len(text) <= 11):
            raise
        value = dt.datetime.fromtimestamp(int(text), tz=dt.UTC)
    value = value.replace(tzinfo=dt.UTC) if value.tzinfo is None else value.astimezone(dt.UTC)
    if not _EARLIEST <= value <= _LATEST:
        raise ValueError("outside the supported range")
    return value


_EARLIEST = dt.datetime(1900, 1, 1, tzinfo=dt.UTC)
_LATEST = dt.datetime(2200, 1, 1, tzinfo=dt.UTC)


def read_ratings(path: str | Path, people: Sequence[Person], catalogue: Catalogue) -> pd.DataFrame:
    """Read RATINGS.csv into a training frame (``vcsmatch.ratings.TRAINING_COLUMNS``).

    Each rating is joined to its person's features from ``people`` (as read by
    ``read_people``); a person known only by postcode is located through the postcode
    directory. Every row must name a known person and a service of ``catalogue``.
    """
    source, rows = _read_rows(path, RATINGS_COLUMNS)
    problems = _Collector(source)
    by_ref = {p.reference: p for p in people if p.reference}
    # The ratings export (GET /v1/ratings/export?format=csv) carries each person's features
    # on every row: such a file is read as it is, with no people file (issue 17, finding 10).
    inline = bool(rows) and set(INLINE_PERSON_COLUMNS) <= rows[0][1].keys()
    tax = load_taxonomy() if inline else None
    if rows and not inline and not by_ref:
        missing = ", ".join(c for c in INLINE_PERSON_COLUMNS if c not in rows[0][1])
        raise BadRows(
            source,
            [RowProblem(1, "header", f"has no {missing} column(s), and no people file was given")],
        )
    service_ids = set(catalogue.ids())
    out: dict[str, list] = {c: [] for c in TRAINING_COLUMNS}
    where: dict[str, tuple[float, float] | None] = {}
    for line, row in rows:
        n_before = len(problems.problems)
        ref = _clean(row.get("person_id"))
        person = by_ref.get(ref)
        if not ref:
            problems.add(line, "person_id", "is empty")
        elif inline:
            person = _inline_person(ref, row, line, problems, tax)
        elif person is None:
            problems.add(line, "person_id", "is not in the people file")
        service_id = _clean(row.get("service_id"))
        if not service_id:
            problems.add(line, "service_id", "is empty")
        elif service_id not in service_ids:
            shown = service_id if len(service_id) <= 60 else service_id[:57] + "..."
            problems.add(line, "service_id", f"{shown!r} is not in the catalogue")
        rating = None
        try:
            rating = _parse_int(_clean(row.get("rating")))
        except ValueError:
            problems.add(line, "rating", "is not a whole number from 1 to 5")
        else:
            if not 1 <= rating <= 5:
                problems.add(line, "rating", f"{rating} is outside 1 to 5")
        when = None
        time_text = _clean(row.get("rated_at"))
        try:
            when = _parse_time(time_text)
        except (ValueError, OverflowError):
            problems.add(line, "rated_at", "is not an ISO 8601 date and time")
        if len(problems.problems) > n_before or person is None:
            continue
        if ref not in where:
            where[ref] = _locate(person)
        loc = where[ref]
        out["person_id"].append(ref)
        out["service_id"].append(service_id)
        out["rating"].append(rating)
        out["practitioner_id"].append(_clean(row.get("practitioner_id")) or None)
        out["rated_at"].append(when)
        out["age"].append(np.nan if person.age is None else float(person.age))
        out["sex"].append(person.sex)
        out["needs"].append(tuple(person.needs))
        out["strengths"].append(tuple(person.strengths))
        out["latitude"].append(np.nan if loc is None else loc[0])
        out["longitude"].append(np.nan if loc is None else loc[1])
    problems.raise_if_any()
    return _frame(out)


def _inline_person(
    ref: str, row: Mapping[str, str], line: int, problems: _Collector, tax: Taxonomy | None
) -> Person | None:
    n_before = len(problems.problems)
    fields = _person_fields(row, line, problems, tax or load_taxonomy(), None)
    if len(problems.problems) > n_before:
        return None
    try:
        return Person(reference=ref, **fields)
    except ValidationError as error:
        for err in error.errors():
            problems.add(line, str(err["loc"][0]) if err["loc"] else "row", err["msg"])
        return None


def _frame(columns: Mapping[str, list]) -> pd.DataFrame:
    frame = pd.DataFrame({c: pd.Series(columns[c], dtype=object) for c in TRAINING_COLUMNS})
    frame["rating"] = frame["rating"].astype("int64")
    frame["rated_at"] = pd.to_datetime(frame["rated_at"], utc=True).astype("datetime64[ns, UTC]")
    for c in ("age", "latitude", "longitude"):
        frame[c] = frame[c].astype(float)
    return frame


def _locate(person: Person) -> tuple[float, float] | None:
    if person.latitude is not None and person.longitude is not None:
        return (float(person.latitude), float(person.longitude))
    if not person.postcode:
        return None
    from vcsmatch.features.location import locate

    try:
        return locate(person)
    except PostcodeError:
        return None  # read_people already refuses unknown postcodes when asked to check


def write_ratings(path: str | Path, ratings: pd.DataFrame) -> Path:
    """Write RATINGS.csv from a training frame (times as ISO 8601 UTC with ``Z``)."""
    path = Path(path)
    with path.open("w", newline="", encoding="utf-8") as fh:
        out = csv.writer(fh)
        out.writerow(RATINGS_COLUMNS)
        for row in ratings[list(RATINGS_COLUMNS)].itertuples(index=False):
            when = pd.Timestamp(row.rated_at)
            when = when.tz_localize("UTC") if when.tzinfo is None else when.tz_convert("UTC")
            out.writerow(
                [
                    row.person_id,
                    row.service_id,
                    int(row.rating),
                    row.practitioner_id if isinstance(row.practitioner_id, str) else "",
                    when.strftime("%Y-%m-%dT%H:%M:%SZ"),
                ]
            )
    return path


# --------------------------------------------------------------------------- recommendations


def write_recommendations(
    path: str | Path,
    rows: Mapping[str, Sequence[Suggestion]] | Iterable[tuple[str, Sequence[Suggestion]]],
) -> Path:
    """Write RECS.csv: one line per suggestion, ``rows`` being ``person_id -> suggestions``
    (a mapping or ``(person_id, suggestions)`` pairs), in rank order."""
    path = Path(path)
    pairs = rows.items() if isinstance(rows, Mapping) else rows
    with path.open("w", newline="", encoding="utf-8") as fh:
        out = csv.writer(fh)
        out.writerow(RECS_COLUMNS)
        for person_id, suggestions in pairs:
            for s in suggestions:
                out.writerow(
                    [
                        person_id,
                        s.rank,
                        s.service_id,
                        f"{s.score:.6f}",
                        "; ".join(r.text for r in s.reasons),
                    ]
                )
    return path


def read_recommendations(path: str | Path) -> pd.DataFrame:
    """Read RECS.csv back (for tests and downstream tools); ``reasons`` stay one string."""
    source, rows = _read_rows(path, RECS_COLUMNS)
    problems = _Collector(source)
    records = []
    for line, row in rows:
        try:
            records.append(
                {
                    "person_id": _clean(row["person_id"]),
                    "rank": _parse_int(_clean(row["rank"])),
                    "service_id": _clean(row["service_id"]),
                    "score": _parse_float(_clean(row["score"])),
                    "reasons": _clean(row["reasons"]),
                }
            )
        except ValueError:
            problems.add(line, "rank", "rank or score is not a number")
    problems.raise_if_any()
    return pd.DataFrame.from_records(records, columns=list(RECS_COLUMNS))

"""PEOPLE.csv, RATINGS.csv and RECS.csv: readers that name every bad line, and writers."""

from __future__ import annotations

import contextlib
from pathlib import Path

import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from vcsmatch.catalogue.model import Catalogue, Service
from vcsmatch.errors import DataError
from vcsmatch.features.person import Person
from vcsmatch.files import (
    MAX_LISTED,
    BadRows,
    read_people,
    read_ratings,
    read_recommendations,
    write_people,
    write_ratings,
    write_recommendations,
)
from vcsmatch.ranking.result import Reason, Suggestion
from vcsmatch.ratings import TRAINING_COLUMNS

PEOPLE_HEADER = "person_id,postcode,latitude,longitude,age,sex,needs,strengths\n"
RATINGS_HEADER = "person_id,service_id,rating,practitioner_id,rated_at\n"


def write(tmp_path: Path, name: str, text: str, encoding: str = "utf-8") -> Path:
    path = tmp_path / name
    path.write_bytes(text.encode(encoding))
    return path


@pytest.fixture
def catalogue() -> Catalogue:
    return Catalogue(
        services=[Service(id="s1", name="Lunch club"), Service(id="s2", name="Men's shed")]
    )


def test_people_file_reads_every_location_form(tmp_path: Path):
    """Postcode, coordinates, both or neither are all valid; codes split on ';'."""
    path = write(
        tmp_path,
        "people.csv",
        PEOPLE_HEADER
        + "a,ip1 1aa,,,72,female,social-isolation;dementia,gardening\n"
        + "b,,52.05,1.15,45,M,mental-wellbeing,\n"
        + "c,,,,,,,\n"
        + "d,IP1 1AF,52.0545,1.1509,90,not recorded,nutrition,music; reading\n",
    )
    a, b, c, d = read_people(path)
    assert (a.reference, a.postcode, a.latitude, a.age, a.sex) == (
        "a",
        "IP1 1AA",
        None,
        72,
        "female",
    )
    assert a.needs == ["social-isolation", "dementia"] and a.strengths == ["gardening"]
    assert (b.latitude, b.longitude, b.sex, b.strengths) == (52.05, 1.15, "male", [])
    assert not c.has_location and c.sex == "not_recorded" and c.age is None
    assert d.strengths == ["music", "reading"] and d.sex == "not_recorded"


def test_byte_order_mark_and_extra_columns_are_normal(tmp_path: Path):
    """A UTF-8 BOM (Excel's CSV) and unknown extra columns do not stop a read."""
    path = write(
        tmp_path,
        "people.csv",
        "\ufeffperson_id,age,sex,needs,strengths,notes,postcode,latitude,longitude\n"
        "a,70,female,carer-support,,ignored,,,\n",
    )
    (person,) = read_people(path)
    assert person.reference == "a" and person.needs == ["carer-support"]


def test_every_bad_people_row_is_reported_with_its_line_and_field(tmp_path: Path):
    """All problems come back at once, each with its line number and field, none with a
    person's values (an unknown taxonomy code is named)."""
    path = write(
        tmp_path,
        "people.csv",
        PEOPLE_HEADER
        + "ok,,,,70,female,dementia,\n"  # line 2
        + "bad-age,,,,seventy,female,dementia,\n"  # line 3
        + "bad-sex,,,,70,robot,dementia,\n"  # line 4
        + "bad-code,,,,70,male,secret-need,\n"  # line 5
        + "ok,,,,70,male,dementia,\n"  # line 6: duplicate id
        + "half,,52.0,,70,male,dementia,\n"  # line 7
        + "bad-pc,ZZ9 9ZZ,,,70,male,dementia,\n",  # line 8
    )
    with pytest.raises(DataError) as caught:
        read_people(path)
    err = caught.value
    assert isinstance(err, BadRows)
    found = {(p.line, p.field) for p in err.problems}
    assert found == {
        (3, "age"),
        (4, "sex"),
        (5, "needs"),
        (6, "person_id"),
        (7, "latitude"),
        (8, "postcode"),
    }
    message = str(err)
    assert "people.csv" in message and "line 5" in message and "'needs'" in message
    for personal in ("seventy", "robot", "ZZ9"):
        assert personal not in message
    # A code outside the taxonomy is the analyst's typo in their own file, not one of the
    # person's needs: it is named, so it can be found and fixed (issue 17, finding 10).
    assert "'secret-need' is not a need code" in message
    assert (err.line, err.field) == (3, "age")


def test_the_message_lists_the_first_20_problems_and_counts_the_rest(tmp_path: Path):
    """A file full of errors gives a readable message: 20 listed, the rest counted."""
    rows = "".join(f"p{i},,,,old,female,,\n" for i in range(30))
    with pytest.raises(BadRows) as caught:
        read_people(write(tmp_path, "people.csv", PEOPLE_HEADER + rows))
    assert len(caught.value.problems) == 30
    assert str(caught.value).count("field 'age'") == MAX_LISTED
    assert "and 10 more" in str(caught.value)


def test_missing_column_wrong_field_count_and_bad_encoding_are_data_errors(tmp_path: Path):
    """Structural problems name the line too: header columns, ragged rows, non-UTF-8 bytes."""
    with pytest.raises(BadRows) as caught:
        read_ratings(write(tmp_path, "r.csv", "person_id,service_id\nx,s1\n"), [], Catalogue())
    assert {(p.line, p.field) for p in caught.value.problems} == {
        (1, "rating"),
        (1, "practitioner_id"),
        (1, "rated_at"),
    }
    with pytest.raises(BadRows) as caught:
        read_people(write(tmp_path, "p.csv", PEOPLE_HEADER + "a,,,,70,female,,\nb,,,\n"))
    assert (caught.value.line, caught.value.field) == (3, "row")
    with pytest.raises(BadRows) as caught:
        read_people(
            write(
                tmp_path,
                "p.csv",
                PEOPLE_HEADER + "a,,,,70,femme,,\nb,,,,7é,,,\n",
                encoding="latin-1",
            )
        )
    assert (caught.value.line, caught.value.field) == (3, "file")
    with pytest.raises(BadRows) as caught:
        read_people(write(tmp_path, "p.csv", ""))
    assert caught.value.field == "header"


def test_ratings_join_person_features_and_locate_postcodes(tmp_path: Path, catalogue):
    """Each rating carries the person's features; a postcode-only person gets coordinates."""
    people = [
        Person(reference="a", postcode="IP1 1AA", age=80, sex="female", needs=["dementia"]),
        Person(reference="b", latitude=52.0, longitude=1.0, strengths=["music"]),
        Person(reference="c"),
    ]
    path = write(
        tmp_path,
        "ratings.csv",
        RATINGS_HEADER
        + "a,s1,5,prac-1,2025-03-01T10:00:00Z\n"
        + "b,s2,1,,2025-03-01T11:00:00+01:00\n"
        + "c,s1,3,prac-2,2025-03-02\n"
        + "c,s2,4,,881250949\n",
    )
    frame = read_ratings(path, people, catalogue)
    assert tuple(frame.columns) == TRAINING_COLUMNS
    assert frame["rating"].tolist() == [5, 1, 3, 4]
    assert frame["practitioner_id"].tolist() == ["prac-1", None, "prac-2", None]
    assert frame["rated_at"].tolist() == [
        pd.Timestamp("2025-03-01T10:00:00Z"),
        pd.Timestamp("2025-03-01T10:00:00Z"),
        pd.Timestamp("2025-03-02T00:00:00Z"),
        pd.Timestamp("1997-12-04T15:55:49Z"),  # Unix seconds, as MovieLens writes them
    ]
    assert frame.loc[0, "needs"] == ("dementia",) and frame.loc[1, "strengths"] == ("music",)
    assert 52.0 < frame.loc[0, "latitude"] < 52.1 and 1.1 < frame.loc[0, "longitude"] < 1.2
    assert frame.loc[1, "latitude"] == 52.0
    assert pd.isna(frame.loc[2, "latitude"]) and pd.isna(frame.loc[2, "age"])


def test_bad_ratings_rows_are_all_reported(tmp_path: Path, catalogue):
    """Unknown service or person, rating out of range, unparseable time: each with its line."""
    people = [Person(reference="a")]
    path = write(
        tmp_path,
        "ratings.csv",
        RATINGS_HEADER
        + "a,s1,4,,2025-01-01T00:00:00Z\n"  # 2 ok
        + "a,nope,4,,2025-01-01T00:00:00Z\n"  # 3
        + "a,s1,6,,2025-01-01T00:00:00Z\n"  # 4
        + "a,s1,4.5,,2025-01-01T00:00:00Z\n"  # 5
        + "a,s1,4,,yesterday\n"  # 6
        + "zz,s1,4,,2025-01-01T00:00:00Z\n",  # 7
    )
    with pytest.raises(BadRows) as caught:
        read_ratings(path, people, catalogue)
    assert [(p.line, p.field) for p in caught.value.problems] == [
        (3, "service_id"),
        (4, "rating"),
        (5, "rating"),
        (6, "rated_at"),
        (7, "person_id"),
    ]
    assert "'nope' is not in the catalogue" in str(caught.value)


def test_people_and_ratings_writers_round_trip(tmp_path: Path, catalogue):
    """What the writers produce, the readers read back unchanged."""
    people = [
        Person(reference="a", postcode="IP1 1AA", age=80, sex="female", needs=["dementia"]),
        Person(reference="b", latitude=52.5, longitude=1.25, strengths=["music", "reading"]),
    ]
    back = read_people(write_people(tmp_path / "people.csv", people))
    assert [p.model_dump() for p in back] == [p.model_dump() for p in people]
    ratings = pd.DataFrame(
        {
            "person_id": ["a", "b"],
            "service_id": ["s1", "s2"],
            "rating": [4, 2],
            "practitioner_id": ["x", None],
            "rated_at": pd.to_datetime(["2025-01-01T09:30:00Z", "2025-02-01T10:00:00Z"]),
        }
    )
    frame = read_ratings(write_ratings(tmp_path / "ratings.csv", ratings), back, catalogue)
    assert frame["rating"].tolist() == [4, 2]
    assert frame["rated_at"].tolist() == ratings["rated_at"].tolist()
    assert frame["practitioner_id"].tolist() == ["x", None]


def test_recommendations_file_has_the_contract_columns(tmp_path: Path):
    """RECS.csv: person_id,rank,service_id,score,reasons with reasons joined by '; '."""
    suggestions = [
        Suggestion(
            "s1",
            0.9,
            1,
            reasons=(
                Reason("need", "meets need: dementia", 0.5),
                Reason("distance", "1.2 km away", 0.1),
            ),
        ),
        Suggestion("s2", 0.4, 2),
    ]
    path = write_recommendations(tmp_path / "recs.csv", {"p1": suggestions, "p2": []})
    assert path.read_text().splitlines()[0] == "person_id,rank,service_id,score,reasons"
    recs = read_recommendations(path)
    assert recs["service_id"].tolist() == ["s1", "s2"]
    assert recs.loc[0, "reasons"] == "meets need: dementia; 1.2 km away"
    assert recs["rank"].tolist() == [1, 2]


@settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(data=st.binary(max_size=400))
def test_arbitrary_bytes_raise_only_data_error(tmp_path: Path, data: bytes):
    """Malformed, truncated or wrongly encoded input never raises anything but DataError."""
    path = tmp_path / "fuzz.csv"
    path.write_bytes(data)
    for read in (
        lambda: read_people(path, check_postcodes=False),
        lambda: read_ratings(path, [Person(reference="a")], Catalogue()),
    ):
        with contextlib.suppress(DataError):
            read()


_cell = st.text(alphabet=st.sampled_from(list('ab1;,."\n\r -:Z9é\ufeff')), max_size=12)


@settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(rows=st.lists(st.lists(_cell, min_size=0, max_size=9), max_size=6), cut=st.integers(0, 400))
def test_csv_shaped_garbage_raises_only_data_error(tmp_path: Path, rows, cut: int):
    """Header-valid files with junk or truncated rows give DataError or valid people."""
    text = PEOPLE_HEADER + "\n".join(",".join(r) for r in rows)
    path = tmp_path / "people.csv"
    path.write_text(text[: len(PEOPLE_HEADER) + cut], encoding="utf-8")
    try:
        people = read_people(path)
    except DataError:
        return
    assert all(isinstance(p, Person) for p in people)

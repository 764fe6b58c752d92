"""The privacy notice over real HTTP, held to the store's schema: every column that describes
a person is named in the notice's item for its table, and a new one fails here until the
notice says it is stored (the request log's postcode district among them)."""

from __future__ import annotations

import html
import re

from fastapi.testclient import TestClient

from vcsmatch.store.tables import RatingRow, RecommendationRequestRow

#: Columns about the person -> the words the notice uses for them.
PERSON = {
    "age": "age",
    "sex": "sex",
    "needs": "need and strength codes",
    "strengths": "need and strength codes",
    "latitude": "location rounded to about 100 metres",
    "longitude": "location rounded to about 100 metres",
    "district": "outward code of the postcode",
    "person_key": "keyed hash",
}
#: Columns about the request or the rating, not the person -> the words for them (or None:
#: bookkeeping no one is told about, such as row ids and idempotency digests).
OTHER = {
    "request_id": None,
    "created_at": None,
    "model_version": None,
    "service_ids": "the services suggested",
    "api_key_id": "staff key",
    "id": None,
    "idempotency_key": None,
    "body_sha256": None,
    "service_id": "ratings of suggestions",
    "rating": "ratings of suggestions",
    "comment_codes": "reason codes",
    "practitioner_id": "practitioner reference",
    "key_scope": None,
    "rated_at": None,
    "referral_id": "referrals",
}


def _items(page: str) -> dict[str, str]:
    """The notice's list items by id, as plain text."""
    found = re.findall(r'<li id="([^"]+)">(.*?)</li>', page, flags=re.S)
    return {name: html.unescape(re.sub(r"<[^>]+>", "", text)) for name, text in found}


def test_the_privacy_notice_names_everything_stored_about_a_person(
    app_client: TestClient,
) -> None:
    answer = app_client.get("/privacy")
    assert answer.status_code == 200
    items = _items(answer.text)
    whole = html.unescape(re.sub(r"<[^>]+>", "", answer.text))
    for item, table in (
        ("stored-requests", RecommendationRequestRow),
        ("stored-ratings", RatingRow),
    ):
        for column in [c.name for c in table.__table__.columns]:
            assert column in PERSON or column in OTHER, (
                f"{table.__tablename__}.{column} is new: say in the privacy notice whether it "
                "is stored about the person, then list it here"
            )
            words = PERSON.get(column) or OTHER.get(column)
            if column in PERSON and column != "person_key":
                assert words in items[item], (item, column)
            elif words is not None:
                assert words in whole, (item, column)
    assert "district" not in RatingRow.__table__.columns
    assert "not the postcode district" in items["stored-ratings"]
    assert "keyed hash" in whole and "Never a name, an address, a full postcode" in whole
    assert "memory only" in items["stored-find"]
    for heading in ("What is stored", "lawful basis", "How long it is kept", "Who can see it"):
        assert heading in whole
    assert "Care Act 2014, section 5" in whole  # the basis for the district counts
    managers = next(t for t in re.findall(r"<li>(.*?)</li>", answer.text) if "Managers" in t)
    assert "postcode district" in managers and "under 10 hidden" in managers

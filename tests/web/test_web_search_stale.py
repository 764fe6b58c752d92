"""The search page shows a stale listing's reason ("last checked N months ago"), over real
HTTP through the ASGI app."""

from __future__ import annotations

import re

from fastapi.testclient import TestClient
from web_helpers import WebWorld, signed_in

from api.main import create_app


def test_search_page_says_when_a_listing_was_last_checked(web_world: WebWorld) -> None:
    """With the setting at 1 month every reviewed listing is stale: the page says so for the
    matches; with it at 1000 months, for none."""
    seen = {}
    for after in (1, 1000):
        settings = web_world.settings.model_copy(update={"stale_after_months": after})
        with TestClient(create_app(settings), base_url="http://testserver") as client:
            csrf = signed_in(client, web_world.front_door_key)
            page = client.post(
                "/search",
                data={"csrf_token": csrf, "submitted": "1", "postcode": web_world.postcode}
                | {"radius": "20", "include_remote": "yes"},
            )
            assert page.status_code == 200
            seen[after] = re.findall(r"last checked (\d+) months ago", page.text)
    assert seen[1] and all(int(m) >= 1 for m in seen[1])
    assert seen[1000] == []

"""Referrals on the web page: "Refer" beside each suggestion, the open referrals page, and
moving a referral on until it is no longer open."""

from __future__ import annotations

import re

import pytest
from fastapi.testclient import TestClient
from web_helpers import WebWorld, signed_in

from vcsmatch.store import api_keys, recommendation_log, referrals
from vcsmatch.store.db import open_store


def test_refer_from_suggestions_then_record_the_outcome(
    app_client: TestClient, web_world: WebWorld
) -> None:
    app_client.cookies.clear()
    csrf = signed_in(app_client, web_world.practitioner_key)
    made = app_client.post(
        "/suggest",
        data={"csrf_token": csrf, "action": "suggest", "postcode": web_world.postcode}
        | {"age": "70", "needs": ["social-isolation"]},
        follow_redirects=False,
    )
    location = made.headers["location"]
    request_id = location.rsplit("/", 1)[1]
    page = app_client.get(location)
    assert page.text.count(f'action="/suggestions/{request_id}/referrals"') >= 1
    with open_store(web_world.settings)() as s:
        service_id = recommendation_log.get_request(s, request_id).service_ids[0]

    refused = app_client.post(
        f"/suggestions/{request_id}/referrals", data={"csrf_token": "x", "service_id": service_id}
    )
    assert refused.status_code == 400  # an expired or forged form refers nobody
    referred = app_client.post(
        f"/suggestions/{request_id}/referrals",
        data={"csrf_token": csrf, "service_id": service_id},
        follow_redirects=False,
    )
    assert referred.status_code == 303
    listing = app_client.get(referred.headers["location"])
    assert "Referral recorded" in listing.text
    referral_id = int(re.search(r'action="/referrals/(\d+)"', listing.text).group(1))
    not_ours = app_client.post(
        f"/suggestions/{request_id}/referrals",
        data={"csrf_token": csrf, "service_id": "no-such-service"},
    )
    assert not_ours.status_code == 404

    for status in ("accepted", "attended"):
        moved = app_client.post(
            f"/referrals/{referral_id}",
            data={"csrf_token": csrf, "status": status, "reason": ""},
            follow_redirects=False,
        )
        assert moved.status_code == 303, moved.text
    assert f'action="/referrals/{referral_id}"' not in app_client.get("/referrals").text
    with open_store(web_world.settings)() as s:
        key_id = api_keys.verify_key(s, web_world.practitioner_key).id
        record = referrals.get_referral(s, referral_id, api_key_id=key_id)
    assert record.status == "attended"


@pytest.mark.browser
def test_refer_in_the_browser_and_the_referrals_page_is_accessible(
    browser, live_server: str, web_world: WebWorld, axe_source: str | None
) -> None:
    """Suggest, click "Refer", land on the open referrals page (axe clean), record acceptance."""
    from test_web_browser import check_accessibility, sign_in

    context = browser.new_context(base_url=live_server, viewport={"width": 1200, "height": 1500})
    try:
        page = context.new_page()
        sign_in(page, web_world.practitioner_key)
        page.get_by_role("link", name="Suggest for a person").click()
        page.get_by_label("Postcode").fill(web_world.postcode)
        page.get_by_label("Age (optional)").fill("66")
        page.get_by_label("Social isolation and loneliness").check()
        page.get_by_role("button", name="Get suggestions").click()
        page.wait_for_url("**/suggestions/*")
        page.locator(".app-result").first.get_by_role(
            "button", name=re.compile("^Refer to ")
        ).click()
        page.wait_for_url("**/referrals?referred=*")
        assert "Referral recorded" in page.locator("main").inner_text()
        check_accessibility(page, axe_source)
        first = page.locator(".app-result").first
        first.get_by_role("combobox", name=re.compile("^What happened")).select_option("accepted")
        first.get_by_role("button", name=re.compile("^Update ")).click()
        page.wait_for_url("**/referrals")
        assert "Accepted by the service" in page.locator("main").inner_text()
        check_accessibility(page, axe_source)
    finally:
        context.close()

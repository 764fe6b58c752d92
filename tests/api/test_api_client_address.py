"""The client address per-address limits go by (``api.ratelimit.client_address``), through
the failed-key throttle over HTTP: ``X-Forwarded-For`` counts only from a trusted proxy
(``Settings.trusted_proxies``), read from the right."""

from __future__ import annotations

import pytest
from api_helpers import clone
from fastapi.testclient import TestClient

from api.main import create_app
from api.ratelimit import client_address, proxy_networks
from vcsmatch.settings import Settings

BAD = {"Authorization": "Bearer vcs_guess"}
PROXY = ("10.0.0.5", 40000)


def _scope(peer: str, *forwarded: str) -> dict[str, object]:
    headers = [(b"x-forwarded-for", value.encode()) for value in forwarded]
    return {"type": "http", "client": (peer, 1234), "headers": headers}


@pytest.mark.parametrize(
    ("peer", "forwarded", "expected"),
    [
        ("203.0.113.9", ["198.51.100.1"], "203.0.113.9"),  # untrusted peer: header ignored
        ("10.0.0.5", [], "10.0.0.5"),  # trusted, no header: the proxy itself
        ("10.0.0.5", ["198.51.100.1"], "198.51.100.1"),
        ("10.0.0.5", ["6.6.6.6, 198.51.100.1"], "198.51.100.1"),  # left hops are the client's
        ("10.0.0.5", ["6.6.6.6", "198.51.100.1, 10.1.2.3"], "198.51.100.1"),  # two proxies
        ("10.0.0.5", ["10.1.0.9, 10.1.2.3"], "10.1.0.9"),  # every hop trusted: the leftmost
        ("10.0.0.5", ["198.51.100.1:5123"], "198.51.100.1"),
        ("10.0.0.5", ["[2001:db8::7]:443"], "2001:db8::7"),
        ("10.0.0.5", ["6.6.6.6, not-an-address"], "10.0.0.5"),  # stops at the proxy
        ("::ffff:10.0.0.5", ["198.51.100.1"], "198.51.100.1"),
        ("testclient", ["198.51.100.1"], "testclient"),
    ],
)
def test_client_address_believes_only_trusted_hops(
    peer: str, forwarded: list[str], expected: str
) -> None:
    trusted = proxy_networks(["10.0.0.5", "10.1.0.0/16"])
    assert client_address(_scope(peer, *forwarded), trusted) == expected


def test_client_address_ignores_the_header_without_trusted_proxies() -> None:
    assert client_address(_scope("10.0.0.5", "198.51.100.1")) == "10.0.0.5"


def test_trusted_proxies_setting_reads_a_list_and_refuses_a_bad_entry(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("VCSMATCH_TRUSTED_PROXIES", "10.0.0.5, 10.1.0.0/16")
    assert [str(n) for n in Settings().trusted_proxies] == ["10.0.0.5/32", "10.1.0.0/16"]
    monkeypatch.setenv("VCSMATCH_TRUSTED_PROXIES", '["::1"]')
    assert [str(n) for n in Settings().trusted_proxies] == ["::1/128"]
    monkeypatch.setenv("VCSMATCH_TRUSTED_PROXIES", "nginx")
    with pytest.raises(ValueError, match="trusted_proxies"):
        Settings()
    monkeypatch.delenv("VCSMATCH_TRUSTED_PROXIES")
    assert Settings().trusted_proxies == []


def _statuses(client: TestClient, forwarded: list[str]) -> list[int]:
    return [
        client.get("/v1/taxonomy", headers={**BAD, "X-Forwarded-For": f}).status_code
        for f in forwarded
    ]


def test_a_spoofed_forwarded_for_from_an_untrusted_peer_does_not_escape_the_throttle(
    world, tmp_path, sqlite_template
) -> None:
    """A guesser sending a new X-Forwarded-For each time is still one address."""
    own = next(clone(sqlite_template, tmp_path, world))
    settings = own.settings.model_copy(
        update={"max_failed_key_checks_per_minute": 3, "trusted_proxies": ["10.0.0.5"]}
    )
    with TestClient(create_app(settings), client=("203.0.113.9", 5000)) as client:
        spoofed = [f"198.51.100.{i}" for i in range(5)]
        assert _statuses(client, spoofed) == [401, 401, 401, 429, 429]


def test_behind_a_trusted_proxy_each_resident_has_their_own_throttle(
    world, tmp_path, sqlite_template
) -> None:
    """Through the proxy, one resident's failed checks do not block another's; a resident
    adding hops to the left of the proxy's own is still themselves."""
    own = next(clone(sqlite_template, tmp_path, world))
    settings = own.settings.model_copy(
        update={"max_failed_key_checks_per_minute": 3, "trusted_proxies": ["10.0.0.0/24"]}
    )
    with TestClient(create_app(settings), client=PROXY) as client:
        first = ["198.51.100.1", "6.6.6.6, 198.51.100.1", "198.51.100.1", "7.7.7.7, 198.51.100.1"]
        assert _statuses(client, first) == [401, 401, 401, 429]
        assert _statuses(client, ["198.51.100.2"]) == [401]
        analyst = client.get(
            "/v1/taxonomy", headers={**own.auth("analyst"), "X-Forwarded-For": "198.51.100.2"}
        )
        assert analyst.status_code == 200

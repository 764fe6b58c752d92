"""Schemathesis against the app's own OpenAPI document: valid and invalid requests to every
operation, with a key of a role the operation admits; no 5xx, every status and body as declared.

SQLite only (the PostgreSQL backend is exercised by every other API test); the example budget
keeps the whole run well under two minutes.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import schemathesis
from api_helpers import Seed, Template, clone
from fastapi.testclient import TestClient
from schemathesis.checks import not_a_server_error
from schemathesis.python import asgi
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    negative_data_rejection,
    response_schema_conformance,
    status_code_conformance,
)

from api.main import create_app
from vcsmatch.settings import Settings

MAX_EXAMPLES = 15
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
    negative_data_rejection,
]


@pytest.fixture(scope="module")
def fuzz_seed(sqlite_template: Template, world, tmp_path_factory) -> Iterator[Seed]:
    """A store of its own: fuzzing imports catalogues and creates keys."""
    yield from clone(sqlite_template, tmp_path_factory.mktemp("fuzz"), world)


class LiveApp:
    """The ASGI app Schemathesis is given: it forwards each request to the real app that the
    ``fuzz_client`` fixture started (lifespan, store and model included).

    Schemathesis binds its transport to an app when the tests are collected, before any
    fixture has made a store; this stand-in is that app. Its own lifespan does nothing: the
    real app's lifespan runs in the fixture's TestClient.
    """

    def __init__(self) -> None:
        self.target = None

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] == "lifespan":
            while True:
                message = await receive()
                if message["type"] == "lifespan.startup":
                    await send({"type": "lifespan.startup.complete"})
                elif message["type"] == "lifespan.shutdown":
                    await send({"type": "lifespan.shutdown.complete"})
                    return
        if self.target is None:
            raise RuntimeError("the fuzz_client fixture has not started the app")
        await self.target(scope, receive, send)


live_app = LiveApp()


def _load_schema() -> schemathesis.BaseSchema:
    """The app's OpenAPI document (built, not started, at collection time), served by
    ``live_app``. (``schemathesis.pytest.from_fixture`` would be the natural fit, but it relies
    on a pytest attribute that pytest 9 removed.)"""
    doc = create_app(Settings(database_url="sqlite://")).openapi()
    loaded = schemathesis.openapi.from_dict(doc)
    loaded.app = live_app
    loaded.config.generation.update(
        modes=[schemathesis.GenerationMode.POSITIVE, schemathesis.GenerationMode.NEGATIVE],
        max_examples=MAX_EXAMPLES,
        database="none",
        deterministic=True,
    )
    # Refusing an invalid request as too large (413) is a rejection too.
    loaded.config.checks.negative_data_rejection.expected_statuses = [
        "400",
        "401",
        "403",
        "404",
        "405",
        "406",
        "409",
        "413",
        "415",
        "422",
        "428",
        "429",
    ]
    # Revoking a random key id could revoke the key the fuzzer itself uses.
    loaded.config.update(parameters={"key_id": 999_999})
    return loaded


schema = _load_schema()


@pytest.fixture(scope="module")
def fuzz_client(fuzz_seed: Seed) -> Iterator[TestClient]:
    """The real app on the module's store, lifespan running; ``live_app`` forwards to it."""
    with TestClient(create_app(fuzz_seed.settings), raise_server_exceptions=False) as client:
        live_app.target = client.app
        try:
            yield client
        finally:
            live_app.target = None
            asgi.shutdown_lifespans()


@schema.parametrize()
def test_openapi_contract_holds_for_generated_requests(
    case, fuzz_seed: Seed, fuzz_client: TestClient
) -> None:
    """Generated requests (valid and invalid) never get a 5xx or an undeclared answer."""
    roles = case.operation.definition.raw.get("x-roles") or []
    headers = fuzz_seed.auth(roles[0]) if roles else {}
    case.call_and_validate(headers=headers, checks=CHECKS)

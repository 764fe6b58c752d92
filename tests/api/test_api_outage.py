"""The database going away: 503 problems with Retry-After, never a 500; liveness unaffected."""

from __future__ import annotations

import psycopg
from api_helpers import POSTGRES_ADMIN_URL, Template, clone


def test_database_gone_answers_503_not_500(
    postgres_template: Template, world, tmp_path, start_app
) -> None:
    """With its PostgreSQL database dropped under it, the API answers 503 problems."""
    for seed in clone(postgres_template, tmp_path, world):
        client = start_app(seed.settings)
        headers = seed.auth("practitioner")
        assert client.get("/v1/services", headers=headers).status_code == 200
        name = seed.settings.database_url.rsplit("/", 1)[1]
        admin = POSTGRES_ADMIN_URL.replace("postgresql+psycopg://", "postgresql://")
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE "{name}" WITH (FORCE)')
        for response, problem in (
            (client.get("/v1/services", headers=headers), "/problems/unavailable"),
            (client.post("/v1/recommendations", json={}, headers=headers), "/problems/unavailable"),
            (client.get("/ready"), "/problems/not-ready"),
        ):
            assert response.status_code == 503, response.text
            assert response.headers["content-type"] == "application/problem+json"
            assert response.json()["type"] == problem
            assert int(response.headers["retry-after"]) >= 1
        assert client.get("/health").status_code == 200

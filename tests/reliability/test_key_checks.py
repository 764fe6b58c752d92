"""How API keys are checked: by hash, then compared in constant time.

Timing assertions would be flaky on shared machines, so this checks the construction that makes
the comparison constant-time: the store is searched by the key's SHA-256 (never by the key),
and the stored digest is compared with ``hmac.compare_digest``, whose running time does not
depend on where two digests first differ.
"""

from __future__ import annotations

import hmac
from pathlib import Path

import pytest
from sqlalchemy import event, text

from vcsmatch.store import api_keys
from vcsmatch.store.db import dispose_engines, get_engine, open_store


@pytest.fixture
def store(database_url: str, tmp_path: Path):
    from vcsmatch.settings import Settings

    settings = Settings(database_url=database_url, data_dir=tmp_path)
    yield open_store(settings), get_engine(settings)
    dispose_engines()


def test_keys_are_looked_up_by_hash_and_compared_in_constant_time(
    store, monkeypatch: pytest.MonkeyPatch
) -> None:
    """verify_key sends the database only the key's SHA-256, and compares digests with
    hmac.compare_digest, for a right key and a wrong one alike."""
    sessions, engine = store
    with sessions() as session:
        plaintext, record = api_keys.create_key(session, "practitioner", "timing")
    compared: list[tuple[str, str]] = []
    original = hmac.compare_digest

    def recording_compare(a: str, b: str) -> bool:
        compared.append((a, b))
        return original(a, b)

    monkeypatch.setattr(api_keys.hmac, "compare_digest", recording_compare)
    sent: list[str] = []

    def capture(conn, cursor, statement, parameters, context, executemany) -> None:  # noqa: ANN001
        sent.append(f"{statement} {parameters!r}")

    event.listen(engine, "before_cursor_execute", capture)
    try:
        with sessions() as session:
            assert api_keys.verify_key(session, plaintext).id == record.id
            wrong = plaintext[:-1] + ("A" if plaintext[-1] != "A" else "B")
            assert api_keys.verify_key(session, wrong) is None
    finally:
        event.remove(engine, "before_cursor_execute", capture)
    digest = api_keys.hash_key(plaintext)
    assert (digest, digest) in compared
    assert not any(plaintext in s or wrong in s for s in sent), "a key reached the database"
    assert any(digest in s for s in sent)
    with engine.connect() as conn:
        stored = [" ".join(map(str, r)) for r in conn.execute(text("SELECT * FROM api_keys"))]
    assert not any(plaintext in row for row in stored)

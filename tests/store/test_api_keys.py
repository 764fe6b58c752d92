"""API keys: shown once, stored hashed, revoked at once everywhere."""

from __future__ import annotations

import pytest
from sqlalchemy import Engine, text
from sqlalchemy.orm import Session

from vcsmatch.errors import NotFoundError
from vcsmatch.store import api_keys, db


def test_created_key_verifies_with_its_role(session: Session) -> None:
    """The plaintext returned once verifies to the key's record and role."""
    plaintext, record = api_keys.create_key(session, "practitioner", "Case team A")
    assert plaintext.startswith("vcs_") and len(plaintext) > 40
    found = api_keys.verify_key(session, plaintext)
    assert found == record
    assert (found.role, found.name, found.revoked) == ("practitioner", "Case team A", False)


def test_only_the_hash_is_stored(session: Session, engine: Engine) -> None:
    """No column holds the plaintext; the stored hash is its SHA-256."""
    plaintext, _ = api_keys.create_key(session, "admin", "ops")
    with engine.connect() as conn:
        rows = conn.execute(text("SELECT * FROM api_keys")).all()
    assert not any(plaintext in str(v) for row in rows for v in row)
    assert rows[0].key_sha256 == api_keys.hash_key(plaintext)


@pytest.mark.parametrize("guess", ["", "vcs_", "vcs_" + "A" * 43, "x" * 5000, None])
def test_wrong_or_malformed_keys_do_not_verify(session: Session, guess: str | None) -> None:
    """Unknown, empty, absent and absurdly long keys verify to None without raising."""
    api_keys.create_key(session, "analyst", "data team")
    assert api_keys.verify_key(session, guess) is None


def test_revoked_key_fails_at_once_in_another_engine(session: Session, database_url: str) -> None:
    """Revoking through one worker's engine stops the key in another's on its next check."""
    plaintext, record = api_keys.create_key(session, "front_door", "desk")
    other = db.make_engine(database_url)
    try:
        with db.session_factory(other)() as other_session:
            assert api_keys.verify_key(other_session, plaintext) is not None
            other_session.rollback()
            revoked = api_keys.revoke_key(session, record.id)
            assert revoked.revoked
            assert api_keys.verify_key(other_session, plaintext) is None
    finally:
        other.dispose()
    assert [k.revoked for k in api_keys.list_keys(session)] == [True]


def test_bad_role_and_unknown_key_id_are_refused(session: Session) -> None:
    """A role outside the four is a ValueError naming it; revoking an unknown id is NotFound."""
    with pytest.raises(ValueError, match="'superuser'"):
        api_keys.create_key(session, "superuser", "x")
    with pytest.raises(NotFoundError, match="42"):
        api_keys.revoke_key(session, 42)

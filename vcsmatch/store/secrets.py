"""The secret behind person keys, and the keyed hash itself.

A person reference (a case number in the caller's system) is never stored: ratings keep
``person_key(secret, reference)``, an HMAC-SHA256 that links one person's ratings together
without revealing who they are to anyone who lacks the secret. The secret is
``Settings.secret_key`` when an operator sets it, else generated once and kept in the store so
that every worker and machine sharing the database computes the same keys.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets as _secrets

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from vcsmatch.settings import Settings
from vcsmatch.store.db import begin_write
from vcsmatch.store.tables import StoreSecretRow

PERSON_KEY_SECRET = "person_key"


def person_key(secret: bytes, reference: str) -> str:
    """The keyed hash (hex HMAC-SHA256) stored in place of ``reference``."""
    return hmac.new(secret, reference.encode("utf-8"), hashlib.sha256).hexdigest()


def get_secret(session: Session, settings: Settings | None = None) -> bytes:
    """The person-key secret: ``settings.secret_key`` if set, else the store's (made once)."""
    if settings is not None and settings.secret_key:
        return settings.secret_key.encode("utf-8")
    row = session.get(StoreSecretRow, PERSON_KEY_SECRET)
    if row is not None:
        return row.value.encode("ascii")
    begin_write(session)
    row = session.get(StoreSecretRow, PERSON_KEY_SECRET)
    if row is None:
        try:
            session.add(StoreSecretRow(name=PERSON_KEY_SECRET, value=_secrets.token_hex(32)))
            session.commit()
        except IntegrityError:  # another process made it first: use theirs
            session.rollback()
    value = session.scalars(
        select(StoreSecretRow.value).where(StoreSecretRow.name == PERSON_KEY_SECRET)
    ).one()
    session.commit()
    return value.encode("ascii")

"""API keys: created once, shown once, stored only as a SHA-256 hash.

A key is 32 random bytes, so a plain (unsalted) SHA-256 is enough: there is nothing to guess.
``verify_key`` looks the hash up and compares it in constant time; it reads the database on
every call, so a revoked key stops working at once in every worker. The API checks keys
through ``key_cache.KeyCache`` instead, which remembers live keys and reads only the key
generation that ``revoke_key`` moves in the same transaction as the revocation.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import secrets
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Row, bindparam, select, update
from sqlalchemy.orm import Session

from vcsmatch.errors import NotFoundError
from vcsmatch.store import web_sessions
from vcsmatch.store.db import begin_write, single_statement
from vcsmatch.store.tables import ApiKeyRow, KeyGenerationRow, utcnow

ROLES: tuple[str, ...] = ("practitioner", "front_door", "analyst", "admin", "manager")
KEY_PREFIX = "vcs_"


@dataclass(frozen=True)
class ApiKeyRecord:
    """A key's public facts (never its plaintext or hash)."""

    id: int
    name: str
    role: str
    prefix: str
    created_at: dt.datetime
    revoked_at: dt.datetime | None

    @property
    def revoked(self) -> bool:
        return self.revoked_at is not None


#: The columns a record needs, and the digest to compare (``record_of`` reads such rows).
KEY_COLUMNS = (
    ApiKeyRow.id,
    ApiKeyRow.name,
    ApiKeyRow.role,
    ApiKeyRow.prefix,
    ApiKeyRow.created_at,
    ApiKeyRow.revoked_at,
    ApiKeyRow.key_sha256,
)
#: ``verify_key``'s one statement, built once (a Core select of those columns).
_BY_DIGEST = select(*KEY_COLUMNS).where(ApiKeyRow.key_sha256 == bindparam("digest"))


#: Moves the key generation (``key_cache``), in the transaction of the change it announces.
_NEXT_GENERATION = (
    update(KeyGenerationRow)
    .where(KeyGenerationRow.slot == 1)
    .values(generation=KeyGenerationRow.generation + 1)
)


def record_of(row: ApiKeyRow | Row[Any]) -> ApiKeyRecord:
    """The public facts of a key's row (an ORM row or a Core row with the same columns)."""
    return ApiKeyRecord(
        id=row.id,
        name=row.name,
        role=row.role,
        prefix=row.prefix,
        created_at=row.created_at,
        revoked_at=row.revoked_at,
    )


def hash_key(plaintext: str) -> str:
    return hashlib.sha256(plaintext.encode("utf-8")).hexdigest()


def create_key(session: Session, role: str, name: str) -> tuple[str, ApiKeyRecord]:
    """A new key for ``role``; returns ``(plaintext, record)``. The plaintext is not kept."""
    if role not in ROLES:
        raise ValueError(
            f"The 'role' parameter of create_key must be one of {', '.join(ROLES)}. "
            f"Got {role!r} instead."
        )
    name = name.strip()
    if not name or len(name) > 200:
        raise ValueError("The 'name' parameter of create_key must be 1 to 200 characters.")
    plaintext = KEY_PREFIX + secrets.token_urlsafe(32)
    begin_write(session)
    row = ApiKeyRow(
        name=name,
        role=role,
        key_sha256=hash_key(plaintext),
        prefix=plaintext[: len(KEY_PREFIX) + 6],
    )
    session.add(row)
    session.commit()
    return plaintext, record_of(row)


def verify_key(session: Session, plaintext: str | None) -> ApiKeyRecord | None:
    """The live key whose plaintext this is, or None (unknown, malformed or revoked).

    One Core statement (``db.single_statement``: on its own autocommitted connection on
    PostgreSQL when the session has no transaction yet).
    """
    if not plaintext or len(plaintext) > 200:
        return None
    digest = hash_key(plaintext)
    with single_statement(session, write=False) as conn:
        row = conn.execute(_BY_DIGEST, {"digest": digest}).first()
    if row is None or not hmac.compare_digest(row.key_sha256, digest):
        return None
    if row.revoked_at is not None:
        return None
    return record_of(row)


def list_keys(session: Session) -> list[ApiKeyRecord]:
    """Every key, oldest first, revoked ones included."""
    return [record_of(r) for r in session.scalars(select(ApiKeyRow).order_by(ApiKeyRow.id))]


def revoke_key(session: Session, key_id: int) -> ApiKeyRecord:
    """Revoke a key at once (idempotent); raises ``NotFoundError`` for an unknown id."""
    begin_write(session)
    row = session.get(ApiKeyRow, key_id)
    if row is None:
        session.rollback()
        raise NotFoundError(f"no API key with id {key_id}")
    if row.revoked_at is None:
        row.revoked_at = utcnow()
        row.revoked = True
        # Every worker's KeyCache forgets the keys it remembers on its next check.
        session.execute(_NEXT_GENERATION)
    session.commit()
    record = record_of(row)
    web_sessions.end_for_key(session, key_id)  # its web sign-ins end too (issue 17)
    return record

"""API keys checked from memory, with revocations taking effect at once in every worker.

A worker keeps the keys it has verified (by SHA-256, never the plaintext) together with the
store's key generation (``api_key_generation``), a counter that ``api_keys.revoke_key`` moves
in the same transaction as the revocation. Each check reads that one integer; while it stands
still the key is answered from memory, and once it has moved the worker forgets every key it
holds and looks the caller's up again, in the statement that reads the new generation. So a
revocation committed in any process is seen by every worker's next request, as when every
check read the key's row.

A route that works in a thread of its own anyway can take the check there: ``recall`` answers
a remembered key from memory alone (the middleware's answer, no I/O) with the generation it
was remembered at, and the route's thread then confirms that generation: a search by
``verify`` first thing, a recommendation in the transaction that logs its answer
(``driver.write_log_rows(key_generation=...)``), with the same "at once": nothing it does takes
effect, and nothing of it is sent, before the generation is confirmed.

A remembered key's generation read runs on the pool's DBAPI connection
(``vcsmatch.store.driver``): through SQLAlchemy's connection it cost five times as much.

A key that fails costs what it always did (one statement) and is not remembered, so unknown
keys cannot fill the memory; at most ``max_keys`` live keys are kept (then all are forgotten).
"""

from __future__ import annotations

import hmac
import threading

from sqlalchemy import Connection, bindparam, select
from sqlalchemy.orm import Session

from vcsmatch.store.api_keys import KEY_COLUMNS, ApiKeyRecord, hash_key, record_of
from vcsmatch.store.db import single_statement
from vcsmatch.store.driver import key_generation
from vcsmatch.store.tables import ApiKeyRow, KeyGenerationRow

#: The check of any other key: the generation and the key's row (if any), in one statement.
_GENERATION_AND_KEY = (
    select(KeyGenerationRow.generation, *KEY_COLUMNS)
    .select_from(KeyGenerationRow)
    .outerjoin(ApiKeyRow, ApiKeyRow.key_sha256 == bindparam("digest"))
    .where(KeyGenerationRow.slot == 1)
)


class KeyCache:
    """One worker's verified keys; ``verify`` is ``api_keys.verify_key`` with one cheap read."""

    def __init__(self, max_keys: int = 10_000) -> None:
        self.max_keys = max_keys
        self._lock = threading.Lock()
        self._generation: int | None = None
        self._keys: dict[str, ApiKeyRecord] = {}

    def __len__(self) -> int:
        return len(self._keys)

    @property
    def generation(self) -> int | None:
        """The store's key generation as last read (None before the first check)."""
        return self._generation

    def verify(self, session: Session, plaintext: str | None) -> ApiKeyRecord | None:
        """The live key whose plaintext this is, or None (unknown, malformed or revoked)."""
        if not plaintext or len(plaintext) > 200:
            return None
        digest = hash_key(plaintext)
        with self._lock:
            known, held = self._keys.get(digest), self._generation
        if known is not None and key_generation(session) == held:
            return known
        with single_statement(session, write=False) as conn:
            return self._check(conn, digest)

    def recall(self, plaintext: str | None) -> tuple[ApiKeyRecord, int] | None:
        """The key this worker remembers for ``plaintext`` and the key generation it was
        remembered at, from memory alone (no I/O), or None. Not a check: the caller must
        confirm that generation before its request takes effect (module docstring)."""
        if not plaintext or len(plaintext) > 200:
            return None
        digest = hash_key(plaintext)
        with self._lock:
            record, generation = self._keys.get(digest), self._generation
        if record is None or generation is None:
            return None
        return record, generation

    def _check(self, conn: Connection, digest: str) -> ApiKeyRecord | None:
        row = conn.execute(_GENERATION_AND_KEY, {"digest": digest}).one()
        live = (
            row.key_sha256 is not None
            and hmac.compare_digest(row.key_sha256, digest)
            and row.revoked_at is None
        )
        record = record_of(row) if live else None
        self._remember(row.generation, digest, record)
        return record

    def _remember(self, generation: int, digest: str, record: ApiKeyRecord | None) -> None:
        """Move to ``generation`` (forgetting every key) if it is newer, and keep ``record``
        if it was read at the generation now held (a slower thread's older read is not kept)."""
        with self._lock:
            if self._generation is None or generation > self._generation:
                self._keys = {}
                self._generation = generation
            if record is None or generation != self._generation:
                self._keys.pop(digest, None)
                return
            if len(self._keys) >= self.max_keys:
                self._keys = {}
            self._keys[digest] = record

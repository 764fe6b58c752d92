"""Public ids: every id vcsmatch publishes (HSDS 3.0, Open Referral UK 3.0) is a UUID.

Feeds name their records as they like (``syn-0001``, ``1234``); HSDS requires UUIDs. The
public id is UUID5 of the source, the kind of object and the source's own id, so re-importing
the same feed gives the same public ids, and a source id that already is a UUID is kept as it
is. The source's own id travels beside the public one and is read back on import.
"""

from __future__ import annotations

import uuid

#: Namespace of every UUID vcsmatch derives (public ids and ids of nested objects).
NAMESPACE = uuid.UUID("6f1c9a52-3b1e-4f0e-9d7a-0c2b8f3e5a11")


def as_uuid(text: str | None) -> str | None:
    """``text`` as a canonical (lower-case, hyphenated) UUID, or None if it is not one."""
    if not text or len(text) not in (32, 36, 38, 45):
        return None
    try:
        return str(uuid.UUID(text))
    except ValueError:
        return None


def public_id(kind: str, source_id: str, source: str | None = None) -> str:
    """The UUID published for the ``kind`` object a source calls ``source_id``."""
    return as_uuid(source_id) or str(
        uuid.uuid5(NAMESPACE, f"{source or ''}\x1f{kind}\x1f{source_id}")
    )


def derived_id(owner_id: str, *parts: object) -> str:
    """A stable UUID for a nested object our model gives no id (same input, same id)."""
    return str(uuid.uuid5(NAMESPACE, "/".join([owner_id, *map(str, parts)])))

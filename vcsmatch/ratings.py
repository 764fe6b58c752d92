"""The training frame: one row per relevance rating, with the person's features at that time.

Every ranker's ``fit`` takes this frame; the store's ratings log, ``GET /v1/ratings/export`` and
``vcsmatch train --people --ratings`` all produce it. Only what a feature needs is kept.

Columns (``TRAINING_COLUMNS``):

- ``person_id``  str, opaque (in the store, a keyed hash of the caller's reference)
- ``service_id`` str
- ``rating``     int 1..5 (relevance as judged by a practitioner)
- ``practitioner_id`` str or None
- ``rated_at``   pandas Timestamp, UTC
- ``age``        float (NaN when unknown)
- ``sex``        one of ``vcsmatch.features.person.SEXES``
- ``needs``      tuple[str, ...] of need codes
- ``strengths``  tuple[str, ...] of strength codes
- ``latitude``, ``longitude`` float (NaN when the person has no location)
"""

from __future__ import annotations

TRAINING_COLUMNS: tuple[str, ...] = (
    "person_id",
    "service_id",
    "rating",
    "practitioner_id",
    "rated_at",
    "age",
    "sex",
    "needs",
    "strengths",
    "latitude",
    "longitude",
)

#: A rating at or above this counts as "relevant" for implicit feedback and metrics.
RELEVANT_AT: int = 4

#: Comment codes a practitioner may attach to a rating.
COMMENT_CODES: tuple[str, ...] = (
    "not_relevant",
    "not_eligible",
    "too_far",
    "already_known",
    "referred",
)

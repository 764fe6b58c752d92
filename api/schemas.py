"""Request models shared by several routes.

Request bodies validate strictly: JSON ``false`` is not an age and ``"5"`` is not a rating.
Lax coercion would quietly accept what a caller's system got wrong.
"""

from __future__ import annotations

from pydantic import ConfigDict

from vcsmatch.features.person import Person

STRICT = ConfigDict(strict=True, extra="forbid", str_strip_whitespace=True)


class PersonIn(Person):
    """A person as the API receives one (``vcsmatch.features.person.Person``, strictly typed)."""

    model_config = STRICT

"""The committed service schema is the one the model generates, and it accepts our exports."""

from __future__ import annotations

import json

import jsonschema_rs

from vcsmatch.catalogue.model import Service
from vcsmatch.catalogue.schema import SCHEMA_PATH, render

from .test_hsds3 import rich_service


def test_committed_schema_matches_the_model() -> None:
    """catalogue/schema/service.schema.json equals what Service.model_json_schema() gives."""
    assert SCHEMA_PATH.read_text(encoding="utf-8") == render(), (
        "regenerate with: python -m vcsmatch.catalogue.schema"
    )


def test_schema_accepts_a_rich_service_and_refuses_a_bad_one() -> None:
    """A full service validates against the schema; an unknown status and a stray key do not."""
    validator = jsonschema_rs.validator_for(json.loads(SCHEMA_PATH.read_text(encoding="utf-8")))
    good = rich_service().model_dump(mode="json")
    assert validator.is_valid(good)
    assert not validator.is_valid({**good, "status": "open"})
    assert not validator.is_valid({**good, "colour": "blue"})
    assert Service.model_validate(good) == rich_service()

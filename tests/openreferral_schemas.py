"""The official Open Referral schemas (``../shared/openreferral/``), checked with formats on.

HSDS 3.0's CI validates with ``jsonschema`` and a format checker, so ids must be UUIDs, URLs
must have a scheme and dates must be dates; we do the same. The schema files name their
siblings in ``$ref`` (``"phone.json"``), so each directory becomes one registry.
"""

from __future__ import annotations

import functools
import json
from pathlib import Path
from typing import Any

import pytest
from jsonschema import Draft202012Validator
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012

OPENREFERRAL = Path(__file__).resolve().parents[3] / "shared" / "openreferral"
if not OPENREFERRAL.is_dir():
    OPENREFERRAL = Path("/work/shared/openreferral")
EXAMPLES = OPENREFERRAL / "examples"


def require_openreferral() -> None:
    if not (OPENREFERRAL / "hsds-3.0" / "service.json").is_file():
        pytest.skip(f"the official Open Referral schemas are not at {OPENREFERRAL}")


@functools.cache
def _validators(profile: str) -> tuple[Registry, dict[str, Any]]:
    base = OPENREFERRAL / profile
    resources = []
    schemas: dict[str, Any] = {}
    for f in sorted(base.glob("*.json")):
        if f.name == "openapi.json":
            continue
        schema = json.loads(f.read_text(encoding="utf-8"))
        schemas[f.stem] = schema
        resources.append(
            (f.name, Resource.from_contents(schema, default_specification=DRAFT202012))
        )
    return Registry().with_resources(resources), schemas


def errors(obj: Any, kind: str, profile: str = "hsds-3.0") -> list[str]:
    """Every error of ``obj`` as the official ``kind`` object (``service``...), formats on."""
    require_openreferral()
    registry, schemas = _validators(profile)
    schema = {"$id": f"{kind}.json", **schemas[kind]}
    validator = Draft202012Validator(
        schema, registry=registry, format_checker=Draft202012Validator.FORMAT_CHECKER
    )
    return [
        f"{'/'.join(map(str, e.absolute_path))}: {e.message[:200]}"
        for e in validator.iter_errors(obj)
    ]

"""The JSON Schema of our service model, committed as ``catalogue/schema/service.schema.json``.

The file is generated, never edited: regenerate it after changing ``model.py`` with
``python -m vcsmatch.catalogue.schema`` (a test fails while the two disagree).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from vcsmatch.catalogue.model import Service
from vcsmatch.paths import CATALOGUE_DIR

SCHEMA_PATH = CATALOGUE_DIR / "schema" / "service.schema.json"


def service_json_schema() -> dict[str, Any]:
    """``Service.model_json_schema()`` with the draft it follows and what it describes."""
    schema = Service.model_json_schema()
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        **schema,
        "description": "One community or voluntary-sector service, as vcsmatch models it "
        "(generated from vcsmatch.catalogue.model.Service).",
    }


def render() -> str:
    return json.dumps(service_json_schema(), indent=2, ensure_ascii=False, sort_keys=True) + "\n"


def write(path: Path = SCHEMA_PATH) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(render(), encoding="utf-8")
    return path


if __name__ == "__main__":
    print(write())

"""vcsmatch: match people to community and voluntary-sector services.

vcsmatch supports a practitioner's decision and never makes it: every suggestion carries the
reasons that produced it, and nothing acts on a suggestion automatically.

The names a notebook needs are here (``vcsmatch.Recommender``, ``vcsmatch.load_catalogue``...),
imported on first use so that ``import vcsmatch`` (the CLI, ``--version``) stays cheap.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

#: The one version string (``pyproject.toml`` reads it from here).
__version__ = "0.1.0"

if TYPE_CHECKING:
    from vcsmatch.catalogue.importing import load_catalogue
    from vcsmatch.catalogue.model import Catalogue
    from vcsmatch.evaluation import evaluate, split_by_person
    from vcsmatch.features.person import Person
    from vcsmatch.files import read_people, read_ratings
    from vcsmatch.ranking import Recommender, Suggestion
    from vcsmatch.synthetic import make_world

#: Public name -> the module that defines it.
_LAZY: dict[str, str] = {
    "Catalogue": "vcsmatch.catalogue.model",
    "Person": "vcsmatch.features.person",
    "Recommender": "vcsmatch.ranking",
    "Suggestion": "vcsmatch.ranking",
    "evaluate": "vcsmatch.evaluation",
    "load_catalogue": "vcsmatch.catalogue.importing",
    "make_world": "vcsmatch.synthetic",
    "read_people": "vcsmatch.files",
    "read_ratings": "vcsmatch.files",
    "split_by_person": "vcsmatch.evaluation",
}

__all__ = [
    "Catalogue",
    "Person",
    "Recommender",
    "Suggestion",
    "__version__",
    "evaluate",
    "load_catalogue",
    "make_world",
    "read_people",
    "read_ratings",
    "split_by_person",
]


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'vcsmatch' has no attribute {name!r}")
    value = getattr(import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return list(__all__)

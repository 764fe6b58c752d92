"""A synthetic county for demos, tests and benchmarks (see ``_world`` for what it plants).

Everything here is invented except the places: Suffolk's towns and real postcodes from OS
Code-Point Open (Contains OS data © Crown copyright and database right).
"""

from vcsmatch.synthetic._geography import ATTRIBUTION, SUFFOLK_TOWNS, suffolk_postcodes
from vcsmatch.synthetic._self_selected import SelfSelectedWorld, make_self_selected
from vcsmatch.synthetic._world import (
    LOG_END,
    PLANTED_EFFECTS,
    UTILITY_PARTS,
    PlantedEffect,
    World,
    make_world,
)

__all__ = [
    "ATTRIBUTION",
    "LOG_END",
    "PLANTED_EFFECTS",
    "PlantedEffect",
    "SUFFOLK_TOWNS",
    "SelfSelectedWorld",
    "UTILITY_PARTS",
    "World",
    "make_self_selected",
    "make_world",
    "suffolk_postcodes",
]

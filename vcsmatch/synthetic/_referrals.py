"""Synthetic referrals and their outcomes, drawn from the ratings log, so the demo's dashboard
has referrals by week, team and service, services discovered, and outcomes to learn from.

A practitioner refers some of what they rated, more often what they rated higher; what then
happens follows the rating too: a well-rated suggestion is mostly accepted and attended, a
poorly rated one mostly declined as not suitable. Teams are practitioners grouped five ways.
Drawn with its own random stream, so the rest of the world is the same with or without it.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

TEAMS: tuple[str, ...] = (
    "North Suffolk adult social care",
    "South Suffolk adult social care",
    "West Suffolk adult social care",
    "Ipswich adult social care",
    "Hospital discharge team",
)
#: Chance a rating of 1..5 led to a referral.
REFER_SHARE = {1: 0.01, 2: 0.03, 3: 0.15, 4: 0.35, 5: 0.5}
#: Outcomes by rating band: (status, decline reason, weight).
_OUTCOMES: dict[str, tuple[tuple[str, str, float], ...]] = {
    "high": (
        ("attended", "", 0.55),
        ("accepted", "", 0.15),
        ("not_attended", "", 0.08),
        ("declined", "no_capacity", 0.1),
        ("made", "", 0.12),
    ),
    "middle": (
        ("attended", "", 0.3),
        ("declined", "person_declined", 0.3),
        ("made", "", 0.2),
        ("withdrawn", "", 0.2),
    ),
    "low": (("declined", "not_suitable", 0.7), ("withdrawn", "", 0.3)),
}
#: Columns of ``referrals.csv``.
COLUMNS: tuple[str, ...] = ("person_id", "service_id", "team", "status", "reason", "referred_at")


def make_referrals(ratings: pd.DataFrame, seed: int) -> pd.DataFrame:
    """Referrals (``COLUMNS``) drawn from ``ratings`` (``person_id, service_id, rating,
    practitioner_id, rated_at``), oldest first."""
    rng = np.random.default_rng([seed, 16])
    if ratings.empty:
        return pd.DataFrame(columns=list(COLUMNS))
    stars = ratings["rating"].astype(int).to_numpy()
    chance = np.array([REFER_SHARE[int(s)] for s in stars])
    picked = ratings[rng.random(len(ratings)) < chance].copy()
    codes, _ = pd.factorize(picked["practitioner_id"].astype(str), sort=True)
    picked["team"] = [TEAMS[c % len(TEAMS)] for c in codes]
    statuses, reasons = [], []
    for s in picked["rating"].astype(int):
        band = "high" if s >= 4 else "middle" if s == 3 else "low"
        options = _OUTCOMES[band]
        weights = np.array([w for _, _, w in options])
        status, reason, _ = options[int(rng.choice(len(options), p=weights / weights.sum()))]
        statuses.append(status)
        reasons.append(reason)
    picked["status"] = statuses
    picked["reason"] = reasons
    picked["referred_at"] = picked["rated_at"]
    return picked.sort_values(["referred_at", "person_id", "service_id"])[
        list(COLUMNS)
    ].reset_index(drop=True)

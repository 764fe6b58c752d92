"""The learning loop: a day-one model, retraining by itself, a promotion gate (see ``loop``)."""

from vcsmatch.learner.loop import Outcome, due, ensure_day_one, learn_once

__all__ = ["Outcome", "due", "ensure_day_one", "learn_once"]

"""``python -m vcsmatch``: the ``vcsmatch`` command (how the server starts its learner)."""

from vcsmatch.cli import app

app()

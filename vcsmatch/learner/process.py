"""Running the learner beside a server: in a child process, never on a request thread.

Training is CPU-bound Python and numpy; in a worker's own threads it would hold the GIL away
from requests. ``LearnerProcess.tick`` (the API's lifespan calls it every
``Settings.learn_check_seconds``) asks the store whether a retrain is due (a cheap read) and,
when it is and no child of this worker is running, starts ``vcsmatch learn --once`` as a child
process at a lower CPU priority, with this worker's settings. The child takes the store's lease,
so however many workers and machines tick, one learner trains at a time.
"""

from __future__ import annotations

import logging
import os
import subprocess
import sys
from pathlib import Path

from sqlalchemy.orm import Session, sessionmaker

from vcsmatch.affinity import unpinned
from vcsmatch.learner.loop import due
from vcsmatch.settings import Settings

logger = logging.getLogger("vcsmatch.learner")

#: How much lower than the server the learner runs (``nice``): requests come first.
NICENESS = 10


def settings_env(settings: Settings) -> dict[str, str]:
    """``settings`` as the ``VCSMATCH_*`` environment a child process reads them back from."""
    env: dict[str, str] = {}
    for name in type(settings).model_fields:
        value = getattr(settings, name)
        env[f"VCSMATCH_{name.upper()}"] = (
            ("true" if value else "false") if isinstance(value, bool) else str(value)
        )
    return env


class LearnerProcess:
    """At most one ``vcsmatch learn --once`` child per server process."""

    def __init__(self, settings: Settings, sessions: sessionmaker[Session]) -> None:
        self.settings = settings
        self.sessions = sessions
        self.child: subprocess.Popen[bytes] | None = None

    @property
    def running(self) -> bool:
        return self.child is not None and self.child.poll() is None

    def tick(self) -> bool:
        """Start a learner child if a retrain is due and none of ours runs; True if started."""
        if self.running:
            return False
        with self.sessions() as session:
            if due(session, self.settings) is not None:
                return False
        log = Path(self.settings.data_dir) / "learner.log"
        log.parent.mkdir(parents=True, exist_ok=True)
        env = {**os.environ, **settings_env(self.settings)}
        with open(log, "ab") as out:
            self.child = subprocess.Popen(
                [sys.executable, "-m", "vcsmatch", "learn", "--once", "--trigger", "learner"],
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                env=env,
                preexec_fn=_lower_priority if os.name == "posix" else None,  # noqa: PLW1509 - only nice()
            )
        logger.info("learner started (pid %s)", self.child.pid)
        return True

    def stop(self) -> None:
        """Stop our child at shutdown (its lease expires or it releases it)."""
        if self.running and self.child is not None:
            self.child.terminate()
            try:
                self.child.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.child.kill()


def _lower_priority() -> None:
    os.nice(NICENESS)
    unpinned()  # the CPUs the worker had before it kept to one (vcsmatch.affinity)

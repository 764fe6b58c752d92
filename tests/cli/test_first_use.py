"""Issue 17, finding 10: the README's commands work as written on a fresh checkout."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from vcsmatch.paths import REPO_ROOT


def test_finding10_dev_sh_runs_the_cli_without_activating_the_venv() -> None:
    """`bash dev.sh vcsmatch ...` runs the CLI from the project's venv (here: this one, already
    installed, so nothing is installed again)."""
    venv = Path(sys.prefix)
    env = {**os.environ, "VCSMATCH_VENV": str(venv)}
    done = subprocess.run(
        ["bash", "dev.sh", "vcsmatch", "--help"],
        cwd=REPO_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert "Usage: vcsmatch" in done.stdout
    assert "installing" not in done.stderr  # the stamp says the venv is current

"""Where vcsmatch finds the data it ships (taxonomy, sample catalogue)."""

from __future__ import annotations

from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
CATALOGUE_DIR = REPO_ROOT / "catalogue"
TAXONOMY_DIR = CATALOGUE_DIR / "taxonomy"
SAMPLE_DIR = CATALOGUE_DIR / "sample"

"""The public surface: ``vcsmatch`` and ``vcsmatch.ranking`` list exactly their public names,
sorted, as httpx's tests/test_exported_members.py checks for httpx."""

from __future__ import annotations

import importlib.metadata
import subprocess
import sys
import types
from pathlib import Path

import pytest

import vcsmatch
import vcsmatch.ranking


def _public(module: types.ModuleType) -> list[str]:
    return sorted(
        name
        for name, value in vars(module).items()
        if not name.startswith("_")
        and not isinstance(value, types.ModuleType)
        and getattr(value, "__module__", "").startswith("vcsmatch")
    )


def test_ranking_exports_exactly_its_public_names() -> None:
    """``vcsmatch.ranking.__all__`` is sorted and lists every public name it defines."""
    assert vcsmatch.ranking.__all__ == sorted(vcsmatch.ranking.__all__)
    assert vcsmatch.ranking.__all__ == _public(vcsmatch.ranking)
    for name in ("Recommender", "Part", "Suggestion", "Reason", "default_parts"):
        assert name in vcsmatch.ranking.__all__


def test_the_package_root_exports_what_a_notebook_needs() -> None:
    """Every name in ``vcsmatch.__all__`` resolves to the object of the module defining it,
    and the list is sorted and complete."""
    assert vcsmatch.__all__ == sorted(vcsmatch.__all__)
    for name in vcsmatch.__all__:
        assert getattr(vcsmatch, name) is not None
    assert vcsmatch.Recommender is vcsmatch.ranking.Recommender
    assert dir(vcsmatch) == vcsmatch.__all__
    with pytest.raises(AttributeError, match="no attribute 'Nope'"):
        vcsmatch.Nope  # noqa: B018 - the attribute access is the test


def test_import_vcsmatch_stays_light() -> None:
    """``import vcsmatch`` loads no model code (the CLI starts fast); a name loads on use."""
    code = "import sys, vcsmatch; print('sklearn' in sys.modules, 'pandas' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["False", "False"]


def test_one_version_string() -> None:
    """The installed distribution's version is ``vcsmatch.__version__`` (pyproject reads it)."""
    assert importlib.metadata.version("vcsmatch") == vcsmatch.__version__
    pyproject = (Path(vcsmatch.__file__).parent.parent / "pyproject.toml").read_text()
    assert 'version = { attr = "vcsmatch.__version__" }' in pyproject
    assert '\nversion = "' not in pyproject


def test_the_readme_python_example_runs(tmp_path: Path) -> None:
    """The README's notebook example runs as written (on a small synthetic world)."""
    readme = (Path(vcsmatch.__file__).parent.parent / "README.md").read_text()
    start = readme.index("```python\n# notebook example") + len("```python\n")
    code = readme[start : readme.index("```", start)]
    code = code.replace("make_world(700, 3000, 500", "make_world(60, 200, 5")
    namespace: dict[str, object] = {}
    exec(compile(code, "README.md", "exec"), namespace)  # noqa: S102 - our own README
    assert namespace["suggestions"]

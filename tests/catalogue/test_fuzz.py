"""Malformed input of every kind yields a catalogue or the library's own error, nothing else."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from vcsmatch.catalogue.importing import import_file
from vcsmatch.errors import CatalogueError, ImportFailed

FIXTURES = Path(__file__).parent / "fixtures"
GOOD_FILES = {
    "hsds3": FIXTURES / "hsds3_services.json",
    "oruk": FIXTURES / "oruk_page1.json",
    "outpost": FIXTURES / "outpost_page.json",
}
FUZZ = settings(
    max_examples=150,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)

json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(10**6), 10**6)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=20)
    | st.sampled_from(["", " ", "MO", "{", "{}", "12:00", "2026-13-40", "geojson", "virtual"]),
    lambda children: (
        st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=8), children, max_size=3)
    ),
    max_leaves=8,
)


def _paths(node: Any, prefix: tuple = ()) -> list[tuple]:
    """Every path to a value inside a JSON document."""
    out = [prefix]
    if isinstance(node, dict):
        for k, v in node.items():
            out += _paths(v, (*prefix, k))
    elif isinstance(node, list):
        for i, v in enumerate(node):
            out += _paths(v, (*prefix, i))
    return out


def _replace(doc: Any, path: tuple, value: Any, delete: bool) -> Any:
    if not path:
        return value
    parent = doc
    for step in path[:-1]:
        parent = parent[step]
    if delete and isinstance(parent, dict):
        del parent[path[-1]]
    else:
        parent[path[-1]] = value
    return doc


def _outcome(source: Any, fmt: str, skip_invalid: bool) -> None:
    """Import; a success must account for every record, a failure must say why."""
    try:
        result = import_file(source, fmt, skip_invalid=skip_invalid)  # type: ignore[arg-type]
    except ImportFailed as exc:
        assert exc.report.file_errors or exc.report.rejected
    except CatalogueError as exc:
        assert exc.field and exc.reason
    else:
        report = result.report
        assert report.read == report.accepted + report.n_rejected
        assert len(result.catalogue) == report.accepted
        assert skip_invalid or not report.rejected


@pytest.mark.parametrize("fmt", sorted(GOOD_FILES))
@FUZZ
@given(data=st.data(), value=json_values, delete=st.booleans(), skip_invalid=st.booleans())
def test_any_mutated_field_imports_or_raises_our_error(
    fmt: str, data: st.DataObject, value: Any, delete: bool, skip_invalid: bool
) -> None:
    """Replacing or deleting any one value anywhere in a good feed never crashes the importer."""
    doc = json.loads(GOOD_FILES[fmt].read_text(encoding="utf-8-sig"))
    path = data.draw(st.sampled_from(_paths(doc)))
    mutated = _replace(copy.deepcopy(doc), path, value, delete)
    _outcome(mutated, fmt, skip_invalid)
    _outcome(mutated, "auto", skip_invalid)


@pytest.mark.parametrize("fmt", sorted(GOOD_FILES))
@FUZZ
@given(data=st.data(), encoding=st.sampled_from(["utf-8", "latin-1", "utf-16-le", "cp1252"]))
def test_truncated_or_re_encoded_files_raise_import_failed(
    fmt: str, data: st.DataObject, encoding: str, tmp_path: Path
) -> None:
    """A file cut anywhere, or saved in another encoding, imports or raises ImportFailed."""
    text = GOOD_FILES[fmt].read_text(encoding="utf-8-sig")
    cut = data.draw(st.integers(0, len(text)))
    path = tmp_path / "feed.json"
    path.write_bytes(text[:cut].encode(encoding, errors="replace"))
    complete = text[:cut].strip() == text.strip()
    same_bytes = encoding == "utf-8" or (encoding != "utf-16-le" and text[:cut].isascii())
    if complete and same_bytes:
        assert len(import_file(path).catalogue) == len(import_file(GOOD_FILES[fmt]).catalogue)
    else:
        with pytest.raises(ImportFailed) as info:
            import_file(path)
        assert info.value.report.file_errors


@FUZZ
@given(raw=st.binary(max_size=200))
def test_random_bytes_raise_import_failed(raw: bytes, tmp_path: Path) -> None:
    """Arbitrary bytes in a .json file never raise anything but ImportFailed."""
    path = tmp_path / "noise.json"
    path.write_bytes(raw)
    _outcome(path, "auto", False)


@FUZZ
@given(doc=json_values)
def test_arbitrary_json_documents(doc: Any) -> None:
    """Any JSON document, in any of the three formats, imports or raises our error."""
    for fmt in ("auto", "hsds3", "oruk", "outpost"):
        _outcome(doc, fmt, True)

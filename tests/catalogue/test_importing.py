"""The shared import machinery: reading files, detecting formats, refusing unreadable input."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from vcsmatch.catalogue.importing import import_file
from vcsmatch.errors import CatalogueError, ImportFailed

FIXTURES = Path(__file__).parent / "fixtures"
ONE = [{"id": "s1", "name": "Lunch club", "status": "active"}]


def test_invalid_json_is_import_failed_with_position(tmp_path: Path) -> None:
    """Truncated JSON raises ImportFailed naming the file, line and column, not JSONDecodeError."""
    path = tmp_path / "feed.json"
    path.write_text('[{"id": "s1", "name": ', encoding="utf-8")
    with pytest.raises(ImportFailed) as info:
        import_file(path)
    assert "feed.json: not valid JSON (line 1 column" in str(info.value)
    assert info.value.report.file_errors and not info.value.report.rejected


def test_wrong_encoding_is_import_failed(tmp_path: Path) -> None:
    """A Latin-1 file raises ImportFailed saying it is not UTF-8, not UnicodeDecodeError."""
    path = tmp_path / "feed.json"
    path.write_bytes(
        json.dumps([{"id": "s1", "name": "Café"}], ensure_ascii=False).encode("latin-1")
    )
    with pytest.raises(ImportFailed, match="not valid utf-8 text"):
        import_file(path)


def test_utf16_with_bom_is_read(tmp_path: Path) -> None:
    """A UTF-16 file with its byte-order mark (as some Windows tools save) imports."""
    path = tmp_path / "feed.json"
    path.write_bytes(json.dumps(ONE).encode("utf-16"))
    assert import_file(path).catalogue.ids() == ["s1"]


def test_missing_file_and_empty_directory(tmp_path: Path) -> None:
    """A missing path or a directory with no JSON files is a clear ImportFailed."""
    with pytest.raises(ImportFailed, match="no such file"):
        import_file(tmp_path / "nope.json")
    with pytest.raises(ImportFailed, match="holds no .json files"):
        import_file(tmp_path)


def test_unrecognisable_shape_is_refused() -> None:
    """A JSON document that is neither a list of services nor a page is refused as a whole."""
    with pytest.raises(ImportFailed, match="not a list of services nor a page"):
        import_file({"hello": "world"})
    with pytest.raises(ImportFailed, match="cannot tell whether this is HSDS"):
        import_file([{"foo": 1}])


def test_non_object_records_are_rejected_by_position() -> None:
    """A list item that is not an object is a rejected record named by its position."""
    result = import_file([*ONE, "oops", 3], format="hsds3", skip_invalid=True)
    assert [(r.record_id, r.field, r.reason) for r in result.report.rejected] == [
        ("#2", "<record>", "expected a JSON object, got str"),
        ("#3", "<record>", "expected a JSON object, got int"),
    ]


def test_list_of_page_files_in_natural_order(tmp_path: Path) -> None:
    """Page files are read page2 before page10, and a missing page is warned about."""
    for n in (1, 2, 10):
        page = {"total_pages": 11, "page_number": n, "contents": [{"id": f"p{n}", "name": "x"}]}
        (tmp_path / f"page{n}.json").write_text(json.dumps(page), encoding="utf-8")
    result = import_file(tmp_path)
    assert result.catalogue.ids() == ["p1", "p2", "p10"]
    assert result.report.warnings == ["the feed announces 11 pages but 3 were read"]
    explicit = import_file([tmp_path / "page10.json", tmp_path / "page1.json"])
    assert explicit.catalogue.ids() == ["p10", "p1"]


def test_empty_feed_is_an_empty_catalogue() -> None:
    """An empty list or an empty page imports as an empty catalogue, not an error."""
    assert len(import_file([]).catalogue) == 0
    assert len(import_file({"contents": [], "empty": True}).catalogue) == 0


def test_unknown_format_name_is_a_parameter_error() -> None:
    """Naming a format that does not exist is a ValueError saying which ones do."""
    with pytest.raises(ValueError, match="The 'format' parameter of import_file must be one of"):
        import_file(ONE, format="csv")  # type: ignore[arg-type]


def test_import_failed_and_catalogue_error_are_value_errors() -> None:
    """Callers that only know ValueError still catch import problems."""
    assert issubclass(ImportFailed, ValueError) and issubclass(CatalogueError, ValueError)


def test_progress_bar_does_not_change_the_result(capsys: pytest.CaptureFixture[str]) -> None:
    """progress=True imports the same catalogue and writes nothing to stdout."""
    records = [{"id": f"s{i}", "name": "x"} for i in range(50)]
    assert import_file(records, progress=True).catalogue == import_file(records).catalogue
    assert capsys.readouterr().out == ""


def test_raw_bytes_as_an_http_body_are_read() -> None:
    """Raw bytes (an uploaded body, BOM included) import like a file; bad bytes are refused."""
    body = b"\xef\xbb\xbf" + json.dumps(ONE).encode("utf-8")
    assert import_file(body).catalogue.ids() == ["s1"]
    with pytest.raises(ImportFailed, match="<bytes>: not valid JSON"):
        import_file(b"[{")

"""The model registry: directories shared through the database, tampering refused."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import update
from sqlalchemy.orm import Session

from vcsmatch.errors import ModelLoadError
from vcsmatch.store import model_registry as mr
from vcsmatch.store.tables import ModelRow


@pytest.fixture
def model_dir(tmp_path: Path) -> Path:
    """A directory shaped like a saved model: a header and an array file in a subfolder."""
    d = tmp_path / "trained"
    (d / "arrays").mkdir(parents=True)
    (d / "header.json").write_text('{"version": "m-1"}')
    (d / "arrays" / "weights.npz").write_bytes(bytes(range(256)) * 40)
    return d


def _files(root: Path) -> dict[str, bytes]:
    return {
        p.relative_to(root).as_posix(): p.read_bytes()
        for p in root.rglob("*")
        if p.is_file() and not p.name.startswith(".vcsmatch")
    }


def test_registered_model_materialises_to_identical_files(
    session: Session, model_dir: Path, tmp_path: Path
) -> None:
    """Register then materialise gives back the same files, under the version's directory."""
    version = mr.register_model(
        session, model_dir, metrics={"ndcg@10": 0.41}, n_ratings=120, version="m-1"
    )
    record = mr.latest_model(session)
    assert record is not None and record.version == version == "m-1"
    assert record.metrics == {"ndcg@10": 0.41} and record.n_ratings == 120
    out = mr.materialise(record, tmp_path / "cache")
    assert out == tmp_path / "cache" / "m-1"
    assert _files(out) == _files(model_dir)
    assert mr.materialise(record, tmp_path / "cache") == out  # cached copy reused


def test_latest_is_the_newest_and_listing_omits_blobs(session: Session, model_dir: Path) -> None:
    """The newest registration wins; summaries carry no blob; versions are unique."""
    assert mr.latest_model(session) is None and mr.latest_version(session) is None
    mr.register_model(session, model_dir, version="m-1")
    generated = mr.register_model(session, model_dir)
    assert mr.latest_version(session) == generated
    assert [m.version for m in mr.list_models(session)] == [generated, "m-1"]
    assert all(m.blob == b"" for m in mr.list_models(session))
    with pytest.raises(ValueError, match="already registered"):
        mr.register_model(session, model_dir, version="m-1")


@pytest.mark.parametrize("damage", ["flip_byte", "truncate"])
def test_tampered_or_truncated_blob_is_refused(
    session: Session, model_dir: Path, tmp_path: Path, damage: str
) -> None:
    """A blob whose bytes no longer match the registered SHA-256 raises ModelLoadError."""
    mr.register_model(session, model_dir, version="m-1")
    blob = mr.latest_model(session).blob
    bad = blob[:-1] + bytes([blob[-1] ^ 0xFF]) if damage == "flip_byte" else blob[: len(blob) // 2]
    session.execute(update(ModelRow).values(blob=bad))
    session.commit()
    with pytest.raises(ModelLoadError, match="m-1"):
        mr.materialise(mr.latest_model(session), tmp_path / "cache")
    assert not (tmp_path / "cache" / "m-1").exists()


def test_corrupt_archive_with_matching_hash_is_refused(tmp_path: Path) -> None:
    """Bytes that are not a tar.gz fail with ModelLoadError, not a tarfile exception."""
    import datetime as dt
    import hashlib

    junk = b"not a tarball at all"
    record = mr.ModelRecord(
        id=1,
        version="junk",
        created_at=dt.datetime.now(dt.UTC),
        sha256=hashlib.sha256(junk).hexdigest(),
        size_bytes=len(junk),
        n_ratings=0,
        metrics={},
        blob=junk,
    )
    with pytest.raises(ModelLoadError, match="unreadable"):
        mr.materialise(record, tmp_path / "cache")

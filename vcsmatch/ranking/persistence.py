"""Write a fitted ranker's state to a directory, and read it back only if it can be trusted.

Generic over rankers: a ranker gives a JSON header and named arrays (``Ranker._state``) and
takes them back (``Ranker._restore``); this module knows files, not models (nor parts: a
``Recommender`` saves each part's arrays under ``parts.<name>.`` and names its class in the
header, see ``part_base``). Layout (format version 4: each part's own arrays, whatever the
parts; version 3 added the need evidence and the kind tastes; an older model is refused with
a message to retrain)::

    header.json     format, version, the ranker's class and parameters, and its own fields
    arrays.npz      every learned array (``allow_pickle=False``: loading runs no code)
    catalogue.json  the catalogue the model is bound to (``Catalogue.model_dump_json``)
    manifest.json   SHA-256 and size of each file above

Reading checks the manifest first, so a missing, truncated or edited file is refused with a
``ModelLoadError`` that names it. Nothing is unpickled.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import scipy.sparse as sp

from vcsmatch.catalogue.model import Catalogue
from vcsmatch.errors import ModelLoadError

FORMAT = "vcsmatch-recommender"
FORMAT_VERSION = 5
FILES = ("header.json", "arrays.npz", "catalogue.json")


@dataclass(frozen=True)
class SavedModel:
    """What a model directory holds, checked against its manifest and format."""

    header: dict[str, Any]
    arrays: dict[str, np.ndarray]
    catalogue: Catalogue


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def put_csr(arrays: dict[str, np.ndarray], name: str, m: sp.csr_matrix) -> None:
    """Store a sparse matrix as four plain arrays under ``name.*``."""
    arrays[f"{name}.data"] = m.data
    arrays[f"{name}.indices"] = m.indices
    arrays[f"{name}.indptr"] = m.indptr
    arrays[f"{name}.shape"] = np.asarray(m.shape, dtype=np.int64)


def get_csr(arrays: dict[str, np.ndarray], name: str) -> sp.csr_matrix:
    """The sparse matrix ``put_csr`` stored under ``name``."""
    n_rows, n_cols = (int(x) for x in arrays[f"{name}.shape"])
    return sp.csr_matrix(
        (arrays[f"{name}.data"], arrays[f"{name}.indices"], arrays[f"{name}.indptr"]),
        shape=(n_rows, n_cols),
    )


def prefixed(prefix: str, arrays: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """``arrays`` with each name under ``prefix.`` (one part's arrays among a model's)."""
    return {f"{prefix}.{k}": v for k, v in arrays.items()}


def unprefixed(prefix: str, arrays: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """The arrays stored under ``prefix.``, with the prefix taken off their names."""
    head = f"{prefix}."
    return {k.removeprefix(head): v for k, v in arrays.items() if k.startswith(head)}


def write_model(
    directory: Path, header: dict[str, Any], arrays: dict[str, np.ndarray], catalogue: Catalogue
) -> Path:
    """Write a model to ``directory`` (created if needed; files in it are replaced)."""
    directory.mkdir(parents=True, exist_ok=True)
    header = {"format": FORMAT, "format_version": FORMAT_VERSION, **header}
    with (directory / "arrays.npz").open("wb") as fh:
        np.savez(fh, **arrays)  # type: ignore[arg-type]  # numpy's stub types **kwds as bool
    (directory / "header.json").write_text(json.dumps(header, indent=2, default=str), "utf-8")
    (directory / "catalogue.json").write_text(catalogue.model_dump_json(), "utf-8")
    manifest = {
        name: {"sha256": _sha256(directory / name), "bytes": (directory / name).stat().st_size}
        for name in FILES
    }
    (directory / "manifest.json").write_text(json.dumps(manifest, indent=2), "utf-8")
    return directory


def _verified(directory: Path) -> None:
    """Refuse a directory whose files do not match their manifest."""
    if not directory.is_dir():
        raise ModelLoadError(f"model directory {str(directory)!r} does not exist")
    manifest_path = directory / "manifest.json"
    try:
        manifest = json.loads(manifest_path.read_text("utf-8"))
    except FileNotFoundError:
        raise ModelLoadError(f"{manifest_path.name}: missing from {str(directory)!r}") from None
    except (ValueError, UnicodeDecodeError) as error:
        raise ModelLoadError(f"{manifest_path.name}: not valid JSON ({error})") from None
    for name in FILES:
        entry = manifest.get(name) if isinstance(manifest, dict) else None
        if not isinstance(entry, dict) or "sha256" not in entry:
            raise ModelLoadError(f"manifest.json: no checksum for {name}")
        path = directory / name
        if not path.is_file():
            raise ModelLoadError(f"{name}: missing from {str(directory)!r}")
        if path.stat().st_size != entry.get("bytes"):
            raise ModelLoadError(f"{name}: truncated or changed (size differs from the manifest)")
        if _sha256(path) != entry["sha256"]:
            raise ModelLoadError(f"{name}: tampered with or corrupted (checksum mismatch)")


def read_model(directory: Path) -> SavedModel:
    """Read what ``write_model`` wrote, refusing files that fail their manifest, another
    format, or another format version."""
    _verified(directory)
    try:
        header = json.loads((directory / "header.json").read_text("utf-8"))
    except ValueError as error:
        raise ModelLoadError(f"header.json: not valid JSON ({error})") from None
    if not isinstance(header, dict) or header.get("format") != FORMAT:
        raise ModelLoadError(f"header.json: not a {FORMAT} model")
    version = header.get("format_version", 0)
    if not isinstance(version, int):
        raise ModelLoadError(f"header.json: format version {version!r} is not a number")
    if version > FORMAT_VERSION:
        raise ModelLoadError(
            f"header.json: format version {version} is newer than this vcsmatch reads "
            f"({FORMAT_VERSION}); upgrade vcsmatch"
        )
    if version < FORMAT_VERSION:
        raise ModelLoadError(
            f"header.json: format version {version} is older than this vcsmatch reads "
            f"({FORMAT_VERSION}); retrain the model (vcsmatch train)"
        )
    try:
        catalogue = Catalogue.model_validate_json((directory / "catalogue.json").read_bytes())
    except ValueError as error:
        raise ModelLoadError(f"catalogue.json: not a valid catalogue ({error})") from None
    try:
        with np.load(directory / "arrays.npz", allow_pickle=False) as npz:
            arrays = {k: npz[k] for k in npz.files}
    except (ValueError, OSError) as error:
        raise ModelLoadError(f"arrays.npz: unreadable ({error})") from None
    return SavedModel(header, arrays, catalogue)

"""Save a fitted ``Recommender`` to a directory, and load it back only if it can be trusted.

Layout (format version 3: adds the need evidence and the kind tastes; version 2 added the rating
factorisation and the service vocabulary; an older model is refused with a message to
retrain)::

    header.json     format, version, parameters, training fingerprint, metrics, feature names
    arrays.npz      every learned array (``allow_pickle=False``: loading runs no code)
    catalogue.json  the catalogue the model is bound to (``Catalogue.model_dump_json``)
    manifest.json   SHA-256 and size of each file above

Loading checks the manifest first, so a missing, truncated or edited file is refused with a
``ModelLoadError`` that names it. Nothing is unpickled: scikit-learn parts are kept as plain
arrays (the blend's and the taste model's weights, the ridge map's coefficients, the rating
factorisation's biases and factors).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import scipy.sparse as sp

from vcsmatch.catalogue.model import Catalogue
from vcsmatch.errors import ModelLoadError

if TYPE_CHECKING:
    from vcsmatch.ranking.recommender import Recommender

FORMAT = "vcsmatch-recommender"
FORMAT_VERSION = 3
FILES = ("header.json", "arrays.npz", "catalogue.json")


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _put_csr(arrays: dict[str, np.ndarray], name: str, m: sp.csr_matrix) -> None:
    m = sp.csr_matrix(m)
    arrays[f"{name}.data"] = m.data
    arrays[f"{name}.indices"] = m.indices
    arrays[f"{name}.indptr"] = m.indptr
    arrays[f"{name}.shape"] = np.asarray(m.shape, dtype=np.int64)


def _get_csr(arrays: Any, name: str) -> sp.csr_matrix:
    shape = tuple(int(x) for x in arrays[f"{name}.shape"])
    return sp.csr_matrix(
        (arrays[f"{name}.data"], arrays[f"{name}.indices"], arrays[f"{name}.indptr"]), shape=shape
    )


def save_recommender(model: Recommender, directory: Path) -> Path:
    """Write ``model`` to ``directory`` (created if needed; files in it are replaced)."""
    directory.mkdir(parents=True, exist_ok=True)
    arrays: dict[str, np.ndarray] = {
        "train_service_ids": np.asarray(model.train_service_ids_, dtype=str),
        "priors.n_ratings": model.priors_.n_ratings,
        "priors.n_relevant": model.priors_.n_relevant,
        "priors.residual": (
            model.priors_.residual
            if model.priors_.residual is not None
            else np.zeros(len(model.priors_.n_ratings))
        ),
        "groups.group_people": model.groups_.group_people_,
        "groups.service_liked": model.groups_.service_liked_,
        "groups.service_rate": model.groups_.service_rate_,
    }
    _put_csr(arrays, "groups.n_rated", model.groups_.n_rated_)
    _put_csr(arrays, "groups.n_liked", model.groups_.n_liked_)
    for key, value in model.blend_.to_arrays().items():
        arrays[f"blend.{key}"] = value
    if model.als_ is not None:
        arrays["als.item_factors"] = model.als_.item_factors_
        arrays["als.map_coef"] = model.als_.map_coef_
        arrays["als.map_intercept"] = model.als_.map_intercept_
    if model.taste_ is not None:
        arrays["taste.weights"] = model.taste_.weights_
    if model.ratings_model_ is not None:
        arrays["ratings_model.mean"] = np.asarray([model.ratings_model_.mean_])
        arrays["ratings_model.bias"] = model.ratings_model_.bias_
        arrays["ratings_model.map"] = model.ratings_model_.map_
        arrays["ratings_model.item_factors"] = model.ratings_model_.item_factors_
    if model.kind_taste_ is not None:
        arrays["kind_taste.weights"] = model.kind_taste_.weights_
    if model.need_evidence_ is not None:
        arrays["need_evidence.score"] = model.need_evidence_.score_
        arrays["need_evidence.n_ratings"] = model.need_evidence_.n_ratings_
    pf = model.person_features_
    header = {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "version": model.version_,
        "params": model.get_params(deep=False),
        "fingerprint": model.fingerprint_,
        "metrics": model.metrics_,
        "trained_at": model.trained_at_.isoformat(),
        "n_ratings": model.n_ratings_,
        "n_people": model.n_people_,
        "n_blend_rows": model.n_blend_rows_,
        "blend_features": list(model.blend_.feature_names_),
        "priors": {
            "global_rate": model.priors_.global_rate,
            "strength": model.priors_.strength,
        },
        "groups": {"n_people": model.groups_.n_people_, "keys": list(model.group_keys_)},
        "service_words": list(model.service_words_.vocabulary_),
        "person_features": {
            "area_cell_deg": pf.area_cell_deg,
            "groups": list(pf.groups),
            "areas": [c for c in pf.categories_.get("area", []) if c != "unknown"],
            "feature_names": [str(n) for n in pf.get_feature_names_out()],
        },
    }
    with (directory / "arrays.npz").open("wb") as fh:
        np.savez(fh, **arrays)
    (directory / "header.json").write_text(json.dumps(header, indent=2, default=str), "utf-8")
    (directory / "catalogue.json").write_text(model.catalogue_.model_dump_json(), "utf-8")
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


def load_recommender(directory: Path) -> Recommender:
    """Load a model saved by ``save_recommender``; its rankings equal the saved model's."""
    from vcsmatch.features.person_features import PersonFeatures
    from vcsmatch.features.service_words import ServiceWords
    from vcsmatch.ranking.blend import Blend
    from vcsmatch.ranking.collaborative import (
        FeatureALS,
        GroupStats,
        InteractionModel,
        KindTaste,
    )
    from vcsmatch.ranking.factorization import RatingFactorization
    from vcsmatch.ranking.need_evidence import NeedEvidence
    from vcsmatch.ranking.pairs import LearnedParts
    from vcsmatch.ranking.priors import ServicePriors
    from vcsmatch.ranking.recommender import Recommender
    from vcsmatch.taxonomy import load_taxonomy

    _verified(directory)
    try:
        header = json.loads((directory / "header.json").read_text("utf-8"))
    except ValueError as error:
        raise ModelLoadError(f"header.json: not valid JSON ({error})") from None
    if header.get("format") != FORMAT:
        raise ModelLoadError(f"header.json: not a {FORMAT} model")
    if int(header.get("format_version", 0)) > FORMAT_VERSION:
        raise ModelLoadError(
            f"header.json: format version {header.get('format_version')} is newer than this "
            f"vcsmatch reads ({FORMAT_VERSION}); upgrade vcsmatch"
        )
    if int(header.get("format_version", 0)) < FORMAT_VERSION:
        raise ModelLoadError(
            f"header.json: format version {header.get('format_version')} is older than this "
            f"vcsmatch reads ({FORMAT_VERSION}); retrain the model (vcsmatch train)"
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

    try:
        model = Recommender(**header["params"])
        model.taxonomy_ = load_taxonomy()
        model.train_service_ids_ = arrays["train_service_ids"]
        priors = ServicePriors(
            arrays["priors.n_ratings"],
            arrays["priors.n_relevant"],
            float(header["priors"]["global_rate"]),
            float(header["priors"]["strength"]),
            arrays["priors.residual"],
        )
        groups = GroupStats(model.shrinkage)
        groups.group_people_ = arrays["groups.group_people"]
        groups.n_people_ = int(header["groups"]["n_people"])
        groups.n_rated_ = _get_csr(arrays, "groups.n_rated")
        groups.n_liked_ = _get_csr(arrays, "groups.n_liked")
        groups.service_liked_ = arrays["groups.service_liked"]
        groups._derive(arrays["groups.service_rate"])
        model.group_keys_ = tuple(header["groups"]["keys"])
        als = None
        if "als.item_factors" in arrays:
            als = FeatureALS(model.n_factors, model.regularization, model.iterations)
            als.item_factors_ = arrays["als.item_factors"]
            als.map_coef_ = arrays["als.map_coef"]
            als.map_intercept_ = arrays["als.map_intercept"]
        taste = None
        if "taste.weights" in arrays:
            taste = InteractionModel(model.taste_C)
            taste.weights_ = arrays["taste.weights"]
        ratings_model = None
        if "ratings_model.bias" in arrays:
            ratings_model = RatingFactorization(model.rating_factors)
            ratings_model.mean_ = float(arrays["ratings_model.mean"][0])
            ratings_model.bias_ = arrays["ratings_model.bias"]
            ratings_model.map_ = arrays["ratings_model.map"]
            ratings_model.item_factors_ = arrays["ratings_model.item_factors"]
        kind = None
        if "kind_taste.weights" in arrays:
            kind = KindTaste(model.kind_alpha)
            kind.weights_ = arrays["kind_taste.weights"]
        need_evidence = None
        if "need_evidence.score" in arrays:
            need_evidence = NeedEvidence(model.need_shrinkage)
            need_evidence.score_ = arrays["need_evidence.score"]
            need_evidence.n_ratings_ = arrays["need_evidence.n_ratings"]
        words = ServiceWords()
        words.vocabulary_ = tuple(str(w) for w in header["service_words"])
        model.service_words_ = words
        model.blend_ = Blend.from_arrays(
            {k.removeprefix("blend."): v for k, v in arrays.items() if k.startswith("blend.")},
            header["blend_features"],
        )
        model.person_features_ = _person_features(PersonFeatures, header["person_features"])
        learned = LearnedParts(priors, groups, als, ratings_model, taste, need_evidence, kind)
        model._keep(learned)
        model._bind(catalogue, learned)
        model.version_ = header["version"]
        model.fingerprint_ = header["fingerprint"]
        model.metrics_ = dict(header.get("metrics") or {})
        model.trained_at_ = dt.datetime.fromisoformat(header["trained_at"])
        model.n_ratings_ = int(header["n_ratings"])
        model.n_people_ = int(header["n_people"])
        model.n_blend_rows_ = int(header["n_blend_rows"])
    except (KeyError, TypeError, ValueError) as error:
        raise ModelLoadError(f"header.json or arrays.npz: inconsistent model ({error})") from None
    return model


def _person_features(cls: Any, saved: dict[str, Any]) -> Any:
    """Refit ``PersonFeatures`` to the saved vocabulary: one point at the centre of each saved
    area cell gives back exactly the saved areas; the feature names must then match."""
    import pandas as pd

    step = float(saved["area_cell_deg"])
    lats, lons = [], []
    for cell in saved["areas"]:
        lat, lon = (float(x) for x in cell.split(","))
        lats.append(lat + step / 2)
        lons.append(lon + step / 2)
    frame = pd.DataFrame(
        {
            "age": np.nan,
            "sex": "not_recorded",
            "needs": [()] * len(lats),
            "strengths": [()] * len(lats),
            "latitude": lats,
            "longitude": lons,
        }
    )
    pf = cls(area_cell_deg=step, groups=tuple(saved["groups"])).fit(frame)
    if [str(n) for n in pf.get_feature_names_out()] != list(saved["feature_names"]):
        raise ModelLoadError("header.json: person feature vocabulary does not round-trip")
    return pf

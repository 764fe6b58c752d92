"""Person features: one-hot columns, training frame parity, and the sklearn contract."""

from __future__ import annotations

import pickle
from collections.abc import Callable

import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp
from sklearn.base import clone
from sklearn.utils.estimator_checks import estimator_checks_generator

from vcsmatch.errors import NotFittedError, UnknownCodeError
from vcsmatch.features.person import Person
from vcsmatch.features.person_features import PersonFeatures
from vcsmatch.features.service import ServiceFeatures
from vcsmatch.ratings import TRAINING_COLUMNS


def sample_people() -> list[Person]:
    return [
        Person(
            age=72,
            sex="female",
            needs=["social-isolation", "bereavement"],
            strengths=["gardening"],
            latitude=52.06,
            longitude=1.15,
        ),
        Person(age_band="18-24", sex="male", needs=["employment-volunteering"], postcode="IP1 1AA"),
        Person(sex="another", strengths=["music", "music"]),
        Person(age=40, latitude=51.5, longitude=-0.12),
    ]


def training_frame(people: list[Person]) -> pd.DataFrame:
    """The ratings.py training frame for ``people`` (one rating each)."""
    rows = []
    for i, p in enumerate(people):
        rows.append(
            {
                "person_id": f"p{i}",
                "service_id": "s1",
                "rating": 4,
                "practitioner_id": None,
                "rated_at": pd.Timestamp("2026-01-01", tz="UTC"),
                "age": float(p.age) if p.age is not None else np.nan,
                "sex": p.sex,
                "needs": tuple(p.needs),
                "strengths": tuple(p.strengths),
                "latitude": p.latitude if p.latitude is not None else np.nan,
                "longitude": p.longitude if p.longitude is not None else np.nan,
            }
        )
    return pd.DataFrame(rows, columns=list(TRAINING_COLUMNS))


def active(pf: PersonFeatures, X: sp.csr_matrix, row: int) -> list[str]:
    return pf.get_feature_names_out()[X[row].indices].tolist()


def test_one_hot_of_band_sex_needs_strengths_area() -> None:
    """Each person sets their band, sex, codes and area cell; nothing else."""
    pf = PersonFeatures().fit(sample_people())
    X = pf.transform(sample_people())
    assert sp.issparse(X) and X.format == "csr" and X.shape[0] == 4
    assert sorted(active(pf, X, 0)) == sorted(
        [
            "age_band=65-79",
            "sex=female",
            "needs=social-isolation",
            "needs=bereavement",
            "strengths=gardening",
            "area=52,1.1",
        ]
    )
    assert "age_band=18-24" in active(pf, X, 1)
    assert any(n.startswith("area=52,1.1") for n in active(pf, X, 1))  # postcode located
    assert sorted(active(pf, X, 2)) == [
        "age_band=unknown",
        "area=unknown",
        "sex=another",
        "strengths=music",
    ]
    assert X.max() == 1.0


def test_unseen_area_sets_no_column() -> None:
    """Someone in an area not seen at fit gets no area column, but keeps the rest."""
    pf = PersonFeatures().fit(sample_people())
    X = pf.transform([Person(age=30, latitude=55.95, longitude=-3.19)])
    assert active(pf, X, 0) == ["age_band=25-49", "sex=not_recorded"]


def test_area_cells_are_stable_at_their_edges() -> None:
    """A person exactly on a cell's south-west corner is in that cell, not the one below."""
    pf = PersonFeatures().fit([Person(latitude=52.3, longitude=1.2)])
    assert "area=52.3,1.2" in pf.get_feature_names_out().tolist()
    X = pf.transform([Person(latitude=52.35, longitude=1.25)])
    assert "area=52.3,1.2" in active(pf, X, 0)


def test_training_frame_gives_the_same_features_as_people() -> None:
    """The training frame and the Person list land in the same columns (located by coords)."""
    people = [p for p in sample_people() if p.postcode is None]
    pf = PersonFeatures().fit(people)
    a = pf.transform(people).toarray()
    b = pf.transform(training_frame(people)).toarray()
    np.testing.assert_array_equal(a, b)


def test_need_and_strength_columns_follow_service_columns() -> None:
    """Need/strength columns are in taxonomy order, so they line up with ServiceFeatures."""
    pf = PersonFeatures(groups=("needs", "strengths")).fit(sample_people())
    from vcsmatch.catalogue.model import Catalogue

    sf = ServiceFeatures().fit(Catalogue())
    ours = [n.split("=", 1)[1] for n in pf.get_feature_names_out()]
    theirs = [n.split("=", 1)[1] for n in sf.get_feature_names_out() if not n.startswith("mode")]
    assert ours == theirs


def test_unknown_code_and_bad_parameters_are_typed_errors() -> None:
    """A code not in the taxonomy is UnknownCodeError; bad parameters name themselves."""
    pf = PersonFeatures().fit(sample_people())
    with pytest.raises(UnknownCodeError, match="need"):
        pf.transform(training_frame([Person()]).assign(needs=[("flying",)]))
    with pytest.raises(ValueError, match="area_cell_deg"):
        PersonFeatures(area_cell_deg=0).fit(sample_people())
    with pytest.raises(ValueError, match="groups"):
        PersonFeatures(groups=("shoe_size",)).fit(sample_people())
    with pytest.raises(NotFittedError):
        PersonFeatures().transform(sample_people())
    with pytest.raises(TypeError, match="list of Person"):
        PersonFeatures().fit(np.zeros((3, 2)))


def test_sklearn_conventions_on_people() -> None:
    """clone, fit returning self, idempotent fit, order and subset invariance, pickling."""
    people = sample_people()
    pf = PersonFeatures(area_cell_deg=0.5)
    assert not [k for k in vars(pf) if k.endswith("_")]
    assert pf.fit(people) is pf
    first = pf.transform(people).toarray()
    assert (pf.fit(people).transform(people).toarray() == first).all()
    np.testing.assert_array_equal(pf.transform(people[::-1]).toarray(), first[::-1])
    np.testing.assert_array_equal(pf.transform(people[1:3]).toarray(), first[1:3])
    fresh = clone(pf)
    assert fresh.get_params() == pf.get_params() and not hasattr(fresh, "categories_")
    restored = pickle.loads(pickle.dumps(pf))
    np.testing.assert_array_equal(restored.transform(people).toarray(), first)


#: sklearn checks that feed random numeric matrices: these transformers take people and
#: catalogues (typed records), not numbers, so those checks cannot apply. Everything else runs.
_NUMERIC_INPUT = "takes typed records (people or a catalogue), not a numeric matrix"


def _numeric_only(estimator: object) -> dict[str, str]:
    names = (
        "check_fit_score_takes_y check_estimators_overwrite_params "
        "check_dont_overwrite_parameters check_estimators_fit_returns_self "
        "check_readonly_memmap_input check_n_features_in_after_fitting "
        "check_positive_only_tag_during_fit check_estimators_dtypes check_complex_data "
        "check_dtype_object check_estimators_empty_data_messages check_pipeline_consistency "
        "check_estimators_nan_inf check_estimator_sparse_array check_estimator_sparse_matrix "
        "check_estimators_pickle check_f_contiguous_array_estimator "
        "check_transformer_data_not_an_array check_transformer_general "
        "check_transformer_preserve_dtypes check_methods_sample_order_invariance "
        "check_methods_subset_invariance check_fit2d_1sample check_fit2d_1feature "
        "check_dict_unchanged check_fit_idempotent check_fit_check_is_fitted "
        "check_n_features_in check_fit1d check_fit2d_predict1d "
        "check_set_output_transform check_global_output_transform_pandas "
        "check_global_set_output_transform_polars check_set_output_transform_pandas "
        "check_set_output_transform_polars"
    ).split()
    return dict.fromkeys(names, _NUMERIC_INPUT)


def _check_name(check: object) -> str:
    func = getattr(check, "func", check)
    return getattr(func, "__name__", repr(func))


def _checks(applicable: bool) -> list:
    """sklearn's checks for both transformers: those that apply, or those that cannot."""
    out = []
    for estimator in (PersonFeatures(), ServiceFeatures()):
        excluded = _numeric_only(estimator)
        for est, check in estimator_checks_generator(estimator, legacy=True):
            name = _check_name(check)
            if (name not in excluded) is applicable:
                out.append(pytest.param(est, check, id=f"{type(est).__name__}-{name}"))
    return out


@pytest.mark.parametrize(("estimator", "check"), _checks(applicable=True))
def test_sklearn_estimator_checks(estimator: object, check: Callable) -> None:
    """scikit-learn's own estimator checks, except those that assume numeric input.

    (pytest reports sklearn's own SkipTest, e.g. array-API checks without SCIPY_ARRAY_API, as
    skipped.)"""
    check(estimator)


#: Checks that report our refusal in their own words (AssertionError) rather than re-raising it;
#: ``empty_data_messages``: fitting on no people is allowed (the vocabulary is the taxonomy's).
_REPORTED_BY_SKLEARN = {
    "check_positive_only_tag_during_fit",
    "check_estimators_empty_data_messages",
    "check_estimators_nan_inf",
    "check_estimator_sparse_array",
    "check_estimator_sparse_matrix",
}


def test_numeric_input_checks_fail_only_because_input_is_numeric() -> None:
    """Each check left out above fails, and only because numbers are refused as records."""
    for param in _checks(applicable=False):
        estimator, check = param.values
        name = _check_name(check)
        expected = AssertionError if name in _REPORTED_BY_SKLEARN else TypeError
        with pytest.raises(expected) as info:
            check(estimator)
        if expected is TypeError:
            assert "expects a" in str(info.value), name


def test_age_band_sex_cross_on_request() -> None:
    """With the ``age_band_sex`` group, each person also sets one column for their band and
    sex together (unknown age included); it is off by default."""
    people = sample_people()
    pf = PersonFeatures(groups=("age_band", "sex", "age_band_sex")).fit(people)
    X = pf.transform(people)
    assert sorted(active(pf, X, 0)) == ["age_band=65-79", "age_band_sex=65-79|female", "sex=female"]
    assert "age_band_sex=unknown|another" in active(pf, X, 2)
    assert np.all(np.asarray(X.sum(axis=1)).ravel() == 3)
    assert not any(
        n.startswith("age_band_sex") for n in PersonFeatures().fit(people).get_feature_names_out()
    )

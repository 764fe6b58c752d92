"""Service feature arrays: taxonomy-ordered codes, weights, modes, places, ages."""

from __future__ import annotations

import numpy as np
import pytest

from vcsmatch.catalogue.model import DELIVERY_MODES, Catalogue, Eligibility, Location, Service
from vcsmatch.errors import CatalogueError, NotFittedError
from vcsmatch.features.geo import haversine_km
from vcsmatch.features.service import ServiceFeatures
from vcsmatch.taxonomy import load_taxonomy


def catalogue() -> Catalogue:
    return Catalogue(
        services=[
            Service(
                id="lunch",
                name="Lunch club",
                needs=["nutrition", "social-isolation"],
                inferred_needs=["social-isolation", "transport"],
                activities=["cooking"],
                delivery_modes=["in_person"],
                eligibility=Eligibility(min_age=60),
                locations=[Location(postcode="IP1 1AA"), Location(latitude=51, longitude=0)],
            ),
            Service(
                id="phone",
                name="Phone friends",
                inferred_needs=["social-isolation"],
                inferred_activities=["games-puzzles"],
                delivery_modes=["phone", "online"],
            ),
            Service(
                id="garden",
                name="Garden",
                activities=["gardening"],
                locations=[Location(latitude=52.1, longitude=1.2)],
                eligibility=Eligibility(min_age=18, max_age=64),
            ),
        ]
    )


def test_code_matrices_follow_taxonomy_order_and_weights() -> None:
    """Published codes weigh 1.0, inferred-only codes the inferred weight, columns in order."""
    tax = load_taxonomy()
    sf = ServiceFeatures().fit(catalogue())
    need = {c: j for j, c in enumerate(tax.need_codes)}
    act = {c: j for j, c in enumerate(tax.activity_codes)}
    assert sf.need_matrix_.shape == (3, len(tax.need_codes))
    assert sf.need_matrix_[0, need["nutrition"]] == 1.0
    assert sf.need_matrix_[0, need["social-isolation"]] == 1.0  # published beats inferred
    assert sf.need_matrix_[0, need["transport"]] == 0.6
    assert sf.need_matrix_[1, need["social-isolation"]] == 0.6
    assert sf.activity_matrix_[1, act["games-puzzles"]] == 0.6
    assert sf.activity_matrix_[2, act["gardening"]] == 1.0
    assert sf.need_matrix_.sum() == pytest.approx(1 + 1 + 0.6 + 0.6)
    assert list(sf.service_ids_) == ["lunch", "phone", "garden"]


def test_modes_places_and_ages() -> None:
    """Modes in DELIVERY_MODES order; first location (postcode resolved); ages NaN if open."""
    sf = ServiceFeatures().fit(catalogue())
    assert sf.modes_[1].tolist() == [float(m in ("phone", "online")) for m in DELIVERY_MODES]
    assert haversine_km(sf.lat_[0], sf.lon_[0], 52.0526, 1.1466) < 0.1  # IP1 1AA
    assert np.isnan(sf.lat_[1]) and sf.lat_[2] == 52.1
    assert sf.min_age_.tolist()[:1] == [60.0] and np.isnan(sf.max_age_[0])
    assert sf.max_age_[2] == 64


def test_transform_stacks_needs_activities_modes_for_any_catalogue() -> None:
    """transform gives [needs | activities | modes] with matching feature names."""
    sf = ServiceFeatures().fit(catalogue())
    other = Catalogue(services=[Service(id="n", name="N", needs=["dementia"])])
    out = sf.transform(other)
    names = sf.get_feature_names_out()
    assert out.shape == (1, len(names))
    assert names[out[0].argmax()] == "need=dementia"
    np.testing.assert_array_equal(
        sf.transform(catalogue()),
        np.hstack([sf.need_matrix_, sf.activity_matrix_, sf.modes_]),
    )


def test_unknown_code_names_the_service_and_field() -> None:
    """A code outside the taxonomy is a CatalogueError naming the service and the field."""
    bad = Catalogue(services=[Service(id="svc-9", name="X", activities=["skydiving"])])
    with pytest.raises(CatalogueError, match="svc-9.*activities"):
        ServiceFeatures().fit(bad)


def test_unfitted_and_bad_parameter() -> None:
    """Unfitted transform raises NotFittedError; a weight outside [0, 1] names the parameter."""
    with pytest.raises(NotFittedError):
        ServiceFeatures().transform(catalogue())
    with pytest.raises(ValueError, match="inferred_weight"):
        ServiceFeatures(inferred_weight=2.0).fit(catalogue())

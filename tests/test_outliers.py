"""The outlier analysis of notebook 03: simulation and closed-form prediction must agree."""

import numpy as np
import pytest

from quantlab import outliers


def test_rounding_noise_of_a_fine_grid_is_step_squared_over_12():
    assert outliers.rounding_mse_of_normal(1e-3, 1.0) == pytest.approx(1e-6 / 12, rel=1e-4)


def test_a_grid_much_coarser_than_the_weights_rounds_them_all_to_zero():
    assert outliers.rounding_mse_of_normal(100.0, 0.5) == pytest.approx(0.25, rel=1e-9)


def test_expected_squared_max_matches_monte_carlo():
    draws = np.abs(np.random.default_rng(0).standard_normal((4000, 1024))).max(axis=1)
    assert outliers.expected_squared_max(1024) == pytest.approx(np.mean(draws**2), rel=0.01)


def test_prediction_matches_measurement_and_is_far_from_three_orders_of_magnitude():
    measured = outliers.measure_outlier_damage(seeds=range(300))
    predicted = outliers.predict_outlier_damage()
    ratio_of_means = measured["outlier_mse"].mean() / measured["clean_mse"].mean()
    assert ratio_of_means == pytest.approx(predicted["ratio"], rel=0.05)
    assert predicted["ratio"] < 100  # "three orders of magnitude" (1000x) is wrong by a factor of ~20


def test_empty_seeds_are_refused():
    with pytest.raises(ValueError, match="seeds"):
        outliers.measure_outlier_damage(seeds=[])

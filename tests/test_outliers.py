"""The outlier analysis of notebook 03: simulation and closed-form prediction must agree."""

import numpy as np
import pytest

import quantlab as ql
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


def test_int8_with_an_outlier_is_worse_than_clean_int4():
    """Step 10/127 ~ 0.8 std: rounding noise ~ step^2/12 = 5.2e-4, above clean INT4's ~2e-4 (step ~3.4 std/7)."""
    result = outliers.int8_outlier_vs_clean_int4(n=1024, std=0.1, outlier=10.0, seeds=range(50))
    assert np.all(result["int8_mse"] > result["int4_mse"])
    assert np.median(result["int8_mse"]) == pytest.approx((10 / 127) ** 2 / 12, rel=0.05)
    assert np.all(result["int8_sqnr_db"] < result["int4_sqnr_db"])
    assert "worse on 100.0% of 50 seeds" in outliers.int8_vs_int4_text(result)
    with pytest.raises(ValueError, match="seeds"):
        outliers.int8_outlier_vs_clean_int4(seeds=[])


def test_closed_form_holds_at_4_bits_and_breaks_at_8():
    assert outliers.closed_form_ratio(1024, 4) == pytest.approx(12 * 49 / outliers.expected_squared_max(1024))
    rows = {r["bits"]: r for r in outliers.closed_form_table(bits=(4, 8), seeds=range(30))}
    assert rows[4]["closed_form"] == pytest.approx(rows[4]["measured"], rel=0.05)
    assert rows[8]["closed_form"] > 10 * rows[8]["measured"]  # the outlier's step is below std: weights keep levels
    assert rows[8]["predicted"] == pytest.approx(rows[8]["measured"], rel=0.1)


def test_grouped_error_split_adds_up_and_isolates_the_outlier_group():
    w = np.random.default_rng(0).normal(0, 0.1, 1024).astype(np.float32)
    w_out = w.copy()
    w_out[40] = 10.0
    clean, hit = outliers.grouped_error_split(w, 40), outliers.grouped_error_split(w_out, 40)
    total = np.mean((w_out.astype(np.float64) - ql.fake_quantize(w_out, 4, group_size=32)) ** 2)
    assert hit["outlier_group"] + hit["other_groups"] == pytest.approx(total)
    assert hit["other_groups"] == clean["other_groups"]
    ordinary = np.delete(w_out[32:64].astype(np.float64), 8)
    assert hit["outlier_group"] == pytest.approx(np.sum(ordinary**2) / 1024, rel=1e-3)  # they all round to 0
    with pytest.raises(ValueError, match="divisible"):
        outliers.grouped_error_split(w[:1000], 0)

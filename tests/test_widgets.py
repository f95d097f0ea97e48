"""Explorers wire controls to core and plots: their numbers are the core's numbers, their call() round-trips."""

import numpy as np
import pytest

import quantlab
import quantlab as ql
from quantlab import data, tradeoff, widgets


def test_quantization_explorer_reports_the_core_numbers():
    explorer = widgets.QuantizationExplorer(bits=3, scheme="asymmetric", clip_ratio=0.8)
    w = data.weights("gaussian", 4096, 0.02)
    expected = ql.fake_quantize(w, 3, "asymmetric", clip_ratio=0.8, scale_dtype="float16")
    assert f"{ql.mse(w, expected):.3e}" in explorer.text
    explorer.set(bits=6)
    expected = ql.fake_quantize(w, 6, "asymmetric", clip_ratio=0.8, scale_dtype="float16")
    assert f"{ql.mse(w, expected):.3e}" in explorer.text


def test_moving_a_slider_changes_the_picture_and_the_numbers():
    explorer = widgets.QuantizationExplorer()
    before_png, before_text = explorer._last_png, explorer.text
    explorer.controls["bits"].value = 5  # what a learner's slider does
    assert explorer._last_png != before_png and explorer.text != before_text
    assert explorer.output.outputs[0]["data"]["image/png"]


def test_call_round_trips():
    explorer = widgets.QuantizationExplorer(
        show=("bits", "group_size", "outliers"), panels=("histogram", "error", "tradeoff")
    )
    explorer.set(bits=3, group_size=32, outliers=2)
    rebuilt = eval(explorer.call(), {"quantlab": quantlab})
    assert rebuilt.settings == explorer.settings
    assert rebuilt.text == explorer.text


def test_static_fallback_is_in_the_display_bundle():
    bundle = widgets.QuantizationExplorer()._repr_mimebundle_()
    assert "application/vnd.jupyter.widget-view+json" in bundle
    assert bundle["image/png"] and "MSE" in bundle["text/plain"] and "QuantizationExplorer(" in bundle["text/plain"]


def test_restricted_symmetric_needs_two_bits():
    explorer = widgets.QuantizationExplorer(scheme="asymmetric", bits=1, show=("bits", "scheme"))
    explorer.set(scheme="symmetric")
    assert explorer.settings["bits"] == 2


def test_unknown_controls_and_panels_are_named():
    with pytest.raises(ValueError, match="show="):
        widgets.QuantizationExplorer(show=("bitz",))
    with pytest.raises(ValueError, match="bitz"):
        widgets.QuantizationExplorer().set(bitz=3)
    with pytest.raises(ValueError, match="1-D"):
        widgets.QuantizationExplorer(w=np.zeros((2, 2), np.float32))


def test_all_zero_weights_do_not_break_the_explorer():
    explorer = widgets.QuantizationExplorer(w=np.zeros(256, np.float32))
    assert "MSE            0.000e+00" in explorer.text
    assert explorer.call().startswith("quantlab.widgets.QuantizationExplorer(w=w")


def test_memory_and_float_explorers():
    memory = widgets.MemoryExplorer(billions_of_parameters=13.0, budget_gb=24.0)
    assert "26.00" in memory.text  # 13e9 x 2 bytes in GB
    memory.set(budget_gb=25.0)  # one step of the budget slider, which fits nothing new, is still read out
    assert "memory budget 25 GB" in memory.text
    floats = widgets.FloatExplorer(value=65504.0)
    assert "fp16: stores 65504" in floats.text
    floats.set(value=70000.0)
    assert "fp16: stores inf" in floats.text


def test_summary_groups_and_steps():
    w = data.weights("gaussian", 1024, 0.02, outliers=1, outlier_magnitude=100)
    summary = tradeoff.summarize(w, 4, group_size=32)
    assert summary.n_groups == 32
    assert summary.group == int(np.argmax(np.abs(w))) // 32
    assert np.all(np.abs(summary.errors_in_steps) <= 0.5 + 1e-6)
    assert summary.bits_per_weight == 4 + 32 / 32


def test_sweep_skips_group_sizes_that_do_not_divide_a_row():
    """Groups run along the last axis: 128 divides the 128 weights of (4, 32) but not a row of 32."""
    points = tradeoff.sweep(data.gaussian(128).reshape(4, 32), bits=(4,), group_sizes=(None, 128, 32, 16))
    assert [p["group_size"] for p in points] == [None, 32, 16]


def test_pareto_front_is_non_dominated():
    points = tradeoff.sweep(data.gaussian(1024), bits=(2, 4, 8), group_sizes=(None, 32, 48))
    assert not any(p["group_size"] == 48 for p in points)  # 48 does not divide 1024: skipped
    front = tradeoff.pareto_front(points)
    for p in front:
        assert not any(
            q["bits_per_weight"] <= p["bits_per_weight"] and q["mse"] < p["mse"] for q in points if q is not p
        )


def _pixels(png):
    import io

    from PIL import Image

    return np.asarray(Image.open(io.BytesIO(png)).convert("RGB"))


def test_partial_redraws_give_the_same_pixels_as_a_full_draw():
    """The blitting renderer must never show a stale or smeared picture."""
    from quantlab import plots

    explorer = widgets.QuantizationExplorer(
        outliers=1,
        outlier_magnitude=100.0,
        n=1024,
        std=0.1,
        show=("bits", "outliers", "outlier_magnitude", "group_size"),
    )
    for magnitude in (10.0, 50.0, 200.0, 30.0, 480.0, 20.0):
        explorer.set(outlier_magnitude=magnitude)
    explorer.set(bits=3, group_size=32)
    with plots.style():
        fresh = plots.FastRenderer(explorer.figure).png()
    np.testing.assert_array_equal(_pixels(explorer._last_png), _pixels(fresh))


def test_per_tensor_is_a_real_dropdown_choice():
    """ipywidgets shows an empty box for the value None: 'per tensor' must be a selectable option."""
    explorer = widgets.QuantizationExplorer(show=("bits", "group_size"))
    assert explorer.controls["group_size"].label == "per tensor"
    assert explorer.settings["group_size"] is None
    explorer.set(group_size=32)
    assert explorer.controls["group_size"].label == "32" and explorer.settings["group_size"] == 32

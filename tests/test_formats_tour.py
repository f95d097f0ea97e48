"""Notebook 13's tour of the newer types: layouts against gguf-py's sizes, the grids' E8 parity, TQ1_0's base 3, the check."""

import itertools

import gguf
import numpy as np
import pytest

from quantlab import checks, ggml
from quantlab.ggml import formats_tour as tour


def test_bits_per_weight_match_gguf_py_block_sizes():
    for row in tour.bits_table():
        block_size, type_size = gguf.GGML_QUANT_SIZES[gguf.GGMLQuantizationType[row["type"]]]
        assert (row["block_size"], row["bytes_per_block"]) == (block_size, type_size), row["type"]
        assert row["bits_per_weight"] == 8 * type_size / block_size


def test_fp4_values_are_e2m1():
    magnitudes = [0, 0.5, 1, 1.5, 2, 3, 4, 6]  # OCP MX spec, FP4 E2M1
    assert tour.fp4_values().tolist() == magnitudes + [-m for m in magnitudes]


@pytest.mark.parametrize("name, size", [("IQ2_XXS", 256), ("IQ2_XS", 512), ("IQ2_S", 1024)])
def test_iq2_grids_with_even_signs_are_e8_points(name, size):
    facts = tour.grid_facts(name)
    assert facts.size == size and facts.dim == 8 and facts.coordinate_values == (8, 25, 43)
    positions = 2 * ggml.iquants_grids.codebook(name).levels.astype(int) + 1  # 1 3 5
    patterns = np.array(list(itertools.product([0, 1], repeat=8)), dtype=bool)
    even, odd = patterns[patterns.sum(axis=1) % 2 == 0], patterns[patterns.sum(axis=1) % 2 == 1]
    for point in positions[:: max(1, size // 64)]:
        assert tour.in_e8(tour.e8_points(point[None], even)).all()
        assert not tour.in_e8(tour.e8_points(point[None], odd)).any()


def test_in_e8_knows_the_lattice():
    assert tour.in_e8([[1, 1, 0, 0, 0, 0, 0, 0], [0.5] * 8, [2, 0, 0, 0, 0, 0, 0, 0]]).all()
    assert not tour.in_e8([[1, 0, 0, 0, 0, 0, 0, 0], [0.5] * 7 + [-0.5], [0.5] * 7 + [1]]).any()


def test_base3_bytes_are_tq1_0s():
    trits = np.random.default_rng(0).integers(0, 3, 160)
    x = np.zeros(256, dtype=np.float32)
    x[:160] = trits - 1.0
    x[200] = 1.0
    data = gguf.quants.quantize(x.reshape(1, -1), gguf.GGMLQuantizationType.TQ1_0).reshape(-1)
    for byte in range(32):  # byte j holds weights j, j+32, ..., j+128
        column = trits[byte::32]
        assert tour.base3_byte(column)[1] == data[byte]
        assert tour.trits_of_byte(data[byte]) == column.tolist()


def test_every_byte_of_five_trits_decodes_back():
    for trits in itertools.product(range(3), repeat=5):
        assert tour.trits_of_byte(tour.base3_byte(trits)[1]) == list(trits)


def test_view_uses_x_squared_only_where_an_imatrix_is_required():
    w = np.random.default_rng(1).normal(0, 0.02, 256).astype(np.float32)
    required = tour.view("IQ2_XXS", w)
    assert "x²" in required.importance
    assert np.array_equal(required.data, ggml.quantize(w, "IQ2_XXS", imatrix=w * w))
    assert tour.view("IQ4_XS", w).importance == "none"
    mx = tour.view("MXFP4", w)
    assert np.array_equal(mx.reconstruction, ggml.dequantize(ggml.quantize(w, "MXFP4"), "MXFP4"))
    # every reconstructed weight lies on its sub-block's levels
    for sub, levels in zip(mx.reconstruction.reshape(-1, 32), mx.levels):
        assert np.isin(sub, levels).all()


def test_bad_input_is_refused():
    with pytest.raises(ValueError, match="newer types"):
        tour.view("Q4_K", np.zeros(256))
    with pytest.raises(ValueError, match="multiple of 256"):
        tour.view("MXFP4", np.zeros(100))
    with pytest.raises(ValueError, match="five values"):
        tour.base3_byte([0, 1, 3, 0, 0])


def test_check_names_the_mistakes(capsys):
    assert checks.check_iq2_xxs_bits(2.0625)
    assert not checks.check_iq2_xxs_bits(2.0)
    assert "fp16 d" in capsys.readouterr().out
    assert not checks.check_iq2_xxs_bits(2.1875)
    assert "parity" in capsys.readouterr().out
    assert not checks.check_iq2_xxs_bits(None)


def test_the_explorer_builds_every_codebook_when_it_opens():
    from quantlab.ggml import iquants_grids
    from quantlab.widgets import FormatExplorer

    iquants_grids.codebook.cache_clear()
    FormatExplorer(type_name="MXFP4")  # no i-quant on show, yet none may be left to build on a later pick
    assert iquants_grids.codebook.cache_info().currsize == len(
        {"IQ1_S" if t == "IQ1_M" else t for t in tour.VECTOR_TYPES}
    )

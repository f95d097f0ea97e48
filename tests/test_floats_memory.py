"""Float formats against numpy's own description of them; memory figures against GGML's block sizes."""

import numpy as np
import pytest

from quantlab import floats, memory


@pytest.mark.parametrize("name, dtype", [("fp32", np.float32), ("fp16", np.float16)])
def test_format_constants_match_numpy(name, dtype):
    fmt, info = floats.float_format(name), np.finfo(dtype)
    assert fmt.max == float(info.max)
    assert fmt.smallest_normal == float(info.smallest_normal)
    assert fmt.smallest_subnormal == float(info.smallest_subnormal)
    assert fmt.epsilon == float(info.eps)
    assert (fmt.exponent_bits, fmt.mantissa_bits) == (info.nexp, info.nmant)


def test_bfloat16_rounding_matches_an_independent_definition():
    """bf16 = nearest number with 8 significant bits: compare with frexp/ldexp arithmetic in float64."""
    x = np.random.default_rng(0).normal(0, 1, 100_000).astype(np.float32) * np.float32(10.0) ** np.random.default_rng(
        1
    ).integers(-20, 20, 100_000)
    mantissa, exponent = np.frexp(x.astype(np.float64))
    expected = np.ldexp(np.rint(mantissa * 256) / 256, exponent)  # ties to even, like the bit trick
    np.testing.assert_array_equal(floats.round_to_bfloat16(x).astype(np.float64), expected)


def test_bfloat16_is_the_top_half_of_float32_after_rounding():
    stored = floats.round_to_bfloat16(np.array([0.1, 1.0, 3.0e38, -2.5], dtype=np.float32))
    assert np.all(stored.view(np.uint32) & 0xFFFF == 0)
    assert stored[1] == 1.0 and stored[3] == -2.5


@pytest.mark.parametrize("value", [0.1, np.float32(0.1), np.array(0.1, dtype=np.float32), [0.1]])
def test_bfloat16_rounds_scalars_and_0d_arrays_too(value):
    """numpy 1.x casts uint64 (op) Python int to float64 on 0-d inputs; the shifts must still work."""
    assert float(np.ravel(floats.round_to_bfloat16(value))[0]) == 0.10009765625  # 0x3DCD: 0.1 in bf16
    assert floats.bit_fields(0.1, "bf16")["mantissa"] == "1001101"


def test_bit_fields_decode_back_to_the_stored_value():
    for name in floats.FORMATS:
        for value in (0.1, -3.75, 65504.0, 1e-7):
            f = floats.bit_fields(value, name)
            fmt = floats.float_format(name)
            mantissa = int(f["mantissa"], 2) / 2**fmt.mantissa_bits + (0 if f["subnormal"] else 1)
            decoded = (-1) ** int(f["sign"]) * 2.0 ** f["unbiased_exponent"] * mantissa
            assert decoded == f["stored"], (name, value)


def test_fp16_overflow_and_underflow():
    assert floats.round_to_format(70000.0, "fp16") == np.inf
    assert floats.round_to_format(1e-8, "fp16") == 0.0
    assert floats.relative_rounding_error(np.array([70000.0]), "fp16")[0] == np.inf


def test_7b_memory_in_gb_and_gib():
    rows = {row["format"]: row for row in memory.memory_table(7e9)}
    assert rows["fp32"]["GB"] == 28.0 and rows["fp16 / bf16"]["GB"] == 14.0
    assert rows["fp16 / bf16"]["GiB"] == pytest.approx(14e9 / 2**30)


def test_ggml_bits_per_weight_come_from_the_real_block_sizes():
    import gguf

    sizes = gguf.constants.GGML_QUANT_SIZES
    for label, name in (("Q8_0", gguf.GGMLQuantizationType.Q8_0), ("Q4_0", gguf.GGMLQuantizationType.Q4_0)):
        block, type_size = sizes[name]
        [bits] = [b for key, b in memory.BITS_PER_WEIGHT.items() if key.startswith(label)]
        assert bits == 8 * type_size / block


@pytest.mark.parametrize("bad", [0, -1, float("nan"), float("inf")])
def test_memory_refuses_nonsense(bad):
    with pytest.raises(ValueError, match="n_params"):
        memory.weight_bytes(bad, 4)
    with pytest.raises(ValueError, match="bits_per_weight"):
        memory.weight_bytes(7e9, bad)

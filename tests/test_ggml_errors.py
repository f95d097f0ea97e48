"""Bad input to quantlab.ggml gets an error that names the argument and says how to fix it."""

import gguf
import numpy as np
import pytest

import quantlab.ggml as ggml

W = np.random.default_rng(0).standard_normal((4, 256)).astype(np.float32)
Q4_0_BYTES = ggml.quantize(W, "Q4_0")


@pytest.mark.parametrize(
    "call, error, words",
    [
        # type names
        (lambda: ggml.quantize(W, "Q7_0"), ValueError, ["'Q7_0'", "Q4_0", "Q4_K", "IQ4_NL", "Q8_0"]),
        (lambda: ggml.dequantize(Q4_0_BYTES, "q4_0_k"), ValueError, ["unknown GGML type", "Q6_K"]),
        (lambda: ggml.format_info(4), TypeError, ["type_name", "'Q4_K'"]),
        # weights: dtype, values, shape
        (lambda: ggml.quantize(np.arange(64), "Q4_0"), TypeError, ["x", "int", "astype(np.float32)"]),
        (lambda: ggml.quantize(np.ones(32, dtype=bool), "Q4_0"), TypeError, ["x", "bool"]),
        (lambda: ggml.quantize(np.ones(32, dtype=complex), "Q4_0"), TypeError, ["x", "complex"]),
        (lambda: ggml.quantize(np.array(["a"] * 32), "Q8_0"), TypeError, ["x", "floats"]),
        (
            lambda: ggml.quantize(np.where(np.arange(64) == 37, np.nan, 1.0), "Q4_0"),
            ValueError,
            ["x", "nan", "index 37", "finite"],
        ),
        (
            lambda: ggml.quantize(np.where(np.arange(64) == 3, -np.inf, 1.0).reshape(2, 32), "Q8_0"),
            ValueError,
            ["x", "-inf", "(0, 3)"],
        ),
        (lambda: ggml.quantize(np.full(32, 1e39), "Q8_0"), ValueError, ["x", "1e+39", "float32"]),
        (lambda: ggml.quantize(np.zeros(0, dtype=np.float32), "Q4_0"), ValueError, ["x", "empty"]),
        (lambda: ggml.quantize(np.float32(1.0), "Q4_0"), ValueError, ["x", "0 dimension", "1-D"]),
        (
            lambda: ggml.quantize(W.reshape(2, 2, 256), "Q4_0"),
            ValueError,
            ["x", "3 dimension", "reshape(-1, x.shape[-1])"],
        ),
        (
            lambda: ggml.quantize(np.ones(100, dtype=np.float32), "Q4_0"),
            ValueError,
            ["100 weights", "Q4_0", "blocks of 32", "96 or 128"],
        ),
        (
            lambda: ggml.quantize(np.ones((3, 640), dtype=np.float32), "Q4_K"),
            ValueError,
            ["rows of 640", "blocks of 256", "512 or 768", "Q5_0"],
        ),
        (lambda: ggml.quantize(np.ones(20, dtype=np.float32), "Q6_K"), ValueError, ["20 weights", "nearest: 256"]),
        # bytes: dtype, size, shape
        (lambda: ggml.dequantize(Q4_0_BYTES.view(np.int8), "Q4_0"), TypeError, ["data", "int8", "uint8", "view"]),
        (lambda: ggml.dequantize(W, "Q4_0"), TypeError, ["data", "float32", "uint8"]),
        (
            lambda: ggml.dequantize(Q4_0_BYTES.ravel()[:100], "Q4_0"),
            ValueError,
            ["100 bytes", "Q4_0", "18 bytes", "90 bytes", "108 bytes"],
        ),
        (lambda: ggml.dequantize(Q4_0_BYTES[:, :-1], "Q4_0"), ValueError, ["each row", "143 bytes", "another type"]),
        (lambda: ggml.dequantize(Q4_0_BYTES, "Q8_0"), ValueError, ["144 bytes", "Q8_0", "34 bytes"]),
        (lambda: ggml.dequantize(np.zeros(0, np.uint8), "Q4_0"), ValueError, ["data", "empty"]),
        (lambda: ggml.dequantize(Q4_0_BYTES.reshape(2, 2, -1), "Q4_0"), ValueError, ["data", "3 dimension"]),
        (lambda: ggml.dequantize(Q4_0_BYTES, "Q4_0", shape=(5, 256)), ValueError, ["shape=(5, 256)", "1280", "1024"]),
        (lambda: ggml.fields(b"\x00" * 17, "Q4_0"), ValueError, ["17 bytes", "18 bytes"]),
    ],
)
def test_bad_input_message(call, error, words):
    with pytest.raises(error) as raised:
        call()
    message = str(raised.value)
    missing = [word for word in words if word not in message]
    assert not missing, f"{missing} not in: {message}"


def test_names_are_case_insensitive_and_accept_gguf_enums():
    assert ggml.format_info("q4_k") is ggml.format_info("Q4_K") is ggml.format_info(gguf.GGMLQuantizationType.Q4_K)

"""Every kind of bad input gets an error whose message names the argument and says what to do."""

import numpy as np
import pytest

import quantlab as ql
from quantlab import data, floats

W = data.gaussian(64)


@pytest.mark.parametrize(
    "call, error, words",
    [
        (lambda: ql.quantize(np.array([0.1, np.nan, 0.2]), 4), ValueError, ["w", "nan", "index 1", "finite"]),
        (lambda: ql.quantize(np.array([0.1, np.inf]), 4), ValueError, ["w", "inf", "finite"]),
        (lambda: ql.quantize(np.array([[0.0, -np.inf]]), 4), ValueError, ["w", "-inf", "(0, 1)"]),
        (lambda: ql.quantize(np.array([], dtype=np.float32), 4), ValueError, ["w", "empty"]),
        (lambda: ql.quantize(np.arange(8), 4), TypeError, ["w", "int", "astype(np.float32)"]),
        (lambda: ql.quantize(np.array([True, False]), 4), TypeError, ["w", "bool"]),
        (lambda: ql.quantize(np.array(["a", "b"]), 4), TypeError, ["w", "floats"]),
        (lambda: ql.quantize(W, 0), ValueError, ["bits=0", "1 to 8"]),
        (lambda: ql.quantize(W, 9), ValueError, ["bits=9", "1 to 8"]),
        (lambda: ql.quantize(W, 4.5), TypeError, ["bits", "integer"]),
        (lambda: ql.quantize(W, True), TypeError, ["bits", "integer"]),
        (lambda: ql.quantize(W, 1), ValueError, ["bits=1", "symmetric_range='full'"]),
        (
            lambda: ql.quantize(W, 4, group_size=48),
            ValueError,
            ["group_size=48", "does not divide", "64", "divisor such as"],
        ),
        (lambda: ql.quantize(W, 4, group_size=0), ValueError, ["group_size=0"]),
        (lambda: ql.quantize(W, 4, group_size=8.0), TypeError, ["group_size"]),
        (lambda: ql.quantize(W.reshape(8, 8), 4, axis=2), ValueError, ["axis=2", "out of range", "2 dimension"]),
        (lambda: ql.quantize(W.reshape(8, 8), 4, axis=-3), ValueError, ["axis=-3"]),
        (lambda: ql.quantize(W, 4, "signed"), ValueError, ["scheme='signed'", "asymmetric"]),
        (lambda: ql.quantize(W, 4, symmetric_range="half"), ValueError, ["symmetric_range", "restricted"]),
        (lambda: ql.quantize(W, 4, clip_ratio=0), ValueError, ["clip_ratio", "(0, 1]"]),
        (lambda: ql.quantize(W, 4, clip_ratio=1.5), ValueError, ["clip_ratio", "(0, 1]"]),
        (lambda: ql.quantize(W, 4, scale_dtype="float8"), ValueError, ["float8", "fp16"]),
        (lambda: ql.quantize(W * 1e7, 4, scale_dtype="float16"), ValueError, ["overflows", "scale_dtype", "float32"]),
        (lambda: ql.dequantize(W), TypeError, ["dequantize", "quantize"]),
        (lambda: ql.mse(W, W[:10]), ValueError, ["shape (64,)", "shape (10,)"]),
        (lambda: ql.mse(W, np.full(64, np.nan)), ValueError, ["w_hat", "nan"]),
        (lambda: data.gaussian(0), ValueError, ["n=0"]),
        (lambda: data.gaussian(10, std=-1), ValueError, ["std=-1"]),
        (lambda: data.student_t(10, df=2), ValueError, ["df=2", "greater than 2"]),
        (lambda: data.with_outliers(W, count=100), ValueError, ["count=100", "64"]),
        (lambda: data.weights("uniform"), ValueError, ["distribution='uniform'", "gaussian"]),
        (lambda: floats.float_format("fp8"), ValueError, ["fp8", "fp16"]),
    ],
)
def test_bad_input_is_named(call, error, words):
    with pytest.raises(error) as caught:
        call()
    message = str(caught.value)
    for word in words:
        assert word in message, f"{word!r} missing from: {message}"


def test_float16_and_float64_inputs_are_accepted():
    for dtype in (np.float16, np.float64):
        w_hat = ql.fake_quantize(W.astype(dtype), 4)
        assert np.all(np.isfinite(w_hat))


def test_finite_check_sees_every_layout_and_survives_an_overflowing_sum_of_squares():
    from quantlab._validate import as_float_array

    huge = np.full((4, 6), 3e38, dtype=np.float32)  # finite, but the sum of squares is inf
    assert as_float_array(huge) is huge
    for bad in (np.nan, np.inf, -np.inf):
        for layout in (lambda a: a, lambda a: a.T, lambda a: a[:, ::2], lambda a: np.asfortranarray(a)):
            x = np.ones((4, 6), dtype=np.float32)
            x[2, 4] = bad
            with pytest.raises(ValueError, match="finite weights"):
                as_float_array(layout(x))

"""The exercise self-checks accept right answers and name the common wrong ones."""

import numpy as np
import pytest

from quantlab import checks


def textbook_asymmetric(w, bits=4):
    lo, hi = min(w.min(), 0.0), max(w.max(), 0.0)
    scale = np.float32((hi - lo) / (2**bits - 1))
    zero_point = np.rint(-lo / scale)
    codes = np.clip(np.rint(w / scale) + zero_point, 0, 2**bits - 1)
    return (codes - zero_point) * scale


def no_zero_in_range(w, bits=4):
    lo, hi = w.min(), w.max()
    scale = (hi - lo) / (2**bits - 1)
    return np.rint((w - lo) / scale) * scale + lo


def article_asymmetric(w, bits=4):
    """The article's quantize_asymmetric: integer zero point, range from w.min() (0 not included)."""
    lo, hi = w.min(), w.max()
    scale = (hi - lo) / (2**bits - 1)
    zero_point = np.rint(-lo / scale)
    return (np.clip(np.rint(w / scale) + zero_point, 0, 2**bits - 1) - zero_point) * scale


def unrounded_zero_point(w, bits=4):
    lo, hi = min(w.min(), 0.0), max(w.max(), 0.0)
    scale = (hi - lo) / (2**bits - 1)
    zero_point = -lo / scale
    return (np.clip(np.rint(w / scale + zero_point), 0, 15) - zero_point) * scale


def run(check, answer, capsys):
    ok = check(answer)
    return ok, capsys.readouterr().out


@pytest.mark.parametrize(
    "check, answer, ok, words",
    [
        (checks.check_memory, 26, True, ["26.0 GB"]),
        (checks.check_memory, 24.2, False, ["GiB"]),
        (checks.check_memory, 208, False, ["bits, not bytes"]),
        (checks.check_memory, 52, False, ["fp32"]),
        (checks.check_memory, 3, False, ["Hint"]),
        (checks.check_memory, None, False, ["Not answered"]),
        (checks.check_largest_fp16, 65504, True, ["65504"]),
        (checks.check_largest_fp16, 65536, False, ["2^16"]),
        (checks.check_largest_fp16, 65535, False, ["unsigned"]),
        (checks.check_largest_fp16, 1.0, False, ["Hint"]),
        (checks.check_outlier_mse, 0.01, True, ["std^2"]),
        (checks.check_outlier_mse, 0.2, False, ["1000x"]),
        (checks.check_outlier_mse, (10 / 7) ** 2 / 12, False, ["step^2/12"]),
        (checks.check_outlier_mse, 1e-4, False, ["Hint"]),
        (checks.check_bits_per_weight, 4.375, True, ["4.375"]),
        (checks.check_bits_per_weight, 4.25, False, ["zero point"]),
        (checks.check_bits_per_weight, 4.625, False, ["32 bits"]),
        (checks.check_bits_per_weight, 4, False, ["only the codes"]),
        (checks.check_bits_per_weight, 28, False, ["group size"]),
        (checks.check_fake_quantize, textbook_asymmetric, True, ["Right"]),
        (checks.check_fake_quantize, no_zero_in_range, False, ["include 0"]),
        (checks.check_fake_quantize, article_asymmetric, False, ["min(w.min(), 0)", "max(w.max(), 0)"]),
        (checks.check_fake_quantize, unrounded_zero_point, False, ["exactly 0"]),
        (checks.check_fake_quantize, lambda w: np.rint(w * 1000) / 1000, False, ["distinct values"]),
        (checks.check_fake_quantize, lambda w: w[:10], False, ["shape"]),
        # SmoothQuant: 16^0.75 / 0.5^0.25, computed by hand (not through quantlab)
        (checks.check_smoothing_scale, 8 / 0.5**0.25, True, ["Right", "1.68"]),
        (checks.check_smoothing_scale, 2 / 0.5**0.75, False, ["swapped"]),
        (checks.check_smoothing_scale, 8, False, ["numerator"]),
        (checks.check_smoothing_scale, 8 * 0.5**0.25, False, ["divides"]),
        (checks.check_smoothing_scale, 0.5**0.25 / 8, False, ["1 / s_j"]),
        (checks.check_smoothing_scale, 3, False, ["Hint"]),
        (checks.check_smoothing_scale, None, False, ["Not answered"]),
    ],
)
def test_checks_name_the_mistake(check, answer, ok, words, capsys):
    result, out = run(check, answer, capsys)
    assert bool(result) is ok
    for word in words:
        assert word in out, out


def test_the_unfilled_template_counts_as_not_answered(capsys):
    assert not checks.check_fake_quantize(lambda w: None)
    assert "Not answered" in capsys.readouterr().out


def test_a_non_number_answer_is_a_clear_type_error():
    with pytest.raises(TypeError, match="number"):
        checks.check_memory("lots")
    with pytest.raises(TypeError, match="function itself"):
        checks.check_fake_quantize(np.zeros(3))

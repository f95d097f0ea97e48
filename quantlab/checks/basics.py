"""Self-checks for notebooks 00-04: memory, fp16's largest number, a quantizer, an outlier's MSE, bits per weight.

Each check prints a verdict (so it reads well in a notebook) and returns True or False (so it can be
tested). An unanswered exercise (None or Ellipsis) is not an error: it gets a reminder.
"""

import numpy as np

from ..memory import GB, GIB
from ..outliers import predict_outlier_damage
from ..uniform import fake_quantize
from .base import NOT_ANSWERED, as_number, is_close, unanswered, verdict


def check_memory(answer_gb, n_params=13e9, bits=16):
    """Exercise 00: the memory of a 13B-parameter model's weights in fp16, in GB."""
    if unanswered(answer_gb):
        return NOT_ANSWERED
    value = as_number(answer_gb, "answer_gb")
    right = n_params * bits / 8 / GB
    if is_close(value, right):
        return verdict(
            True, f"Right: {n_params:.3g} weights x {bits // 8} bytes = {right:.1f} GB ({right * GB / GIB:.1f} GiB)."
        )
    mistakes = {
        n_params * bits / 8 / GIB: "That is the size in GiB (2^30 bytes). GB here means 10^9 bytes.",
        n_params * bits / GB: "That counts bits, not bytes: divide by 8.",
        n_params * 4 / GB: "That is the fp32 size (4 bytes per weight); fp16 takes 2.",
        n_params / GB: "That is one byte per weight (int8); fp16 takes 2 bytes.",
    }
    for wrong, message in mistakes.items():
        if is_close(value, wrong):
            return verdict(False, message)
    return verdict(
        False,
        f"Not quite. Hint: bytes = parameters x bits / 8, and 1 GB = 10^9 bytes. Check the power of ten of {value:g}.",
    )


def check_largest_fp16(answer):
    """Exercise 01: the largest finite fp16 number."""
    if unanswered(answer):
        return NOT_ANSWERED
    value = as_number(answer, "answer")
    if value == 65504:
        return verdict(
            True, "Right: (2 - 2^-10) x 2^15 = 65504. A scale or activation beyond it overflows to inf in fp16."
        )
    mistakes = {
        65536.0: "That is 2^16, but the mantissa tops out at 1.1111111111 (binary) = 2 - 2^-10, and the top exponent is 15.",
        65535.0: "That is the largest 16-bit unsigned integer; fp16 spends 5 bits on the exponent and 10 on the mantissa.",
        2.0**15: "That is 2^15 with a mantissa of 1.0; the largest mantissa is 2 - 2^-10.",
        2.0**16 - 2.0**5: "Close: check the mantissa. With 10 fraction bits the largest is 2 - 2^-10, times 2^15.",
        float(np.finfo(np.float32).max): "That is the largest fp32 number; fp16 has only 5 exponent bits (bias 15).",
    }
    for wrong, message in mistakes.items():
        if value == wrong:
            return verdict(False, message)
    return verdict(
        False,
        "Not quite. Hint: the largest exponent field is 11110 (11111 means inf/NaN), so 2^(30 - 15); multiply by the largest mantissa.",
    )


def _unwidened(w, bits):
    """The common slip: an integer zero point, but the range from w.min() to w.max() (0 left out)."""
    low, high = float(w.min()), float(w.max())
    scale = np.float32((high - low) / (2**bits - 1))
    zero_point = np.rint(-low / scale)
    return (np.clip(np.rint(w / scale) + zero_point, 0, 2**bits - 1) - zero_point) * scale


def check_fake_quantize(my_fake_quantize, bits=4):
    """Exercise 02: your asymmetric min-max quantize-then-dequantize, compared with quantlab's on telling inputs."""
    if unanswered(my_fake_quantize):
        return NOT_ANSWERED
    if not callable(my_fake_quantize):
        raise TypeError(f"pass your function itself (without calling it), got {type(my_fake_quantize).__name__}")
    cases = {
        "mixed signs": np.random.default_rng(0).normal(0, 0.02, 256).astype(np.float32),
        "all positive": np.random.default_rng(1).uniform(0.1, 0.5, 256).astype(np.float32),
        "with exact zeros": np.concatenate([np.zeros(8), np.random.default_rng(2).normal(0.01, 0.02, 248)]).astype(
            np.float32
        ),
    }
    results = {}
    for name, w in cases.items():
        output = my_fake_quantize(w.copy())
        if output is None:  # the exercise template returns None until it is filled in
            unanswered(None)
            return NOT_ANSWERED
        mine = np.asarray(output, dtype=np.float64)
        if mine.shape != w.shape:
            return verdict(
                False,
                f"On '{name}' your function returned shape {mine.shape}; return one reconstructed weight per input weight {w.shape}.",
            )
        results[name] = (mine, fake_quantize(w, bits, "asymmetric", scale_dtype="float32"))
    wrong = [
        name for name, (mine, expected) in results.items() if not np.allclose(mine, expected, rtol=1e-5, atol=1e-7)
    ]
    if not wrong:
        return verdict(True, "Right on all three test inputs: mixed signs, all positive, and exact zeros.")
    most_levels = max(len(np.unique(np.round(mine, 7))) for mine, _ in results.values())
    if most_levels > 2**bits:
        return verdict(
            False,
            f"Your output has {most_levels} distinct values, more than 2^{bits} = {2**bits}. Hint: clamp the codes to 0..2^bits - 1 before dequantizing.",
        )
    widen = "Hint: widen the range to include 0: low = min(w.min(), 0) and high = max(w.max(), 0)."
    if np.isclose(results["all positive"][0].min(), cases["all positive"].min(), rtol=1e-5):
        return verdict(False, f"For all-positive weights your grid does not contain 0. {widen}")
    if np.allclose(results["all positive"][0], _unwidened(cases["all positive"], bits), rtol=1e-5, atol=1e-7):
        return verdict(False, f"For all-positive weights your range starts at w.min(), not at 0. {widen}")
    if np.any(results["with exact zeros"][0][:8] != 0):
        return verdict(
            False,
            "Exact zeros did not come back as exactly 0. Hint: round the zero point to an integer, so that 0 is one of the levels.",
        )
    mine, expected = results[wrong[0]]
    return verdict(
        False,
        f"On '{wrong[0]}' your reconstruction differs from the reference (largest difference {np.max(np.abs(mine - expected)):.2g}). "
        f"Hint: low = min(w.min(), 0), high = max(w.max(), 0), scale = (high - low) / (2^bits - 1), zero_point = round(-low / scale), "
        f"code = clip(round(w / scale) + zero_point, 0, 2^bits - 1).",
    )


def check_outlier_mse(answer, n=1024, std=0.1, outlier=10.0, bits=4):
    """Exercise 03: predict the MSE of 4-bit per-tensor quantization of N(0, 0.1^2) weights with one outlier of 10."""
    if unanswered(answer):
        return NOT_ANSWERED
    value = as_number(answer, "answer")
    prediction = predict_outlier_damage(n, std, outlier, bits)
    if is_close(value, prediction["outlier_mse"], rel=0.1):
        return verdict(
            True, f"Right: the step is 10/7 = 1.43, so nearly every weight rounds to 0 and MSE ~ std^2 = {std**2:g}."
        )
    if is_close(value, (outlier / (2 ** (bits - 1) - 1)) ** 2 / 12, rel=0.1):
        return verdict(
            False,
            "step^2/12 assumes the error is spread evenly over a step, but here the step dwarfs the weights: each weight rounds to 0, so its error is the weight itself.",
        )
    if is_close(value, 1000 * prediction["clean_mse"], rel=0.3):
        return verdict(
            False,
            "That is '1000x the clean MSE', the popular claim. Compute it: with step 10/7, what does a weight of 0.1 round to?",
        )
    return verdict(
        False,
        "Not quite. Hint: with one scale for the tensor, step = max|w| / 7. Which level does a typical weight (|w| ~ 0.1) round to, and what is its error then?",
    )


def check_bits_per_weight(answer, bits=4, group_size=64, scale_bits=16, zero_point_bits=8):
    """Exercise 04: bits per weight of 4-bit codes with an fp16 scale and an 8-bit zero point per 64 weights."""
    if unanswered(answer):
        return NOT_ANSWERED
    value = as_number(answer, "answer")
    right = bits + (scale_bits + zero_point_bits) / group_size
    if is_close(value, right, rel=1e-3):
        return verdict(
            True, f"Right: {bits} + ({scale_bits} + {zero_point_bits}) / {group_size} = {right:g} bits per weight."
        )
    mistakes = {
        bits
        + scale_bits / group_size: "You counted the scale but forgot the zero point: it is stored once per group too.",
        bits + (32 + zero_point_bits) / group_size: "That prices the scale at 32 bits; it is stored in fp16 (16 bits).",
        float(bits): "That counts only the codes. Every group also stores its scale and zero point.",
        bits
        + scale_bits
        + zero_point_bits: "The scale and zero point are shared by the whole group: divide their bits by the group size.",
    }
    for wrong, message in mistakes.items():
        if is_close(value, wrong, rel=1e-3):
            return verdict(False, message)
    return verdict(
        False,
        "Not quite. Hint: (bits of all codes + bits of all scales + bits of all zero points) / number of weights.",
    )

"""Self-checks for notebook 05's exercises (non-uniform grids), in the style of quantlab.checks.

Each check prints a verdict and returns a checks.Verdict: truthy when right, and when wrong, a message
that names the mistake it looks like and gives a hint.
"""

import warnings

import numpy as np

from .. import codebook
from .base import NOT_ANSWERED, is_close, as_number, unanswered, verdict


def _reference_step(w, levels):
    """One Lloyd step by quantlab: nearest level for every weight, then each level to its members' mean."""
    return codebook.kmeans(w, len(levels), init=levels, max_iter=1).history[1, 0]


def _step_with(w, levels, assign, centre, empty):
    """A Lloyd step built from parts, to recognise a learner's variant: `assign` codes, `centre` of members, `empty` level rule."""
    codes = assign(w, levels)
    new = np.empty(len(levels))
    for j, level in enumerate(levels):  # a handful of levels: a loop reads like the recipe
        members = w[codes == j]
        new[j] = centre(members) if members.size else empty(level)
    return np.sort(new)


def _nearest(w, levels):
    return np.abs(w[:, None] - levels[None, :]).argmin(axis=1)


def _level_above(w, levels):
    return np.minimum(np.searchsorted(levels, w), len(levels) - 1)  # the first level >= w: not the nearest


LLOYD_CASES = {
    "five weights, two levels": (np.array([-0.9, -0.4, 0.1, 0.3, 1.1]), np.array([-1.0, 1.0])),
    "a level no weight picks": (np.array([0.10, 0.20, 0.25, 0.31, 0.40, 0.52]), np.array([-2.0, 0.15, 0.45])),
    "gaussian, 8 levels": (np.random.default_rng(5).normal(0.0, 1.0, 400), np.linspace(-2.0, 2.0, 8)),
}


def check_lloyd_step(my_lloyd_step):
    """Exercise 05a: one step of Lloyd's algorithm, compared with quantlab's on three telling inputs.

    `my_lloyd_step(w, levels)` takes 1-D weights and ascending levels and returns the new levels.
    """
    if unanswered(my_lloyd_step):
        return NOT_ANSWERED
    if not callable(my_lloyd_step):
        raise TypeError(f"pass your function itself (without calling it), got {type(my_lloyd_step).__name__}")
    outputs = {}
    for name, (w, levels) in LLOYD_CASES.items():
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)  # np.mean of an empty slice: diagnosed below
            output = my_lloyd_step(w.copy(), levels.copy())
        if output is None:  # the template returns None until it is filled in
            unanswered(None)
            return NOT_ANSWERED
        mine = np.asarray(output, dtype=np.float64)
        if mine.shape != levels.shape:
            what = "one code per weight" if mine.shape == w.shape else f"shape {mine.shape}"
            return verdict(
                False,
                f"On '{name}' your function returned {what}; return the {len(levels)} new levels (one per old level), not the codes.",
            )
        outputs[name] = np.sort(mine)

    def differs(variant):
        return [
            name
            for name, (w, levels) in LLOYD_CASES.items()
            if not np.allclose(outputs[name], variant(w, levels), rtol=1e-9, atol=1e-12)
        ]

    if not differs(_reference_step):
        return verdict(
            True,
            "Right: each weight goes to its nearest level, each level moves to the mean of its weights, and a level nobody picks stays put.",
        )
    if any(np.isnan(mine).any() for mine in outputs.values()):
        return verdict(
            False,
            "A level became NaN: it is the mean of no weights (no weight is nearest to it). Hint: leave a level that no weight picks where it was.",
        )
    if not differs(lambda w, levels: levels):
        return verdict(
            False,
            "Your levels did not move. Hint: after assigning each weight to its nearest level, replace each level by the mean of the weights assigned to it.",
        )
    if not differs(lambda w, levels: _step_with(w, levels, _nearest, np.mean, lambda level: 0.0)):
        return verdict(
            False,
            "A level that no weight picks moved to 0. Hint: leave it where it was; 0 is not where its (absent) weights are.",
        )
    if not differs(lambda w, levels: _step_with(w, levels, _nearest, np.median, lambda level: level)):
        return verdict(
            False,
            "You moved each level to the median of its weights. For squared error the best single level is the mean; use np.mean.",
        )
    if not differs(lambda w, levels: _step_with(w, levels, _level_above, np.mean, lambda level: level)):
        return verdict(
            False,
            "Weights went to the first level at or above them, not to the nearest. Hint: nearest = argmin |w - level|, or compare w with the midpoints between neighbouring levels.",
        )
    wrong = differs(_reference_step)[0]
    w, levels = LLOYD_CASES[wrong]
    expected = _reference_step(w, levels)
    return verdict(
        False,
        f"On '{wrong}' your levels differ from the reference (largest difference {np.max(np.abs(outputs[wrong] - expected)):.2g}). "
        "Hint: codes = argmin over levels of |w - level|; new level j = mean of w[codes == j] (unchanged if no weight has code j).",
    )


def check_codebook_bits_per_weight(answer, k=16, group_size=64, level_bits=16):
    """Exercise 05b: bits per weight of a k-means codebook of 16 fp16 levels learnt per block of 64 weights."""
    if unanswered(answer):
        return NOT_ANSWERED
    value = as_number(answer, "answer")
    code_bits = (k - 1).bit_length()
    right = codebook.codebook_bits_per_weight(k, group_size, level_bits=level_bits)
    if is_close(value, right, rel=1e-3):
        return verdict(
            True,
            f"Right: {code_bits} bits of code + {k} levels x {level_bits} bits / {group_size} weights = {right:g} bits per weight, nearly twice NF4's {codebook.normal_float_bits_per_weight(code_bits, group_size):g} (fp32 absmax per block, QLoRA section 3).",
        )
    mistakes = {
        float(
            code_bits
        ): "That counts only the codes. A learnt codebook must be stored too: its levels, once per block.",
        code_bits
        + level_bits
        / group_size: "That is one fp16 number per block, a scale like IQ4_NL's. A learnt codebook stores all of its levels per block.",
        code_bits + k * 32 / group_size: "That prices the levels at 32 bits; they are stored in fp16 (16 bits each).",
        k
        + k
        * level_bits
        / group_size: f"A code picks one of {k} levels, so it needs log2({k}) = {code_bits} bits, not {k}.",
        code_bits + k * level_bits: "The codebook is shared by the whole block: divide its bits by the block size.",
    }
    for wrong, message in mistakes.items():
        if is_close(value, wrong, rel=1e-3):
            return verdict(False, message)
    return verdict(
        False, "Not quite. Hint: (bits of all codes + bits of all codebook levels) / number of weights, per block."
    )

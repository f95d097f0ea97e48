"""Self-check for notebook 12's exercise (myth vs measurement): the step of the article's outlier example.

Prints a verdict and returns a checks.Verdict: truthy when right; when wrong, the message names the
mistake the number looks like (the article's own among them).
"""

from .base import NOT_ANSWERED, as_number, is_close, unanswered, verdict

# The example: weights in about ±0.5 and a few at ±10, symmetric 4-bit codes -7..7, one scale for the tensor.
_OUTLIER, _QMAX = 10.0, 7
_MISTAKES = {
    2 * _OUTLIER / 15: "that is the article's number: 20 / 15 counts the 15 levels, but 15 levels have 14 gaps "
    "between them, so the step is 20 / 14",
    2 * _OUTLIER / 16: "that spreads 16 levels (codes -8..7) over the range; the symmetric code uses 15, -7..7, "
    "with 14 gaps",
    2 * _OUTLIER / _QMAX: "that divides the whole range (20) by 7; the scale is max|w| / 7 = 10 / 7",
    _OUTLIER / 15: "that divides the largest weight by 15; the scale is max|w| / (2^(4-1) - 1) = 10 / 7",
    0.5 / _QMAX: "that is the step without the outliers (max|w| = 0.5); the ±10 weights set the scale",
}


def check_outlier_step(answer):
    """Exercise 12: the step of the article's example, 4-bit symmetric, one scale, weights reaching ±10."""
    if unanswered(answer):
        return NOT_ANSWERED
    value = as_number(answer, "step")
    right = _OUTLIER / _QMAX
    if is_close(value, right, rel=0.005):
        return verdict(
            True,
            f"Right: step = 10 / 7 = {right:.4f} (20 / 14: 15 levels, 14 gaps). Every weight within ±{right / 2:.2f} "
            "rounds to code 0: the article's weights in ±0.5 all become exactly 0.",
        )
    for wrong, why in _MISTAKES.items():
        if is_close(value, wrong, rel=0.005):
            return verdict(False, f"{value:g}: {why}.")
    return verdict(
        False,
        f"{value:g} is not it. Hint: the symmetric 4-bit code is -7..7 and its scale is max|w| / 7; "
        "the step between neighbouring levels is that scale.",
    )

"""Self-check for notebook 09's exercise: the alpha at which AWQ's scaling gives the least output error.

Same manner as quantlab.checks: print a verdict, return a truthy/falsy Verdict, name the mistake. The
curve is computed as the explorer computes it (calibration.lesson: blk.2.attn_v of the character
model, INT3 in groups of 32, calibrated on 32 windows of training text).
"""

import numpy as np

from ..calibration import lesson
from .base import NOT_ANSWERED, as_number, unanswered, verdict


def _alpha(answer):
    """The alpha of an AWQExplorer, or a number."""
    if hasattr(answer, "settings") and "alpha" in getattr(answer, "settings", {}):
        return float(answer.settings["alpha"])
    return as_number(answer, "alpha (or your AWQExplorer)")


def check_awq_alpha(answer, layer=lesson.LAYER, bits=3, group_size=32):
    """Exercise 09: the alpha on AWQ's grid (0, 0.05, ..., 0.95) of least output error for the explorer's layer."""
    if unanswered(answer):
        return NOT_ANSWERED
    alpha = _alpha(answer)
    weight, inputs = lesson.layer_case(layer)
    alphas, errors = lesson.awq_curve(weight, inputs, bits, group_size)
    searched = alphas < 1
    best = int(np.argmin(np.where(searched, errors, np.inf)))
    if not 0 <= alpha <= 1:
        return verdict(False, f"alpha={alpha} is outside [0, 1]: s = mean|x|^alpha, and AWQ searches 0 to 0.95.")
    k = int(np.argmin(np.abs(alphas - alpha)))
    if abs(alphas[k] - alpha) > 1e-9:
        return verdict(False, f"alpha={alpha} is not on AWQ's grid; it tries 0, 0.05, ..., 0.95 (range(20) / 20).")
    numbers = f"error {errors[k]:.3e} = {errors[k] / errors[0]:.3f} x round-to-nearest"
    if k == best:
        return verdict(
            True,
            f"Right: alpha {alphas[best]:.2f}, {numbers}. Scaling by mean|x|^alpha helps, but "
            f"not without limit: the channels scaled down get coarser.",
        )
    if k == 0:
        return verdict(
            False,
            f"alpha 0 gives s = 1 for every channel: that is plain round-to-nearest ({numbers}). "
            f"Move the slider and watch the curve dip below the dashed line.",
        )
    if not searched[k]:
        return verdict(
            False,
            f"alpha 1 is never tried by AWQ (its grid stops at 0.95); here it gives {numbers}, "
            f"worse than the bottom of the curve.",
        )
    return verdict(
        False,
        f"Not the lowest point: alpha {alphas[k]:.2f} gives {numbers}, "
        f"{errors[k] / errors[best] - 1:.1%} above the minimum. Look for the bottom of the curve.",
    )

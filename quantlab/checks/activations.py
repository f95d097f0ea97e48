"""Self-check for notebook 10's exercise: SmoothQuant's scale for one channel, and where its maximum goes.

Same manner as quantlab.checks: print a verdict, return a truthy/falsy Verdict, name the mistake.
The exercise: max|X_j| = 16, max|W_j| = 0.5, alpha = 0.75. What is s_j?
"""

from ..activations.smoothquant import smoothing_scales
from .base import NOT_ANSWERED, as_number, is_close, unanswered, verdict

ACTIVATION_MAX, WEIGHT_MAX, ALPHA = 16.0, 0.5, 0.75


def _scale(activation_max, weight_max, alpha):
    """s_j through quantlab's own SmoothQuant (one channel, one weight column)."""
    return float(smoothing_scales([activation_max], [[weight_max]], alpha)[0])


def check_smoothing_scale(answer):
    """Exercise 10: s_j = max|X_j|^alpha / max|W_j|^(1-alpha) for max|X_j| = 16, max|W_j| = 0.5, alpha = 0.75."""
    if unanswered(answer):
        return NOT_ANSWERED
    s = as_number(answer, "s_j")
    right = _scale(ACTIVATION_MAX, WEIGHT_MAX, ALPHA)
    after = (
        f"After smoothing the channel's activations reach {ACTIVATION_MAX / right:.2f} (from {ACTIVATION_MAX:g}) and "
        f"its weights {WEIGHT_MAX * right:.2f} (from {WEIGHT_MAX:g}): at alpha = 0.75 most of the range moved "
        f"into the weight."
    )
    if is_close(s, right):
        return verdict(True, f"Right: s_j = 16^0.75 / 0.5^0.25 = 8 / 0.841 = {right:.2f}. {after}")
    mistakes = {
        _scale(ACTIVATION_MAX, WEIGHT_MAX, 1 - ALPHA): "You swapped the exponents: alpha goes on the activation's "
        "maximum, 1 - alpha on the weight's.",
        ACTIVATION_MAX**ALPHA: "That is the numerator alone: divide by max|W_j|^(1 - alpha) too.",
        ACTIVATION_MAX**ALPHA * WEIGHT_MAX ** (1 - ALPHA): "You multiplied by max|W_j|^(1 - alpha); it divides.",
        1 / right: "That is 1 / s_j, the factor the activations are multiplied by (x_j / s_j).",
    }
    for value, hint in mistakes.items():
        if is_close(s, value):
            return verdict(False, f"Not quite ({s:g}). {hint}")
    return verdict(False, f"Not yet ({s:g}). Hint: s_j = max|X_j|^alpha / max|W_j|^(1 - alpha); 16^0.75 is 8.")

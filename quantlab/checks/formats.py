"""Self-check for notebook 13's exercise (every format llama.cpp writes): IQ2_XXS's bits per weight from its layout.

Prints a verdict and returns a checks.Verdict: truthy when right; when wrong, the message names the
mistake the number looks like.
"""

from ..ggml import format_info
from .base import NOT_ANSWERED, as_number, is_close, unanswered, verdict

# Per 32 weights (4 groups of 8): 4 x 8 index bits, 4 x 7 sign bits, one 4-bit scale; per 256: one fp16 d.
_GROUPS, _INDEX, _SIGNS, _SCALE, _D = 4, 8, 7, 4, 16
_MISTAKES = {
    (_GROUPS * _INDEX + _GROUPS * _SIGNS + _SCALE) / 32: "you left out the fp16 d shared by the 256 weights "
    "(16 bits / 256 = 0.0625 bits per weight)",
    (8 * (_GROUPS * _INDEX + _GROUPS * 8 + _SCALE) + _D) / 256: "that counts 8 sign bits per group of 8; the 8th is "
    "not stored (an even number of minus signs: parity)",
    _INDEX / 8: "that is the grid index alone (8 bits per 8 weights); the signs, the scale and d cost bits too",
    (_INDEX + _SIGNS) / 8: "index and signs (15 bits per 8), but not the 4-bit scale per 32 nor the fp16 d",
    (8 * (_GROUPS * _INDEX + _GROUPS * _SIGNS + 16) + _D) / 256: "the sub-block scale is 4 bits, not an fp16",
}


def check_iq2_xxs_bits(answer):
    """Exercise 13: IQ2_XXS's bits per weight, from its layout (2.0625 = 66 bytes x 8 / 256)."""
    if unanswered(answer):
        return NOT_ANSWERED
    value = as_number(answer, "bits per weight")
    right = format_info("IQ2_XXS").bits_per_weight
    if is_close(value, right, rel=1e-6):
        return verdict(
            True, f"{right:g} bits per weight: 8 x (32 + 28 + 4) + 16 = 528 bits = 66 bytes per 256 weights."
        )
    for wrong, why in _MISTAKES.items():
        if is_close(value, wrong, rel=1e-6):
            return verdict(False, f"{value:g}: {why}.")
    return verdict(
        False,
        f"{value:g} is not it. Per 32 weights: 4 grid indices of 8 bits, 4 x 7 sign bits and a "
        f"4-bit scale; per 256: one fp16 d. Add the bits, divide by the weights.",
    )

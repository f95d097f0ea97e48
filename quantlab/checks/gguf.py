"""Self-check for notebook 06's exercise: decode Q4_K blocks from their fields, as llama.cpp does.

Same manner as quantlab.checks: print a verdict, return a truthy/falsy Verdict, name the mistake.
"""

import numpy as np

from .. import data, ggml
from .base import NOT_ANSWERED, unanswered, verdict

_FIELD_SHAPES = "f['d'], f['dmin']: (n,); f['scales'], f['mins']: (n, 8); f['codes']: (n, 256)"


def _cases():
    """Blocks that tell mistakes apart: typical weights, all-positive weights, and one outlier."""
    typical = data.gaussian(512, std=0.02, seed=6)
    positive = np.abs(data.gaussian(256, std=0.02, seed=7)) + 0.01
    outlier = data.with_outliers(data.student_t(256, std=0.02, seed=8), 1, 0.5, seed=9)
    return {"typical weights": typical, "all-positive weights": positive, "a block with an outlier": outlier}


def _per_sub_block(values):
    return np.repeat(values.astype(np.float32), 32, axis=1)


def _mistakes(f):
    """What common slips produce, computed from the same fields."""
    d, dmin = f["d"][:, None], f["dmin"][:, None]
    scale, low = _per_sub_block(f["scales"]), _per_sub_block(f["mins"])
    q = f["codes"].astype(np.float32)
    interleaved = np.tile(f["scales"].astype(np.float32), 32), np.tile(f["mins"].astype(np.float32), 32)
    return {
        "You add the min; Q4_K subtracts it: w = d*s_j*q - dmin*m_j (the lowest level is -dmin*m_j).": d * scale * q
        + dmin * low,
        "The min is missing: every sub-block's grid starts at -dmin*m_j, not at 0.": d * scale * q,
        "m_j is a 6-bit integer: multiply it by the fp16 dmin, as s_j is multiplied by d.": d * scale * q - low,
        "s_j is a 6-bit integer: multiply it by the fp16 d.": scale * q - dmin * low,
        "Q4_K codes are 0..15 with no offset (the min does the shifting); do not subtract 8 as Q4_0 does.": d
        * scale
        * (q - 8)
        - dmin * low,
        "Sub-block j is weights 32j..32j+31 (consecutive), not every 8th weight: use np.repeat, not np.tile.": d
        * interleaved[0]
        * q
        - dmin * interleaved[1],
    }


def check_dequantize_q4_k(my_dequantize):
    """Exercise 06: your decoder f -> weights, for f = ggml.fields(data, "Q4_K"), against ggml.dequantize."""
    if unanswered(my_dequantize):
        return NOT_ANSWERED
    if not callable(my_dequantize):
        raise TypeError(f"pass your function itself (without calling it), got {type(my_dequantize).__name__}")
    for name, w in _cases().items():
        blocks = ggml.quantize(w, "Q4_K")
        f = ggml.fields(blocks, "Q4_K")
        expected = ggml.dequantize(blocks, "Q4_K").reshape(-1, 256)
        output = my_dequantize({key: value.copy() for key, value in f.items()})
        if output is None:  # the exercise template returns None until it is filled in
            unanswered(None)
            return NOT_ANSWERED
        mine = np.asarray(output, dtype=np.float64)
        if mine.size != expected.size:
            return verdict(
                False,
                f"On '{name}' your function returned shape {mine.shape}; return one weight per code, "
                f"shape {expected.shape} ({_FIELD_SHAPES}).",
            )
        mine = mine.reshape(expected.shape)
        if np.allclose(mine, expected, rtol=1e-5, atol=1e-8):
            continue
        for message, wrong in _mistakes(f).items():
            if np.allclose(mine, wrong, rtol=1e-5, atol=1e-8):
                return verdict(False, message)
        worst = np.unravel_index(np.argmax(np.abs(mine - expected)), expected.shape)
        return verdict(
            False,
            f"On '{name}', block {worst[0]}, weight {worst[1]} (sub-block {worst[1] // 32}): "
            f"you give {mine[worst]:.6g}, the file means {expected[worst]:.6g}. "
            f"Hint: w = d * s_j * q - dmin * m_j with j = weight // 32.",
        )
    return verdict(
        True,
        "Right on all three cases: w = d*s_j*q - dmin*m_j, a uniform 16-level grid per sub-block of 32, "
        "its step and offset built from 6-bit integers times two fp16 numbers.",
    )

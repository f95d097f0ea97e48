"""The three scale searches behind llama.cpp's K-quants, vectorized over sub-blocks and candidates.

Each K-quant block of 256 weights is cut into sub-blocks (16 of 16 weights, or 8 of 32). Every
sub-block gets its own scale (and, for the asymmetric types, its own min), found by trying about
twenty candidate grids and keeping the one with the smallest weighted squared (or absolute) error:

- `fit_scale_and_min`  asymmetric grid x ~ scale * code - min   (Q2_K, Q4_K, Q5_K; make_qkx2_quants)
- `fit_signed_scale`   symmetric grid x ~ scale * code          (Q6_K; make_qx_quants)
- `fit_signed_scale_3bit`  symmetric 3-bit grid, then one code at a time improved (Q3_K; make_q3_quants)

All inputs are float32 arrays (..., n) of sub-blocks; the leading axes are any mix of blocks and
sub-blocks, all computed at once. Bit-exactness with the C reference needs three things, each noted
where it matters below:

1. float32 arithmetic in the C expression's order: (w * l) * x is not w * (l * x) in float32;
2. sums accumulated one term at a time in element order, because their results are compared
   (np.sum adds pairwise, which rounds differently);
3. the same rounding to an integer: llama.cpp's `nearest_int` adds 1.5 * 2**23 and reads the low
   mantissa bits, so ties go to even (not away from zero) and huge or non-finite arguments give
   the same "garbage" integers as in C (it matters for subnormal inputs, where 15 / tiny = inf).

To do all candidates at once, arrays are laid out (n, ..., candidates): the element axis first, so
that summing in order is n additions of contiguous arrays.
"""

import numpy as np

from .fp16 import sum_in_order

_MAGIC = np.float32(12582912.0)  # 1.5 * 2**23: adding it leaves round(v) in the low mantissa bits
GROUP_MAX_EPS = np.float32(1e-15)  # below this max |x|, a sub-block counts as all zero
_EXACT_LIMIT = np.float32(4194303)  # |v| up to here: nearest_int(v) == rint(v)


def nearest_int(values):
    """llama.cpp's nearest_int: round float32 to int32, ties to even, bit for bit as the C trick.

    For |v| <= 4194303 this is np.rint(v). Beyond that (or for inf/NaN) the C code returns the low
    23 mantissa bits of v + 1.5 * 2**23 minus 2**22; we return the same value, so that clamping
    afterwards gives C's codes even in those degenerate cases.
    """
    bits = (np.asarray(values, dtype=np.float32) + _MAGIC).view(np.int32)
    return (bits & np.int32(0x007FFFFF)) - np.int32(0x00400000)


def nearest_code(values, lowest, highest):
    """Round like nearest_int, clamp to [lowest, highest], and return the codes as float32."""
    codes = nearest_int(values)
    np.clip(codes, lowest, highest, out=codes)
    return codes.astype(np.float32)


def _sum_from_first(terms):
    """Sum along axis 0 in order, starting from the first term (C: `s = t[0]; s += t[i]...`).

    Differs from sum_in_order only in the sign of an all-zero sum: +0.0 + (-0.0) is +0.0.
    """
    total = terms[0].copy()
    for term in terms[1:]:
        total += term
    return total


def _element_first(x):
    """(..., n) -> contiguous (n, ...): element i of every sub-block is one contiguous slice."""
    return np.ascontiguousarray(np.moveaxis(x, -1, 0))


def _take_candidate(values, chosen):
    """values (..., C) at candidate index `chosen` (broadcast over the leading axes): drops axis C."""
    index = np.broadcast_to(chosen, values.shape[:-1])[..., None]
    return np.take_along_axis(values, index, axis=-1)[..., 0]


def largest_magnitude(values):
    """Signed entry of largest |value| on the last axis, the first on ties, and that |value|.

    As C's `if (fabsf(v) > amax) { amax = fabsf(v); max = v; }` from amax = max = 0: NaN is never
    picked, and if every |value| is 0 the result is +0.0.
    """
    magnitude = np.abs(values)
    magnitude[np.isnan(magnitude)] = -1
    first = np.argmax(magnitude, axis=-1)[..., None]
    peak = np.take_along_axis(values, first, axis=-1)[..., 0]
    peak_magnitude = np.take_along_axis(magnitude, first, axis=-1)[..., 0]
    return np.where(peak_magnitude > 0, peak, np.float32(0)).astype(np.float32), peak_magnitude


def _round_to_grid(values, lowest, highest):
    """nearest_code for float32 values, fast when they are all within nearest_int's exact range.

    There nearest_int is np.rint (ties to even) and clamping before rounding equals clamping after
    (integer bounds). Out of range, or NaN, we take C's bit trick (nearest_code) instead.
    """
    if values.min() >= -_EXACT_LIMIT and values.max() <= _EXACT_LIMIT:   # False for NaN
        np.clip(values, lowest, highest, out=values)
        return np.rint(values, out=values)
    return nearest_code(values, lowest, highest)


def fit_scale_and_min(x, weights, nmax, rmin, rdelta, nstep, use_mad):
    """Asymmetric grid per sub-block: find scale >= 0 and min >= 0 with x ~ scale * code - min.

    codes are integers 0..nmax (llama.cpp's make_qkx2_quants). Start from the grid spanning
    [min(x, 0), max(x)]. Then for k = 0..nstep stretch it, iscale = (nmax + rmin + rdelta*k) /
    (max - min), round every weight to a code, fit scale and min to those codes by weighted least
    squares (closed form; min pinned to 0 if the fit wants it positive), and keep the fit if its
    weighted error sum(w |err|) (use_mad) or sum(w err^2) is strictly smaller than the best so far.

    The candidates are a sequence, not independent trials: a kept fit moves `min`, and every later
    candidate is rounded on a grid anchored at that new min. So this is a loop over the ~20
    candidates, each step vectorized over all weights of all sub-blocks of all blocks.

    x, weights: float32 (..., n). Returns scale (...), min (...) and codes uint8 (..., n).
    """
    x = np.asarray(x, dtype=np.float32)
    lead, n = x.shape[:-1], x.shape[-1]
    xs = _element_first(x).reshape(n, -1)                     # (n, sub-blocks)
    ws = _element_first(np.asarray(weights, dtype=np.float32)).reshape(n, -1)

    high = xs.max(axis=0)
    offset = np.minimum(xs.min(axis=0), np.float32(0))        # the grid always contains 0
    flat = high == offset                                     # constant or all-zero sub-block
    sum_w = _sum_from_first(ws)                               # C starts these two at element 0,
    sum_x = _sum_from_first(ws * xs)                          # every other sum at 0.0

    def codes_for(iscale, offset):
        return _round_to_grid(iscale * (xs - offset), 0, nmax)   # C: iscale * (x - min)

    def weighted_error(scale, offset, codes):
        error = codes * scale                                 # ((scale * l) + min) - x, in float32
        error += offset
        error -= xs
        error = np.abs(error, out=error) if use_mad else np.square(error, out=error)
        error *= ws
        return sum_in_order(error, axis=0)

    with np.errstate(divide="ignore", over="ignore", invalid="ignore"):
        iscale = np.float32(nmax) / (high - offset)
        scale = np.float32(1) / iscale
        best_error = weighted_error(scale, offset, codes_for(iscale, offset))
        best_iscale, best_offset = iscale, offset             # to rebuild the kept codes at the end

        for k in range(nstep + 1):
            numerator = (np.float32(rmin) + np.float32(rdelta) * np.float32(k)) + np.float32(nmax)
            iscale = numerator / (high - offset)
            codes = codes_for(iscale, offset)
            weighted_codes = ws * codes                       # w * l
            sum_l = sum_in_order(weighted_codes, axis=0)
            sum_l2 = sum_in_order(weighted_codes * codes, axis=0)    # (w * l) * l
            sum_xl = sum_in_order(weighted_codes * xs, axis=0)       # (w * l) * x
            det = sum_w * sum_l2 - sum_l * sum_l
            this_scale = (sum_w * sum_xl - sum_x * sum_l) / det
            this_min = (sum_l2 * sum_x - sum_l * sum_xl) / det
            pinned = this_min > 0                             # a positive min would lose 0 from the grid:
            this_min[pinned] = 0                              # pin it and refit the scale alone
            this_scale = np.where(pinned, sum_xl / sum_l2, this_scale)
            error = weighted_error(this_scale, this_min, codes)

            better = (det > 0) & (error < best_error)         # strict: ties keep the earlier fit
            best_error = np.where(better, error, best_error)
            scale = np.where(better, this_scale, scale)
            best_iscale = np.where(better, iscale, best_iscale)
            best_offset = np.where(better, offset, best_offset)
            offset = np.where(better, this_min, offset)

        codes = codes_for(best_iscale, best_offset)

    # Constant sub-block: C stops before searching, with scale 0, codes 0 and min = -min(x, 0).
    scale = np.where(flat, np.float32(0), scale).astype(np.float32)
    codes[:, flat] = 0
    codes = np.moveaxis(codes.reshape((n,) + lead), 0, -1).astype(np.uint8)
    return scale.reshape(lead), (-offset).astype(np.float32).reshape(lead), codes


def fit_signed_scale(x, nmax):
    """Symmetric grid per sub-block: x ~ scale * code with codes -nmax..nmax-1 (make_qx_quants).

    The grid is anchored on the weight of largest |x| (mapped to -nmax, so the scale carries its
    sign). For 19 candidate stretches, iscale = -(nmax + 0.1 * k) / max, k = 0, -9..9, we round,
    fit the least-squares scale sum(w x l) / sum(w l^2) with w = x^2, and keep a candidate if it
    raises sum(w x l)^2 / sum(w l^2), compared in C's cross-multiplied form against the running best.

    x: float32 (..., n). Returns scale (...) and codes uint8 (..., n) stored as l + nmax (0..2nmax-1).
    """
    x = np.asarray(x, dtype=np.float32)
    xs = _element_first(x)
    peak, peak_magnitude = largest_magnitude(x)
    zero = peak_magnitude < GROUP_MAX_EPS
    peak = np.where(zero, np.float32(1), peak)

    # k = 0 first, then -9..9 without 0, each numerator nmax + 0.1f * k in float32.
    k = np.array([0] + [k for k in range(-9, 10) if k != 0], dtype=np.float32)
    numerators = (np.float32(nmax) + np.float32(0.1) * k).astype(np.float32)
    with np.errstate(divide="ignore", over="ignore", invalid="ignore"):
        iscales = -numerators / peak[..., None]                            # (..., C)
        codes = nearest_code(iscales * xs[..., None], -nmax, nmax - 1)     # (n, ..., C)
        weights = xs * xs
        sum_lx = sum_in_order((weights * xs)[..., None] * codes, axis=0)    # (w * x) * l
        weighted_codes = weights[..., None] * codes
        sum_l2 = sum_in_order(weighted_codes * codes, axis=0)             # (w * l) * l

        # Candidate 0 sets the bar; each later one must beat the running best (C order matters:
        # `best` is rounded after every accepted candidate, so this is a short loop over the 18
        # candidates, vectorized over all sub-blocks).
        scale = np.where(sum_l2[..., 0] != 0, sum_lx[..., 0] / sum_l2[..., 0], np.float32(0))
        best = scale * sum_lx[..., 0]
        chosen = np.zeros(scale.shape, dtype=np.intp)
        for candidate in range(1, len(k)):
            lx, l2 = sum_lx[..., candidate], sum_l2[..., candidate]
            better = (l2 > 0) & (lx * lx > best * l2)
            scale = np.where(better, lx / l2, scale)
            best = np.where(better, scale * lx, best)
            chosen[better] = candidate

    best_codes = np.moveaxis(_take_candidate(codes, chosen), 0, -1) + np.float32(nmax)
    best_codes[zero] = 0   # C leaves all-zero sub-blocks with stored codes 0 (that is, l = -nmax)
    scale[zero] = 0
    return scale.astype(np.float32), best_codes.astype(np.uint8)


def fit_signed_scale_3bit(x, nmax=4, passes=5):
    """Q3_K's search (make_q3_quants): round on the grid of the largest |x|, then improve codes.

    Start from iscale = -nmax / max (codes -nmax..nmax-1), then sweep the weights in order up to
    `passes` times: for weight i, the least-squares scale of the *other* weights suggests a new code,
    kept if it raises sum(w x l)^2 / sum(w l^2) with w = x^2. Each acceptance changes the sums the
    next weight sees, so the sweep is a loop over the n weights, vectorized over all sub-blocks.
    A pass that changes nothing changes nothing next time either, so running all passes on every
    sub-block equals C's early exit.

    x: float32 (..., n). Returns scale (...) and codes uint8 (..., n) stored as l + nmax.
    """
    x = np.asarray(x, dtype=np.float32)
    xs = _element_first(x)
    peak, peak_magnitude = largest_magnitude(x)
    zero = peak_magnitude < GROUP_MAX_EPS
    peak = np.where(zero, np.float32(1), peak)
    with np.errstate(divide="ignore", over="ignore", invalid="ignore"):
        iscale = np.float32(-nmax) / peak
        codes = nearest_code(iscale * xs, -nmax, nmax - 1)        # (n, ...)
        weights = xs * xs
        wx = weights * xs
        sum_lx = sum_in_order(wx * codes, axis=0)                 # (w * x) * l
        sum_l2 = sum_in_order(weights * codes * codes, axis=0)    # (w * l) * l

        for _ in range(passes):
            changed = False
            for i in range(xs.shape[0]):
                old = codes[i]
                lx = sum_lx - wx[i] * old
                l2 = sum_l2 - weights[i] * old * old
                new = nearest_code(xs[i] * l2 / lx, -nmax, nmax - 1)   # (x * sl2) / slx
                lx_new = lx + wx[i] * new
                l2_new = l2 + weights[i] * new * new
                accept = ((lx > 0) & (new != old) & (l2_new > 0)
                          & (lx_new * lx_new * sum_l2 > sum_lx * sum_lx * l2_new))
                if accept.any():
                    changed = True
                    codes[i] = np.where(accept, new, old)
                    sum_lx = np.where(accept, lx_new, sum_lx)
                    sum_l2 = np.where(accept, l2_new, sum_l2)
            if not changed:
                break
        scale = np.where(sum_l2 > 0, sum_lx / sum_l2, np.float32(0)).astype(np.float32)

    stored = np.moveaxis(codes, 0, -1) + np.float32(nmax)
    stored[zero] = 0       # C returns early with codes 0 (not nmax) and scale 0
    scale[zero] = 0
    return scale, stored.astype(np.uint8)

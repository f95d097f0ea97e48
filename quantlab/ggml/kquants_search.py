"""The three scale searches behind llama.cpp's K-quants, vectorized over sub-blocks.

Each K-quant block of 256 weights is cut into sub-blocks (16 of 16 weights, or 8 of 32). Every
sub-block gets its own scale (and, for the asymmetric types, its own min), found by trying about
twenty candidate grids and keeping the one with the smallest weighted error:

- `fit_scale_and_min`  asymmetric grid x ~ scale * code - min   (Q2_K, Q4_K, Q5_K; make_qkx2_quants)
- `fit_signed_scale`   symmetric grid x ~ scale * code          (Q6_K; make_qx_quants)
- `fit_signed_scale_3bit`  symmetric 3-bit grid, then codes improved one at a time (Q3_K; make_q3_quants)

(`search_signed_scale` and `search_signed_scale_3bit` are the same searches returning what the
quantizers need, so that they compute the search's codes only for the few sub-blocks that keep
them.)

Inputs are float32 arrays (..., n) of sub-blocks; the leading axes (blocks, sub-blocks) are all
computed at once. Bit-exactness with llama.cpp's C needs three things, noted where they matter:

1. float32 arithmetic in the C expression's order: (w * l) * x is not w * (l * x) in float32;
2. sums accumulated one term at a time in element order, because their results are compared
   (np.sum over the fast axis adds pairwise, which rounds differently);
3. the same rounding to an integer: llama.cpp's `nearest_int` adds 1.5 * 2**23 and reads the low
   mantissa bits, so ties go to even (not away from zero), and huge or non-finite arguments give
   the same "garbage" integers as in C (it happens for subnormal inputs, where 15 / tiny = inf).

Arrays are laid out element-first, (n, sub-blocks[, candidates]), so that element i of every
sub-block is one contiguous row and an in-order sum is a reduction over axis 0.
"""

import numpy as np

from .fp16 import sum_in_order

_MAGIC = np.float32(12582912.0)  # 1.5 * 2**23: adding it leaves round(v) in the low mantissa bits
GROUP_MAX_EPS = np.float32(1e-15)  # below this max |x|, a sub-block counts as all zero
_EXACT_LIMIT = np.float32(4194303)  # |v| up to here: nearest_int(v) == rint(v)


class Workspace:
    """Named float32 buffers reused from one slice of blocks to the next.

    A fresh multi-MB numpy temporary costs more in page faults (the kernel hands out zeroed pages)
    than the arithmetic done in it; reusing a few buffers across slices avoids that.
    """

    def __init__(self):
        self._buffers = {}

    def array(self, name, shape):
        """An uninitialized float32 array of `shape`, backed by the buffer called `name`."""
        size = int(np.prod(shape))
        buffer = self._buffers.get(name)
        if buffer is None or buffer.size < size:
            buffer = self._buffers[name] = np.empty(size, dtype=np.float32)
        return buffer[:size].reshape(shape)


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
    codes = nearest_int(values).astype(np.float32)  # exact: |int| < 2**23
    return np.clip(codes, lowest, highest, out=codes)  # (np.clip on int32 is much slower)


def _transpose_into(out, rows, block=512):
    """out[...] = rows.T, copied `block` rows at a time (each block's source and destination stay
    in the CPU cache: about 1.3x faster than one strided copy of a multi-MB array)."""
    for start in range(0, len(rows), block):
        np.copyto(out[:, start : start + block], rows[start : start + block].T)
    return out


def _element_first(x, workspace, name):
    """(..., n) -> contiguous (n, m) with m = number of sub-blocks: element i is row i."""
    n = x.shape[-1]
    rows = workspace.array(name, (n, x.size // n))
    np.copyto(rows, x.reshape(-1, n).T)
    return rows


def largest_magnitude(values):
    """Signed entry of largest |value| over axis 0 of (n, m), the first on ties, and that |value|.

    As C's `if (fabsf(v) > amax) { amax = fabsf(v); max = v; }` from amax = max = 0: NaN is never
    picked, and if every |value| is 0 the result is +0.0. Computed from the max and the min; only
    columns where max == -min need to look for which of the two comes first.
    """
    high, low = np.fmax.reduce(values, axis=0), np.fmin.reduce(values, axis=0)
    peak = np.where(high > -low, high, low)
    tie = np.flatnonzero((high == -low) & (high > 0))
    if tie.size:
        first = np.argmax(np.abs(values[:, tie]) == high[tie], axis=0)
        peak[tie] = values[first, tie]
    peak[np.isnan(peak) | (peak == 0)] = 0
    return peak, np.abs(peak)


def round_to_grid(values, lowest, highest, exact=None):
    """nearest_code in place for float32 values, fast when all are within nearest_int's exact range.

    There nearest_int is np.rint (ties to even), and clamping before rounding equals clamping after
    (the bounds are integers). Otherwise (huge, inf or NaN values) we take C's bit trick.
    `exact`: the caller already knows whether every value is in range (saves the min/max check).
    """
    if exact is None:
        exact = values.min() >= -_EXACT_LIMIT and values.max() <= _EXACT_LIMIT  # False for NaN
    if exact:
        np.clip(values, lowest, highest, out=values)
        return np.rint(values, out=values)
    values[...] = nearest_code(values, lowest, highest)
    return values


@np.errstate(all="ignore")  # C's float overflow and 0/0 are silent; we reproduce them
def search_scale_and_min(x, weights, nmax, rmin, rdelta, nstep, use_mad, workspace=None):
    """The search of fit_scale_and_min: scale, min and the chosen grid (iscale, origin), all (...).

    The chosen grid's codes are clamp(nearest_int(iscale * (x - origin)), 0, nmax), see
    scale_and_min_codes; iscale is 0 for constant sub-blocks, whose codes C leaves at 0. The
    K-quants need these codes only where a sub-block's final scale rounds to 0.
    weights: float32 like x, or a function of the element-first x (n, m) giving the weights in
    that layout (cheaper: no second transposition).
    """
    workspace = workspace or Workspace()
    x = np.asarray(x, dtype=np.float32)
    lead = x.shape[:-1]
    xs = _element_first(x, workspace, "x")  # (n, m)
    if callable(weights):
        ws = weights(xs)
    else:
        ws = _element_first(np.asarray(weights, dtype=np.float32), workspace, "weights")
    n, m = xs.shape
    f32 = np.float32

    lowest, high = xs.min(axis=0), xs.max(axis=0)
    offset = np.minimum(lowest, f32(0))  # the grid always contains 0
    # C's running `if (x[i] < min) min = x[i]` keeps the first zero, with its sign, when the
    # smallest weight is a zero; a min above zero becomes +0.0. (Q4_1/Q5_1 store the min itself.)
    first_zero = np.flatnonzero(lowest == 0)
    offset[first_zero] = xs[np.argmax(xs[:, first_zero] == 0, axis=0), first_zero]
    offset[lowest > 0] = 0
    flat = high == offset  # constant or all-zero sub-block
    codes, weighted_codes, scratch = (workspace.array(name, (n, m)) for name in ("codes", "weighted codes", "scratch"))
    sum_w = sum_in_order(ws, start_at_zero=False)  # C starts these two at element 0,
    sum_x = sum_in_order(np.multiply(ws, xs, out=scratch), start_at_zero=False)  # others at 0.0

    def round_codes(iscale, offset):
        """codes = clamp(nearest_int(iscale * (x - min)), 0, nmax), into `codes`."""
        np.subtract(xs, offset, out=codes)
        np.multiply(codes, iscale, out=codes)
        # The products are monotone in x, so the sub-block's extremes bound every value (and a
        # NaN anywhere fails the comparisons).
        exact = (iscale * (lowest - offset)).min() >= -_EXACT_LIMIT and (iscale * (high - offset)).max() <= _EXACT_LIMIT
        return round_to_grid(codes, 0, nmax, exact=bool(exact))

    def weighted_error(scale, offset):
        """sum(w * |err|) or sum(w * err^2), err = (scale * l + min) - x in float32.

        Computed in place over the codes, which are not needed after it.
        """
        error = np.multiply(codes, scale, out=codes)
        error += offset
        error -= xs
        np.abs(error, out=error) if use_mad else np.square(error, out=error)
        error *= ws
        return sum_in_order(error)

    # Per candidate we keep what rebuilds its fit: iscale, the min its codes were rounded from,
    # and the fitted scale and min. Candidate 0 is the plain range grid.
    iscales, rounded_from, scales, mins = (np.empty((nstep + 2, m), dtype=np.float32) for _ in range(4))
    np.divide(f32(nmax), high - offset, out=iscales[0])
    rounded_from[0] = mins[0] = offset
    scales[0] = f32(1) / iscales[0]
    round_codes(iscales[0], offset)
    best_error = weighted_error(scales[0], offset)
    best_error[np.isnan(best_error)] = -np.inf  # C: nothing is < NaN, nor < -inf
    chosen = np.zeros(m, dtype=np.intp)

    for k in range(1, nstep + 2):
        numerator = (f32(rmin) + f32(rdelta) * f32(k - 1)) + f32(nmax)
        iscale = np.divide(numerator, high - offset, out=iscales[k])
        rounded_from[k] = offset
        round_codes(iscale, offset)
        np.multiply(ws, codes, out=weighted_codes)  # w * l
        sum_l = sum_in_order(weighted_codes)
        sum_xl = sum_in_order(np.multiply(weighted_codes, xs, out=scratch))  # (w * l) * x
        weighted_codes *= codes
        sum_l2 = sum_in_order(weighted_codes)  # (w * l) * l
        det = sum_w * sum_l2 - sum_l * sum_l
        this_scale = np.divide(sum_w * sum_xl - sum_x * sum_l, det, out=scales[k])
        this_min = np.divide(sum_l2 * sum_x - sum_l * sum_xl, det, out=mins[k])
        pinned = np.flatnonzero(this_min > 0)  # a positive min would lose 0 from the
        if pinned.size:  # grid: pin it, refit the scale alone
            this_min[pinned] = 0
            this_scale[pinned] = sum_xl[pinned] / sum_l2[pinned]
        error = weighted_error(this_scale, this_min)

        better = np.flatnonzero((det > 0) & (error < best_error))  # strict: ties keep the first
        if better.size:
            best_error[better] = error[better]
            chosen[better] = k
            offset[better] = this_min[better]  # later grids start from the new min

    pick = chosen * m + np.arange(m)  # flat index of (chosen, sub-block)
    scale, minimum, iscale = scales.take(pick), -mins.take(pick), iscales.take(pick)
    # Constant sub-block: C stops before searching, with scale 0, codes 0 and min = -min(x, 0).
    scale[flat] = iscale[flat] = 0
    return (scale.reshape(lead), minimum.reshape(lead), iscale.reshape(lead), rounded_from.take(pick).reshape(lead))


def scale_and_min_codes(x, iscale, origin, nmax):
    """Codes uint8 (..., n) of a grid from search_scale_and_min: clamp(nearest_int(iscale * (x -
    origin)), 0, nmax), with iscale, origin (...)."""
    values = np.asarray(x, dtype=np.float32) - origin[..., None]
    values *= iscale[..., None]
    return round_to_grid(values, 0, nmax).astype(np.uint8)


def fit_scale_and_min(x, weights, nmax, rmin, rdelta, nstep, use_mad, workspace=None):
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
    workspace: a Workspace to reuse buffers across calls (optional).
    """
    x = np.asarray(x, dtype=np.float32)
    scale, minimum, iscale, origin = search_scale_and_min(x, weights, nmax, rmin, rdelta, nstep, use_mad, workspace)
    return scale, minimum, scale_and_min_codes(x, iscale, origin, nmax)


@np.errstate(all="ignore")  # C's float overflow and 0/0 are silent; we reproduce them
def search_signed_scale(x, nmax, workspace=None, weights=None):
    """The search of fit_signed_scale: returns scale (...) and the chosen grid's iscale (...).

    Q6_K needs the search's codes only where a sub-block's final scale rounds to 0, so it asks for
    them with signed_grid_codes on those sub-blocks alone.
    weights: float32 like x, the importance of each weight (make_qx_quants' quant_weights, given
    when quantizing with an importance matrix); None for C's default w = x * x.
    """
    workspace = workspace or Workspace()
    f32 = np.float32
    x = np.asarray(x, dtype=f32)
    lead = x.shape[:-1]
    xs = _element_first(x, workspace, "x")  # (n, m)
    n, m = xs.shape
    peak, peak_magnitude = largest_magnitude(xs)
    zero = peak_magnitude < GROUP_MAX_EPS
    peak[zero] = 1

    # k = 0 first, then -9..9 without 0, each numerator nmax + 0.1f * k in float32.
    k = np.array([0] + [k for k in range(-9, 10) if k != 0], dtype=f32)
    iscales = -(f32(nmax) + f32(0.1) * k)[:, None] / peak  # (C, m)
    if weights is None:
        weights = np.multiply(xs, xs, out=workspace.array("weights", (n, m)))  # w = x * x
    else:
        weights = _element_first(np.asarray(weights, dtype=f32), workspace, "weights")
    weighted_x = np.multiply(weights, xs, out=workspace.array("weighted x", (n, m)))
    codes, terms = workspace.array("codes", (n, m)), workspace.array("terms", (n, m))
    sum_lx, sum_l2 = np.empty((2, len(k), m), dtype=f32)
    # One candidate at a time, so that its few (n, m) arrays stay in the CPU cache (a (C, n, m)
    # array of all candidates would not); steps are in place where they can be, for the same
    # reason (an in-place op moves two arrays through the cache, not three).
    for candidate, iscale in enumerate(iscales):
        # |iscale * x| <= nmax + 1 here (|x| <= |peak|): always in nearest_int's exact range,
        # where rounding is np.rint and clamping may come first.
        np.multiply(xs, iscale, out=codes)
        np.clip(codes, -nmax, nmax - 1, out=codes)
        np.rint(codes, out=codes)
        np.multiply(weights, codes, out=terms)
        terms *= codes  # (w * l) * l
        sum_in_order(terms, out=sum_l2[candidate])
        codes *= weighted_x  # (w * x) * l
        sum_in_order(codes, out=sum_lx[candidate])

    # Candidate 0 sets the bar, best = scale * sum_lx with scale = sum_lx / sum_l2 (0 if
    # sum_l2 == 0). Each later candidate must beat the running best, cross-multiplied as in C:
    # sum_lx^2 > best * sum_l2 with sum_l2 > 0. `best` is the rounded product of the last kept
    # candidate, so this is a short loop over the 18 candidates, vectorized over all sub-blocks;
    # every candidate's own scale and best are computed up front, all at once.
    scales = sum_lx / sum_l2  # (C, m)
    scales[0] = np.where(sum_l2[0] != 0, scales[0], f32(0))
    bests = scales * sum_lx
    squares = sum_lx * sum_lx
    sum_l2[sum_l2 <= 0] = np.nan  # unfitted candidates: squares > best * NaN is never true
    best = bests[0].copy()
    chosen = np.zeros(m, dtype=np.intp)
    for candidate in range(1, len(k)):
        better = np.flatnonzero(squares[candidate] > best * sum_l2[candidate])  # few after the first
        best[better] = bests[candidate, better]
        chosen[better] = candidate
    pick = chosen * m + np.arange(m)  # flat index of (chosen, sub-block)
    scale, iscale = scales.take(pick), iscales.take(pick)
    scale[zero] = iscale[zero] = 0  # iscale 0 marks an all-zero sub-block (see below)
    return scale.reshape(lead), iscale.reshape(lead)


def signed_grid_codes(x, iscale, nmax):
    """Stored codes nmax + clamp(nearest_int(iscale * x), -nmax, nmax - 1) as uint8 (..., n).

    For iscale from search_signed_scale: |iscale * x| <= nmax + 1, where nearest_int is np.rint.
    An all-zero sub-block (iscale 0) gets stored codes 0, that is l = -nmax, as C leaves it.
    """
    codes = np.rint(np.clip(x * iscale[..., None], -nmax, nmax - 1)) + np.float32(nmax)
    codes[iscale == 0] = 0
    return codes.astype(np.uint8)


def fit_signed_scale(x, nmax, workspace=None):
    """Symmetric grid per sub-block: x ~ scale * code with codes -nmax..nmax-1 (make_qx_quants).

    The grid is anchored on the weight of largest |x| (mapped to -nmax, so the scale carries its
    sign). For 19 candidate stretches, iscale = -(nmax + 0.1 * k) / max, k = 0, -9..9, we round,
    fit the least-squares scale sum(w x l) / sum(w l^2) with w = x^2, and keep a candidate if it
    raises sum(w x l)^2 / sum(w l^2), compared in C's cross-multiplied form against the running best.

    x: float32 (..., n). Returns scale (...) and codes uint8 (..., n) stored as l + nmax (0..2nmax-1).
    workspace: a Workspace to reuse buffers across calls (optional).
    """
    x = np.asarray(x, dtype=np.float32)
    scale, iscale = search_signed_scale(x, nmax, workspace)
    return scale, signed_grid_codes(x, iscale, nmax)


@np.errstate(all="ignore")  # C's float overflow and 0/0 are silent; we reproduce them
def search_signed_scale_3bit(x, nmax=4, passes=5, slice_size=16384):
    """The search of fit_signed_scale_3bit: scale (...) and codes l, int8 (..., n), -nmax..nmax-1.

    Three stages, for speed, each on slices of `slice_size` sub-blocks, so that the working arrays
    stay in the CPU's caches (the default size measured fastest). The grid fit of every sub-block
    (_fit_3bit_grid). Then the first round of improvements (see _Sweeps), for the sub-blocks whose
    largest |x| is negative, gathered: the others never move (about half). The sub-blocks still
    changing after that (about 2 in 5 of those) go on together, all slices at once, so that the
    last rounds, with only a handful of sub-blocks left, are paid once rather than once per slice.
    codes: a transposed view of the element-first array the search works in.
    """
    f32 = np.float32
    x = np.asarray(x, dtype=f32)
    lead, n = x.shape[:-1], x.shape[-1]
    rows = x.reshape(-1, n)
    m = len(rows)
    iscale, sum_lx, sum_l2 = np.empty((3, m), dtype=f32)
    codes = np.empty((n, m), dtype=np.int8)
    zero = np.empty(m, dtype=bool)
    workspace, still_sweeping = Workspace(), []
    for start in range(0, m, slice_size):
        part = slice(start, min(start + slice_size, m))
        xs = workspace.array("x", (n, part.stop - start))
        _fit_3bit_grid(
            rows[part], nmax, workspace, xs, iscale[part], sum_lx[part], sum_l2[part], zero[part], codes[:, part]
        )
    moving = np.flatnonzero(iscale > 0)  # iscale = -nmax / largest: > 0 where it is < 0
    for start in range(0, moving.size, slice_size):
        columns = moving[start : start + slice_size]
        shape = (n, columns.size)
        # (mode="clip": the indices are valid, and with the default "raise" numpy buffers `out`)
        gathered = np.take(rows, columns, axis=0, out=workspace.array("moving rows", shape[::-1]), mode="clip")
        x_part = workspace.array("x", shape)
        _transpose_into(x_part, gathered)  # element-first
        grid = np.multiply(x_part, iscale[columns], out=workspace.array("codes", shape))
        round_to_grid(grid, -nmax, nmax - 1, exact=True)  # the grid fit's codes again
        sweeps = _Sweeps(columns, x_part, grid, sum_lx[columns], sum_l2[columns], passes)
        sweeps.round(nmax, workspace, sum_lx, sum_l2, codes, first=True)
        still_sweeping.append(sweeps)  # (compacted: no longer uses the workspace)
    if still_sweeping:
        sweeps = _Sweeps.concatenate(still_sweeping)
        while sweeps.columns.size:
            sweeps.round(nmax, workspace, sum_lx, sum_l2, codes)
    scale = np.where(sum_l2 > 0, sum_lx / sum_l2, f32(0)).astype(f32)
    scale[zero] = 0
    codes[:, zero] = -nmax  # C returns early with stored codes 0 (l = -nmax) and scale 0
    return scale.reshape(lead), codes.T.reshape(lead + (n,))


def _fit_3bit_grid(rows, nmax, workspace, xs, iscale, sum_lx, sum_l2, zero, codes):
    """Codes on the grid of the largest |x| and their sums, for a slice of sub-blocks rows (m, n).

    Writes xs (n, m), the element-first copy of rows; iscale = -nmax / largest (m,); sum_lx,
    sum_l2 (m,); zero (m,), which sub-blocks are all zero; and codes (n, m) int8, the grid's.
    """
    _transpose_into(xs, rows)
    peak, peak_magnitude = largest_magnitude(xs)
    np.less(peak_magnitude, GROUP_MAX_EPS, out=zero)
    peak[zero] = 1
    np.divide(np.float32(-nmax), peak, out=iscale)
    shape = xs.shape
    grid = np.multiply(xs, iscale, out=workspace.array("codes", shape))
    round_to_grid(grid, -nmax, nmax - 1, exact=True)  # |-nmax / peak * x| <= nmax
    codes[...] = grid
    weights = np.multiply(xs, xs, out=workspace.array("l2 terms", shape))  # w = x * x
    lx_terms = np.multiply(weights, xs, out=workspace.array("lx terms", shape))
    lx_terms *= grid  # (w * x) * l
    l2_terms = np.multiply(weights, grid, out=weights)
    l2_terms *= grid  # (w * l) * l
    sum_in_order(lx_terms, out=sum_lx)
    sum_in_order(l2_terms, out=sum_l2)


class _Sweeps:
    """make_q3_quants' sweeps over the weights of a set of sub-blocks, computed in rounds.

    C visits weight i = 0..n-1 in turn: without it the sums are slx = sum_lx - (w*x)*l_i and
    sl2 = sum_l2 - (w*l)*l_i; if slx > 0 it proposes new = nearest_int((x * sl2) / slx), clamped,
    and keeps it if new != l_i and the sums with it, slx' and sl2', pass sl2' > 0 and
    slx'^2 * sum_l2 > sum_lx^2 * sl2' (cross-multiplied in that float32 order). Up to `passes`
    sweeps; a sweep that changes nothing is the last.

    Between two acceptances the sums do not change, so all n proposals of a sub-block can be
    computed at once. Each round evaluates every weight of every sub-block still sweeping, as
    (n, a) arrays, and applies the first accepted change after the sub-block's position in its
    sweep, in cyclic order: a change at a weight before the position belongs to the next sweep,
    allowed if this sweep changed something and passes remain (the next sweep starts from the same
    sums, so its proposals are the ones just computed). A sub-block with no such change is done:
    nothing would change again. So a sub-block takes one round per accepted change plus one, not
    n steps per sweep; most are done after the first.

    Only sub-blocks whose largest |x| is negative ever move: with iscale = -nmax / max > 0 every
    term w*x*l is >= 0. When max > 0 every term is <= 0, so is every partial sum, and the test
    slx > 0 never passes (exactly, also in float32): search_signed_scale_3bit sweeps only the
    former, so every slx here is >= 0.
    """

    _ARRAYS = ("x", "codes")  # (n, a), element-first
    _VECTORS = ("columns", "sum_lx", "sum_l2", "position", "sweeps_left", "changed")  # (a,)

    def __init__(self, columns, x, codes, sum_lx, sum_l2, passes):
        self.columns = columns  # which sub-blocks, in the caller's numbering
        self.x, self.codes = x, codes  # codes l as float32
        self.sum_lx, self.sum_l2 = sum_lx, sum_l2
        self.position = np.zeros(len(columns), dtype=np.intp)  # next weight in this sweep
        self.sweeps_left = np.full(len(columns), passes - 1)  # sweeps allowed after this one
        self.changed = np.zeros(len(columns), dtype=bool)  # this sweep changed something

    @classmethod
    def concatenate(cls, parts):
        whole = cls.__new__(cls)
        for name in cls._ARRAYS:
            setattr(whole, name, np.concatenate([getattr(p, name) for p in parts], axis=1))
        for name in cls._VECTORS:
            setattr(whole, name, np.concatenate([getattr(p, name) for p in parts]))
        return whole

    def keep(self, index):
        """Keep only the sub-blocks `index` (copies every array)."""
        for name in self._ARRAYS:
            setattr(self, name, np.take(getattr(self, name), index, axis=1))
        for name in self._VECTORS:
            setattr(self, name, getattr(self, name)[index])

    def round(self, nmax, workspace, sum_lx, sum_l2, codes, first=False):
        """Apply each sub-block's next accepted change, also to sum_lx, sum_l2 (m,), codes (n, m).

        Sub-blocks without one are done and dropped. first: every sub-block is at the start of
        its first sweep.
        """
        n, a = self.x.shape
        if a == 0:
            return
        # The terms (w*x)*l and (w*l)*l, w = x*x, are recomputed each round (the same float32
        # steps as the grid fit's: cheaper than carrying and gathering them), in place, into
        # slx = sum_lx - (w*x)*l and the proposal's sl2 = sum_l2 - (w*l)*l.
        slx = np.multiply(self.x, self.x, out=workspace.array("slx", (n, a)))  # w
        proposal = np.multiply(slx, self.codes, out=workspace.array("proposal", (n, a)))
        proposal *= self.codes  # (w*l)*l
        np.subtract(self.sum_l2, proposal, out=proposal)  # sl2
        slx *= self.x
        slx *= self.codes  # (w*x)*l
        np.subtract(self.sum_lx, slx, out=slx)
        proposal *= self.x
        proposal /= slx  # (x * sl2) / slx
        round_to_grid(proposal, -nmax, nmax - 1, exact=self._exact(proposal))
        hit = np.flatnonzero(proposal != self.codes)
        hit = hit[slx.ravel()[hit] > 0]  # C proposes only where slx > 0
        weight, sub = np.divmod(hit, a)
        if first:
            wait = weight
        else:  # rank each proposal by when C reaches it: this sweep from `position`, then the next
            wait = weight - self.position[sub]
            later = wait < 0
            wait[later] += n
            can_wrap = self.changed & (self.sweeps_left > 0)
            visited = ~later | can_wrap[sub]
            hit, weight, sub, wait = hit[visited], weight[visited], sub[visited], wait[visited]
        new, x, old = proposal.ravel()[hit], self.x.ravel()[hit], self.codes.ravel()[hit]
        w = x * x
        wx = w * x
        lx_new = slx.ravel()[hit] + wx * new
        l2_new = (self.sum_l2[sub] - (w * old) * old) + (w * new) * new
        lx, l2 = self.sum_lx[sub], self.sum_l2[sub]
        accept = np.flatnonzero((l2_new > 0) & (lx_new * lx_new * l2 > lx * lx * l2_new))
        # Each sub-block's first accepted change in C's order.
        first_wait = np.full(a, 2 * n)
        np.minimum.at(first_wait, sub[accept], wait[accept])
        accept = accept[wait[accept] == first_wait[sub[accept]]]
        hit, weight, sub, new = hit[accept], weight[accept], sub[accept], new[accept]
        lx_new, l2_new = lx_new[accept], l2_new[accept]
        self.sweeps_left[sub] -= weight < self.position[sub]
        self.position[sub], self.changed[sub] = weight + 1, True
        self.codes.ravel()[hit] = new
        self.sum_lx[sub], self.sum_l2[sub] = lx_new, l2_new
        columns = self.columns[sub]
        codes[weight, columns] = new
        sum_lx[columns], sum_l2[columns] = lx_new, l2_new
        going = np.zeros(a, dtype=bool)  # sub-blocks without a change are done
        going[sub] = True
        self.keep(np.flatnonzero(going))

    def _exact(self, proposal):
        """Whether nearest_int is np.rint for every proposal that counts (those with slx > 0).

        With finite sums (and so finite x), a proposal is NaN only where slx = 0 (0 / 0), which
        does not count: the NaN-ignoring fmin/fmax look at the others. Otherwise (overflow, inf or
        NaN inputs) we take C's bit trick everywhere.
        """
        if not (np.isfinite(self.sum_lx).all() and np.isfinite(self.sum_l2).all()):
            return False
        return bool(
            np.fmin.reduce(proposal, axis=None) >= -_EXACT_LIMIT and np.fmax.reduce(proposal, axis=None) <= _EXACT_LIMIT
        )


def fit_signed_scale_3bit(x, nmax=4, passes=5):
    """Q3_K's search (make_q3_quants): round on the grid of the largest |x|, then improve codes.

    Start from iscale = -nmax / max (codes -nmax..nmax-1), then sweep the weights in order up to
    `passes` times: for weight i, the least-squares scale of the *other* weights suggests a new code,
    kept if it raises sum(w x l)^2 / sum(w l^2) with w = x^2. A sweep that changes nothing is the
    last. (A quirk of the C code: codes only move in sub-blocks whose largest |x| is negative.)

    x: float32 (..., n). Returns scale (...) and codes uint8 (..., n) stored as l + nmax.
    """
    scale, codes = search_signed_scale_3bit(x, nmax, passes)
    return scale, (codes + nmax).astype(np.uint8)

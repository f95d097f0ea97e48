"""The search shared by the vector-codebook i-quants (iq3.py, iq2.py, iq1.py): grid points by scale.

Every i-quant follows the same rhythm, per sub-block of 32 weights (see quantlab.ggml.iquants_grids
for what the grids are):
1. split signs from magnitudes: xval = |x|, one sign bit per weight;
2. weights of the fit: x^2, or with an imatrix qw * sqrt(sigma2 + x^2) (sigma2 = 2 mean x^2 per 256);
3. try a ladder of scales; for each, round every group of magnitudes to lattice levels
   l = nearest_int((xval / scale - 1) / 2); if that lattice point is not in the grid, take the best
   of its precomputed grid neighbours (least weighted squared error at this scale); fit the
   least-squares scale sum(w x q) / sum(w q^2) and keep the try that scores best;
4. store the grid indices, the signs, and the sub-block scale as a few bits under one fp16 d.
The search is vectorized over all sub-blocks and all tries at once (the tries' grid points do not
depend on each other; only the choice among them is C's sequential loop). `best_neighbour_reference`
is the plain loop that both vectorized neighbour searches are tested against: best_neighbour
(exact float32 errors from per-coordinate tables; IQ1's search uses it) and best_neighbour_bounded
(the IQ2 and IQ3 types: a float64 estimate from moments, exact errors only for the close calls).

Refused: weights so large that the fit's float32 sums (x^2 * x * q, times the importance) overflow;
llama.cpp then compares inf and nan scores, and its bytes are an accident of that (seen from |x| =
1e12: IQ3_S; IQ1_M with weights of 1e12 and 1e7 in one block). quantize refuses |x| > 1e10
(rowwise.CODEBOOK_MAX_ABS; a block reaching 1e10 is tested equal to llama.cpp's bytes); the property
tests draw |x| <= 1e8, and the edge-case battery, huge values included, matches byte for byte.
"""

from dataclasses import dataclass
from functools import cache

import numpy as np

from . import kquants_search
from .fp16 import fp16_to_bytes, sum_in_order
from .iquants_grids import codebook

_CHUNK = 512  # sub-blocks per pass: bounds the (tries, groups, neighbours, dim) work arrays
_QP_CHUNK = 16384  # sub-blocks per make_qp_scale call
MERGE_CELLS = 3000  # padding that costs about one part's per-call overhead (see _cuts)


def fit_weights(blocks, importance, sigma2_share=None):
    """Weights of the least-squares fits, per weight of blocks (n, 256).

    With an imatrix qw: qw * sqrt(sigma2 + x^2), where sigma2 = 2 * mean(x^2) over the 256.
    Without: x^2, or sigma2_share * sigma2 + x^2 for the types that add a floor (IQ2_S: 0.25).
    """
    with np.errstate(over="ignore", invalid="ignore"):
        if importance is None and sigma2_share is None:
            return blocks * blocks
        sigma2 = np.float32(2) * sum_in_order(blocks * blocks, axis=1) / np.float32(blocks.shape[1])
        if importance is None:
            return np.float32(sigma2_share) * sigma2[:, None] + blocks * blocks
        return importance * np.sqrt(sigma2[:, None] + blocks * blocks)


def nearest_int(values):
    """llama.cpp's nearest_int of float32 values (kquants_search.nearest_int), as float32.

    Ties to even; beyond 2^22, and for inf (-> -2^22) and nan (-> 0), C's bit trick is reproduced:
    such values arise when 1/max|x| overflows (subnormal blocks) or a sum is nearly 0.
    """
    return kquants_search.nearest_int(values).astype(np.float32)


def c_running_max(values, skip):
    """max over the last axis as C's `m = MAX(m, v)` loop from m = 0 computes it, skipping `skip`.

    A nan v replaces m (`m > nan` is false). Only weights near float32's limit make a nan scale.
    """
    running = np.zeros(values.shape[:-1], dtype=np.float32)
    for column, skipped in zip(np.moveaxis(values, -1, 0), np.moveaxis(skip, -1, 0)):
        running = np.where((running > column) | skipped, running, column)
    return running


@cache
def _neighbour_offsets(name):
    """The neighbour lists in the compact form the search gathers from, one row per off-grid key.

    Returns (row_of_key, padded, offsets, n_levels): row_of_key (keys,) int32 maps a lattice key to
    its row (-1 for keys on the grid or out of range); padded (rows, width) int32 is each list
    padded with copies of its first neighbour; offsets (rows, dim, width) uint8 says where each
    neighbour's coordinates sit in a per-group table of (dim, levels) terms: i * n_levels + level of
    coordinate i. A padded copy scores exactly as the first neighbour, and argmin keeps the first of
    equal scores, so padding never wins. Only the few thousand reachable off-grid keys get a row: a
    row per key of the 2^16 would take 0.15-0.6 GB per 8-dimensional grid.
    """
    book = codebook(name)
    n_levels = int(book.levels.max()) + 1
    keys = np.flatnonzero(book.neighbour_count > 0)
    row_of_key = np.full(len(book.neighbour_count), -1, dtype=np.int32)
    row_of_key[keys] = np.arange(len(keys), dtype=np.int32)
    lists = book.neighbours[keys]
    padded = np.where(lists < 0, lists[:, :1], lists).astype(np.int32)
    offsets = book.levels[padded].astype(np.uint8) + (np.arange(book.dim) * n_levels).astype(np.uint8)
    return row_of_key, padded, np.ascontiguousarray(offsets.transpose(0, 2, 1)), n_levels


def _parts_by_width(counts, most=8192):
    """Index arrays of the entries, sorted by list length and cut into parts whose longest list is at
    most ~1.25x their shortest (and at most `most` entries), so that padding every list of a part to
    its longest wastes little (the exact search's gathers make padding dear: small parts are kept)."""
    order = np.argsort(counts, kind="stable")
    bucket = np.floor(np.log(np.maximum(counts[order], 1)) / np.log(1.25)).astype(np.int64)
    for piece in np.split(order, np.flatnonzero(np.diff(bucket)) + 1):
        for start in range(0, len(piece), most):
            yield piece[start : start + most]


def _cuts(bands, widths, merge_cells=MERGE_CELLS):
    """Where to cut entries sorted by band into parts: at a change of band, unless padding the part so far to
    the next band's widest list adds fewer than merge_cells cells (then the part's per-call overhead costs more).

    bands (k,) sorted; widths (k,) each entry's list length.
    """
    changes = np.flatnonzero(np.diff(bands)) + 1
    band_widest = np.maximum.reduceat(widths, np.concatenate([[0], changes]))
    cuts, start, widest = [], 0, band_widest[0]
    for change, next_widest in zip(changes, band_widest[1:]):
        if (change - start) * (next_widest - widest) >= merge_cells:
            cuts.append(change)
            start = change
        widest = next_widest
    return cuts


def best_neighbour(book, keys, xval, weight, scale, level_values=None):
    """Grid index of the best neighbour of each off-grid lattice key, as iq*_find_best_neighbour.

    keys (k,), xval and weight (k, dim) float32, scale (k,) float32. The error of a grid point q is
    sum_i (weight_i * diff_i) * diff_i with diff = scale*q_i - xval_i, summed in coordinate order in
    float32; the first neighbour (nearest on the lattice, then lowest index) wins a tie.
    Fast path: each coordinate takes one of a few levels, so the terms are computed once per
    (group, coordinate, level) in a small table, and each candidate's error gathers its terms
    (one gather for all coordinates, summed in order by np.add.reduce over a middle axis).
    level_values: (k, n_levels) value of each level per group (IQ1's shifted levels); default 2l + 1.
    """
    row_of_key, padded, offsets, n_levels = _neighbour_offsets(book.name)
    dim = book.dim
    if level_values is None:
        level_values = np.broadcast_to((2 * np.arange(n_levels) + 1).astype(np.float32), (len(keys), n_levels))
    found = np.empty(len(keys), dtype=np.int32)
    counts = book.neighbour_count[keys]
    for part in _parts_by_width(counts):  # parts of similar list lengths: little padding
        width = max(int(counts[part[-1]]), 2)  # a last axis of 1 would make np.add.reduce add pairwise
        rows = row_of_key[keys[part]]
        if rows.min() < 0:  # a key on the grid or outside the lattice's range has no list to search
            raise ValueError("best_neighbour takes off-grid lattice keys only (codebook.neighbour_count > 0)")
        diff = scale[part, None, None] * level_values[part, None, :] - xval[part, :, None]  # (k, dim, L)
        table = ((weight[part, :, None] * diff) * diff).reshape(-1)
        where = offsets[rows, :, :width] + (np.arange(len(part), dtype=np.int32) * (dim * n_levels))[:, None, None]
        error = np.add.reduce(table[where], axis=1)  # over coordinates, one at a time from 0, as C's d2 +=
        found[part] = padded[rows, error.argmin(axis=1)]
    return found


def grid_moments(book, xval, weight):
    """Per group and grid point, A = sum w q^2 and B = sum w x q: a group's errors at any scale.

    sum_i w_i (s q_i - x_i)^2 = s^2 * A - 2 s * B + sum w x^2, so with these two moments (one matrix
    product per search, not per try) a candidate's error at scale s costs one look-up: they are stored
    as one complex128 array A + iB (..., n + 1), so that one gather fetches both. The extra last column
    (A = inf, B = 0) scores padding as +inf. The float64 sums of float32 products are within 2^-50 of
    exact (products of float32 are exact in float64).
    """
    q = _positions(book.name).astype(np.float64)  # (n, dim)
    w = weight.astype(np.float64)
    shape = (*xval.shape[:-1], len(q) + 1)
    moments = np.empty(shape, dtype=np.complex128)
    moments[..., -1] = np.inf
    w, x = w.reshape(-1, q.shape[1]), xval.reshape(-1, q.shape[1])  # one 2-D product, not one per leading index
    moments.real[..., :-1] = (w @ (q * q).T).reshape(*shape[:-1], -1)
    moments.imag[..., :-1] = ((w * x) @ q.T).reshape(*shape[:-1], -1)
    return moments


_U = 2.0**-24  # float32's unit roundoff


def best_neighbour_bounded(book, keys, xval, weight, scale, rows, moments=None):
    """best_neighbour, bit for bit, from each candidate's moments: bound, then verify the close calls.

    keys (k,), xval and weight (k, dim) float32, scale (k,) float32; rows (k,): which group each
    entry is. Entries of one group with one key in a row (the ladder's tries) share the candidates'
    moments A = sum w q^2 and B = sum w x q, computed once per such run: gathered from grid_moments'
    (groups, n + 1) array A + iB (moments), or else summed from per-coordinate tables. Each candidate's
    error is estimated in float64 as s^2 A - 2 s B (the common sum w x^2 left out). C's float32 error
    differs from the exact real one by less than tol = 2^-19 K + 2^-130 (1 + sum w) (1 + max M_i)^2,
    with K = sum w M_i^2, M_i = 2 s max(q) + |x_i|: each term w (fl(s q) - x)^2 is within
    5u w (|d| + s q)^2 of w d^2 (d = s q - x, u = 2^-24), the in-order sum of 8 terms adds 8u of their
    total, underflow adds at most 2^-149 per operation, and the float64 estimate is far closer. A
    candidate whose estimate exceeds the least by more than 2 tol can be neither C's choice nor tie
    with it; an entry left with one candidate has its answer, the others (and those where float32
    could overflow, K >= 1e36, or s is not positive and finite) are searched exactly by best_neighbour.
    """
    row_of_key, padded, offsets, n_levels = _neighbour_offsets(book.name)
    n_grid, dim = book.size, book.dim
    found = np.empty(len(keys), dtype=np.int32)
    if len(keys) == 0:
        return found
    first = np.ones(len(keys), dtype=bool)  # entries that start a run of one group and one key
    first[1:] = (rows[1:] != rows[:-1]) | (keys[1:] != keys[:-1])
    run = np.cumsum(first) - 1
    starts = np.flatnonzero(first)
    counts = book.neighbour_count[keys[starts]]
    list_row = row_of_key[keys[starts]]
    if list_row.min() < 0:  # a key on the grid or outside the lattice's range has no list to search
        raise ValueError("best_neighbour_bounded takes off-grid lattice keys only (codebook.neighbour_count > 0)")
    top = 2.0 * float(book.levels.max()) + 1
    s64 = scale.astype(np.float64)
    # K = sum w (2 s top + |x|)^2 = 4 top^2 s^2 sum w + 4 top s sum w|x| + sum w x^2, sums per run
    w64, x64 = weight[starts].astype(np.float64), np.abs(xval[starts].astype(np.float64))
    sum_w, sum_wx, sum_wx2 = w64.sum(axis=1)[run], (w64 * x64).sum(axis=1)[run], (w64 * x64 * x64).sum(axis=1)[run]
    spread = ((4 * top * top) * s64 * s64) * sum_w + ((4 * top) * s64) * sum_wx + sum_wx2
    reach = 2 * top * s64 + x64.max(axis=1)[run]
    tol = 2.0**-19 * spread + 2.0**-130 * (1 + sum_w) * (1 + reach) ** 2
    unsure = ~(spread < 1e36) | ~(s64 > 0) | ~np.isfinite(s64)
    band = np.floor(np.log(np.maximum(counts, 1)) / np.log(1.25)).astype(np.int16)[run]
    by_band = np.argsort(band, kind="stable")  # entries by their runs' list lengths, runs kept whole
    cuts = _cuts(band[by_band], counts[run][by_band])
    positions = (2 * np.arange(n_levels, dtype=np.float64) + 1)[None, None, :]  # q = 2l + 1
    for part in np.split(by_band, cuts):
        new_run = np.ones(len(part), dtype=bool)  # runs are whole and in order within a part
        new_run[1:] = run[part][1:] != run[part][:-1]
        part_runs, local = run[part][new_run], np.cumsum(new_run) - 1
        run_start = starts[part_runs]
        width = int(counts[part_runs].max())
        candidates = padded[list_row[part_runs], :width]
        pad = np.arange(width) >= counts[part_runs, None]
        if moments is not None:
            where = np.where(pad, n_grid, candidates) + (rows[run_start].astype(np.int64) * (n_grid + 1))[:, None]
            both = moments.reshape(-1)[where]
            a, b = both.real, both.imag
        else:
            w, x = weight[run_start, :, None].astype(np.float64), xval[run_start, :, None].astype(np.float64)
            table_a = (w * (positions * positions)).reshape(-1)  # (runs * dim * levels)
            table_b = ((w * x) * positions).reshape(-1)
            where = (
                offsets[list_row[part_runs], :, :width] + (np.arange(len(run_start)) * (dim * n_levels))[:, None, None]
            )
            a = np.where(pad, np.inf, table_a[where].sum(axis=1))
            b = np.where(pad, 0, table_b[where].sum(axis=1))
        s = s64[part, None]
        estimate = a[local]
        estimate *= s * s
        estimate -= b[local] * (2 * s)
        best = estimate.argmin(axis=1)
        least = estimate[np.arange(len(part)), best]
        close = (estimate <= (least + 2 * tol[part])[:, None]).sum(axis=1)
        found[part] = candidates[local, best]
        unsure[part] |= (close != 1) | ~np.isfinite(least)
    if unsure.any():
        found[unsure] = best_neighbour(book, keys[unsure], xval[unsure], weight[unsure], scale[unsure])
    return found


def best_neighbour_reference(book, key, xval, weight, scale):
    """One group, the plain loop of llama.cpp's iq3_find_best_neighbour (for tests)."""
    best, best_error = -1, np.float32(np.finfo(np.float32).max)
    for j in book.neighbours[key]:
        if j < 0:
            break
        error = np.float32(0)
        for i in range(book.dim):
            diff = np.float32(scale) * np.float32(2 * int(book.levels[j, i]) + 1) - xval[i]
            error = np.float32(error + np.float32(weight[i] * diff) * diff)
        if error < best_error:
            best, best_error = j, error
    return best


def _grid_points(book, xval, weight, scale, inverse, max_level, bounded=None, moments=None, sub_blocks=None, tries=1):
    """Grid index of each group at one scale: lattice rounding, then the neighbour search off-grid.

    xval, weight (m, groups, dim); scale and inverse (m, 1): the search's scale and 1/scale.
    bounded: None (best_neighbour) or best_neighbour_bounded's moments source, "grid" (then moments:
    grid_moments of the chunk's groups, flattened to (sub-blocks * groups, n + 1)) or "lists".
    sub_blocks (m,): which sub-block of the chunk each row is (default all, in order); tries: rows
    come as (sub-block, try) with this many tries, and each group's tries are searched in a row.
    """
    levels = np.clip(nearest_int(np.float32(0.5) * (inverse[:, :, None] * xval - np.float32(1))), 0, max_level)
    keys = book.key(levels)  # (m, groups)
    index = book.index_of_key[keys]
    off = index < 0
    if off.any():
        m, groups = off.shape
        order = np.arange(m * groups).reshape(-1, tries, groups).transpose(0, 2, 1).reshape(-1)
        entry = order[off.reshape(-1)[order]]  # off-grid (row, group), a group's tries together
        row, group = np.divmod(entry, groups)
        args = (book, keys.reshape(-1)[entry], xval.reshape(-1, book.dim)[entry], weight.reshape(-1, book.dim)[entry])
        args = (*args, np.broadcast_to(scale, keys.shape).reshape(-1)[entry])
        if bounded is None:
            found = best_neighbour(*args)
        else:
            sub_block = row if sub_blocks is None else sub_blocks[row]
            found = best_neighbour_bounded(*args, sub_block * groups + group, moments)
        index.reshape(-1)[entry] = found
    return index, ~off


@cache
def _positions(name):
    """float32 (n, dim): a grid's points as the quantizer sees them, 2l + 1 (computed once)."""
    return codebook(name).positions()


def _weighted_sums(book, index, xval, weight):
    """sum(w x q) and sum(w q q) over each sub-block (in order), q = 2l + 1 of the chosen points.

    The terms are laid out weight-major, (32, m), so that one np.add.reduce adds them in order.
    """
    q = _positions(book.name)[index].reshape(xval.shape[0], -1)  # (m, 32)
    w = weight.reshape(q.shape)
    x = xval.reshape(q.shape)
    qx = np.ascontiguousarray(((w * x) * q).T)
    q2 = np.ascontiguousarray(((w * q) * q).T)
    return kquants_search.sum_in_order(qx), kquants_search.sum_in_order(q2)


# ----------------------------------------------------------------------------- the shared search


@dataclass(frozen=True)
class Search:
    """How one i-quant searches a sub-block (the constants of its quantize_row_*_impl)."""

    grid: str  # which codebook
    sub_block: int  # weights per fitted scale
    top_level: int  # kMaxQ - 1: lattice levels 0 .. top_level, positions 1, 3, ..
    step: float  # the ladder of inverse scales (2 kMaxQ - 1 + t * step) / max, t = -9..9
    tiny: float  # sub-blocks with max|x| below this (or == 0 when 0) are stored as zeros
    on_grid_at_start: bool  # IQ3_S starts "off grid" (so it always refits), IQ2_S "on grid"
    redo_all: bool  # the refit re-rounds every group (IQ3_S) or only the off-grid ones
    tries: int = 9  # t = -tries .. tries
    even_signs: bool = False  # 7 sign bits per 8 weights: the count of minus signs is made even
    qp_start: bool = False  # IQ2_XXS/XS: the ladder spans make_qp_quants' scale, not max|x|,
    # and the refit at the end always runs, on every group
    bounded: str | None = None  # neighbours by best_neighbour_bounded, moments from the whole "grid"
    # (one matrix product: pays off for long neighbour lists) or from the "lists"; None: best_neighbour


def magnitudes_and_signs(x, weight, even_signs):
    """xval = |x| and the sign bits (x >= 0 counts as +, -0.0 too), as the i-quants split them.

    With even_signs (IQ3_XXS, IQ2_XXS, IQ2_XS), a group of 8 with an odd count of negatives gets
    its least important weight (smallest w * x * x, the first on a tie) flipped: its sign bit is
    toggled and its xval becomes -|x|, so the fit sees the weight it will really get.
    """
    negative = ~(x >= 0)
    xval = np.abs(x)
    if even_signs:
        m = len(x)
        groups = negative.reshape(m, -1, 8)
        odd = groups.sum(axis=2) % 2 == 1
        with np.errstate(over="ignore", invalid="ignore"):
            importance = ((weight * x) * x).reshape(m, -1, 8)
        least = importance.argmin(axis=2)
        rows, group = np.nonzero(odd)
        column = group * 8 + least[rows, group]
        negative = negative.copy()
        negative[rows, column] ^= True
        xval[rows, column] = -xval[rows, column]
    return xval, negative


def make_qp_scale(xval, weight, nmax):
    """The scale llama.cpp's make_qp_quants returns, for rows xval (m, n) with weights (m, n).

    A non-negative grid x ~ scale * l, l = 0..nmax: start at nmax / max, try 8 nearby inverse
    scales (0.1 t + nmax) / max by weighted squared error, then sweep the weights in order (up to
    5 times, stopping after a sweep without change), moving one code at a time to the value the
    other weights' least-squares scale suggests if that raises sum(w x l)^2 / sum(w l^2).
    Vectorized over rows; the sweeps are sequential in the weights, as in C. The codes are kept
    as C's uint8 array keeps them: a negative code (only the parity-flipped weight can get one)
    wraps to 256 + l when stored.
    """
    f32 = np.float32
    m, n = xval.shape
    top = np.maximum(xval.max(axis=1), f32(0))
    zero = top < f32(1e-15)
    top = np.where(zero, f32(1), top)
    nmax_f = f32(nmax)

    def codes_at(inverse, clamp):
        l = nearest_int(inverse[:, None] * xval)
        return np.minimum(l, nmax_f) if clamp else l

    def mse(scale, l):
        diff = xval - scale[:, None] * l
        return sum_in_order((weight * diff) * diff, axis=1)

    inverse = nmax_f / top
    stored = np.mod(codes_at(inverse, False), f32(256))  # uint8 storage of L
    best = mse(f32(1) / inverse, stored)
    for t in (-4, -3, -2, -1, 1, 2, 3, 4):
        trial = (f32(0.1) * f32(t) + nmax_f) / top
        error = mse(f32(1) / trial, codes_at(trial, True))
        better = error < best
        best = np.where(better, error, best)
        inverse = np.where(better, trial, inverse)
    l = codes_at(inverse, True)
    stored = np.mod(l, f32(256))
    sum_lx = sum_in_order((weight * xval) * l, axis=1)
    sum_l2 = sum_in_order((weight * l) * l, axis=1)
    active = ~zero
    weight_t, xval_t, stored = (np.ascontiguousarray(a.T) for a in (weight, xval, stored))  # weight i in row i
    for _ in range(5):
        changed = np.zeros(m, dtype=bool)
        for i in range(n):
            w, x, old = weight_t[i], xval_t[i], stored[i]
            slx = sum_lx - (w * x) * old
            sl2 = sum_l2 - (w * old) * old
            with np.errstate(divide="ignore", invalid="ignore"):
                new = np.minimum(nearest_int((x * sl2) / slx), nmax_f)
            propose = active & (slx > 0) & (sl2 > 0) & (new != old)
            slx = slx + (w * x) * new
            sl2 = sl2 + (w * new) * new
            with np.errstate(over="ignore"):  # huge weights overflow to inf here as in C's float32; inf > inf is false
                accept = propose & ((slx * slx) * sum_l2 > (sum_lx * sum_lx) * sl2)
            stored[i] = np.where(accept, np.mod(new, f32(256)), old)
            sum_lx = np.where(accept, slx, sum_lx)
            sum_l2 = np.where(accept, sl2, sum_l2)
            changed |= accept
        active &= changed
        if not active.any():
            break
    with np.errstate(divide="ignore", invalid="ignore"):
        scale = np.where(sum_l2 > 0, sum_lx / sum_l2, f32(0))
    return np.where(zero, f32(0), scale).astype(f32)


def _search(spec, x, weight, qp_scale=None):
    """One i-quant's search over sub-blocks x (m, sub_block); qp_scale: make_qp_scale's for spec.qp_start.

    Returns the fitted scale (m,) float32, grid indices (m, groups), sign bits (m, sub_block) and
    the mask of sub-blocks stored as zeros.
    """
    book = codebook(spec.grid)
    m, groups = len(x), spec.sub_block // book.dim
    xval, negative = magnitudes_and_signs(x, weight, spec.even_signs)
    top = xval.max(axis=1)
    xval = xval.reshape(m, groups, book.dim)
    w = weight.reshape(m, groups, book.dim)
    waux = np.sqrt(w)
    moments = None
    if spec.bounded == "grid":
        moments = grid_moments(book, xval, waux).reshape(m * groups, -1)
    zero = top < np.float32(spec.tiny) if spec.tiny else top == 0
    top = np.where(zero, np.float32(1), top)
    middle = np.float32(2 * spec.top_level + 1)
    scale = top / middle
    if spec.qp_start:
        scale = qp_scale
        top = scale * np.float32(spec.top_level + 1)  # eff_max = scale * kMaxQ
        zero |= top <= 0
        top = np.where(zero, np.float32(1), top)
    best = np.zeros(m, dtype=np.float32)
    index = np.zeros((m, groups), dtype=np.int32)  # before any try is kept: levels 0
    on_grid = np.full((m, groups), spec.on_grid_at_start)
    with np.errstate(divide="ignore", over="ignore", invalid="ignore"):
        # every try's grid points at once (they do not depend on each other), rows (sub-block, try)
        tries = np.arange(-spec.tries, spec.tries + 1, dtype=np.float32)
        inverse = ((middle + tries * np.float32(spec.step))[None, :] / top[:, None]).reshape(-1, 1)
        n_tries = len(tries)
        rows = np.repeat(np.arange(m), n_tries)
        idx_all, on_all = _grid_points(
            book,
            xval[rows],
            waux[rows],
            np.float32(1) / inverse,
            inverse,
            spec.top_level,
            spec.bounded,
            moments,
            rows,
            n_tries,
        )
        sum_qx_all, sum_q2_all = (s.reshape(m, n_tries) for s in _weighted_sums(book, idx_all, xval[rows], w[rows]))
        idx_all, on_all = idx_all.reshape(m, n_tries, groups), on_all.reshape(m, n_tries, groups)
        for t in range(n_tries):  # C's loop over the tries: keep the first best fit
            sum_qx, sum_q2 = sum_qx_all[:, t], sum_q2_all[:, t]
            better = (sum_q2 > 0) & (sum_qx * sum_qx > best * sum_q2)
            scale = np.where(better, sum_qx / sum_q2, scale)
            best = np.where(better, scale * sum_qx, best)
            index = np.where(better[:, None], idx_all[:, t], index)
            on_grid = np.where(better[:, None], on_all[:, t], on_grid)
        # a group of the kept try went through the neighbour search: re-round at the fitted scale
        # (lattice rounding with 1/scale, neighbours scored at scale) and refit once
        redo = (scale > 0) if spec.qp_start else ~on_grid.all(axis=1) & (scale > 0)
        if redo.any():
            s = scale[redo][:, None]
            idx, _ = _grid_points(
                book,
                xval[redo],
                waux[redo],
                s,
                np.float32(1) / s,
                spec.top_level,
                spec.bounded,
                moments,
                np.flatnonzero(redo),
            )
            if not spec.redo_all:
                idx = np.where(on_grid[redo], index[redo], idx)
            sum_qx, sum_q2 = _weighted_sums(book, idx, xval[redo], w[redo])
            index[redo] = idx
            scale[redo] = np.where(sum_q2 > 0, sum_qx / sum_q2, scale[redo])
    return np.where(zero, np.float32(0), scale), index, negative, zero


def sub_block_codes(scale, zero, top_code, factor):
    """fp16 d and 4-bit codes of the sub-block scales: d = max / 31, code = nearest_int((s/d - 1) / 2).

    The stored d is d * factor (llama.cpp's empirical tweak: 1.033 for IQ3_S, 0.9875 for IQ2_S).
    """
    max_scale = c_running_max(scale, zero)  # all-zero sub-blocks are skipped in C
    d = max_scale / np.float32(31)
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        inverse = np.float32(1) / d
        code = np.clip(nearest_int(np.float32(0.5) * (inverse[:, None] * scale - np.float32(1))), 0, top_code)
    stored = max_scale != 0  # C's `if (!max_scale) continue;` (nan is stored)
    code = np.where(stored[:, None], code, 0).astype(np.uint8)
    return fp16_to_bytes(np.where(stored, d * np.float32(factor), np.float32(0))), code


def search_blocks(spec, blocks, weight):
    """_search over every sub-block of blocks (n, 256), in chunks; results shaped per block."""
    n = len(blocks)
    sub = blocks.reshape(-1, spec.sub_block)
    w = weight.reshape(-1, spec.sub_block)
    qp_scale = np.zeros(len(sub), dtype=np.float32)
    if spec.qp_start:  # its sequential sweeps cost per call, not per sub-block: in large chunks
        for i in range(0, len(sub), _QP_CHUNK):
            xval, _ = magnitudes_and_signs(sub[i : i + _QP_CHUNK], w[i : i + _QP_CHUNK], spec.even_signs)
            qp_scale[i : i + _QP_CHUNK] = make_qp_scale(xval, w[i : i + _QP_CHUNK], spec.top_level + 2)  # kMaxQ + 1
    parts = [
        _search(spec, sub[i : i + _CHUNK], w[i : i + _CHUNK], qp_scale[i : i + _CHUNK])
        for i in range(0, len(sub), _CHUNK)
    ]
    scale, index, negative, zero = (np.concatenate(p) for p in zip(*parts))
    per_block = 256 // spec.sub_block
    return (
        scale.reshape(n, per_block),
        index.reshape(n, per_block, -1),
        negative.reshape(n, per_block, -1),
        zero.reshape(n, per_block),
    )


def sigma2_weights(blocks, importance):
    """IQ2_XXS/XS fit weights: qw * sqrt(sigma2 + x^2) with sigma2 = mean(x^2) over the 256 (no 2x)."""
    with np.errstate(over="ignore", invalid="ignore"):
        sigma2 = sum_in_order(blocks * blocks, axis=1) / np.float32(blocks.shape[1])
        return importance * np.sqrt(sigma2[:, None] + blocks * blocks)


def seven_sign_bits(negative):
    """(n, sub, 32) sign bits -> (n, sub) uint32: 7 bits per group of 8 (the 8th is implied even)."""
    bytes_ = np.packbits(negative.reshape(*negative.shape[:2], 4, 8), axis=3, bitorder="little")[..., 0]
    bytes_ = (bytes_ & 127).astype(np.uint32)
    return bytes_[..., 0] | bytes_[..., 1] << 7 | bytes_[..., 2] << 14 | bytes_[..., 3] << 21

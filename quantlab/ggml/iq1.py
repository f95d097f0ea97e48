"""IQ1_S and IQ1_M: 8-dimensional ternary grid points (-1, 0, 1), shifted by +-1/8 per group.

Both use the same 2048-point grid. Instead of the ladder of scales of the other i-quants, each
sub-block is split exhaustively: the weights sorted, cut into three runs (levels -1, 0, 1) at
every i1 <= i2, and the least-squares scale of each cut scored; groups whose levels are not a grid
point go to their best grid neighbour. IQ1_S: sub-blocks of 32 with a 3-bit scale and one shift
sign each, fp16 d: 50 bytes per 256 = 1.5625 bpw, imatrix required. IQ1_M: sub-blocks of 16 whose
two halves pick their shifts separately, 3-bit scales, and d spread over the scales' top nibbles:
56 bytes per 256 = 1.75 bpw, imatrix optional.
"""

import numpy as np

from .fp16 import fp16_from_bytes, fp16_to_bytes, sum_in_order
from .iquants import best_neighbour, c_running_max, fit_weights, nearest_int
from .iquants_grids import codebook
from .rowwise import Layout, dequantize_rows, quantize_rows

# ----------------------------------------------------------------------------- IQ1_S

IQ1_S = Layout("IQ1_S", block_size=256, fields=(("d", 2), ("qs", 32), ("qh", 16)), imatrix="required")
IQ1S_DELTA = np.float32(0.125)
# the three values a level 0, 1, 2 stands for, shifted up (+delta) or down (-delta) per sub-block
IQ1_SHIFTED = {
    1: np.array([-1, 0, 1], dtype=np.float32) + IQ1S_DELTA,
    -1: np.array([-1, 0, 1], dtype=np.float32) - IQ1S_DELTA,
}
_SPLITS = np.array([(i1, i2) for i1 in range(33) for i2 in range(i1, 33)])  # C's loop order


_BANDS = 2.0 ** -np.arange(16, 4, -1)  # relative bands around the best score, tried narrowest first (first_best_fit)


def first_best_fit_reference(sum_qx, sum_q2, scale):
    """C's loop over candidates k in order: keep k if sumq2 > 0 and sumqx^2 > best * sumq2 (float32).

    best starts at -FLT_MAX and becomes scale * sumqx with scale = sumqx / sumq2 of the kept k.
    Returns the index kept last (-1 if none) and its scale (the given scale if none), per row.
    """
    f32 = np.float32
    m, count = sum_qx.shape
    best = np.full(m, -np.finfo(f32).max, dtype=f32)
    pick = np.full(m, -1)
    with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
        for k in range(count):
            qx, q2 = sum_qx[:, k], sum_q2[:, k]
            better = (q2 > 0) & (qx * qx > best * q2)
            scale = np.where(better, qx / q2, scale)
            best = np.where(better, scale * qx, best)
            pick = np.where(better, k, pick)
    return pick, scale


def first_best_fit(sum_qx, sum_q2, scale):
    """first_best_fit_reference without the loop over every candidate, bit for bit.

    A kept candidate's score, best = (sumqx / sumq2) * sumqx, is r = sumqx^2 / sumq2 within 2 float32
    ulps, and C keeps candidate k when r_k beats the current best, up to 2 ulps either way. Let M
    be the top score and b a band (2^-16 first, then 2^-15, .. 2^-5 where needed). If every candidate scores
    either >= M (1 - b) ("near") or < M (1 - 2b), then before the first near candidate best is
    below M (1 - 2b), so that one is kept; from then on best is a near score, so no candidate below
    is kept again: C's loop over the near candidates alone, in order, keeps the same last one.
    Rows with no such gap, or where M is not a positive normal number or a product could leave
    float32's normal range, run the reference loop.
    """
    f32 = np.float32
    with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
        positive = sum_q2 > 0
        score = np.where(positive, (sum_qx / sum_q2) * sum_qx, -np.inf)
        top = score.max(axis=1)  # nan if any score is nan
        q2_low = np.where(positive, sum_q2, np.inf).min(axis=1)
        q2_high = np.where(positive, sum_q2, 0).max(axis=1)
        normal = (top > 0) & (top < np.inf) & (top * q2_low > f32(1e-30)) & (top * q2_high < f32(1e30))
    near = np.zeros(score.shape, dtype=bool)
    sure = np.zeros(len(score), dtype=bool)
    remaining = np.flatnonzero(normal)
    for band in _BANDS:
        rows_score, rows_top = score[remaining], top[remaining][:, None]
        rows_near = rows_score >= rows_top * f32(1 - band)
        fine = (rows_near | (rows_score < rows_top * f32(1 - 2 * band))).all(axis=1)
        near[remaining[fine]] = rows_near[fine]
        sure[remaining[fine]] = True
        remaining = remaining[~fine]
    pick = np.full(len(score), -1)
    scale = scale.copy()
    unsure = np.flatnonzero(~sure)
    if len(unsure):
        pick[unsure], scale[unsure] = first_best_fit_reference(sum_qx[unsure], sum_q2[unsure], scale[unsure])
    rows, columns = np.nonzero(near & sure[:, None])  # each row's near candidates, in order
    counts = np.bincount(rows, minlength=len(score))
    rank = np.arange(len(rows)) - (np.cumsum(counts) - counts)[rows]
    padded = np.full((len(score), max(int(counts.max(initial=0)), 1)), -1)
    padded[rows, rank] = columns
    many = np.flatnonzero(counts > 1)
    single = np.flatnonzero(counts == 1)
    pick[single] = padded[single, 0]
    with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
        scale[single] = sum_qx[single, pick[single]] / sum_q2[single, pick[single]]
        if len(many):
            columns = padded[many]
            valid = columns >= 0
            qx = np.where(valid, sum_qx[many[:, None], np.maximum(columns, 0)], 0)
            q2 = np.where(valid, sum_q2[many[:, None], np.maximum(columns, 0)], 0)
            pick[many], scale[many] = first_best_fit_reference(qx, q2, scale[many])
            pick[many] = columns[np.arange(len(many)), pick[many]]
    return pick, scale


def _iq1_best_split(x, weight):
    """IQ1_S's exhaustive search: sorted x cut into three runs (levels 0, 1, 2) at i1 <= i2.

    For each cut and each shift (+delta first, then -delta), the least-squares scale of
    x ~ scale * value[level] is scored from prefix sums; the first best (C's `>` test on
    cross-multiplied float32 scores) wins. Returns scale, levels (m, 32), shift (+-1), found.
    The plain loop over the 1122 candidates stays here: with this many candidates, first_best_fit's
    passes over the whole (m, 1122) table cost more than the loop (measured; IQ1_M gains from it).
    """
    f32 = np.float32
    m, n = x.shape
    order = np.argsort(x, axis=1, kind="stable")
    xs = np.take_along_axis(x, order, axis=1)
    ws = np.take_along_axis(weight, order, axis=1)
    zeros = np.zeros((m, 1), dtype=f32)
    sum_x = np.concatenate([zeros, np.cumsum(ws * xs, axis=1, dtype=f32)], axis=1)  # sequential
    sum_w = np.concatenate([zeros, np.cumsum(ws, axis=1, dtype=f32)], axis=1)
    i1, i2 = _SPLITS[:, 0], _SPLITS[:, 1]
    a, b, c = sum_x[:, i1] - sum_x[:, :1], sum_x[:, i2] - sum_x[:, i1], sum_x[:, n:] - sum_x[:, i2]
    wa, wb, wc = sum_w[:, i1] - sum_w[:, :1], sum_w[:, i2] - sum_w[:, i1], sum_w[:, n:] - sum_w[:, i2]
    best = np.full(m, -np.finfo(f32).max, dtype=f32)
    scale = np.abs(x).max(axis=1)
    pick = np.full(m, -1)
    shift = np.zeros(m, dtype=np.int8)
    with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
        candidates = []
        for sign in (1, -1):
            p = IQ1_SHIFTED[sign]
            sum_qx = (a * p[0] + b * p[1]) + c * p[2]
            sum_q2 = ((wa * p[0]) * p[0] + (wb * p[1]) * p[1]) + (wc * p[2]) * p[2]
            candidates.append((sum_qx, sum_q2))
        for k in range(len(_SPLITS)):
            for sign, (sum_qx, sum_q2) in zip((1, -1), candidates):
                qx, q2 = sum_qx[:, k], sum_q2[:, k]
                better = (q2 > 0) & (qx * qx > best * q2)
                scale = np.where(better, qx / q2, scale)
                best = np.where(better, scale * qx, best)
                pick = np.where(better, k, pick)
                shift = np.where(better, np.int8(sign), shift)
    found = pick >= 0
    position = np.arange(n)
    cut1, cut2 = i1[np.maximum(pick, 0)], i2[np.maximum(pick, 0)]
    sorted_levels = (position >= cut1[:, None]).astype(np.int8) + (position >= cut2[:, None])
    levels = np.empty_like(sorted_levels)
    np.put_along_axis(levels, order, sorted_levels, axis=1)
    return scale, levels, shift, found


def _iq1_neighbours(book, keys, x, weight, scale, shift):
    """iq1_find_best_neighbour2: least sum (w * diff) * diff, diff = scale * value[level] - x."""
    values = np.where(np.asarray(shift)[:, None] > 0, IQ1_SHIFTED[1], IQ1_SHIFTED[-1])
    return best_neighbour(book, keys, x, weight, scale, values)


def _iq1_s_sub_blocks(x, weight):
    """IQ1_S per sub-block of 32: scale, grid indices (m, 4), shift (+-1), zero mask."""
    book = codebook("IQ1_S")
    m = len(x)
    zero = np.abs(x).max(axis=1) < np.float32(1e-12)
    scale, levels, shift, found = _iq1_best_split(x, weight)
    zero |= ~found
    flip = scale < 0
    levels = np.where(flip[:, None], 2 - levels, levels)
    scale = np.where(flip, -scale, scale)
    shift = np.where(flip, -shift, shift)
    keys = book.key(levels.reshape(m, 4, 8))
    index = book.index_of_key[keys]
    off = index < 0
    if off.any():
        rows = np.nonzero(off)[0]
        index[off] = _iq1_neighbours(
            book, keys[off], x.reshape(m, 4, 8)[off], weight.reshape(m, 4, 8)[off], scale[rows], shift[rows]
        )
        refit = off.any(axis=1)
        q = np.where(
            shift[:, None] > 0,
            IQ1_SHIFTED[1][book.levels[index].reshape(m, 32)],
            IQ1_SHIFTED[-1][book.levels[index].reshape(m, 32)],
        )
        sum_qx = sum_in_order((weight * q) * x, axis=1)
        sum_q2 = sum_in_order((weight * q) * q, axis=1)
        with np.errstate(divide="ignore", invalid="ignore"):
            scale = np.where(refit & (sum_qx > 0) & (sum_q2 > 0), sum_qx / sum_q2, scale)
    shift = np.where(zero, np.int8(1), shift)
    return np.where(zero, np.float32(0), scale), index, shift, zero


def _quantize_iq1_s_blocks(blocks, importance):
    n = len(blocks)
    weight = fit_weights(blocks, importance)
    sub, w = blocks.reshape(-1, 32), weight.reshape(-1, 32)
    chunk = 4096
    parts = [_iq1_s_sub_blocks(sub[i : i + chunk], w[i : i + chunk]) for i in range(0, len(sub), chunk)]
    scale, index, shift, zero = (np.concatenate(p) for p in zip(*parts))
    scale, index, shift, zero = scale.reshape(n, 8), index.reshape(n, 8, 4), shift.reshape(n, 8), zero.reshape(n, 8)
    index = np.where(zero[:, :, None], 0, index)  # nothing written for those
    qh = ((index >> 8) << (3 * np.arange(4))).sum(axis=2)  # 3 high bits per group
    max_scale = c_running_max(scale, zero)
    d = max_scale / np.float32(15)
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        code = np.clip(nearest_int(np.float32(0.5) * ((np.float32(1) / d)[:, None] * scale - np.float32(1))), 0, 7)
    code = code.astype(np.int64) | np.where(shift == -1, 8, 0)
    stored = max_scale != 0
    qh = qh | np.where(stored[:, None], code << 12, 0)
    d_bytes = fp16_to_bytes(np.where(stored, d * np.float32(1.125), np.float32(0)))
    return np.concatenate(
        [d_bytes, (index & 0xFF).astype(np.uint8).reshape(n, 32), qh.astype("<u2").view(np.uint8).reshape(n, 16)],
        axis=1,
    )


def fields_iq1_s(data):
    """Decoded IQ1_S fields: d, 3-bit scales (8), shift sign (8, -1 = down), grid indices (32)."""
    n = len(data)
    qh = data[:, 34:50].copy().view("<u2").astype(np.int32)  # (n, 8)
    high = (qh[:, :, None] >> (3 * np.arange(4))) & 7
    return {
        "d": fp16_from_bytes(data[:, 0:2]),
        "scales": ((qh >> 12) & 7).astype(np.uint8),
        "shift": np.where(qh & 0x8000, -1, 1).astype(np.int8),
        "grid_index": data[:, 2:34].astype(np.int32) | (high.reshape(n, 32) << 8),
    }


def _dequantize_iq1_s_blocks(data):
    f = fields_iq1_s(data)
    n = len(data)
    step = f["d"][:, None] * (np.float32(2) * f["scales"].astype(np.float32) + np.float32(1))
    delta = np.where(f["shift"] < 0, -IQ1S_DELTA, IQ1S_DELTA)
    points = codebook("IQ1_S").values.astype(np.float32)[f["grid_index"]].reshape(n, 8, 32)
    with np.errstate(invalid="ignore", over="ignore"):
        return (step[:, :, None] * (points + delta[:, :, None])).reshape(n, 256)


def quantize_iq1_s(x, imatrix=None):
    """IQ1_S bytes of x, as llama.cpp writes them; an importance vector is required, as in llama.cpp."""
    return quantize_rows(x, imatrix, IQ1_S, _quantize_iq1_s_blocks)


def dequantize_iq1_s(raw):
    """float32 weights from IQ1_S bytes: d (2 scale + 1) * (grid point +- 1/8)."""
    return dequantize_rows(raw, IQ1_S, _dequantize_iq1_s_blocks)


# ----------------------------------------------------------------------------- IQ1_M

IQ1_M = Layout("IQ1_M", block_size=256, fields=(("qs", 32), ("qh", 16), ("scales", 8)), imatrix="optional")
_SPLITS_16 = np.array([(i1, i2) for i1 in range(17) for i2 in range(i1, 17)])
_SHIFT_MASKS = np.array([0x00, 0x80, 0x08, 0x88])  # k = 2 * (first half shifted down) + second half


def _iq1_m_best_split(x, weight):
    """IQ1_M's split search on sub-blocks of 16: like IQ1_S, but each half (8) picks its own shift.

    k = 0..3 encodes the shifts (first half down if k >= 2, second half down if k is odd). The sums
    of every split are added term by term in sorted order, as libgguf's build does (the older
    llama.cpp loop; current llama.cpp uses per-half prefix sums, which round differently and so
    break near-ties, e.g. in constant blocks, another way).
    """
    f32 = np.float32
    m, n = x.shape
    order = np.argsort(x, axis=1, kind="stable")
    xs, ws = np.take_along_axis(x, order, axis=1), np.take_along_axis(weight, order, axis=1)
    # value[run, half, k]: the level a run stands for, shifted per half as k says
    value = np.empty((3, 2, 4), dtype=f32)
    for k in range(4):
        value[:, 0, k] = IQ1_SHIFTED[1 if k < 2 else -1]
        value[:, 1, k] = IQ1_SHIFTED[1 if k % 2 == 0 else -1]
    half = (order >= n // 2).astype(np.intp)  # (m, n) sorted
    v = value[:, half, :].transpose(1, 2, 0, 3)  # (m, n, 3 runs, 4 k)
    wv = ws[:, :, None, None] * v
    terms_qx, terms_q2 = wv * xs[:, :, None, None], wv * v  # (w * v) * x, (w * v) * v
    i1, i2 = _SPLITS_16[:, 0], _SPLITS_16[:, 1]
    position = np.arange(n)
    runs = (position[None, :] >= i1[:, None]).astype(np.intp) + (position[None, :] >= i2[:, None])  # (153, n)
    # every split's sums, each added in sorted order as libgguf's loops do. Cell [i1, i2] of a
    # (17, 17, 4 k, m) table gathers split (i1, i2): at step j, the cells with i1 > j add run 0's
    # term, those with i1 <= j < i2 run 1's, those with i2 <= j run 2's (cells i2 < i1 are unused)
    sums = []
    for terms in (terms_qx, terms_q2):
        terms = np.ascontiguousarray(terms.transpose(1, 2, 3, 0))  # (n, 3 runs, 4 k, m)
        table = np.zeros((n + 1, n + 1, 4, m), dtype=f32)
        for j in range(n):
            table[j + 1 :, j + 1 :] += terms[j, 0]
            table[: j + 1, j + 1 :] += terms[j, 1]
            table[: j + 1, : j + 1] += terms[j, 2]
        sums.append(table[i1, i2].transpose(2, 0, 1).reshape(m, -1))  # (m, 153 splits x 4 k), C's order
    chosen, scale = first_best_fit(sums[0], sums[1], np.abs(x).max(axis=1))
    pick = np.where(chosen >= 0, chosen // 4, -1)
    shifts = np.where(chosen >= 0, chosen % 4, 0)
    found = pick >= 0
    sorted_levels = runs[np.maximum(pick, 0)].astype(np.int8)
    levels = np.empty_like(sorted_levels)
    np.put_along_axis(levels, order, sorted_levels, axis=1)
    return scale, levels, shifts, found


def _iq1_m_group_shifts(k):
    """(m, 2) shift signs of the two groups of 8 from IQ1_M's k: first down if k >= 2, second if odd."""
    return np.stack([np.where(k < 2, 1, -1), np.where(k % 2 == 0, 1, -1)], axis=1)


def _iq1_m_sub_blocks(x, weight):
    book = codebook("IQ1_S")
    m = len(x)
    zero = np.abs(x).max(axis=1) < np.float32(1e-7)
    scale, levels, k, found = _iq1_m_best_split(x, weight)
    zero |= ~found
    flip = scale < 0
    levels = np.where(flip[:, None], 2 - levels, levels)
    scale = np.where(flip, -scale, scale)
    k = np.where(flip, 3 - k, k)
    group_shift = _iq1_m_group_shifts(k)  # (m, 2)
    keys = book.key(levels.reshape(m, 2, 8))
    index = book.index_of_key[keys]
    off = index < 0
    if off.any():
        rows = np.nonzero(off)[0]
        index[off] = _iq1_neighbours(
            book, keys[off], x.reshape(m, 2, 8)[off], weight.reshape(m, 2, 8)[off], scale[rows], group_shift[off]
        )
        point_levels = book.levels[index]  # (m, 2, 8)
        q = np.where(group_shift[:, :, None] > 0, IQ1_SHIFTED[1][point_levels], IQ1_SHIFTED[-1][point_levels]).reshape(
            m, 16
        )
        sum_qx = sum_in_order((weight * q) * x, axis=1)
        sum_q2 = sum_in_order((weight * q) * q, axis=1)
        with np.errstate(divide="ignore", invalid="ignore"):
            scale = np.where(off.any(axis=1) & (sum_qx > 0) & (sum_q2 > 0), sum_qx / sum_q2, scale)
    k = np.where(zero, 0, k)
    return np.where(zero, np.float32(0), scale), np.where(zero[:, None], 0, index), k, zero


def _quantize_iq1_m_blocks(blocks, importance=None):
    f32 = np.float32
    n = len(blocks)
    weight = fit_weights(blocks, importance)
    sub, w = blocks.reshape(-1, 16), weight.reshape(-1, 16)
    chunk = 4096
    parts = [_iq1_m_sub_blocks(sub[i : i + chunk], w[i : i + chunk]) for i in range(0, len(sub), chunk)]
    scale, index, k, zero = (np.concatenate(p) for p in zip(*parts))
    scale, index, k, zero = scale.reshape(n, 16), index.reshape(n, 16, 2), k.reshape(n, 16), zero.reshape(n, 16)
    qs = (index & 0xFF).astype(np.uint8).reshape(n, 32)
    qh = (index[:, :, 0] >> 8) | ((index[:, :, 1] >> 8) << 4)
    max_scale = c_running_max(scale, zero)
    stored = max_scale != 0
    d = max_scale / f32(15)
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        code = np.clip(nearest_int(f32(0.5) * ((f32(1) / d)[:, None] * scale - f32(1))), 0, 7)
        qh = qh | np.where(stored[:, None], _SHIFT_MASKS[k], 0)
        # refit d over the whole super-block with the stored codes and points (zero sub-blocks too)
        group_shift = _iq1_m_group_shifts(k.reshape(-1)).reshape(n, 16, 2)
        point_levels = codebook("IQ1_S").levels[index]  # (n, 16, 2, 8)
        q = np.where(group_shift[..., None] > 0, IQ1_SHIFTED[1][point_levels], IQ1_SHIFTED[-1][point_levels])
        q = (q * (f32(2) * code[:, :, None, None] + f32(1))).reshape(n, 256)
        sum_qx = sum_in_order((weight * q) * blocks, axis=1)
        sum_q2 = sum_in_order((weight * q) * q, axis=1)
        d = np.where(sum_q2 > 0, sum_qx / sum_q2, d)
    d_bits = fp16_to_bytes(d * f32(1.1125)).view("<u2")[:, 0].astype(np.int64)
    code = code.astype(np.int64)
    sc = (code.reshape(n, 4, 4) << (3 * np.arange(4))).sum(axis=2)  # (n, 4) uint16 words
    sc = sc | ((d_bits[:, None] >> (4 * np.arange(4))) & 0xF) << 12  # d's 4 nibbles on top
    sc = np.where(stored[:, None], sc, 0)
    return np.concatenate([qs, qh.astype(np.uint8), sc.astype("<u2").view(np.uint8).reshape(n, 8)], axis=1)


def fields_iq1_m(data):
    """Decoded IQ1_M fields: d (assembled from 4 nibbles), 3-bit scales (16), shift signs (32), grid indices (32)."""
    n = len(data)
    sc = data[:, 48:56].copy().view("<u2").astype(np.int64)  # (n, 4)
    d_bits = ((sc >> 12) << (4 * np.arange(4))).sum(axis=1).astype("<u2")
    qh = data[:, 32:48].astype(np.int64)
    high = np.stack([qh & 7, (qh >> 4) & 7], axis=2).reshape(n, 32)
    down = np.stack([qh & 0x08, qh & 0x80], axis=2).reshape(n, 32) != 0
    return {
        "d": d_bits.view("<f2").astype(np.float32),
        "scales": ((sc[:, :, None] >> (3 * np.arange(4))) & 7).reshape(n, 16).astype(np.uint8),
        "shift": np.where(down, -1, 1).astype(np.int8),
        "grid_index": (data[:, :32].astype(np.int64) | (high << 8)).astype(np.int32),
    }


def _dequantize_iq1_m_blocks(data):
    f = fields_iq1_m(data)
    n = len(data)
    step = f["d"][:, None] * (np.float32(2) * f["scales"].astype(np.float32) + np.float32(1))  # (n, 16)
    delta = np.where(f["shift"] < 0, -IQ1S_DELTA, IQ1S_DELTA).reshape(n, 16, 2, 1)
    points = codebook("IQ1_S").values.astype(np.float32)[f["grid_index"]].reshape(n, 16, 2, 8)
    with np.errstate(invalid="ignore", over="ignore"):
        return (step[:, :, None, None] * (points + delta)).reshape(n, 256)


def quantize_iq1_m(x, imatrix=None):
    """IQ1_M bytes of x, as llama.cpp writes them, with or without an importance vector."""
    return quantize_rows(x, imatrix, IQ1_M, _quantize_iq1_m_blocks)


def dequantize_iq1_m(raw):
    """float32 weights from IQ1_M bytes: d (2 scale + 1) * (grid point +- 1/8)."""
    return dequantize_rows(raw, IQ1_M, _dequantize_iq1_m_blocks)

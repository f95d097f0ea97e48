"""What each non-uniform grid costs and buys on the same weights: the numbers behind the codebook explorer.

`summarize_grids` scores uniform, k-means (at any Lloyd step), NF and IQ4_NL grids on one setting and
keeps the levels of one block to draw; `sweep_grids` scores many settings for a bits-per-weight vs
MSE (Pareto) picture. Plain data only: the widgets draw it, the tests check it.
"""

from dataclasses import dataclass

import numpy as np

from . import codebook
from ._validate import as_float_array, check_bits
from .data import gaussian
from .floats import round_to_format
from .metrics import mse as mean_squared_error
from .uniform import quantize as quantize_uniform

GRIDS = ("uniform", "k-means", "NF", "IQ4_NL")  # families, in drawing order
STARTS = ("uniform", "quantile", "cube-root")  # where Lloyd's algorithm may start


def uniform_start(blocks, k):
    """k evenly spaced levels from each block's min to its max: Lloyd's algorithm started from a uniform grid."""
    return np.linspace(blocks.min(axis=1), blocks.max(axis=1), k, axis=1)


def learn_codebook(w, bits=4, group_size=None, start="cube-root"):
    """k = 2^bits levels per block (or per tensor) by Lloyd's algorithm, with its whole history.

    `start`: "cube-root" (starts near the optimum; usually, not always, fewer steps: compare_starts),
    "quantile" (levels where the weights are) or
    "uniform" (the evenly spaced grid, so the learner watches levels drift into the bulk).
    """
    w = as_float_array(w, "w")
    bits = check_bits(bits, low=1, high=8)
    if start not in STARTS:
        raise ValueError(f"start={start!r} is not known; choose one of {', '.join(map(repr, STARTS))}")
    init = start
    if start == "uniform":
        init = uniform_start(codebook._blocks(w, group_size), 2**bits)
    return codebook.kmeans(w, 2**bits, group_size, init=init)


def compare_starts(bits=3, group_size=None, seeds=range(20), n=4096, std=0.02):
    """Lloyd's algorithm from each start on gaussian weights, per seed: steps to converge, MSE / var(w) at start and end.

    Returns {start: {"steps": (n_seeds,), "first": (n_seeds,), "last": (n_seeds,)}}: does the start that
    begins lower also stop sooner, and lower? (Measured, per seed: not always.)
    """
    seeds = list(seeds)
    if not seeds:
        raise ValueError("seeds is empty; pass e.g. range(20)")
    rows = {start: {"steps": [], "first": [], "last": []} for start in STARTS}
    for seed in seeds:
        w = gaussian(n, std=std, seed=seed)
        variance = w.astype(np.float64).var()
        for start in STARTS:
            learnt = learn_codebook(w, bits, group_size, start)
            rows[start]["steps"].append(learnt.n_iterations)
            rows[start]["first"].append(learnt.mse_history[0] / variance)
            rows[start]["last"].append(learnt.mse_history[learnt.n_iterations] / variance)
    return {start: {key: np.array(values) for key, values in row.items()} for start, row in rows.items()}


def starts_text(rows):
    """Text: per start, the median (and range) of the steps to converge and the mean MSE / var(w) at start and end."""
    n_seeds = len(next(iter(rows.values()))["steps"])
    lines = [f"start      steps: median (min-max) over {n_seeds} seeds   MSE/var(w) first -> last (mean)"]
    for start, row in rows.items():
        steps = row["steps"]
        lines.append(
            f"{start:<10} {np.median(steps):6.1f} ({steps.min()}-{steps.max()}){'':<20}"
            f"{row['first'].mean():.4f} -> {row['last'].mean():.4f}"
        )
    return "\n".join(lines)


def check_iteration(iteration, learnt):
    """A Lloyd step of this k-means run (0 .. its last); None means the last."""
    if iteration is None:
        return learnt.n_iterations
    if isinstance(iteration, bool) or not isinstance(iteration, (int, np.integer)) or iteration < 0:
        raise ValueError(
            f"iteration={iteration!r} must be a Lloyd step from 0 to {learnt.n_iterations}, or None for the last"
        )
    if iteration > learnt.n_iterations:
        done = "converged" if learnt.converged else "stopped"
        raise ValueError(
            f"iteration={iteration} is past the end: Lloyd's algorithm {done} after {learnt.n_iterations} steps "
            f"at these settings; choose 0..{learnt.n_iterations}, or None for the last"
        )
    return int(iteration)


def kmeans_at_step(w, learnt, iteration=None):
    """The codebook after `iteration` Lloyd steps, stored at fp16, and the MSE of every weight on its nearest level.

    fp16 because that is how a codebook is stored and counted; at the last step this is the k-means
    row of codebook.compare_grids.
    """
    w = as_float_array(w, "w")
    iteration = check_iteration(iteration, learnt)
    blocks = codebook._blocks(w, learnt.group_size if learnt.codebook.shape[0] > 1 else None)
    stored = round_to_format(learnt.history[iteration], "fp16").astype(np.float64)
    if not np.isfinite(stored).all():
        raise ValueError("a k-means level overflows fp16 (max 65504); rescale the weights")
    codes = codebook.nearest_codes(blocks, stored)
    w_hat = np.take_along_axis(stored, codes, axis=1).reshape(w.shape)
    return stored, mean_squared_error(w, w_hat)


def format_relative(value):
    """A relative error for reading: 4 decimals, or 2 significant digits below 0.001 (0.0081, 4.3e-04)."""
    return f"{value:.4f}" if value >= 1e-3 or value == 0 else f"{value:.1e}"


@dataclass(frozen=True)
class GridSummary:
    """Four grids on the same weights and blocks: scores, and the levels of one block to draw."""

    weights: np.ndarray
    bits: int
    group_size: int | None  # None: one grid for the whole tensor
    n_blocks: int
    block: int  # the block whose levels are kept: the one holding the largest |w|
    block_weights: np.ndarray
    levels: dict  # grid name -> ascending levels of that block, in weight units
    scores: tuple  # codebook.GridScore per grid, in GRIDS order; k-means at `iteration`
    start: str
    iteration: int
    n_iterations: int
    converged: bool

    @property
    def variance(self):
        return float(np.var(self.weights.astype(np.float64)))

    def text(self):
        """The key numbers as a short block of text (printed beside the figure)."""
        variance = self.variance or 1.0
        lines = ["grid     bits/w  MSE/var(w)"]
        for score in self.scores:
            lines.append(f"{score.name:<8}{score.bits_per_weight:>7.3f}  {format_relative(score.mse / variance)}")
        k = 2**self.bits
        where = "tensor" if self.group_size is None else f"block of {self.group_size}"
        state = (
            f"converged at step {self.n_iterations}" if self.converged else f"stopped after {self.n_iterations} steps"
        )
        lines += [
            f"var(w) = {self.variance:.3e}",
            f"Lloyd step {self.iteration} (start: {self.start})",
            f"  {state}",
            f"k-means stores {k} fp16 levels",
            f"  per {where}",
            "levels drawn: "
            + ("the tensor's" if self.group_size is None else f"block {self.block} of {self.n_blocks}"),
        ]
        if self.bits != 4:
            lines.append(f"NF{self.bits}: NF4's recipe, unpublished")
        return "\n".join(lines)


def _largest_block(w, group_size):
    if group_size is None:
        return 0, 1
    return int(np.argmax(np.abs(w)) // group_size), w.size // group_size


def summarize_grids(w, bits=4, group_size=None, iteration=None, start="cube-root", learnt=None):
    """Score uniform, k-means (after `iteration` Lloyd steps; None: the last), NF{bits} and IQ4_NL on 1-D weights.

    The same rules as codebook.compare_grids (which it equals at the last step from the cube-root
    start). Pass `learnt` (from learn_codebook with the same bits, group_size and start) to reuse a
    k-means run: stepping through its history is then cheap.
    """
    w = as_float_array(w, "w")
    if w.ndim != 1:
        raise ValueError(f"w must be a 1-D vector of weights, got shape {w.shape}; pass one row or w.ravel()")
    bits = check_bits(bits, low=2, high=8)
    if learnt is None:
        learnt = learn_codebook(w, bits, group_size, start)
    expected_group = w.size if group_size is None else group_size
    if learnt.k != 2**bits or learnt.group_size != expected_group:
        raise ValueError(
            f"learnt has k={learnt.k} levels in blocks of {learnt.group_size}, but bits={bits}, group_size={group_size} "
            f"need k={2**bits} in blocks of {expected_group}; pass learn_codebook(w, {bits}, {group_size}, {start!r})"
        )
    iteration = check_iteration(iteration, learnt)
    block, n_blocks = _largest_block(w, group_size)

    uniform = quantize_uniform(w, bits, "asymmetric", group_size=group_size, scale_dtype="float16")
    stored_codebook, kmeans_mse = kmeans_at_step(w, learnt, iteration)
    normal_float = codebook.quantize_normal_float(w, group_size, bits)
    iq4_nl = codebook.quantize_iq4_nl_table(w, group_size)

    levels = {
        "uniform": np.sort(uniform.levels().reshape(n_blocks, -1)[block]),
        "k-means": stored_codebook[block],
        normal_float.name: np.sort(normal_float.levels * normal_float.scale[block]),
        "IQ4_NL": np.sort(iq4_nl.levels * iq4_nl.scale[block]),
    }
    scores = (
        codebook.GridScore("uniform", bits, uniform.bits_per_weight, mean_squared_error(w, uniform.dequantize())),
        codebook.GridScore("k-means", bits, learnt.bits_per_weight, kmeans_mse),
        codebook.GridScore(
            normal_float.name, bits, normal_float.bits_per_weight, mean_squared_error(w, normal_float.dequantize())
        ),
        codebook.GridScore("IQ4_NL", 4, iq4_nl.bits_per_weight, mean_squared_error(w, iq4_nl.dequantize())),
    )
    return GridSummary(
        weights=w,
        bits=bits,
        group_size=group_size,
        n_blocks=n_blocks,
        block=block,
        block_weights=w.reshape(n_blocks, -1)[block],
        levels=levels,
        scores=scores,
        start=start,
        iteration=iteration,
        n_iterations=learnt.n_iterations,
        converged=learnt.converged,
    )


def sweep_grids(w, bits=(2, 3, 4, 5), block_sizes=(None, 256, 64, 32)):
    """codebook.compare_grids over every (bits, block size): points for an MSE vs bits-per-weight picture.

    Each point is a dict with 'grid' (a family in GRIDS), 'name', 'bits', 'group_size', 'label',
    'bits_per_weight' and 'mse'. IQ4_NL is always 4 bits, so it appears once per block size.
    Settings that cannot run on `w` (a block size that does not divide it, more levels than weights
    per block) are skipped.

    Each block's weights are sorted first. Every grid here treats a block as a set of numbers, so
    the scores are the same up to rounding in the sums (one exception: a block whose largest |w|
    occurs with both signs may pick the other sign for IQ4_NL's scale), and Lloyd's algorithm runs
    about twice as fast on sorted blocks, which keeps the explorer live when the weights change.
    """
    w = as_float_array(w, "w").ravel()
    points = []
    for group_size in block_sizes:
        per_block = w.size if group_size is None else group_size
        if w.size % per_block:
            continue
        sorted_blocks = np.sort(w.reshape(-1, per_block), axis=1).ravel()
        for b in bits:
            if 2**b > per_block:
                continue
            for score in codebook.compare_grids(sorted_blocks, b, group_size):
                grid = "NF" if score.name.startswith("NF") else score.name
                if grid == "IQ4_NL" and any(p["grid"] == "IQ4_NL" and p["group_size"] == group_size for p in points):
                    continue
                where = "per tensor" if group_size is None else f"block {group_size}"
                points.append(
                    {"grid": grid, "name": score.name, "bits": score.bits, "group_size": group_size, "label": f"{score.name} {where}",
                     "bits_per_weight": score.bits_per_weight, "mse": score.mse}
                )  # fmt: skip
    return points


def best_within_budget(points, budget):
    """For each grid family, the point with the lowest MSE among those storing at most `budget` bits per weight."""
    best = {}
    for point in points:
        if point["bits_per_weight"] <= budget + 1e-9 and (
            point["grid"] not in best or point["mse"] < best[point["grid"]]["mse"]
        ):
            best[point["grid"]] = point
    return {grid: best.get(grid) for grid in GRIDS}


def budget_table(points, budgets, variance):
    """Text table: for each bits-per-weight budget, the lowest MSE / var(w) each grid family reaches, and how.

    A cell reads `0.0081 @4.31 (4b, 64)`: relative MSE, bits per weight, then bits per code and block
    size ('T' for one grid per tensor). '-' means no setting of that grid fits the budget.
    """

    def cell(point):
        if point is None:
            return "-"
        block = "T" if point["group_size"] is None else point["group_size"]
        return f"{format_relative(point['mse'] / variance)} @{point['bits_per_weight']:.2f} ({point['bits']}b, {block})"

    lines = ["bits/w <=  " + "".join(f"{grid:<24}" for grid in GRIDS)]
    for budget in budgets:
        best = best_within_budget(points, budget)
        lines.append(f"{budget:<11g}" + "".join(f"{cell(best[grid]):<24}" for grid in GRIDS))
    return "\n".join(line.rstrip() for line in lines)


def budget_report(w, label, budgets=(2.5, 3.5, 4.25, 4.5)):
    """Text: a row's largest |w| and std, then budget_table of every grid family swept over it."""
    variance = np.asarray(w, np.float64).var()
    table = budget_table(sweep_grids(w), budgets, variance)
    return f"{label}: largest |w| {np.abs(w).max():.2f}, std {w.std():.3f}; MSE / var(w):\n{table}"

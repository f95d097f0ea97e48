"""GPTQ (Frantar et al. 2022): round one column at a time and push its error into the columns left.

For a linear layer W (out x in) and calibration inputs X (in x tokens), GPTQ minimizes the output
error ||W X - W_hat X||^2 row by row. Its Hessian is H = 2 X X^T / n_tokens (in x in; the mean
over tokens: the scale cancels out of everything below). Column by column (paper, Algorithm 1):

    q_j   = round(w_j) on the grid of its group                 (one column, all rows at once)
    err_j = (w_j - q_j) / U_jj
    w_k  -= err_j * U_jk   for every column k > j               (the optimal-brain-surgeon update)

where U is the upper Cholesky factor of H^-1 (H^-1 = U^T U). Row i of U is what the inverse
Hessian of the columns still to quantize says about column i, computed once for all steps.
Details, as in the paper and IST-DASLab/gptq (gptq.py, fasterquant):
- dead columns: an input feature that is always 0 has diag H = 0; its weights are set to 0 and
  its diagonal to 1 (it cannot matter);
- dampening: percdamp * mean(diag H) is added to the diagonal (default 1 %), so that H is safely
  positive definite when X X^T is (nearly) singular: fewer tokens than features, or collinear ones;
- lazy blocks: the updates of a block of `block_size` columns are applied to the later columns in
  one matrix product at the end of the block (same numbers, fewer passes over memory);
- groups: with group_size g, each run of g columns gets its own grid, fitted when its first column
  comes up, on the weights as updated by then; static_groups fits every group's grid up front on
  the original weights (needed with act_order to keep contiguous groups);
- act_order: columns go in order of decreasing diag H (the most active inputs first, while many
  columns remain to absorb their error); the permutation is undone at the end.
Two departures from the reference, both deliberate: dead columns are zeroed before any grid is
fitted (the reference fits its per-row grid first), and lazy blocks also break at group starts so
that a group's grid always sees every update made before it (the reference fits a group starting
inside a block on weights that miss that block's pending updates). Then the blocked algorithm is
exactly the sequential one (gptq_reference, tested equal).
The grid is quantlab.uniform's: symmetric or asymmetric, `bits`, one scale per row and group.

Fewer calibration tokens than input features is a warning, not an error: H is then singular and
only dampening makes it invertible, which works (the reference runs) but fits those few tokens.
A Cholesky failure (possible only with percdamp = 0 or a badly scaled H) is an error that says so.
"""

import dataclasses
import warnings
from dataclasses import dataclass

import numpy as np
import scipy.linalg

from .. import uniform
from .._validate import check_bits, check_group_size
from .base import as_inputs, as_weight


class Hessian:
    """H = 2 X X^T / n_tokens of one layer, accumulated over batches of calibration inputs.

        hessian = Hessian(in_features)
        for batch in batches: hessian.update(batch)        # (n_tokens, in_features)
    The reference keeps the running mean the same way (H *= n / (n + m), then adds 2/(n + m) X X^T).
    """

    def __init__(self, in_features):
        if isinstance(in_features, bool) or not isinstance(in_features, (int, np.integer)) or in_features < 1:
            raise ValueError(f"in_features={in_features!r} must be a positive integer")
        self.matrix = np.zeros((int(in_features), int(in_features)))
        self.n_tokens = 0

    @classmethod
    def from_inputs(cls, inputs):
        """The Hessian of calibration inputs (n_tokens, in_features), in one batch."""
        inputs = as_inputs(inputs)
        hessian = cls(inputs.shape[1])
        hessian.update(inputs)
        return hessian

    @classmethod
    def from_matrix(cls, matrix, n_tokens=None):
        """Wrap a given symmetric H (in x in), e.g. a diagonal one to compare with round-to-nearest."""
        matrix = as_weight(matrix, "matrix")
        if matrix.shape[0] != matrix.shape[1] or not np.allclose(matrix, matrix.T, rtol=1e-10, atol=0):
            raise ValueError(f"matrix has shape {matrix.shape} and must be a symmetric square H = 2 X X^T / n")
        hessian = cls(matrix.shape[0])
        hessian.matrix = matrix.copy()
        hessian.n_tokens = n_tokens
        return hessian

    def update(self, inputs):
        """Fold a batch (n_tokens, in_features) into the running mean of 2 x x^T."""
        batch = as_inputs(inputs, len(self.matrix))
        total = self.n_tokens + len(batch)
        self.matrix *= self.n_tokens / total
        self.matrix += (2.0 / total) * (batch.T @ batch)
        self.n_tokens = total
        return self


@dataclass(frozen=True)
class GPTQResult:
    """What GPTQ returns: the quantized weight, its codes and grids, and what happened on the way.

    weight: W_hat (out x in), dequantized, in the original column order.
    codes: integer codes (out x in), original column order; scale, zero_point: (out x n_groups)
        (zero_point None for symmetric grids); group_index: (in,) the group of each column (g_idx).
    order: the order in which columns were quantized (act_order's permutation, else 0..in-1).
    column_loss: (in,) the reference's Losses summed over rows, sum_i (w_ij - q_ij)^2 / (2 U_jj^2):
        the output-error increase each column's rounding caused, as GPTQ estimates it.
    dead: (in,) bool, input features with diag H = 0 (their weights were set to 0).
    damp: the value added to H's diagonal.
    """

    weight: np.ndarray
    codes: np.ndarray
    scale: np.ndarray
    zero_point: np.ndarray | None
    group_index: np.ndarray
    order: np.ndarray
    column_loss: np.ndarray
    dead: np.ndarray
    damp: float


# ---------------------------------------------------------------- grids


def fit_grid(columns, bits, scheme, **grid_options):
    """One quantlab.uniform grid per row for a run of columns (out x g): scale (and zero point) per row."""
    return uniform.quantize(columns, bits, scheme, axis=1, **grid_options)


def round_column(grid, column):
    """Round one column (out,) onto a per-row grid from fit_grid: its codes and the values they stand for.

    The grid's own requantize/dequantize, on a one-column view of it: rounding is uniform's exactly.
    """
    one_column = dataclasses.replace(grid, codes=grid.codes[:, :1], group_size=1)
    codes = one_column.requantize(column[:, None])
    return codes[:, 0], dataclasses.replace(one_column, codes=codes).dequantize()[:, 0]


def _grid_fields(grid):
    zero = None if grid.zero_point is None else grid.zero_point[:, 0]
    return grid.scale[:, 0], zero


# ---------------------------------------------------------------- shared preparation


def _check_options(weight, hessian, bits, group_size, block_size, percdamp):
    if not isinstance(hessian, Hessian):
        raise TypeError(
            f"hessian must be a quantlab.calibration.gptq.Hessian (Hessian.from_inputs(inputs)), "
            f"got {type(hessian).__name__}"
        )
    weight = as_weight(weight)
    if hessian.matrix.shape != (weight.shape[1],) * 2:
        raise ValueError(
            f"the Hessian is {hessian.matrix.shape} but the weight has {weight.shape[1]} input "
            f"features (columns); collect H from the inputs of this layer"
        )
    if not np.isfinite(hessian.matrix).all():
        raise ValueError("the Hessian contains NaN or inf; check the calibration inputs")
    check_bits(bits)
    if group_size is not None:
        check_group_size(group_size, weight.shape[1], 1)
    if isinstance(block_size, bool) or not isinstance(block_size, (int, np.integer)) or block_size < 1:
        raise ValueError(f"block_size={block_size!r} must be a positive integer (the reference uses 128)")
    if not (isinstance(percdamp, (int, float, np.floating)) and 0 <= percdamp < np.inf):
        raise ValueError(f"percdamp={percdamp!r} must be a number >= 0 (the reference's default is 0.01)")
    n, width = hessian.n_tokens, weight.shape[1]
    if n is not None and n < width:
        warnings.warn(
            f"{n} calibration tokens for {width} input features: H = 2XX^T/n has rank <= {n} < "
            f"{width}, singular; only dampening (percdamp={percdamp}) makes it invertible, and GPTQ "
            f"will fit these few tokens rather than the layer's typical inputs. Use at least "
            f"{width} tokens (the paper: 128 sequences of 2048).",
            UserWarning,
            stacklevel=3,
        )
    return weight


def _prepare(weight, hessian, percdamp):
    """Dead columns zeroed (diag 1), dampening added: returns W, damped H, dead mask, damp."""
    weight = weight.copy()
    matrix = hessian.matrix.copy()
    dead = np.diag(matrix) == 0
    matrix[dead, dead] = 1
    weight[:, dead] = 0
    damp = percdamp * float(np.mean(np.diag(matrix)))
    matrix[np.diag_indices_from(matrix)] += damp
    return weight, matrix, dead, damp


def _cholesky(matrix, percdamp):
    try:
        return np.linalg.cholesky(matrix)
    except np.linalg.LinAlgError:
        raise ValueError(
            f"H is not positive definite even after dampening (percdamp={percdamp} of mean diag H added "
            f"to the diagonal), so its Cholesky factorization fails. H = 2XX^T/n is only positive "
            f"semi-definite: singular when there are fewer calibration tokens than input features or "
            f"when features are collinear (duplicated, constant), and rounding can then make it slightly "
            f"indefinite. Dampening adds a multiple of the identity to fix that: raise percdamp (e.g. 0.1), "
            f"or give more, more varied calibration tokens."
        ) from None


def inverse_cholesky_upper(matrix, percdamp=None):
    """U, upper triangular, with H^-1 = U^T U: from ONE Cholesky factorization and a triangular inverse.

    The reference factors H, inverts, and factors H^-1 again. Reversing the order of the columns
    (J, the exchange matrix) gives the same U at half the cost: if J H J = L L^T, then
    H^-1 = J L^-T L^-1 J = (J L^-1 J)^T (J L^-1 J), and J L^-1 J is upper triangular.
    Row j of U is the inverse Hessian of the columns j.. (not yet quantized when j comes up) over
    the square root of its first entry: what GPTQ needs at step j, all computed up front.
    """
    lower = _cholesky(matrix[::-1, ::-1], percdamp)
    inverse = scipy.linalg.solve_triangular(lower, np.eye(len(matrix)), lower=True)
    return inverse[::-1, ::-1].copy()


def _order(matrix, act_order):
    """Processing order: decreasing diag H with act_order (stable on ties), else left to right."""
    width = len(matrix)
    return np.argsort(-np.diag(matrix), kind="stable") if act_order else np.arange(width)


class _Run:
    """One GPTQ run's shared state: the prepared W and H in processing order, the grids, the records.

    Each formulation (blocked, sequential reference, step by step) differs only in how it updates
    the weights; choosing and fitting grids and assembling the result are the same for all three.
    """

    def __init__(
        self, weight, hessian, bits, scheme, group_size, act_order, static_groups, percdamp, block_size, grid_options
    ):
        weight = _check_options(weight, hessian, bits, group_size, block_size, percdamp)
        self.width = weight.shape[1]
        weight, matrix, self.dead, self.damp = _prepare(weight, hessian, percdamp)
        self.bits, self.scheme, self.grid_options, self.percdamp = bits, scheme, grid_options, percdamp
        self.group = self.width if group_size is None else group_size
        self.static = (
            [
                fit_grid(weight[:, s : s + self.group], bits, scheme, **grid_options)
                for s in range(0, self.width, self.group)
            ]
            if static_groups
            else None
        )
        self.order = _order(matrix, act_order)
        self.weight, self.matrix = weight[:, self.order], matrix[np.ix_(self.order, self.order)]
        self.quantized = np.zeros_like(self.weight)
        self.codes = np.zeros(self.weight.shape, dtype=np.int64)
        self.loss, self.group_of = np.zeros(self.width), np.zeros(self.width, dtype=np.int64)
        self.grids, self.grid = list(self.static or []), None

    def starts_group(self, position):
        """Whether a dynamic group starts here (its grid must be fitted on the weights as they are now)."""
        return self.static is None and position % self.group == 0

    def round(self, position, column, current_group=None):
        """Round `column` (the weights of column `position`, as updated so far) on its group's grid.

        current_group: the up-to-date weights of the group that starts here (only when it starts).
        Returns the rounded column; records codes and values.
        """
        if self.static is not None:
            self.grid = self.static[self.order[position] // self.group]
            self.group_of[position] = self.order[position] // self.group
        else:
            if current_group is not None:
                self.grid = fit_grid(current_group, self.bits, self.scheme, **self.grid_options)
                self.grids.append(self.grid)
            self.group_of[position] = len(self.grids) - 1
        self.codes[:, position], self.quantized[:, position] = round_column(self.grid, column)
        return self.quantized[:, position]

    def result(self):
        inverse = np.argsort(self.order)
        fields = [_grid_fields(grid) for grid in self.grids]
        return GPTQResult(
            weight=self.quantized[:, inverse],
            codes=self.codes[:, inverse],
            scale=np.stack([scale for scale, _ in fields], axis=1),
            zero_point=None
            if self.scheme == "symmetric"
            else np.stack([zero for _, zero in fields], axis=1).astype(np.int32),
            group_index=self.group_of[inverse],
            order=self.order,
            column_loss=self.loss[inverse],
            dead=self.dead,
            damp=self.damp,
        )


# ---------------------------------------------------------------- GPTQ, blocked


def gptq(
    weight,
    hessian,
    bits=4,
    scheme="asymmetric",
    group_size=None,
    act_order=False,
    static_groups=False,
    percdamp=0.01,
    block_size=128,
    **grid_options,
):
    """Quantize a linear layer's weight (out x in) with GPTQ, given its Hessian (Hessian.from_inputs).

    bits, scheme, group_size and grid_options (symmetric_range, clip_ratio, scale_dtype) describe
    the quantlab.uniform grid: one per row without groups, one per row and group of columns with.
    scheme defaults to asymmetric, as in the reference (its --sym is opt-in). Returns a GPTQResult.
    """
    run = _Run(weight, hessian, bits, scheme, group_size, act_order, static_groups, percdamp, block_size, grid_options)
    weight, width = run.weight, run.width
    upper = inverse_cholesky_upper(run.matrix, percdamp)
    # Block boundaries: every block_size columns, and at every group start (see the module
    # docstring), so that a group's first column is a block's first: weight[:, j:] is up to date.
    starts = sorted(set(range(0, width, block_size)) | set(range(0, width, run.group)))
    for start, stop in zip(starts, starts[1:] + [width]):
        block = weight[:, start:stop].copy()
        errors = np.zeros_like(block)
        for i, j in enumerate(range(start, stop)):
            current_group = weight[:, j : j + run.group] if run.starts_group(j) else None
            rounded = run.round(j, block[:, i], current_group)
            error = (block[:, i] - rounded) / upper[j, j]
            run.loss[j] = float(np.sum(error**2)) / 2
            block[:, i:] -= np.outer(error, upper[j, j:stop])
            errors[:, i] = error
        weight[:, stop:] -= errors @ upper[start:stop, stop:]  # the block's lazy update
    return run.result()


# ---------------------------------------------------------------- GPTQ, the slow and obvious way


def gptq_reference(
    weight,
    hessian,
    bits=4,
    scheme="asymmetric",
    group_size=None,
    act_order=False,
    static_groups=False,
    percdamp=0.01,
    **grid_options,
):
    """GPTQ written plainly, for tests: sequential optimal-brain-surgeon steps with an explicit inverse.

    For each column j in turn, with F the columns not yet quantized (j included):
        Hinv = inverse(H[F, F])                              (recomputed every step: slow, obvious)
        q_j = round(w_j);  w_F -= (w_j - q_j) / Hinv[j, j] * Hinv[j, :]
    then j leaves F. Groups fit their grid on the current weights when their first column comes up.
    """
    run = _Run(weight, hessian, bits, scheme, group_size, act_order, static_groups, percdamp, 1, grid_options)
    weight, width = run.weight, run.width
    for j in range(width):
        rounded = run.round(j, weight[:, j], weight[:, j : j + run.group] if run.starts_group(j) else None)
        remaining = np.arange(j, width)
        inverse = np.linalg.inv(run.matrix[np.ix_(remaining, remaining)])
        run.loss[j] = float(np.sum((weight[:, j] - rounded) ** 2 / inverse[0, 0])) / 2
        weight[:, remaining] -= np.outer((weight[:, j] - rounded) / inverse[0, 0], inverse[0, :])
    return run.result()


# ---------------------------------------------------------------- GPTQ, one column at a time


@dataclass(frozen=True)
class GPTQStep:
    """One column's step, for watching GPTQ work (all in the original column order).

    column: which input column was rounded (step k rounds column order[k]).
    before: the weights (out x in) just before the step: columns done so far hold their rounded
        values, the others their values as updated so far. after: the same just after it.
    rounded: the column's new values (out,); error: (w_j - q_j) per row.
    update: how the step moves every column not yet rounded, after - before (0 elsewhere).
    loss: GPTQ's estimate of the output-error increase of this step (as column_loss).
    """

    step: int
    column: int
    before: np.ndarray
    after: np.ndarray
    rounded: np.ndarray
    error: np.ndarray
    update: np.ndarray
    loss: float


def steps(
    weight,
    hessian,
    bits=4,
    scheme="asymmetric",
    group_size=None,
    act_order=False,
    static_groups=False,
    percdamp=0.01,
    **grid_options,
):
    """GPTQ one column at a time: yields a GPTQStep per column (the same numbers as gptq()).

    For small layers (each step copies the whole weight): a slider over columns in a notebook.
    """
    run = _Run(weight, hessian, bits, scheme, group_size, act_order, static_groups, percdamp, 1, grid_options)
    weight, width, inverse_order = run.weight, run.width, np.argsort(run.order)
    upper = inverse_cholesky_upper(run.matrix, percdamp)
    for j in range(width):
        before = weight.copy()
        original = weight[:, j].copy()
        rounded = run.round(j, original, weight[:, j : j + run.group] if run.starts_group(j) else None)
        error = (original - rounded) / upper[j, j]
        run.loss[j] = float(np.sum(error**2)) / 2
        weight[:, j:] -= np.outer(error, upper[j, j:])
        weight[:, j] = rounded
        yield GPTQStep(
            step=j,
            column=int(run.order[j]),
            before=before[:, inverse_order],
            after=weight[:, inverse_order].copy(),
            rounded=rounded.copy(),
            error=original - rounded,
            update=(weight - before)[:, inverse_order] * (inverse_order > j)[None, :],
            loss=run.loss[j],
        )

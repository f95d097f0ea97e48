"""What the importance matrix changes inside one K-quant block of a real layer: levels, codes, errors.

For a layer W (out x in) and its imatrix v (in,), every row is cut into super-blocks of 256 weights;
llama.cpp's search picks each block's scales (and mins) to minimise a weighted squared error. Without
an imatrix the weights of that search come from the weights themselves; with one, column j's weight
is v_j times a type-dependent factor (quantlab.ggml.weighted). ImatrixBlocks quantizes the whole layer
both ways once (quantlab.ggml, byte-identical to llama.cpp) and hands out one block at a time:

    plain error    = sum_j (w_j - q_j)^2          the weight error itself
    weighted error = sum_j v_j (w_j - q_j)^2      the imatrix's yardstick: this block's share of the
                                                  layer's output error per token, H kept diagonal
(Without an imatrix the searches weigh each weight by a function of the weights themselves, such as
|w| or w^2, not by 1: so the imatrix can lower both errors, and usually lowers the weighted one more.)
"""

from dataclasses import dataclass

import numpy as np

from ..ggml import FORMATS, quantize
from ..ggml.anatomy import sub_block_grids
from .base import as_weight

TYPES = ("Q4_K", "Q3_K", "Q2_K")


@dataclass(frozen=True)
class BlockView:
    """One super-block quantized without (index 0) and with (index 1) the imatrix.

    columns (256,): the input columns of the block; weights, importance (256,);
    quantized (2, 256): the dequantized weights; codes (2, 256): the stored codes; levels
    (2, n_sub_blocks, n_codes): every value a sub-block's grid can represent; sub_block_size.
    """

    type_name: str
    block: int
    row: int
    columns: np.ndarray
    weights: np.ndarray
    importance: np.ndarray
    quantized: np.ndarray
    codes: np.ndarray
    levels: np.ndarray
    sub_block_size: int

    @property
    def errors(self):
        """(2, 256): w_j - q_j without and with the imatrix."""
        return self.weights[None, :] - self.quantized

    @property
    def plain_error(self):
        """(2,): sum_j (w_j - q_j)^2, without and with the imatrix."""
        return np.sum(self.errors**2, axis=1)

    @property
    def weighted_error(self):
        """(2,): sum_j v_j (w_j - q_j)^2, without and with the imatrix."""
        return np.sum(self.importance[None, :] * self.errors**2, axis=1)

    @property
    def changed(self):
        """(256,) bool: the weights whose code the imatrix changed (every value moves when a scale does)."""
        return self.codes[0] != self.codes[1]


class ImatrixBlocks:
    """A layer quantized by each K type with and without its imatrix, once; view(type, block) picks a block."""

    def __init__(self, weight, importance, types=TYPES):
        weight = as_weight(weight).astype(np.float32)
        importance = np.asarray(importance, dtype=np.float32)
        if importance.shape != (weight.shape[1],):
            raise ValueError(
                f"importance has shape {importance.shape}; pass one value per input column, ({weight.shape[1]},)"
            )
        if weight.shape[1] % 256:
            raise ValueError(f"the layer's rows have {weight.shape[1]} weights; K-quant blocks need a multiple of 256")
        unknown = [t for t in types if t not in FORMATS or FORMATS[t].block_size != 256]
        if unknown:
            raise ValueError(f"types {unknown} are not K-quant types with blocks of 256; choose from {TYPES}")
        self.weight, self.importance, self.types = weight, importance, tuple(types)
        self.n_blocks = weight.size // 256
        self._layer_errors = {}
        self.grids = {
            t: [sub_block_grids(quantize(weight, t, imatrix=v), t) for v in (None, importance)] for t in self.types
        }

    def view(self, type_name, block):
        """The BlockView of `block` (0..n_blocks-1, row by row) for `type_name`."""
        if type_name not in self.grids:
            raise ValueError(f"type_name={type_name!r}; choose one of {self.types}")
        if isinstance(block, bool) or not isinstance(block, (int, np.integer)) or not 0 <= block < self.n_blocks:
            raise ValueError(f"block={block!r} must be an integer from 0 to {self.n_blocks - 1}")
        per_row = self.weight.shape[1] // 256
        row, start = divmod(int(block), per_row)
        columns = np.arange(start * 256, start * 256 + 256)
        grids = self.grids[type_name]
        size = grids[0].sub_block_size
        subs = slice(block * 256 // size, (block + 1) * 256 // size)
        return BlockView(
            type_name=type_name,
            block=int(block),
            row=row,
            columns=columns,
            weights=self.weight[row, columns].astype(np.float64),
            importance=self.importance[columns].astype(np.float64),
            quantized=np.stack([g.reconstruction[subs].reshape(-1) for g in grids]).astype(np.float64),
            codes=np.stack([g.codes[subs].reshape(-1) for g in grids]),
            levels=np.stack([g.levels[subs] for g in grids]).astype(np.float64),
            sub_block_size=size,
        )

    def limits(self):
        """(max |w|, max per-weight |error| as the explorer draws it, plain or importance-weighted), all types."""
        blocks = self.weight.reshape(self.n_blocks, 256).astype(np.float64)
        importance = self.importance.reshape(-1, 256).astype(np.float64)  # the columns of each block position
        factor = np.sqrt(importance / importance.mean(axis=1, keepdims=True))
        factor = np.tile(factor, (self.weight.shape[0], 1))
        errors = [
            np.abs(blocks - g.reconstruction.reshape(blocks.shape)) for grids in self.grids.values() for g in grids
        ]
        every = np.concatenate([np.concatenate([e, e * factor]).reshape(-1) for e in errors])
        return float(np.abs(blocks).max()), float(np.percentile(every, 99.5))  # the rare larger ones run off the top

    def layer_errors(self, type_name):
        """(plain, weighted) error over the whole layer, each (2,): without and with the imatrix (computed once)."""
        if type_name not in self._layer_errors:
            quantized = np.stack([g.reconstruction.reshape(self.weight.shape) for g in self.grids[type_name]])
            squares = (self.weight[None].astype(np.float64) - quantized) ** 2
            weighted = (squares * self.importance[None, None, :].astype(np.float64)).sum(axis=(1, 2))
            self._layer_errors[type_name] = squares.sum(axis=(1, 2)), weighted
        return self._layer_errors[type_name]


def block_text(view, imatrix_on, layer_errors=None):
    """The explorer's readout: plain and weighted error of the block without/with the imatrix."""
    plain, weighted = view.plain_error, view.weighted_error
    lines = [
        f"{view.type_name}, block {view.block} (row {view.row}, columns {view.columns[0]}..{view.columns[-1]})",
        f"showing: {'with' if imatrix_on else 'without'} the imatrix",
        f"{'':22}{'without':>10}{'with':>10}{'ratio':>7}",
        f"Σ (w−q)²{'':14}{plain[0]:10.3e}{plain[1]:10.3e}{plain[1] / plain[0]:7.2f}",
        f"Σ v_j (w−q)²{'':10}{weighted[0]:10.3e}{weighted[1]:10.3e}{weighted[1] / weighted[0]:7.2f}",
        f"codes changed by the imatrix: {int(view.changed.sum())} of 256",
    ]
    if layer_errors is not None:
        (p0, p1), (w0, w1) = layer_errors
        lines.append(f"whole layer, with/without: Σ(w−q)² {p1 / p0:.2f}x, Σ v(w−q)² {w1 / w0:.2f}x")
    return "\n".join(lines)


def summary_text(blocks):
    """Per type: how many codes the imatrix changed (and among the top tenth of columns by importance), in how
    many blocks each error fell, and the whole layer's errors with the imatrix relative to without."""
    v = np.tile(blocks.importance.reshape(-1, 256), (blocks.weight.shape[0], 1)).astype(np.float64)  # (n_blocks, 256)
    top = v >= np.quantile(blocks.importance, 0.9)
    weights = blocks.weight.reshape(-1, 256).astype(np.float64)
    lines = []
    for type_name in blocks.types:
        plain_grid, weighted_grid = blocks.grids[type_name]
        changed = plain_grid.codes.reshape(-1, 256) != weighted_grid.codes.reshape(-1, 256)
        squares = [(weights - g.reconstruction.reshape(weights.shape)) ** 2 for g in (plain_grid, weighted_grid)]
        plain_fell = np.mean(squares[1].sum(axis=1) < squares[0].sum(axis=1))
        weighted_fell = np.mean((v * squares[1]).sum(axis=1) < (v * squares[0]).sum(axis=1))
        (p0, p1), (w0, w1) = blocks.layer_errors(type_name)
        lines.append(
            f"{type_name}: codes changed {100 * changed.mean():4.1f} % (top tenth of columns by v: "
            f"{100 * changed[top].mean():4.1f} %); Σ v(w−q)² fell in {100 * weighted_fell:3.0f} % of the blocks, "
            f"Σ(w−q)² in {100 * plain_fell:3.0f} %; whole layer {w1 / w0:.2f}x and {p1 / p0:.2f}x"
        )
    return "\n".join(lines)

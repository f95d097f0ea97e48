"""MiniLM's real outlier weights: in which matrix and channel, how large, and which groups they ruin.

Builds on outlier_channels.py (max_over_std, group_damage) and adds what a reader of a real model
asks next: the layer and role of each matrix (named as in a GGUF file: attn_q, ..., ffn_down), the
exact place of its largest weight, the residual-stream dimension it belongs to, the groups whose
scale an outlier sets, and the share of the matrix's rounding error those few groups carry.

Residual dimension: the 384 numbers carried from layer to layer. attn_output and ffn_down write
them (a row of the (out, in) matrix is one residual dimension); attn_q/k/v and ffn_up read them
(a column is one). An outlier "channel" is a residual dimension many large weights share.
"""

import re
from collections import Counter
from dataclasses import dataclass

import numpy as np

from .packaged import load_minilm
from .outlier_channels import _check_threshold, _matrix, group_damage, max_over_std

ROLES = {  # HF module -> GGUF tensor role (llama.cpp's BERT names)
    "attention.self.query": "attn_q",
    "attention.self.key": "attn_k",
    "attention.self.value": "attn_v",
    "attention.output.dense": "attn_output",
    "intermediate.dense": "ffn_up",
    "output.dense": "ffn_down",
}
WRITES_RESIDUAL = ("attn_output", "ffn_down")  # rows are residual dimensions; the others' columns are
_NAME = re.compile(r"encoder\.layer\.(\d+)\.(.+)\.weight$")


def locate(name):
    """(layer, role) of an encoder matrix: 'encoder.layer.3.output.dense.weight' -> (3, 'ffn_down')."""
    match = _NAME.match(name)
    if not match or match.group(2) not in ROLES:
        raise ValueError(f"{name!r} is not a MiniLM encoder matrix such as 'encoder.layer.3.output.dense.weight'")
    return int(match.group(1)), ROLES[match.group(2)]


def _encoder_matrices(weights):
    weights = load_minilm() if weights is None else weights
    found = {name: w for name, w in weights.items() if _NAME.match(name) and np.ndim(w) == 2}
    if not found:
        raise ValueError(
            "weights hold no MiniLM encoder matrix ('encoder.layer.<i>.<module>.weight'); "
            "pass load_minilm() or leave weights=None"
        )
    return found


@dataclass(frozen=True)
class RuinedGroups:
    """Groups along a row whose largest |w| exceeds threshold x std(matrix), largest first."""

    group_size: int
    row: np.ndarray  # the row (output channel) each group lies in
    first_column: np.ndarray  # its columns are first_column .. first_column + group_size - 1
    absmax_over_std: np.ndarray


def _group_absmax(w, group_size):
    """max|w| of each group of `group_size` along the rows: (rows, groups)."""
    if (
        isinstance(group_size, bool)
        or not isinstance(group_size, (int, np.integer))
        or group_size < 1
        or w.shape[1] % group_size
    ):
        raise ValueError(
            f"group_size={group_size!r} must be a positive divisor of the row length {w.shape[1]}, e.g. 32"
        )
    return np.abs(w.reshape(w.shape[0], -1, group_size)).max(axis=-1)


def ruined_groups(w, group_size=32, threshold=6.0):
    """Every group of `group_size` (along rows, as GGUF blocks) whose scale an outlier sets."""
    w = _matrix(w)
    threshold = _check_threshold(threshold)
    absmax = _group_absmax(w, group_size)
    row, group = np.nonzero(absmax > threshold * w.std())  # the test group_damage uses
    order = np.argsort(-absmax[row, group], kind="stable")
    return RuinedGroups(int(group_size), row[order], group[order] * group_size, absmax[row, group][order] / w.std())


def restore_ruined_groups(quantized, weights=None, group_size=32, threshold=6.0):
    """A copy of `quantized` in which every ruined group of every encoder matrix holds its FP32 weights again.

    An experiment, not a format: it asks how much of a quantized model's error the outliers'
    groups cause. (Storing those groups exactly would cost their positions and values on top.)
    """
    threshold = _check_threshold(threshold)
    original = _encoder_matrices(weights)
    restored = dict(quantized)
    for name, w in original.items():
        if name not in quantized or np.shape(quantized[name]) != w.shape:
            raise ValueError(
                f"quantized has no matrix {name!r} of shape {w.shape}; pass the quantized copy of the "
                f"same weights, e.g. minilm.quantized_weights(plan)"
            )
        w = _matrix(w)
        ruined = np.repeat(_group_absmax(w, group_size) > threshold * w.std(), group_size, axis=1)
        restored[name] = np.where(ruined, w, quantized[name])
    return restored


def _mse_share(damage):
    """Share of the matrix's squared rounding error carried by its ruined groups (groups are equal-sized)."""
    if damage.n_ruined == 0:
        return 0.0
    ruined = damage.n_ruined * damage.mse_ruined
    return float(ruined / (ruined + (damage.n_groups - damage.n_ruined) * damage.mse_clean))


def outlier_summary(weights=None, group_size=32, bits=4, threshold=6.0):
    """One row per encoder matrix (layer order): where its largest weight is, and what its outliers cost.

    mse_share: fraction of the matrix's squared error at `bits` (symmetric round-to-nearest, one
    scale per group, as in group_damage) that falls in the ruined groups; fraction_ruined is the
    share of groups they are. ruined_rows: the rows holding most ruined groups, (row, count).
    """
    rows = []
    for name, w in _encoder_matrices(weights).items():
        layer, role = locate(name)
        w = _matrix(w)
        row, column = np.unravel_index(int(np.argmax(np.abs(w))), w.shape)
        damage = group_damage(w, group_size, bits, threshold)
        ruined = ruined_groups(w, group_size, threshold)
        rows.append(
            {
                "layer": layer,
                "role": role,
                "name": name,
                "shape": w.shape,
                "max_over_std": max_over_std(w),
                "largest_at": (int(row), int(column)),
                "residual_dim": int(row if role in WRITES_RESIDUAL else column),
                "n_outliers": int((np.abs(w) > threshold * w.std()).sum()),
                "n_groups": damage.n_groups,
                "n_ruined": damage.n_ruined,
                "fraction_ruined": damage.fraction_ruined,
                "mse_share": _mse_share(damage),
                "mse_ratio": damage.mse_ratio,
                "ruined_rows": Counter(ruined.row.tolist()).most_common(3),
            }
        )
    return sorted(rows, key=lambda r: (r["layer"], list(ROLES.values()).index(r["role"])))


def outlier_dimensions(weights=None, threshold=6.0, top=5):
    """The residual dimensions that hold most outlier weights over all encoder matrices.

    Returns [(dimension, n_outliers, n_matrices)], most outliers first: an outlier channel of the
    model shows up as one dimension with many outliers spread over many matrices and layers.
    """
    threshold = _check_threshold(threshold)
    if isinstance(top, bool) or not isinstance(top, (int, np.integer)) or top < 1:
        raise ValueError(f"top={top!r} must be a positive integer, e.g. 5")
    outliers, matrices = Counter(), Counter()
    for name, w in _encoder_matrices(weights).items():
        w = _matrix(w)
        rows, columns = np.nonzero(np.abs(w) > threshold * w.std())
        dims = rows if locate(name)[1] in WRITES_RESIDUAL else columns
        outliers.update(dims.tolist())
        matrices.update(set(dims.tolist()))
    return [(dim, count, matrices[dim]) for dim, count in outliers.most_common(top)]

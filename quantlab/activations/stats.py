"""Activation statistics per channel: max |x|, kurtosis, and LLM.int8()'s outlier features.

A feature (channel) of a linear layer's input x (tokens, features) is an *outlier feature* at
threshold t when some token has |x| >= t (t = 6.0 in LLM.int8()). Dettmers et al. (2022, sec. 4.1)
count only *systematic* ones: the same hidden dimension reaches the threshold in at least 25% of
the layers and in at least 6% of the sequence positions.
"""

from dataclasses import dataclass

import numpy as np

from .base import as_matrix
from .llm_int8 import THRESHOLD, check_threshold

MIN_LAYER_SHARE = 0.25  # LLM.int8(), sec. 4.1: in at least 25% of the layers ...
MIN_TOKEN_SHARE = 0.06  # ... and at least 6% of the sequence positions


def channel_absmax(x):
    """max |x| of every feature (column) over the tokens (rows)."""
    return np.abs(as_matrix(x)).max(axis=0)


def channel_kurtosis(x):
    """Excess kurtosis m4 / m2^2 - 3 of every feature over the tokens (0 for a Gaussian; NaN for a constant one).

    The population (biased) moments, as scipy.stats.kurtosis(x, axis=0) computes by default.
    """
    x = as_matrix(x)
    mean = x.mean(axis=0, dtype=np.float64)
    m2, m4 = np.zeros(x.shape[1]), np.zeros(x.shape[1])
    for start in range(0, x.shape[0], 256):  # float64 blocks of 256 rows stay in cache: 3-8x faster than whole
        powers = x[start : start + 256].astype(np.float64)
        powers -= mean
        np.multiply(powers, powers, out=powers)  # squares in place: c * c, not c ** 4 (numpy's pow is 20x slower)
        m2 += powers.sum(axis=0)
        np.multiply(powers, powers, out=powers)
        m4 += powers.sum(axis=0)
    m2, m4 = m2 / x.shape[0], m4 / x.shape[0]
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(m2 > 0, m4 / np.where(m2 > 0, m2, 1) ** 2 - 3, np.nan)


@dataclass(frozen=True)
class LayerStats:
    """One linear layer's input: its largest values, tails, and outlier features."""

    name: str
    n_tokens: int
    width: int
    max_abs: float  # largest |x| anywhere
    median_channel_absmax: float  # the typical channel's max |x|, for scale
    max_kurtosis: float  # the most heavy-tailed channel
    median_kurtosis: float
    outlier_features: np.ndarray  # indices of features with some |x| >= threshold
    token_share: np.ndarray  # for each of them, the share of tokens that reach the threshold


def layer_stats(name, x, threshold=THRESHOLD):
    """LayerStats of one captured input x (tokens, features)."""
    x = as_matrix(x, name)
    threshold = check_threshold(threshold)
    absmax, kurtosis = channel_absmax(x), channel_kurtosis(x)
    reached = np.abs(x) >= threshold
    features = np.flatnonzero(reached.any(axis=0))
    return LayerStats(
        name,
        x.shape[0],
        x.shape[1],
        float(absmax.max()),
        float(np.median(absmax)),
        float(np.nanmax(kurtosis)) if np.isfinite(kurtosis).any() else float("nan"),
        float(np.nanmedian(kurtosis)) if np.isfinite(kurtosis).any() else float("nan"),
        features,
        reached[:, features].mean(axis=0),
    )


def layer_table(inputs, threshold=THRESHOLD):
    """[LayerStats] of every distinct captured input {name: x}; an input several layers share (q, k, v) once, under its first name."""
    if not hasattr(inputs, "items"):
        raise TypeError(f"inputs must be a dict {{layer name: (tokens, features) array}}, got {type(inputs).__name__}")
    seen, table = set(), []
    for name, x in inputs.items():
        if id(x) not in seen:
            seen.add(id(x))
            table.append(layer_stats(name, x, threshold))
    return table


@dataclass(frozen=True)
class Systematic:
    """LLM.int8()'s systematic outlier features over a stack of layers (one hidden-state width)."""

    features: np.ndarray  # the hidden dimensions that pass both tests
    layer_share: np.ndarray  # for each: share of layers in which it reaches the threshold
    token_share: np.ndarray  # for each: share of all (layer, position) entries that reach it
    n_layers: int


def systematic_features(
    hidden_states, threshold=THRESHOLD, min_layer_share=MIN_LAYER_SHARE, min_token_share=MIN_TOKEN_SHARE
):
    """The features that reach |x| >= threshold in >= min_layer_share of the layers and >= min_token_share
    of the sequence positions (over all layers' hidden states), as LLM.int8() sec. 4.1 counts them.

    hidden_states: a list with one (tokens, width) array per layer, all of the same width
    (e.g. the input of every layer's attention block: the residual stream after its norm).
    """
    if isinstance(hidden_states, np.ndarray) or not len(hidden_states):
        raise TypeError("hidden_states must be a non-empty list of (tokens, width) arrays, one per layer")
    states = [as_matrix(x, f"hidden_states[{i}]") for i, x in enumerate(hidden_states)]
    widths = {x.shape[1] for x in states}
    if len(widths) != 1:
        raise ValueError(f"hidden_states have widths {sorted(widths)}; pass layers of one hidden-state width")
    threshold = check_threshold(threshold)
    for name, share in (("min_layer_share", min_layer_share), ("min_token_share", min_token_share)):
        if not 0 <= share <= 1:
            raise ValueError(f"{name}={share!r} must be a share from 0 to 1")
    reached = [np.abs(x) >= threshold for x in states]
    layer_share = np.mean([r.any(axis=0) for r in reached], axis=0)
    token_share = sum(r.sum(axis=0) for r in reached) / sum(x.shape[0] for x in states)
    keep = np.flatnonzero((layer_share >= min_layer_share) & (token_share >= min_token_share) & (layer_share > 0))
    return Systematic(keep, layer_share[keep], token_share[keep], len(states))

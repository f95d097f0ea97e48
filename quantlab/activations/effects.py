"""One layer, one knob: what LLM.int8()'s threshold, SmoothQuant's alpha and a rotation do to a single matmul.

A Layer holds one captured input x (tokens, in) and its weight (out, in); everything that does not
depend on the knob (the float product, the unsmoothed error, the rotated pair) is computed once,
so each knob setting costs one quantized matmul: the data behind notebook 10's sliders and toggles.

    layer = Layer(x, weight)
    layer.threshold(6.0)        # ThresholdEffect: features in float, int8 share, output error
    layer.alpha(0.5)            # AlphaEffect: activation and weight difficulty, output error
    layer.rotation()            # RotationEffect: kurtosis and max |x| before/after, output error
"""

from dataclasses import dataclass
from functools import cached_property

import numpy as np

from .base import check_bits, check_linear
from .hadamard import random_hadamard
from .llm_int8 import check_threshold, decomposed_linear
from .smoothquant import smoothing_scales
from .stats import channel_absmax, channel_kurtosis
from .w8a8 import GRANULARITIES, quantize_symmetric, quantized_linear


@dataclass(frozen=True)
class ThresholdEffect:
    """LLM.int8() at one threshold: what goes to float and what the int8 part costs."""

    threshold: float
    n_float_features: int
    int8_share: float  # share of the multiply-adds kept in int8
    relative_error: float  # ||Y_hat - Y|| / ||Y||


@dataclass(frozen=True)
class AlphaEffect:
    """SmoothQuant at one alpha: how hard x and W are to quantize afterwards, and the output error."""

    alpha: float
    activation_difficulty: (
        float  # max over channels of max|x_j / s_j|, over their median: how far one channel sticks out
    )
    weight_difficulty: float  # the same for the weight's columns W_j * s_j
    relative_error: float  # quantized (activations per `granularity`, weights per channel) after smoothing
    unsmoothed_error: float  # the same without smoothing


@dataclass(frozen=True)
class RotationEffect:
    """A random Hadamard rotation of the layer's input: tails before and after, and the quantized output error."""

    kurtosis_before: np.ndarray  # per channel
    kurtosis_after: np.ndarray
    max_abs_before: float
    max_abs_after: float
    error_before: float  # relative output error, quantized as the Layer says
    error_after: float
    rotated: np.ndarray  # x Q, for histograms


def _norm(a):
    """The Frobenius norm by numpy's pairwise sum: the same bits with any number of BLAS threads (np.linalg.norm's
    dot product is split across threads, and its last bit moved with them)."""
    return np.sqrt(np.square(a).sum())


def _spread(absmax):
    return float(absmax.max() / np.median(absmax))


class Layer:
    """One linear layer's captured input and weight, quantized at `bits` with `granularity` activation scales."""

    def __init__(self, x, weight, bits=8, granularity="tensor", seed=0):
        self.x, self.weight, _ = check_linear(x, weight)
        self.bits = check_bits(bits, "bits")
        if granularity not in GRANULARITIES:
            raise ValueError(f"granularity={granularity!r}; choose one of {GRANULARITIES}")
        self.granularity, self.seed = granularity, seed

    @cached_property
    def exact(self):
        """The float product x W^T (float64), the reference for every error."""
        return self.x.astype(np.float64) @ self.weight.T.astype(np.float64)

    @cached_property
    def _exact_norm(self):
        return _norm(self.exact)

    def relative_error(self, y):
        """||y - x W^T|| / ||x W^T||."""
        return float(_norm(y - self.exact) / self._exact_norm)

    def quantized(self, x, weight):
        return quantized_linear(x, weight, None, self.bits, self.bits, self.granularity)

    @cached_property
    def plain_error(self):
        """The output error with no outlier treatment."""
        return self.relative_error(self.quantized(self.x, self.weight))

    def threshold(self, threshold=6.0):
        """LLM.int8()'s decomposition at `threshold` (always per-token activations, as the method defines)."""
        result = decomposed_linear(self.x, self.weight, None, check_threshold(threshold), self.bits, self.bits)
        return ThresholdEffect(
            float(threshold), int(result.outlier_columns.sum()), result.int8_share, self.relative_error(result.output)
        )

    @cached_property
    def _activation_absmax(self):
        return channel_absmax(self.x)

    @cached_property
    def _weight_absmax(self):
        return np.abs(self.weight).max(axis=0)

    def channel_maxima(self, alpha=0.5):
        """(max|x_j / s_j|, max|W_j s_j|) of every input channel j after smoothing at `alpha` (no matmul)."""
        scales = smoothing_scales(self._activation_absmax, self.weight, alpha)
        return self._activation_absmax / scales, self._weight_absmax * scales

    def alpha(self, alpha=0.5):
        """SmoothQuant at `alpha`, with the input's own max |x_j| as the calibration statistics."""
        scales = smoothing_scales(self._activation_absmax, self.weight, alpha).astype(self.x.dtype)
        weight = self.weight * scales
        return AlphaEffect(
            float(alpha),
            _spread(self._activation_absmax / scales),
            _spread(np.abs(weight).max(axis=0)),
            self.relative_error(self.quantized(self.x / scales, weight)),
            self.plain_error,
        )

    @cached_property
    def _rotated(self):
        rotation = random_hadamard(self.x.shape[1], self.seed)
        return rotation.rotate(self.x), rotation.rotate(self.weight)

    def rotation(self):
        """The random Hadamard rotation's effect (computed once per Layer)."""
        x_q, w_q = self._rotated
        return RotationEffect(
            channel_kurtosis(self.x),
            channel_kurtosis(x_q),
            float(np.abs(self.x).max()),
            float(np.abs(x_q).max()),
            self.plain_error,
            self.relative_error(self.quantized(x_q, w_q)),
            x_q,
        )


def rotation_on_weights(matrices, bits=4, seed=0):
    """What a random Hadamard rotation along the input axis does to whole weight matrices {name: (out, in)}.

    One row per matrix: its largest |w| in standard deviations, and the relative error ||W_hat - W|| / ||W||
    at `bits` with one scale per row and one per tensor, before and after W -> W Q. (Q is orthogonal,
    so the error of W Q is the error the rotated model sees.)
    """
    bits = check_bits(bits, "bits")
    rows = []
    for name, w in matrices.items():
        w = check_linear(np.zeros((1, np.shape(w)[-1]), np.float32), w)[1]
        rotated = random_hadamard(w.shape[1], seed).rotate(w)
        row = {"name": name, "max_over_std": float(np.abs(w).max() / w.std())}
        for label, axis in (("row", 1), ("tensor", None)):
            for tag, m in (("", w), ("_rotated", rotated)):
                codes, scale = quantize_symmetric(m, bits, axis)
                row[f"{label}{tag}"] = float(np.linalg.norm(codes * scale - m) / np.linalg.norm(m))
        rows.append(row)
    return rows

"""The objective every calibration method serves: the layer's output error on calibration inputs.

    error = ||W X - W_hat X||_F^2 = sum over tokens t and outputs i of ((W - W_hat) x_t)_i^2

with X = inputs.T (one column per token). relative = error / ||W X||_F^2. Rounding errors that
fall on input features the data never excites cost nothing here; that is what GPTQ, AWQ and the
importance matrix exploit, and why the weight error ||W - W_hat||^2 is the wrong yardstick.
"""

from dataclasses import dataclass

import numpy as np

from .base import as_inputs, as_weight


@dataclass(frozen=True)
class OutputError:
    """||W X - W_hat X||^2 (summed over tokens and outputs), its mean per token, and relative to ||W X||^2."""

    total: float
    per_token: float
    relative: float


class LayerObjective:
    """The output error of many candidate W_hat for one layer W and one set of inputs, fast.

    ||(W - W_hat) X||^2 = sum((D G) * D) with D = W - W_hat and G = X X^T (in x in), the Gram
    matrix of the inputs, computed once: each candidate then costs out x in x in operations
    instead of out x in x n_tokens (AWQ scores 20 candidates; n_tokens is often >> in_features).
    """

    def __init__(self, weight, inputs):
        self.weight = as_weight(weight)
        inputs = as_inputs(inputs, self.weight.shape[1])
        self.n_tokens = len(inputs)
        self.gram = inputs.T @ inputs
        self.reference = float(np.sum((self.weight @ self.gram) * self.weight))

    def __call__(self, weight_hat):
        """The OutputError of weight_hat (same shape as the layer's weight)."""
        weight_hat = as_weight(weight_hat, "weight_hat")
        if weight_hat.shape != self.weight.shape:
            raise ValueError(
                f"weight_hat has shape {weight_hat.shape} but weight has {self.weight.shape}; "
                f"compare a layer with its own quantized copy"
            )
        difference = self.weight - weight_hat
        total = max(float(np.sum((difference @ self.gram) * difference)), 0.0)  # >= 0 up to rounding
        return _error(total, self.reference, self.n_tokens)


def _error(total, reference, n_tokens):
    return OutputError(
        total=total,
        per_token=total / n_tokens,
        relative=total / reference if reference > 0 else (0.0 if total == 0 else np.inf),
    )


def output_error(weight, weight_hat, inputs):
    """The layer output error of W_hat against W on calibration inputs (n_tokens, in_features)."""
    weight = as_weight(weight)
    weight_hat = as_weight(weight_hat, "weight_hat")
    if weight_hat.shape != weight.shape:
        raise ValueError(
            f"weight_hat has shape {weight_hat.shape} but weight has {weight.shape}; "
            f"compare a layer with its own quantized copy"
        )
    inputs = as_inputs(inputs, weight.shape[1])
    reference = inputs @ weight.T  # (tokens, out) = (W X)^T
    difference = inputs @ (weight - weight_hat).T
    return _error(float(np.sum(difference**2)), float(np.sum(reference**2)), len(inputs))

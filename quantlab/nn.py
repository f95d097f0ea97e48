"""The softmax our numpy models share (the character model's and MiniLM's attention, and evaluation)."""

import numpy as np

from ._validate import as_float_array


def softmax(scores):
    """Softmax over the last axis, shifted by the maximum so exp cannot overflow (keeps the dtype)."""
    exp = np.exp(scores - scores.max(axis=-1, keepdims=True))
    return exp / exp.sum(axis=-1, keepdims=True)


def log_softmax(logits):
    """log p over the last axis, in float64: logits - logsumexp(logits)."""
    logits = as_float_array(logits, "logits").astype(np.float64)
    shifted = logits - logits.max(axis=-1, keepdims=True)
    return shifted - np.log(np.exp(shifted).sum(axis=-1, keepdims=True))

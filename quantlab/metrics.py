"""How far the quantized weights are from the originals: MSE, RMSE, SQNR and worst-case error."""

import numpy as np

from ._validate import as_float_array


def _pair(w, w_hat):
    w = as_float_array(w, "w").astype(np.float64)
    w_hat = as_float_array(w_hat, "w_hat").astype(np.float64)
    if w.shape != w_hat.shape:
        raise ValueError(f"w has shape {w.shape} but w_hat has shape {w_hat.shape}; compare arrays of the same shape")
    return w, w_hat


def mse(w, w_hat):
    """Mean squared error: mean((w - w_hat)^2)."""
    w, w_hat = _pair(w, w_hat)
    return float(np.mean((w - w_hat) ** 2))


def rmse(w, w_hat):
    """Root mean squared error, in the weights' own units."""
    return float(np.sqrt(mse(w, w_hat)))


def max_abs_error(w, w_hat):
    """The worst single-weight error: max |w - w_hat|."""
    w, w_hat = _pair(w, w_hat)
    return float(np.max(np.abs(w - w_hat)))


def sqnr_db(w, w_hat):
    """Signal-to-quantization-noise ratio, 10 log10(sum w^2 / sum (w - w_hat)^2), in decibels.

    Each extra bit of a uniform quantizer buys about 6.02 dB. Returns inf for a perfect copy and
    -inf when the signal is all zeros but the copy is not.
    """
    w, w_hat = _pair(w, w_hat)
    signal, noise = np.sum(w**2), np.sum((w - w_hat) ** 2)
    if noise == 0:
        return float("inf")
    if signal == 0:
        return float("-inf")
    return float(10 * np.log10(signal / noise))


def error_report(w, w_hat):
    """All four metrics at once, as a dict (what the explorers print beside each figure)."""
    return {
        "mse": mse(w, w_hat),
        "rmse": rmse(w, w_hat),
        "sqnr_db": sqnr_db(w, w_hat),
        "max_abs_error": max_abs_error(w, w_hat),
    }

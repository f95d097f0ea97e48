"""How much one outlier hurts a per-tensor scale: measured over many seeds, and predicted on paper.

With one scale for the tensor, the largest |w| sets the step: step = max|w| / (2^(b-1) - 1).
Without an outlier, max|w| is a few standard deviations and the rounding noise is step^2 / 12.
With an outlier far out, the step is so coarse that almost every ordinary weight rounds to 0, so
the error of each is the weight itself: MSE -> std^2. The ratio is therefore about
12 (2^(b-1) - 1)^2 / E[(max|w| / std)^2], about 49 at 4 bits and 1,024 weights: not 1,000.
"""

import numpy as np
from scipy import integrate, stats

from .uniform import fake_quantize


def measure_outlier_damage(n=1024, std=0.1, outlier=10.0, bits=4, seeds=range(1000)):
    """MSE of per-tensor symmetric quantization without and with one weight set to `outlier`, per seed."""
    seeds = list(seeds)
    if not seeds:
        raise ValueError("seeds is empty; pass e.g. range(100)")
    clean_mse, outlier_mse = [], []
    for seed in seeds:
        w = np.random.default_rng(seed).normal(0.0, std, n).astype(np.float32)
        clean_mse.append(np.mean((w - fake_quantize(w, bits)) ** 2))
        w[0] = outlier
        outlier_mse.append(np.mean((w - fake_quantize(w, bits)) ** 2))
    clean_mse, outlier_mse = np.array(clean_mse), np.array(outlier_mse)
    return {"clean_mse": clean_mse, "outlier_mse": outlier_mse, "ratio": outlier_mse / clean_mse}


def expected_squared_max(n):
    """E[(max_i |Z_i|)^2] for n standard normal draws, by integrating the tail of max|Z|."""
    # P(max|Z| > x) = 1 - (2 Phi(x) - 1)^n, and E[M^2] = integral of 2x P(M > x) dx
    tail = lambda x: 2 * x * -np.expm1(n * np.log1p(-2 * stats.norm.sf(x)))
    return integrate.quad(tail, 0, 12, limit=200)[0]


def rounding_mse_of_normal(step, std):
    """E[(w - step * round(w / step))^2] for w ~ N(0, std^2), exactly (sum over the levels)."""
    k = np.arange(-int(8 * std / step) - 2, int(8 * std / step) + 3)
    edges = (k[:, None] + np.array([-0.5, 0.5])) * step
    a, b = edges[:, 0] / std, edges[:, 1] / std
    c = k * step / std
    # closed form: the integral of (z - c)^2 phi(z) dz is (1 + c^2) Phi(z) + (2c - z) phi(z)
    first = (stats.norm.cdf(b) - stats.norm.cdf(a)) * (1 + c**2)
    second = stats.norm.pdf(b) * (2 * c - b) - stats.norm.pdf(a) * (2 * c - a)
    return float(np.sum(first + second) * std**2)


def predict_outlier_damage(n=1024, std=0.1, outlier=10.0, bits=4):
    """The analytic prediction: clean MSE ~ E[step^2] / 12, outlier MSE from rounding N(0, std^2) on the coarse grid."""
    qmax = 2 ** (bits - 1) - 1
    clean = expected_squared_max(n) * std**2 / qmax**2 / 12
    coarse = rounding_mse_of_normal(outlier / qmax, std) * (n - 1) / n  # the outlier itself sits on the grid
    return {"clean_mse": clean, "outlier_mse": coarse, "ratio": coarse / clean}

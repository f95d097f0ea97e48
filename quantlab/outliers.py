"""How much one outlier hurts a per-tensor scale: measured over many seeds, and predicted on paper.

With one scale for the tensor, the largest |w| sets the step: step = max|w| / (2^(b-1) - 1).
Without an outlier, max|w| is a few standard deviations and the rounding noise is step^2 / 12.
With an outlier far out, the step is so coarse that almost every ordinary weight rounds to 0, so
the error of each is the weight itself: MSE -> std^2. The ratio is therefore about
12 (2^(b-1) - 1)^2 / E[(max|w| / std)^2], about 49 at 4 bits and 1,024 weights: not 1,000.
"""

import numpy as np
from scipy import integrate, stats

from ._validate import check_bits
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


def _sqnr_db(signal, error_mse):
    return 10 * np.log10(np.mean(np.asarray(signal, np.float64) ** 2) / error_mse)


def int8_outlier_vs_clean_int4(n=1024, std=0.1, outlier=10.0, seeds=range(1000)):
    """Per seed: error on the n - 1 ordinary weights of per-tensor INT8 with one outlier vs per-tensor INT4 without it.

    The same ordinary weights twice: once quantized to 8 bits beside w[0] = outlier (its step is
    outlier / 127), once to 4 bits alone (step max|w| / 7). Returns arrays of MSE and SQNR (dB) for
    both, measured on the ordinary weights only.
    """
    seeds = list(seeds)
    if not seeds:
        raise ValueError("seeds is empty; pass e.g. range(100)")
    if not isinstance(n, (int, np.integer)) or n < 3:
        raise ValueError(f"n={n!r} must be an integer of at least 3 (one outlier and some ordinary weights)")
    rows = {"int8_mse": [], "int4_mse": [], "int8_sqnr_db": [], "int4_sqnr_db": []}
    for seed in seeds:
        w = np.random.default_rng(seed).normal(0.0, std, n).astype(np.float32)
        ordinary = w[1:]
        with_outlier = w.copy()
        with_outlier[0] = outlier
        for key, w_hat in (("int8", fake_quantize(with_outlier, 8)[1:]), ("int4", fake_quantize(ordinary, 4))):
            error = np.mean((ordinary.astype(np.float64) - w_hat) ** 2)
            rows[f"{key}_mse"].append(error)
            rows[f"{key}_sqnr_db"].append(_sqnr_db(ordinary, error))
    return {key: np.array(values) for key, values in rows.items()}


def int8_vs_int4_text(result):
    """Text: median MSE and SQNR of both settings, and on how many seeds INT8-with-outlier is the worse one."""
    worse = np.mean(result["int8_mse"] > result["int4_mse"])
    return "\n".join(
        [
            f"INT8, one outlier in the tensor: median MSE {np.median(result['int8_mse']):.2e}, SQNR {np.median(result['int8_sqnr_db']):5.1f} dB",
            f"INT4, same weights, no outlier:  median MSE {np.median(result['int4_mse']):.2e}, SQNR {np.median(result['int4_sqnr_db']):5.1f} dB",
            f"INT8-with-outlier is worse on {worse:.1%} of {len(result['int8_mse'])} seeds",
        ]
    )


def closed_form_ratio(n=1024, bits=4):
    """The paper estimate 12 (2^(b-1) - 1)^2 / E[(max|w| / std)^2].

    Valid only when the outlier's step, outlier / (2^(b-1) - 1), is many standard deviations wide,
    so that every ordinary weight rounds to 0 and the outlier MSE is std^2. When the step is
    comparable to std (8 bits, outlier 100 std), the ordinary weights keep several levels and the
    outlier MSE is about step^2 / 12 instead: the closed form then overstates the damage.
    """
    qmax = 2 ** (check_bits(bits) - 1) - 1
    return 12 * qmax**2 / expected_squared_max(n)


def closed_form_table(n=1024, std=0.1, outlier=10.0, bits=(2, 3, 4, 5, 6, 8), seeds=range(100)):
    """Rows over bit widths: outlier step / std, the closed form, the exact prediction and the measured ratio of mean MSEs."""
    rows = []
    for b in bits:
        measured = measure_outlier_damage(n=n, std=std, outlier=outlier, bits=b, seeds=seeds)
        rows.append({
            "bits": b,
            "step_over_std": outlier / (2 ** (b - 1) - 1) / std,
            "closed_form": closed_form_ratio(n, b),
            "predicted": predict_outlier_damage(n=n, std=std, outlier=outlier, bits=b)["ratio"],
            "measured": measured["outlier_mse"].mean() / measured["clean_mse"].mean(),
        })  # fmt: skip
    return rows


def closed_form_text(rows):
    """Text table of closed_form_table: where 12 (2^(b-1) - 1)^2 / E[(max/std)^2] holds and where it breaks."""
    lines = ["bits  outlier step / std   closed form   exact prediction   measured"]
    for r in rows:
        lines.append(
            f"{r['bits']:>4}  {r['step_over_std']:>18.2f}  {r['closed_form']:>12.1f}  {r['predicted']:>17.1f}  {r['measured']:>9.1f}"
        )
    return "\n".join(lines)


def grouped_error_split(w, outlier_index, bits=4, group_size=32):
    """Where a grouped quantizer's error comes from: the outlier's group vs every other group.

    Returns each part's contribution to the tensor's MSE (its squared errors summed, divided by
    w.size), for w as given; run it on the weights with and without the outlier to compare.
    """
    w = np.asarray(w)
    if w.ndim != 1 or w.size % group_size:
        raise ValueError(f"w must be 1-D with a size divisible by group_size={group_size}; got shape {w.shape}")
    if not 0 <= outlier_index < w.size:
        raise ValueError(f"outlier_index={outlier_index} is outside the {w.size} weights")
    squared = (w.astype(np.float64) - fake_quantize(w, bits, group_size=group_size)) ** 2
    in_group = np.zeros(w.size, bool)
    start = outlier_index // group_size * group_size
    in_group[start : start + group_size] = True
    return {"outlier_group": squared[in_group].sum() / w.size, "other_groups": squared[~in_group].sum() / w.size}

"""Seeded synthetic weights: bell-shaped, heavy-tailed, and with injected outliers.

Every generator takes a `seed`, so a notebook shows the same numbers on every run.
"""

import numpy as np

DISTRIBUTIONS = ("gaussian", "laplace", "student-t")


def _check_n(n):
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 1:
        raise ValueError(f"n={n!r} must be a positive integer number of weights")
    return int(n)


def _check_std(std):
    if not (np.isfinite(std) and std > 0):
        raise ValueError(f"std={std!r} must be a positive finite number")
    return float(std)


def gaussian(n, std=0.02, seed=0):
    """n weights from N(0, std^2): the textbook picture of a trained layer."""
    return np.random.default_rng(seed).normal(0.0, _check_std(std), _check_n(n)).astype(np.float32)


def laplace(n, std=0.02, seed=0):
    """n weights from a Laplace distribution with standard deviation `std` (peakier, heavier tails)."""
    scale = _check_std(std) / np.sqrt(2.0)
    return np.random.default_rng(seed).laplace(0.0, scale, _check_n(n)).astype(np.float32)


def student_t(n, std=0.02, df=4.0, seed=0):
    """n weights from a Student-t with `df` degrees of freedom, rescaled to standard deviation `std`.

    Needs df > 2 for the standard deviation to exist; small df gives the heavy tails of real LLM layers.
    """
    if not df > 2:
        raise ValueError(f"df={df!r} must be greater than 2 for a finite standard deviation; try df=4")
    draws = np.random.default_rng(seed).standard_t(df, _check_n(n))
    return (draws * _check_std(std) / np.sqrt(df / (df - 2))).astype(np.float32)


def with_outliers(w, count=1, magnitude=10.0, seed=0):
    """A copy of `w` with `count` weights (at seeded random positions) set to +/- `magnitude`."""
    w = np.array(w, dtype=np.float32, copy=True)
    if isinstance(count, bool) or not isinstance(count, (int, np.integer)) or not 0 <= count <= w.size:
        raise ValueError(f"count={count!r} must be an integer from 0 to the number of weights ({w.size})")
    if not np.isfinite(magnitude):
        raise ValueError(f"magnitude={magnitude!r} must be finite")
    rng = np.random.default_rng(seed)
    positions = rng.choice(w.size, size=count, replace=False)
    signs = rng.choice([-1.0, 1.0], size=count)
    w.reshape(-1)[positions] = signs * magnitude
    return w


def weights(distribution="gaussian", n=4096, std=0.02, outliers=0, outlier_magnitude=10.0, seed=0):
    """One call for the explorers: `n` seeded weights of a named distribution, plus optional outliers.

    `outlier_magnitude` is in units of `std` (10 means ten standard deviations), so the picture keeps
    its shape when std changes.
    """
    generators = {"gaussian": gaussian, "laplace": laplace, "student-t": student_t}
    if distribution not in generators:
        raise ValueError(f"distribution={distribution!r} is not known; choose one of {', '.join(DISTRIBUTIONS)}")
    w = generators[distribution](n, std=std, seed=seed)
    return with_outliers(w, outliers, outlier_magnitude * std, seed=seed + 1) if outliers else w

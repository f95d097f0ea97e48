"""quantlab: how LLM weight quantization really works, in small numpy functions you can read.

The names a notebook needs most are here; every public module is reachable as `quantlab.<name>`
(loaded on first use, as scipy does): the core (uniform, floats, memory, metrics, data, outliers,
tradeoff, codebook, codebook_tradeoff, progress), the domains (ggml, mixes, models, lm, calibration,
activations, runtime, claims), and the
layers learners touch (plots, widgets, checks, figures).
"""

import importlib
from importlib.metadata import PackageNotFoundError, version

from . import data, metrics  # noqa: F401  (the two modules every notebook uses)
from .metrics import error_report, max_abs_error, mse, rmse, sqnr_db
from .uniform import QuantizedTensor, code_range, dequantize, fake_quantize, quantize

try:
    __version__ = version("quantlab")  # the one place it is written: pyproject.toml
except PackageNotFoundError:  # a source tree that was never installed
    __version__ = "unknown (not installed)"

SUBMODULES = (
    "codebook",
    "codebook_tradeoff",
    "data",
    "floats",
    "memory",
    "metrics",
    "nn",
    "outliers",
    "progress",
    "tradeoff",
    "uniform",
    "ggml",
    "mixes",
    "models",
    "lm",
    "calibration",
    "activations",
    "claims",
    "runtime",
    "plots",
    "widgets",
    "checks",
    "figures",
)

__all__ = [
    "QuantizedTensor",
    "code_range",
    "dequantize",
    "error_report",
    "fake_quantize",
    "max_abs_error",
    "mse",
    "quantize",
    "rmse",
    "sqnr_db",
    *SUBMODULES,
]


def __getattr__(name):
    """Load a public module on first use: `ql.codebook.kmeans` works without `import quantlab.codebook`."""
    if name in SUBMODULES:
        return importlib.import_module(f"{__name__}.{name}")
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__():
    return sorted(set(globals()) | set(SUBMODULES))

"""quantlab: how LLM weight quantization really works, in small numpy functions you can read.

The names a notebook needs most are here; each module has one job (see its docstring).
"""

from . import data, metrics
from .metrics import error_report, max_abs_error, mse, rmse, sqnr_db
from .uniform import QuantizedTensor, code_range, dequantize, fake_quantize, quantize

__version__ = "0.1.0"

__all__ = [
    "QuantizedTensor",
    "code_range",
    "data",
    "dequantize",
    "error_report",
    "fake_quantize",
    "max_abs_error",
    "metrics",
    "mse",
    "quantize",
    "rmse",
    "sqnr_db",
]

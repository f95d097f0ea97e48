"""Methods that look at data before rounding: llama.cpp's importance matrix, GPTQ and AWQ.

All three aim at one objective, the layer's output error ||W X - W_hat X||^2 on calibration inputs
(objective.py). Conventions: a linear layer's weight is (out_features, in_features) and computes
y = W x; calibration inputs are given as a layer sees them, one row per token, (n_tokens,
in_features), so the papers' X (features x tokens) is inputs.T.
"""

from . import awq, gptq, imatrix, lesson, minilm, objective, reports
from .objective import output_error

__all__ = ["awq", "gptq", "imatrix", "lesson", "minilm", "objective", "output_error", "reports"]

"""Our character-level Shakespeare model in numpy, its evaluation, and the quality of each llama.cpp mix.

model        the trained CharLM (load, forward pass, generate)
evaluation   perplexity, KL divergence, strided held-out evaluation
quality      a mix applied to the CharLM, scored against F32; the committed quality table
type_quality one type for every block matrix: the newer GGML types beside the K-quants
reports      those numbers as text, beside llama.cpp's published ones and the article's
"""

import importlib

from .model import CharLM, CharLMConfig

SUBMODULES = ("model", "evaluation", "quality", "type_quality", "reports")

__all__ = ["CharLM", "CharLMConfig", *SUBMODULES]


def __getattr__(name):
    """Load a submodule on first use (quantlab.lm.quality), as scipy does."""
    if name in SUBMODULES:
        return importlib.import_module(f"{__name__}.{name}")
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")

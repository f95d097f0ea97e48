"""Real weights: safetensors and GGUF readers, the pip-installable models, MiniLM in numpy, outlier channels.

    weight_files      safetensors and GGUF readers (rows decoded on request)
    packaged          the installed model packages (MiniLM, Gemma 3 270M Q4_K_M); what to pip-install
    minilm            a numpy MiniLM encoder and its embedding fidelity under each GGML type
    outlier_channels  how far a matrix's largest weights stand out, and the groups they ruin
    minilm_outliers   those measurements over every MiniLM matrix
    minilm_reports    the above as text tables

The packaged models' loaders are re-exported here: quantlab.models.open_gemma(), .load_minilm(), ...
"""

import importlib

from .packaged import (
    MissingModelPackage,
    gemma_path,
    gemma_ready,
    load_minilm,
    minilm_config,
    minilm_dir,
    minilm_linear_weights,
    minilm_ready,
    open_gemma,
    open_gguf,
    real_row,
)

SUBMODULES = ("weight_files", "packaged", "minilm", "outlier_channels", "minilm_outliers", "minilm_reports")

__all__ = [
    "MissingModelPackage",
    "gemma_path",
    "gemma_ready",
    "load_minilm",
    "minilm_config",
    "minilm_dir",
    "minilm_linear_weights",
    "minilm_ready",
    "open_gemma",
    "open_gguf",
    "real_row",
    *SUBMODULES,
]


def __getattr__(name):
    """Load a submodule on first use (quantlab.models.minilm), as scipy does."""
    if name in SUBMODULES:
        return importlib.import_module(f"{__name__}.{name}")
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")

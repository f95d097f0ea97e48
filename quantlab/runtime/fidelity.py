"""One MiniLM file, three computations: llama.cpp, quantlab's numpy on the file's weights, and FP32.

    result = compare_minilm("minilm-q4_0.gguf")
    result.cosine_numpy_llama.min()    # same weights, two engines
    result.cosine_llama_fp32.mean()    # what quantization costs, as llama.cpp runs it
    result.cosine_emulated_llama       # numpy with ggml-cpu's activation rounding and GELU (ggml_cpu.py)

Why (a) numpy vs llama.cpp is not 1.0 on a quantized file: llama.cpp rounds the activations to
Q8_0/Q8_K before each quantized matrix product (ggml_cpu.py). Emulating that closes most of the
gap on one matrix, but not on the whole encoder: the rounding is a step function, so a last-bit
difference anywhere (float32 sums taken in another order) moves some activations across a step,
and the moves propagate. `nudge_ulp` measures that sensitivity inside numpy alone.
"""

from dataclasses import dataclass

import numpy as np

from ..models.minilm import SENTENCES, cosine, embed as embed_numpy
from . import ggml_cpu
from .engine import Engine
from .minilm_file import gguf_names, read_minilm


@dataclass(frozen=True)
class MiniLMComparison:
    """Cosine per sentence between the embeddings of one file computed three (four) ways."""

    path: str
    types: dict  # {GGUF name: type} as stored in the file
    cosine_numpy_llama: np.ndarray  # (a) quantlab's numpy MiniLM on the file's weights vs llama.cpp
    cosine_llama_fp32: np.ndarray  # (b) llama.cpp on the file vs numpy FP32
    cosine_numpy_fp32: np.ndarray  # numpy on the file's weights vs numpy FP32
    cosine_emulated_llama: np.ndarray  # numpy with ggml-cpu's roundings vs llama.cpp

    def row(self):
        """{column: value}: min and mean of each cosine, for a table."""
        out = {}
        for name in ("numpy_llama", "llama_fp32", "numpy_fp32", "emulated_llama"):
            values = getattr(self, f"cosine_{name}")
            out[f"{name} min"], out[f"{name} mean"] = float(values.min()), float(values.mean())
        return out


def file_types_by_hf_name(path):
    """{Hugging Face name: stored type} of a MiniLM file's tensors."""
    from ..models.weight_files import GGUFFile

    to_hf = {gguf_name: hf_name for hf_name, gguf_name in gguf_names().items()}
    with GGUFFile(path) as model:
        return {to_hf[name]: t.type_name for name, t in model.tensors.items() if name in to_hf}


def compare_minilm(path, sentences=SENTENCES, fp32=None, flash_attention=False):
    """Embed `sentences` with llama.cpp (xllamacpp) and with numpy on the file's weights; compare.

    flash_attention=False keeps llama.cpp's attention in float32 (with it, K and V are cast to
    F16), so that the weights and the activation rounding are what differs.
    """
    sentences = list(sentences)
    fp32 = embed_numpy(sentences) if fp32 is None else fp32
    with Engine(path, embedding=True, flash_attention=flash_attention) as engine:
        llama = engine.embed(sentences)
    weights = read_minilm(path)
    numpy_vectors = embed_numpy(sentences, weights)
    types = file_types_by_hf_name(path)
    emulated = ggml_cpu.embed(sentences, weights, types)
    stored = {gguf_names()[name]: t for name, t in types.items()}
    return MiniLMComparison(
        str(path),
        stored,
        cosine(numpy_vectors, llama),
        cosine(llama, fp32),
        cosine(numpy_vectors, fp32),
        cosine(emulated, llama),
    )


def nudge_ulp(weights, types, seed=0):
    """The weights with every quantized matrix moved by one float32 step up or down at random."""
    rng = np.random.default_rng(seed)
    nudged = dict(weights)
    for name, type_name in types.items():
        if type_name != "F32" and weights[name].ndim == 2:
            direction = np.where(rng.random(weights[name].shape) < 0.5, np.float32(np.inf), np.float32(-np.inf))
            nudged[name] = np.nextafter(weights[name], direction)
    return nudged


def ulp_sensitivity(path, sentences=SENTENCES, seed=0):
    """1 - cosine between numpy runs on the file's weights and on the weights nudged by one ulp.

    Returns {"plain": per-sentence, "ggml": per-sentence}: without activation rounding a one-ulp
    change stays at ~1e-8; with ggml-cpu's rounding it grows to the size of (a)'s residual.
    """
    sentences = list(sentences)
    weights, types = read_minilm(path), file_types_by_hf_name(path)
    nudged = nudge_ulp(weights, types, seed)
    out = {}
    for label, activations in (("plain", False), ("ggml", True)):
        a = ggml_cpu.embed(sentences, weights, types, activations=activations)
        b = ggml_cpu.embed(sentences, nudged, types, activations=activations)
        out[label] = 1 - cosine(a, b)
    return out

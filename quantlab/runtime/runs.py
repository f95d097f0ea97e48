"""MiniLM written in a chosen mix and run in llama.cpp, cached per choice: notebook 11's explorer and exercise.

    runner = minilm_runner()                        # one per process: FP32 embeddings, a temp folder, a cache
    run = runner.run("Q4_K_M", {"ffn_down": "Q8_0"})  # write (~1 s), load in llama.cpp, embed, compare
    run.n_bytes, run.cosine_llama.min(), run.cosine_numpy.min()

A choice is a llama.cpp mix (quantlab.runtime.minilm_file.plan(mix=...), its row-length fallbacks
included) with optional overrides: a tensor role ("attn_q", "ffn_down", "token_embd", ...) set to
one type for every layer, or a full {GGUF tensor name: type} map. Each distinct choice is written,
loaded and measured once; asking again returns the cached result.
"""

from dataclasses import dataclass, replace
import tempfile
from pathlib import Path

import numpy as np

from ..models import minilm
from . import minilm_file
from .engine import Engine

ROLES = ("token_embd", *minilm_file.ENCODER_MATRICES)
THRESHOLD = 0.99  # the exercise's bar: cosine to FP32 on every sentence

# What notebook 11's explorer offers: a llama.cpp mix, then optionally one type for the token embedding
# and one for all 36 encoder matrices (None: as the mix). quantlab.runtime.table measures every choice.
MIXES = (
    "Q8_0",
    "Q6_K",
    "Q5_K_M",
    "Q5_K_S",
    "Q5_1",
    "Q5_0",
    "Q4_K_M",
    "Q4_K_S",
    "Q4_1",
    "Q4_0",
    "Q3_K_M",
    "Q2_K",
    "F16",
)
MATRIX_TYPES = (
    "F16",
    "Q8_0",
    "Q5_1",
    "Q5_0",
    "Q4_1",
    "Q4_0",
    "IQ4_NL",
)  # 32-weight blocks: every MiniLM row takes them
EMBEDDING_TYPES = ("F32", *MATRIX_TYPES)


@dataclass(frozen=True)
class MiniLMRun:
    """One MiniLM file: its types and size, and each sentence's cosine to FP32 in llama.cpp and in numpy."""

    label: str
    types: dict  # {GGUF name: type} of every tensor
    n_bytes: int  # the file on disk
    bits_per_weight: float  # file bits over weights (metadata and vocabulary included)
    cosine_llama: np.ndarray  # llama.cpp on the file vs numpy FP32, per sentence
    cosine_numpy: np.ndarray  # quantlab's numpy MiniLM on the file's decoded weights vs FP32

    @property
    def type_counts(self):
        """{type: number of matrices} of the quantized tensors (F32 norms, biases and tables left out)."""
        counts = {}
        for type_name in self.types.values():
            if type_name != "F32":
                counts[type_name] = counts.get(type_name, 0) + 1
        return counts

    @property
    def passes(self):
        """Whether llama.cpp keeps a cosine of at least THRESHOLD on every sentence."""
        return bool(self.cosine_llama.min() >= THRESHOLD)


def role_of(name):
    """The role of a GGUF tensor name ('blk.3.ffn_down.weight' -> 'ffn_down'), or None for 1-D tensors."""
    parts = name.split(".")
    return parts[-2] if len(parts) >= 2 and parts[-1] == "weight" and parts[-2] in ROLES else None


def choice_plan(mix="Q4_K_M", overrides=None):
    """{GGUF name: type} for every tensor: a llama.cpp mix, then overrides by role or by tensor name."""
    types = minilm_file.plan(mix=mix)
    overrides = dict(overrides or {})
    by_role = {k: v for k, v in overrides.items() if k in ROLES}
    by_name = {k: v for k, v in overrides.items() if k not in ROLES}
    for name in types:
        if role_of(name) in by_role:
            types[name] = by_role[role_of(name)]
    if by_name:
        types.update(minilm_file.check_plan(by_name, minilm_file.tensor_shapes()))
    return minilm_file.check_plan(types, minilm_file.tensor_shapes())


def choice_label(mix, overrides=None):
    """'Q4_K_M' or 'Q4_K_M, ffn_down Q8_0'."""
    extra = ", ".join(f"{k} {v}" for k, v in sorted((overrides or {}).items()))
    return f"{mix}, {extra}" if extra else mix


def explorer_overrides(token_embd=None, matrices=None):
    """{role: type} of the explorer's two override dropdowns (the 36 encoder matrices by their six roles)."""
    chosen = {} if matrices is None else {role: matrices for role in ROLES if role != "token_embd"}
    if token_embd is not None:
        chosen["token_embd"] = token_embd
    return chosen


def explorer_label(mix, token_embd=None, matrices=None):
    """'Q4_K_M' or 'Q8_0, token_embd Q4_0, matrices F16': the explorer's choice as its title says it."""
    extra = [f"{name} {value}" for name, value in (("token_embd", token_embd), ("matrices", matrices)) if value]
    return ", ".join([mix, *extra])


def explorer_choices():
    """Every (mix, token_embd, matrices) the explorer's dropdowns can produce (None: as the mix): 13 x 9 x 8."""
    return [(m, e, t) for m in MIXES for e in (None, *EMBEDDING_TYPES) for t in (None, *MATRIX_TYPES)]


class MiniLMRunner:
    """Writes, loads and measures MiniLM files, once per distinct set of types (results cached)."""

    def __init__(self, sentences=minilm.SENTENCES):
        self.sentences = list(sentences)
        self.fp32 = minilm.embed(self.sentences)
        self._folder = tempfile.TemporaryDirectory(prefix="quantlab-minilm-")
        self._cache = {}

    @property
    def folder(self):
        return Path(self._folder.name)

    def f32_bytes(self):
        """The size of MiniLM's all-F32 file (written once, not run)."""
        if "f32_bytes" not in self._cache:
            path = self.folder / "minilm-f32.gguf"
            self._cache["f32_bytes"] = minilm_file.write_minilm(path, types="F32").n_bytes
            path.unlink()
        return self._cache["f32_bytes"]

    def run(self, mix="Q4_K_M", overrides=None):
        """The MiniLMRun of a mix with overrides (see choice_plan); written and measured on first use."""
        return self.run_types(choice_plan(mix, overrides), choice_label(mix, overrides))

    def run_types(self, types, label="custom"):
        """The MiniLMRun of a full {GGUF name: type} plan."""
        key = tuple(sorted(types.items()))
        if key not in self._cache:
            path = self.folder / f"minilm-{len(self._cache)}.gguf"
            info = minilm_file.write_minilm(path, types=types)
            with Engine(path, embedding=True, flash_attention=False) as engine:  # attention in F32, as numpy's
                llama = engine.embed(self.sentences)
            numpy_vectors = minilm.embed(self.sentences, minilm_file.read_minilm(path))
            self._cache[key] = MiniLMRun(
                label,
                dict(info.types),
                info.n_bytes,
                info.bits_per_weight,
                minilm.cosine(llama, self.fp32),
                minilm.cosine(numpy_vectors, self.fp32),
            )
            path.unlink()  # the numbers are kept; the file is not needed again
        return replace(self._cache[key], label=label)


_RUNNER = []


def minilm_runner():
    """The process's MiniLMRunner (made on first use: FP32 embeddings of the 40 sentences, ~2 s)."""
    if not _RUNNER:
        _RUNNER.append(MiniLMRunner())
    return _RUNNER[0]


def one_matrix_errors(runner, name="blk.5.ffn_up.weight", type_name="Q8_0", n_sentences=40):
    """One matrix quantized, the rest F32: 1 - cosine to llama.cpp of numpy plain, and with ggml-cpu's roundings.

    Returns {label: per-sentence 1 - cosine}: quantlab's numpy MiniLM on the file's weights; the
    same with ggml-cpu's float16 GELU table (every file, F32 included, gets it); and with the
    activations also rounded as ggml-cpu rounds them before that matrix's product (VEC_DOT_TYPES).
    """
    from . import ggml_cpu
    from .fidelity import file_types_by_hf_name

    sentences = runner.sentences[:n_sentences]
    path = runner.folder / f"one-{type_name}.gguf"
    minilm_file.write_minilm(path, types={name: type_name})
    with Engine(path, embedding=True, flash_attention=False) as engine:  # attention in F32, as numpy's
        llama = engine.embed(sentences)
    weights, types = minilm_file.read_minilm(path), file_types_by_hf_name(path)
    path.unlink()
    vectors = {
        "plain numpy, the file's weights": minilm.embed(sentences, weights),
        "+ ggml's float16 GELU table": ggml_cpu.embed(sentences, weights, types, activations=False),
        f"+ activations rounded to {ggml_cpu.VEC_DOT_TYPES[type_name]} before the product": ggml_cpu.embed(
            sentences, weights, types
        ),
    }
    return {label: 1 - minilm.cosine(v, llama) for label, v in vectors.items()}

"""How big a model is under each llama.cpp mix, and whether it fits in memory with its KV cache.

    arch = ARCHITECTURES["Llama-2-7B"]
    mix_size(arch, "Q4_K_M").gib                  # weights only, every tensor counted
    memory_fit(arch, "Q4_K_M", budget_gib=6, n_ctx=4096)

An architecture becomes the list of GGUF tensors llama.cpp's converter writes for a llama-style
decoder (embeddings, per layer attn_q/k/v/output, ffn_gate/up/down and norms, output), each tensor
gets its type from quantlab.recipes, and its bytes follow from the type's block size and bytes per
block (quantlab.ggml.FORMATS). GB are 10^9 bytes, GiB 2^30 (see quantlab.memory).
"""

from collections import Counter
from dataclasses import dataclass

from ..ggml import FORMATS
from ..memory import GB, GIB
from .recipes import MIXES, explain_types


@dataclass(frozen=True)
class Architecture:
    """The few numbers that fix a decoder's tensor shapes (names follow GGUF).

    head_dim defaults to d_model // n_head and n_head_kv to n_head (no grouped-query attention).
    qk_norm / post_norms add Gemma 3's extra 1-D norms; rope_freqs adds Llama 3.1's 1-D table.
    """

    name: str
    n_layer: int
    d_model: int
    d_ff: int
    vocab_size: int
    n_head: int
    n_head_kv: int = None
    head_dim: int = None
    tied_embeddings: bool = False
    gated_ffn: bool = True
    qk_norm: bool = False
    post_norms: bool = False
    rope_freqs: bool = False
    architecture: str = "llama"

    def __post_init__(self):
        for field in ("n_layer", "d_model", "d_ff", "vocab_size", "n_head"):
            value = getattr(self, field)
            if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
                raise ValueError(f"{field}={value!r} must be a positive integer")
        if self.n_head_kv is None:
            object.__setattr__(self, "n_head_kv", self.n_head)
        if self.head_dim is None:
            if self.d_model % self.n_head:
                raise ValueError(
                    f"d_model={self.d_model} is not a multiple of n_head={self.n_head}; pass head_dim explicitly"
                )
            object.__setattr__(self, "head_dim", self.d_model // self.n_head)
        if not (
            isinstance(self.n_head_kv, int) and 0 < self.n_head_kv <= self.n_head and self.n_head % self.n_head_kv == 0
        ):
            raise ValueError(
                f"n_head_kv={self.n_head_kv!r} must divide n_head={self.n_head} "
                f"(each K/V head serves n_head / n_head_kv query heads)"
            )
        if not (isinstance(self.head_dim, int) and self.head_dim > 0):
            raise ValueError(f"head_dim={self.head_dim!r} must be a positive integer")

    def tensors(self):
        """{GGUF name: GGUF shape}, shape[0] being the row length (the input width of a matrix)."""
        d, q_width, kv_width = self.d_model, self.n_head * self.head_dim, self.n_head_kv * self.head_dim
        shapes = {"token_embd.weight": (d, self.vocab_size), "output_norm.weight": (d,)}
        if not self.tied_embeddings:
            shapes["output.weight"] = (d, self.vocab_size)
        if self.rope_freqs:
            shapes["rope_freqs.weight"] = (self.head_dim // 2,)
        for i in range(self.n_layer):
            layer = {
                "attn_norm": (d,),
                "attn_q": (d, q_width),
                "attn_k": (d, kv_width),
                "attn_v": (d, kv_width),
                "attn_output": (q_width, d),
                "ffn_norm": (d,),
                "ffn_up": (d, self.d_ff),
                "ffn_down": (self.d_ff, d),
            }
            if self.gated_ffn:
                layer["ffn_gate"] = (d, self.d_ff)
            if self.qk_norm:
                layer["attn_q_norm"] = layer["attn_k_norm"] = (self.head_dim,)
            if self.post_norms:
                layer["post_attention_norm"] = layer["post_ffw_norm"] = (d,)
            shapes.update({f"blk.{i}.{part}.weight": shape for part, shape in layer.items()})
        return shapes

    @property
    def n_params(self):
        return sum(_count(shape) for shape in self.tensors().values())

    def hparams(self):
        """The keyword arguments quantlab.recipes needs for this architecture."""
        return {
            "n_layer": self.n_layer,
            "n_head": self.n_head,
            "n_head_kv": self.n_head_kv,
            "architecture": self.architecture,
        }


# Published shapes (each model's config.json); Gemma 3 270M's match the real GGUF file tensor for tensor.
ARCHITECTURES = {
    a.name: a
    for a in [
        Architecture("Llama-2-7B", 32, 4096, 11008, 32000, 32),
        Architecture("Llama-2-13B", 40, 5120, 13824, 32000, 40),
        Architecture("Llama-2-70B", 80, 8192, 28672, 32000, 64, n_head_kv=8),
        Architecture("Llama-3.1-8B", 32, 4096, 14336, 128256, 32, n_head_kv=8, rope_freqs=True),
        Architecture("Mistral-7B", 32, 4096, 14336, 32000, 32, n_head_kv=8),
        Architecture(
            "Gemma-3-270M",
            18,
            640,
            2048,
            262144,
            4,
            n_head_kv=1,
            head_dim=256,
            tied_embeddings=True,
            qk_norm=True,
            post_norms=True,
            architecture="gemma3",
        ),
    ]
}


def _count(shape):
    n = 1
    for dim in shape:
        n *= dim
    return n


@dataclass(frozen=True)
class MixSize:
    """A model's weights under one mix: bytes, bits per weight, and how many tensors of each type."""

    mix: str
    n_weights: int
    n_bytes: int
    type_counts: dict

    @property
    def bits_per_weight(self):
        return 8 * self.n_bytes / self.n_weights

    @property
    def gb(self):
        return self.n_bytes / GB

    @property
    def gib(self):
        return self.n_bytes / GIB


def _tensors_and_hparams(model, options):
    if isinstance(model, Architecture):
        return model.tensors(), {**model.hparams(), **options}
    if hasattr(model, "items"):
        return model, options
    raise TypeError(
        f"model must be an Architecture (e.g. ARCHITECTURES['Llama-2-7B']) or a dict of "
        f"{{GGUF name: GGUF shape}}, got {type(model).__name__}"
    )


def mix_size(model, mix, **options):
    """Size of every tensor under `mix`, added up (1-D norms included, as llama.cpp reports sizes)."""
    tensors, options = _tensors_and_hparams(model, options)
    choices = explain_types(tensors, mix, **options)
    return MixSize(
        mix.upper(),
        sum(c.n_weights for c in choices),
        sum(c.n_bytes for c in choices),
        dict(Counter(c.type_name for c in choices)),
    )


def size_table(model, mixes=MIXES, **options):
    """mix_size for each mix, smallest first."""
    return sorted((mix_size(model, mix, **options) for mix in mixes), key=lambda s: s.n_bytes)


def kv_cache_bytes(n_layer, n_ctx, n_head_kv, head_dim, cache_type="F16"):
    """Bytes of the K and V caches: 2 x n_layer x n_ctx x n_head_kv x head_dim x bytes per element.

    cache_type is llama.cpp's --cache-type-k/v: F16 (its default, 2 bytes), F32, or a block type such
    as Q8_0 (34 bytes per 32). Sliding-window layers (Gemma 3) need less than this full-context figure.
    """
    for name, value in (("n_layer", n_layer), ("n_ctx", n_ctx), ("n_head_kv", n_head_kv), ("head_dim", head_dim)):
        if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
            raise ValueError(f"{name}={value!r} must be a positive integer")
    fmt = FORMATS.get(str(cache_type).upper())
    if fmt is None or fmt.name not in ("F32", "F16", "Q8_0", "Q5_1", "Q5_0", "Q4_1", "Q4_0", "IQ4_NL"):
        raise ValueError(
            f"cache_type={cache_type!r}; llama.cpp caches K and V as F16 (default), F32, Q8_0, "
            f"Q5_1, Q5_0, Q4_1, Q4_0 or IQ4_NL"
        )
    row = n_head_kv * head_dim
    if row % fmt.block_size:
        raise ValueError(
            f"a cache row of n_head_kv x head_dim = {row} is not whole {fmt.name} blocks of "
            f"{fmt.block_size}; use cache_type='F16'"
        )
    return 2 * n_layer * n_ctx * fmt.n_bytes(row)


@dataclass(frozen=True)
class MemoryFit:
    """Weights plus KV cache against a memory budget (compute buffers and the runtime not included)."""

    mix: str
    weights_bytes: int
    kv_cache_bytes: int
    budget_bytes: int

    @property
    def total_bytes(self):
        return self.weights_bytes + self.kv_cache_bytes

    @property
    def fits(self):
        return self.total_bytes <= self.budget_bytes

    @property
    def headroom_gib(self):
        return (self.budget_bytes - self.total_bytes) / GIB


def memory_fit(arch, mix, budget_gib, n_ctx=4096, cache_type="F16", **options):
    """Does `arch` under `mix`, with a KV cache for n_ctx tokens, fit in budget_gib GiB?"""
    if not isinstance(arch, Architecture):
        raise TypeError(f"arch must be an Architecture (e.g. ARCHITECTURES['Llama-2-7B']), got {type(arch).__name__}")
    if isinstance(budget_gib, bool) or not isinstance(budget_gib, (int, float)) or not budget_gib > 0:
        raise ValueError(f"budget_gib={budget_gib!r} must be a positive number of GiB, e.g. 8")
    weights = mix_size(arch, mix, **options).n_bytes
    cache = kv_cache_bytes(arch.n_layer, n_ctx, arch.n_head_kv, arch.head_dim, cache_type)
    return MemoryFit(mix.upper(), weights, cache, int(budget_gib * GIB))


def what_fits(arch, budget_gib, n_ctx=4096, cache_type="F16", mixes=MIXES, **options):
    """memory_fit for every mix, largest first: the first one that fits is the best quality you can run."""
    fits = [memory_fit(arch, mix, budget_gib, n_ctx, cache_type, **options) for mix in mixes]
    return sorted(fits, key=lambda f: -f.weights_bytes)

"""Notebook 07's calculator: every mix's weights plus KV cache against a memory budget (nothing drawn)."""

import functools
from dataclasses import dataclass

import numpy as np

from ..memory import GB, GIB
from . import recipes, sizes
from .classes import CLASS_ORDER, ClassShare, class_shares, layer_types
from .published import LLAMA_3_8B, LLAMA_3_8B_QUALITY

# The mixes the calculator offers, largest first: the list plus F16 as the reference.
CALCULATOR_MIXES = (
    "F16",
    "Q8_0",
    "Q6_K",
    "Q5_K_M",
    "Q5_K_S",
    "Q4_K_M",
    "Q4_K_S",
    "Q4_0",
    "Q3_K_L",
    "Q3_K_M",
    "Q3_K_S",
    "Q2_K",
)
CONTEXTS = tuple(2**k for k in range(9, 18))  # 512 ... 131,072 tokens
CACHE_TYPES = ("F16", "Q8_0", "Q4_0")  # llama.cpp's --cache-type-k/-v (F16 is its default)


def architecture(model):
    """A preset's sizes.Architecture by name (or the Architecture itself), refusing unknown names."""
    if isinstance(model, sizes.Architecture):
        return model
    if model not in sizes.ARCHITECTURES:
        raise ValueError(
            f"model={model!r} is not a preset; choose one of {', '.join(sizes.ARCHITECTURES)} "
            f"(or pass a quantlab.mixes.sizes.Architecture)"
        )
    return sizes.ARCHITECTURES[model]


@functools.lru_cache(maxsize=16)
def model_sizes(arch):
    """{mix: sizes.MixSize} for every calculator mix (cached: a model's sizes never change)."""
    return {mix: sizes.mix_size(arch, mix) for mix in CALCULATOR_MIXES}


@functools.lru_cache(maxsize=1)
def quality_bits_per_weight():
    """Bits per weight of Llama 3 8B under each scoreboard mix, as computed by quantlab.sizes."""
    return {mix: sizes.mix_size(LLAMA_3_8B, mix).bits_per_weight for mix in LLAMA_3_8B_QUALITY}


@dataclass(frozen=True, eq=False)
class Calculation:
    """Every calculator mix for one model, context, cache type and budget (nothing drawn)."""

    arch: sizes.Architecture
    mix: str
    n_ctx: int
    cache_type: str
    budget_gib: float
    fits: tuple  # sizes.MemoryFit per CALCULATOR_MIXES, same order
    bits_per_weight: tuple

    def fit(self, mix):
        return self.fits[CALCULATOR_MIXES.index(mix)]

    @property
    def best(self):
        """The largest mix that fits (the best quality you can run), or None."""
        return next((f.mix for f in self.fits if f.fits), None)

    def text(self):
        """The readout: the selected mix in numbers, what fits, and llama.cpp's published quality."""
        fit = self.fit(self.mix)
        bits = self.bits_per_weight[CALCULATOR_MIXES.index(self.mix)]
        spare = "fits" if fit.fits else "does NOT fit"
        lines = [
            f"{self.arch.name}, {self.mix}",
            f"  {bits:.3f} bits/weight",
            f"weights   {fit.weights_bytes / GIB:6.2f} GiB ({fit.weights_bytes / GB:.2f} GB)",
            f"KV cache  {fit.kv_cache_bytes / GIB:6.2f} GiB",
            f"  {self.cache_type}, {self.n_ctx:,} tokens",
            f"total     {fit.total_bytes / GIB:6.2f} GiB of {self.budget_gib:g} GiB",
            f"  {spare} ({fit.headroom_gib:+.2f} GiB)",
            f"largest that fits: {self.best or 'none'}",
        ]
        if self.arch.architecture == "gemma3":
            lines.append("  (cache: full-context bound;\n   sliding-window layers use less)")
        quality = LLAMA_3_8B_QUALITY.get(self.mix)
        lines += [
            "published, Llama 3 8B:",
            f"  {self.mix}: PPL +{quality[2]:.3f}, KLD {quality[3]:.4f}",
            "  (llama.cpp tools/perplexity)",
        ]
        return "\n".join(lines)


def calculate(model="Llama-3.1-8B", mix="Q4_K_M", n_ctx=8192, cache_type="F16", budget_gib=8.0):
    """Weights + KV cache of every calculator mix against `budget_gib` GiB (sizes from quantlab.sizes)."""
    arch = architecture(model)
    if mix not in CALCULATOR_MIXES:
        raise ValueError(f"mix={mix!r} is not offered; choose one of {', '.join(CALCULATOR_MIXES)}")
    if isinstance(budget_gib, bool) or not isinstance(budget_gib, (int, float)) or not budget_gib > 0:
        raise ValueError(f"budget_gib={budget_gib!r} must be a positive number of GiB, e.g. 8")
    cache = sizes.kv_cache_bytes(arch.n_layer, int(n_ctx), arch.n_head_kv, arch.head_dim, cache_type)
    table = model_sizes(arch)
    budget = int(budget_gib * GIB)
    fits = tuple(sizes.MemoryFit(m, table[m].n_bytes, cache, budget) for m in CALCULATOR_MIXES)
    bits = tuple(table[m].bits_per_weight for m in CALCULATOR_MIXES)
    return Calculation(arch, mix, int(n_ctx), cache_type, float(budget_gib), fits, bits)


# The quality panel: every calculator mix but F16 (its published increase is only the rounding of
# the stored reference logits).
QUALITY_MIXES = tuple(m for m in CALCULATOR_MIXES if m != "F16")


@dataclass(frozen=True, eq=False)
class MixView:
    """One model under one mix: the per-tensor choices, grouped by class and by layer (nothing drawn)."""

    arch: sizes.Architecture
    mix: str
    choices: tuple
    shares: tuple  # ClassShare per CLASS_ORDER entry (zeros for absent classes)
    layer_types: np.ndarray

    @property
    def n_bytes(self):
        return sum(s.n_bytes for s in self.shares)

    @property
    def n_weights(self):
        return sum(s.n_weights for s in self.shares)

    @property
    def bits_per_weight(self):
        return 8 * self.n_bytes / self.n_weights

    def text(self):
        lines = [
            f"{self.arch.name}, {self.mix}:",
            f"  {self.bits_per_weight:.3f} bits/weight, {self.n_bytes / GIB:.3g} GiB",
            f"{'class':<12}{'bytes':>6}{'bpw':>6}  types",
        ]
        for share in self.shares:
            if share.n_weights:
                lines.append(
                    f"{share.name[:11]:<12}{100 * share.n_bytes / self.n_bytes:5.1f}%{share.bits_per_weight:6.2f}  "
                    f"{share.types_text()}"
                )
        if not any(s.name == "output" and s.n_weights for s in self.shares):
            lines.append("(tied: token_embd is also the output)")
        return "\n".join(lines)


@functools.lru_cache(maxsize=64)
def mix_view(arch, mix):
    """MixView of a preset architecture under `mix` (cached)."""
    choices = tuple(recipes.explain_types(arch.tensors(), mix, **arch.hparams()))
    present = {s.name: s for s in class_shares(choices)}
    shares = tuple(present.get(c, ClassShare(c, 0, 0, {})) for c in CLASS_ORDER)
    return MixView(arch, mix, choices, shares, layer_types(choices, arch.n_layer))

"""Notebook 07's explorers: what fits in your memory at what quality, and where a mix puts its bits.

- MixCalculator: model, mix, context length, KV-cache type, memory budget -> every mix's weights plus
  KV cache against the budget, the largest mix that fits, and llama.cpp's published quality.
- MixExplorer: model and mix -> each tensor class's share of the weights and of the bytes, and the
  type llama.cpp gives every tensor, layer by layer.

Built like quantlab.widgets.QuantizationExplorer: controls -> compute() (quantlab.recipes and
quantlab.sizes) -> redraw(result) in place (quantlab.mix_plots) -> summary(result) as text. The
helpers above the explorers are plain functions the notebook also calls.
"""

import functools
import re
from collections import Counter
from dataclasses import dataclass

import ipywidgets as W
import numpy as np

from . import mix_plots, recipes, sizes
from .ggml.registry import FORMATS
from .memory import GB, GIB
from .widgets import Explorer, _dropdown, _slider

# The mixes the calculator offers, largest first: the list plus F16 as the reference.
CALCULATOR_MIXES = ("F16", "Q8_0", "Q6_K", "Q5_K_M", "Q5_K_S", "Q4_K_M", "Q4_K_S", "Q4_0", "Q3_K_L", "Q3_K_M",
                    "Q3_K_S", "Q2_K")
CONTEXTS = tuple(2**k for k in range(9, 18))          # 512 ... 131,072 tokens
CACHE_TYPES = ("F16", "Q8_0", "Q4_0")                # llama.cpp's --cache-type-k/-v (F16 is its default)

# --- llama.cpp's published figures ------------------------------------------------------------------
# Quality: tools/perplexity/README.md, "LLaMA 3 8b Scoreboard" (measured at llama.cpp revision f364eb6f,
# Wikitext-2, CUDA on an RTX 4090), read in llama.cpp@0c1e57098 (vendored in llama-cpp-python 0.3.36;
# the same numbers at @4227c9be, 0.3.16). Rows without an importance matrix ("imatrix None"):
# mix -> (model size GiB, PPL, PPL increase over F16, mean KL divergence to F16). The F16 row's
# increase is only the 16-bit rounding of the stored reference logits (as the README says).
LLAMA_3_8B_QUALITY = {
    "F16": (14.97, 6.233160, 0.001524, 0.000551),
    "Q8_0": (7.96, 6.234284, 0.002650, 0.001355),
    "Q6_K": (6.14, 6.253382, 0.021748, 0.005452),
    "Q5_K_M": (5.33, 6.288607, 0.056974, 0.010762),
    "Q5_K_S": (5.21, 6.336598, 0.104964, 0.016595),
    "Q5_1": (5.65, 6.337857, 0.106223, 0.018045),
    "Q5_0": (5.21, 6.363224, 0.131591, 0.022239),
    "Q4_K_M": (4.58, 6.407115, 0.175482, 0.031273),
    "Q4_K_S": (4.37, 6.500529, 0.268895, 0.043136),
    "Q4_1": (4.78, 6.682737, 0.451103, 0.071683),
    "Q4_0": (4.34, 6.700147, 0.468514, 0.071940),
    "Q3_K_L": (4.03, 6.787876, 0.556242, 0.087176),
    "Q3_K_M": (3.74, 6.888498, 0.656864, 0.101913),
    "Q3_K_S": (3.41, 7.863786, 1.632152, 0.228217),
    "Q2_K": (2.96, 9.751568, 3.519934, 0.445132),
}
# Same file, "LLaMA 2 vs. LLaMA 3 Quantization comparison", Llama 2 7B columns: mix -> (PPL increase, KLD).
# (Its Q2_K "Mean PPL" cell, 5.794552, is the F16 value the other columns imply: PPL / ratio for
# Q4_K_M, Q6_K and Q8_0 all give 5.7946; so only the increases are used here.)
LLAMA_2_7B_QUALITY = {"Q8_0": (0.003990, 0.000369), "Q6_K": (0.013941, 0.002098),
                      "Q4_K_M": (0.082526, 0.012686), "Q2_K": (0.625552, 0.108903)}
# Bits per weight, Llama 2 7B: examples/quantize/README.md, "## Llama 2 7B", llama.cpp@75cd4c77
# (llama-cpp-python 0.2.60). Its Q2_K is the 2023 mix, before llama.cpp's PR #4897 (January 2024).
LLAMA_2_7B_BPW = {"Q2_K": 3.35, "Q3_K_S": 3.50, "Q3_K_M": 3.91, "Q3_K_L": 4.27, "Q4_K_S": 4.58, "Q4_K_M": 4.84,
                  "Q5_K_S": 5.52, "Q5_K_M": 5.68, "Q6_K": 6.56}
# Bits per weight, Llama 3.1 8B: tools/quantize/README.md, llama.cpp@0c1e57098 (llama-cpp-python 0.3.36).
LLAMA_3_1_8B_BPW = {"Q2_K": 3.1593, "Q3_K_S": 3.6429, "Q3_K_M": 3.9960, "Q3_K_L": 4.2979, "Q4_K_S": 4.6672,
                    "Q4_K_M": 4.8944, "Q5_K_S": 5.5704, "Q5_K_M": 5.7036, "Q6_K": 6.5633, "Q8_0": 8.5008,
                    "F16": 16.0005}
# The popular article's Llama 2 7B table (../seed/article.txt): mix -> (bits per weight, GB, WikiText-2 PPL).
ARTICLE_LLAMA_2_7B = {"F16": (16, 13.5, 5.25), "Q8_0": (8.5, 7.2, 5.26), "Q6_K": (6.6, 5.5, 5.28),
                      "Q5_K_M": (5.7, 4.8, 5.32), "Q4_K_M": (4.8, 4.1, 5.40), "Q3_K_M": (3.9, 3.3, 5.73),
                      "Q2_K": (3.4, 2.9, 6.59)}
# Llama 3 8B (the scoreboard's model): Llama 3.1 8B's shapes without its 64-value rope_freqs table.
LLAMA_3_8B = sizes.Architecture("Llama-3-8B", 32, 4096, 14336, 128256, 32, n_head_kv=8)


# --- tensor classes: where the bits go ---------------------------------------------------------------
CLASS_ORDER = ("token_embd", "output", "attn_q", "attn_k", "attn_v", "attn_output", "ffn_gate", "ffn_up",
               "ffn_down", "1-D (norms)")
LAYER_CLASSES = ("attn_q", "attn_k", "attn_v", "attn_output", "ffn_gate", "ffn_up", "ffn_down")


def tensor_class(choice):
    """The class a TensorChoice is counted in: its llama.cpp category, or '1-D (norms)' if never quantized."""
    if not recipes.quantizable(choice.name, choice.shape):
        return "1-D (norms)"
    return choice.category


@dataclass(frozen=True)
class ClassShare:
    """One tensor class under a mix: how many weights and bytes, and which types its tensors got."""

    name: str
    n_weights: int
    n_bytes: int
    type_counts: dict

    @property
    def bits_per_weight(self):
        return 8 * self.n_bytes / self.n_weights if self.n_weights else 0.0

    def types_text(self):
        """'Q6_K x16, Q4_K x16': the types, most tensors first."""
        return ", ".join(f"{t} x{n}" for t, n in sorted(self.type_counts.items(), key=lambda item: -item[1]))


def class_shares(choices):
    """ClassShare per tensor class present in `choices` (from recipes.explain_types), in CLASS_ORDER."""
    weights, n_bytes, types = Counter(), Counter(), {}
    for choice in choices:
        kind = tensor_class(choice)
        weights[kind] += choice.n_weights
        n_bytes[kind] += choice.n_bytes
        types.setdefault(kind, Counter())[choice.type_name] += 1
    order = [c for c in CLASS_ORDER if c in weights] + sorted(set(weights) - set(CLASS_ORDER))
    return [ClassShare(c, weights[c], n_bytes[c], dict(types[c])) for c in order]


def layer_types(choices, n_layer):
    """(len(LAYER_CLASSES), n_layer) array of the type of each per-layer tensor ('' if the layer has none)."""
    grid = np.full((len(LAYER_CLASSES), n_layer), "", dtype=object)
    row = {kind: i for i, kind in enumerate(LAYER_CLASSES)}
    for choice in choices:
        match = re.match(r"blk\.(\d+)\.", choice.name)
        kind = tensor_class(choice)
        if match and kind in row and int(match.group(1)) < n_layer:
            grid[row[kind], int(match.group(1))] = choice.type_name
    return grid


def format_layers(layers, n_layer=None):
    """[0, 1, 2, 3, 6, 9] -> '0-3, 6, 9' ('all 32' when every layer is there)."""
    layers = sorted(set(int(i) for i in layers))
    if n_layer is not None and layers == list(range(n_layer)):
        return f"all {n_layer}"
    runs, start = [], None
    for i, layer in enumerate(layers):
        if start is None:
            start = layer
        if i + 1 == len(layers) or layers[i + 1] != layer + 1:
            runs.append(str(start) if start == layer else f"{start}-{layer}")
            start = None
    return ", ".join(runs)


def _rule(reason):
    """A reason without its per-layer detail, so the tensors one rule chose group together."""
    return re.sub(r" \(\d+ of \d+\)", "", reason)


def rules_table(choices, n_layer=None):
    """Text: for each tensor class and type, how many tensors, in which layers, and the rule that chose it."""
    groups = {}
    for choice in choices:
        key = (tensor_class(choice), choice.type_name, _rule(choice.reason))
        groups.setdefault(key, []).append(choice)
    order = {c: i for i, c in enumerate(CLASS_ORDER)}
    lines = [f"{'class':<12}{'type':<6}{'count':>6}  layers / rule"]
    for (kind, type_name, rule), members in sorted(groups.items(), key=lambda g: (order.get(g[0][0], 99), -len(g[1]))):
        layers = [int(m.name.split(".")[1]) for m in members if m.name.startswith("blk.")]
        where = f"layers {format_layers(layers, n_layer)}" if layers and kind != "1-D (norms)" else ""
        lines.append(f"{kind:<12}{type_name:<6}{len(members):>6}  {where}")
        if kind != "1-D (norms)":
            lines.append(f"{'':<26}{rule}")
    return "\n".join(lines)


def type_count_table(types, shapes):
    """Text: tensors per class (rows) and type (columns), for {name: type} such as GGUFFile.types()."""
    counts = {}
    for name, type_name in types.items():
        kind = tensor_class(recipes.TensorChoice(name, tuple(shapes[name]), recipes.category(name), type_name, ""))
        counts.setdefault(kind, Counter())[type_name] += 1
    columns = [t for t in mix_plots.TYPE_ORDER if any(t in c for c in counts.values())]
    order = [c for c in CLASS_ORDER if c in counts] + sorted(set(counts) - set(CLASS_ORDER))
    lines = [f"{'class':<13}" + "".join(f"{t:>6}" for t in columns) + f"{'all':>6}"]
    for kind in order:
        lines.append(f"{kind:<13}" + "".join(f"{counts[kind].get(t, 0) or '.':>6}" for t in columns)
                     + f"{sum(counts[kind].values()):>6}")
    totals = Counter()
    for c in counts.values():
        totals.update(c)
    lines.append(f"{'all':<13}" + "".join(f"{totals[t]:>6}" for t in columns) + f"{sum(totals.values()):>6}")
    return "\n".join(lines)


@dataclass(frozen=True)
class Fallback:
    """A tensor whose rows are not whole blocks of the type the rules wanted, so it got another type."""

    name: str
    shape: tuple
    wanted: str
    got: str
    extra_bytes: int     # what the fallback costs over the wanted type (same weights)


def fallbacks(tensors, mix, **options):
    """Tensors that got a fallback type because their rows are not whole 256-weight blocks.

    'wanted' is what the rules pick for the same tensor with rows padded to a multiple of 256 (the
    layer counts and head ratio do not depend on the row length), 'got' what they pick for the real
    rows. Computed by running the rules twice, not by reading their explanations.
    """
    options = dict(options)
    shape_order = options.pop("shape_order", "gguf")
    if shape_order == "numpy":
        tensors = {name: tuple(shape)[::-1] for name, shape in tensors.items()}
    got = {c.name: c for c in recipes.explain_types(tensors, mix, **options)}
    padded = {name: (-(-shape[0] // 256) * 256, *shape[1:]) if len(shape) > 1 else tuple(shape)
              for name, shape in tensors.items()}
    wanted = {c.name: c for c in recipes.explain_types(padded, mix, **options)}
    found = []
    for name, choice in got.items():
        if choice.type_name != wanted[name].type_name:
            fmt = FORMATS[wanted[name].type_name]
            wanted_bytes = choice.n_weights * fmt.bytes_per_block / fmt.block_size
            found.append(Fallback(name, choice.shape, wanted[name].type_name, choice.type_name,
                                  int(round(choice.n_bytes - wanted_bytes))))
    return found


# --- the calculator's numbers ------------------------------------------------------------------------

def _architecture(model):
    if isinstance(model, sizes.Architecture):
        return model
    if model not in sizes.ARCHITECTURES:
        raise ValueError(f"model={model!r} is not a preset; choose one of {', '.join(sizes.ARCHITECTURES)} "
                         f"(or pass a quantlab.sizes.Architecture)")
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
    fits: tuple            # sizes.MemoryFit per CALCULATOR_MIXES, same order
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
        lines += ["published, Llama 3 8B:", f"  {self.mix}: PPL +{quality[2]:.3f}, KLD {quality[3]:.4f}",
                  "  (llama.cpp tools/perplexity)"]
        return "\n".join(lines)


def calculate(model="Llama-3.1-8B", mix="Q4_K_M", n_ctx=8192, cache_type="F16", budget_gib=8.0):
    """Weights + KV cache of every calculator mix against `budget_gib` GiB (sizes from quantlab.sizes)."""
    arch = _architecture(model)
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
# the stored reference logits), with labels pulled apart where the points crowd.
QUALITY_MIXES = tuple(m for m in CALCULATOR_MIXES if m != "F16")
QUALITY_LABELS = {"Q3_K_M": (-4, 0), "Q4_K_S": (-4, 0), "Q5_K_M": (-4, 0), "Q3_K_L": (1, 8), "Q4_0": (5, 0),
                  "Q4_K_M": (4, 7), "Q5_K_S": (5, 0)}


# --- the explorers -----------------------------------------------------------------------------------

def _call(cls, defaults, settings):
    arguments = ", ".join(f"{k}={v!r}" for k, v in settings.items() if v != defaults.get(k))
    return f"quantlab.mix_widgets.{cls.__name__}({arguments})"


class MixCalculator(Explorer):
    """Pick a model, a mix, a context length, a KV-cache type and a memory budget: see what fits.

    Left: every mix's weights (blue) plus KV cache (orange) in GiB against the budget (dashed);
    mixes that do not fit are faded, the selected one outlined. Right: llama.cpp's published
    perplexity increase for Llama 3 8B under each mix, the ones that fit in colour. Sizes come from
    quantlab.sizes (llama.cpp's per-tensor rules); compute buffers and the runtime are not counted.
    """

    DEFAULTS = {"model": "Llama-3.1-8B", "mix": "Q4_K_M", "n_ctx": 8192, "cache_type": "F16", "budget_gib": 8.0}

    def __init__(self, model="Llama-3.1-8B", mix="Q4_K_M", n_ctx=8192, cache_type="F16", budget_gib=8.0):
        _architecture(model)
        if n_ctx not in CONTEXTS:
            raise ValueError(f"n_ctx={n_ctx!r} is not offered; choose one of {', '.join(map(str, CONTEXTS))}")
        if cache_type not in CACHE_TYPES:
            raise ValueError(f"cache_type={cache_type!r}; choose one of {', '.join(CACHE_TYPES)} (llama.cpp's -ctk/-ctv)")
        calculate(model, mix, n_ctx, cache_type, budget_gib)      # every other check, before any widget exists
        if not 0.25 <= budget_gib <= 192:
            raise ValueError(f"budget_gib={budget_gib!r} is outside the slider's 0.25-192 GiB")
        controls = {
            "model": _dropdown("model", model, list(sizes.ARCHITECTURES), "210px"),
            "mix": _dropdown("mix", mix, list(CALCULATOR_MIXES), "140px"),
            "n_ctx": W.SelectionSlider(value=n_ctx, options=list(CONTEXTS), description="context (tokens)",
                                       style={"description_width": "initial"}, layout=W.Layout(width="300px")),
            "cache_type": _dropdown("KV cache", cache_type, list(CACHE_TYPES), "140px"),
            "budget_gib": _slider("budget (GiB)", float(budget_gib), 0.25, 192.0, 0.25, kind=W.FloatSlider,
                                  readout_format=".2f"),
        }
        super().__init__(controls, n_panels=2, width=8.4, height=3.3)
        self.readout.layout.width = "250px"

    def call(self):
        return _call(type(self), self.DEFAULTS, self.settings)

    def compute(self):
        return calculate(**self.settings)

    def redraw(self, result):
        gib = np.array([f.weights_bytes for f in result.fits]) / GIB
        cache = np.array([f.kv_cache_bytes for f in result.fits]) / GIB
        fits = np.array([f.fits for f in result.fits])
        quality_fits = [fits[CALCULATOR_MIXES.index(m)] for m in QUALITY_MIXES]
        if not hasattr(self, "_panels"):
            self.axes[0].set_position([0.09, 0.15, 0.45, 0.74])
            self.axes[1].set_position([0.65, 0.15, 0.33, 0.74])
            quality_mixes = list(QUALITY_MIXES)
            bits = quality_bits_per_weight()
            self._panels = (
                mix_plots.draw_mix_sizes(CALCULATOR_MIXES, gib, cache, result.budget_gib, ax=self.axes[0],
                                         selected=result.mix),
                mix_plots.draw_quality([bits[m] for m in quality_mixes],
                                       [LLAMA_3_8B_QUALITY[m][2] for m in quality_mixes], quality_mixes,
                                       ax=self.axes[1], title="published: Llama 3 8B, Wikitext-2",
                                       xlabel="bits per weight (Llama 3 8B)", label_offsets=QUALITY_LABELS),
            )
        sizes_panel, quality_panel = self._panels
        sizes_panel.update(gib, cache, result.budget_gib, result.mix,
                           title=f"{result.arch.name}: {int(fits.sum())} of {len(fits)} mixes fit in {result.budget_gib:g} GiB")
        quality_panel.update(quality_fits, result.mix)

    def summary(self, result):
        return result.text()


@dataclass(frozen=True, eq=False)
class MixView:
    """One model under one mix: the per-tensor choices, grouped by class and by layer (nothing drawn)."""

    arch: sizes.Architecture
    mix: str
    choices: tuple
    shares: tuple          # ClassShare per CLASS_ORDER entry (zeros for absent classes)
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
        lines = [f"{self.arch.name}, {self.mix}:", f"  {self.bits_per_weight:.3f} bits/weight, {self.n_bytes / GIB:.3g} GiB",
                 f"{'class':<12}{'bytes':>6}{'bpw':>6}  types"]
        for share in self.shares:
            if share.n_weights:
                lines.append(f"{share.name[:11]:<12}{100 * share.n_bytes / self.n_bytes:5.1f}%{share.bits_per_weight:6.2f}  "
                             f"{share.types_text()}")
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


class MixExplorer(Explorer):
    """Pick a model and a mix: see which type llama.cpp gives each tensor, and where the bytes go.

    Left: each tensor class's share of the weights (outline) and of the bytes (filled), with its bits
    per weight. Right: the type of every per-layer tensor (rows: classes, columns: layers).
    """

    DEFAULTS = {"model": "Llama-2-7B", "mix": "Q4_K_M"}

    def __init__(self, model="Llama-2-7B", mix="Q4_K_M"):
        _architecture(model)
        if mix not in recipes.MIXES or mix == "F32":
            raise ValueError(f"mix={mix!r} is not offered; choose one of {', '.join(m for m in recipes.MIXES if m != 'F32')}")
        controls = {
            "model": _dropdown("model", model, list(sizes.ARCHITECTURES), "210px"),
            "mix": _dropdown("mix", mix, [m for m in recipes.MIXES if m != "F32"], "140px"),
        }
        super().__init__(controls, n_panels=3, width=8.6, height=3.0)
        self.readout.layout.width = "300px"

    def call(self):
        return _call(type(self), self.DEFAULTS, self.settings)

    def compute(self):
        return mix_view(_architecture(self.controls["model"].value), self.controls["mix"].value)

    def redraw(self, view):
        weights = np.array([s.n_weights for s in view.shares], float)
        n_bytes = np.array([s.n_bytes for s in view.shares], float)
        bits = [s.bits_per_weight for s in view.shares]
        map_title = f"{view.arch.name} {view.mix}: {view.arch.n_layer} layers"
        if not hasattr(self, "_panels"):
            self.axes[0].set_position([0.12, 0.15, 0.33, 0.74])
            self.axes[1].set_position([0.57, 0.15, 0.33, 0.74])
            self.axes[2].set_position([0.925, 0.15, 0.018, 0.74])
            self._panels = (
                mix_plots.draw_class_shares(CLASS_ORDER, weights / weights.sum(), n_bytes / n_bytes.sum(), bits,
                                            ax=self.axes[0]),
                mix_plots.draw_type_map(view.layer_types, LAYER_CLASSES, ax=self.axes[1], colorbar_ax=self.axes[2]),
            )
        shares_panel, map_panel = self._panels
        shares_panel.update(weights / weights.sum(), n_bytes / n_bytes.sum(), bits,
                            title=f"where the bytes go: {view.bits_per_weight:.2f} bits/weight")
        map_panel.update(view.layer_types, title=map_title)

    def summary(self, view):
        return view.text()

"""Notebook 07's explorers: what fits in your memory at what quality, and where a mix puts its bits.

- MixCalculator: model, mix, context length, KV-cache type, memory budget -> every mix's weights plus
  KV cache against the budget, the largest mix that fits, and llama.cpp's published quality.
- MixExplorer: model and mix -> each tensor class's share of the weights and of the bytes, and the
  type llama.cpp gives every tensor, layer by layer.

Built on widgets.base.Explorer: controls -> compute() (quantlab.mixes) -> draw/update in place
(quantlab.plots.mixes) -> summary(result) as text.
"""

import ipywidgets as W
import numpy as np

from ..memory import GIB
from ..mixes import recipes, sizes
from ..mixes.calculator import (
    CACHE_TYPES,
    CALCULATOR_MIXES,
    CONTEXTS,
    QUALITY_MIXES,
    architecture,
    calculate,
    mix_view,
    quality_bits_per_weight,
)
from ..mixes.classes import CLASS_ORDER, LAYER_CLASSES
from ..mixes.published import LLAMA_3_8B_QUALITY
from ..plots import mixes as mix_plots
from .base import Explorer, dropdown, slider

# The quality panel's labels, pulled apart where the points crowd (offsets in points).
QUALITY_LABELS = {
    "Q3_K_M": (-4, 0),
    "Q4_K_S": (-4, 0),
    "Q5_K_M": (-4, 0),
    "Q3_K_L": (1, 8),
    "Q4_0": (5, 0),
    "Q4_K_M": (4, 7),
    "Q5_K_S": (5, 0),
}


class MixCalculator(Explorer):
    """Pick a model, a mix, a context length, a KV-cache type and a memory budget: see what fits.

    Left: every mix's weights (blue) plus KV cache (orange) in GiB against the budget (dashed);
    mixes that do not fit are faded, the selected one outlined. Right: llama.cpp's published
    perplexity increase for Llama 3 8B under each mix, the ones that fit in colour. Sizes come from
    quantlab.sizes (llama.cpp's per-tensor rules); compute buffers and the runtime are not counted.
    """

    def __init__(self, model="Llama-3.1-8B", mix="Q4_K_M", n_ctx=8192, cache_type="F16", budget_gib=8.0):
        architecture(model)
        if n_ctx not in CONTEXTS:
            raise ValueError(f"n_ctx={n_ctx!r} is not offered; choose one of {', '.join(map(str, CONTEXTS))}")
        if cache_type not in CACHE_TYPES:
            raise ValueError(
                f"cache_type={cache_type!r}; choose one of {', '.join(CACHE_TYPES)} (llama.cpp's -ctk/-ctv)"
            )
        calculate(model, mix, n_ctx, cache_type, budget_gib)  # every other check, before any widget exists
        if not 0.25 <= budget_gib <= 192:
            raise ValueError(f"budget_gib={budget_gib!r} is outside the slider's 0.25-192 GiB")
        controls = {
            "model": dropdown("model", model, list(sizes.ARCHITECTURES), "210px"),
            "mix": dropdown("mix", mix, list(CALCULATOR_MIXES), "140px"),
            "n_ctx": W.SelectionSlider(
                value=n_ctx,
                options=list(CONTEXTS),
                description="context (tokens)",
                style={"description_width": "initial"},
                layout=W.Layout(width="300px"),
            ),
            "cache_type": dropdown("KV cache", cache_type, list(CACHE_TYPES), "140px"),
            "budget_gib": slider(
                "budget (GiB)", float(budget_gib), 0.25, 192.0, 0.25, kind=W.FloatSlider, readout_format=".2f"
            ),
        }
        super().__init__(controls, n_panels=2, width=8.4, height=3.3, readout_width=250)

    def compute(self):
        return calculate(**self.settings)

    @staticmethod
    def _sizes(result):
        """Weights and KV cache in GiB per calculator mix, and which fit."""
        gib = np.array([f.weights_bytes for f in result.fits]) / GIB
        cache = np.array([f.kv_cache_bytes for f in result.fits]) / GIB
        return gib, cache, np.array([f.fits for f in result.fits])

    def draw(self, result):
        gib, cache, _ = self._sizes(result)
        self.axes[0].set_position([0.09, 0.15, 0.45, 0.74])
        self.axes[1].set_position([0.65, 0.15, 0.33, 0.74])
        bits = quality_bits_per_weight()
        return (
            mix_plots.draw_mix_sizes(
                CALCULATOR_MIXES, gib, cache, result.budget_gib, ax=self.axes[0], selected=result.mix
            ),
            mix_plots.draw_quality(
                [bits[m] for m in QUALITY_MIXES],
                [LLAMA_3_8B_QUALITY[m][2] for m in QUALITY_MIXES],
                list(QUALITY_MIXES),
                ax=self.axes[1],
                title="published: Llama 3 8B, Wikitext-2",
                xlabel="bits per weight (Llama 3 8B)",
                label_offsets=QUALITY_LABELS,
            ),
        )

    def update(self, result):
        gib, cache, fits = self._sizes(result)
        sizes_panel, quality_panel = self.panels
        title = f"{result.arch.name}: {int(fits.sum())} of {len(fits)} mixes fit in {result.budget_gib:g} GiB"
        sizes_panel.update(gib, cache, result.budget_gib, result.mix, title=title)
        quality_panel.update([fits[CALCULATOR_MIXES.index(m)] for m in QUALITY_MIXES], result.mix)

    def summary(self, result):
        return result.text()


class MixExplorer(Explorer):
    """Pick a model and a mix: see which type llama.cpp gives each tensor, and where the bytes go.

    Left: each tensor class's share of the weights (outline) and of the bytes (filled), with its bits
    per weight. Right: the type of every per-layer tensor (rows: classes, columns: layers).
    """

    def __init__(self, model="Llama-2-7B", mix="Q4_K_M"):
        architecture(model)
        if mix not in recipes.MIXES or mix == "F32":
            raise ValueError(
                f"mix={mix!r} is not offered; choose one of {', '.join(m for m in recipes.MIXES if m != 'F32')}"
            )
        controls = {
            "model": dropdown("model", model, list(sizes.ARCHITECTURES), "210px"),
            "mix": dropdown("mix", mix, [m for m in recipes.MIXES if m != "F32"], "140px"),
        }
        super().__init__(controls, n_panels=3, width=8.6, height=3.0, readout_width=300)

    def compute(self):
        return mix_view(architecture(self.settings["model"]), self.settings["mix"])

    @staticmethod
    def _shares(view):
        """Each class's share of the weights and of the bytes, and its bits per weight."""
        weights = np.array([s.n_weights for s in view.shares], float)
        n_bytes = np.array([s.n_bytes for s in view.shares], float)
        return weights / weights.sum(), n_bytes / n_bytes.sum(), [s.bits_per_weight for s in view.shares]

    def draw(self, view):
        self.axes[0].set_position([0.12, 0.15, 0.33, 0.74])
        self.axes[1].set_position([0.57, 0.15, 0.33, 0.74])
        self.axes[2].set_position([0.925, 0.15, 0.018, 0.74])
        return (
            mix_plots.draw_class_shares(CLASS_ORDER, *self._shares(view), ax=self.axes[0]),
            mix_plots.draw_type_map(view.layer_types, LAYER_CLASSES, ax=self.axes[1], colorbar_ax=self.axes[2]),
        )

    def update(self, view):
        shares_panel, map_panel = self.panels
        shares_panel.update(*self._shares(view), title=f"where the bytes go: {view.bits_per_weight:.2f} bits/weight")
        map_panel.update(view.layer_types, title=f"{view.arch.name} {view.mix}: {view.arch.n_layer} layers")

    def summary(self, view):
        return view.text()

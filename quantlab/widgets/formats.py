"""The format explorer (notebook 13): pick any newer GGML type; see its levels over the weights, the error and the bytes.

Built on widgets.base.Explorer: controls -> compute() (quantlab.ggml.formats_tour.view, cached per
setting: the i-quant searches take up to a second on 512 weights; every i-quant codebook is built when
the explorer opens, not on its type's first pick) -> draw/update
(quantlab.plots.gguf.draw_block) -> summary() as text.
"""

import numpy as np

from .. import data
from ..ggml import format_info
from ..ggml.formats_tour import NEW_TYPES, SUB_BLOCK, imatrix_use, prepare_codebooks, view
from ..plots.gguf import draw_block
from .base import Explorer, dropdown, slider

N_WEIGHTS = 512  # two super-blocks of 256: small, so that every search stays quick
DISTRIBUTION_CHOICES = ("gaussian", "laplace", "student-t")
YLIM = (-1.15, 1.15)  # in units of max|w| of the weights on show


class FormatExplorer(Explorer):
    """Pick a type, the weights' distribution and seed: 512 weights (dots), what the file stores (dashes),
    and the values each sub-block can hold (grey; for the i-quants, the values its weights use).

    The i-quants IQ2_XXS, IQ2_XS and IQ1_S need an importance matrix: here x² of the shown weights
    stands in for one (the readout says so).
    """

    def __init__(self, type_name="IQ2_XXS", distribution="gaussian", seed=0, std=0.02):
        name = format_info(type_name).name
        if name not in NEW_TYPES:
            raise ValueError(
                f"type_name={type_name!r} is not one of the newer types; choose one of {', '.join(NEW_TYPES)}"
            )
        if distribution not in DISTRIBUTION_CHOICES:
            raise ValueError(
                f"distribution={distribution!r} is not offered; choose one of {', '.join(DISTRIBUTION_CHOICES)}"
            )
        controls = {
            "type_name": dropdown("type", name, list(NEW_TYPES), "150px"),
            "distribution": dropdown("weights", distribution, list(DISTRIBUTION_CHOICES), "190px"),
            "seed": slider("seed", int(seed), 0, 20),
        }
        self.std = std
        self._cache = {}
        prepare_codebooks()  # once per kernel: no dropdown move pays for building a codebook
        super().__init__(controls, n_panels=1, width=7.6, height=3.0, readout_width=300, options={"std": std})

    def compute(self):
        s = self.settings
        key = (s["type_name"], s["distribution"], s["seed"])
        if key not in self._cache:
            w = data.weights(s["distribution"], N_WEIGHTS, self.std, seed=s["seed"])
            self._cache[key] = view(s["type_name"], w)
        return self._cache[key]

    def _panel_data(self, result):
        unit = float(np.abs(result.x).max()) or 1.0
        what = "levels" if result.levels_are_complete else "values used"
        title = f"{result.type_name}: {what} per sub-block of {SUB_BLOCK[result.type_name]}"
        return result.x / unit, result.reconstruction / unit, result.levels / unit, title

    def draw(self, result):
        x, rebuilt, levels, title = self._panel_data(result)
        return draw_block(x, rebuilt, levels, ax=self.axes[0], ylim=YLIM, title=title, ylabel="value / max|w|")

    def update(self, result):
        x, rebuilt, levels, title = self._panel_data(result)
        self.panels.update(x, rebuilt, levels, YLIM, title)

    def summary(self, result):
        fmt = format_info(result.type_name)
        rms = float(np.sqrt(np.mean(result.x.astype(np.float64) ** 2)))
        lines = [
            f"{result.type_name}: {fmt.description}",
            f"{result.data.size} bytes for {result.x.size} weights",
            f"= {fmt.bits_per_weight:g} bits/weight (block: {fmt.bytes_per_block} B / {fmt.block_size})",
            f"MSE {result.mse:.3g}",
            f"RMS error / RMS weight {np.sqrt(result.mse) / rms:.3f}",
            f"imatrix: {imatrix_use(result.type_name)}; used: {result.importance}",
            "first bytes: " + " ".join(f"{b:02x}" for b in result.data[:8]),
        ]
        return "\n".join(lines)

"""The block explorer: pick a GGUF type and 256 weights; see their bytes, fields, grids and scales.

Built on widgets.base.Explorer: controls -> compute() (quantlab.ggml and
quantlab.ggml.anatomy) -> redraw(result) in place (quantlab.gguf_plots) -> summary(result) as text.
"""

from dataclasses import dataclass

import numpy as np

from .. import data, ggml
from ..ggml import anatomy
from ..metrics import mse
from ..plots.gguf import draw_block, draw_byte_map, draw_sub_block_scales
from .base import Explorer, Name, check_show, dropdown, slider

WINDOW = 256  # weights on show: one K-quant block, or eight blocks of 32
N_WEIGHTS = 4096  # the generated tensor: 16 windows
DISTRIBUTION_CHOICES = ("gaussian", "laplace", "student-t")
BLOCK_YLIM = (-1.1, 1.1)  # the block panel's value axis, in units of the tensor's largest |w|


@dataclass(frozen=True, eq=False)
class BlockView:
    """Everything the explorer shows for one window of 256 weights (all computed, nothing drawn)."""

    type_name: str
    block: int
    x: np.ndarray  # (256,) the weights
    data: np.ndarray  # uint8: the window's bytes (one K block or 8 blocks of 32)
    grids: anatomy.SubBlockGrids
    fields: dict
    mse_window: float
    mse_tensor: float
    largest: float  # max |w| (or |w_hat|) over the whole tensor: the block panel's unit

    @property
    def reconstruction(self):
        return self.grids.reconstruction.reshape(-1)

    def scale_bars(self):
        """What the scales panel shows: (step per sub-block, min per sub-block or None, title)."""
        name, grids = self.type_name, self.grids
        if name == "IQ4_NL":  # a fixed non-uniform table times d: no step, d is the scale
            return self.fields["d"], None, "d per block (× the fixed table)"
        if name.endswith("_K"):
            has_min = "dmin" in self.fields
            return grids.step, grids.shift if has_min else None, "step d·sⱼ" + (", min dmin·mⱼ" if has_min else "")
        has_min = "m" in self.fields
        return grids.step, grids.shift if has_min else None, "step d per block" + (", min m" if has_min else "")

    def text(self):
        """The readout: exact bits per weight, the fields, the errors and the first bytes in hex."""
        fmt = ggml.format_info(self.type_name)
        n_blocks = WINDOW // fmt.block_size
        first, last = WINDOW * self.block, WINDOW * (self.block + 1) - 1
        what = "1 block" if n_blocks == 1 else f"{n_blocks} blocks of {fmt.block_size}"
        parts = anatomy.bits_breakdown(self.type_name)
        lines = [
            f"{self.type_name}: weights {first}-{last} = {what}",
            f"{self.data.size} bytes x 8 / {WINDOW} = {fmt.bits_per_weight:g} bits/weight",
            f"  codes {parts['codes']:g} + sub-block scales {parts['sub-block scales']:g}",
            f"  + fp16 scales {parts['super-block scale']:g}",
        ]
        d = self.fields["d"]
        if n_blocks == 1:
            scales = f"d = {d[0]:.4g}" + (f", dmin = {self.fields['dmin'][0]:.4g}" if "dmin" in self.fields else "")
        else:
            scales = f"d of block 0 = {d[0]:.4g} ({n_blocks} fp16 d's)"
        lines.append(scales)
        for key, symbol in (("scales", "s_j"), ("mins", "m_j")):  # the K-quants' small integers
            if key in self.fields:
                values = self.fields[key][0]
                lines.append(
                    f"{symbol} = {' '.join(str(int(v)) for v in values[:8])}{' ...' if len(values) > 8 else ''}"
                )
        levels = self.grids.levels.shape[1]
        lines += [
            f"{levels} levels per sub-block of {self.grids.sub_block_size}",
            f"MSE here     {self.mse_window:.3e}",
            f"MSE tensor   {self.mse_tensor:.3e}",
            "first bytes:",
            " ".join(f"{b:02x}" for b in self.data[:8]),
            " ".join(f"{b:02x}" for b in self.data[8:16]),
        ]
        return "\n".join(lines)


class BlockExplorer(Explorer):
    """Pick a GGUF block type, a window of 256 weights, the weights' distribution and seed.

    Left: the weights (dots), what the file stores for them (dashes), and every level each sub-block
    can represent (grey lines), in units of the tensor's largest |w|. Middle: the window's bytes,
    coloured by field. Right: each sub-block's step and min, in weight units on a log axis. For the
    32-weight types the window holds 8 blocks, each with its own fp16 scale.
    Pass `w` (1-D, a multiple of 256 weights) to open your own weights.
    """

    ALL_CONTROLS = ("type_name", "block", "distribution", "seed")

    def __init__(
        self,
        type_name="Q4_K",
        block=0,
        distribution="gaussian",
        seed=0,
        std=0.02,
        w=None,
        show=("type_name", "block", "distribution", "seed"),
    ):
        check_show(show, self.ALL_CONTROLS)
        name = ggml.format_info(type_name).name
        if name not in anatomy.TYPES:
            raise ValueError(f"type_name={type_name!r} has no blocks to open; choose one of {', '.join(anatomy.TYPES)}")
        if distribution not in DISTRIBUTION_CHOICES:
            raise ValueError(
                f"distribution={distribution!r} is not offered; choose one of {', '.join(DISTRIBUTION_CHOICES)}"
            )
        self.std, self._user_weights = std, None
        n_windows = N_WEIGHTS // WINDOW
        if w is not None:
            w = np.asarray(w, dtype=np.float32)
            if w.ndim != 1 or w.size % WINDOW or w.size == 0:
                raise ValueError(
                    f"w must be 1-D with a multiple of {WINDOW} weights, got shape {w.shape}; "
                    f"pad or trim it, e.g. w[:{WINDOW * max(1, w.size // WINDOW)}]"
                )
            self._user_weights, n_windows = w, w.size // WINDOW
        if isinstance(block, bool) or not isinstance(block, (int, np.integer)) or not 0 <= block < n_windows:
            raise ValueError(
                f"block={block!r} must be an integer from 0 to {n_windows - 1} (windows of {WINDOW} weights)"
            )
        every = {
            "type_name": dropdown("type", name, list(anatomy.TYPES), "150px"),
            "block": slider("block of 256", int(block), 0, n_windows - 1),
            "distribution": dropdown("weights", distribution, list(DISTRIBUTION_CHOICES), "190px"),
            "seed": slider("seed", int(seed), 0, 20),
        }
        self._weights_cache, self._bytes_cache = {}, {}
        options = {"std": std, "w": None if w is None else Name("w"), "show": tuple(show)}
        super().__init__(
            {key: every[key] for key in show},
            n_panels=3,
            width=9.4,
            height=3.1,
            readout_width=260,
            hidden={key: every[key] for key in every if key not in show},
            options=options,
        )

    # --- settings and the one-line call ---------------------------------------------------------
    def arguments(self):
        arguments = super().arguments()
        if self._user_weights is not None:  # the weights are the learner's: nothing generates them
            arguments = {k: v for k, v in arguments.items() if k not in ("distribution", "seed", "std")}
        return arguments

    # --- the numbers -----------------------------------------------------------------------------
    def weights(self):
        """The tensor on show: generated (seeded, cached) or the one passed as w."""
        if self._user_weights is not None:
            return self._user_weights
        s = self.settings
        key = (s["distribution"], s["seed"])
        if key not in self._weights_cache:
            self._weights_cache[key] = data.weights(s["distribution"], N_WEIGHTS, self.std, seed=s["seed"])
        return self._weights_cache[key]

    def _quantized(self, w, type_name):
        """Bytes and reconstruction of the whole tensor, cached per (weights, type)."""
        key = (id(w), type_name)
        if key not in self._bytes_cache:
            blocks = ggml.quantize(w, type_name)
            w_hat = ggml.dequantize(blocks, type_name)
            largest = float(max(np.abs(w).max(), np.abs(w_hat).max())) or 1.0
            self._bytes_cache[key] = (w, blocks, mse(w, w_hat), largest)  # w kept: its id stays unique
        return self._bytes_cache[key][1:]

    def compute(self):
        s = self.settings
        w = self.weights()
        blocks, mse_tensor, largest = self._quantized(w, s["type_name"])
        bytes_per_window = blocks.size * WINDOW // w.size
        window = blocks[bytes_per_window * s["block"] : bytes_per_window * (s["block"] + 1)]
        x = w[WINDOW * s["block"] : WINDOW * (s["block"] + 1)]
        grids = anatomy.sub_block_grids(window, s["type_name"])
        return BlockView(
            s["type_name"],
            s["block"],
            x,
            window,
            grids,
            ggml.fields(window, s["type_name"]),
            mse(x, grids.reconstruction.reshape(-1)),
            mse_tensor,
            largest,
        )

    # --- the picture and the text -------------------------------------------------------------------
    @staticmethod
    def _panel_data(view):
        """What the three panels show: block values in units of the tensor's largest |w|, bytes, scales."""
        fmt = ggml.format_info(view.type_name)
        names = [field.name for field in anatomy.byte_layout(view.type_name)]
        field_index = anatomy.field_of_each_byte(view.type_name, view.data.size // fmt.bytes_per_block)
        grid_title = (
            f"{view.type_name}: {view.grids.levels.shape[1]} levels per sub-block of {view.grids.sub_block_size}"
        )
        bytes_title = f"{view.data.size} bytes = {fmt.bits_per_weight:g} bits/weight"
        # The block panel is in units of the tensor's largest |w|: its axes never move, whatever the
        # weights, type or window (real values are in the readout and on the scales panel).
        unit = view.largest
        block_data = (view.x / unit, view.reconstruction / unit, view.grids.levels / unit)
        return block_data, grid_title, (view.data, field_index, names, bytes_title), view.scale_bars()

    def draw(self, view):
        block_data, grid_title, (data, field_index, names, bytes_title), (step, mins, scale_title) = self._panel_data(
            view
        )
        for ax, box in zip(self.axes, ([0.075, 0.2, 0.42, 0.69], [0.575, 0.3, 0.18, 0.59], [0.82, 0.2, 0.17, 0.69])):
            ax.set_position(box)
        # Steps and mins stay below ~max|w|; Q8_0's steps go down to ~max|w|/3000 in quiet blocks.
        decades = 10.0 ** np.floor(np.log10(view.largest / 3000)), 10.0 ** np.ceil(np.log10(1.2 * view.largest))
        return (
            draw_block(
                *block_data, ax=self.axes[0], ylim=BLOCK_YLIM, title=grid_title, ylabel="value / max|w| of the tensor"
            ),
            draw_byte_map(data, field_index, names, ax=self.axes[1], title=bytes_title),
            draw_sub_block_scales(step, mins, ax=self.axes[2], limits=decades, title=scale_title),
        )

    def update(self, view):
        block_data, grid_title, byte_data, scale_data = self._panel_data(view)
        block_panel, bytes_panel, scales_panel = self.panels
        block_panel.update(*block_data, BLOCK_YLIM, grid_title)
        bytes_panel.update(*byte_data)
        scales_panel.update(*scale_data)

    def summary(self, view):
        return view.text()

"""Notebooks 00-01's panels: memory per format against a budget, and the bit fields of a float."""

import matplotlib.colors as mcolors
import numpy as np

from .base import OKABE_ITO, SERIES_COLORS, Panel, nice_range

BIT_COLORS = {"sign": OKABE_ITO["vermillion"], "exponent": OKABE_ITO["sky_blue"], "mantissa": OKABE_ITO["yellow"]}


def draw_memory_bars(names, ax):
    """One horizontal bar per format (GB), a dashed budget line and the size written at each bar's end."""
    panel = Panel(ax, limits_set=False)
    ax.figure.subplots_adjust(left=0.36, right=0.97, bottom=0.2, top=0.88)
    panel.bars = ax.barh(names, np.zeros(len(names)), color=SERIES_COLORS[: len(names)], animated=True)
    panel.budget = ax.axvline(0, color=OKABE_ITO["black"], linestyle="--", linewidth=1, animated=True)
    panel.labels = [ax.text(0, i, "", va="center", fontsize=7, animated=True) for i in range(len(names))]
    ax.invert_yaxis()
    ax.set_xlabel("weights only, GB (10^9 bytes)")
    panel.update = lambda sizes_gb, budget_gb: _update_memory_bars(panel, sizes_gb, budget_gb)
    return panel


def _update_memory_bars(panel, sizes_gb, budget_gb):
    ax = panel.ax
    for bar, label, size in zip(panel.bars, panel.labels, sizes_gb):
        bar.set_width(size)
        label.set_position((size, bar.get_y() + bar.get_height() / 2))
        label.set_text(f" {size:.1f} GB")
    panel.budget.set_xdata([budget_gb, budget_gb])
    current = ax.get_xlim() if panel.limits_set else None
    ax.set_xlim(0, nice_range(0.0, max(sizes_gb.max(), budget_gb) * 1.2, current)[1])
    panel.limits_set = True
    fits = int(np.sum(sizes_gb <= budget_gb))
    ax.set_title(f"{fits} of {len(sizes_gb)} formats fit in {budget_gb:.0f} GB (dashed line)")


def draw_bit_fields(formats, ax):
    """A 32-column grid, one row per float format, coloured sign | exponent | mantissa; update() writes the bits."""
    panel = Panel(ax)
    ax.figure.subplots_adjust(left=0.06, right=0.99, bottom=0.05, top=0.8)
    colors = np.ones((len(formats), 32, 3))
    for row, fmt in enumerate(formats.values()):
        spans = [("sign", 1), ("exponent", fmt.exponent_bits), ("mantissa", fmt.mantissa_bits)]
        column = 0
        for part, width in spans:
            colors[row, column : column + width] = mcolors.to_rgb(BIT_COLORS[part])
            column += width
    ax.imshow(colors, aspect="auto", extent=(-0.5, 31.5, len(formats) - 0.5, -0.5))
    ax.set_yticks(range(len(formats)), list(formats))
    ax.set_xticks([])
    for x in np.arange(-0.5, 32, 1):
        ax.axvline(x, color="white", linewidth=0.6)
    # The digits change with every value: animated, so the fast renderer redraws them on each update.
    panel.cells = [
        [ax.text(c, r, "", ha="center", va="center", fontsize=7, family="monospace", animated=True) for c in range(32)]
        for r in range(len(formats))
    ]
    ax.set_title("sign | exponent | mantissa   (colour: vermillion sign, blue exponent, yellow mantissa)")
    panel.update = lambda bits: _update_bit_fields(panel, bits)
    return panel


def _update_bit_fields(panel, bits):
    for cells, row_bits in zip(panel.cells, bits):
        for column, cell in enumerate(cells):
            cell.set_text(row_bits[column] if column < len(row_bits) else "")
            cell.set_visible(column < len(row_bits))  # fp16/bf16 rows use 16 cells: skip drawing the rest

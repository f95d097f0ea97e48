"""Notebook 13's panels: an i-quant codebook drawn in 2-D, and rows of levels (FP4, INT4, ternary) side by side.

The explorer's block panel is plots.gguf.draw_block (weights over their sub-block levels).
"""

import numpy as np

from .base import IDEAL_COLOR, OKABE_ITO, SERIES_COLORS, Panel

# Two orthogonal directions of 8-space: the sums of coordinates 0-3 and of 4-7 (a 2-D shadow of the grid).
PROJECTION = np.array([[1, 1, 1, 1, 0, 0, 0, 0], [0, 0, 0, 0, 1, 1, 1, 1]], dtype=np.float64) / 2


def draw_grid_projection(points, ax, lattice=None, title="", xlabel="(x0+x1+x2+x3)/2", ylabel="(x4+x5+x6+x7)/2"):
    """An 8-D codebook seen from two directions: each dot a projected point, its size how many points land there.

    points: (n, 8) grid points; lattice: optionally (m, 8) all lattice points the grid picks from (grey).
    """
    panel = Panel(ax)
    if lattice is not None:
        shadow = np.unique(np.asarray(lattice, dtype=np.float64) @ PROJECTION.T, axis=0)
        ax.scatter(shadow[:, 0], shadow[:, 1], s=4, color=IDEAL_COLOR, alpha=0.5, label="lattice points (all)")
    projected, counts = np.unique(np.asarray(points, dtype=np.float64) @ PROJECTION.T, axis=0, return_counts=True)
    ax.scatter(
        projected[:, 0],
        projected[:, 1],
        s=6 + 6 * counts,
        color=OKABE_ITO["vermillion"],
        alpha=0.8,
        label=f"grid points ({len(points)}; size = how many coincide)",
    )
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.set_title(title)
    ax.legend(loc="upper right", fontsize=7, frameon=True, framealpha=0.85, edgecolor="none")
    panel.points = projected
    return panel


def draw_coordinate_histogram(points, ax, title=""):
    """How often each value appears as a coordinate of the codebook's points (one bar per value)."""
    panel = Panel(ax)
    values, counts = np.unique(np.asarray(points), return_counts=True)
    ax.bar(np.arange(len(values)), counts, color=SERIES_COLORS[0])
    ax.set_xticks(np.arange(len(values)), [str(v) for v in values])
    for i, count in enumerate(counts):
        ax.text(i, count, f"{count}", ha="center", va="bottom", fontsize=7)
    ax.set_xlabel("coordinate value (as stored)")
    ax.set_ylabel("coordinates")
    ax.set_title(title)
    panel.counts = counts
    return panel


def draw_level_rows(rows, ax, title="", xlabel="value (units of the block's scale)"):
    """One row of tick marks per named set of levels: {name: values}, first row on top."""
    panel = Panel(ax)
    for i, (name, values) in enumerate(rows.items()):
        values = np.asarray(values, dtype=np.float64)
        ax.plot(
            values,
            np.full(values.shape, -i),
            "|",
            markersize=14,
            markeredgewidth=2,
            color=SERIES_COLORS[i % len(SERIES_COLORS)],
        )
    ax.set_yticks(-np.arange(len(rows)), list(rows))
    ax.set_ylim(-len(rows) + 0.5, 0.5)
    ax.axvline(0, color=IDEAL_COLOR, linewidth=0.6)
    ax.set_xlabel(xlabel)
    ax.set_title(title)
    return panel

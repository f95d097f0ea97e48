"""Drawing for non-uniform grids on a given Axes: level lanes under a histogram, error bars, the Pareto plot.

Same contract as quantlab.plots: each `draw_*` takes `ax=`, draws once, and returns a panel whose
`update(...)` moves its artists in place (the moving ones are `animated=True`, so plots.FastRenderer
can blit them over a still background). Nothing here quantizes: callers pass computed numbers.
"""

import numpy as np
from matplotlib.collections import LineCollection
from matplotlib.lines import Line2D
from matplotlib.ticker import FixedLocator, FuncFormatter, LogLocator, NullFormatter, NullLocator

from ..codebook_tradeoff import format_relative
from .base import IDEAL_COLOR, OKABE_ITO, WEIGHTS_COLOR, Panel, histogram_counts, nice_range

# One colour per grid family, the same in every panel (Okabe-Ito, as in quantlab.plots).
GRID_COLORS = {
    "uniform": OKABE_ITO["blue"],
    "k-means": OKABE_ITO["orange"],
    "NF": OKABE_ITO["green"],
    "IQ4_NL": OKABE_ITO["vermillion"],
}
LANE_SPACING, LANE_HALF_HEIGHT = 0.2, 0.07  # level lanes below the histogram, in units of its peak
# Plain-text decade labels (0.001, not 10^-3): matplotlib's mathtext labels cost ~4x more to draw.
PLAIN_DECADES = FuncFormatter(lambda value, _: f"{value:g}")


def family(name):
    """The grid family of a grid name: 'NF4' -> 'NF'; 'uniform', 'k-means', 'IQ4_NL' stay."""
    return "NF" if name.startswith("NF") else name


def draw_grids_on_histogram(w, levels, ax, block_weights=None, bins=60, title="levels"):
    """Histogram of the weights (peak = 1) with each grid's levels as ticks in its own lane below it.

    `levels`: grid name -> level values (e.g. {'uniform': ..., 'k-means': ..., 'NF4': ..., 'IQ4_NL': ...}).
    `block_weights` (optional) are drawn as a black rug between histogram and lanes: the weights the
    drawn levels were fitted to, when the levels belong to one block.
    """
    names = list(levels)
    panel = Panel(ax, bins=bins, weights_id=None, names=names, xlim=None)
    panel.hist = ax.stairs(
        np.zeros(bins), np.linspace(0, 1, bins + 1), fill=True, color=WEIGHTS_COLOR, alpha=0.8, animated=True
    )
    panel.rug = LineCollection([], colors=OKABE_ITO["black"], linewidths=0.6, animated=True)
    ax.add_collection(panel.rug)
    panel.lanes = {}
    centers = [-LANE_SPACING * (i + 1.1) for i in range(len(names))]
    for name, center in zip(names, centers):
        lane = LineCollection([], colors=GRID_COLORS[family(name)], linewidths=1.3, animated=True)
        lane.center = center
        panel.lanes[name] = ax.add_collection(lane)
    ax.axhline(0, color=IDEAL_COLOR, linewidth=0.6)
    ax.set_ylim(centers[-1] - 0.12, 1.08)
    ax.yaxis.set_major_locator(FixedLocator(centers[::-1] + [0.5, 1.0]))
    ax.set_yticklabels([family(name) for name in names[::-1]] + ["0.5", "1"])
    for label, name in zip(ax.get_yticklabels(), names[::-1]):
        label.set_color(GRID_COLORS[family(name)])
    ax.yaxis.set_minor_locator(NullLocator())
    ax.set_xlabel("weight value")
    ax.set_ylabel("count (peak = 1)", y=0.72, labelpad=1)
    ax.set_title(title)
    panel.update = lambda w, levels, block_weights=None, title=None: _update_lanes(
        panel, w, levels, block_weights, title
    )
    panel.update(w, levels, block_weights)
    return panel


def _update_lanes(panel, w, levels, block_weights, title):
    low, high = float(np.min(w)), float(np.max(w))
    if panel.weights_id != (id(w), low, high):  # the histogram only changes with the weights
        panel.weights_id = (id(w), low, high)
        pad = 0.04 * (high - low) or 1.0
        edges = np.linspace(low - pad, high + pad, panel.bins + 1)
        counts = histogram_counts(w, edges)
        panel.hist.set_data(counts / max(counts.max(), 1), edges)
        panel.xlim = nice_range(edges[0], edges[-1], panel.xlim)  # on a 1-2-5 ladder: the axes rarely move
        panel.ax.set_xlim(*panel.xlim)
    for name, values in zip(panel.names, levels.values()):  # lanes keep their order; NF's name may change
        lane = panel.lanes[name]
        top, bottom = lane.center + LANE_HALF_HEIGHT, lane.center - LANE_HALF_HEIGHT
        lane.set_segments([[(x, bottom), (x, top)] for x in np.ravel(values)])
    rug = [] if block_weights is None else np.ravel(block_weights)
    panel.rug.set_segments([[(x, -0.1), (x, -0.02)] for x in rug])
    if title is not None:
        panel.ax.set_title(title)


def draw_grid_scores(scores, variance, ax, floor=1e-4, ceiling=3.0, title="error at these settings"):
    """One bar per grid: MSE / var(w) on a log axis, labelled with the grid's bits per weight and the value.

    `scores` are codebook.GridScore rows (name, bits_per_weight, mse); bars start at `floor`.
    """
    panel = Panel(ax, floor=floor, ceiling=ceiling)
    rows = np.arange(len(scores))[::-1]  # first grid on top
    colors = [GRID_COLORS[family(score.name)] for score in scores]
    panel.bars = ax.barh(rows, np.ones(len(rows)), left=floor, height=0.7, color=colors, alpha=0.45, animated=True)
    panel.labels = [
        ax.text(floor * 1.25, y, "", va="center", fontsize=7, family="monospace", animated=True) for y in rows
    ]
    ax.set_xscale("log")
    ax.set_xlim(floor, ceiling)
    ax.set_ylim(-0.6, len(rows) - 0.4)
    ax.yaxis.set_major_locator(NullLocator())
    ax.xaxis.set_major_locator(LogLocator(numticks=6))
    ax.xaxis.set_major_formatter(PLAIN_DECADES)
    ax.xaxis.set_minor_locator(NullLocator())
    ax.xaxis.set_minor_formatter(NullFormatter())
    ax.set_xlabel("MSE / var(w)  (log; lower is better)")
    ax.set_title(title)
    panel.update = lambda scores, variance: _update_scores(panel, scores, variance)
    panel.update(scores, variance)
    return panel


def _update_scores(panel, scores, variance):
    for bar, label, score in zip(panel.bars, panel.labels, scores):
        relative = score.mse / variance if variance > 0 else 0.0
        bar.set_width(np.clip(relative, panel.floor, panel.ceiling) - panel.floor)
        label.set_text(f"{score.name:<7} {score.bits_per_weight:5.2f} b/w  {format_relative(relative)}")


def draw_pareto(
    points, front, variance, ax, current=None, limits=(1e-5, 10.0), title="error vs storage, every setting"
):
    """MSE / var(w) against bits per weight for a sweep (dicts with 'grid', 'bits_per_weight', 'mse'), one colour per family.

    The grey line joins the Pareto `front` (points no other point beats on both size and error);
    `current` (GridScore rows) rings this setting's point of each grid. The error axis keeps fixed
    `limits` (relative MSE does not depend on the weights' scale), so new weights redraw only the
    points; values outside are drawn at the edge.
    """
    panel = Panel(ax, limits=limits)
    panel.series = {}
    for name, color in GRID_COLORS.items():
        (panel.series[name],) = ax.plot([], [], "o", color=color, markersize=3.5, label=name, animated=True)
    (panel.front,) = ax.plot(
        [], [], "-", color=IDEAL_COLOR, linewidth=0.9, zorder=0, label="Pareto front", animated=True
    )
    panel.rings = {
        name: ax.plot(
            [], [], "o", markersize=9, markerfacecolor="none", markeredgecolor=color, markeredgewidth=1.4, animated=True
        )[0]
        for name, color in GRID_COLORS.items()
    }
    ax.set_xscale("log", base=2)
    ax.set_yscale("log")
    ticks = [2, 3, 4, 6, 8, 12, 16]
    ax.xaxis.set_major_locator(FixedLocator(ticks))
    ax.set_xticklabels([str(t) for t in ticks])
    ax.xaxis.set_minor_locator(NullLocator())
    ax.yaxis.set_major_locator(LogLocator(numticks=7))
    ax.yaxis.set_major_formatter(PLAIN_DECADES)
    ax.yaxis.set_minor_locator(NullLocator())
    ax.set_xlim(1.85, 24)
    ax.set_ylim(*limits)
    ax.set_xlabel("bits per weight (everything stored)")
    ax.set_ylabel("MSE / var(w)  (log)")
    ax.set_title(title)
    ring = Line2D(
        [], [], marker="o", linestyle="", markersize=7, markerfacecolor="none", markeredgecolor=OKABE_ITO["black"]
    )
    ax.legend(
        [*panel.series.values(), panel.front, ring],
        [*GRID_COLORS, "Pareto front", "this setting"],
        loc="upper right",
        frameon=False,
        fontsize=6,
    )
    panel.update = lambda points, front, variance, current=None: _update_pareto(panel, points, front, variance, current)
    panel.update(points, front, variance, current)
    return panel


def _update_pareto(panel, points, front, variance, current):
    variance = variance or 1.0
    low, high = panel.limits

    def relative(rows, mse=lambda row: row["mse"]):
        return [float(np.clip(mse(row) / variance, low, high)) for row in rows]

    if panel.__dict__.get("points_id") != id(points):  # the sweep only changes with the weights
        panel.points_id = id(points)
        for name, line in panel.series.items():
            mine = [p for p in points if p["grid"] == name]
            line.set_data([p["bits_per_weight"] for p in mine], relative(mine))
        panel.front.set_data([p["bits_per_weight"] for p in front], relative(front))
    for name, ring in panel.rings.items():
        mine = [score for score in (current or []) if family(score.name) == name]
        ring.set_data([s.bits_per_weight for s in mine], relative(mine, lambda s: s.mse))

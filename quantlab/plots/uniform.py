"""Notebooks 02-04's panels: level grids over histograms, transfer functions, rounding errors, trade-offs.

Each panel is drawn once by a `draw_*` function (which takes `ax=` and returns a Panel) and then
updated in place by the panel's `update(...)`. Nothing here quantizes: callers pass computed arrays.
"""

import numpy as np
from matplotlib.collections import LineCollection
from matplotlib.ticker import LogLocator, MaxNLocator, NullLocator

from .base import (
    ERROR_COLOR,
    GRID_COLOR,
    IDEAL_COLOR,
    OKABE_ITO,
    SERIES_COLORS,
    WEIGHTS_COLOR,
    Panel,
    histogram_counts,
    nice_range,
    sticky_top,
)


def draw_levels_on_histogram(w, levels, ax, bins=80, title="weights and the quantization grid"):
    """Histogram of the weights with one vertical line per quantization level."""
    panel = Panel(ax, bins=bins, weights_id=None, limits_set=False, top=1.0)
    panel.hist = ax.stairs(
        np.zeros(bins),
        np.linspace(0, 1, bins + 1),
        fill=True,
        color=WEIGHTS_COLOR,
        alpha=0.8,
        label="weights",
        animated=True,
    )
    panel.grid = LineCollection([], colors=GRID_COLOR, linewidths=0.8, alpha=0.9, label="levels", animated=True)
    ax.add_collection(panel.grid)
    ax.set_xlabel("weight value")
    ax.set_ylabel("count (log)")
    ax.set_ylim(0.6, 10)  # positive limits first, so the log scale has something to work with
    ax.set_yscale("log")
    ax.yaxis.set_major_locator(LogLocator(numticks=4))
    ax.yaxis.set_minor_locator(NullLocator())
    ax.xaxis.set_major_locator(MaxNLocator(5))
    ax.set_title(title)
    ax.legend(loc="upper right", frameon=False)
    panel.update = lambda w, levels: _update_histogram(panel, w, levels)
    panel.update(w, levels)
    return panel


def _update_histogram(panel, w, levels):
    if panel.weights_id != id(w):  # the histogram only changes with the weights
        panel.weights_id = id(w)
        current = panel.ax.get_xlim() if panel.limits_set else None
        low, high = nice_range(float(np.min(w)), float(np.max(w)), current)
        panel.limits_set = True
        edges = np.linspace(low, high, panel.bins + 1)
        counts = histogram_counts(w, edges)
        panel.hist.set_data(np.maximum(counts, 0.5), edges)  # 0.5 floor: empty bins sit below the log axis
        panel.top = max(panel.top, 10 ** np.ceil(np.log10(max(counts.max(), 1) * 1.5)))
        panel.ax.set_xlim(low, high)
        panel.ax.set_ylim(0.6, panel.top)
    panel.grid.set_segments([[(x, 0.5), (x, panel.top)] for x in np.ravel(levels)])


def draw_transfer(x, y, ax, title="transfer function  w \u2192 \u0175"):
    """The quantizer as a function: input weight on x, reconstructed weight on y, ideal y = x dashed."""
    panel = Panel(ax, limits_set=False)
    (panel.ideal,) = ax.plot([], [], "--", color=IDEAL_COLOR, linewidth=0.8, label="ideal")
    (panel.steps,) = ax.plot(
        [], [], color=GRID_COLOR, linewidth=1.2, drawstyle="steps-mid", label="quantized", animated=True
    )
    ax.set_xlabel("weight w")
    ax.set_ylabel("reconstruction \u0175")
    ax.set_title(title)
    ax.legend(loc="upper left", frameon=False)
    panel.update = lambda x, y: _update_transfer(panel, x, y)
    panel.update(x, y)
    return panel


def _update_transfer(panel, x, y):
    current = panel.ax.get_xlim() if panel.limits_set else None
    low, high = nice_range(float(x[0]), float(x[-1]), current)
    panel.limits_set = True
    panel.ideal.set_data([low, high], [low, high])
    panel.steps.set_data(x, y)
    panel.ax.set_xlim(low, high)
    panel.ax.set_ylim(low, high)


def draw_error_histogram(errors_in_steps, ax, bins=50, title="rounding error, in steps"):
    """Histogram of (w - w_hat) / step: round-to-nearest keeps every weight inside the grid within ±1/2.

    Measuring the error in steps keeps the axes still while the bits change (so redraws stay cheap);
    clipped weights, further than one step away, are piled into the outermost bins.
    """
    panel = Panel(ax, bins=bins, top=0.0)
    edges = np.linspace(-1.0, 1.0, bins + 1)
    panel.hist = ax.stairs(np.zeros(bins), edges, fill=True, color=ERROR_COLOR, alpha=0.8, animated=True)
    for x in (-0.5, 0.5):
        ax.axvline(x, color=GRID_COLOR, linewidth=1.0, linestyle="--", label="± step/2" if x > 0 else None)
    ax.set_xlim(-1.0, 1.0)
    ax.set_xlabel("(w − ŵ) / step")
    ax.set_ylabel("fraction of weights per bin")
    ax.set_title(title)
    ax.legend(loc="upper right", frameon=False)
    panel.update = lambda errors_in_steps: _update_error(panel, errors_in_steps)
    panel.update(errors_in_steps)
    return panel


def _update_error(panel, errors_in_steps):
    edges = panel.hist.get_data().edges
    counts = histogram_counts(np.clip(errors_in_steps, -0.999, 0.999), edges) / max(len(errors_in_steps), 1)
    panel.hist.set_data(counts, edges)
    panel.top = sticky_top(panel.top, counts.max() * 1.15)
    panel.ax.set_ylim(0, panel.top)


def draw_tradeoff(points, front, ax, highlight=None, title="error vs storage"):
    """MSE against bits per weight for a sweep of settings, the Pareto `front` joined, one point highlighted.

    `points` and `front` are sequences of dicts with keys 'bits_per_weight', 'mse' and (points) 'label'.
    """
    panel = Panel(ax)
    labels = list(dict.fromkeys(p["label"] for p in points))
    for color, label in zip(SERIES_COLORS, labels):
        series = [p for p in points if p["label"] == label]
        ax.plot(
            [p["bits_per_weight"] for p in series],
            [p["mse"] for p in series],
            "o",
            color=color,
            markersize=3.5,
            label=label,
        )
    ax.plot(
        [p["bits_per_weight"] for p in front],
        [p["mse"] for p in front],
        "-",
        color=IDEAL_COLOR,
        linewidth=0.8,
        zorder=0,
        label="Pareto front",
    )
    (panel.marker,) = ax.plot(
        [],
        [],
        "o",
        markersize=9,
        markerfacecolor="none",
        markeredgecolor=OKABE_ITO["black"],
        label="current",
        animated=True,
    )
    ax.set_yscale("log")
    ax.yaxis.set_minor_locator(NullLocator())
    ax.set_xlabel("bits per weight (codes + scales)")
    ax.set_ylabel("MSE (log)")
    ax.set_title(title)
    ax.legend(loc="lower left", frameon=False, fontsize=6, ncol=2)
    panel.update = lambda bits_per_weight, mse: panel.marker.set_data([bits_per_weight], [mse])
    if highlight is not None:
        panel.update(*highlight)
    return panel


def draw_distribution(values, ax, markers=None, bins=40, xlabel="value", title=""):
    """A histogram of measured values with labelled vertical reference lines (`markers`: label -> x)."""
    ax.hist(values, bins=bins, color=WEIGHTS_COLOR, alpha=0.85)
    for color, (label, x) in zip(SERIES_COLORS[1:], (markers or {}).items()):
        ax.axvline(x, color=color, linewidth=1.5, linestyle="--", label=label)
    ax.set_xlabel(xlabel)
    ax.set_ylabel("count")
    ax.set_title(title)
    if markers:
        ax.legend(frameon=False)
    return ax


def draw_lines(x, series, ax, xlabel="", ylabel="", title="", logy=False, logx=False, markers=True):
    """Several named curves over the same x (`series`: label -> y values), with markers on the points."""
    for color, (label, y) in zip(SERIES_COLORS, series.items()):
        ax.plot(x, y, "o-" if markers else "-", color=color, markersize=3.5, linewidth=1.2, label=label)
    if logy:
        ax.set_yscale("log")
    if logx:
        ax.set_xscale("log")
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.set_title(title)
    ax.legend(frameon=False)
    return ax

"""Drawing for notebook 10 on a given Axes: activations per channel, knob curves, value histograms, a heat map.

Same contract as quantlab.plots: each `draw_*` takes `ax=`, draws once and returns a Panel whose
`update(...)` moves only its `animated=True` artists (plots.FastRenderer repaints them over a cached
background); limits move on a 1-2-5 ladder so most updates redraw the data alone. Nothing here
quantizes: callers pass what quantlab.activations computed.
"""

import numpy as np
from matplotlib.collections import LineCollection
from matplotlib.colors import LogNorm
from matplotlib.ticker import NullLocator

from .base import IDEAL_COLOR, OKABE_ITO, SERIES_COLORS, Panel, histogram_counts, new_figure, nice_ceiling, style

FLOAT_COLOR = OKABE_ITO["vermillion"]  # what LLM.int8() keeps in float
ACTIVATION_COLOR = OKABE_ITO["blue"]
WEIGHT_COLOR = OKABE_ITO["orange"]


def _log_limits(values, current=None):
    """(low, high) on a decade ladder covering the positive `values`, kept while they still fit."""
    positive = values[values > 0]
    low = 10 ** np.floor(np.log10(positive.min())) if positive.size else 1e-3
    high = nice_ceiling(positive.max() * 1.3) if positive.size else 1.0
    if current is not None and current[0] <= low and high <= current[1] and high > current[1] / 20:
        return current
    return low, high


def draw_channel_maxima(absmax, ax, threshold=None, title="max |x| per input channel"):
    """max |x_j| of every channel as a vertical stroke (log scale), a threshold line and the channels that reach it."""
    panel = Panel(ax, limits=None)
    panel.strokes = LineCollection([], colors=ACTIVATION_COLOR, linewidths=0.8, animated=True, label="channel max |x|")
    ax.add_collection(panel.strokes)
    (panel.line,) = ax.plot([], [], "--", color=FLOAT_COLOR, linewidth=1.0, animated=True, label="threshold")
    (panel.marks,) = ax.plot([], [], "o", color=FLOAT_COLOR, markersize=3.5, animated=True, label="kept in float")
    ax.set_ylim(0.1, 10)
    ax.set_yscale("log")
    ax.yaxis.set_minor_locator(NullLocator())
    ax.set_xlabel("input channel j")
    ax.set_ylabel("max over tokens |x_j| (log)")
    ax.set_title(title)
    ax.legend(loc="upper right", frameon=False, fontsize=6)
    panel.update = lambda absmax, threshold=None: _update_channel_maxima(panel, np.asarray(absmax), threshold)
    panel.update(absmax, threshold)
    return panel


def _update_channel_maxima(panel, absmax, threshold):
    channels = np.arange(len(absmax))
    panel.limits = _log_limits(absmax, panel.limits)
    low = panel.limits[0]
    panel.strokes.set_segments(
        np.stack(
            [np.stack([channels, np.full_like(absmax, low)], 1), np.stack([channels, np.maximum(absmax, low)], 1)], 1
        )
    )
    panel.ax.set_xlim(-0.5, len(absmax) - 0.5)
    panel.ax.set_ylim(*panel.limits)
    if threshold is None:
        panel.line.set_data([], [])
        panel.marks.set_data([], [])
        return
    panel.line.set_data([-0.5, len(absmax) - 0.5], [threshold, threshold])
    above = absmax >= threshold
    panel.marks.set_data(channels[above], absmax[above])


def draw_two_maxima(activation, weight, ax, title="after smoothing: max per channel"):
    """Two series per channel on a log scale: max |x_j / s_j| (activations) and max |W_j s_j| (weights)."""
    panel = Panel(ax, limits=None)
    (panel.activation,) = ax.plot(
        [], [], ".", color=ACTIVATION_COLOR, markersize=2.5, animated=True, label="activations max|x_j/s_j|", zorder=2
    )
    (panel.weight,) = ax.plot(
        [],
        [],
        "o",
        color=WEIGHT_COLOR,
        markersize=3.5,
        markerfacecolor="none",
        markeredgewidth=0.6,
        animated=True,
        label="weights max|W_j s_j|",
        zorder=1,
    )
    ax.set_ylim(0.1, 10)
    ax.set_yscale("log")
    ax.yaxis.set_minor_locator(NullLocator())
    ax.set_xlabel("input channel j")
    ax.set_ylabel("max (log)")
    ax.set_title(title)
    ax.legend(loc="upper right", frameon=False, fontsize=6, markerscale=3)
    panel.update = lambda activation, weight: _update_two_maxima(panel, np.asarray(activation), np.asarray(weight))
    panel.update(activation, weight)
    return panel


def _update_two_maxima(panel, activation, weight):
    channels = np.arange(len(activation))
    panel.activation.set_data(channels, activation)
    panel.weight.set_data(channels, weight)
    panel.limits = _log_limits(np.concatenate([activation, weight]), panel.limits)
    panel.ax.set_xlim(-0.5, len(activation) - 0.5)
    panel.ax.set_ylim(*panel.limits)


def draw_curves(x, series, ax, xlabel="", ylabel="", title="", logx=False, logy=True, reference=None):
    """Named curves over x (`series`: label -> y), each with a marker at the current x; an optional flat reference.

    update(x, series, current_x, reference) moves every curve and marker (they change with the layer).
    """
    panel = Panel(ax, limits=None, lines={}, markers={})
    for color, label in zip(SERIES_COLORS, series):
        (panel.lines[label],) = ax.plot([], [], "-", color=color, linewidth=1.2, animated=True, label=label)
        (panel.markers[label],) = ax.plot([], [], "o", color=color, markersize=6, animated=True)
    (panel.reference,) = ax.plot(
        [], [], ":", color=IDEAL_COLOR, linewidth=1.0, animated=True, label=None if reference is None else reference[0]
    )
    if logx:
        ax.set_xscale("log")
    if logy:
        ax.set_ylim(0.1, 10)  # positive limits first, so the log scale has something to work with
        ax.set_yscale("log")
        ax.yaxis.set_minor_locator(NullLocator())
    ax.set_xlim(min(x), max(x))
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.set_title(title)
    ax.legend(loc="best", frameon=False, fontsize=6)
    panel.update = lambda x, series, current, reference=None: _update_curves(panel, x, series, current, reference)
    return panel


def _update_curves(panel, x, series, current, reference):
    x = np.asarray(x, dtype=float)
    values = []
    for label, y in series.items():
        y = np.asarray(y, dtype=float)
        panel.lines[label].set_data(x, y)
        panel.markers[label].set_data([current], [np.interp(current, x, y)])
        values.append(y)
    if reference is not None:
        panel.reference.set_data([x.min(), x.max()], [reference[1], reference[1]])
        values.append(np.array([reference[1]]))
    values = np.concatenate(values)
    if panel.ax.get_yscale() == "log":
        panel.limits = _log_limits(values, panel.limits)
    else:
        top = nice_ceiling(max(values.max() * 1.1, 1e-12))
        panel.limits = (
            (0.0, top) if panel.limits is None or not (values.max() <= panel.limits[1] <= 5 * top) else panel.limits
        )
    panel.ax.set_ylim(*panel.limits)


def draw_value_histogram(values, reference, ax, bins=81, title="values of x"):
    """Histogram of every entry of x (log count), with a reference histogram (another x) as a grey outline.

    The bins span the reference; values beyond it are counted in the outermost bins. Counts are kept per
    array (by identity): pass the same arrays again, as the rotation toggle does, and nothing is recounted.
    """
    panel = Panel(ax, bins=bins, span=None, top=10.0, reference_id=None, counts={})
    panel.reference = ax.stairs(
        np.zeros(bins), np.linspace(-1, 1, bins + 1), color=IDEAL_COLOR, linewidth=1.0, animated=True, label="original"
    )
    panel.hist = ax.stairs(
        np.zeros(bins),
        np.linspace(-1, 1, bins + 1),
        fill=True,
        color=ACTIVATION_COLOR,
        alpha=0.7,
        animated=True,
        label="shown",
    )
    ax.set_ylim(0.6, 10)
    ax.set_yscale("log")
    ax.yaxis.set_minor_locator(NullLocator())
    ax.set_xlabel("x")
    ax.set_ylabel("count (log)")
    ax.set_title(title)
    ax.legend(loc="upper right", frameon=False, fontsize=6)
    panel.update = lambda values, reference: _update_value_histogram(panel, values, reference)
    panel.update(values, reference)
    return panel


def _update_value_histogram(panel, values, reference):
    if panel.span is None or panel.reference_id != id(reference):  # a new reference: new edges, new counts
        panel.span = nice_ceiling(float(np.abs(reference).max()) * 1.05)
        panel.reference_id, panel.counts = id(reference), {}
    span = panel.span
    edges = np.linspace(-span, span, panel.bins + 1)
    for array in (values, reference):  # counts kept per array: a toggle back and forth costs no histogram
        if id(array) not in panel.counts:
            panel.counts[id(array)] = histogram_counts(np.clip(array, -span, span), edges)
    counts, counts_reference = panel.counts[id(values)], panel.counts[id(reference)]
    panel.hist.set_data(np.maximum(counts, 0.5), edges)
    panel.reference.set_data(np.maximum(counts_reference, 0.5), edges)
    panel.top = nice_ceiling(max(counts.max(), counts_reference.max(), 1) * 2.0)
    panel.ax.set_xlim(-span, span)
    panel.ax.set_ylim(0.6, panel.top)


def draw_kurtosis(kurtosis, reference, ax, title="excess kurtosis per channel"):
    """Per-channel excess kurtosis (0 for a Gaussian), shown and reference, on a symmetric-log scale."""
    panel = Panel(ax, top=10.0)
    (panel.reference,) = ax.plot([], [], ".", color=IDEAL_COLOR, markersize=2.5, animated=True, label="original")
    (panel.shown,) = ax.plot([], [], ".", color=ACTIVATION_COLOR, markersize=2.5, animated=True, label="shown")
    ax.axhline(0, color=IDEAL_COLOR, linewidth=0.6)
    ax.set_yscale("symlog", linthresh=1.0)
    ax.yaxis.set_minor_locator(NullLocator())
    ax.set_xlabel("input channel j")
    ax.set_ylabel("kurtosis (symlog)")
    ax.set_title(title)
    ax.legend(loc="upper right", frameon=False, fontsize=6, markerscale=3)
    panel.update = lambda kurtosis, reference: _update_kurtosis(panel, np.asarray(kurtosis), np.asarray(reference))
    panel.update(kurtosis, reference)
    return panel


def _update_kurtosis(panel, kurtosis, reference):
    channels = np.arange(len(kurtosis))
    panel.shown.set_data(channels, np.nan_to_num(kurtosis))
    panel.reference.set_data(channels, np.nan_to_num(reference))
    panel.top = nice_ceiling(max(float(np.nanmax(np.concatenate([kurtosis, reference]))), 1.0) * 1.5)
    panel.ax.set_xlim(-0.5, len(kurtosis) - 0.5)
    panel.ax.set_ylim(-3.0, panel.top)


def heat_map_figure(x, title, width=8.6, height=3.0, channels=None, xlabel="token"):
    """A static heat map of |x| (channels up, tokens across, log colour): where the large activations sit.

    channels: optional indices to mark as the y ticks (e.g. the systematic outlier features).
    """
    with style():
        figure, (ax,) = new_figure(1, width, height)
        magnitude = np.abs(np.asarray(x, dtype=np.float32)).T
        floor = max(float(np.percentile(magnitude, 5)), 1e-3)
        image = ax.imshow(
            np.maximum(magnitude, floor),
            aspect="auto",
            origin="lower",
            interpolation="nearest",
            cmap="viridis",
            norm=LogNorm(vmin=floor, vmax=float(magnitude.max())),
        )
        figure.colorbar(image, ax=ax, label="|x| (log)", pad=0.01)
        if channels is not None:  # the marked channels become the y ticks
            ax.set_yticks(sorted(channels))
        ax.set_xlabel(xlabel)
        ax.set_ylabel("input channel j")
        ax.set_title(title)
    return figure


def draw_bars(labels, ax, ylabel="", title=""):
    """One bar per label (heights set by update(heights, highlight)); the highlighted bar is coloured."""
    panel = Panel(ax, top=None)
    panel.bars = list(ax.bar(np.arange(len(labels)), np.zeros(len(labels)), color=IDEAL_COLOR, width=0.6))
    for bar in panel.bars:
        bar.set_animated(True)
    ax.set_xticks(np.arange(len(labels)), labels)
    ax.set_xlim(-0.6, len(labels) - 0.4)
    ax.set_ylabel(ylabel)
    ax.set_title(title)
    panel.update = lambda heights, highlight=None: _update_bars(panel, heights, highlight)
    return panel


def _update_bars(panel, heights, highlight):
    for i, (bar, height) in enumerate(zip(panel.bars, heights)):
        bar.set_height(height)
        bar.set_color(ACTIVATION_COLOR if i == highlight else IDEAL_COLOR)
    top = nice_ceiling(max(max(heights), 1e-12) * 1.15)
    if panel.top is None or not (max(heights) <= panel.top <= 5 * top):
        panel.top = top
    panel.ax.set_ylim(0, panel.top)

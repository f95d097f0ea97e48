"""Drawing on a given matplotlib Axes: level grids over histograms, transfer functions, errors, trade-offs.

Each panel is drawn once by a `draw_*` function (which takes `ax=` and returns its artists) and then
updated in place by the artists' `update(...)`: redrawing in place is ~4x cheaper than recreating a
figure, and is what keeps the explorers live. Nothing here quantizes: callers pass computed arrays.
"""

import io

import numpy as np
from PIL import Image
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.collections import LineCollection
from matplotlib.patches import Rectangle
from matplotlib.transforms import Bbox, IdentityTransform
from matplotlib.ticker import LogLocator, MaxNLocator, NullLocator
from matplotlib.figure import Figure

# Okabe & Ito (2008), "Color Universal Design": distinguishable with every common colour-vision deficiency.
OKABE_ITO = {
    "black": "#000000",
    "orange": "#E69F00",
    "sky_blue": "#56B4E9",
    "green": "#009E73",
    "yellow": "#F0E442",
    "blue": "#0072B2",
    "vermillion": "#D55E00",
    "purple": "#CC79A7",
}
WEIGHTS_COLOR = OKABE_ITO["sky_blue"]
GRID_COLOR = OKABE_ITO["vermillion"]
ERROR_COLOR = OKABE_ITO["blue"]
IDEAL_COLOR = "#999999"
SERIES_COLORS = [OKABE_ITO[name] for name in ("blue", "orange", "green", "vermillion", "purple", "sky_blue", "yellow")]

# A fixed title height spares matplotlib a bounding-box search per draw (about a quarter of the redraw).
STYLE = {"axes.titley": 1.01, "axes.titlepad": 3, "xtick.minor.visible": False, "ytick.minor.visible": False, "font.size": 8, "axes.titlesize": 8.5, "axes.labelsize": 8, "legend.fontsize": 7, "xtick.labelsize": 7, "ytick.labelsize": 7}


def new_figure(n_panels=3, width=9.5, height=2.9):
    """A pyplot-free figure with `n_panels` axes side by side (nothing is shown until asked)."""
    with _style():
        figure = Figure(figsize=(width, height), dpi=80)
        axes = figure.subplots(1, n_panels)
        figure.subplots_adjust(left=0.06, right=0.99, bottom=0.17, top=0.88, wspace=0.28)
        for ax in np.atleast_1d(axes):
            ax.xaxis.set_major_locator(MaxNLocator(5))
    return figure, list(np.atleast_1d(axes))


def _style():
    import matplotlib

    return matplotlib.rc_context(STYLE)


def figure_png(figure, dpi=80):
    """Render a figure to PNG bytes, with fast (light) compression."""
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=dpi, pil_kwargs={"compress_level": 1})
    return buffer.getvalue()


class FastRenderer:
    """Renders a figure to PNG again and again, redrawing as little as it can.

    Artists created with `animated=True` are the ones that move. The still background (axes, ticks,
    labels, legends: text, which costs most of a draw) is kept as a bitmap. When an axes changes its
    limits or title, only that axes' background is redrawn; then the moving artists go on top.
    """

    def __init__(self, figure):
        self.figure = figure
        self.canvas = FigureCanvasAgg(figure)
        self.background, self.signatures, self.extents = None, None, None

    @staticmethod
    def _signature(ax):
        return ax.get_xlim(), ax.get_ylim(), ax.get_title(), ax.get_xscale(), ax.get_yscale()

    def _redraw_axes(self, axes):
        """Repaint the region of each changed axes (its old and new extent) and draw it again."""
        renderer = self.canvas.get_renderer()
        self.canvas.restore_region(self.background)
        for ax in axes:
            old = self.extents[ax]
            new = ax.get_tightbbox(renderer)
            region = Bbox.union([old, new]).expanded(1.02, 1.02)
            eraser = Rectangle((region.x0, region.y0), region.width, region.height, transform=IdentityTransform(),
                               facecolor=self.figure.get_facecolor(), edgecolor="none")
            eraser.set_figure(self.figure)
            eraser.draw(renderer)
            ax.draw(renderer)  # skips the animated artists, as a full draw does
            self.extents[ax] = ax.get_tightbbox(renderer)

    def png(self):
        signatures = [self._signature(ax) for ax in self.figure.axes]
        if self.background is None or len(signatures) != len(self.signatures):
            self.canvas.draw()  # draws everything but the animated artists
            renderer = self.canvas.get_renderer()
            self.extents = {ax: ax.get_tightbbox(renderer) for ax in self.figure.axes}
        else:
            changed = [ax for ax, old, new in zip(self.figure.axes, self.signatures, signatures) if old != new]
            if changed:
                self._redraw_axes(changed)
            else:
                self.canvas.restore_region(self.background)
        if self.signatures != signatures or self.background is None:
            self.background = self.canvas.copy_from_bbox(self.figure.bbox)
            self.signatures = signatures
        for ax in self.figure.axes:
            for artist in sorted((a for a in ax.get_children() if a.get_animated()), key=lambda a: a.get_zorder()):
                ax.draw_artist(artist)
        width, height = self.canvas.get_width_height()
        image = Image.frombuffer("RGBA", (width, height), self.canvas.buffer_rgba(), "raw", "RGBA", 0, 1)
        buffer = io.BytesIO()
        image.save(buffer, format="png", compress_level=1)
        return buffer.getvalue()


def histogram_counts(values, edges):
    """Counts of `values` in the bins `edges` (a helper, so panels redraw without recomputing edges)."""
    return np.histogram(values, bins=edges)[0]


class _Panel:
    """Artists of one panel, kept so the next update only moves them."""

    def __init__(self, ax, **artists):
        self.ax = ax
        self.__dict__.update(artists)


def draw_levels_on_histogram(w, levels, ax, bins=80, title="weights and the quantization grid"):
    """Histogram of the weights with one vertical line per quantization level."""
    panel = _Panel(ax, bins=bins, weights_id=None, limits_set=False, top=1.0)
    panel.hist = ax.stairs(np.zeros(bins), np.linspace(0, 1, bins + 1), fill=True, color=WEIGHTS_COLOR, alpha=0.8, label="weights", animated=True)
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
    panel = _Panel(ax, limits_set=False)
    (panel.ideal,) = ax.plot([], [], "--", color=IDEAL_COLOR, linewidth=0.8, label="ideal")
    (panel.steps,) = ax.plot([], [], color=GRID_COLOR, linewidth=1.2, drawstyle="steps-mid", label="quantized", animated=True)
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
    panel = _Panel(ax, bins=bins, top=0.0)
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
    panel.top = _sticky_top(panel.top, counts.max() * 1.15)
    panel.ax.set_ylim(0, panel.top)


def _sticky_top(current, needed):
    """Grow an axis limit in 1-2-5 steps and never shrink it: still axes redraw cheaply."""
    if needed <= current:
        return current
    return _nice_ceiling(needed)


def _nice_ceiling(value):
    """The smallest of 1, 2, 5 x 10^k that is >= value (value > 0)."""
    magnitude = 10 ** np.floor(np.log10(value))
    return float(next(m * magnitude for m in (1, 2, 5, 10) if m * magnitude >= value))


def nice_range(low, high, current=None, shrink_below=0.4):
    """Axis limits covering [low, high] on a 1-2-5 ladder, kept while they still fit the data snugly.

    Limits that change on every slider step force a full (text-heavy) redraw; limits on a ladder with
    some hysteresis change only now and then, so most updates only redraw the data.
    """
    def side(extent, old):
        if extent <= 0:
            return 0.0
        if old is not None and shrink_below * old <= extent <= old:
            return old
        return _nice_ceiling(extent * 1.02)

    old_low, old_high = (None, None) if current is None else (-current[0], current[1])
    span = max(high - low, abs(high), abs(low), 1e-30)
    lower, upper = side(-low, old_low), side(high, old_high)
    if lower == 0.0:
        lower = 0.05 * span  # all weights positive: a small margin below the smallest
    if upper == 0.0:
        upper = 0.05 * span
    return -lower, upper


def draw_tradeoff(points, front, ax, highlight=None, title="error vs storage"):
    """MSE against bits per weight for a sweep of settings, the Pareto `front` joined, one point highlighted.

    `points` and `front` are sequences of dicts with keys 'bits_per_weight', 'mse' and (points) 'label'.
    """
    panel = _Panel(ax)
    labels = list(dict.fromkeys(p["label"] for p in points))
    for color, label in zip(SERIES_COLORS, labels):
        series = [p for p in points if p["label"] == label]
        ax.plot([p["bits_per_weight"] for p in series], [p["mse"] for p in series], "o", color=color, markersize=3.5, label=label)
    ax.plot([p["bits_per_weight"] for p in front], [p["mse"] for p in front], "-", color=IDEAL_COLOR, linewidth=0.8, zorder=0, label="Pareto front")
    (panel.marker,) = ax.plot([], [], "o", markersize=9, markerfacecolor="none", markeredgecolor=OKABE_ITO["black"], label="current", animated=True)
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

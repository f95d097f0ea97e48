"""Drawing for GGUF blocks on a given Axes: weights over their sub-block grids, the byte map, the scales.

Same contract as quantlab.plots: each `draw_*` takes `ax=`, draws once, and returns a panel whose
`update(...)` moves its artists in place (the moving ones are `animated=True`, so plots.FastRenderer
redraws only them). Nothing here quantizes: callers pass what quantlab.ggml.anatomy computed.
"""

import matplotlib.colors as mcolors
import numpy as np
from matplotlib.collections import LineCollection
from matplotlib.patches import Patch
from matplotlib.ticker import FixedLocator, NullLocator

from .base import GRID_COLOR, IDEAL_COLOR, OKABE_ITO, WEIGHTS_COLOR, Panel, moving_title

# One colour per field name of ggml-common.h's structs, the same for every type (Okabe-Ito).
FIELD_COLORS = {
    "d": OKABE_ITO["vermillion"],
    "dmin": OKABE_ITO["orange"],
    "m": OKABE_ITO["orange"],
    "scales": OKABE_ITO["green"],
    "qs": OKABE_ITO["sky_blue"],
    "ql": OKABE_ITO["sky_blue"],
    "qh": OKABE_ITO["blue"],
    "hmask": OKABE_ITO["blue"],
}
# One legend for every type: fields that play the same part share a colour.
LEGEND = (("d", "d"), ("dmin", "dmin, m"), ("scales", "scales"), ("qs", "qs, ql"), ("qh", "qh, hmask"))
STEP_COLOR, MIN_COLOR = OKABE_ITO["blue"], OKABE_ITO["orange"]
BYTES_PER_ROW = 16
MAX_ROWS = 17  # 272 bytes: eight Q8_0 blocks, the largest window the explorer shows


def _finish(panel, live):
    """For a static figure (live=False) every artist is drawn by a plain savefig: none stays animated."""
    if not live:
        for artist in panel.ax.get_children():
            artist.set_animated(False)
    return panel


def draw_block(
    x, reconstruction, levels, ax, ylim=None, title="weights on their sub-block grids", ylabel="value", live=True
):
    """Weights (dots) by position, their reconstruction (dashes), and each sub-block's levels (grey lines).

    x, reconstruction: (n,) weights of a window; levels: (n_sub_blocks, n_levels), sub-block j covering
    positions j*n/n_sub_blocks onwards. Sub-block boundaries are dotted. `ylim` fixes the value axis
    (e.g. from the whole tensor, so that moving to another window does not move the axes); None fits
    it to this window on a fine ladder. live=False: for a static figure (see _finish).
    """
    panel = Panel(ax, ylim=None)
    panel.grid = LineCollection([], colors=IDEAL_COLOR, linewidths=0.5, alpha=0.55, animated=True)
    panel.bounds = LineCollection([], colors=OKABE_ITO["black"], linewidths=0.6, linestyles=":", animated=True)
    ax.add_collection(panel.grid)
    ax.add_collection(panel.bounds)
    (panel.weights,) = ax.plot([], [], "o", color=WEIGHTS_COLOR, markersize=2.2, label="weight w", animated=True)
    (panel.rebuilt,) = ax.plot(
        [], [], "_", color=GRID_COLOR, markersize=4.5, markeredgewidth=1.2, label="stored \u0175", animated=True
    )
    ax.set_xlim(-0.5, len(x) - 0.5)
    ax.set_xlabel("position in the window")
    ax.set_ylabel(ylabel)
    panel.title = moving_title(ax, title)
    ax.legend(
        loc="upper right",
        ncol=2,
        fontsize=7,
        frameon=True,
        framealpha=0.85,
        edgecolor="none",
        handletextpad=0.2,
        columnspacing=0.8,
    )
    panel.update = lambda x, reconstruction, levels, ylim=None, title=None: _update_block(
        panel, x, reconstruction, levels, ylim, title
    )
    panel.update(x, reconstruction, levels, ylim)
    return _finish(panel, live)


def _update_block(panel, x, reconstruction, levels, ylim, title):
    n, n_sub = len(x), len(levels)
    size = n / n_sub
    positions = np.arange(n)
    panel.weights.set_data(positions, x)
    panel.rebuilt.set_data(positions, reconstruction)
    if ylim is None:
        low, high = float(min(np.min(x), np.min(reconstruction))), float(max(np.max(x), np.max(reconstruction)))
        ylim = snug_range(low, high, panel.ylim)
    panel.ylim = tuple(float(v) for v in ylim)
    start = np.repeat(np.arange(n_sub) * size - 0.5, levels.shape[1])
    values = np.ravel(levels)
    inside = (values >= panel.ylim[0]) & (values <= panel.ylim[1])  # levels off the axes are not drawn
    segments = np.stack([np.stack([start, values], -1), np.stack([start + size, values], -1)], axis=1)
    panel.grid.set_segments(segments[inside])
    edges = np.arange(1, n_sub) * size - 0.5
    panel.bounds.set_segments([[(e, panel.ylim[0]), (e, panel.ylim[1])] for e in edges])
    panel.ax.set_ylim(*panel.ylim)
    if title is not None:
        panel.title.set_text(title)


LADDER = (1.0, 1.2, 1.5, 2.0, 2.5, 3.0, 3.5, 4.0, 5.0, 6.0, 7.0, 8.0, 10.0)


def snug_range(low, high, current=None, keep_above=0.7):
    """Axis limits on a fine ladder (1, 1.2, 1.5, ... 8, 10: steps of at most 25%), kept while the data fills them.

    Finer than plots.nice_range (1-2-5), so 256 weights fill the panel; the hysteresis keeps the axes
    still (and cheap to redraw) as long as each side's extent stays within [keep_above, 1] of its limit.
    """

    def side(extent, old):
        if extent <= 0:
            return 0.0
        if old is not None and keep_above * old <= extent <= old:
            return old
        magnitude = 10 ** np.floor(np.log10(extent * 1.02))
        return float(next(m * magnitude for m in LADDER if m * magnitude >= extent * 1.02))

    old_low, old_high = (None, None) if current is None else (-current[0], current[1])
    lower, upper = side(-low, old_low), side(high, old_high)
    margin = 0.05 * max(high - low, abs(low), abs(high), 1e-30)
    return -(lower or margin), (upper or margin)


def byte_colors(values, field_index, names):
    """RGB (rows, 16, 3): each byte in its field's colour, paler for smaller values (0 is nearly white)."""
    base = np.array([mcolors.to_rgb(FIELD_COLORS.get(name, IDEAL_COLOR)) for name in names])[field_index]
    strength = 0.25 + 0.75 * (np.asarray(values, dtype=float) / 255.0)
    rgb = 1.0 - (1.0 - base) * strength[:, None]
    rows = -(-len(values) // BYTES_PER_ROW)
    padded = np.ones((rows * BYTES_PER_ROW, 3))
    padded[: len(values)] = rgb
    return padded.reshape(rows, BYTES_PER_ROW, 3)


def draw_byte_map(values, field_index, names, ax, rows=MAX_ROWS, title="bytes", live=True):
    """A block's bytes, 16 per row, coloured by field (names[field_index[i]]), shade = byte value.

    The axes always span `rows` rows (unused ones blank), so a new type only redraws the picture.
    """
    panel = Panel(ax, rows=rows)
    panel.image = ax.imshow(
        np.ones((rows, BYTES_PER_ROW, 3)),
        aspect="auto",
        interpolation="nearest",
        extent=(-0.5, BYTES_PER_ROW - 0.5, rows - 0.5, -0.5),
        animated=True,
    )
    ax.set_xlabel("byte within row of 16")
    ax.set_ylabel("byte offset")
    ax.xaxis.set_major_locator(FixedLocator([0, 4, 8, 12, 15]))
    ticks = list(range(0, rows, 4))
    ax.yaxis.set_major_locator(FixedLocator(ticks))
    ax.set_yticklabels([str(BYTES_PER_ROW * t) for t in ticks])
    ax.yaxis.set_minor_locator(NullLocator())
    panel.title = moving_title(ax, title)
    handles = [Patch(color=FIELD_COLORS[name], label=label) for name, label in LEGEND]
    ax.legend(
        handles=handles,
        loc="upper center",
        bbox_to_anchor=(0.5, -0.19),
        ncol=3,
        frameon=False,
        fontsize=6.5,
        handlelength=1.0,
        columnspacing=0.7,
        handletextpad=0.3,
    )
    panel.update = lambda values, field_index, names, title=None: _update_byte_map(
        panel, values, field_index, names, title
    )
    panel.update(values, field_index, names)
    return _finish(panel, live)


def _update_byte_map(panel, values, field_index, names, title):
    image = byte_colors(values, field_index, names)
    if len(image) > panel.rows:
        raise ValueError(
            f"{len(values)} bytes do not fit the map's {panel.rows} rows of {BYTES_PER_ROW}; draw fewer blocks"
        )
    canvas = np.ones((panel.rows, BYTES_PER_ROW, 3))
    canvas[: len(image)] = image
    panel.image.set_data(canvas)
    if title is not None:
        panel.title.set_text(title)


def draw_sub_block_scales(step, mins, ax, slots=16, limits=None, title="sub-block step and min", live=True):
    """Bars per sub-block, on a log axis: the grid step (d*s_j) and, where the type has one, the min.

    Magnitudes in weight units, so every type shares one axis and a new type only moves the bars:
    on a log axis each extra bit of code halves the step. n <= `slots` sub-blocks share the width.
    `limits` (low, high) starts the value axis wide enough for what will come; it widens by whole
    decades when a value falls outside, and never narrows.
    """
    panel = Panel(ax, slots=slots, limits=None if limits is None else tuple(float(v) for v in limits))
    start = np.full(slots, 1e-4)  # bars rest on the log axis' floor (set in update)
    panel.steps = ax.bar(
        np.arange(slots), start, bottom=start, width=0.4, color=STEP_COLOR, label="|step|", animated=True
    )
    panel.mins = ax.bar(np.arange(slots), start, bottom=start, width=0.4, color=MIN_COLOR, label="|min|", animated=True)
    ax.set_ylim(1e-4, 1e-1)
    ax.set_yscale("log")
    ax.yaxis.set_minor_locator(NullLocator())
    ax.set_xlim(-0.6, slots - 0.4)
    ax.xaxis.set_major_locator(NullLocator())
    ax.set_ylabel("weight units (log)")
    panel.title = moving_title(ax, title)
    ax.legend(
        loc="upper center",
        bbox_to_anchor=(0.5, -0.01),
        ncol=2,
        frameon=False,
        handlelength=1.0,
        columnspacing=0.8,
        title="sub-blocks, in order",
        title_fontsize=8,
    )
    panel.update = lambda step, mins=None, title=None: _update_scales(panel, step, mins, title)
    panel.update(step, mins)
    return _finish(panel, live)


def _decade_limits(values, current):
    """Whole decades covering the positive `values`, never narrower than `current` (a still axis)."""
    positive = values[values > 0]
    if positive.size == 0:
        return current or (1e-4, 1e-1)
    low, high = 10.0 ** np.floor(np.log10(positive.min())), 10.0 ** np.ceil(np.log10(positive.max() * 1.1))
    if current is not None:
        low, high = min(low, current[0]), max(high, current[1])
    return float(low), float(high)


def _update_scales(panel, step, mins, title):
    step = np.abs(np.nan_to_num(np.asarray(step, dtype=float)))
    mins = np.zeros_like(step) if mins is None else np.abs(np.nan_to_num(np.asarray(mins, dtype=float)))
    n = len(step)
    if not 1 <= n <= panel.slots:
        raise ValueError(f"{n} sub-blocks do not fit the panel's {panel.slots} bars")
    panel.limits = _decade_limits(np.concatenate([step, mins]), panel.limits)
    floor = panel.limits[0]
    width = panel.slots / n  # n sub-blocks share the panel's width
    for j in range(panel.slots):
        center = (j + 0.5) * width - 0.5
        for bars, values, offset in ((panel.steps, step, -0.21), (panel.mins, mins, 0.21)):
            bar = bars[j]
            bar.set_x(center + offset * width - 0.2 * width)
            bar.set_width(0.4 * width)
            bar.set_y(floor)
            bar.set_height(max(values[j] - floor, 0.0) if j < n else 0.0)
    panel.ax.set_ylim(*panel.limits)
    if title is not None:
        panel.title.set_text(title)


def draw_level_lanes(x, lanes, ax, title="levels of one sub-block"):
    """The weights as a rug, with one lane of tick marks per grid (`lanes`: name -> levels), one colour each."""
    colors = [OKABE_ITO["blue"], OKABE_ITO["orange"], OKABE_ITO["green"], OKABE_ITO["vermillion"]]
    ax.vlines(np.ravel(x), 0.8, 1.0, color=WEIGHTS_COLOR, linewidth=0.9)
    ticks = [0.9]
    for i, (color, (name, levels)) in enumerate(zip(colors, lanes.items())):
        center = -0.35 * i
        ax.vlines(np.ravel(levels), center - 0.12, center + 0.12, color=color, linewidth=1.4)
        ticks.append(center)
    ax.yaxis.set_major_locator(FixedLocator(ticks))
    ax.set_yticklabels(["weights"] + list(lanes))
    for label, color in zip(ax.get_yticklabels()[1:], colors):
        label.set_color(color)
    ax.set_ylim(ticks[-1] - 0.25, 1.1)
    ax.set_xlabel("value")
    ax.set_title(title)
    return ax

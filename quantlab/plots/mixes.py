"""Drawing for llama.cpp's mixes on a given Axes: sizes against a memory budget, published quality, where the bits go.

Same contract as quantlab.plots: each `draw_*` takes `ax=`, draws once, and returns a panel whose
`update(...)` moves its artists in place (the moving ones are `animated=True`, so plots.FastRenderer
redraws only them). Nothing here chooses types or adds up bytes: callers pass what quantlab.recipes
and quantlab.sizes computed.
"""

import matplotlib.colors as mcolors
import numpy as np
from matplotlib import colormaps
from matplotlib.cm import ScalarMappable
from matplotlib.lines import Line2D
from matplotlib.patches import Patch
from matplotlib.ticker import NullLocator

from ..mixes.classes import TYPE_ORDER
from .base import IDEAL_COLOR, OKABE_ITO, Panel, moving_title

WEIGHTS_COLOR, CACHE_COLOR, BUDGET_COLOR = OKABE_ITO["blue"], OKABE_ITO["orange"], OKABE_ITO["black"]
FITS_ALPHA, TOO_BIG_ALPHA = 0.9, 0.25

# Every GGML type a mix can give a tensor, cheapest first: the type map colours them along viridis
# (perceptually ordered and colour-blind-safe), so more bits always look lighter.
TYPE_COLORS = dict(zip(TYPE_ORDER, colormaps["viridis"](np.linspace(0.0, 1.0, len(TYPE_ORDER)))))
SHARE_LIMIT = 2.5  # the sizes panel shows up to 250 % of the budget
LABEL_OUTSIDE_BELOW = 2.0  # bars shorter than 200 % of the budget get their label after them
ABSENT_COLOR = "#FFFFFF"


def _finish(panel, live):
    """For a static figure (live=False) every artist is drawn by a plain savefig: none stays animated."""
    if not live:
        for artist in panel.ax.get_children():
            artist.set_animated(False)
    return panel


def draw_mix_sizes(mixes, weights_gib, cache_gib, budget_gib, ax, selected=None, live=True):
    """One bar per mix: weights (blue) plus KV cache (orange), as a share of the memory budget (dashed at 100 %).

    Measuring against the budget keeps the axes still whatever the model, context or budget (so an
    update redraws bars only); bars beyond the axis are cut at its edge, and every bar's label gives
    its real size in GiB (2^30 bytes). Mixes that do not fit are faded; the selected one is outlined.
    """
    rows = np.arange(len(mixes))
    panel = Panel(ax, mixes=list(mixes))
    panel.weights = ax.barh(rows, np.zeros(len(rows)), height=0.72, color=WEIGHTS_COLOR, animated=True)
    panel.cache = ax.barh(rows, np.zeros(len(rows)), height=0.72, color=CACHE_COLOR, animated=True)
    panel.labels = [ax.text(0, y, "", va="center", fontsize=6.5, animated=True) for y in rows]
    panel.title = moving_title(ax)
    ax.axvline(100, color=BUDGET_COLOR, linestyle="--", linewidth=1.1)
    ax.set_xlim(0, 100 * SHARE_LIMIT)
    ax.set_xticks(np.arange(0, 100 * SHARE_LIMIT + 1, 50))
    ax.set_yticks(rows, list(mixes))
    ax.set_ylim(len(rows) - 0.5, -0.5)  # first mix on top
    ax.set_xlabel("weights (blue) + KV cache (orange), % of the budget (dashed)")  # no legend box over the bars
    panel.update = lambda *args, **kwargs: _update_mix_sizes(panel, *args, **kwargs)
    panel.update(weights_gib, cache_gib, budget_gib, selected)
    return _finish(panel, live)


def _update_mix_sizes(panel, weights_gib, cache_gib, budget_gib, selected=None, title=None):
    weights_gib, cache_gib = np.asarray(weights_gib, float), np.asarray(cache_gib, float)
    total = weights_gib + cache_gib
    fits = total <= budget_gib
    edge_of_axis = 100 * SHARE_LIMIT
    weights_end = np.minimum(100 * weights_gib / budget_gib, edge_of_axis)
    total_end = np.minimum(100 * total / budget_gib, edge_of_axis)
    for i, (weights_bar, cache_bar, label) in enumerate(zip(panel.weights, panel.cache, panel.labels)):
        alpha = FITS_ALPHA if fits[i] else TOO_BIG_ALPHA
        weights_bar.set_width(weights_end[i])
        cache_bar.set_x(weights_end[i])
        cache_bar.set_width(total_end[i] - weights_end[i])
        edge = (BUDGET_COLOR, 1.3) if panel.mixes[i] == selected else ("none", 0.0)
        for bar, color in ((weights_bar, WEIGHTS_COLOR), (cache_bar, CACHE_COLOR)):
            bar.set_facecolor(mcolors.to_rgba(color, alpha))
            bar.set_edgecolor(edge[0])
            bar.set_linewidth(edge[1])
        text = f"{total[i]:.3g} GiB"  # short: the text, not the bars, is what a redraw spends its time on
        if total_end[i] <= 100 * LABEL_OUTSIDE_BELOW:  # room on the right of the bar
            label.set_position((total_end[i], i))
            label.set_text(" " + text)
            label.set_horizontalalignment("left")
        else:  # a long (faded) bar: write over its end
            label.set_position((edge_of_axis, i))
            label.set_text(("\u2192 " if total_end[i] >= edge_of_axis else "") + text + " ")
            label.set_horizontalalignment("right")
    panel.title.set_text(
        title if title is not None else f"{int(fits.sum())} of {len(fits)} mixes fit in {budget_gib:g} GiB"
    )


def draw_quality(
    bits_per_weight,
    delta_ppl,
    mixes,
    ax,
    title="published quality",
    xlabel="bits per weight",
    label_offsets=None,
    live=True,
):
    """Published perplexity increase against bits per weight, one labelled point per mix (log y).

    label_offsets: {mix: (dx, dy)} in points, to pull crowded labels apart (default (4, 2)).
    update(fits, selected) colours the mixes that fit and rings the selected one.
    """
    bits_per_weight, delta_ppl = np.asarray(bits_per_weight, float), np.asarray(delta_ppl, float)
    panel = Panel(ax, mixes=list(mixes), x=bits_per_weight, y=delta_ppl)
    ax.plot(bits_per_weight, delta_ppl, "o", color=IDEAL_COLOR, markersize=4, zorder=1)
    for x, y, mix in zip(bits_per_weight, delta_ppl, mixes):
        dx, dy = (label_offsets or {}).get(mix, (4, 2))
        ax.annotate(
            mix,
            (x, y),
            xytext=(dx, dy),
            textcoords="offset points",
            fontsize=6,
            ha="right" if dx < 0 else "left",
            va="center",
        )
    (panel.fitting,) = ax.plot([], [], "o", color=WEIGHTS_COLOR, markersize=4.5, zorder=2, animated=True)
    (panel.ring,) = ax.plot(
        [],
        [],
        "o",
        markersize=10,
        markerfacecolor="none",
        markeredgecolor=BUDGET_COLOR,
        markeredgewidth=1.3,
        zorder=3,
        animated=True,
    )
    ax.set_yscale("log")
    ax.yaxis.set_minor_locator(NullLocator())
    ax.set_xlim(np.floor(bits_per_weight.min()) - 0.5, np.ceil(bits_per_weight.max()) + 0.5)
    ax.set_ylim(float(delta_ppl.min()) / 2, float(delta_ppl.max()) * 3)
    ax.set_xlabel(xlabel)
    ax.set_ylabel("perplexity increase over F16 (log)")
    ax.set_title(title)
    ax.legend(
        handles=[
            Line2D([], [], marker="o", linestyle="none", color=WEIGHTS_COLOR, label="fits the budget"),
            Line2D([], [], marker="o", linestyle="none", color=IDEAL_COLOR, label="does not fit"),
        ],
        loc="upper right",
        fontsize=6.5,
        frameon=False,
    )
    panel.update = lambda fits, selected=None: _update_quality(panel, fits, selected)
    panel.update(np.zeros(len(mixes), bool))
    return _finish(panel, live)


def _update_quality(panel, fits, selected):
    fits = np.asarray(fits, bool)
    panel.fitting.set_data(panel.x[fits], panel.y[fits])
    if selected in panel.mixes:
        i = panel.mixes.index(selected)
        panel.ring.set_data([panel.x[i]], [panel.y[i]])
    else:
        panel.ring.set_data([], [])


def draw_class_shares(classes, weight_share, byte_share, bits_per_weight, ax, title="where the bytes go", live=True):
    """Per tensor class: its share of the weights (outline) and of the bytes (filled), and its bits per weight.

    A class whose filled bar is longer than its outline is stored with more bits than the average.
    Shares are fractions (0..1); the axis is fixed at 0-100 % so a new mix or model redraws bars only.
    """
    rows = np.arange(len(classes))
    panel = Panel(ax)
    panel.bytes = ax.barh(rows, np.zeros(len(rows)), height=0.7, color=WEIGHTS_COLOR, alpha=0.85, animated=True)
    panel.weights = ax.barh(
        rows, np.zeros(len(rows)), height=0.7, fill=False, edgecolor=BUDGET_COLOR, linewidth=0.8, animated=True
    )
    panel.labels = [ax.text(0, y, "", va="center", fontsize=6.5, animated=True) for y in rows]
    panel.title = moving_title(ax, title)
    ax.set_yticks(rows, list(classes))
    ax.set_ylim(len(rows) - 0.5, -0.5)
    ax.set_xlim(0, 100)
    ax.set_xlabel("share of the model, %")
    ax.legend(
        handles=[
            Patch(color=WEIGHTS_COLOR, alpha=0.85, label="of the bytes"),
            Patch(fill=False, edgecolor=BUDGET_COLOR, label="of the weights"),
        ],
        loc="lower right",
        fontsize=6.5,
        frameon=True,
        framealpha=0.9,
        edgecolor="none",
    )
    panel.update = lambda *args, **kwargs: _update_class_shares(panel, *args, **kwargs)
    panel.update(weight_share, byte_share, bits_per_weight)
    return _finish(panel, live)


def _update_class_shares(panel, weight_share, byte_share, bits_per_weight, title=None):
    for i, (filled, outline, label) in enumerate(zip(panel.bytes, panel.weights, panel.labels)):
        filled.set_width(100 * byte_share[i])
        outline.set_width(100 * weight_share[i])
        longest = 100 * max(byte_share[i], weight_share[i])
        label.set_position((longest, i))
        label.set_text(f" {bits_per_weight[i]:.2f}" if weight_share[i] > 0 else "")
    if title is not None:
        panel.title.set_text(title)


def type_image(type_names):
    """RGB image of a (rows, columns) array of type names, each in its TYPE_COLORS colour ('' = absent)."""
    type_names = np.asarray(type_names)
    unknown = set(np.unique(type_names)) - set(TYPE_ORDER) - {""}
    if unknown:
        raise ValueError(f"no colour for type(s) {sorted(unknown)}; TYPE_ORDER knows {', '.join(TYPE_ORDER)}")
    palette = np.array([mcolors.to_rgb(ABSENT_COLOR)] + [TYPE_COLORS[t][:3] for t in TYPE_ORDER])
    lookup = {"": 0, **{t: i + 1 for i, t in enumerate(TYPE_ORDER)}}
    index = (
        np.vectorize(lookup.__getitem__, otypes=[int])(type_names)
        if type_names.size
        else np.zeros(type_names.shape, int)
    )
    return palette[index]


def draw_type_map(type_names, row_labels, ax, colorbar_ax=None, title="type of each tensor, layer by layer", live=True):
    """Rows = tensor classes, columns = layers, each cell coloured by its GGML type (colour bar: cheapest first).

    type_names: (n_rows, n_layer) array of type names ('' where a layer has no such tensor). The
    layer axis runs over depth, 0 to n, whatever n is: llama.cpp's rules are stated in fractions of
    the depth (the first and last eighth...), and a new model then redraws the cells only.
    """
    type_names = np.asarray(type_names)
    n_rows = type_names.shape[0]
    panel = Panel(ax)
    panel.image = ax.imshow(
        type_image(type_names), aspect="auto", interpolation="nearest", extent=(0, 1, n_rows - 0.5, -0.5), animated=True
    )
    ax.set_xlim(0, 1)
    ax.set_ylim(n_rows - 0.5, -0.5)
    ax.set_xticks([0, 1 / 8, 1 / 2, 7 / 8, 1], ["0", "n/8", "n/2", "7n/8", "n"])
    ax.set_yticks(np.arange(n_rows), list(row_labels))
    ax.set_xlabel("layer (n layers)")
    panel.title = moving_title(ax, title)
    if colorbar_ax is not None:
        cmap = mcolors.ListedColormap([TYPE_COLORS[t] for t in TYPE_ORDER])
        norm = mcolors.BoundaryNorm(np.arange(len(TYPE_ORDER) + 1) - 0.5, len(TYPE_ORDER))
        bar = ax.figure.colorbar(
            ScalarMappable(norm=norm, cmap=cmap), cax=colorbar_ax, ticks=np.arange(len(TYPE_ORDER))
        )
        bar.ax.set_yticklabels(list(TYPE_ORDER), fontsize=6)
        bar.ax.tick_params(length=2)
        bar.ax.invert_yaxis()
        bar.ax.set_title("type", fontsize=7)
    panel.update = lambda type_names, title=None: _update_type_map(panel, type_names, title)
    panel.update(type_names)
    return _finish(panel, live)


def _update_type_map(panel, type_names, title):
    panel.image.set_data(type_image(type_names))
    if title is not None:
        panel.title.set_text(title)

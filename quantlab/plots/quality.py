"""Drawing for notebook 08 on a given Axes: quality against bits per weight, ours and llama.cpp's published.

Same contract as quantlab.plots and quantlab.mix_plots: each `draw_*` takes `ax=`, draws once and
returns a panel; a live panel's `update(...)` moves only its `animated=True` artists, so
plots.FastRenderer repaints those over a cached background. Nothing here quantizes or evaluates:
callers pass the numbers quantlab.quality measured.
"""

import numpy as np
from matplotlib.lines import Line2D
from matplotlib.ticker import FixedLocator, NullLocator, ScalarFormatter

from ..lm.reports import published_series
from .base import IDEAL_COLOR, OKABE_ITO, Panel, new_figure, style

REFERENCE_COLOR = IDEAL_COLOR
LIVE_COLOR = OKABE_ITO["vermillion"]
SERIES = {  # name -> (colour, marker), for the comparison with published numbers
    "ours": (OKABE_ITO["vermillion"], "o"),
    "Llama 2 7B": (OKABE_ITO["blue"], "s"),
    "Llama 3 8B": (OKABE_ITO["green"], "^"),
}
BITS_RANGE = (2.5, 9.0)  # the explorer's x axis: Q2_K .. Q8_0 (F16/F32 points are pinned to its edge)


def _moving_text(ax, x, y, text="", **style):
    """A text in axes coordinates that can change without redrawing its axes."""
    return ax.text(x, y, text, transform=ax.transAxes, animated=True, **style)


def _finish(panel, live):
    """A static figure (live=False) draws every artist with a plain savefig: none may stay animated."""
    if not live:
        for artist in panel.ax.get_children():
            artist.set_animated(False)
    return panel


def draw_quality_vs_bits(
    bits_per_weight,
    values,
    labels,
    ax,
    ylabel,
    log=False,
    baseline=None,
    title="",
    xlim=BITS_RANGE,
    ylim=None,
    yticks=None,
    label_offsets=None,
    live=True,
):
    """Reference points (one labelled grey dot per mix) of a quality measure against bits per weight.

    update(x, y, text) places the live point (vermillion diamond); a point outside the axes is
    pinned to the edge it crossed, drawn as an arrowhead, so the axes never move. baseline: a
    dashed horizontal line (e.g. the F32 perplexity). yticks: fixed tick values, written plainly.
    """
    bits_per_weight, values = np.asarray(bits_per_weight, float), np.asarray(values, float)
    panel = Panel(ax, xlim=xlim)
    ax.plot(bits_per_weight, values, "o", color=REFERENCE_COLOR, markersize=4, zorder=1)
    for x, y, text in zip(bits_per_weight, values, labels):
        dx, dy = (label_offsets or {}).get(text, (4, 3))
        ax.annotate(
            text,
            (x, y),
            xytext=(dx, dy),
            textcoords="offset points",
            fontsize=6,
            color="#555555",
            ha="right" if dx < 0 else "center" if dx == 0 else "left",
            va="center",
        )
    if baseline is not None:
        ax.axhline(baseline, color=OKABE_ITO["black"], linestyle="--", linewidth=0.8)
    if log:
        ax.set_yscale("log")
        ax.yaxis.set_minor_locator(NullLocator())
    if ylim is None:
        low, high = values.min(), values.max()
        ylim = (low / 3, high * 4) if log else (low - 0.05 * (high - low), high + 0.15 * (high - low))
    panel.ylim = ylim
    if yticks is not None:
        ax.yaxis.set_major_locator(FixedLocator(yticks))
        ax.yaxis.set_major_formatter(ScalarFormatter())
    ax.set_xlim(*xlim)
    ax.set_ylim(*ylim)
    ax.set_xlabel("bits per weight (all tensors)")
    ax.set_ylabel(ylabel)
    ax.set_title(title)
    (panel.point,) = ax.plot(
        [],
        [],
        "D",
        color=LIVE_COLOR,
        markersize=7,
        markeredgecolor="black",
        markeredgewidth=0.6,
        zorder=4,
        animated=True,
    )
    panel.note = _moving_text(ax, 0.98, 0.96, ha="right", va="top", fontsize=7, color=LIVE_COLOR)
    # While a setting's scores are being measured: its (exact) bits per weight as a dotted line, no point yet.
    panel.pending = ax.axvline(xlim[0], color=LIVE_COLOR, linestyle=":", linewidth=1.2, visible=False, animated=True)
    panel.update = lambda x, y, text="": _update_point(panel, x, y, text, log)
    panel.show_pending = lambda x, text="": _show_pending(panel, x, text)
    return _finish(panel, live)


def _show_pending(panel, x, text):
    """The live point's x known, its y not yet: a dotted vertical line at x (pinned inside the axes), no point."""
    x0, x1 = panel.xlim
    panel.pending.set_xdata([min(max(x, x0), x1)] * 2)
    panel.pending.set_visible(True)
    panel.point.set_data([], [])
    panel.note.set_text(text)


def _update_point(panel, x, y, text, log):
    (x0, x1), (y0, y1) = panel.xlim, panel.ylim
    marker = "D"
    if x > x1:
        x, marker = x1, ">"
    elif x < x0:
        x, marker = x0, "<"
    if y > y1:
        y, marker = y1, "^"
    elif y < y0 or (log and y <= 0):
        y, marker = y0, "v"
    panel.point.set_data([x], [y])
    panel.point.set_marker(marker)
    panel.pending.set_visible(False)
    panel.note.set_text(text)


def draw_measured_table(bits_per_weight, delta_percent, kl_divergence, labels, axes, title_prefix=""):
    """Two static panels for the measured table: perplexity increase (%) and KL to F32 against bits (log y)."""
    offsets = {"Q5_K_S": (-4, -1), "Q4_K_S": (-4, 3), "Q4_K_M": (4, 5), "Q5_K_M": (4, 3), "Q4_0": (0, -8)}
    panels = []
    for ax, values, ylabel, what in (
        (axes[0], delta_percent, "perplexity increase over F32, % (log)", "perplexity"),
        (axes[1], kl_divergence, "KL divergence to F32, nats/char (log)", "KL divergence"),
    ):
        panel = draw_quality_vs_bits(
            bits_per_weight,
            values,
            labels,
            ax,
            ylabel,
            log=True,
            live=False,
            title=f"{title_prefix}{what} vs bits per weight",
            label_offsets=offsets,
            xlim=(2.5, 9.0),
        )
        ax.plot(bits_per_weight, values, "-", color=REFERENCE_COLOR, linewidth=0.8, zorder=0)
        panels.append(panel)
    return panels


def draw_published_comparison(
    series, ax, ylabel="mean KL to the unquantized model (log)", title="the same shape, other scales"
):
    """One line per model: {name: (bits_per_weight, values, labels)}, log y; ours per character, theirs per token."""
    for name, (bits, values, labels) in series.items():
        color, marker = SERIES.get(name, (OKABE_ITO["black"], "o"))
        order = np.argsort(bits)
        ax.plot(
            np.asarray(bits)[order],
            np.asarray(values)[order],
            "-",
            marker=marker,
            color=color,
            markersize=4,
            linewidth=1,
            label=name,
        )
        for x, y, text in zip(bits, values, labels):
            if text in ("Q2_K", "Q4_K_M", "Q8_0"):
                ax.annotate(
                    text, (x, y), xytext=(5, -1), textcoords="offset points", fontsize=6, color=color, va="center"
                )
    ax.set_yscale("log")
    ax.set_ylim(1e-4, 4.0)
    ax.yaxis.set_minor_locator(NullLocator())
    ax.set_xlim(2.5, 9.0)
    ax.set_xlabel("bits per weight")
    ax.set_ylabel(ylabel)
    ax.set_title(title)
    ax.legend(
        handles=[
            Line2D(
                [],
                [],
                color=SERIES.get(n, (OKABE_ITO["black"], "o"))[0],
                marker=SERIES.get(n, (OKABE_ITO["black"], "o"))[1],
                label=n,
            )
            for n in series
        ],
        loc="upper right",
        fontsize=6.5,
        frameon=False,
    )
    return Panel(ax)


def draw_outlier_rows(rows, ax, title="MiniLM: how far the largest weight stands out"):
    """max|w|/std of every encoder matrix, by layer (x) and role (one marker per role), log y."""
    roles = ("attn_q", "attn_k", "attn_v", "attn_output", "ffn_up", "ffn_down")
    colors = (
        OKABE_ITO["sky_blue"],
        OKABE_ITO["blue"],
        OKABE_ITO["green"],
        OKABE_ITO["orange"],
        OKABE_ITO["purple"],
        OKABE_ITO["vermillion"],
    )
    for k, (role, color) in enumerate(zip(roles, colors)):
        mine = [r for r in rows if r["role"] == role]
        ax.plot(
            [r["layer"] + (k - 2.5) * 0.08 for r in mine],
            [r["max_over_std"] for r in mine],
            "o",
            color=color,
            markersize=4,
            label=role,
        )
    ax.set_yscale("log")
    ax.yaxis.set_major_locator(FixedLocator([5, 10, 20, 50, 100, 200]))
    ax.yaxis.set_major_formatter(ScalarFormatter())
    ax.yaxis.set_minor_locator(NullLocator())
    ax.set_xticks(sorted({r["layer"] for r in rows}))
    ax.set_xlabel("layer")
    ax.set_ylabel("max|w| / std of the matrix (log)")
    ax.set_title(title)
    ax.legend(fontsize=6, frameon=False, ncol=2, loc="upper right")
    return Panel(ax)


# --- whole figures for the notebook -------------------------------------------------------------


def table_figure(rows):
    """Our measured table: perplexity increase (%) and KL to F32 against bits per weight."""
    rows = [r for r in rows if r.mix != "F32"]
    figure, axes = new_figure(2, width=8.6, height=3.0)
    with style():
        draw_measured_table(
            [r.bits_per_weight for r in rows],
            [100 * r.relative_increase for r in rows],
            [r.kl_divergence for r in rows],
            [r.mix for r in rows],
            axes,
        )
        figure.subplots_adjust(left=0.08, right=0.98, bottom=0.16, top=0.9, wspace=0.3)
    return figure


def comparison_figure(rows):
    """KL divergence against bits per weight: ours per character, llama.cpp's Llama 2 7B and Llama 3 8B per token."""
    figure, (ax,) = new_figure(1, width=6.4, height=3.2)
    with style():
        draw_published_comparison(
            published_series(rows), ax, title="KL to the unquantized model: 2.4 M weights vs 7-8 B"
        )
        figure.subplots_adjust(left=0.13, right=0.97, bottom=0.15, top=0.9)
    return figure


def minilm_outlier_figure(rows):
    """MiniLM: max|w|/std of every encoder matrix by layer and role (rows from minilm_outliers.outlier_summary)."""
    figure, (ax,) = new_figure(1, width=7, height=3)
    with style():
        draw_outlier_rows(
            rows,
            ax,
            title=f"MiniLM: the largest weights sit in ffn_down (up to {max(r['max_over_std'] for r in rows):.0f} std)",
        )
        figure.subplots_adjust(left=0.1, right=0.97, bottom=0.16, top=0.9)
    return figure

"""Notebook 09's panels: GPTQ's column steps, AWQ's error-vs-alpha curve, the importance matrix per column.

Each moving panel is drawn once by a `draw_*` function (which takes `ax=` and returns a Panel) with
fixed axes, then updated in place by `panel.update(...)`. Nothing here quantizes: callers pass
computed arrays (quantlab.calibration.lesson).
"""

import numpy as np

from .base import ERROR_COLOR, GRID_COLOR, IDEAL_COLOR, OKABE_ITO, WEIGHTS_COLOR, Panel, new_figure, nice_ceiling, style


def draw_update(n_columns, top, ax, title="where this step's update goes"):
    """RMS change of every column not yet rounded, with the column being rounded marked."""
    panel = Panel(ax)
    edges = np.arange(n_columns + 1) - 0.5
    panel.bars = ax.stairs(
        np.zeros(n_columns), edges, fill=True, color=WEIGHTS_COLOR, animated=True, label="RMS update of a column"
    )
    panel.marker = ax.axvline(0, color=GRID_COLOR, linewidth=1.2, animated=True, label="column rounded")
    ax.set_xlim(-0.5, n_columns - 0.5)
    ax.set_ylim(0, nice_ceiling(top))
    ax.set_xlabel("input column j")
    ax.set_ylabel("RMS change over rows")
    ax.set_title(title)
    ax.legend(loc="upper right", frameon=False)

    def update(values, column):
        panel.bars.set_data(values, edges)
        panel.marker.set_xdata([column, column])

    panel.update = update
    return panel


def draw_column_error(n_rows, top, ax, title="rounding error of the column"):
    """w_ij - q_ij for every row i of the column being rounded."""
    panel = Panel(ax)
    (panel.line,) = ax.plot(np.arange(n_rows), np.zeros(n_rows), "o", color=ERROR_COLOR, markersize=2.5, animated=True)
    ax.axhline(0, color=IDEAL_COLOR, linewidth=0.8)
    limit = nice_ceiling(top)
    ax.set_xlim(-1, n_rows)
    ax.set_ylim(-limit, limit)
    ax.set_xlabel("output row i")
    ax.set_ylabel("w − q")
    ax.set_title(title)
    panel.update = lambda error: panel.line.set_ydata(error)
    return panel


def draw_running_error(n_steps, top, ax, title="output error so far"):
    """Relative output error after k columns, GPTQ and round-to-nearest, with the current k marked.

    update(gptq_error, rtn_error, k): both curves (n_steps + 1 values, k = 0..n_steps) and the current k.
    """
    panel = Panel(ax)
    (panel.rtn,) = ax.plot([], [], color=OKABE_ITO["orange"], linewidth=1.2, label="round to nearest", animated=True)
    (panel.gptq,) = ax.plot([], [], color=OKABE_ITO["blue"], linewidth=1.2, label="GPTQ", animated=True)
    (panel.marker,) = ax.plot([], [], "o", color=OKABE_ITO["black"], markersize=4, animated=True)
    panel.cursor = ax.axvline(0, color=IDEAL_COLOR, linewidth=0.8, animated=True)
    ax.set_xlim(0, n_steps)
    ax.set_ylim(0, nice_ceiling(top * 1.05))
    ax.set_xlabel("columns rounded k")
    ax.set_ylabel("‖WX − ŴX‖² / ‖WX‖²")
    ax.set_title(title)
    ax.legend(loc="upper left", frameon=False)
    steps = np.arange(n_steps + 1)

    def update(gptq_error, rtn_error, k):
        panel.rtn.set_data(steps, rtn_error)
        panel.gptq.set_data(steps, gptq_error)
        panel.marker.set_data([k, k], [gptq_error[k], rtn_error[k]])
        panel.cursor.set_xdata([k, k])

    panel.update = update
    return panel


def draw_awq_curve(alphas, errors, ax, title="AWQ: output error against α"):
    """Relative output error for each α (α = 0 is round-to-nearest), the current α marked."""
    panel = Panel(ax)
    ax.plot(alphas, errors, "o-", color=OKABE_ITO["blue"], markersize=3, linewidth=1.0, label="Q(W·diag(s)) diag(s)⁻¹")
    ax.axhline(errors[0], color=OKABE_ITO["orange"], linewidth=0.9, linestyle="--", label="α = 0: round to nearest")
    (panel.marker,) = ax.plot(
        [], [], "o", markersize=9, markerfacecolor="none", markeredgecolor=OKABE_ITO["black"], animated=True
    )
    low, high = float(np.min(errors)), float(np.max(errors))
    margin = 0.08 * (high - low)
    ax.set_ylim(low - margin, high + margin)
    ax.set_xlabel("α  (s = mean|x|^α)")
    ax.set_ylabel("relative output error")
    ax.set_title(title)
    ax.legend(loc="lower left", frameon=False)
    panel.update = lambda alpha, error: panel.marker.set_data([alpha], [error])
    return panel


def draw_awq_scales(statistic, ax, title="the scales s, per input channel"):
    """s_j against channel j's mean |x|, on log axes (a line of slope α)."""
    panel = Panel(ax)
    order = np.argsort(statistic)
    (panel.line,) = ax.plot(
        statistic[order], np.ones(len(order)), "-", color=OKABE_ITO["green"], linewidth=1.5, animated=True
    )
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlim(statistic.min() / 1.2, statistic.max() * 1.2)
    spread = statistic.max() / statistic.min()  # s spans sqrt(spread) either side of 1 at alpha = 1
    ax.set_ylim(1 / np.sqrt(spread) / 1.3, np.sqrt(spread) * 1.3)
    ax.set_xlabel("mean |x_j| over tokens")
    ax.set_ylabel("s_j (log)")
    ax.set_title(title)
    panel.update = lambda scales: panel.line.set_ydata(scales[order])
    return panel


def draw_importance(importance, ax, title="importance per input column"):
    """The importance matrix of one layer: mean x_j² per column, sorted, on a log axis."""
    values = np.sort(np.asarray(importance, dtype=float))[::-1]
    ax.bar(np.arange(len(values)), values, width=1.0, color=WEIGHTS_COLOR)
    ax.set_yscale("log")
    ax.set_xlabel("input columns, most important first")
    ax.set_ylabel("mean x_j² (log)")
    ax.set_title(title)
    return ax


def importance_figure(importance, layer):
    """One layer's importance matrix: mean x_j² per input column, in column order and sorted."""
    figure, axes = new_figure(2, width=8.6, height=2.8)
    values = np.asarray(importance, dtype=float)
    with style():
        axes[0].bar(np.arange(len(values)), values, width=1.0, color=WEIGHTS_COLOR)
        axes[0].set_yscale("log")
        axes[0].set_xlabel("input column j")
        axes[0].set_ylabel("mean x_j² (log)")
        axes[0].set_title(f"{layer}: importance per column")
        draw_importance(values, axes[1], title=f"sorted: largest / median = {values.max() / np.median(values):.0f}x")
        figure.subplots_adjust(left=0.08, right=0.98, bottom=0.17, top=0.88, wspace=0.3)
    return figure


# ---------------------------------------------------------------- one K-quant block, with and without the imatrix


def draw_block_importance(importance, ax, title="imatrix of the block's columns"):
    """The importance v_j of the block's 256 columns (log), and the columns whose code the imatrix changed.

    importance: every value the panel may show (its limits); update(importance, changed) with (256,) arrays.
    """
    panel = Panel(ax)
    edges = np.arange(257) - 0.5
    panel.bars = ax.stairs(np.ones(256), edges, fill=True, color=WEIGHTS_COLOR, animated=True, label="v_j = mean x_j²")
    (panel.changed,) = ax.plot(
        [], [], "v", color=OKABE_ITO["vermillion"], markersize=3, animated=True, label="code changed by the imatrix"
    )
    values = np.asarray(importance, dtype=float)
    ax.set_yscale("log")
    ax.set_xlim(-0.5, 255.5)
    ax.set_ylim(values[values > 0].min() / 1.5, values.max() * 3)
    ax.set_xlabel("column j within the block")
    ax.set_ylabel("v_j (log)")
    ax.set_title(title)
    ax.legend(loc="upper right", frameon=False, fontsize=7)

    def update(block_importance, changed):
        panel.bars.set_data(np.maximum(block_importance, values[values > 0].min()), edges)
        where = np.flatnonzero(changed)
        panel.changed.set_data(where, block_importance[where] * 1.6)

    panel.update = update
    return panel


def draw_block_levels(top, ax, title="weights, grid levels, chosen values"):
    """The block's weights, every level of each sub-block's grid (short lines), and the values chosen.

    update(weights, quantized, levels, sub_block_size): (256,), (256,), (n_sub_blocks, n_codes).
    """
    from matplotlib.collections import LineCollection

    panel = Panel(ax)
    panel.levels = LineCollection([], colors=GRID_COLOR, linewidths=0.6, animated=True)
    ax.add_collection(panel.levels)
    (panel.weights,) = ax.plot([], [], "o", color=OKABE_ITO["black"], markersize=1.8, animated=True, label="w_j")
    (panel.chosen,) = ax.plot(
        [], [], "_", color=OKABE_ITO["blue"], markersize=4, markeredgewidth=1.2, animated=True, label="q_j chosen"
    )
    limit = nice_ceiling(top)
    ax.set_xlim(-0.5, 255.5)
    ax.set_ylim(-limit, limit)
    ax.set_xlabel("column j within the block")
    ax.set_ylabel("weight")
    ax.set_title(title)
    ax.legend(loc="upper right", frameon=False, fontsize=7)
    columns = np.arange(256)

    def update(weights, quantized, levels, sub_block_size):
        n_sub, n_codes = levels.shape
        starts = np.repeat(np.arange(n_sub) * sub_block_size - 0.5, n_codes)
        heights = np.clip(levels.reshape(-1), -limit, limit)  # levels off the axes sit on its edge
        segments = np.stack([np.stack([starts, heights], 1), np.stack([starts + sub_block_size, heights], 1)], 1)
        panel.levels.set_segments(segments)
        panel.weights.set_data(columns, weights)
        panel.chosen.set_data(columns, quantized)

    panel.update = update
    return panel


def draw_block_errors(top, ax, title="per-weight |error|"):
    """|w_j - q_j| (plain) and sqrt(v_j / mean v)·|w_j - q_j| (imatrix-weighted, same units), per column."""
    panel = Panel(ax)
    edges = np.arange(257) - 0.5
    panel.plain = ax.stairs(
        np.zeros(256), edges, color=OKABE_ITO["orange"], linewidth=1.0, animated=True, label="|w − q|"
    )
    panel.weighted = ax.stairs(
        np.zeros(256), edges, color=OKABE_ITO["blue"], linewidth=1.0, animated=True, label="√(v_j / mean v)·|w − q|"
    )
    ax.set_xlim(-0.5, 255.5)
    ax.set_ylim(0, nice_ceiling(top))
    ax.set_xlabel("column j within the block")
    ax.set_ylabel("|error|")
    ax.set_title(title)
    ax.legend(loc="upper right", frameon=False, fontsize=7)

    def update(errors, importance):
        magnitude = np.abs(errors)
        panel.plain.set_data(magnitude, edges)
        panel.weighted.set_data(magnitude * np.sqrt(importance / np.mean(importance)), edges)

    panel.update = update
    return panel

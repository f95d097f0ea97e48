"""Drawing on a given matplotlib Axes (never computing): one module per topic, a shared base.

    base         palette (Okabe-Ito), figures, style, the fast renderer, panels, axis ladders, and
                 described(fig): a static figure with alt text and a caption
    uniform      level grids over histograms, transfer functions, errors, trade-offs, curves
    numbers      memory bars, float bit fields
    codebook     codebook levels in lanes, grid scores, the Pareto front
    gguf         a block's levels and bytes, sub-block scales
    mixes        mix sizes, quality, class shares, per-layer type maps
    quality      quality against bits per weight; notebook 08's figures
    formats      an i-quant codebook in 2-D, rows of levels (notebook 13)
    calibration  GPTQ's column steps, AWQ's error-vs-alpha curve, the importance per column
    activations  activations per channel, knob curves, value histograms, heat maps (notebook 10)
    runtime    a MiniLM file's size and per-sentence fidelity in llama.cpp (notebook 11)

Each `draw_*` takes `ax=`, draws once and returns a Panel whose `update(...)` moves its artists.
"""

from . import (
    activations,
    base,
    calibration,
    codebook,
    formats,
    gguf,
    mixes,
    numbers,
    quality,
    runtime,
    uniform,
)
from .base import (
    OKABE_ITO,
    SERIES_COLORS,
    Described,
    FastRenderer,
    Panel,
    describe,
    described,
    figure_png,
    new_figure,
    nice_range,
    style,
)
from .uniform import (
    draw_distribution,
    draw_error_histogram,
    draw_levels_on_histogram,
    draw_lines,
    draw_tradeoff,
    draw_transfer,
)

TOPICS = (
    "activations",
    "base",
    "calibration",
    "codebook",
    "formats",
    "gguf",
    "mixes",
    "numbers",
    "quality",
    "runtime",
    "uniform",
)

__all__ = [
    "OKABE_ITO",
    "SERIES_COLORS",
    "Described",
    "FastRenderer",
    "Panel",
    "draw_distribution",
    "draw_error_histogram",
    "draw_levels_on_histogram",
    "draw_lines",
    "draw_tradeoff",
    "draw_transfer",
    "describe",
    "described",
    "figure_png",
    "new_figure",
    "nice_range",
    "style",
    *TOPICS,
]

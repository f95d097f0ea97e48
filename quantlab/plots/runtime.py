"""Drawing for notebook 11 on a given Axes: a MiniLM file's size, and its per-sentence fidelity in llama.cpp.

Same contract as the other plot modules: each `draw_*` takes `ax=`, draws once and returns a Panel
whose `update(...)` moves only its `animated=True` artists. Nothing here writes or runs a model:
callers pass what quantlab.runtime measured.
"""

import numpy as np
from matplotlib.ticker import FixedLocator, NullLocator

from .base import IDEAL_COLOR, OKABE_ITO, Panel, moving_title

LLAMA_COLOR = OKABE_ITO["vermillion"]
NUMPY_COLOR = OKABE_ITO["blue"]
FLOOR = 1e-7  # 1 - cosine below this (an F16 file) is drawn on the floor


def draw_sentence_fidelity(n_sentences, ax, threshold=0.99, live=False):
    """1 - cosine to FP32 per sentence (log), llama.cpp (dots) and numpy (crosses); dashed: the threshold.

    update(llama, numpy, title, live_llama=None) takes the two cosine arrays; with live=True the panel
    also has rings for llama.cpp run just now (live_llama; None hides them), drawn over the dots.
    """
    x = np.arange(n_sentences)
    ax.axhline(1 - threshold, color=OKABE_ITO["black"], linestyle="--", linewidth=0.8)
    ax.text(n_sentences - 0.5, (1 - threshold) * 1.25, f"cosine {threshold}", ha="right", va="bottom", fontsize=6.5)
    ax.set_yscale("log")
    ax.set_ylim(FLOOR / 2, 1.0)
    ax.yaxis.set_major_locator(FixedLocator([1e-7, 1e-6, 1e-5, 1e-4, 1e-3, 1e-2, 1e-1, 1]))
    ax.yaxis.set_minor_locator(NullLocator())
    ax.set_xlim(-1, n_sentences)
    ax.set_xlabel("sentence (the 40 fixed sentences)")
    ax.set_ylabel("1 - cosine to FP32 (log)")
    (llama,) = ax.plot(
        x,
        np.full(n_sentences, np.nan),
        "o",
        color=LLAMA_COLOR,
        markersize=3.5,
        label="llama.cpp",
        animated=True,
        zorder=3,
    )
    (numpy_points,) = ax.plot(
        x,
        np.full(n_sentences, np.nan),
        "x",
        color=NUMPY_COLOR,
        markersize=4,
        label="numpy, same weights",
        animated=True,
        zorder=4,
    )
    handles = [llama, numpy_points]
    if live:
        (rings,) = ax.plot(
            x,
            np.full(n_sentences, np.nan),
            "o",
            markerfacecolor="none",
            markeredgecolor=OKABE_ITO["black"],
            markeredgewidth=0.9,
            markersize=7,
            label="llama.cpp, run just now",
            animated=True,
            zorder=5,
        )
        handles.append(rings)
    ax.legend(handles=handles, loc="lower left", fontsize=6.5, frameon=False)
    panel = Panel(ax, llama=llama, numpy=numpy_points, rings=rings if live else None, title=moving_title(ax))

    def update(cosine_llama, cosine_numpy, title="", live_llama=None):
        panel.llama.set_ydata(np.maximum(1 - np.asarray(cosine_llama, float), FLOOR))
        panel.numpy.set_ydata(np.maximum(1 - np.asarray(cosine_numpy, float), FLOOR))
        if panel.rings is not None:
            shown = np.full(n_sentences, np.nan) if live_llama is None else 1 - np.asarray(live_llama, float)
            panel.rings.set_ydata(np.maximum(shown, FLOOR))
        elif live_llama is not None:
            raise ValueError("this panel was drawn without live=True: it has no rings for a live run")
        panel.title.set_text(title)

    panel.update = update
    return panel


def draw_file_size(reference_bytes, ax, reference_label="all F32"):
    """This file's size (MB) as a bar beside a reference file's (grey); update(n_bytes, title)."""
    megabytes = reference_bytes / 1e6
    ax.barh([1], [megabytes], color=IDEAL_COLOR, height=0.6)
    ax.text(megabytes, 1, f" {megabytes:.1f} MB", va="center", fontsize=6.5)
    (bar,) = ax.barh([0], [0.0], color=LLAMA_COLOR, height=0.6, animated=True)
    note = ax.text(0, 0, "", va="center", fontsize=6.5, animated=True)
    ax.set_yticks([0, 1], ["this file", reference_label])
    ax.set_xlim(0, megabytes * 1.35)
    ax.set_ylim(-0.6, 1.6)
    ax.set_xlabel("file size on disk (MB)")
    panel = Panel(ax, bar=bar, note=note, title=moving_title(ax))

    def update(n_bytes, title=""):
        panel.bar.set_width(n_bytes / 1e6)
        panel.note.set_position((n_bytes / 1e6, 0))
        panel.note.set_text(f" {n_bytes / 1e6:.2f} MB")
        panel.title.set_text(title)

    panel.update = update
    return panel

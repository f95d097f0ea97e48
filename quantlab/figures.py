"""Every figure in figures/, made from quantlab (never drawn by hand).

python -m quantlab.figures [folder]      (default: figures/)
"""

import sys
from pathlib import Path

import numpy as np

from . import data, outliers, plots, tradeoff


def explorer_figure(bits=3, scheme="asymmetric"):
    """The picture of notebook 02's explorer at 3 bits, asymmetric: grid over the histogram, transfer, error."""
    w = data.gaussian(4096, std=0.02, seed=0)
    summary = tradeoff.summarize(w, bits=bits, scheme=scheme, scale_dtype="float16")
    figure, (left, middle, right) = plots.new_figure(3, width=8.6, height=2.8)
    plots.draw_levels_on_histogram(summary.weights, summary.levels, ax=left)
    plots.draw_transfer(summary.transfer_x, summary.transfer_y, ax=middle)
    plots.draw_error_histogram(summary.errors_in_steps, ax=right)
    for artist in (a for ax in figure.axes for a in ax.get_children()):
        artist.set_animated(False)  # a static figure draws every artist
    return figure


def outlier_figure(seeds=range(1000)):
    """Notebook 03: the outlier damage ratio over many seeds, with the closed-form prediction."""
    measured = outliers.measure_outlier_damage(seeds=seeds)
    predicted = outliers.predict_outlier_damage()
    figure, (ax,) = plots.new_figure(1, width=7, height=3)
    plots.draw_distribution(
        measured["ratio"],
        ax,
        markers={"predicted": predicted["ratio"]},
        xlabel="MSE with one outlier / MSE without",
        title="one outlier costs ~50x at 4 bits, not 1000x",
    )
    return figure


def tradeoff_figure():
    """Notebook 04: MSE against bits per weight for bits x group size, with the Pareto front."""
    w = data.weights("student-t", 4096, std=0.02, outliers=2, outlier_magnitude=50, seed=1)
    points = tradeoff.sweep(w, scale_dtype="float16")
    figure, (ax,) = plots.new_figure(1, width=7, height=3.2)
    plots.draw_tradeoff(
        points, tradeoff.pareto_front(points), ax, title="with outliers, grouped scales make up the front"
    )
    return figure


FIGURES = {"explorer.png": explorer_figure, "outlier_ratio.png": outlier_figure, "tradeoff.png": tradeoff_figure}

# Each figure's text description: the alt text wherever it is shown (README's ![...](figures/...)), and
# what `make figures` prints beside each path, for readers who do not see the picture.
DESCRIPTIONS = {
    "explorer.png": "The quantization explorer of notebook 02: 3-bit asymmetric grid over the weight histogram, "
    "the transfer function, and the rounding error in steps",
    "outlier_ratio.png": "Histogram over 1000 seeds of the MSE with one outlier divided by the MSE without, at 4 bits, "
    "with the closed-form prediction marked: the ratio sits near 50, not 1000",
    "tradeoff.png": "MSE against bits per weight for every bits and group-size setting, with the Pareto front: "
    "with outliers, grouped scales make up the front",
}


def make_all(folder="figures"):
    """Write every figure as PNG into `folder`; return the paths written."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    written = []
    for name, make in FIGURES.items():
        with plots.style():
            make().savefig(folder / name, dpi=110)
        written.append(folder / name)
    return written


if __name__ == "__main__":
    np.seterr(all="ignore")
    for path in make_all(sys.argv[1] if len(sys.argv) > 1 else "figures"):
        print(f"{path}: {DESCRIPTIONS[path.name]}")

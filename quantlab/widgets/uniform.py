"""Notebooks 02-04's explorer: slide bits, scheme, clipping, outliers and group size on a uniform grid."""

import ipywidgets as W
import numpy as np

from .. import data
from ..plots import uniform as panels
from ..tradeoff import pareto_front, summarize, sweep
from .base import Explorer, Name, check_show, dropdown, slider, toggle

# ipywidgets' Dropdown reads the value None as "nothing selected", so "per tensor" is 0 in the widget
# and None everywhere else (settings, call(), quantlab.quantize).
GROUP_CHOICES = [("per tensor", 0), ("256", 256), ("128", 128), ("64", 64), ("32", 32), ("16", 16), ("8", 8)]
PANELS = {"histogram", "transfer", "error", "tradeoff"}
WEIGHT_SETTINGS = ("distribution", "outliers", "outlier_magnitude", "seed")


class QuantizationExplorer(Explorer):
    """Slide bits, scheme, clipping, outliers and group size; watch the grid, the transfer function and the error.

    `show` picks which controls appear; the others keep their values. Pass `w` to explore your own
    1-D weights instead of a generated distribution.
    """

    ALL_CONTROLS = (
        "bits",
        "scheme",
        "symmetric_range",
        "clip_ratio",
        "group_size",
        "scale_dtype",
        "distribution",
        "outliers",
        "outlier_magnitude",
        "seed",
    )

    def __init__(
        self,
        bits=4,
        scheme="symmetric",
        symmetric_range="restricted",
        clip_ratio=1.0,
        group_size=None,
        scale_dtype="float16",
        distribution="gaussian",
        outliers=0,
        outlier_magnitude=10.0,
        seed=0,
        n=4096,
        std=0.02,
        w=None,
        show=("bits", "scheme", "symmetric_range", "clip_ratio"),
        panels=("histogram", "transfer", "error"),
    ):
        check_show(show, self.ALL_CONTROLS)
        unknown = set(panels) - PANELS
        if unknown:
            raise ValueError(f"panels= names unknown panels {sorted(unknown)}; choose from {sorted(PANELS)}")
        self.n, self.std, self.panel_names = n, std, tuple(panels)
        self.user_weights = None
        if w is not None:
            w = np.asarray(w)
            if w.ndim != 1:
                raise ValueError(f"w must be a 1-D array of weights, got shape {w.shape}; pass one row or w.ravel()")
            self.user_weights = w
        every = {
            "bits": slider("bits", bits, 1 if scheme == "asymmetric" else 2, 8),
            "scheme": toggle("scheme", scheme, ["symmetric", "asymmetric"]),
            "symmetric_range": dropdown(
                "range",
                symmetric_range,
                [("restricted \u00b1(2^(b-1)-1)", "restricted"), ("full -2^(b-1)..2^(b-1)-1", "full")],
                "250px",
            ),
            "clip_ratio": slider("clip ratio", clip_ratio, 0.2, 1.0, 0.02, kind=W.FloatSlider, readout_format=".2f"),
            "group_size": dropdown("group size", group_size or 0, GROUP_CHOICES, "170px"),
            "scale_dtype": dropdown("scale stored as", scale_dtype, ["float32", "float16", "bfloat16"], "200px"),
            "distribution": dropdown("weights", distribution, list(data.DISTRIBUTIONS), "170px"),
            "outliers": slider("outliers", outliers, 0, 16),
            "outlier_magnitude": slider(
                "outlier size (\u00d7std)", outlier_magnitude, 1.0, 500.0, 1.0, kind=W.FloatSlider, readout_format=".0f"
            ),
            "seed": slider("seed", seed, 0, 20),
        }
        every["scheme"].observe(self._bits_floor, names="value")
        self._weights_cache, self._sweep_cache = {}, {}
        options = {
            "n": n,
            "std": std,
            "w": None if w is None else Name("w"),
            "show": tuple(show),
            "panels": tuple(panels),
        }
        super().__init__(
            {name: every[name] for name in show},
            n_panels=len(self.panel_names),
            hidden={name: every[name] for name in every if name not in show},
            options=options,
        )

    def _bits_floor(self, change):
        """A restricted symmetric grid needs at least 2 bits (at 1 bit its only level is 0)."""
        self.control("bits").min = 1 if change["new"] == "asymmetric" else 2

    def to_setting(self, name, value):
        return (value or None) if name == "group_size" else value

    def to_widget(self, name, value):
        return (value or 0) if name == "group_size" else value

    def inert_controls(self):
        inert = {}
        if self.settings["outliers"] == 0 and self.user_weights is None:
            inert["outlier_magnitude"] = "there are no outliers to size"
        if self.settings["scheme"] == "asymmetric":
            inert["symmetric_range"] = "an asymmetric grid has no symmetric range (its codes are 0..2^b-1)"
        return inert

    def arguments(self):
        arguments = super().arguments()
        if self.user_weights is not None:  # the weights are the learner's: nothing generates them
            arguments = {k: v for k, v in arguments.items() if k not in WEIGHT_SETTINGS + ("n", "std")}
        return arguments

    def weights(self):
        """The weights being quantized (generated and cached per distribution/outlier setting)."""
        if self.user_weights is not None:
            return self.user_weights
        s = self.settings
        key = tuple(s[name] for name in WEIGHT_SETTINGS)
        if key not in self._weights_cache:
            self._weights_cache[key] = data.weights(
                s["distribution"], self.n, self.std, s["outliers"], s["outlier_magnitude"], s["seed"]
            )
        return self._weights_cache[key]

    def compute(self):
        s = self.settings
        options = {k: s[k] for k in ("bits", "scheme", "group_size", "symmetric_range", "clip_ratio", "scale_dtype")}
        result = {"summary": summarize(self.weights(), **options)}
        if "tradeoff" in self.panel_names:
            key = (id(self.weights()), s["scheme"], s["scale_dtype"], s["symmetric_range"])
            if key not in self._sweep_cache:
                points = sweep(
                    self.weights(),
                    scheme=s["scheme"],
                    scale_dtype=s["scale_dtype"],
                    symmetric_range=s["symmetric_range"],
                )
                self._sweep_cache[key] = (points, pareto_front(points))
            result["sweep"] = self._sweep_cache[key]
        return result

    def draw(self, result):
        summary = result["summary"]
        drawers = {
            "histogram": lambda ax: panels.draw_levels_on_histogram(summary.weights, summary.levels, ax=ax),
            "transfer": lambda ax: panels.draw_transfer(summary.transfer_x, summary.transfer_y, ax=ax),
            "error": lambda ax: panels.draw_error_histogram(summary.errors_in_steps, ax=ax),
            "tradeoff": lambda ax: panels.draw_tradeoff(*result.get("sweep", ([], [])), ax=ax),
        }
        return {name: drawers[name](ax) for name, ax in zip(self.panel_names, self.axes)}

    def update(self, result):
        summary = result["summary"]
        moves = {
            "histogram": lambda panel: panel.update(summary.weights, summary.levels),
            "transfer": lambda panel: panel.update(summary.transfer_x, summary.transfer_y),
            "error": lambda panel: panel.update(summary.errors_in_steps),
            "tradeoff": lambda panel: panel.update(summary.bits_per_weight, summary.metrics["mse"]),
        }
        for name, panel in self.panels.items():
            moves[name](panel)

    def summary(self, result):
        return result["summary"].text()

"""Notebook 10's explorers: LLM.int8()'s threshold, SmoothQuant's alpha and a Hadamard rotation on one real layer.

Each works on one captured linear input (quantlab.activations.layers: a MiniLM or character-model
layer, or a planted outlier) and its weight. The curves over all knob settings (several quantized
matmuls per layer, up to 1.5 s) are read from a committed asset (quantlab.activations.curves, recomputed
and compared by tests/test_activation_curves.py); what is drawn from the activations themselves (channel
maxima, histograms, kurtosis) is computed live in milliseconds. A change of layer or knob is a redraw.
"""

import ipywidgets as W

from ..activations import curves, layers, reports
from ..plots import activations as panels
from .base import Explorer, dropdown, toggle

MODEL_LAYERS = layers.layer_keys(("minilm", "char"))
ALL_LAYERS = layers.layer_keys()


def selection(description, value, options, width="300px"):
    """A slider over fixed values (each lands on a point of the precomputed curve)."""
    return W.SelectionSlider(
        value=value,
        options=list(options),
        description=description,
        continuous_update=True,
        style={"description_width": "initial"},
        layout=W.Layout(width=width),
    )


class OutlierThresholdExplorer(Explorer):
    """LLM.int8() on one layer: slide the outlier threshold; see which channels go to float and what the int8 part costs.

    Left: max |x_j| of every input channel (log), the threshold, and the channels kept in float.
    Right: the output's relative error against the threshold (the plain W8A8 per-tensor error dotted).
    """

    def __init__(self, layer="minilm.1.ffn_up", threshold=6.0):
        layers.check_key(layer)
        if threshold not in layers.THRESHOLDS:
            raise ValueError(f"threshold={threshold!r}; choose one of {layers.THRESHOLDS}")
        controls = {
            "layer": dropdown("layer", layer, ALL_LAYERS, "330px"),
            "threshold": selection("threshold |x| >=", threshold, layers.THRESHOLDS),
        }
        super().__init__(controls, n_panels=2, width=8.6, height=2.9, readout_width=300)

    def compute(self):
        key, threshold = self.settings["layer"], self.settings["threshold"]
        measured = curves.layer_curves(key)  # every slider stop, measured once (the asset)
        return {
            "key": key,
            "threshold": threshold,
            "absmax": layers.channel_absmax(key),
            "effect": measured.thresholds[layers.THRESHOLDS.index(threshold)],
            "curve": measured.thresholds,
            "per_token_error": measured.per_token_error,
        }

    def draw(self, result):
        return {
            "channels": panels.draw_channel_maxima(result["absmax"], self.axes[0], result["threshold"]),
            "error": panels.draw_curves(
                layers.THRESHOLDS,
                {"LLM.int8()": []},
                self.axes[1],
                xlabel="threshold (log)",
                ylabel="relative output error (log)",
                title="output error vs threshold",
                logx=True,
                reference=("W8A8 per-token, no float features", 0),
            ),
        }

    def update(self, result):
        self.panels["channels"].update(result["absmax"], result["threshold"])
        errors = [e.relative_error for e in result["curve"]]
        self.panels["error"].update(
            layers.THRESHOLDS, {"LLM.int8()": errors}, result["threshold"], ("", result["per_token_error"])
        )

    def summary(self, result):
        return reports.threshold_text(result["key"], result["effect"], result["per_token_error"])


class SmoothQuantExplorer(Explorer):
    """SmoothQuant on one layer: slide alpha; the activations' difficulty moves into the weights.

    Left: max |x_j / s_j| and max |W_j s_j| per channel after smoothing (log). Middle: how far the largest
    channel stands above the median one, for activations and weights, against alpha. Right: the output's
    relative error at W8A8 with one activation scale per tensor, against alpha (unsmoothed dotted).
    """

    def __init__(self, layer="minilm.1.ffn_up", alpha=0.5):
        layers.check_key(layer)
        if alpha not in layers.ALPHAS:
            raise ValueError(f"alpha={alpha!r}; choose one of {layers.ALPHAS}")
        controls = {
            "layer": dropdown("layer", layer, ALL_LAYERS, "330px"),
            "alpha": selection("alpha", alpha, layers.ALPHAS),
        }
        super().__init__(controls, n_panels=3, width=9.4, height=2.9, readout_width=260)

    def compute(self):
        key, alpha = self.settings["layer"], self.settings["alpha"]
        activation, weight = layers.layer(key).channel_maxima(alpha)
        curve = curves.layer_curves(key).alphas  # every slider stop, measured once (the asset)
        return {
            "key": key,
            "alpha": alpha,
            "activation": activation,
            "weight": weight,
            "effect": curve[layers.ALPHAS.index(alpha)],
            "curve": curve,
        }

    def draw(self, result):
        return {
            "channels": panels.draw_two_maxima(result["activation"], result["weight"], self.axes[0]),
            "difficulty": panels.draw_curves(
                layers.ALPHAS,
                {"activations": [], "weights": []},
                self.axes[1],
                xlabel="alpha",
                ylabel="max / median channel (log)",
                title="difficulty moves",
            ),
            "error": panels.draw_curves(
                layers.ALPHAS,
                {"smoothed": []},
                self.axes[2],
                xlabel="alpha",
                ylabel="relative output error (log)",
                title="W8A8 per-tensor error",
                reference=("unsmoothed", 0),
            ),
        }

    def update(self, result):
        curve, alpha = result["curve"], result["alpha"]
        self.panels["channels"].update(result["activation"], result["weight"])
        self.panels["difficulty"].update(
            layers.ALPHAS,
            {"activations": [e.activation_difficulty for e in curve], "weights": [e.weight_difficulty for e in curve]},
            alpha,
        )
        self.panels["error"].update(
            layers.ALPHAS, {"smoothed": [e.relative_error for e in curve]}, alpha, ("", curve[0].unsmoothed_error)
        )

    def summary(self, result):
        return reports.alpha_text(result["key"], result["effect"])


class RotationExplorer(Explorer):
    """A random Hadamard rotation of one layer's input: toggle it; watch the tails, the kurtosis and the error.

    Left: histogram of every entry of x (log count; the original as a grey outline). Middle: excess
    kurtosis per channel. Right: the output's relative error at `bits` (weights and activations, one
    activation scale per tensor), original and rotated.
    """

    def __init__(self, layer="minilm.1.ffn_up", rotated=False, bits=8):
        layers.check_key(layer)
        if bits not in curves.ROTATION_BITS:
            raise ValueError(f"bits={bits!r}; choose one of {curves.ROTATION_BITS}")
        controls = {
            "layer": dropdown("layer", layer, ALL_LAYERS, "330px"),
            "rotated": toggle("show", rotated, [("original", False), ("rotated", True)], "80px"),
            "bits": dropdown("bits (W and A)", bits, list(curves.ROTATION_BITS), "150px"),
        }
        super().__init__(controls, n_panels=3, width=9.4, height=2.9, readout_width=260)

    def compute(self):
        key, rotated, bits = self.settings["layer"], self.settings["rotated"], self.settings["bits"]
        x, _ = layers.layer_pair(key)
        return {
            "key": key,
            "rotated": rotated,
            "bits": bits,
            "x": x,
            "effect": curves.layer_curves(key).rotation[bits],  # errors and max |x|, measured once (the asset)
            "values": layers.rotated_input(key) if rotated else x,
            "kurtosis": layers.kurtosis(key, rotated),
            "kurtosis_before": layers.kurtosis(key),
        }

    def draw(self, result):
        return {
            "histogram": panels.draw_value_histogram(result["values"], result["x"], self.axes[0]),
            "kurtosis": panels.draw_kurtosis(result["kurtosis"], result["kurtosis_before"], self.axes[1]),
            "error": panels.draw_bars(
                ["original", "rotated"], self.axes[2], ylabel="relative output error", title="quantized output error"
            ),
        }

    def update(self, result):
        effect = result["effect"]
        self.panels["histogram"].update(result["values"], result["x"])
        self.panels["kurtosis"].update(result["kurtosis"], result["kurtosis_before"])
        self.panels["error"].update([effect.error_before, effect.error_after], int(result["rotated"]))

    def summary(self, result):
        return reports.rotation_text(
            result["key"], result["effect"], result["kurtosis"], result["rotated"], result["bits"]
        )

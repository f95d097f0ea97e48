"""Notebook 09's explorers: GPTQ stepped column by column, AWQ's alpha, and the imatrix in one K-quant block."""

import ipywidgets as W
import numpy as np

from ..calibration import awq, lesson
from ..calibration.imatrix_blocks import block_text
from ..plots import calibration as panels
from .base import Explorer, dropdown, slider, toggle


class GPTQExplorer(Explorer):
    """Slide over GPTQ's steps: the column being rounded, its error, where the update goes, the error so far.

    The steps are computed once per act_order (gptq.steps on `rows` output rows of `layer`, calibrated
    on training text); the slider only moves artists.
    """

    def __init__(self, step=0, act_order=False, layer=lesson.LAYER, rows=64, bits=3, group_size=32):
        self.layer, self.rows, self.bits, self.group_size = layer, rows, bits, group_size
        width = self._walk(act_order).update.shape[1]
        controls = {
            "step": slider("step", step, 0, width - 1),
            "act_order": toggle("column order", act_order, [("left to right", False), ("act order", True)]),
        }
        options = {"layer": layer, "rows": rows, "bits": bits, "group_size": group_size}
        super().__init__(controls, n_panels=3, width=11.0, height=2.9, options=options, readout_width=330)

    def _walk(self, act_order):
        return lesson.walk(self.layer, self.rows, self.bits, self.group_size, act_order)

    def compute(self):
        return self._walk(self.settings["act_order"]), self.settings["step"]

    def draw(self, result):
        both = [self._walk(False), self._walk(True)]  # fixed axes for both orders: cheap redraws
        width, rows = both[0].update.shape[1], both[0].error.shape[1]
        top = {
            name: max(float(np.max(np.abs(getattr(w, name)))) for w in both)
            for name in ("update", "error", "rtn_error", "gptq_error")
        }
        return {
            "update": panels.draw_update(width, top["update"], self.axes[0]),
            "error": panels.draw_column_error(rows, top["error"], self.axes[1]),
            "curve": panels.draw_running_error(width, max(top["rtn_error"], top["gptq_error"]), self.axes[2]),
        }

    def update(self, result):
        walk, step = result
        self.panels["update"].update(walk.update[step], walk.column[step])
        self.panels["error"].update(walk.error[step])
        self.panels["curve"].update(walk.gptq_error, walk.rtn_error, step + 1)

    def summary(self, result):
        walk, step = result
        return walk.text(step)


class AWQExplorer(Explorer):
    """Slide AWQ's alpha: the scales s = mean|x|^alpha and the layer's output error, alpha = 0 being RTN."""

    def __init__(self, alpha=0.5, layer=lesson.LAYER, bits=3, group_size=32):
        self.layer, self.bits, self.group_size = layer, bits, group_size
        weight, inputs = lesson.layer_case(layer)
        self.statistic = awq.activation_statistic(inputs)
        self.alphas, self.errors = lesson.awq_curve(weight, inputs, bits, group_size)
        controls = {"alpha": slider("α", alpha, 0.0, 1.0, 0.05, kind=W.FloatSlider, readout_format=".2f")}
        super().__init__(
            controls,
            n_panels=2,
            width=8.6,
            height=2.8,
            options={"layer": layer, "bits": bits, "group_size": group_size},
            readout_width=330,
        )

    def compute(self):
        alpha = self.settings["alpha"]
        k = int(np.argmin(np.abs(self.alphas - alpha)))
        return k, awq.scales_for(self.statistic, self.alphas[k])

    def draw(self, result):
        return {
            "curve": panels.draw_awq_curve(self.alphas, self.errors, self.axes[0]),
            "scales": panels.draw_awq_scales(self.statistic, self.axes[1]),
        }

    def update(self, result):
        k, scales = result
        self.panels["curve"].update(self.alphas[k], self.errors[k])
        self.panels["scales"].update(scales)

    def summary(self, result):
        k, _ = result
        return lesson.awq_text(self.alphas, self.errors, self.alphas[k])


class ImatrixExplorer(Explorer):
    """Pick a K type and a block of a real layer: what llama.cpp's importance matrix changes in it.

    The layer is quantized by Q4_K, Q3_K and Q2_K with and without its training-text imatrix once
    (calibration.imatrix_blocks, quantlab.ggml = llama.cpp's bytes); the controls only pick a block.
    """

    def __init__(self, type_name="Q3_K", block=0, imatrix=True, layer=lesson.LAYER):
        self.layer = layer
        self.blocks = lesson.imatrix_blocks(layer)
        self.blocks.view(type_name, block)  # names a type or block the controls cannot show (a slider would clamp it)
        if not isinstance(imatrix, bool):
            raise ValueError(f"imatrix={imatrix!r} must be True or False")
        controls = {
            "type_name": dropdown("type", type_name, list(self.blocks.types), width="140px"),
            "block": slider("block", block, 0, self.blocks.n_blocks - 1),
            "imatrix": toggle("search", imatrix, [("no imatrix", False), ("imatrix", True)], button_width="90px"),
        }
        super().__init__(controls, n_panels=3, width=10.0, height=2.7, options={"layer": layer}, readout_width=360)

    def compute(self):
        s = self.settings
        return self.blocks.view(s["type_name"], s["block"]), int(s["imatrix"])

    def draw(self, result):
        weight_top, error_top = self.blocks.limits()
        return {
            "importance": panels.draw_block_importance(self.blocks.importance, self.axes[0]),
            "levels": panels.draw_block_levels(weight_top, self.axes[1]),
            "errors": panels.draw_block_errors(error_top, self.axes[2]),
        }

    def update(self, result):
        view, k = result
        self.panels["importance"].update(view.importance, view.changed)
        self.panels["levels"].update(view.weights, view.quantized[k], view.levels[k], view.sub_block_size)
        self.panels["errors"].update(view.errors[k], view.importance)

    def summary(self, result):
        view, k = result
        return block_text(view, bool(k), self.blocks.layer_errors(view.type_name))

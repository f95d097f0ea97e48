"""Notebooks 00-01's explorers: a model's memory per format, and a number's bits in fp32, fp16 and bf16."""

import ipywidgets as W
import numpy as np

from ..floats import FORMATS as FLOAT_FORMATS, bit_fields
from ..memory import BITS_PER_WEIGHT, GB, GIB, weight_bytes
from ..plots import numbers as panels
from .base import Explorer, slider


class MemoryExplorer(Explorer):
    """How much memory a model's weights need in each format, against a memory budget."""

    def __init__(self, billions_of_parameters=7.0, budget_gb=16.0):
        controls = {
            "billions_of_parameters": slider(
                "parameters (billions)",
                billions_of_parameters,
                0.1,
                180.0,
                0.1,
                kind=W.FloatSlider,
                readout_format=".1f",
            ),
            "budget_gb": slider(
                "memory budget (GB)", budget_gb, 1.0, 192.0, 1.0, kind=W.FloatSlider, readout_format=".0f"
            ),
        }
        super().__init__(controls, n_panels=1, width=6.2, height=2.4)

    def compute(self):
        n = self.settings["billions_of_parameters"] * 1e9
        return [(name, bits, weight_bytes(n, bits)) for name, bits in BITS_PER_WEIGHT.items()]

    def draw(self, rows):
        return panels.draw_memory_bars([name for name, _, _ in rows], self.axes[0])

    def update(self, rows):
        self.panels.update(np.array([size / GB for _, _, size in rows]), self.settings["budget_gb"])

    def summary(self, rows):
        budget = self.settings["budget_gb"]
        lines = [f"memory budget {budget:.0f} GB", f"{'format':<12}{'GB':>8}{'GiB':>8}  fits"]
        for name, _, size in rows:
            fits = "yes" if size <= budget * GB else "no"
            lines.append(f"{name.split(' (')[0]:<12}{size / GB:>8.2f}{size / GIB:>8.2f}  {fits}")
        return "\n".join(lines)


class FloatExplorer(Explorer):
    """Type a number; see its bits in fp32, fp16 and bf16 and what each format actually stores."""

    def __init__(self, value=0.1):
        controls = {"value": W.FloatText(value=value, description="value", layout=W.Layout(width="220px"))}
        super().__init__(controls, n_panels=1, width=8.6, height=1.9)

    def compute(self):
        return [bit_fields(self.settings["value"], name) for name in FLOAT_FORMATS]

    def draw(self, rows):
        return panels.draw_bit_fields(FLOAT_FORMATS, self.axes[0])

    def update(self, rows):
        self.panels.update([row["bits"] for row in rows])

    def summary(self, rows):
        lines = [f"value {rows[0]['value']!r}"]
        for row in rows:
            relative = abs(row["error"]) / abs(row["value"]) if row["value"] else 0.0
            lines.append(f"{row['format']}: stores {row['stored']:.9g}  (relative error {relative:.1e})")
        return "\n".join(lines)

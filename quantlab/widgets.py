"""Explorers: sliders wired to quantlab's core and plots, nothing more.

Every explorer
- redraws its figure in place and sends it as one PNG to an ipywidgets Output (works with
  `%matplotlib inline` everywhere: JupyterLab, Binder, Colab, Voila; no ipympl needed);
- prints its key numbers as text beside the figure;
- shows its settings as a one-line call a learner can paste (`explorer.call()` returns it);
- carries a static PNG of its first figure in the same output, so GitHub, nbviewer and nbval (no
  widget front-end) show a picture instead of a blank.
"""

import base64
import html

import ipywidgets as W
import numpy as np

from . import data, plots
from .floats import FORMATS as FLOAT_FORMATS, bit_fields
from .memory import BITS_PER_WEIGHT, GB, GIB, weight_bytes
from .tradeoff import pareto_front, summarize, sweep

# ipywidgets' Dropdown reads the value None as "nothing selected", so "per tensor" is 0 in the widget
# and None everywhere else (settings, call(), quantlab.quantize).
GROUP_CHOICES = [("per tensor", 0), ("256", 256), ("128", 128), ("64", 64), ("32", 32), ("16", 16), ("8", 8)]


class Explorer:
    """Base class: `controls` (name -> widget), `compute()` -> result, `redraw(result)`, `summary(result)`."""

    def __init__(self, controls, n_panels=3, width=8.6, height=2.8):
        self.controls = controls
        self.figure, self.axes = plots.new_figure(n_panels, width, height)
        self.output = W.Output(layout=W.Layout(width=f"{int(width * 80) + 10}px"))
        self.readout = W.HTML(layout=W.Layout(width="230px"))
        self.call_line = W.HTML()
        self._holding = False
        self._last_png = b""
        self._renderer = plots.FastRenderer(self.figure)
        for control in controls.values():
            control.observe(self._on_change, names="value")
        self.widget = W.VBox(
            [
                W.HBox(list(controls.values()), layout=W.Layout(flex_flow="row wrap")),
                W.HBox([self.output, self.readout]),
                self.call_line,
            ]
        )
        self.refresh()

    # --- what subclasses provide -------------------------------------------------------------
    def compute(self):
        raise NotImplementedError

    def redraw(self, result):
        raise NotImplementedError

    def summary(self, result):
        return ""

    # --- wiring --------------------------------------------------------------------------------
    @property
    def settings(self):
        """Current control values, by name."""
        return {name: control.value for name, control in self.controls.items()}

    def call(self):
        """The current settings as a one-line call a learner can paste into a cell."""
        arguments = ", ".join(f"{name}={value!r}" for name, value in self.settings.items())
        return f"quantlab.widgets.{type(self).__name__}({arguments})"

    def set(self, **values):
        """Move several controls at once (one redraw): what a learner does with the sliders."""
        self._holding = True
        try:
            for name, value in values.items():
                if name not in self.controls:
                    raise ValueError(f"{type(self).__name__} has no control {name!r}; its controls are {sorted(self.controls)}")
                self.controls[name].value = value
        finally:
            self._holding = False
        self.refresh()
        return self

    def _on_change(self, change):
        if not self._holding:
            self.refresh()

    def refresh(self):
        """Recompute, redraw in place, and send the new picture and numbers to the page."""
        result = self.compute()
        with plots._style():
            self.redraw(result)
            self._last_png = self._renderer.png()
        text = self.summary(result)
        self.output.outputs = (
            {"output_type": "display_data", "data": {"image/png": base64.b64encode(self._last_png).decode(), "text/plain": text}, "metadata": {}},
        )
        self.readout.value = f"<pre style='font-size:12px;line-height:1.35'>{html.escape(text)}</pre>"
        self.call_line.value = f"<code style='font-size:11px'>{html.escape(self.call())}</code>"
        self.text = text
        return result

    def _repr_mimebundle_(self, **kwargs):
        """Live widget where a widget front-end runs; the current PNG and numbers everywhere else."""
        bundle = self.widget._repr_mimebundle_(**kwargs)
        bundle["image/png"] = base64.b64encode(self._last_png).decode()
        bundle["text/plain"] = f"{self.text}\n{self.call()}"
        return bundle


def _slider(description, value, low, high, step=1, continuous=True, kind=W.IntSlider, **extra):
    return kind(
        value=value,
        min=low,
        max=high,
        step=step,
        description=description,
        continuous_update=continuous,
        style={"description_width": "initial"},
        layout=W.Layout(width="250px"),
        **extra,
    )


def _dropdown(description, value, options, width="200px"):
    return W.Dropdown(value=value, options=options, description=description, style={"description_width": "initial"}, layout=W.Layout(width=width))


class QuantizationExplorer(Explorer):
    """Slide bits, scheme, clipping, outliers and group size; watch the grid, the transfer function and the error.

    `show` picks which controls appear; the others keep their values. Pass `w` to explore your own
    1-D weights instead of a generated distribution.
    """

    ALL_CONTROLS = ("bits", "scheme", "symmetric_range", "clip_ratio", "group_size", "scale_dtype", "distribution", "outliers", "outlier_magnitude", "seed")

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
        unknown = set(show) - set(self.ALL_CONTROLS)
        if unknown:
            raise ValueError(f"show= names unknown controls {sorted(unknown)}; choose from {self.ALL_CONTROLS}")
        self.n, self.std, self._user_weights, self.panel_names = n, std, w, tuple(panels)
        if w is not None:
            w = np.asarray(w)
            if w.ndim != 1:
                raise ValueError(f"w must be a 1-D array of weights, got shape {w.shape}; pass one row or w.ravel()")
        every = {
            "bits": _slider("bits", bits, 1 if scheme == "asymmetric" else 2, 8),
            "scheme": W.ToggleButtons(value=scheme, options=["symmetric", "asymmetric"], style={"button_width": "100px"}),
            "symmetric_range": _dropdown("range", symmetric_range, [("restricted \u00b1(2^(b-1)-1)", "restricted"), ("full -2^(b-1)..2^(b-1)-1", "full")], "250px"),
            "clip_ratio": _slider("clip ratio", clip_ratio, 0.2, 1.0, 0.02, kind=W.FloatSlider, readout_format=".2f"),
            "group_size": _dropdown("group size", group_size or 0, GROUP_CHOICES, "170px"),
            "scale_dtype": _dropdown("scale stored as", scale_dtype, ["float32", "float16", "bfloat16"], "200px"),
            "distribution": _dropdown("weights", distribution, list(data.DISTRIBUTIONS), "170px"),
            "outliers": _slider("outliers", outliers, 0, 16),
            "outlier_magnitude": _slider("outlier size (\u00d7std)", outlier_magnitude, 1.0, 500.0, 1.0, kind=W.FloatSlider, readout_format=".0f"),
            "seed": _slider("seed", seed, 0, 20),
        }
        self._hidden = {name: control for name, control in every.items() if name not in show}
        every["scheme"].observe(self._bits_floor, names="value")
        self._weights_cache = {}
        self._sweep_cache = {}
        super().__init__({name: every[name] for name in show}, n_panels=len(self.panel_names))

    def _bits_floor(self, change):
        """A restricted symmetric grid needs at least 2 bits (at 1 bit its only level is 0)."""
        bits = self.controls.get("bits", self._hidden.get("bits"))
        bits.min = 1 if change["new"] == "asymmetric" else 2

    @property
    def settings(self):
        values = {name: control.value for name, control in {**self._hidden, **self.controls}.items()}
        values["group_size"] = values["group_size"] or None
        return {name: values[name] for name in self.ALL_CONTROLS}

    def set(self, **values):
        if "group_size" in values:
            values["group_size"] = values["group_size"] or 0
        return super().set(**values)

    def call(self):
        defaults = QuantizationExplorer.__init__.__defaults__
        names = QuantizationExplorer.__init__.__code__.co_varnames[1 : 1 + len(defaults)]
        default = dict(zip(names, defaults))
        changed = {name: value for name, value in self.settings.items() if value != default[name] or name in self.controls}
        if self._user_weights is not None:
            changed = {"w": "w", **{k: v for k, v in changed.items() if k not in ("distribution", "outliers", "outlier_magnitude", "seed")}}
        arguments = ", ".join(f"{k}={v}" if k == "w" else f"{k}={v!r}" for k, v in changed.items())
        return f"quantlab.widgets.QuantizationExplorer({arguments})"

    def weights(self):
        """The weights being quantized (generated and cached per distribution/outlier setting)."""
        if self._user_weights is not None:
            return self._user_weights
        s = self.settings
        key = (s["distribution"], s["outliers"], s["outlier_magnitude"], s["seed"])
        if key not in self._weights_cache:
            self._weights_cache[key] = data.weights(s["distribution"], self.n, self.std, s["outliers"], s["outlier_magnitude"], s["seed"])
        return self._weights_cache[key]

    def compute(self):
        s = self.settings
        options = {k: s[k] for k in ("bits", "scheme", "group_size", "symmetric_range", "clip_ratio", "scale_dtype")}
        result = {"summary": summarize(self.weights(), **options)}
        if "tradeoff" in self.panel_names:
            key = (id(self.weights()), s["scheme"], s["scale_dtype"], s["symmetric_range"])
            if key not in self._sweep_cache:
                points = sweep(self.weights(), scheme=s["scheme"], scale_dtype=s["scale_dtype"], symmetric_range=s["symmetric_range"])
                self._sweep_cache[key] = (points, pareto_front(points))
            result["sweep"] = self._sweep_cache[key]
        return result

    def redraw(self, result):
        summary = result["summary"]
        if not hasattr(self, "_panels"):
            self._panels = {}
            for name, ax in zip(self.panel_names, self.axes):
                if name == "histogram":
                    self._panels[name] = plots.draw_levels_on_histogram(summary.weights, summary.levels, ax=ax)
                elif name == "transfer":
                    self._panels[name] = plots.draw_transfer(summary.transfer_x, summary.transfer_y, ax=ax)
                elif name == "error":
                    self._panels[name] = plots.draw_error_histogram(summary.errors_in_steps, ax=ax)
                elif name == "tradeoff":
                    points, front = result["sweep"]
                    self._panels[name] = plots.draw_tradeoff(points, front, ax=ax)
                else:
                    raise ValueError(f"unknown panel {name!r}; choose from histogram, transfer, error, tradeoff")
        for name, panel in self._panels.items():
            if name == "histogram":
                panel.update(summary.weights, summary.levels)
            elif name == "transfer":
                panel.update(summary.transfer_x, summary.transfer_y)
            elif name == "error":
                panel.update(summary.errors_in_steps)
            elif name == "tradeoff":
                panel.update(summary.bits_per_weight, summary.metrics["mse"])

    def summary(self, result):
        return result["summary"].text()


class MemoryExplorer(Explorer):
    """How much memory a model's weights need in each format, against a memory budget."""

    def __init__(self, billions_of_parameters=7.0, budget_gb=16.0):
        controls = {
            "billions_of_parameters": _slider("parameters (billions)", billions_of_parameters, 0.1, 180.0, 0.1, kind=W.FloatSlider, readout_format=".1f"),
            "budget_gb": _slider("memory budget (GB)", budget_gb, 1.0, 192.0, 1.0, kind=W.FloatSlider, readout_format=".0f"),
        }
        super().__init__(controls, n_panels=1, width=6.2, height=2.4)

    def compute(self):
        n = self.controls["billions_of_parameters"].value * 1e9
        return [(name, bits, weight_bytes(n, bits)) for name, bits in BITS_PER_WEIGHT.items()]

    def redraw(self, rows):
        ax, budget = self.axes[0], self.controls["budget_gb"].value
        sizes = np.array([size / GB for _, _, size in rows])
        if not hasattr(self, "_bars"):
            self.figure.subplots_adjust(left=0.36, right=0.97, bottom=0.2, top=0.88)
            self._bars = ax.barh([name for name, _, _ in rows], sizes, color=plots.SERIES_COLORS[: len(rows)], animated=True)
            self._budget = ax.axvline(budget, color=plots.OKABE_ITO["black"], linestyle="--", linewidth=1, animated=True)
            self._labels = [ax.text(0, i, "", va="center", fontsize=7, animated=True) for i in range(len(rows))]
            ax.invert_yaxis()
            ax.set_xlabel("weights only, GB (10^9 bytes)")
        for bar, label, size in zip(self._bars, self._labels, sizes):
            bar.set_width(size)
            label.set_position((size, bar.get_y() + bar.get_height() / 2))
            label.set_text(f" {size:.1f} GB")
        self._budget.set_xdata([budget, budget])
        ax.set_xlim(*plots.nice_range(0.0, max(sizes.max(), budget) * 1.2, ax.get_xlim() if hasattr(self, "_drawn") else None))
        ax.set_xlim(0, ax.get_xlim()[1])
        self._drawn = True
        fits = sum(size <= budget for size in sizes)
        ax.set_title(f"{fits} of {len(rows)} formats fit in {budget:.0f} GB (dashed line)")

    def summary(self, rows):
        budget = self.controls["budget_gb"].value
        lines = [f"{'format':<12}{'GB':>8}{'GiB':>8}  fits"]
        for name, _, size in rows:
            lines.append(f"{name.split(' (')[0]:<12}{size / GB:>8.2f}{size / GIB:>8.2f}  {'yes' if size <= budget * GB else 'no'}")
        return "\n".join(lines)


class FloatExplorer(Explorer):
    """Type a number; see its bits in fp32, fp16 and bf16 and what each format actually stores."""

    COLORS = {"sign": plots.OKABE_ITO["vermillion"], "exponent": plots.OKABE_ITO["sky_blue"], "mantissa": plots.OKABE_ITO["yellow"]}

    def __init__(self, value=0.1):
        controls = {"value": W.FloatText(value=value, description="value", layout=W.Layout(width="220px"))}
        super().__init__(controls, n_panels=1, width=8.6, height=1.9)

    def compute(self):
        return [bit_fields(self.controls["value"].value, name) for name in FLOAT_FORMATS]

    def redraw(self, rows):
        ax = self.axes[0]
        if not hasattr(self, "_cells"):
            import matplotlib.colors as mcolors

            self.figure.subplots_adjust(left=0.06, right=0.99, bottom=0.05, top=0.8)
            colors = np.ones((len(rows), 32, 3))
            for r, name in enumerate(FLOAT_FORMATS):
                fmt = FLOAT_FORMATS[name]
                spans = [("sign", 1), ("exponent", fmt.exponent_bits), ("mantissa", fmt.mantissa_bits)]
                column = 0
                for part, width in spans:
                    colors[r, column : column + width] = mcolors.to_rgb(self.COLORS[part])
                    column += width
            ax.imshow(colors, aspect="auto", extent=(-0.5, 31.5, len(rows) - 0.5, -0.5))
            ax.set_yticks(range(len(rows)), [name for name in FLOAT_FORMATS])
            ax.set_xticks([])
            for x in np.arange(-0.5, 32, 1):
                ax.axvline(x, color="white", linewidth=0.6)
            self._cells = [[ax.text(c, r, "", ha="center", va="center", fontsize=7, family="monospace") for c in range(32)] for r in range(len(rows))]
            ax.set_title("sign | exponent | mantissa   (colour: vermillion sign, blue exponent, yellow mantissa)")
        for r, row in enumerate(rows):
            for c, cell in enumerate(self._cells[r]):
                cell.set_text(row["bits"][c] if c < len(row["bits"]) else "")

    def summary(self, rows):
        lines = [f"value {rows[0]['value']!r}"]
        for row in rows:
            relative = abs(row["error"]) / abs(row["value"]) if row["value"] else 0.0
            lines.append(f"{row['format']}: stores {row['stored']:.9g}  (relative error {relative:.1e})")
        return "\n".join(lines)

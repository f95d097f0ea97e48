"""The explorers' shared base: controls wired to a compute step, a figure drawn once and updated in place.

Every explorer
- computes with quantlab's core (`compute()`), draws its panels once (`draw(result)`, which returns
  them) and afterwards only moves their artists (`update(result)`);
- sends the figure as one PNG to an ipywidgets Output (works with `%matplotlib inline` everywhere:
  JupyterLab, Binder, Colab, Voila; no ipympl needed) and prints its key numbers beside it, one
  unbroken line per row (JupyterLab's output CSS would break "bits/weight" mid-word);
- gives every slider a typed twin (`typed_input`): a labelled number box, or a dropdown for a slider
  over fixed values, so an exact value can be typed; every control is a standard, focusable widget;
- shows its settings as a one-line call a learner can paste (`call()`: one implementation, from the
  constructor's signature, writing every argument that differs from its default);
- carries a static PNG of its current figure, so GitHub, nbviewer and nbval (no widget front-end)
  show a picture instead of a blank.
"""

import base64
import html
import inspect

import ipywidgets as W

from .. import plots


class Name:
    """A value that `call()` writes as a bare name (e.g. `w=w` for weights the learner passed in)."""

    def __init__(self, name):
        self.name = name

    def __repr__(self):
        return self.name


class Explorer:
    """Base class: `controls` (name -> widget), `compute()`, `draw(result)` once, then `update(result)`.

    Subclasses may keep some controls off screen (`hidden`: they still hold a setting), translate a
    widget value into a setting (`to_setting`) and back (`to_widget`), and name the constructor
    arguments that are not controls (`options`, e.g. n=, std=, show=), so that `call()` rebuilds them.
    """

    def __init__(self, controls, n_panels=3, width=8.6, height=2.8, hidden=None, options=None, readout_width=230):
        self.controls = controls
        self.hidden = dict(hidden or {})
        self.options = dict(options or {})
        self.figure, self.axes = plots.new_figure(n_panels, width, height)
        self.output = W.Output(layout=W.Layout(width=f"{int(width * 80) + 10}px"))
        # At least readout_width wide, wider when a line needs it: rows are never wrapped (show_text).
        self.readout = W.HTML(layout=W.Layout(min_width=f"{readout_width}px"))
        self.call_line = W.HTML()
        self.panels = None
        self.text = ""
        self._holding = False
        self._last_png = b""
        self._renderer = plots.FastRenderer(self.figure)
        self.typed_inputs = {name: typed_input(control) for name, control in controls.items() if is_slider(control)}
        for control in controls.values():
            control.observe(self._on_change, names="value")
        shown = [W.HBox([c, self.typed_inputs[n]]) if n in self.typed_inputs else c for n, c in controls.items()]
        self.widget = W.VBox(
            [
                W.HBox(shown, layout=W.Layout(flex_flow="row wrap")),
                # A window too narrow for both puts the readout under the figure rather than squeezing it.
                W.HBox([self.output, self.readout], layout=W.Layout(flex_flow="row wrap")),
                self.call_line,
            ]
        )
        # Hooks for tests/browser and benchmarks/browser_latency.py: find every explorer and its readout in the page.
        self.widget.add_class("quantlab-explorer")
        self.readout.add_class("quantlab-readout")
        self.refresh()

    # --- what subclasses provide -------------------------------------------------------------
    def compute(self):
        """The numbers for the current settings (nothing drawn)."""
        raise NotImplementedError

    def draw(self, result):
        """Create the panels on self.axes (called once, on the first refresh); return them."""
        raise NotImplementedError

    def update(self, result):
        """Move the artists of self.panels to show `result`."""
        raise NotImplementedError

    def summary(self, result):
        """The readout beside the figure: the key numbers as text."""
        return ""

    def inert_controls(self):
        """{control: why} for controls that cannot change the figure in the current state (e.g. an
        outlier's size while there are no outliers). Tests move every other control and expect new pixels."""
        return {}

    def to_setting(self, name, value):
        """A widget's value as a setting (e.g. a dropdown's 0 for 'per tensor' -> None)."""
        return value

    def to_widget(self, name, value):
        """A setting as a widget's value (the inverse of to_setting)."""
        return value

    # --- settings and the one-line call --------------------------------------------------------
    def control(self, name):
        """The widget holding setting `name`, shown or hidden."""
        return self.controls[name] if name in self.controls else self.hidden[name]

    @property
    def settings(self):
        """Every setting (shown and hidden controls), by name, in the constructor's order."""
        every = {**self.controls, **self.hidden}
        order = [name for name in inspect.signature(type(self)).parameters if name in every]
        order += [name for name in every if name not in order]
        return {name: self.to_setting(name, every[name].value) for name in order}

    def arguments(self):
        """The constructor arguments that rebuild this explorer: its settings and options."""
        return {**self.settings, **self.options}

    def call(self):
        """The current settings as a one-line call a learner can paste into a cell."""
        parameters = inspect.signature(type(self)).parameters
        written = []
        for name, value in self.arguments().items():
            parameter = parameters.get(name)
            if (
                parameter is not None
                and parameter.default is not inspect.Parameter.empty
                and same_value(value, parameter.default)
            ):
                continue
            written.append(f"{name}={value!r}")
        return f"quantlab.widgets.{type(self).__name__}({', '.join(written)})"

    def check_setting_names(self, values):
        """Refuse a setting this explorer does not have, naming the ones it has."""
        known = {**self.controls, **self.hidden}
        for name in values:
            if name not in known:
                raise ValueError(f"{type(self).__name__} has no control {name!r}; its controls are {sorted(known)}")

    def set(self, **values):
        """Move several controls at once (one redraw): what a learner does with the sliders."""
        self.check_setting_names(values)
        self._holding = True
        try:
            for name, value in values.items():
                self.control(name).value = self.to_widget(name, value)
        finally:
            self._holding = False
        self.refresh()
        return self

    def _on_change(self, change):
        if not self._holding:
            self.refresh()

    # --- the picture and the text -----------------------------------------------------------------
    def refresh(self):
        """Recompute, update the figure in place, and send the new picture and numbers to the page."""
        result = self.compute()
        with plots.style():
            if self.panels is None:
                self.panels = self.draw(result)
            self.update(result)
        self.paint(self.summary(result))
        return result

    def paint(self, text):
        """Render the figure as its artists stand and send it, with `text` in the readout, to the page."""
        with plots.style():
            self._last_png = self._renderer.png()
        self.show_text(text)
        self.output.outputs = (
            {
                "output_type": "display_data",
                "metadata": {},
                "data": {"image/png": base64.b64encode(self._last_png).decode(), "text/plain": self.text},
            },
        )

    def show_text(self, text):
        """Put `text` in the readout (and the current call under the figure)."""
        self.text = text
        self.readout.value = f"<pre style='{READOUT_STYLE}'>{html.escape(text)}</pre>"
        self.call_line.value = f"<code style='font-size:11px'>{html.escape(self.call())}</code>"

    def png(self):
        """The figure as last sent to the page (PNG bytes)."""
        return self._last_png

    def _repr_mimebundle_(self, **kwargs):
        """Live widget where a widget front-end runs; elsewhere the current PNG with the readout as alt text and caption."""
        bundle = self.widget._repr_mimebundle_(**kwargs)
        caption = f"<pre style='{READOUT_STYLE}'>{html.escape(self.text)}</pre>"
        bundle["text/html"] = plots.base.figure_html(self._last_png, self.text, caption)  # alt text = the readout
        bundle["image/png"] = base64.b64encode(self._last_png).decode()
        bundle["text/plain"] = f"{self.text}\n{self.call()}"
        return bundle


def same_value(value, default):
    """True if a setting equals its default (tuples and lists alike; arrays never)."""
    if isinstance(value, (list, tuple)) and isinstance(default, (list, tuple)):
        return tuple(value) == tuple(default)
    try:
        return bool(value == default) and type(value) is not Name
    except (TypeError, ValueError):
        return False


# Each line of a readout is a row of a table: never wrap it, and override JupyterLab's
# `.jp-OutputArea-output pre {word-break: break-all}`, which broke "bits/weight" mid-word in a 260 px column.
READOUT_STYLE = (
    "font-size:12px;line-height:1.35;margin:0 0 0 6px;white-space:pre;word-break:normal;overflow-wrap:normal"
)

# An explorer that sends a preview before its measured figure (notebook 08's) carries this class on its widget
# in between, so tests/browser and benchmarks/browser_latency.py can time both pictures.
PENDING_CLASS = "quantlab-pending"

SLIDERS = (W.IntSlider, W.FloatSlider, W.SelectionSlider)


def is_slider(control):
    """True for the sliders that get a typed twin (integer, float, or over fixed values)."""
    return isinstance(control, SLIDERS)


def typed_input(control):
    """A slider's typed twin, linked both ways: a number box within its bounds, or a dropdown of its values.

    Arrow keys on a slider move one step at a time and its own editable readout is neither labelled nor
    visibly an input, so an exact value (bits, a block index, alpha, an outlier's size) gets a box.
    The box replaces the slider's readout; min, max and step follow the slider when they change.
    """
    # The box's <label> names it for a screen reader; at zero width it adds nothing on screen, where the
    # slider's own label already stands beside it (the title shows on hover).
    named = {"description": f"{control.description}, typed", "tooltip": f"{control.description}: type a value"}
    named["style"] = {"description_width": "0px"}
    if isinstance(control, W.SelectionSlider):
        twin = W.Dropdown(options=control.options, value=control.value, layout=W.Layout(width="90px"), **named)
        names = ("disabled", "value")
    else:
        integer = isinstance(control, W.IntSlider)
        twin = (W.BoundedIntText if integer else W.BoundedFloatText)(
            value=control.value,
            min=control.min,
            max=control.max,
            step=control.step,
            layout=W.Layout(width="72px" if integer else "84px"),
            **named,
        )
        names = ("disabled", "min", "max", "step", "value")
    control.readout = False
    twin.add_class("quantlab-typed-input")
    for name in names:
        W.link((control, name), (twin, name))
    return twin


def slider(description, value, low, high, step=1, continuous=True, kind=W.IntSlider, **extra):
    """A labelled slider (integer unless kind=W.FloatSlider); continuous=False updates on release."""
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


def dropdown(description, value, options, width="200px"):
    """A labelled dropdown; `options` are values or (label, value) pairs."""
    return W.Dropdown(
        value=value,
        options=options,
        description=description,
        style={"description_width": "initial"},
        layout=W.Layout(width=width),
    )


def toggle(description, value, options, button_width="100px"):
    """Labelled toggle buttons (the label names the group for a screen reader); `options` as for dropdown."""
    return W.ToggleButtons(
        value=value,
        options=options,
        description=description,
        style={"description_width": "initial", "button_width": button_width},
    )


def check_show(show, all_controls):
    """Refuse a `show=` that names controls an explorer does not have."""
    unknown = set(show) - set(all_controls)
    if unknown:
        raise ValueError(f"show= names unknown controls {sorted(unknown)}; choose from {tuple(all_controls)}")

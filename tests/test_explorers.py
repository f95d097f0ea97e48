"""Every explorer, every control: built from quantlab.widgets.EXPLORERS and each explorer's own controls.

A new explorer or control is covered without editing this file:
- `eval(call())` rebuilds an explorer whose settings, options and readout equal the original's;
- moving any control changes the figure's pixels and its readout (unless the explorer's
  inert_controls() says why that control cannot move the figure in its current state);
- the fast partial redraw (cached background + moving artists) equals a full redraw, pixel for pixel.
"""

import io

import ipywidgets as W
import numpy as np
import pytest
from PIL import Image

import quantlab
from quantlab import data, widgets

# Small, quick settings per explorer (the defaults of the others are already quick).
SMALL = {
    "QuantizationExplorer": {
        "n": 1024,
        "show": (
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
        ),
    },
    "CodebookExplorer": {
        "n": 1024,
        "show": ("bits", "group_size", "distribution", "outliers", "outlier_magnitude", "start", "iteration", "seed"),
    },
}


def build(cls):
    return cls(**SMALL.get(cls.__name__, {}))


@pytest.fixture(scope="module", params=widgets.EXPLORERS, ids=lambda cls: cls.__name__)
def explorer(request):
    return build(request.param)


def other_value(control):
    """A value the control can take that differs from its current one."""
    if isinstance(control, (W.Dropdown, W.ToggleButtons, W.SelectionSlider)):
        values = [option[1] if isinstance(option, tuple) else option for option in control.options]
        return next(v for v in values[::-1] if v != control.value)
    if isinstance(control, (W.IntSlider, W.FloatSlider)):
        return control.min if control.value != control.min else control.max
    if isinstance(control, W.FloatText):
        return control.value + 1.1
    raise TypeError(f"no rule for {type(control).__name__}: teach other_value() this kind of control")


def pixels(png):
    return np.asarray(Image.open(io.BytesIO(png)).convert("RGBA"))


def test_inert_controls_are_named_with_a_reason():
    explorer = widgets.QuantizationExplorer(outliers=0)
    assert "outlier_magnitude" in explorer.inert_controls()
    assert not widgets.QuantizationExplorer(outliers=1).inert_controls()
    # Found by the browser test: after the scheme toggle, the range dropdown moves nothing.
    asymmetric = widgets.QuantizationExplorer(outliers=1, scheme="asymmetric")
    assert "symmetric_range" in asymmetric.inert_controls()
    before = asymmetric.png()
    asymmetric.set(symmetric_range="full")
    assert asymmetric.png() == before


def test_every_explorer_is_listed():
    names = {cls.__name__ for cls in widgets.EXPLORERS}
    defined = {name for name in dir(widgets) if name.endswith(("Explorer", "Calculator")) and name != "Explorer"}
    assert defined <= names, f"add {sorted(defined - names)} to quantlab.widgets.EXPLORERS"


def test_call_rebuilds_the_same_explorer(explorer):
    rebuilt = eval(explorer.call(), {"quantlab": quantlab})
    assert type(rebuilt) is type(explorer)
    assert rebuilt.settings == explorer.settings
    assert rebuilt.options == explorer.options
    assert rebuilt.text == explorer.text


def test_call_after_moving_every_control_rebuilds_it(explorer):
    for name, control in explorer.controls.items():
        control.value = other_value(control)
    rebuilt = eval(explorer.call(), {"quantlab": quantlab})
    assert rebuilt.settings == explorer.settings, explorer.call()
    assert rebuilt.text == explorer.text


def test_own_weights_are_written_as_w():
    w = data.gaussian(512, std=0.05, seed=1)
    for cls in (widgets.QuantizationExplorer, widgets.CodebookExplorer, widgets.BlockExplorer):
        explorer = cls(w=w)
        assert "w=w" in explorer.call()
        rebuilt = eval(explorer.call(), {"quantlab": quantlab, "w": w})
        assert rebuilt.settings == explorer.settings and rebuilt.text == explorer.text


def test_the_call_keeps_sizes_that_are_not_controls():
    """The bug that started it: notebook 03's call dropped n= and std=, so pasting it gave other weights."""
    explorer = widgets.QuantizationExplorer(
        bits=4,
        outliers=1,
        outlier_magnitude=100.0,
        n=1024,
        std=0.1,
        show=("bits", "outliers", "outlier_magnitude", "group_size"),
    )
    call = explorer.call()
    assert "n=1024" in call and "std=0.1" in call
    np.testing.assert_array_equal(eval(call, {"quantlab": quantlab}).weights(), explorer.weights())


CONTROLS = [(cls, name) for cls in widgets.EXPLORERS for name in build(cls).controls]


@pytest.mark.parametrize("cls, name", CONTROLS, ids=[f"{cls.__name__}.{name}" for cls, name in CONTROLS])
def test_every_control_changes_the_figure_and_the_fast_redraw_is_exact(cls, name):
    explorer = build(cls)
    before_png, before_text, inert = explorer.png(), explorer.text, explorer.inert_controls()
    control = explorer.controls[name]
    control.value = other_value(control)
    after = pixels(explorer.png())
    if name not in inert:
        assert not np.array_equal(pixels(before_png), after), f"{cls.__name__}: moving {name} left the figure unchanged"
        assert explorer.text != before_text, f"{cls.__name__}: moving {name} left the readout unchanged"
    full = explorer._renderer.full_rgba()
    differ = np.any(full != after, axis=-1)
    assert not differ.any(), (
        f"{cls.__name__}.{name}: the fast redraw differs from a full redraw at "
        f"{int(differ.sum())} pixels (first at row, column {np.argwhere(differ)[0].tolist()})"
    )


def test_float_explorer_draws_the_bits_of_the_value_typed():
    """Issue 16: typing 1.2 used to leave 0.1's bits on the figure."""
    explorer = widgets.FloatExplorer(value=0.1)
    explorer.controls["value"].value = 1.2
    fresh = widgets.FloatExplorer(value=1.2)
    np.testing.assert_array_equal(pixels(explorer.png()), pixels(fresh.png()))
    assert "1.20000005" in explorer.text

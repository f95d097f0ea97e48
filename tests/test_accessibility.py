"""Every explorer can be used from the keyboard, takes typed values, and reads out its numbers as text.

Built from quantlab.widgets.EXPLORERS, so a new explorer or control is covered without editing this file:
- every control is a standard ipywidgets control (focusable, keyboard-operable in ipywidgets 8: slider
  handles take arrow keys, dropdowns and toggle buttons are native elements), shown and enabled;
- every slider has a typed twin beside it, linked both ways (a number box, or a dropdown for a slider
  over fixed values), with the slider's bounds;
- every explorer has a non-empty text readout beside its figure, in rows that never wrap;
- every figure in figures/ has a text description, used as the alt text wherever markdown shows it, and
  every markdown image (README, notebooks) has alt text.
"""

import base64
import html
import json
import re
from pathlib import Path

import ipywidgets as W
import numpy as np
import pytest

from quantlab import figures, plots, widgets
from quantlab.widgets import base

# What a keyboard reaches and operates in ipywidgets 8 (checked in JupyterLab 4.6 / Chromium: the slider
# handle has tabindex=0 and role=slider; Dropdown is a <select>, ToggleButtons are <button>s, the text
# boxes are <input>s).
FOCUSABLE = (
    *(W.IntSlider, W.FloatSlider, W.SelectionSlider, W.Dropdown, W.ToggleButtons),
    *(W.FloatText, W.IntText, W.BoundedFloatText, W.BoundedIntText),
)


def build(cls):
    return cls(**{"n": 1024} if cls.__name__ in ("QuantizationExplorer", "CodebookExplorer") else {})


@pytest.fixture(scope="module", params=widgets.EXPLORERS, ids=lambda cls: cls.__name__)
def explorer(request):
    with np.errstate(all="ignore"):
        return build(request.param)


def shown_widgets(widget):
    """Every widget on screen under `widget`, depth first."""
    yield widget
    for child in getattr(widget, "children", ()):
        yield from shown_widgets(child)


def test_every_control_is_a_standard_focusable_widget(explorer):
    inert = explorer.inert_controls()
    on_screen = list(shown_widgets(explorer.widget))
    for name, control in {**explorer.controls, **explorer.typed_inputs}.items():
        assert isinstance(control, FOCUSABLE), f"{name}: {type(control).__name__} is not a standard focusable control"
        assert not control.disabled or name in inert, f"{name} is disabled with no reason in inert_controls()"
        assert control.layout.display != "none" and control.layout.visibility != "hidden", f"{name} is hidden"
        assert any(widget is control for widget in on_screen), f"{name} is not in the explorer's widget"


def test_every_control_has_a_name(explorer):
    """A visible label on each control; each typed box has a <label> too (zero-width: its slider's label is beside it)."""
    for name, control in explorer.controls.items():
        assert control.description.strip(), f"{name} has no label"
    for name, box in explorer.typed_inputs.items():
        assert box.description.startswith(explorer.controls[name].description), f"{name}'s box is not named"


def test_every_slider_has_a_typed_input_beside_it(explorer):
    sliders = {name for name, control in explorer.controls.items() if isinstance(control, base.SLIDERS)}
    assert set(explorer.typed_inputs) == sliders
    rows = [w for w in shown_widgets(explorer.widget) if isinstance(w, W.HBox)]
    for name in sliders:
        slider, box = explorer.controls[name], explorer.typed_inputs[name]
        assert any(list(row.children) == [slider, box] for row in rows), f"{name}: the box is not beside its slider"
        assert slider.readout is False  # the box is the readout: no second copy of the value
        assert box.value == slider.value
        if isinstance(slider, W.SelectionSlider):
            assert isinstance(box, W.Dropdown) and tuple(box.options) == tuple(slider.options)
        else:
            kind = W.BoundedIntText if isinstance(slider, W.IntSlider) else W.BoundedFloatText
            assert isinstance(box, kind)
            assert (box.min, box.max, box.step) == (slider.min, slider.max, slider.step)


def typed_value(control):
    """A value other than the current one, typed as a learner would (inside the bounds, off the slider's end)."""
    if isinstance(control, W.SelectionSlider):
        values = [option[1] if isinstance(option, tuple) else option for option in control.options]
        return next(v for v in values[::-1] if v != control.value)
    if isinstance(control, W.IntSlider):
        return control.max if control.value != control.max else control.min
    middle = control.min + (control.max - control.min) * 0.37  # not on a step: typed, not slid
    return round(middle, 3)


def test_typing_a_value_moves_the_slider_and_the_slider_moves_the_box(explorer):
    for name, box in explorer.typed_inputs.items():
        slider, before = explorer.controls[name], explorer.text
        value = typed_value(slider)
        box.value = value
        assert slider.value == value and explorer.settings[name] == explorer.to_setting(name, value)
        if name not in explorer.inert_controls():
            assert explorer.text != before, f"typing {name}={value!r} left the readout unchanged"
        slider.value = typed_value(slider)
        assert box.value == slider.value


def test_the_box_follows_bounds_that_change():
    """CodebookExplorer's "Lloyd step" slider ends where Lloyd's algorithm converged: the box ends there too."""
    explorer = widgets.CodebookExplorer(n=1024)
    ends = set()
    for bits in (2, 3, 5):
        explorer.set(bits=bits)
        slider, box = explorer.controls["iteration"], explorer.typed_inputs["iteration"]
        assert (box.min, box.max, box.value) == (slider.min, slider.max, slider.value)
        ends.add(slider.max)
    assert len(ends) > 1  # the bound really moved


def test_every_explorer_has_a_text_readout_beside_its_figure(explorer):
    assert explorer.text.strip(), "the readout is empty"
    assert html.escape(explorer.text) in explorer.readout.value
    row = next(w for w in shown_widgets(explorer.widget) if isinstance(w, W.HBox) and explorer.output in w.children)
    assert explorer.readout in row.children
    assert explorer.output.outputs[0]["data"]["text/plain"] == explorer.text  # what a screen reader or nbval reads
    assert explorer.text in explorer._repr_mimebundle_()["text/plain"]


def readout_styles(explorer):
    match = re.fullmatch(r"<pre style='([^']*)'>.*</pre>", explorer.readout.value, flags=re.S)
    assert match, explorer.readout.value[:80]
    return dict(item.split(":", 1) for item in match.group(1).split(";"))


def test_readout_rows_never_wrap_and_the_column_fits_them(explorer):
    """Notebook 06 broke "bits/weight" mid-word: JupyterLab styles `.jp-OutputArea-output pre` with
    word-break: break-all, and a pre-wrap readout in a fixed 260 px column wrapped its 37-character row."""
    styles = readout_styles(explorer)
    assert styles["white-space"] == "pre"  # a row is never wrapped...
    assert styles["word-break"] == "normal" and styles["overflow-wrap"] == "normal"  # ...nor broken inside a word
    assert explorer.readout.layout.width is None, "a fixed width would cut or overflow long rows"
    assert explorer.readout.layout.min_width  # a steady column while the rows change length
    row = next(w for w in shown_widgets(explorer.widget) if isinstance(w, W.HBox) and explorer.output in w.children)
    assert row.layout.flex_flow == "row wrap"  # in a narrow window the readout goes under the figure


# --- static figures ----------------------------------------------------------------------------------------

ROOT = Path(__file__).resolve().parents[1]
MARKDOWN_IMAGE = re.compile(r"!\[([^\]]*)\]\(([^)\s]+)")


def markdown_sources():
    yield "README.md", (ROOT / "README.md").read_text()
    for path in sorted((ROOT / "notebooks").glob("*.ipynb")):
        for cell in json.loads(path.read_text())["cells"]:
            if cell["cell_type"] == "markdown":
                yield path.name, "".join(cell["source"])


def test_every_figure_has_a_description():
    assert set(figures.DESCRIPTIONS) == set(figures.FIGURES)
    for name, text in figures.DESCRIPTIONS.items():
        assert len(text.split()) >= 10, f"{name}: a description says what the picture shows, in a sentence"


def test_every_markdown_image_has_alt_text_and_figures_use_their_description():
    images = [
        (source, alt, target) for source, text in markdown_sources() for alt, target in MARKDOWN_IMAGE.findall(text)
    ]
    assert any(target.startswith("figures/") for _, _, target in images)  # the README shows one: the check runs
    for source, alt, target in images:
        if target.startswith("http"):  # badges: their alt is their text
            continue
        assert alt.strip(), f"{source}: ![]({target}) has no alt text"
        name = target.rsplit("/", 1)[-1]
        if "figures/" in target:
            assert alt == figures.DESCRIPTIONS[name], f"{source}: {target}'s alt differs from figures.DESCRIPTIONS"


ALT = re.compile(r"<img [^>]*alt='([^']*)'")


def test_a_described_figure_carries_its_description_as_alt_text_and_caption():
    figure, (ax,) = plots.new_figure(1)
    plots.draw_lines([1, 2, 3], {"fp16": [1, 2, 3], "bf16": [3, 2, 1]}, ax, xlabel="|x|", ylabel="error", logy=True)
    ax.set_title("fp16 is precise")
    shown = plots.described(figure)._repr_mimebundle_()
    alt = html.unescape(ALT.search(shown["text/html"]).group(1))
    assert alt == shown["text/plain"] == plots.describe(figure)
    for words in ("1 panel", "“fp16 is precise”", "x: |x|", "y: error (log scale)", "legend: fp16, bf16"):
        assert words in alt
    assert "<figcaption" in shown["text/html"] and base64.b64decode(shown["image/png"]).startswith(b"\x89PNG")
    ax.set_title("")
    ax.text(0.5, 1.02, "a title drawn as text", transform=ax.transAxes)  # how live panels title themselves
    assert "“a title drawn as text”" in plots.describe(figure)
    own = plots.described(figure, "two lines cross")._repr_mimebundle_()
    assert "alt='two lines cross'" in own["text/html"] and own["text/plain"] == "two lines cross"


def test_an_explorer_shown_without_widgets_has_its_readout_as_alt_text(explorer):
    shown = explorer._repr_mimebundle_()
    assert html.unescape(ALT.search(shown["text/html"]).group(1)) == explorer.text
    assert html.escape(explorer.text) in shown["text/html"].split("<figcaption", 1)[1]  # and as a caption

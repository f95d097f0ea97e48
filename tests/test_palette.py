"""The colours stay apart for colour-blind readers: simulated dichromacy, then CIEDE2000 between every pair.

- Palette: Okabe & Ito (2008), "Color Universal Design" (quantlab.plots.base.OKABE_ITO), plus one grey.
- Simulation: Machado, Oliveira & Fernandes (2009), "A Physiologically-based Model for Simulation of Color
  Vision Deficiency", IEEE TVCG 15(6):1291-1298, doi:10.1109/TVCG.2009.113; the severity-1.0 matrices
  (protanopia, deuteranopia, tritanopia) of their table, applied to linear RGB.
- Difference: CIEDE2000 (CIE 142-2001) in CIELAB (sRGB, D65), as written out by Sharma, Wu & Dalal (2005),
  "The CIEDE2000 color-difference formula: implementation notes, supplementary test data, and
  mathematical observations", Color Res. Appl. 30(1):21-30; our code is checked against their test pairs.
- Threshold: ΔE00 >= 10 between any two colours drawn together, with normal vision and under each
  simulation. A just-noticeable difference is about ΔE00 = 1; 10 is our margin for thin lines and small
  markers seen side by side, a choice of this project, not a published standard.

Colours are taken two ways: the named colour sets of quantlab.plots, and the artists actually drawn on each
axes of every explorer and every figure in figures/ (lines, markers, bars, filled areas; alpha blended
over the white axes), so a new panel is checked without editing this file. Scalar images must use a
perceptually uniform colour map, and the ordered type colours of the mix map must stay ordered in
lightness under every simulation.
"""

import itertools

import matplotlib.colors as mcolors
import numpy as np
import pytest
from matplotlib.image import AxesImage

from quantlab import figures, plots, widgets
from quantlab.plots import codebook as codebook_plots
from quantlab.plots import gguf as gguf_plots
from quantlab.plots import mixes as mixes_plots
from quantlab.plots import numbers as numbers_plots
from quantlab.plots import quality as quality_plots

THRESHOLD = 10.0

MACHADO_2009 = {  # severity 1.0, rows act on linear (R, G, B)
    "protanopia": [[0.152286, 1.052583, -0.204868], [0.114503, 0.786281, 0.099216], [-0.003882, -0.048116, 1.051998]],
    "deuteranopia": [[0.367322, 0.860646, -0.227968], [0.280085, 0.672501, 0.047413], [-0.011820, 0.042940, 0.968881]],
    "tritanopia": [[1.255528, -0.076749, -0.178779], [-0.078411, 0.930809, 0.147602], [0.004733, 0.691367, 0.303900]],
}
VISIONS = ("normal", *MACHADO_2009)

SRGB_TO_XYZ = np.array(
    [[0.4124564, 0.3575761, 0.1804375], [0.2126729, 0.7151522, 0.0721750], [0.0193339, 0.1191920, 0.9503041]]
)
D65_WHITE = np.array([0.95047, 1.0, 1.08883])

# Perceptually uniform colour maps (van der Walt & Smith 2015 for viridis and its siblings; Nuñez,
# Anderton & Renslow 2018, PLOS ONE 13(7):e0199239, for cividis).
UNIFORM_MAPS = {"viridis", "cividis", "magma", "inferno", "plasma"}

# Axes whose colours only echo what text already says, with the reason (as Explorer.inert_controls does).
ECHO_ONLY = {
    ("CodebookExplorer", 1): "each pale bar is labelled with its grid's name; the tints echo the lanes' colours",
}


def linear(rgb):
    rgb = np.asarray(rgb, dtype=float)
    return np.where(rgb <= 0.04045, rgb / 12.92, ((rgb + 0.055) / 1.055) ** 2.4)


def gamma(rgb):
    rgb = np.clip(rgb, 0.0, 1.0)
    return np.where(rgb <= 0.0031308, 12.92 * rgb, 1.055 * rgb ** (1 / 2.4) - 0.055)


def simulate(rgb, vision):
    """sRGB colours (..., 3) as seen with `vision` (Machado et al. 2009, severity 1)."""
    if vision == "normal":
        return np.asarray(rgb, dtype=float)
    return gamma(linear(rgb) @ np.asarray(MACHADO_2009[vision]).T)


def cielab(rgb):
    """sRGB (..., 3) in [0, 1] -> CIELAB (D65)."""
    xyz = linear(rgb) @ SRGB_TO_XYZ.T / D65_WHITE
    f = np.where(xyz > (6 / 29) ** 3, np.cbrt(xyz), xyz / (3 * (6 / 29) ** 2) + 4 / 29)
    return np.stack([116 * f[..., 1] - 16, 500 * (f[..., 0] - f[..., 1]), 200 * (f[..., 1] - f[..., 2])], axis=-1)


def ciede2000(lab1, lab2):
    """CIEDE2000 colour difference (kL = kC = kH = 1) between CIELAB colours, following Sharma et al. (2005)."""
    L1, a1, b1 = np.moveaxis(np.asarray(lab1, dtype=float), -1, 0)
    L2, a2, b2 = np.moveaxis(np.asarray(lab2, dtype=float), -1, 0)
    c_mean = (np.hypot(a1, b1) + np.hypot(a2, b2)) / 2
    g = 0.5 * (1 - np.sqrt(c_mean**7 / (c_mean**7 + 25.0**7)))
    a1, a2 = (1 + g) * a1, (1 + g) * a2
    c1, c2 = np.hypot(a1, b1), np.hypot(a2, b2)
    h1, h2 = np.degrees(np.arctan2(b1, a1)) % 360, np.degrees(np.arctan2(b2, a2)) % 360
    chromatic = c1 * c2 != 0
    dh = h2 - h1
    dh = np.where(dh > 180, dh - 360, np.where(dh < -180, dh + 360, dh)) * chromatic
    d_lightness, d_chroma = L2 - L1, c2 - c1
    d_hue = 2 * np.sqrt(c1 * c2) * np.sin(np.radians(dh / 2))
    l_bar, c_bar, h_sum = (L1 + L2) / 2, (c1 + c2) / 2, h1 + h2
    h_bar = np.where(
        ~chromatic,
        h_sum,
        np.where(np.abs(h1 - h2) <= 180, h_sum / 2, np.where(h_sum < 360, (h_sum + 360) / 2, (h_sum - 360) / 2)),
    )
    t = (
        1
        - 0.17 * np.cos(np.radians(h_bar - 30))
        + 0.24 * np.cos(np.radians(2 * h_bar))
        + 0.32 * np.cos(np.radians(3 * h_bar + 6))
        - 0.20 * np.cos(np.radians(4 * h_bar - 63))
    )
    s_l = 1 + 0.015 * (l_bar - 50) ** 2 / np.sqrt(20 + (l_bar - 50) ** 2)
    s_c, s_h = 1 + 0.045 * c_bar, 1 + 0.015 * c_bar * t
    rotation = (
        -np.sin(np.radians(60 * np.exp(-(((h_bar - 275) / 25) ** 2)))) * 2 * np.sqrt(c_bar**7 / (c_bar**7 + 25.0**7))
    )
    terms = (d_lightness / s_l, d_chroma / s_c, d_hue / s_h)
    return np.sqrt(terms[0] ** 2 + terms[1] ** 2 + terms[2] ** 2 + rotation * terms[1] * terms[2])


def difference(color1, color2, vision):
    rgb1, rgb2 = (np.array(mcolors.to_rgb(c)) for c in (color1, color2))
    return float(ciede2000(cielab(simulate(rgb1, vision)), cielab(simulate(rgb2, vision))))


def too_close(colors):
    """Pairs of `colors` closer than THRESHOLD for some vision, as readable lines."""
    return [
        f"{mcolors.to_hex(a)} vs {mcolors.to_hex(b)}: ΔE00 {d:.1f} ({vision})"
        for a, b in itertools.combinations(colors, 2)
        for vision in VISIONS
        if (d := difference(a, b, vision)) < THRESHOLD
    ]


# --- the colour science, checked against published numbers ---------------------------------------------------


# Sharma, Wu & Dalal (2005), Table 1: pairs 1, 2, 3, 7, 17, 18, 19, 20, 21 and 25.
SHARMA_PAIRS = [
    ((50.0, 2.6772, -79.7751), (50.0, 0.0, -82.7485), 2.0425),
    ((50.0, 3.1571, -77.2803), (50.0, 0.0, -82.7485), 2.8615),
    ((50.0, 2.8361, -74.0200), (50.0, 0.0, -82.7485), 3.4412),
    ((50.0, 0.0, 0.0), (50.0, -1.0, 2.0), 2.3669),
    ((50.0, 2.5, 0.0), (73.0, 25.0, -18.0), 27.1492),
    ((50.0, 2.5, 0.0), (61.0, -5.0, 29.0), 22.8977),
    ((50.0, 2.5, 0.0), (56.0, -27.0, -3.0), 31.9030),
    ((50.0, 2.5, 0.0), (58.0, 24.0, 15.0), 19.4535),
    ((50.0, 2.5, 0.0), (50.0, 3.1736, 0.5854), 1.0000),
    ((60.2574, -34.0099, 36.2677), (60.4626, -34.1751, 39.4387), 1.2644),
]


@pytest.mark.parametrize("lab1, lab2, expected", SHARMA_PAIRS)
def test_ciede2000_matches_sharma_test_data(lab1, lab2, expected):
    assert ciede2000(lab1, lab2) == pytest.approx(expected, abs=1e-4)
    assert ciede2000(lab2, lab1) == pytest.approx(expected, abs=1e-4)


def test_cielab_of_srgb_primaries():
    """sRGB white and red in CIELAB (D65), the values colour references print."""
    np.testing.assert_allclose(cielab([1.0, 1.0, 1.0]), [100.0, 0.0, 0.0], atol=0.01)
    np.testing.assert_allclose(cielab([1.0, 0.0, 0.0]), [53.24, 80.09, 67.20], atol=0.02)


def test_simulation_keeps_neutral_greys_and_merges_red_and_green():
    """Each Machado row sums to 1 (a grey stays grey); a deuteranope sees pure red and green close in hue."""
    for vision in MACHADO_2009:
        np.testing.assert_allclose(simulate([0.5, 0.5, 0.5], vision), [0.5, 0.5, 0.5], atol=2e-3)
    red, green = "#D00000", "#00A000"
    assert difference(red, green, "deuteranopia") < difference(red, green, "normal") / 2


def test_the_check_can_fail():
    """Red beside green is the textbook failure: caught under deuteranopia and protanopia, not normal vision."""
    failures = too_close(["#E41A1C", "#4DAF4A"])  # ColorBrewer Set1's red and green
    assert failures and all("normal" not in line for line in failures)


# --- quantlab's colour sets ----------------------------------------------------------------------------------

COLOR_SETS = {
    "Okabe–Ito with the reference grey": [*plots.OKABE_ITO.values(), plots.base.IDEAL_COLOR],
    "series": [*plots.SERIES_COLORS, plots.base.IDEAL_COLOR, plots.OKABE_ITO["black"]],
    "codebook grids": list(codebook_plots.GRID_COLORS.values()),
    "GGUF fields": sorted(set(gguf_plots.FIELD_COLORS.values())),
    "float bits": list(numbers_plots.BIT_COLORS.values()),
    "quality series": [color for color, _ in quality_plots.SERIES.values()] + [quality_plots.REFERENCE_COLOR],
}


@pytest.mark.parametrize("name", COLOR_SETS)
def test_every_colour_set_stays_apart_under_colour_blindness(name):
    failures = too_close(COLOR_SETS[name])
    assert not failures, f"{name}: " + "; ".join(failures)


# --- what the figures really draw ----------------------------------------------------------------------------


def drawn_colors(ax):
    """The distinct colours of the lines, markers, bars and areas on `ax`, alpha-blended over the axes' face."""
    face = np.array(mcolors.to_rgb(ax.get_facecolor()))
    found = []

    def add(color):
        if isinstance(color, str) and color == "none":
            return
        for rgba in mcolors.to_rgba_array(color):
            if rgba[3] > 0:
                found.append(tuple(np.round(rgba[:3] * rgba[3] + face * (1 - rgba[3]), 3)))

    for line in ax.get_lines():
        if line.get_linestyle() not in ("None", "", " "):
            add(line.get_color())
        if line.get_marker() not in ("None", "", " ", None):
            add(line.get_markerfacecolor())
            add(line.get_markeredgecolor())
    for collection in ax.collections:
        if collection.get_array() is not None:
            continue  # colour-mapped (a colour bar's strip): the map tests below cover it
        add(collection.get_facecolor())
        add(collection.get_edgecolor())
    for patch in ax.patches:
        if patch.get_fill():
            add(patch.get_facecolor())
        if patch.get_linewidth() > 0:
            add(patch.get_edgecolor())
    return sorted(set(found) - {tuple(np.round(face, 3))})


def static_figures():
    """figures/'s figures (the outlier study over 20 seeds instead of 1000: the colours are the same)."""
    made = {name: make for name, make in figures.FIGURES.items() if name != "outlier_ratio.png"}
    made["outlier_ratio.png"] = lambda: figures.outlier_figure(seeds=range(20))
    return made


FIGURES = [(cls.__name__, cls) for cls in widgets.EXPLORERS] + list(static_figures().items())


@pytest.fixture(scope="module", params=FIGURES, ids=[name for name, _ in FIGURES])
def figure(request):
    name, make = request.param
    made = make()
    with np.errstate(all="ignore"):
        return name, made.figure if isinstance(made, widgets.Explorer) else made


def test_colours_drawn_together_stay_apart(figure):
    name, fig = figure
    failures = []
    for index, ax in enumerate(fig.axes):
        if (name, index) in ECHO_ONLY:
            continue
        failures += [f"axes {index}: {line}" for line in too_close(drawn_colors(ax))]
    assert not failures, f"{name}: " + "; ".join(failures)


def test_images_of_numbers_use_a_perceptually_uniform_map(figure):
    name, fig = figure
    for ax in fig.axes:
        for image in ax.get_images():
            assert isinstance(image, AxesImage)
            if image.get_array().ndim == 2:  # a scalar image goes through a colour map; RGB images are palettes
                assert image.get_cmap().name in UNIFORM_MAPS, f"{name}: colour map {image.get_cmap().name!r}"


def test_ordered_type_colours_stay_ordered_for_every_vision():
    """The mix map colours types cheapest to dearest along viridis: its lightness must still rise monotonically."""
    colors = np.array([mcolors.to_rgb(mixes_plots.TYPE_COLORS[t]) for t in mixes_plots.TYPE_ORDER])
    for vision in VISIONS:
        lightness = cielab(simulate(colors, vision))[:, 0]
        assert np.all(np.diff(lightness) > 0), f"{vision}: lightness {np.round(lightness, 1)}"


def test_the_echo_only_exemptions_name_real_axes():
    for name, index in ECHO_ONLY:
        explorer = next(cls for cls in widgets.EXPLORERS if cls.__name__ == name)()
        assert index < len(explorer.figure.axes)

"""The drawing layer's shared base: palette, figures, style, the fast renderer, panels and axis ladders.

Each panel is drawn once by a `draw_*` function (which takes `ax=` and returns its artists) and then
updated in place by the artists' `update(...)`: redrawing in place is ~4x cheaper than recreating a
figure, and is what keeps the explorers live. Nothing here quantizes: callers pass computed arrays.
"""

import base64
import html
import io

import numpy as np
from PIL import Image
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.patches import Rectangle
from matplotlib.transforms import Bbox, IdentityTransform
from matplotlib.ticker import MaxNLocator
from matplotlib.figure import Figure

# Okabe & Ito (2008), "Color Universal Design": distinguishable with every common colour-vision deficiency.
OKABE_ITO = {
    "black": "#000000",
    "orange": "#E69F00",
    "sky_blue": "#56B4E9",
    "green": "#009E73",
    "yellow": "#F0E442",
    "blue": "#0072B2",
    "vermillion": "#D55E00",
    "purple": "#CC79A7",
}
WEIGHTS_COLOR = OKABE_ITO["sky_blue"]
GRID_COLOR = OKABE_ITO["vermillion"]
ERROR_COLOR = OKABE_ITO["blue"]
# A mid grey for references and "ideal" lines: #999999 came within CIEDE2000 6 of Okabe–Ito purple under
# deuteranopia; #707070 stays >= 11 from every Okabe–Ito colour under each simulation (tests/test_palette.py)
# and has a 4.9:1 contrast on white.
IDEAL_COLOR = "#707070"
SERIES_COLORS = [OKABE_ITO[name] for name in ("blue", "orange", "green", "vermillion", "purple", "sky_blue", "yellow")]

# A fixed title height spares matplotlib a bounding-box search per draw (about a quarter of the redraw).
STYLE = {
    "axes.titley": 1.01,
    "axes.titlepad": 3,
    "xtick.minor.visible": False,
    "ytick.minor.visible": False,
    "font.size": 8,
    "axes.titlesize": 8.5,
    "axes.labelsize": 8,
    "legend.fontsize": 7,
    "xtick.labelsize": 7,
    "ytick.labelsize": 7,
}


def new_figure(n_panels=3, width=9.5, height=2.9):
    """A pyplot-free figure with `n_panels` axes side by side (nothing is shown until asked)."""
    with style():
        figure = Figure(figsize=(width, height), dpi=80)
        axes = figure.subplots(1, n_panels)
        figure.subplots_adjust(left=0.06, right=0.99, bottom=0.17, top=0.88, wspace=0.28)
        for ax in np.atleast_1d(axes):
            ax.xaxis.set_major_locator(MaxNLocator(5))
    return figure, list(np.atleast_1d(axes))


def style():
    """The explorers' matplotlib style as a context (small fonts, fixed title height: cheaper redraws)."""
    import matplotlib

    return matplotlib.rc_context(STYLE)


def figure_png(figure, dpi=80):
    """Render a figure to PNG bytes, with fast (light) compression."""
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=dpi, pil_kwargs={"compress_level": 1})
    return buffer.getvalue()


def describe(figure):
    """A text description of what a figure draws: each panel's title, axes (and log scales) and legend."""
    panels = [ax for ax in figure.axes if ax.get_visible()]
    parts = [f"Figure with {len(panels)} panel{'s' if len(panels) != 1 else ''}."]
    for number, ax in enumerate(panels, start=1):
        above = [t.get_text() for t in ax.texts if t.get_transform() == ax.transAxes and t.get_position()[1] >= 1]
        title = ax.get_title() or " ".join(text for text in above if text)  # or a title drawn as moving text
        said = [f"“{title}”"] if title else []
        for axis, label, scale in (("x", ax.get_xlabel(), ax.get_xscale()), ("y", ax.get_ylabel(), ax.get_yscale())):
            if label:
                noted = scale == "linear" or scale in label  # "max|w| (log)" already says it
                said.append(f"{axis}: {label}" + ("" if noted else f" ({scale} scale)"))
        legend = ax.get_legend()
        if legend is not None:
            said.append("legend: " + ", ".join(text.get_text() for text in legend.get_texts()))
        parts.append(f"Panel {number}: {'; '.join(said) or 'no labels'}.")
    return " ".join(parts)


def figure_html(png, alt, caption):
    """A PNG as HTML with alt text and a caption: JupyterLab's image/png renderer gives an <img> no alt text."""
    source = base64.b64encode(png).decode()
    return (
        f"<figure style='margin:0'><img src='data:image/png;base64,{source}' alt='{html.escape(alt, quote=True)}'>"
        f"<figcaption style='font-size:12px'>{caption}</figcaption></figure>"
    )


class Described:
    """A static figure with its text description: alt text on the picture and the same words as a caption.

    Show it as a cell's last value (`plots.described(fig)`). Front-ends that render HTML (JupyterLab,
    nbviewer, GitHub) show the figure with alt text and caption; text-only ones read the description.
    """

    def __init__(self, figure, text=None):
        self.figure = figure
        self.text = describe(figure) if text is None else text

    def png(self):
        with style():
            buffer = io.BytesIO()
            self.figure.savefig(buffer, format="png", bbox_inches="tight")  # as the inline backend shows it
        return buffer.getvalue()

    def _repr_mimebundle_(self, include=None, exclude=None):
        png = self.png()
        return {
            "text/html": figure_html(png, self.text, html.escape(self.text)),
            "image/png": base64.b64encode(png).decode(),
            "text/plain": self.text,
        }


def described(figure, text=None):
    """`figure` shown with a text description (by default describe(figure)): alt text and caption."""
    return Described(figure, text)


class FastRenderer:
    """Renders a figure to PNG again and again, redrawing as little as it can.

    Artists created with `animated=True` are the ones that move. The still background (axes, ticks,
    labels, legends: text, which costs most of a draw) is kept as a bitmap. When an axes changes its
    limits or title, only that axes' background is redrawn; then the moving artists go on top.
    """

    def __init__(self, figure):
        self.figure = figure
        self.canvas = FigureCanvasAgg(figure)
        self.background, self.signatures, self.extents = None, None, None

    @staticmethod
    def _signature(ax):
        return ax.get_xlim(), ax.get_ylim(), ax.get_title(), ax.get_xscale(), ax.get_yscale()

    def _redraw_axes(self, changed):
        """Repaint the region of each changed axes (its old and new extent) and draw it again.

        Erasing that region also wipes any neighbour whose extent reaches into it (a y-label next to
        the previous panel's spine): such neighbours are erased whole and redrawn too, until no other
        axes touches the erased region.
        """
        renderer = self.canvas.get_renderer()
        self.canvas.restore_region(self.background)
        redraw = list(changed)
        boxes = [box for ax in changed for box in (self.extents[ax], ax.get_tightbbox(renderer))]
        while True:
            region = Bbox.union(boxes).padded(2)
            touching = [ax for ax in self.figure.axes if ax not in redraw and self.extents[ax].overlaps(region)]
            if not touching:
                break
            redraw += touching
            boxes += [self.extents[ax] for ax in touching]
        eraser = Rectangle(
            (region.x0, region.y0),
            region.width,
            region.height,
            transform=IdentityTransform(),
            facecolor=self.figure.get_facecolor(),
            edgecolor="none",
        )
        eraser.set_figure(self.figure)
        eraser.draw(renderer)
        for ax in self.figure.axes:  # in the figure's order, as a full draw paints them
            if ax in redraw:
                ax.draw(renderer)  # skips the animated artists, as a full draw does
                self.extents[ax] = ax.get_tightbbox(renderer)

    def full_rgba(self):
        """The same picture drawn from scratch (no cached background, no partial repaint), as RGBA pixels.

        By design the moving artists lie on top of the still ones, in both paths: this is what png()
        must reproduce exactly, so a test can catch a still artist that changed but was not repainted.
        """
        with style():  # ticks made during a draw take their font size from the style, as in png()
            self.canvas.draw()
            self._draw_moving_artists()
        image = np.asarray(self.canvas.buffer_rgba()).copy()
        self.background = None  # the next png() starts afresh from this canvas
        return image

    def _draw_moving_artists(self):
        for ax in self.figure.axes:
            for artist in sorted((a for a in ax.get_children() if a.get_animated()), key=lambda a: a.get_zorder()):
                ax.draw_artist(artist)

    def png(self):
        """The figure as PNG bytes, repainting only what moved since the last call."""
        signatures = [self._signature(ax) for ax in self.figure.axes]
        if self.background is None or len(signatures) != len(self.signatures):
            self.canvas.draw()  # draws everything but the animated artists
            renderer = self.canvas.get_renderer()
            self.extents = {ax: ax.get_tightbbox(renderer) for ax in self.figure.axes}
        else:
            changed = [ax for ax, old, new in zip(self.figure.axes, self.signatures, signatures) if old != new]
            if changed:
                self._redraw_axes(changed)
            else:
                self.canvas.restore_region(self.background)
        if self.signatures != signatures or self.background is None:
            self.background = self.canvas.copy_from_bbox(self.figure.bbox)
            self.signatures = signatures
        self._draw_moving_artists()
        width, height = self.canvas.get_width_height()
        image = Image.frombuffer("RGBA", (width, height), self.canvas.buffer_rgba(), "raw", "RGBA", 0, 1)
        buffer = io.BytesIO()
        image.save(buffer, format="png", compress_level=1)
        return buffer.getvalue()


def histogram_counts(values, edges):
    """Counts of `values` in the bins `edges` (a helper, so panels redraw without recomputing edges).

    Equal-width edges (np.linspace's) are passed to np.histogram as a count and a range, its fast path
    (an index computed per value, corrected against the same edges), 3x faster than its search over edges.
    """
    edges = np.asarray(edges)
    if len(edges) > 1 and np.array_equal(edges, np.linspace(edges[0], edges[-1], len(edges))):
        return np.histogram(values, bins=len(edges) - 1, range=(edges[0], edges[-1]))[0]
    return np.histogram(values, bins=edges)[0]


class Panel:
    """Artists of one panel, kept so the next update only moves them."""

    def __init__(self, ax, **artists):
        self.ax = ax
        self.__dict__.update(artists)


def moving_title(ax, text=""):
    """A title that can change without redrawing its axes (FastRenderer repaints animated artists only)."""
    return ax.text(0.5, 1.015, text, transform=ax.transAxes, ha="center", va="bottom", fontsize=8.5, animated=True)


def sticky_top(current, needed):
    """Grow an axis limit in 1-2-5 steps and never shrink it: still axes redraw cheaply."""
    if needed <= current:
        return current
    return nice_ceiling(needed)


def nice_ceiling(value):
    """The smallest of 1, 2, 5 x 10^k that is >= value (value > 0)."""
    magnitude = 10 ** np.floor(np.log10(value))
    return float(next(m * magnitude for m in (1, 2, 5, 10) if m * magnitude >= value))


def nice_range(low, high, current=None, shrink_below=0.4):
    """Axis limits covering [low, high] on a 1-2-5 ladder, kept while they still fit the data snugly.

    Limits that change on every slider step force a full (text-heavy) redraw; limits on a ladder with
    some hysteresis change only now and then, so most updates only redraw the data.
    """

    def side(extent, old):
        if extent <= 0:
            return 0.0
        if old is not None and shrink_below * old <= extent <= old:
            return old
        return nice_ceiling(extent * 1.02)

    old_low, old_high = (None, None) if current is None else (-current[0], current[1])
    span = max(high - low, abs(high), abs(low), 1e-30)
    lower, upper = side(-low, old_low), side(high, old_high)
    if lower == 0.0:
        lower = 0.05 * span  # all weights positive: a small margin below the smallest
    if upper == 0.0:
        upper = 0.05 * span
    return -lower, upper

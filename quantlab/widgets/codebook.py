"""The codebook explorer: watch Lloyd's algorithm move k-means levels, next to uniform, NF and IQ4_NL grids.

Built on widgets.base.Explorer: controls -> compute() (quantlab.codebook_tradeoff) -> draw/update in
place (quantlab.plots.codebook) -> summary(result) as text beside the figure.
"""

import ipywidgets as W
import numpy as np

from .. import data, models
from ..codebook_tradeoff import check_iteration, learn_codebook, summarize_grids, sweep_grids
from ..plots.codebook import draw_grid_scores, draw_grids_on_histogram, draw_pareto
from ..tradeoff import pareto_front
from .base import Explorer, Name, check_show, dropdown, slider

GROUP_CHOICES = [("per tensor", None), ("256", 256), ("64", 64), ("32", 32)]
# ipywidgets' Dropdown reads value None as "nothing selected" (an empty box), so the widget holds 0
# for "per tensor"; settings and set() speak group_size=None, like the rest of quantlab.
PER_TENSOR = 0
DISTRIBUTION_CHOICES = [
    ("gaussian", "gaussian"),
    ("laplace", "laplace"),
    ("student-t (heavy tails)", "student-t"),
    ("real row (all-MiniLM-L6-v2)", "real-row"),
]
START_CHOICES = [
    ("uniform", "uniform"),
    ("quantile", "quantile"),
    ("cube-root", "cube-root"),
]  # labels = the API values of start=
BITS_RANGE = (2, 5)
MAX_OUTLIERS, MAX_OUTLIER_MAGNITUDE = 16, 100.0


def _choose(name, value, choices):
    values = [v for _, v in choices]
    if value not in values:
        raise ValueError(f"{name}={value!r} is not offered; choose one of {', '.join(map(repr, values))}")
    return value


class CodebookExplorer(Explorer):
    """Slide bits, block size, weights and the Lloyd step; watch where each grid puts its levels and what it costs.

    Left: the weights' histogram with the levels of the uniform, k-means, NF and IQ4_NL grids in lanes
    below (the whole tensor's grid, or the grid of the block holding the largest |w|). Middle: each
    grid's MSE at these settings with its bits per weight. Right: MSE vs bits per weight for every
    setting, this one ringed. `iteration` steps through Lloyd's algorithm (None: the last step).
    Pass `w` (1-D) to explore your own weights; `show` picks which controls appear.
    """

    ALL_CONTROLS = ("bits", "group_size", "distribution", "outliers", "outlier_magnitude", "start", "iteration", "seed")

    def __init__(
        self,
        bits=4,
        group_size=None,
        distribution="gaussian",
        outliers=1,
        outlier_magnitude=0.0,
        start="uniform",
        iteration=0,
        seed=0,
        n=4096,
        std=0.02,
        w=None,
        show=("bits", "group_size", "distribution", "outlier_magnitude", "start", "iteration"),
    ):
        check_show(show, self.ALL_CONTROLS)
        self.n, self.std, self._user_weights = n, std, None
        self._block_choices = GROUP_CHOICES
        if w is not None:
            w = np.asarray(w)
            if w.ndim != 1:
                raise ValueError(f"w must be a 1-D array of weights, got shape {w.shape}; pass one row or w.ravel()")
            self._user_weights = w
            self._block_choices = [(label, size) for label, size in GROUP_CHOICES if size is None or w.size % size == 0]
        self._check_settings(
            bits=bits,
            group_size=group_size,
            distribution=distribution,
            outliers=outliers,
            outlier_magnitude=outlier_magnitude,
            start=start,
            seed=seed,
        )
        block_choices = self._block_choices
        self._weights_cache, self._learnt_cache, self._sweep_cache = {}, {}, {}

        learnt = self._learn(
            self._weights_for(distribution, outliers, outlier_magnitude, seed), bits, group_size, start
        )
        iteration = check_iteration(iteration, learnt)
        continuous = {"continuous": False}  # new weights mean a new sweep: update on release
        every = {
            "bits": slider("bits", bits, *BITS_RANGE),
            "group_size": dropdown(
                "group size",
                self.to_widget("group_size", group_size),
                [(label, self.to_widget("group_size", size)) for label, size in block_choices],
                "170px",
            ),
            "distribution": dropdown("weights", distribution, DISTRIBUTION_CHOICES, "300px"),
            "outliers": slider("outliers", outliers, 0, MAX_OUTLIERS, **continuous),
            "outlier_magnitude": slider(
                "outlier (\u00d7std)",
                float(outlier_magnitude),
                0.0,
                MAX_OUTLIER_MAGNITUDE,
                1.0,
                kind=W.FloatSlider,
                readout_format=".0f",
                **continuous,
            ),
            "start": dropdown("Lloyd starts from", start, START_CHOICES, "300px"),
            "iteration": slider("Lloyd step", iteration, 0, learnt.n_iterations),
            "seed": slider("seed", seed, 0, 20, **continuous),
        }
        options = {"n": n, "std": std, "w": None if w is None else Name("w"), "show": tuple(show)}
        super().__init__(
            {name: every[name] for name in show},
            n_panels=3,
            width=9.0,
            height=3.0,
            readout_width=250,
            hidden={name: every[name] for name in every if name not in show},
            options=options,
        )

    # --- settings and the one-line call ---------------------------------------------------------
    def _check_settings(self, **values):
        """Refuse a setting the controls cannot show (a slider would silently clamp it), naming it and the choices."""

        def integer_in(name, low, high, what=""):
            value = values[name]
            if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or not low <= value <= high:
                raise ValueError(f"{name}={value!r} must be an integer from {low} to {high}{what}")

        checks = {
            "bits": lambda: integer_in("bits", *BITS_RANGE, " (k = 2^bits levels)"),
            "group_size": lambda: _choose("group_size", values["group_size"], self._block_choices),
            "distribution": lambda: _choose("distribution", values["distribution"], DISTRIBUTION_CHOICES),
            "outliers": lambda: integer_in("outliers", 0, MAX_OUTLIERS),
            "start": lambda: _choose("start", values["start"], START_CHOICES),
            "seed": lambda: integer_in("seed", 0, 20),
        }
        for name in values:
            if name in checks:
                checks[name]()
        magnitude = values.get("outlier_magnitude", 0.0)
        if isinstance(magnitude, bool) or not (
            isinstance(magnitude, (int, float, np.number)) and 0 <= magnitude <= MAX_OUTLIER_MAGNITUDE
        ):
            raise ValueError(
                f"outlier_magnitude={magnitude!r} must be a number of standard deviations from 0 (no outliers) to {MAX_OUTLIER_MAGNITUDE:g}"
            )

    def to_setting(self, name, value):
        return None if name == "group_size" and value == PER_TENSOR else value

    def to_widget(self, name, value):
        return PER_TENSOR if name == "group_size" and value is None else value

    def inert_controls(self):
        s = self.settings
        if self._user_weights is not None:
            return {}
        if s["outlier_magnitude"] == 0:
            return {"outliers": "outliers of size 0 add nothing (raise the outlier size first)"}
        if s["outliers"] == 0:
            return {"outlier_magnitude": "there are no outliers to size"}
        return {}

    def arguments(self):
        arguments = super().arguments()
        if self._user_weights is not None:  # the weights are the learner's: nothing generates them
            skip = ("distribution", "outliers", "outlier_magnitude", "seed", "n", "std")
            arguments = {k: v for k, v in arguments.items() if k not in skip}
        return arguments

    def set(self, **values):
        """Move several controls at once (one redraw); the Lloyd step is checked against the new settings' history."""
        unknown = set(values) - set(self.ALL_CONTROLS)
        if unknown:
            raise ValueError(
                f"CodebookExplorer has no control {sorted(unknown)[0]!r}; its controls are {sorted(self.ALL_CONTROLS)}"
            )
        explicit, iteration = "iteration" in values, values.pop("iteration", None)
        self._check_settings(**values)
        self._holding = True
        try:
            for name, value in values.items():
                self.control(name).value = self.to_widget(name, value)
            learnt = self._learn(self.weights(), **{k: self.settings[k] for k in ("bits", "group_size", "start")})
            self._sync_iteration(learnt)  # as when a slider moves: a step past the new end is clamped
            if explicit:
                self.control("iteration").value = check_iteration(iteration, learnt)
        finally:
            self._holding = False
        self.refresh()
        return self

    def _on_change(self, change):
        """A control moved: redraw, or say in the readout why these settings cannot run (the figure keeps the last good state)."""
        if self._holding:
            return
        try:
            self.refresh()
        except (ValueError, models.MissingModelPackage) as error:
            self.show_text(f"\u26a0 {error}")

    # --- the numbers -----------------------------------------------------------------------------
    def _weights_for(self, distribution, outliers, outlier_magnitude, seed):
        if self._user_weights is not None:
            return self._user_weights
        key = (distribution, outliers if outlier_magnitude > 0 else 0, float(outlier_magnitude), seed)
        if key not in self._weights_cache:
            count = key[1]
            if distribution == "real-row":
                row = models.real_row()
                w = (
                    data.with_outliers(row, count, outlier_magnitude * float(row.std()), seed=seed + 1)
                    if count
                    else row
                )
            else:
                w = data.weights(distribution, self.n, self.std, count, outlier_magnitude, seed)
            self._weights_cache[key] = w
        return self._weights_cache[key]

    def weights(self):
        """The weights on show: generated (seeded, cached per setting) or the ones passed as w."""
        s = self.settings
        return self._weights_for(s["distribution"], s["outliers"], s["outlier_magnitude"], s["seed"])

    def _learn(self, w, bits, group_size, start):
        key = (id(w), bits, group_size, start)
        if key not in self._learnt_cache:
            self._learnt_cache[key] = learn_codebook(w, bits, group_size, start)
        return self._learnt_cache[key]

    def _sync_iteration(self, learnt):
        """Fit the Lloyd-step slider to this history; a slider at its end stays at the end."""
        slider = self.control("iteration")
        if slider.max == learnt.n_iterations:
            return
        at_end = slider.value == slider.max
        holding, self._holding = self._holding, True
        try:
            if learnt.n_iterations > slider.max:
                slider.max = learnt.n_iterations
                if at_end:
                    slider.value = learnt.n_iterations
            else:
                slider.value = learnt.n_iterations if at_end else min(slider.value, learnt.n_iterations)
                slider.max = learnt.n_iterations
        finally:
            self._holding = holding

    def compute(self):
        s = self.settings
        w = self.weights()
        learnt = self._learn(w, s["bits"], s["group_size"], s["start"])
        self._sync_iteration(learnt)
        summary = summarize_grids(w, s["bits"], s["group_size"], self.control("iteration").value, s["start"], learnt)
        if id(w) not in self._sweep_cache:
            points = sweep_grids(w)
            self._sweep_cache[id(w)] = (w, points, pareto_front(points))  # w kept: its id stays unique
        _, points, front = self._sweep_cache[id(w)]
        return {"summary": summary, "sweep": (points, front)}

    # --- the picture and the text -------------------------------------------------------------------
    @staticmethod
    def _levels_view(summary):
        """(title, weights of the block on show or None) for the levels panel."""
        if summary.group_size is None:
            return "levels of the whole tensor", None
        return f"levels of block {summary.block} of {summary.n_blocks} (holds max|w|)", summary.block_weights

    def draw(self, result):
        summary = result["summary"]
        points, front = result["sweep"]
        title, block_weights = self._levels_view(summary)
        self.figure.subplots_adjust(left=0.09, right=0.99, bottom=0.16, top=0.91, wspace=0.3)
        return (
            draw_grids_on_histogram(
                summary.weights, summary.levels, ax=self.axes[0], block_weights=block_weights, title=title
            ),
            draw_grid_scores(summary.scores, summary.variance, ax=self.axes[1]),
            draw_pareto(points, front, summary.variance, ax=self.axes[2], current=summary.scores),
        )

    def update(self, result):
        summary = result["summary"]
        points, front = result["sweep"]
        title, block_weights = self._levels_view(summary)
        levels_panel, scores_panel, pareto_panel = self.panels
        levels_panel.update(summary.weights, summary.levels, block_weights, title)
        scores_panel.update(summary.scores, summary.variance)
        pareto_panel.update(points, front, summary.variance, summary.scores)

    def summary(self, result):
        return result["summary"].text()

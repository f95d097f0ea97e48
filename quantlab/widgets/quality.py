"""Notebook 08's explorer: choose a type per tensor class, watch perplexity, KL and bits move.

A mix preset fills one type dropdown per tensor class; change any of them and the CharLM is quantized
(each (tensor, type) once, then cached), evaluated on a 4,096-character slice of the held-out text
(from the first matrix whose type changed: lm.resumable), and placed on the quality-vs-bits plots among
the table's mixes. A setting never measured first shows its exact bits per weight (a dotted line, scores
"measuring...") and a few tenths of a second later its measured point. Built on widgets.base.Explorer:
controls -> compute() (quantlab.lm.quality) -> draw/update in place (quantlab.plots.quality) ->
summary(result) as text (quantlab.lm.reports).
"""

from ..lm import quality
from ..lm.quality import OVERRIDE_TYPES, TABLE_MIXES, TENSOR_CLASSES, class_label
from ..lm.reports import MIX_RULE, explorer_meter, fill, settings_text, table
from ..plots import quality as quality_plots
from .base import PENDING_CLASS, Explorer, dropdown

CLASS_OPTIONS = [("per layer (mix)", MIX_RULE)] + [(t, t) for t in OVERRIDE_TYPES]


class QualityExplorer(Explorer):
    """Pick a mix, then override the type of any tensor class: perplexity, KL to F32 and bits per weight, live.

    Left: perplexity against bits per weight; right: KL divergence to F32 (log). Grey dots are the
    table's mixes on the same 4,096 characters; the diamond is your setting (an arrowhead when it
    lies off the axes, e.g. with F32 classes: the readout gives the exact numbers). The committed
    table (quality.load_table) is measured on the whole held-out text, 16 times longer.
    """

    def __init__(self, mix="Q4_K_M", **overrides):
        if mix not in TABLE_MIXES:
            raise ValueError(f"mix={mix!r} is not a preset here; choose one of {', '.join(TABLE_MIXES)}")
        overrides = quality.check_overrides(overrides)
        values = fill(mix) | overrides
        controls = {"mix": dropdown("mix preset", mix, list(TABLE_MIXES), "170px")}
        for tensor_class in TENSOR_CLASSES:
            controls[tensor_class] = dropdown(class_label(tensor_class), values[tensor_class], CLASS_OPTIONS, "205px")
        self.reference = table().explorer_slice
        super().__init__(controls, n_panels=2, width=8.6, height=3.1, readout_width=320)

    # --- the preset fills the class dropdowns ----------------------------------------------------------
    def _fill(self, mix):
        self._holding = True
        try:
            for tensor_class, type_name in fill(mix).items():
                self.controls[tensor_class].value = type_name
        finally:
            self._holding = False

    def _on_change(self, change):
        if self._holding:
            return
        if change["owner"] is self.controls["mix"]:
            self._fill(change["new"])
        previewed = self.preview()
        try:
            self.refresh()
        finally:
            if previewed is not None:
                self.widget.remove_class(PENDING_CLASS)  # after the measured figure: the page's signal it is final

    def preview(self):
        """Before a setting never measured is evaluated (a few tenths of a second): send its exact bits per weight
        and types at once, the scores marked as being measured; refresh() then sends the measured figure.

        Returns the preview (a Quality whose scores are None), or None when the scores are cached."""
        meter = explorer_meter()
        if self.panels is None or meter.is_measured(self.settings["mix"], self.overrides):
            return None
        result = meter.preview(self.settings["mix"], self.overrides)
        self.widget.add_class(PENDING_CLASS)
        for panel in self.panels:
            panel.show_pending(result.bits_per_weight, "")
        self.panels[0].note.set_text(f"{result.bits_per_weight:.2f} bits, measuring...")
        self.paint(self.summary(result))
        return result

    def set(self, **values):
        """Move several controls at once (one update); a new mix fills the classes first, then overrides apply."""
        if "mix" in values:
            if values["mix"] not in TABLE_MIXES:
                raise ValueError(f"mix={values['mix']!r} is not a preset here; choose one of {', '.join(TABLE_MIXES)}")
            self._holding = True
            self.controls["mix"].value = values["mix"]
            self._fill(values.pop("mix"))
        quality.check_overrides({k: v for k, v in values.items() if k in TENSOR_CLASSES})
        return super().set(**values)

    @property
    def overrides(self):
        """The classes set away from what the preset fills: {class: type}."""
        filled = fill(self.settings["mix"])
        return {c: self.controls[c].value for c in TENSOR_CLASSES if self.controls[c].value != filled[c]}

    def arguments(self):
        return {"mix": self.settings["mix"], **self.overrides}

    # --- compute, draw, tell -----------------------------------------------------------------------------
    def compute(self):
        return explorer_meter().measure(self.settings["mix"], self.overrides)

    def draw(self, result):
        rows = [r for r in self.reference if r.mix != "F32"]
        bits = [r.bits_per_weight for r in rows]
        labels = [r.label for r in rows]
        f32 = result.reference_perplexity
        self.figure.subplots_adjust(left=0.08, right=0.98, bottom=0.16, top=0.9, wspace=0.3)
        return (
            quality_plots.draw_quality_vs_bits(
                bits,
                [r.perplexity for r in rows],
                labels,
                self.axes[0],
                "perplexity per character (log)",
                log=True,
                baseline=f32,
                ylim=(f32 * 0.97, 16.0),
                yticks=(5, 6, 7, 8, 10, 12, 15),
                title="perplexity (dashed: F32)",
                label_offsets={"Q5_K_S": (0, 7), "Q4_K_S": (-4, 3), "Q4_0": (-4, -3), "Q6_K": (0, 7), "Q5_K_M": (4, 4)},
            ),
            quality_plots.draw_quality_vs_bits(
                bits,
                [r.kl_divergence for r in rows],
                labels,
                self.axes[1],
                "KL divergence to F32, nats/char (log)",
                log=True,
                ylim=(5e-5, 5.0),
                title="KL divergence to F32",
                label_offsets={"Q5_K_S": (-4, 3), "Q4_K_S": (-4, 3), "Q4_0": (0, -8)},
            ),
        )

    def update(self, result):
        bits = result.bits_per_weight
        for panel, value in zip(self.panels, (result.perplexity, result.kl_divergence)):
            panel.update(bits, value, "")
        self.panels[0].note.set_text(f"{bits:.2f} bits, ppl {result.perplexity:.3f}")
        self.panels[1].note.set_text(f"KL {result.kl_divergence:.4g}")

    def summary(self, result):
        return settings_text(result)

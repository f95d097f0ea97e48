"""Each activation-quantization method on both real models: MiniLM's embedding cosine, the character model's perplexity and KL.

A method becomes a `linear(x, weight, bias, name)` hook for the models' forward passes, so every
linear layer of the encoder (36 in MiniLM) and of the character model's blocks (18) computes with
quantized activations and weights; embeddings, norms, attention's softmax and the output head stay
in float32. Weights are quantized per output channel (round to nearest, no groups) unless a Method
says weight_granularity="tensor" (SmoothQuant's paper: per-tensor weights, its Table 2).

    table = comparison_table()          # rows of dicts; format_table(table) prints them
    Bench().row(Method("W8A8 per-tensor", granularity="tensor"))   # one row, both models

Activation scales are dynamic: computed on the batch a layer sees (all 40 sentences packed, or the
32 windows of the character model's text), so "per-tensor" is one scale per layer for the whole set.
SmoothQuant needs calibration statistics (max |x_j| per channel): by default from the FP32 inputs of
the evaluation text itself, which flatters it; Bench(calibration="other") takes them from other text
(capture.calibration_sentences / calibration_text: Twelfth Night), as the paper does (512 Pile sentences).
Where several linears read one input (q, k, v) they share one smoothing vector, as a fold needs; as in
the paper's code only the linears a norm feeds are smoothed (q, k, v, FFN up) unless smooth_all=True.
Rotations are applied at every linear's input (x Q, W Q with one seeded Q per width): the pair the
quantizers see when QuaRot folds Q into the weights and into whatever produced x.
"""

import time
from dataclasses import dataclass, replace
from functools import cached_property

import numpy as np

from ..models import minilm
from ..lm import CharLM
from ..lm.evaluation import evaluate, heldout_text
from ..progress import map_with_progress
from . import capture
from .hadamard import random_hadamard
from .llm_int8 import THRESHOLD, decomposed_linear
from .smoothquant import smoothing_scales
from .stats import channel_absmax
from .w8a8 import GRANULARITIES, WEIGHT_GRANULARITIES, quantize_weight, quantized_linear

KINDS = ("fp32", "weight-only", "w8a8", "llm.int8", "smoothquant", "rotation")
# The linears a norm feeds, which SmoothQuant smooths (mit-han-lab/smoothquant, smoothquant/smooth.py,
# smooth_lm: q/k/v after self_attn_layer_norm, fc1 after final_layer_norm; out_proj and fc2 are not).
NORM_FED = (
    ".attention.self.query.",
    ".attention.self.key.",
    ".attention.self.value.",
    ".intermediate.dense.",
    ".attn_q.",
    ".attn_k.",
    ".attn_v.",
    ".ffn_up.",
)


@dataclass(frozen=True)
class Method:
    """One way to run the linear layers: kind, bits, activation-scale granularity and its parameter."""

    label: str
    kind: str = "w8a8"
    weight_bits: int = 8
    activation_bits: int = 8
    granularity: str = "token"
    alpha: float = 0.5  # SmoothQuant's migration strength
    threshold: float = THRESHOLD  # LLM.int8()'s outlier magnitude
    smooth_all: bool = False  # SmoothQuant on every linear, not only those a norm feeds (the paper's choice)
    weight_granularity: str = "channel"  # or "tensor", as SmoothQuant's paper quantizes weights (its Table 2)

    def __post_init__(self):
        if self.kind not in KINDS:
            raise ValueError(f"kind={self.kind!r}; choose one of {KINDS}")
        if self.granularity not in GRANULARITIES:
            raise ValueError(f"granularity={self.granularity!r}; choose one of {GRANULARITIES}")
        if self.weight_granularity not in WEIGHT_GRANULARITIES:
            raise ValueError(f"weight_granularity={self.weight_granularity!r}; choose one of {WEIGHT_GRANULARITIES}")


def methods(alphas=(0.5,)):
    """The comparison's rows: W8A8 three ways, LLM.int8(), SmoothQuant, rotation; weights alone; then W4A8 and W4A4."""
    rows = [
        Method("FP32", "fp32"),
        Method("W8A8 per-tensor", granularity="tensor"),
        Method("W8A8 per-token", granularity="token"),
        Method("W8A8 per-channel (simulated)", granularity="channel"),
        Method("LLM.int8() t=6", "llm.int8"),
    ]
    rows += [Method(f"SmoothQuant a={a} per-tensor", "smoothquant", granularity="tensor", alpha=a) for a in alphas]
    rows += [Method("SmoothQuant a=0.5 per-tensor, all linears", "smoothquant", granularity="tensor", smooth_all=True)]
    rows += [
        Method("W8A8 per-tensor, W per-tensor (paper's W8A8)", granularity="tensor", weight_granularity="tensor"),
        Method(
            "SmoothQuant a=0.5, W per-tensor (paper's O2)",
            "smoothquant",
            granularity="tensor",
            weight_granularity="tensor",
        ),
    ]
    rows += [Method("Rotation per-tensor", "rotation", granularity="tensor"), Method("Rotation per-token", "rotation")]
    rows += [Method(f"W{w} only (activations float)", "weight-only", weight_bits=w) for w in (8, 4)]
    for w, a in ((4, 8), (4, 4)):
        rows += [
            Method(f"W{w}A{a} per-token", weight_bits=w, activation_bits=a),
            Method(f"W{w}A{a} LLM.int8()-style t=6", "llm.int8", weight_bits=w, activation_bits=a),
            Method(f"W{w}A{a} SmoothQuant a=0.5 per-token", "smoothquant", w, a, alpha=0.5),
            Method(f"W{w}A{a} rotation per-token", "rotation", w, a),
        ]
    return rows


def shared_smoothing_scales(inputs, weights, alpha):
    """{weight name: s}: one vector per captured input, from max|x_j| and all the weights that read it."""
    readers = {}
    for name, x in inputs.items():
        readers.setdefault(id(x), []).append(name)
    scales = {}
    for names in readers.values():
        s = smoothing_scales(channel_absmax(inputs[names[0]]), np.concatenate([weights[n] for n in names]), alpha)
        scales |= dict.fromkeys(names, s)
    return scales


def linear_hook(method, inputs=None, weights=None, seed=0):
    """The `linear(x, weight, bias, name)` that computes every layer as `method` does (None for FP32).

    inputs/weights ({weight name: FP32 input / weight}) are needed for SmoothQuant's calibration.
    """
    if method.kind == "fp32":
        return None
    bits = {
        "weight_bits": method.weight_bits,
        "activation_bits": method.activation_bits,
        "weight_granularity": method.weight_granularity,
    }
    if method.kind == "weight-only":  # activations stay float: the weights' share of the error

        def weight_only(x, w, b, name):
            codes, scale = quantize_weight(w, method.weight_bits, method.weight_granularity)
            y = x @ (codes * scale).T
            return y if b is None else y + b

        return weight_only
    if method.kind == "w8a8":
        return lambda x, w, b, name: quantized_linear(x, w, b, granularity=method.granularity, **bits)
    if method.kind == "llm.int8":  # vector-wise by definition: per-token x, per-channel W
        return lambda x, w, b, name: (
            decomposed_linear(x, w, b, method.threshold, method.activation_bits, method.weight_bits).output
        )
    if method.kind == "smoothquant":
        if inputs is None or weights is None:
            raise ValueError("SmoothQuant needs calibration: pass inputs (capture_*) and the model's weights")
        scales = shared_smoothing_scales(inputs, weights, method.alpha)
        if not method.smooth_all:
            scales = {name: s for name, s in scales.items() if any(part in name for part in NORM_FED)}

        def smoothed(x, w, b, name):
            if name not in scales:
                return quantized_linear(x, w, b, granularity=method.granularity, **bits)
            s = scales[name].astype(x.dtype)
            return quantized_linear(x / s, w * s, b, granularity=method.granularity, **bits)

        return smoothed
    rotations = {}

    def rotated(x, w, b, name):
        width = x.shape[1]
        if width not in rotations:
            rotations[width] = random_hadamard(width, seed)
        q = rotations[width]
        return quantized_linear(q.rotate(x), q.rotate(w), b, granularity=method.granularity, **bits)

    return rotated


# --- the two models ------------------------------------------------------------------------------


class _Hooked:
    """A CharLM whose logits() computes its block matmuls through a hook (what lm.evaluation.evaluate calls)."""

    def __init__(self, model, linear):
        self.model, self.linear, self.config = model, linear, model.config

    def encode(self, text, errors="strict"):
        return self.model.encode(text, errors)

    def logits(self, ids):
        return self.model.logits(ids, linear=self.linear)


class Bench:
    """Both models with their FP32 references and captured inputs, each computed on first use; row() measures a method."""

    def __init__(self, sentences=minilm.SENTENCES, text=None, seed=0, calibration="same"):
        if calibration not in ("same", "other"):
            raise ValueError(
                f"calibration={calibration!r}; choose 'same' (the evaluation text) or 'other' (Twelfth Night)"
            )
        self.sentences, self.seed, self.calibration = list(sentences), seed, calibration
        if text is None:
            start, stop = capture.CHAR_TEXT_SLICE
            text = heldout_text()[start:stop]
        self.text = text

    @cached_property
    def minilm_weights(self):
        return minilm.load_minilm()

    @cached_property
    def minilm_capture(self):
        """(FP32 inputs of every Linear, FP32 embeddings) of the sentences."""
        return capture.capture_minilm(self.sentences, self.minilm_weights)

    @cached_property
    def char_model(self):
        return CharLM.load()

    @cached_property
    def char_capture(self):
        """(FP32 inputs of every block matmul, FP32 evaluation on the text)."""
        inputs, _ = capture.capture_char_lm(self.char_model, self.text)
        return inputs, evaluate(self.char_model, self.text)

    @cached_property
    def minilm_calibration(self):
        """The FP32 inputs SmoothQuant's statistics come from."""
        if self.calibration == "same":
            return self.minilm_capture[0]
        return capture.capture_minilm(capture.calibration_sentences(), self.minilm_weights)[0]

    @cached_property
    def char_calibration(self):
        if self.calibration == "same":
            return self.char_capture[0]
        return capture.capture_char_lm(self.char_model, capture.calibration_text())[0]

    def minilm_cosine(self, method):
        """Cosine of each sentence's embedding to its FP32 one."""
        _, reference = self.minilm_capture
        hook = linear_hook(
            method, self.minilm_calibration if method.kind == "smoothquant" else None, self.minilm_weights, self.seed
        )
        if hook is not None:  # MiniLM names a Linear by its module; weights and inputs by the weight
            hook = _suffixed(hook)
        return minilm.cosine(minilm.embed(self.sentences, self.minilm_weights, linear=hook), reference)

    def char_evaluation(self, method):
        """lm.evaluation.Evaluation of the character model on the text, with KL to FP32."""
        _, reference = self.char_capture
        hook = linear_hook(
            method, self.char_calibration if method.kind == "smoothquant" else None, self.char_model.weights, self.seed
        )
        if hook is None:
            return replace(reference, kl_divergence=0.0)
        return evaluate(_Hooked(self.char_model, hook), self.text, reference_logits=reference.logits)

    def row(self, method, models=("minilm", "char")):
        """One table row: the method, its MiniLM cosines, the character model's perplexity and KL, seconds."""
        bits = (
            32 if method.kind == "fp32" else method.weight_bits,
            32 if method.kind in ("fp32", "weight-only") else method.activation_bits,
        )
        row = {"method": method.label, "W": bits[0], "A": bits[1]}
        start = time.perf_counter()
        if "minilm" in models:
            cos = self.minilm_cosine(method)
            row |= {"minilm_mean_cos": float(cos.mean()), "minilm_min_cos": float(cos.min())}
        if "char" in models:
            result = self.char_evaluation(method)
            row |= {"char_ppl": result.perplexity, "char_kl": result.kl_divergence}
        row["seconds"] = time.perf_counter() - start
        return row


def _suffixed(hook):
    return lambda x, weight, bias, name: hook(x, weight, bias, name + ".weight")


def best_alpha(
    bench,
    alphas=tuple(np.round(np.arange(0.1, 1.0, 0.1), 2)),
    weight_bits=8,
    activation_bits=8,
    granularity="tensor",
    models=("minilm", "char"),
):
    """SmoothQuant's alpha sweep: [(alpha, MiniLM mean cosine, character-model KL)] (None for a model left out).

    Choosing the best alpha on the evaluation text itself, as here, is optimistic: say so beside it.
    """
    base = Method("SmoothQuant", "smoothquant", weight_bits, activation_bits, granularity)
    sweep = []
    for alpha in alphas:
        method = replace(base, alpha=float(alpha))
        cosine = float(bench.minilm_cosine(method).mean()) if "minilm" in models else None
        kl = bench.char_evaluation(method).kl_divergence if "char" in models else None
        sweep.append((float(alpha), cosine, kl))
    return sweep


def comparison_table(bench=None, rows=None, models=("minilm", "char"), progress=None):
    """One row per method (see methods()); progress(i, n, method) is called before each row (progress.map_with_progress)."""
    bench = Bench() if bench is None else bench
    return map_with_progress(lambda method: bench.row(method, models), methods() if rows is None else rows, progress)


def format_table(table):
    """The rows as aligned text (what the benchmark prints)."""
    header = f"{'method':46} {'W':>2} {'A':>2} {'MiniLM mean cos':>15} {'min cos':>8} {'char ppl':>9} {'KL nats':>9} {'s':>5}"
    lines = [header, "-" * len(header)]
    for r in table:
        lines.append(
            f"{r['method']:46} {r['W']:>2} {r['A']:>2} {r.get('minilm_mean_cos', float('nan')):>15.6f} "
            f"{r.get('minilm_min_cos', float('nan')):>8.4f} {r.get('char_ppl', float('nan')):>9.4f} "
            f"{r.get('char_kl', float('nan')):>9.5f} {r['seconds']:>5.2f}"
        )
    return "\n".join(lines)

"""Calibration on a real encoder: RTN, GPTQ, AWQ and imatrix'd GGUF types on all 36 MiniLM matrices.

Calibration text: lines of Twelfth Night (quantlab.activations.capture.calibration_sentences, the text
runtime.minilm_file.minilm_imatrix uses), read as sentences, never the 40 sentences the fidelity is
scored on (models.minilm.SENTENCES). Each encoder Linear's inputs are recorded in one FP32 forward
pass (capture_minilm); every matrix is then quantized from its own inputs, and the quantized encoder
embeds the 40 scored sentences: cosine to the FP32 embeddings, per sentence. The layer error is the
mean over the 36 matrices of the relative output error on the scored sentences' own inputs.

q, k and v read one input: their Hessian (GPTQ) or statistic (AWQ, imatrix) is computed once and
shared, as the inputs are (the reference GPTQ hooks each module and computes the same H three times).
GGUF types follow llama.cpp's fallback for rows of 384 (models.minilm: Q4_K -> Q5_0, Q3_K and Q2_K ->
Q4_0 on 30 of the 36 matrices; only FFN down, rows of 1536, keeps the K type).
"""

import functools
import time
from dataclasses import asdict, dataclass

import numpy as np

from ..activations.capture import calibration_sentences, capture_minilm
from ..ggml import dequantize, quantize
from ..models import minilm
from ..models.packaged import load_minilm
from . import awq, gptq, imatrix
from .base import round_to_nearest
from .lesson import uniform_bits_per_weight
from .objective import LayerObjective

CALIBRATION_LINES = 256  # lines of >= 40 characters: ~4,300 tokens, > 1,536 (FFN down's input width)
METHODS = ("RTN", "GPTQ", "GPTQ act-order", "AWQ")
SETTINGS = ((4, 128), (3, 128))  # INT4 and INT3, groups of 128 (divides 384 and 1536; the GPTQ paper's g128)
GGUF_TYPES = ("Q4_K", "Q3_K", "Q2_K")


@dataclass(frozen=True)
class MiniLMRow:
    """One method on all 36 encoder matrices: settings, bits per weight, embedding cosine to FP32, layer error, seconds."""

    method: str
    bits: int | None
    group_size: int | None
    bits_per_weight: float
    mean_cosine: float
    min_cosine: float
    layer_error: float
    seconds: float

    def record(self):
        return asdict(self)


@functools.lru_cache(maxsize=2)
def calibration_inputs(n_lines=CALIBRATION_LINES):
    """{weight name: its input rows (tokens, in)} over `n_lines` lines of Twelfth Night (FP32 MiniLM)."""
    inputs, _ = capture_minilm(calibration_sentences(n_lines))
    return inputs


@functools.lru_cache(maxsize=1)
def evaluation_inputs():
    """({weight name: input rows} over the 40 scored sentences, their FP32 embeddings)."""
    return capture_minilm(minilm.SENTENCES)


class _Shared:
    """Per-input statistics computed once for layers that read the same array (q, k, v)."""

    def __init__(self, function):
        self.function, self.cache = function, {}

    def __call__(self, x):
        if id(x) not in self.cache:
            self.cache[id(x)] = (x, self.function(x))  # keep x alive so its id stays its own
        return self.cache[id(x)][1]


def quantize_encoder(method, bits=4, group_size=128, inputs=None, weights=None):
    """({name: W_hat float32} for the 36 encoder matrices, bits per weight, seconds) of one method.

    method: one of METHODS (asymmetric INT`bits` in groups of `group_size`), or 'Q4_K', 'Q3_K',
    'Q2_K' with or without ' + imatrix' (llama.cpp's fallback types where rows are 384 long).
    The seconds cover everything computed from the calibration inputs (Hessians, statistics, searches).
    """
    weights = load_minilm() if weights is None else weights
    names = minilm.encoder_matrices(weights)
    type_name, _, extra = method.partition(" + ")
    if method not in METHODS and (type_name not in GGUF_TYPES or extra not in ("", "imatrix")):
        raise ValueError(f"method={method!r}; choose one of {METHODS} or {GGUF_TYPES} (optionally + ' + imatrix')")
    if inputs is None and (method in METHODS[1:] or extra):  # RTN and the plain types look at no data
        inputs = calibration_inputs()
    start = time.perf_counter()
    quantized = {}
    if method in METHODS:
        hessian = _Shared(gptq.Hessian.from_inputs)
        for name in names:
            w = weights[name]
            if method == "RTN":
                result = round_to_nearest(w, bits, group_size=group_size)
            elif method == "AWQ":
                result = awq.awq(w, inputs[name], bits=bits, group_size=group_size).weight
            else:
                result = gptq.gptq(
                    w, hessian(inputs[name]), bits=bits, group_size=group_size, act_order=method != "GPTQ"
                ).weight
            quantized[name] = result.astype(np.float32)
        bpw = sum(uniform_bits_per_weight(weights[n], bits, group_size) * weights[n].size for n in names)
    else:
        plan = minilm.plan_minilm_types(type_name, weights)
        importance = _Shared(imatrix.collect)
        for name in names:
            w = weights[name]
            data = quantize(w, plan[name], imatrix=importance(inputs[name]) if extra else None)
            quantized[name] = np.asarray(dequantize(data, plan[name], w.shape), dtype=np.float32)
        bpw = minilm.bits_per_weight(plan, weights) * sum(weights[n].size for n in names)
    seconds = time.perf_counter() - start
    return quantized, bpw / sum(weights[n].size for n in names), seconds


def score(method, bits=None, group_size=None, inputs=None, weights=None):
    """The MiniLMRow of one method: quantize every encoder matrix, embed the 40 sentences, compare with FP32."""
    weights = load_minilm() if weights is None else weights
    quantized, bpw, seconds = quantize_encoder(method, bits, group_size, inputs, weights)
    held_out, reference = evaluation_inputs()
    vectors = minilm.embed(minilm.SENTENCES, dict(weights) | quantized)
    cosines = minilm.cosine(vectors, reference)
    errors = [LayerObjective(weights[n], held_out[n])(quantized[n]).relative for n in quantized]
    gguf = method not in METHODS
    return MiniLMRow(
        method=method,
        bits=None if gguf else bits,
        group_size=None if gguf else group_size,
        bits_per_weight=float(bpw),
        mean_cosine=float(np.mean(cosines)),
        min_cosine=float(np.min(cosines)),
        layer_error=float(np.mean(errors)),
        seconds=seconds,
    )


def jobs(settings=SETTINGS, gguf_types=GGUF_TYPES):
    """(method, bits, group_size) of every row of the MiniLM table."""
    rows = [(m, b, g) for b, g in settings for m in METHODS]
    return rows + [(f"{t}{extra}", None, None) for t in gguf_types for extra in ("", " + imatrix")]


def table(settings=SETTINGS, gguf_types=GGUF_TYPES, progress=None):
    """MiniLMRow per job, calibrated on Twelfth Night lines, scored on the 40 sentences."""
    todo = jobs(settings, gguf_types)
    rows = []
    for i, (method, bits, group_size) in enumerate(todo):
        if progress is not None:
            progress(i, len(todo), method)
        rows.append(score(method, bits, group_size))
    if progress is not None:
        progress(len(todo), len(todo), "done")
    return rows

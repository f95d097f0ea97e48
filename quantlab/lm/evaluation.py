"""How good a language model's predictions are: perplexity, KL divergence, and the held-out evaluation.

Perplexity = exp(mean negative log-likelihood of the true next character): the number of equally
likely characters the model is, on average, choosing between. The KL divergence from the F32
model's predictions to a quantized model's measures how far quantization moved them (llama.cpp's
`perplexity --kl-divergence` reports the same mean).
"""

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..nn import log_softmax

HELD_OUT_TEXT = Path(__file__).resolve().parent.parent / "assets" / "char_lm_heldout.txt"


def negative_log_likelihood(logits, targets):
    """-log p(target) at every position, in nats; logits (..., vocab), integer targets (...)."""
    log_p = log_softmax(logits)
    targets = np.asarray(targets)
    if targets.dtype.kind not in "iu":
        raise TypeError(f"targets has dtype {targets.dtype}; pass integer ids of the true next characters")
    if targets.shape != log_p.shape[:-1]:
        raise ValueError(
            f"targets has shape {targets.shape} but logits has {log_p.shape}; targets needs shape {log_p.shape[:-1]}"
        )
    if targets.min() < 0 or targets.max() >= log_p.shape[-1]:
        raise ValueError(
            f"targets range over {targets.min()}..{targets.max()} but logits have {log_p.shape[-1]} classes"
        )
    return -np.take_along_axis(log_p, targets[..., None], axis=-1)[..., 0]


def perplexity(logits, targets):
    """exp(mean negative log-likelihood): vocab_size for uniform logits, 1 for a perfect model."""
    return float(np.exp(np.mean(negative_log_likelihood(logits, targets))))


def kl_divergence(p_logits, q_logits):
    """Mean over positions of KL(p || q) = sum p (log p - log q), in nats; p the reference (e.g. F32)."""
    log_p, log_q = log_softmax(p_logits), log_softmax(q_logits)
    if log_p.shape != log_q.shape:
        raise ValueError(
            f"p_logits has shape {log_p.shape} but q_logits has {log_q.shape}; pass logits of the same positions"
        )
    return float(np.mean(np.sum(np.exp(log_p) * (log_p - log_q), axis=-1)))


def heldout_text():
    """The evaluation text: the opening 32,768 characters of each held-out play (Macbeth, Twelfth Night)."""
    return HELD_OUT_TEXT.read_text(encoding="ascii")


def window_plan(n_predictions, length, stride):
    """(starts, skips): window k predicts characters starts[k]+1 .. starts[k]+length and scores all but
    the first skips[k] of them, so every character is scored exactly once.

    Windows start every `stride` characters; the last is moved back to end at the text's end. With
    stride < length each scored character (after the first window) has at least length - stride
    characters of context, as in llama.cpp's perplexity (which scores the second half of each window).
    """
    if n_predictions <= length:
        return np.array([0]), np.array([0])
    starts = np.arange(0, n_predictions - length + 1, stride)
    skips = np.full(len(starts), length - stride)
    skips[0] = 0
    covered = starts[-1] + length
    if covered < n_predictions:  # a last window, flush with the end, scores what is left
        starts = np.append(starts, n_predictions - length)
        skips = np.append(skips, covered - (n_predictions - length))
    return starts, skips


@dataclass(frozen=True)
class Evaluation:
    """The scores of one model on one text; `logits` (one row per scored character) feeds a later KL."""

    mean_nll: float  # nats per character
    bits_per_char: float
    perplexity: float  # per character
    n_predictions: int
    stride: int
    kl_divergence: float | None  # to the reference logits, when given
    logits: np.ndarray


def evaluate(model, text=None, stride=None, reference_logits=None, batch_size=64):
    """Score `model` (a quantlab.lm.CharLM) on `text` (default: the committed held-out text).

    Every character after the first is predicted once, from windows of the context length
    starting every `stride` characters (default: the context length, i.e. non-overlapping).
    Characters outside the vocabulary count as the unknown symbol, as in training.
    """
    text = heldout_text() if text is None else text
    length = model.config.context_length
    stride = length if stride is None else stride
    if isinstance(stride, bool) or not isinstance(stride, (int, np.integer)) or not 1 <= stride <= length:
        raise ValueError(f"stride={stride!r} must be an integer from 1 to the context length {length}")
    if isinstance(batch_size, bool) or not isinstance(batch_size, (int, np.integer)) or batch_size < 1:
        raise ValueError(f"batch_size={batch_size!r} must be a positive integer (windows per forward pass)")
    ids = model.encode(text, errors="replace")
    if len(ids) < 2:
        raise ValueError(f"text has {len(ids)} character(s); it needs at least 2 (one to read, one to predict)")
    n = len(ids) - 1
    width = min(length, n)
    starts, skips = window_plan(n, length, stride)
    offsets = np.arange(width)
    scored = offsets[None, :] >= skips[:, None]  # (windows, width): which predictions count
    chunks = []
    for first in range(0, len(starts), batch_size):  # bounded memory: batch_size windows at a time
        window_starts = starts[first : first + batch_size, None] + offsets
        chunks.append(model.logits(ids[window_starts])[scored[first : first + batch_size]])
    logits = np.concatenate(chunks)
    targets = (starts[:, None] + offsets + 1)[scored]
    nll = float(np.mean(negative_log_likelihood(logits, ids[targets])))
    divergence = None
    if reference_logits is not None:
        if np.shape(reference_logits) != logits.shape:
            raise ValueError(
                f"reference_logits has shape {np.shape(reference_logits)} but this evaluation scores {logits.shape}; "
                "pass the .logits of an evaluation of the same text with the same stride"
            )
        divergence = kl_divergence(reference_logits, logits)
    return Evaluation(nll, nll / np.log(2), float(np.exp(nll)), n, stride, divergence, logits)

"""Self-check for notebook 11's exercise: a MiniLM file no larger than the Q4_0 mix's, faithful on every sentence.

Same manner as quantlab.checks: print a verdict, return a truthy/falsy Verdict, name the mistake.
The answer is written, loaded in llama.cpp and measured exactly as the explorer does it
(quantlab.runtime.runs: the same cache), so the numbers match what the learner saw.
"""

import math

from ..runtime import engine, minilm_file, runs
from .base import NOT_ANSWERED, Verdict, unanswered, verdict

TARGET_MIX = "Q4_0"  # the budget: the size of llama.cpp's Q4_0 mix of MiniLM


def _choice(answer):
    """(mix, overrides) from a MiniLMFileExplorer, a mix name, or a dict of {role or GGUF tensor name: type}."""
    if hasattr(answer, "overrides") and hasattr(answer, "settings"):  # the explorer
        return answer.settings["mix"], answer.overrides()
    if isinstance(answer, str):
        return answer.strip().upper(), {}
    if isinstance(answer, dict):
        answer = dict(answer)
        return str(answer.pop("mix", "F32")).upper(), answer
    raise TypeError(
        f"answer should be a mix name such as 'Q5_0', a dict such as {{'mix': 'Q5_0', 'ffn_down': 'Q8_0'}} "
        f"or {{'blk.0.ffn_down.weight': 'Q8_0', ...}}, or your MiniLMFileExplorer; got {type(answer).__name__}"
    )


def check_small_faithful_file(answer):
    """Exercise 11: a MiniLM file no larger than the Q4_0 mix's, with cosine >= 0.99 to FP32 on all 40 sentences in llama.cpp."""
    if unanswered(answer):
        return NOT_ANSWERED
    mix, overrides = _choice(answer)
    if not engine.runtime_ready():
        return Verdict(False, "llama.cpp (xllamacpp) is not installed")
    try:
        plan = runs.choice_plan(mix, overrides)
    except (ValueError, TypeError) as error:  # an unknown mix, role or tensor; a type a row cannot take
        return verdict(False, f"That file cannot be written: {error}")
    runner = runs.minilm_runner()
    mine = runner.run_types(plan, runs.choice_label(mix, overrides))
    budget = runner.run(TARGET_MIX)
    size = f"{mine.n_bytes / 1e6:.2f} MB (the {TARGET_MIX} mix: {budget.n_bytes / 1e6:.2f} MB)"
    worst = int(mine.cosine_llama.argmin())
    cosines = (
        f"worst cosine {mine.cosine_llama.min():.4f} in llama.cpp (sentence #{worst}, {runner.sentences[worst]!r})"
    )
    if mine.passes and mine.n_bytes <= budget.n_bytes:
        return verdict(
            True,
            f"Right: {size}, {cosines}. The token embedding holds more than half of MiniLM's "
            f"weights, yet each sentence reads only a few of its rows, and rounding a row is a "
            f"small nudge to one token; the 36 encoder matrices touch every token in every layer. "
            f"Bits belong where every computation passes.",
        )
    if not mine.passes:
        below = int((mine.cosine_llama < runs.THRESHOLD).sum())
        return verdict(
            False,
            f"Not faithful enough: {below} of 40 sentences fall below {runs.THRESHOLD}; {cosines}; "
            f"file {size}. Hint: start from a mix that passes (Q8_0) and lower one part at a "
            f"time in the explorer, watching the worst sentence.",
        )
    share = _embedding_share()
    return verdict(
        False,
        f"Faithful ({cosines}), but too big: {size}. Hint: token_embd holds {share:.0%} of the "
        f"weights. Which part of the model can take fewer bits without the cosines noticing?",
    )


def _embedding_share():
    """The token embedding's share of the weights of a MiniLM file."""
    shapes = minilm_file.tensor_shapes()
    return math.prod(shapes["token_embd.weight"]) / sum(math.prod(shape) for shape in shapes.values())

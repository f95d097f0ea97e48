"""Greedy continuations of fixed prompts by llama.cpp, and how soon two continuations part ways.

    texts = complete_prompts("gemma-q8_0.gguf")            # {prompt: continuation}, temperature 0
    departure(original_text, other_text)      # Departure(shared_words=5, shared_chars=31), None if equal

Greedy decoding picks the most likely token every step, so two files give the same text until
their top choices first differ; after that the texts are free to go anywhere. The word at which
they part is a coarse but honest measure: a mix that departs late kept the model's choices.
"""

from dataclasses import dataclass

from .engine import Engine

PROMPTS = (
    "The quick brown fox jumps over the lazy",
    "The capital of France is",
    "Water boils at a temperature of",
    "Once upon a time, in a small village by the sea,",
    "To make a cup of tea, first",
    "The three primary colours are",
)


@dataclass(frozen=True)
class Departure:
    """How much of the reference a text repeats before it differs: whole words (split on spaces), characters."""

    shared_words: int
    shared_chars: int


def departure(reference, text):
    """The first place `text` differs from `reference`, or None if they are the same text."""
    if not isinstance(reference, str) or not isinstance(text, str):
        raise TypeError("reference and text must be strings (two continuations to compare)")
    if reference == text:
        return None
    shared_chars = next((i for i, (a, b) in enumerate(zip(reference, text)) if a != b), min(len(reference), len(text)))
    words_a, words_b = reference.split(), text.split()
    shared_words = next(
        (i for i, (a, b) in enumerate(zip(words_a, words_b)) if a != b), min(len(words_a), len(words_b))
    )
    return Departure(shared_words, shared_chars)


def complete_prompts(path, prompts=PROMPTS, n_predict=32):
    """{prompt: greedy continuation} from llama.cpp for one GGUF file."""
    if isinstance(prompts, str):
        raise TypeError(f"prompts must be a list of strings; wrap a single one: [{prompts[:40]!r}]")
    with Engine(path) as engine:
        return {prompt: engine.complete(prompt, n_predict) for prompt in prompts}

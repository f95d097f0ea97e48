"""Speed of the numpy character model: loading, one context window, and the whole held-out evaluation.

Target (issue 5): the held-out evaluation in <= ~10 s on 2 cores.   Run:  python benchmarks/lm_eval.py
"""

import time

import numpy as np

from quantlab.lm import CharLM
from quantlab.lm.evaluation import evaluate


def best_of(function, repeats):
    """The fastest of `repeats` runs, in seconds (the least disturbed by other work on the machine)."""
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        result = function()
        times.append(time.perf_counter() - start)
    return min(times), result


def main():
    load_seconds, model = best_of(CharLM.load, 3)
    window = np.zeros(model.config.context_length, dtype=np.int64)
    window_seconds, _ = best_of(lambda: model.logits(window), 20)
    print(f"load weights            {load_seconds * 1e3:8.1f} ms")
    print(f"one window of {len(window)} chars {window_seconds * 1e3:8.1f} ms")
    length = model.config.context_length
    for stride in (length, length // 2):
        seconds, result = best_of(lambda: evaluate(model, stride=stride), 2)
        print(
            f"held-out evaluation, stride {stride:3d}: {seconds:5.2f} s for {result.n_predictions:,} characters "
            f"({result.n_predictions / seconds:,.0f} chars/s); {result.bits_per_char:.3f} bits/char, "
            f"perplexity {result.perplexity:.3f}"
        )


if __name__ == "__main__":
    main()

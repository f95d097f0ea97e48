"""Update time of notebook 07's MixCalculator and MixExplorer (compute + draw + PNG), as a learner's control changes cause.

Prints median and p95 over at least 50 changes per control, plus a run of random control changes.
A model's sizes under the twelve mixes are computed once (llama.cpp's rules over every tensor,
35-135 ms) and cached; the first visit to each model is timed on its own line ("cold"), the rest
with the cache warm. Target: p95 <= 50 ms kernel-side.
Run:  python benchmarks/mix_calculator.py
"""

import numpy as np
from timing import cycle, time_changes

from quantlab.mixes import recipes, sizes
from quantlab.mixes.calculator import CACHE_TYPES, CALCULATOR_MIXES, CONTEXTS, mix_view
from quantlab.widgets import MixCalculator, MixExplorer

MODELS = list(sizes.ARCHITECTURES)


def random_changes(options, n=100, seed=0):
    rng = np.random.default_rng(seed)
    names = list(options)
    return [{name: options[name][rng.integers(len(options[name]))]} for name in rng.choice(names, n)]


CALCULATOR_OPTIONS = {
    "model": MODELS,
    "mix": list(CALCULATOR_MIXES),
    "n_ctx": list(CONTEXTS),
    "cache_type": list(CACHE_TYPES),
    "budget_gib": [float(b) for b in np.arange(0.25, 64.25, 0.25)],
}
EXPLORER_OPTIONS = {"model": MODELS, "mix": [m for m in recipes.MIXES if m != "F32"]}


def report(label, times):
    print(f"{label:<28}{len(times):>5}{np.median(times):>11.1f}{np.percentile(times, 95):>9.1f}")


def main():
    print(f"{'control':<28}{'n':>5}{'median ms':>11}{'p95 ms':>9}")
    calculator = MixCalculator()
    report("calculator model (cold)", time_changes(calculator, [{"model": m} for m in MODELS[1:] + MODELS[:1]]))
    cases = [
        ("budget_gib", cycle("budget_gib", [float(b) for b in np.arange(2.0, 16.0, 0.25)], n=56)),
        ("mix", cycle("mix", list(CALCULATOR_MIXES))),
        ("n_ctx", cycle("n_ctx", list(CONTEXTS) + list(CONTEXTS[-2:0:-1]))),
        ("cache_type", cycle("cache_type", list(CACHE_TYPES))),
        ("model (warm)", cycle("model", MODELS)),
        ("random mix", random_changes(CALCULATOR_OPTIONS)),
    ]
    for name, changes in cases:
        report(f"calculator {name}", time_changes(MixCalculator(), changes))
    for arch in sizes.ARCHITECTURES.values():  # warm the per-(model, mix) cache as a first visit would
        for mix in EXPLORER_OPTIONS["mix"]:
            mix_view(arch, mix)
    report("explorer mix", time_changes(MixExplorer(), cycle("mix", EXPLORER_OPTIONS["mix"])))
    report("explorer random mix", time_changes(MixExplorer(), random_changes(EXPLORER_OPTIONS)))
    mix_view.cache_clear()
    report("explorer (model, mix) cold", time_changes(MixExplorer(), random_changes(EXPLORER_OPTIONS, n=60, seed=1)))


if __name__ == "__main__":
    main()

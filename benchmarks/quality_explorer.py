"""Update time of notebook 08's QualityExplorer (quantize what is new + evaluate 4,096 characters + draw + PNG).

Prints median and p95 over the changes a learner makes: mix presets and per-class types, first with
a cold tensor cache (each (tensor, type) pair is quantized on first use) and then warm; then the
evaluation alone, class by class. Construction (F32 reference logits on the slice, the table, the first mix) is timed
on its own line. Target: an update in <= ~1 s.
Run:  python benchmarks/quality_explorer.py
"""

import time

import numpy as np
from timing import cycle, time_changes

from quantlab.lm import quality, reports
from quantlab.lm.quality import OVERRIDE_TYPES, TABLE_MIXES, TENSOR_CLASSES
from quantlab.widgets import QualityExplorer

CLASSES = list(TENSOR_CLASSES)


def random_changes(n=60, seed=0):
    """A quarter preset changes, the rest one class set to a random type."""
    rng = np.random.default_rng(seed)
    return [
        {"mix": TABLE_MIXES[rng.integers(len(TABLE_MIXES))]}
        if rng.random() < 0.25
        else {CLASSES[rng.integers(len(CLASSES))]: OVERRIDE_TYPES[rng.integers(len(OVERRIDE_TYPES))]}
        for _ in range(n)
    ]


def report(label, times):
    print(f"{label:<28}{len(times):>5}{np.median(times):>11.0f}{np.percentile(times, 95):>9.0f}")


def main():
    start = time.perf_counter()
    explorer = QualityExplorer()
    print(f"construction (F32 reference on the slice, table, Q4_K_M): {time.perf_counter() - start:.2f} s\n")
    print(f"{'change':<28}{'n':>5}{'median ms':>11}{'p95 ms':>9}")
    report("mix preset (cold)", time_changes(explorer, [{"mix": m} for m in TABLE_MIXES[1:]]))
    report(
        "class type (cold)",
        time_changes(
            explorer, [{c: t} for c in ("ffn_up", "attn_qk", "token_embd") for t in ("Q8_0", "Q5_1", "IQ4_NL", "Q2_K")]
        ),
    )
    report("mix preset (warm)", time_changes(explorer, cycle("mix", list(TABLE_MIXES), n=30)))
    report(
        "token_embd type (warm)", time_changes(explorer, cycle("token_embd", ["Q8_0", "Q4_K", "Q6_K", "Q2_K"], n=30))
    )
    report("random changes", time_changes(explorer, random_changes()))
    meter = reports.explorer_meter()
    print("\none class changed from the one before (Q4_K_M + that class; tensors quantized beforehand),")
    print("evaluated from the first changed matrix on (lm.resumable): median CPU ms of measure()")
    for tensor_class in CLASSES:
        types = [t for t in OVERRIDE_TYPES if t != "F32" and not meter.is_measured("Q4_K_M", {tensor_class: t})][:5]
        for type_name in types:  # quantize first: only the evaluation is timed
            meter.tensors.apply(quality.plan_types(meter.shapes, "Q4_K_M", {tensor_class: type_name}))
        meter.measure("Q4_K_M", {tensor_class: types[0]})  # its streams are what the next settings resume from
        cpu = []
        for type_name in types[1:]:
            start = time.process_time()
            meter.measure("Q4_K_M", {tensor_class: type_name})
            cpu.append(time.process_time() - start)
        print(f"  {tensor_class:<12}{1e3 * np.median(cpu):>6.0f}")


if __name__ == "__main__":
    main()

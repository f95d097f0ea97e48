"""Single-thread speed of the newer GGML types (issue 13): quantlab vs libgguf, as time ratios.

    OMP_NUM_THREADS=1 python benchmarks/bench_new_formats.py [--repeat 9] [--types MXFP4,IQ2_XXS]

For each type, quantize and dequantize on 1M weights (one row of 2^20) and on a (256, 4096)
matrix, best of `repeat` after a warm-up, the two libraries interleaved call by call, in CPU time
(--clock wall for elapsed time); prints milliseconds and the ratio libgguf time / quantlab time
(>= 1 means quantlab is as fast). Issue 13's targets for quantize: MXFP4, NVFP4,
TQ1_0, TQ2_0, BF16, IQ4_XS >= 1.0; IQ1/IQ2/IQ3 >= 0.5. A random positive imatrix is passed to
both where llama.cpp requires one (IQ2_XXS, IQ2_XS, IQ1_S). libgguf has no BF16 dequantizer.
CPU time is the default because on a shared, overloaded machine wall times of the same call swing by
3x, CPU times far less (both sides run one thread).
"""

import argparse
import os
import time

for variable in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "LIBGGUF_NUM_THREADS"):
    os.environ.setdefault(variable, "1")  # one thread everywhere, set before numpy and libgguf load

import libgguf  # noqa: E402
import numpy as np  # noqa: E402

from quantlab.ggml import bf16, iq1, iq2, iq3, iq4_xs, microscaling, ternary  # noqa: E402

TYPES = {
    "BF16": (bf16.quantize_bf16, bf16.dequantize_bf16),
    "MXFP4": (microscaling.quantize_mxfp4, microscaling.dequantize_mxfp4),
    "NVFP4": (microscaling.quantize_nvfp4, microscaling.dequantize_nvfp4),
    "TQ1_0": (ternary.quantize_tq1_0, ternary.dequantize_tq1_0),
    "TQ2_0": (ternary.quantize_tq2_0, ternary.dequantize_tq2_0),
    "IQ4_XS": (iq4_xs.quantize_iq4_xs, iq4_xs.dequantize_iq4_xs),
    "IQ3_S": (iq3.quantize_iq3_s, iq3.dequantize_iq3_s),
    "IQ3_XXS": (iq3.quantize_iq3_xxs, iq3.dequantize_iq3_xxs),
    "IQ2_S": (iq2.quantize_iq2_s, iq2.dequantize_iq2_s),
    "IQ2_XS": (iq2.quantize_iq2_xs, iq2.dequantize_iq2_xs),
    "IQ2_XXS": (iq2.quantize_iq2_xxs, iq2.dequantize_iq2_xxs),
    "IQ1_S": (iq1.quantize_iq1_s, iq1.dequantize_iq1_s),
    "IQ1_M": (iq1.quantize_iq1_m, iq1.dequantize_iq1_m),
}
REQUIRED = {"IQ2_XXS", "IQ2_XS", "IQ1_S"}


CLOCKS = {"cpu": time.process_time, "wall": time.perf_counter}


def best_times(functions, repeat, clock="cpu"):
    """{key: shortest time in ms} of `repeat` calls of each function, after one warm-up call each;
    the calls are interleaved (round r times every function once), so a burst of load on a shared
    machine hits all alike. clock "cpu" counts this process's CPU time (every library runs on one
    thread here), not the time it waits for a core; "wall" is the elapsed time."""
    timer = CLOCKS[clock]
    for function in functions.values():
        function()
    times = {key: [] for key in functions}
    for _ in range(repeat):
        for key, function in functions.items():
            start = timer()
            function()
            times[key].append(timer() - start)
    return {key: 1e3 * min(values) for key, values in times.items()}


def measure(type_name, x, repeat, clock="cpu"):
    """{op: (libgguf ms, quantlab ms)} for quantize and (except BF16) dequantize."""
    quantize, dequantize = TYPES[type_name]
    qtype = libgguf.GGMLQuantizationType[type_name]
    imatrix = (np.random.default_rng(1).random(x.shape[1]) + 0.1).astype(np.float32) if type_name in REQUIRED else None
    data = quantize(x, imatrix=imatrix)
    functions = {
        ("quantize", "libgguf"): lambda: libgguf.quantize_rows(x, qtype, imatrix=imatrix),
        ("quantize", "quantlab"): lambda: quantize(x, imatrix=imatrix),
    }
    if type_name != "BF16":
        functions["dequantize", "libgguf"] = lambda: libgguf.dequantize_rows(data, qtype, x.shape[1])
        functions["dequantize", "quantlab"] = lambda: dequantize(data)
    times = best_times(functions, repeat, clock)
    return {op: (times[op, "libgguf"], times[op, "quantlab"]) for op in dict.fromkeys(op for op, _ in functions)}


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=9)
    parser.add_argument("--types", default=",".join(TYPES))
    parser.add_argument("--clock", choices=list(CLOCKS), default="cpu", help="CPU time of this process, or wall time")
    args = parser.parse_args()
    rng = np.random.default_rng(0)
    shapes = {"1M flat": (1, 1 << 20), "(256, 4096)": (256, 4096)}
    print(f"best of {args.repeat}, {args.clock} time")
    print(f"{'type':8} {'shape':12} {'op':10} {'libgguf ms':>10} {'quantlab ms':>11} {'ratio':>6}")
    for type_name in args.types.split(","):
        for label, shape in shapes.items():
            x = (rng.standard_normal(shape) * 0.02).astype(np.float32)
            for op, (theirs, ours) in measure(type_name, x, args.repeat, args.clock).items():
                print(f"{type_name:8} {label:12} {op:10} {theirs:10.1f} {ours:11.1f} {theirs / ours:6.2f}", flush=True)


if __name__ == "__main__":
    main()

"""Single-thread speed of the newer GGML types (issue 13): quantlab vs libgguf, as time ratios.

    OMP_NUM_THREADS=1 python benchmarks/bench_new_formats.py [--repeat 5] [--types MXFP4,IQ2_XXS] [--clock cpu]

For each type, quantize and dequantize on 1M weights (one row of 2^20) and on a (256, 4096)
matrix, best of `repeat` after a warm-up; prints milliseconds and the ratio libgguf time /
quantlab time (>= 1 means quantlab is as fast). Issue 13's targets for quantize: MXFP4, NVFP4,
TQ1_0, TQ2_0, BF16, IQ4_XS >= 1.0; IQ1/IQ2/IQ3 >= 0.5. A random positive imatrix is passed to
both where llama.cpp requires one (IQ2_XXS, IQ2_XS, IQ1_S). libgguf has no BF16 dequantizer.
--clock cpu times with the process's CPU time instead of wall time: on a shared, overloaded
machine wall times of the same call swing by 3x, CPU times far less (both sides run one thread).
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


CLOCK = {"wall": time.perf_counter, "cpu": time.process_time}


def best_time(function, repeat, clock="wall"):
    """Shortest time of `repeat` calls after one warm-up call, in milliseconds (wall or CPU time)."""
    now = CLOCK[clock]
    function()
    times = []
    for _ in range(repeat):
        start = now()
        function()
        times.append(now() - start)
    return 1e3 * min(times)


def measure(type_name, x, repeat, clock="wall"):
    quantize, dequantize = TYPES[type_name]
    qtype = libgguf.GGMLQuantizationType[type_name]
    imatrix = (np.random.default_rng(1).random(x.shape[1]) + 0.1).astype(np.float32) if type_name in REQUIRED else None
    data = quantize(x, imatrix=imatrix)
    row = {
        "quantize": (
            best_time(lambda: libgguf.quantize_rows(x, qtype, imatrix=imatrix), repeat, clock),
            best_time(lambda: quantize(x, imatrix=imatrix), repeat, clock),
        )
    }
    if type_name != "BF16":
        row["dequantize"] = (
            best_time(lambda: libgguf.dequantize_rows(data, qtype, x.shape[1]), repeat, clock),
            best_time(lambda: dequantize(data), repeat, clock),
        )
    return row


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--types", default=",".join(TYPES))
    parser.add_argument("--clock", choices=sorted(CLOCK), default="wall", help="wall time (default) or CPU time")
    args = parser.parse_args()
    rng = np.random.default_rng(0)
    shapes = {"1M flat": (1, 1 << 20), "(256, 4096)": (256, 4096)}
    print(f"{'type':8} {'shape':12} {'op':10} {'libgguf ms':>10} {'quantlab ms':>11} {'ratio':>6}")
    for type_name in args.types.split(","):
        for label, shape in shapes.items():
            x = (rng.standard_normal(shape) * 0.02).astype(np.float32)
            for op, (theirs, ours) in measure(type_name, x, args.repeat, args.clock).items():
                print(f"{type_name:8} {label:12} {op:10} {theirs:10.1f} {ours:11.1f} {theirs / ours:6.2f}", flush=True)


if __name__ == "__main__":
    main()

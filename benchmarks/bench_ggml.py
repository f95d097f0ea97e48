"""Throughput of quantlab.ggml vs gguf-py and libgguf (llama.cpp's C, one thread), per GGML type.

    python benchmarks/bench_ggml.py [--repeat 9] [--types Q4_0,Q4_K]

For each shape, 1M weights as one flat row (1, 2^20) and a (256, 4096) matrix, prints millions of
weights per second (Mw/s; x4 for MB/s of float32 input) for quantize and dequantize, best of
`repeat` after a warm-up (CPU time; --clock wall for elapsed time), all libraries measured side by
side in one run, call by call, and the ratios quantlab / gguf-py and quantlab / libgguf (>= 1
means quantlab is as fast). Targets (issues 3 and 13, one thread): legacy quantize >= 2x gguf-py,
dequantize >= gguf-py, K-quant quantize >= libgguf.
gguf-py quantizes only the legacy types; "-" marks what a library cannot do.
"""

import argparse
import os
import time

for variable in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "LIBGGUF_NUM_THREADS"):
    os.environ.setdefault(variable, "1")  # one thread everywhere, set before numpy and libgguf load

import numpy as np  # noqa: E402

import quantlab.ggml as ggml  # noqa: E402

try:
    import gguf
    from gguf import GGMLQuantizationType
except ImportError:  # the oracles are test extras: pip install -e .[test]
    gguf = None
try:
    import libgguf
except ImportError:
    libgguf = None

SHAPES = {"1M flat": (1, 1 << 20), "(256, 4096)": (256, 4096)}
TYPES = ["Q8_0", "Q4_0", "Q4_1", "Q5_0", "Q5_1", "IQ4_NL", "Q2_K", "Q3_K", "Q4_K", "Q5_K", "Q6_K"]


CLOCKS = {"cpu": time.process_time, "wall": time.perf_counter}


def best_times(functions, repeat, clock="cpu"):
    """{key: shortest time in seconds} of `repeat` calls of each function, or None if it raises
    NotImplementedError. After one warm-up call each, the calls are interleaved (round r times every
    function once), so a burst of load on the shared machine hits all alike. clock "cpu" counts
    this process's CPU time (every library runs on one thread here), not the time it waits for a
    core on a loaded machine; "wall" is the elapsed time."""
    timer = CLOCKS[clock]
    available = {}
    for key, function in functions.items():
        try:
            function()
            available[key] = function
        except NotImplementedError:
            pass
    times = {key: [] for key in available}
    for _ in range(repeat):
        for key, function in available.items():
            start = timer()
            function()
            times[key].append(timer() - start)
    return {key: min(times[key]) if key in times else None for key in functions}


def measure(type_name, x, repeat, clock="cpu"):
    """Quantize and dequantize rates for the three libraries, in Mw/s (None = not available)."""
    qtype = GGMLQuantizationType[type_name] if gguf else None
    ours_bytes = ggml.quantize(x, type_name)
    functions = {
        ("quantize", "quantlab"): lambda: ggml.quantize(x, type_name),
        ("dequantize", "quantlab"): lambda: ggml.dequantize(ours_bytes, type_name),
    }
    if gguf:
        functions["quantize", "gguf-py"] = lambda: gguf.quants.quantize(x, qtype)
        functions["dequantize", "gguf-py"] = lambda: gguf.quants.dequantize(ours_bytes, qtype)
    if libgguf:
        reference = libgguf.quantize_rows(x, qtype)
        assert np.array_equal(reference, ours_bytes), f"{type_name}: quantlab's bytes differ from llama.cpp's"
        functions["quantize", "libgguf"] = lambda: libgguf.quantize_rows(x, qtype)
        functions["dequantize", "libgguf"] = lambda: libgguf.dequantize_rows(reference, qtype)
    rates = {"quantize": {}, "dequantize": {}}
    for (op, library), seconds in best_times(functions, repeat, clock).items():
        rates[op][library] = x.size / seconds / 1e6 if seconds else None
    return rates


def cell(value, width=9, digits=1):
    return f"{value:{width}.{digits}f}" if value is not None else f"{'-':>{width}}"


def ratio(ours, theirs):
    return ours / theirs if ours is not None and theirs is not None else None


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=9, help="timed calls per measurement (best is kept)")
    parser.add_argument("--types", default=",".join(TYPES), help="comma-separated GGML types")
    parser.add_argument("--clock", choices=list(CLOCKS), default="cpu", help="CPU time of this process, or wall time")
    args = parser.parse_args()

    rng = np.random.default_rng(0)
    print(
        f"best of {args.repeat} ({args.clock} time); threads: libgguf {os.environ['LIBGGUF_NUM_THREADS']}, "
        f"OpenBLAS {os.environ['OPENBLAS_NUM_THREADS']}; Mw/s = million weights per second"
    )
    for label, shape in SHAPES.items():
        x = (rng.standard_normal(shape) * 0.02).astype(np.float32)
        print(f"\n{x.size:,} float32 weights, shape {label}")
        print(
            f"{'':8}| {'quantize Mw/s':^29} | {'ratio quantlab /':^17} "
            f"| {'dequantize Mw/s':^29} | {'ratio quantlab /':^17}"
        )
        print(
            f"{'type':8}| {'quantlab':>9}{'gguf-py':>10}{'libgguf':>10} | {'gguf-py':>8}{'libgguf':>9} "
            f"| {'quantlab':>9}{'gguf-py':>10}{'libgguf':>10} | {'gguf-py':>8}{'libgguf':>9}"
        )
        for type_name in [t.strip().upper() for t in args.types.split(",")]:
            try:
                rates = measure(type_name, x, args.repeat, args.clock)
            except NotImplementedError as error:
                print(f"{type_name:8}| skipped: {error}")
                continue
            q, d = rates["quantize"], rates["dequantize"]
            print(
                f"{type_name:8}| {cell(q['quantlab'])}{cell(q.get('gguf-py'), 10)}{cell(q.get('libgguf'), 10)} "
                f"| {cell(ratio(q['quantlab'], q.get('gguf-py')), 8, 2)}"
                f"{cell(ratio(q['quantlab'], q.get('libgguf')), 9, 3)} "
                f"| {cell(d['quantlab'])}{cell(d.get('gguf-py'), 10)}{cell(d.get('libgguf'), 10)} "
                f"| {cell(ratio(d['quantlab'], d.get('gguf-py')), 8, 2)}"
                f"{cell(ratio(d['quantlab'], d.get('libgguf')), 9, 3)}",
                flush=True,
            )


if __name__ == "__main__":
    main()

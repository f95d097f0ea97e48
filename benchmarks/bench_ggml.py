"""Throughput of quantlab.ggml vs gguf-py and libgguf (llama.cpp's C, one thread), per GGML type.

    python benchmarks/bench_ggml.py [--weights 1048576] [--repeat 5] [--types Q4_0,Q4_K]

Prints millions of weights per second (Mw/s; x4 for MB/s of float32 input) for quantize and
dequantize, and the ratios quantlab / gguf-py and quantlab / libgguf. Issue 3's targets:
legacy quantize >= 2x gguf-py, dequantize >= gguf-py, K-quant quantize >= libgguf (one thread).
gguf-py quantizes only the legacy types; "-" marks what a library cannot do.
"""

import argparse
import os
import time

os.environ.setdefault("LIBGGUF_NUM_THREADS", "1")  # read by libgguf: compare with one C thread

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

TYPES = ["Q8_0", "Q4_0", "Q4_1", "Q5_0", "Q5_1", "IQ4_NL", "Q2_K", "Q3_K", "Q4_K", "Q5_K", "Q6_K"]


def best_time(function, repeat):
    """Shortest wall time of `repeat` calls (after one warm-up call), in seconds."""
    function()
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        function()
        times.append(time.perf_counter() - start)
    return min(times)


def throughput(function, n_weights, repeat):
    """Millions of weights per second, or None if the library cannot do it."""
    try:
        return n_weights / best_time(function, repeat) / 1e6
    except NotImplementedError:
        return None


def measure(type_name, x, repeat):
    """Quantize and dequantize rates for the three libraries, in Mw/s (None = not available)."""
    qtype = GGMLQuantizationType[type_name] if gguf else None
    ours_bytes = ggml.quantize(x, type_name)
    rates = {
        "quantize": {"quantlab": throughput(lambda: ggml.quantize(x, type_name), x.size, repeat)},
        "dequantize": {"quantlab": throughput(lambda: ggml.dequantize(ours_bytes, type_name), x.size, repeat)},
    }
    if gguf:
        rates["quantize"]["gguf-py"] = throughput(lambda: gguf.quants.quantize(x, qtype), x.size, repeat)
        rates["dequantize"]["gguf-py"] = throughput(lambda: gguf.quants.dequantize(ours_bytes, qtype), x.size, repeat)
    if libgguf:
        reference = libgguf.quantize_rows(x, qtype)
        assert np.array_equal(reference, ours_bytes), f"{type_name}: quantlab's bytes differ from llama.cpp's"
        rates["quantize"]["libgguf"] = throughput(lambda: libgguf.quantize_rows(x, qtype), x.size, repeat)
        rates["dequantize"]["libgguf"] = throughput(lambda: libgguf.dequantize_rows(reference, qtype), x.size, repeat)
    return rates


def cell(value, width=9, digits=1):
    return f"{value:{width}.{digits}f}" if value is not None else f"{'-':>{width}}"


def ratio(ours, theirs):
    return ours / theirs if ours is not None and theirs is not None else None


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--weights", type=int, default=1 << 20, help="weights per tensor (rows of 1024)")
    parser.add_argument("--repeat", type=int, default=5, help="timed calls per measurement (best is kept)")
    parser.add_argument("--types", default=",".join(TYPES), help="comma-separated GGML types")
    args = parser.parse_args()

    rows = max(1, args.weights // 1024)
    x = (np.random.default_rng(0).standard_normal((rows, 1024)) * 0.02).astype(np.float32)
    print(
        f"{x.size:,} float32 weights as {rows} rows of 1024; best of {args.repeat}; "
        f"libgguf threads: {os.environ['LIBGGUF_NUM_THREADS']}; Mw/s = million weights per second"
    )
    print(
        f"{'':8}| {'quantize Mw/s':^29} | {'ratio quantlab /':^17} | {'dequantize Mw/s':^29} | {'ratio quantlab /':^17}"
    )
    print(
        f"{'type':8}| {'quantlab':>9}{'gguf-py':>10}{'libgguf':>10} | {'gguf-py':>8}{'libgguf':>9} "
        f"| {'quantlab':>9}{'gguf-py':>10}{'libgguf':>10} | {'gguf-py':>8}{'libgguf':>9}"
    )
    for type_name in [t.strip().upper() for t in args.types.split(",")]:
        try:
            rates = measure(type_name, x, args.repeat)
        except NotImplementedError as error:
            print(f"{type_name:8}| skipped: {error}")
            continue
        q, d = rates["quantize"], rates["dequantize"]
        print(
            f"{type_name:8}| {cell(q['quantlab'])}{cell(q.get('gguf-py'), 10)}{cell(q.get('libgguf'), 10)} "
            f"| {cell(ratio(q['quantlab'], q.get('gguf-py')), 8, 2)}{cell(ratio(q['quantlab'], q.get('libgguf')), 9, 3)} "
            f"| {cell(d['quantlab'])}{cell(d.get('gguf-py'), 10)}{cell(d.get('libgguf'), 10)} "
            f"| {cell(ratio(d['quantlab'], d.get('gguf-py')), 8, 2)}{cell(ratio(d['quantlab'], d.get('libgguf')), 9, 3)}"
        )


if __name__ == "__main__":
    main()

"""Throughput of quantlab.ggml.quantize with an importance matrix vs without, per GGML type.

    python benchmarks/imatrix_quantize.py [--rows 256] [--row-length 4096] [--repeat 3] [--types Q4_0,Q4_K]

Prints millions of weights per second (Mw/s) without and with imatrix=, their ratio (issue 10's
target: the weighted path within 2x of the unweighted one), and libgguf's weighted C path (one
thread) for scale. The weights are Gaussian rows, the importance matrix a heavy-tailed gamma draw.
"""

import argparse
import os

os.environ.setdefault("LIBGGUF_NUM_THREADS", "1")  # read by libgguf: compare with one C thread

import numpy as np  # noqa: E402

import quantlab.ggml as ggml  # noqa: E402
from bench_ggml import best_time  # noqa: E402

try:
    import libgguf
    from gguf import GGMLQuantizationType
except ImportError:  # the oracles are test extras: pip install -e .[test]
    libgguf = None

TYPES = ["Q4_0", "Q4_1", "Q5_0", "Q5_1", "IQ4_NL", "Q2_K", "Q3_K", "Q4_K", "Q5_K", "Q6_K"]


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=256)
    parser.add_argument("--row-length", type=int, default=4096)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--types", default=",".join(TYPES))
    args = parser.parse_args()
    rng = np.random.default_rng(0)
    x = (rng.standard_normal((args.rows, args.row_length)) * 0.02).astype(np.float32)
    importance = rng.gamma(0.5, 1.0, args.row_length).astype(np.float32)
    million = x.size / 1e6
    print(f"{args.rows} x {args.row_length} float32 weights; Mw/s = millions of weights per second")
    print(f"{'type':7} {'plain':>8} {'imatrix':>8} {'ratio':>6} {'libgguf imatrix':>16}")
    for name in args.types.split(","):
        plain = best_time(lambda: ggml.quantize(x, name), args.repeat)
        weighted = best_time(lambda: ggml.quantize(x, name, imatrix=importance), args.repeat)
        oracle = "-"
        if libgguf is not None:
            c = best_time(lambda: libgguf.quantize_rows(x, GGMLQuantizationType[name], imatrix=importance), args.repeat)
            oracle = f"{million / c:.1f}"
        print(f"{name:7} {million / plain:8.1f} {million / weighted:8.1f} {weighted / plain:6.2f} {oracle:>16}")


if __name__ == "__main__":
    main()

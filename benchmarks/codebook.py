"""How long k-means codebooks and the grid comparison take, and the MSE table they produce.

Run: .venv/bin/python benchmarks/codebook.py   (prints figures; asserts nothing)
"""

import time

import numpy as np

from quantlab import codebook, data


def timed(call, repeats=20):
    """Median and 95th percentile wall time of `call()`, in milliseconds."""
    call()  # warm up (imports, caches)
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        call()
        times.append((time.perf_counter() - start) * 1e3)
    return np.median(times), np.percentile(times, 95)


def main():
    print("k-means, 4096 weights (median / p95 ms, Lloyd steps to convergence)")
    for distribution in ("gaussian", "laplace"):
        w = data.weights(distribution, 4096)
        for k, group_size in ((16, None), (16, 64), (16, 256), (4, 64), (8, None)):
            result = codebook.kmeans(w, k, group_size)
            median, p95 = timed(lambda: codebook.kmeans(w, k, group_size))
            where = "per tensor" if group_size is None else f"block {group_size}"
            print(
                f"  {distribution:8s} k={k:2d} {where:11s} {median:6.2f} / {p95:6.2f} ms  steps={result.n_iterations}"
            )

    print("\ncompare_grids, 4096 weights (median / p95 ms)")
    w = data.gaussian(4096)
    for bits, group_size in ((4, 64), (2, 64), (4, None)):
        median, p95 = timed(lambda: codebook.compare_grids(w, bits, group_size))
        print(f"  bits={bits} block={group_size}: {median:6.2f} / {p95:6.2f} ms")

    print("\nMSE relative to the weights' variance (bits per weight in brackets), 4096 weights, std 0.02")
    for distribution in ("gaussian", "laplace"):
        w = data.weights(distribution, 4096)
        for group_size in (64, None):
            for bits in (2, 3, 4):
                rows = codebook.compare_grids(w, bits, group_size)
                where = "per tensor" if group_size is None else f"block {group_size}"
                cells = "  ".join(f"{r.name} {r.mse / w.var():.4f} ({r.bits_per_weight:.3f})" for r in rows)
                print(f"  {distribution:8s} {where:10s} bits={bits}: {cells}")


if __name__ == "__main__":
    main()

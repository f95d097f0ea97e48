"""Measure the curves of notebook 10's explorers for every layer (what a change of layer used to recompute).

    python benchmarks/activation_curves.py                         CPU ms to measure each layer's curves, no writing
    OPENBLAS_NUM_THREADS=1 python benchmarks/activation_curves.py --write     the asset (~1 minute)

--write: quantlab/assets/activation_curves.json (activations.curves.write_asset): for all 29 layers (MiniLM's
18, the character model's 9, the two planted ones), LLM.int8() at every threshold, SmoothQuant at every alpha,
the rotation's errors at 8 and 4 bits, with the versions and settings; the explorers read it,
tests/test_activation_curves.py recomputes layers from nothing and compares.
"""

import argparse
import os
import time

from quantlab.activations import curves, layers


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--write", action="store_true", help=f"write {curves.ASSET.name}")
    args = parser.parse_args()
    print(f"load average at start: {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs")
    if args.write:
        start = time.perf_counter()
        record = curves.write_asset(progress=lambda i, n, key: print(f"{i + 1}/{n} {key}", flush=True))
        print(f"wrote {curves.ASSET} ({len(record['layers'])} layers) in {time.perf_counter() - start:.0f} s")
        return
    print(f"{'layer':22}{'x (tokens, in)':>16}{'CPU ms':>8}")
    for _, key in layers.layer_keys():
        layers.layer_pair(key)  # the capture is not part of a layer's curves
        start = time.process_time()
        curves.measure(key)
        x, _ = layers.layer_pair(key)
        print(f"{key:22}{str(x.shape):>16}{1e3 * (time.process_time() - start):>8.0f}", flush=True)


if __name__ == "__main__":
    main()

"""Outliers in activations on the real models: statistics, then every W8A8 / W4A8 / W4A4 method, with timings.

    python benchmarks/activations.py [--minilm-only] [--no-sweep]

1. Statistics of every linear layer's input (MiniLM on its 40 sentences; the character model on
   4,096 held-out characters): max |x|, median channel max |x|, channel kurtosis, LLM.int8()'s outlier
   features (|x| >= 6) and the systematic ones (>= 25% of layers, >= 6% of positions, sec. 4.1),
   beside MiniLM's outlier weight dimensions (minilm_outliers.outlier_dimensions).
2. The comparison table (quantlab.activations.compare.methods()): MiniLM mean/min embedding cosine to
   FP32, the character model's perplexity and KL to FP32; seconds per row (both models).
3. SmoothQuant's alpha sweep at W8A8 per-tensor; 4. a planted lone outlier vs an outlier channel;
5. MiniLM's real weight matrices at 4 bits before/after rotation; 6. one-layer knobs (effects.Layer,
what notebook 10's sliders call): setup and per-setting times.
Timings: wall clock, one process; the machine is shared, so they move with its load (printed).
"""

import argparse
import os
import resource
import time

import numpy as np

from quantlab.models import minilm_outliers
from quantlab.activations import capture, compare, effects, planted, stats


def print_stats(title, inputs, readers):
    print(f"\n{title}: input of every linear (q/k/v share one), {next(iter(inputs.values())).shape[0]} tokens")
    print(
        f"{'layer input':46} {'max|x|':>7} {'median ch max':>13} {'kurt max':>8} {'kurt med':>8} {'n >= 6':>6}  "
        "features >= 6 (share of tokens)"
    )
    for s in stats.layer_table(inputs):
        shown = ", ".join(
            f"{f} ({t:.3f})" for f, t in sorted(zip(s.outlier_features, s.token_share), key=lambda p: -p[1])[:4]
        )
        print(
            f"{s.name:46} {s.max_abs:7.2f} {s.median_channel_absmax:13.2f} {s.max_kurtosis:8.1f} "
            f"{s.median_kurtosis:8.2f} {len(s.outlier_features):6d}  {shown}"
        )
    found = stats.systematic_features(capture.residual_inputs(inputs, readers))
    print(
        f"systematic (LLM.int8() sec. 4.1) over the {found.n_layers} residual-stream inputs ({', '.join(readers)}):",
        ", ".join(
            f"dim {f}: {l:.0%} of layers, {t:.1%} of positions"
            for f, l, t in zip(found.features, found.layer_share, found.token_share)
        )
        or "none",
    )
    return found


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minilm-only", action="store_true", help="MiniLM only (the <= 30 s target)")
    parser.add_argument("--no-sweep", action="store_true", help="skip the SmoothQuant alpha sweep")
    args = parser.parse_args()
    models = ("minilm",) if args.minilm_only else ("minilm", "char")
    print(f"load average at start: {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs")

    bench = compare.Bench()
    start = time.perf_counter()
    inputs, _ = bench.minilm_capture
    print(f"MiniLM FP32 capture: {time.perf_counter() - start:.2f} s (weights loaded, 40 sentences)")
    found = print_stats("MiniLM", inputs, capture.MINILM_RESIDUAL_READERS)
    weight_dims = minilm_outliers.outlier_dimensions(top=8)
    print("MiniLM outlier weight dimensions (dim, outlier weights, matrices):", weight_dims)
    print(
        "systematic activation features among them:",
        sorted(set(found.features.tolist()) & {d for d, _, _ in weight_dims}),
    )
    if "char" in models:
        start = time.perf_counter()
        char_inputs, reference = bench.char_capture
        print(
            f"\ncharacter model FP32 capture + evaluation: {time.perf_counter() - start:.2f} s; "
            f"FP32 perplexity {reference.perplexity:.4f} on {reference.n_predictions} predictions"
        )
        print_stats("character model", char_inputs, capture.CHAR_RESIDUAL_READERS)

    def progress(i, n, method):
        print(f"  [{i + 1}/{n}] {method.label}" if i < n else "  done", flush=True)

    start = time.perf_counter()
    table = compare.comparison_table(bench, models=models, progress=progress)
    total = time.perf_counter() - start
    print("\n" + compare.format_table(table))
    w8a8 = [r for r in table if r["W"] == 8]
    print(
        f"\nW8A8 rows: {sum(r['seconds'] for r in w8a8):.1f} s; all {len(table)} rows: {total:.1f} s "
        f"({'MiniLM only' if args.minilm_only else 'both models'})"
    )

    other = compare.Bench(calibration="other")
    print(
        "\nSmoothQuant calibrated on other text (Twelfth Night: 40 lines for MiniLM, 4,096 characters for the "
        "character model) instead of the evaluation text:"
    )
    rows = [m for m in compare.methods() if m.kind == "smoothquant"]
    print("\n".join(compare.format_table([other.row(m, models) for m in rows]).splitlines()[2:]))

    if not args.no_sweep:
        start = time.perf_counter()
        sweep = compare.best_alpha(bench, models=models)
        print(
            f"\nSmoothQuant alpha sweep, W8A8 per-tensor ({time.perf_counter() - start:.1f} s; best alpha chosen "
            "on the evaluation text itself: optimistic)"
        )
        for alpha, cosine, kl in sweep:
            print(
                f"  alpha {alpha:.1f}: MiniLM mean cos {cosine:.6f}" + (f", char KL {kl:.5f}" if kl is not None else "")
            )

    print("\nPlanted outlier (size 100 in N(0,1), 256 x 384), relative error of A B^T after quantizing A:")
    print(f"{'bits':>4} {'outlier':8} {'scale':6} {'plain':>8} {'rotated':>8}  (median row: plain / rotated)")
    results = planted.planted_table()
    for plain, rotated in zip(results[::2], results[1::2]):
        print(
            f"{plain.bits:4} {plain.kind:8} {plain.scale:6} {plain.relative_error:8.4f} {rotated.relative_error:8.4f}"
            f"  ({plain.median_row_error:.4f} / {rotated.median_row_error:.4f})"
        )
    print("\nMiniLM's real weights, 4-bit round-to-nearest, relative error ||W_hat - W|| / ||W|| before -> after W Q:")
    print(f"{'matrix':46} {'max|w|/std':>10} {'per-row scales':>17} {'per-tensor scale':>17}")
    for r in effects.rotation_on_weights(
        {n: w for n, w in bench.minilm_weights.items() if n.startswith("encoder.layer.") and w.ndim == 2}
    ):
        if r["max_over_std"] > 20 or ".layer.3." in r["name"]:
            print(
                f"{r['name']:46} {r['max_over_std']:10.1f} {r['row']:8.4f} {r['row_rotated']:8.4f} "
                f"{r['tensor']:8.4f} {r['tensor_rotated']:8.4f}"
            )
    print("(matrices with max|w|/std > 20, and all of layer 3)")
    layer_knobs(bench)
    print(
        f"peak resident memory of the process: {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MB; "
        f"load average at end: {os.getloadavg()[0]:.1f}"
    )


def layer_knobs(bench, repeats=20):
    """Median and p95 milliseconds per knob setting on two MiniLM layers (W8A8, per-tensor activations)."""
    inputs, _ = bench.minilm_capture
    print("\nOne-layer knobs on MiniLM (W8A8 per-tensor): ms per setting, median / p95 over", repeats, "calls")
    for name in ("encoder.layer.3.intermediate.dense.weight", "encoder.layer.0.output.dense.weight"):
        start = time.perf_counter()
        layer = effects.Layer(inputs[name], bench.minilm_weights[name])
        rotation = layer.rotation()
        setup = (time.perf_counter() - start) * 1e3
        line = f"  {name:44} setup (float product, rotation) {setup:5.0f} ms"
        for knob, values in ((layer.threshold, (3.0, 6.0, 10.0, 20.0)), (layer.alpha, (0.2, 0.5, 0.8, 1.0))):
            times = []
            for i in range(repeats):
                start = time.perf_counter()
                knob(values[i % len(values)])
                times.append((time.perf_counter() - start) * 1e3)
            line += f"; {knob.__name__} {np.median(times):.0f} / {np.percentile(times, 95):.0f}"
        print(line)
        t6, a5 = layer.threshold(6.0), layer.alpha(0.5)
        print(
            f"    t=6: {t6.n_float_features} features in float, int8 share {t6.int8_share:.4f}, error "
            f"{t6.relative_error:.4f} (plain {layer.plain_error:.4f}); alpha=0.5: difficulty x {a5.activation_difficulty:.1f} "
            f"/ W {a5.weight_difficulty:.1f}, error {a5.relative_error:.4f}; rotation: max kurtosis "
            f"{np.nanmax(rotation.kurtosis_before):.1f} -> {np.nanmax(rotation.kurtosis_after):.2f}, max|x| "
            f"{rotation.max_abs_before:.1f} -> {rotation.max_abs_after:.2f}, error {rotation.error_after:.4f}"
        )


if __name__ == "__main__":
    np.seterr(all="ignore")
    main()

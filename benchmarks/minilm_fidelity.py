"""MiniLM embedding fidelity per GGML type, with time and memory; then the real outlier channels.

    python benchmarks/minilm_fidelity.py [--sentences N] [--no-outliers]

For each type, every encoder matrix (36: query, key, value, attention output, FFN up, FFN down) is
quantized with quantlab.ggml and decoded; the encoder then embeds minilm.SENTENCES and each vector
is compared with its FP32 twin by cosine. "*": a K type, which fits only FFN down (rows of 1536);
the other 30 matrices (rows of 384) take llama.cpp's fallback type, listed under "types used".
bits/weight is over the 36 matrices (embedding tables stay FP32). Seconds: quantize + embed, one
process, after the FP32 reference is cached. Peak memory: tracemalloc's peak of numpy/Python
allocations during the row, and the process's peak resident set at the end (ru_maxrss).
"""

import argparse
import resource
import time
import tracemalloc

from quantlab.models import minilm, minilm_outliers

TYPES = ["F32", "F16", "Q8_0", "Q6_K", "Q5_K", "Q5_1", "Q5_0", "Q4_K", "Q4_1", "IQ4_NL", "Q4_0", "Q3_K", "Q2_K"]


def fidelity_table(sentences):
    start = time.perf_counter()
    minilm.embedding_fidelity("F32", sentences)  # caches the FP32 reference embeddings
    print(f"FP32 reference: {len(sentences)} sentences embedded in {time.perf_counter() - start:.2f} s\n")
    print(
        f"{'type':8} {'bits/weight':>11} {'mean cos':>9} {'min cos':>9} {'1-mean':>9} {'seconds':>8} {'peak MB':>8}  types used"
    )
    for type_name in TYPES:
        tracemalloc.start()
        start = time.perf_counter()
        result = minilm.embedding_fidelity(type_name, sentences)
        seconds = time.perf_counter() - start
        peak = tracemalloc.get_traced_memory()[1] / 2**20
        tracemalloc.stop()
        star = "*" if type_name.endswith("_K") else ""
        used = ", ".join(f"{t} x{n}" for t, n in sorted(result.type_counts.items(), key=lambda item: -item[1]))
        print(
            f"{type_name + star:8} {result.bits_per_weight:11.3f} {result.mean_cosine:9.6f} {result.min_cosine:9.6f} "
            f"{1 - result.mean_cosine:9.2e} {seconds:8.2f} {peak:8.0f}  {used}"
        )


def outlier_report():
    rows = minilm_outliers.outlier_summary(group_size=32, bits=4, threshold=6.0)
    print("\nOutliers (|w| > 6 std of the matrix); groups of 32 along rows; 4-bit symmetric RTN per group.")
    print(
        f"{'layer':>5} {'role':12} {'max|w|/std':>10} {'largest at':>12} {'resid dim':>9} {'outliers':>8} "
        f"{'ruined groups':>14} {'MSE share':>9}  rows with most ruined groups"
    )
    for r in rows:
        if r["max_over_std"] < 15 and r["role"] != "ffn_down":
            continue
        print(
            f"{r['layer']:5} {r['role']:12} {r['max_over_std']:10.1f} {str(r['largest_at']):>12} {r['residual_dim']:9} "
            f"{r['n_outliers']:8} {r['n_ruined']:6}/{r['n_groups']:<7} {r['mse_share']:9.3f}  {r['ruined_rows']}"
        )
    print("(matrices with max|w|/std < 15 and not ffn_down left out)")
    print(
        "\nResidual dimensions holding most outlier weights (dim, outliers, matrices):",
        minilm_outliers.outlier_dimensions(top=8),
    )


def ruined_groups_experiment(sentences):
    """Do the ruined groups cost the embeddings much? Quantize, put them back in FP32, compare."""
    reference = minilm.embed(sentences)
    print("\nRuined groups (32, > 6 std) restored to FP32 after quantizing; mean / min cosine to FP32:")
    for type_name in ("Q4_0", "Q2_K"):
        quantized = minilm.quantized_weights(minilm.plan_minilm_types(type_name))
        restored = minilm_outliers.restore_ruined_groups(quantized)
        before, after = (minilm.cosine(minilm.embed(sentences, w), reference) for w in (quantized, restored))
        print(
            f"  {type_name:5} as is {before.mean():.6f} / {before.min():.6f}   "
            f"ruined groups exact {after.mean():.6f} / {after.min():.6f}"
        )


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--sentences",
        type=int,
        default=len(minilm.SENTENCES),
        help=f"use the first N of the {len(minilm.SENTENCES)} fixed sentences",
    )
    parser.add_argument("--no-outliers", action="store_true", help="skip the outlier-channel report")
    args = parser.parse_args()
    fidelity_table(minilm.SENTENCES[: args.sentences])
    if not args.no_outliers:
        outlier_report()
        ruined_groups_experiment(minilm.SENTENCES[: args.sentences])
    print(f"\nprocess peak resident memory: {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MB")


if __name__ == "__main__":
    main()

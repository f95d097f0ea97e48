"""Time GPTQ on every linear layer of the character model, and imatrix-weighted GGUF quantization.

    python benchmarks/calibration.py [--windows 64] [--bits 4] [--group-size 32] [--act-order] [--mixes] [--methods]
    python benchmarks/calibration.py --minilm      GPTQ on all 36 MiniLM matrices, timed (target <= 60 s on 2 cores)
    OPENBLAS_NUM_THREADS=1 python benchmarks/calibration.py --write     notebook 09's table asset (~15 min)

Calibration text: the model's TRAINING text (training/char_lm_data.load_split; the held-out plays
are never used here), `--windows` random windows of one context length each (seeded). Each linear
layer's inputs come from one forward pass of the F32 model (CharLM.logits(ids, inputs_of=...)).
Prints, per layer: Hessian and GPTQ seconds (and AWQ's search, for comparison), and the output error of GPTQ relative to
round-to-nearest on the same grids, on the calibration tokens and on other training-text windows
(GPTQ fits its calibration tokens: the second ratio is the honest one); then the total (issue 10's target: <= 10 s on 2 cores), and
Q4_K/Q3_K/Q2_K quantization of the same tensors with and without an importance matrix (target:
the weighted path within 2x of the unweighted one). --mixes adds perplexity and KL on the whole
held-out text for Q4_K_M, Q3_K_M and Q2_K with and without the importance matrix (~3 min).
--methods (notebook 09's table): every blk.* matrix quantized by RTN, GPTQ, GPTQ act-order and AWQ
(INT4 and INT3, groups of 32) and by Q4_K/Q3_K/Q2_K with and without the imatrix (embedding and
output head left in F32), each scored on the whole held-out text; then the flattery experiment:
GPTQ INT3 and Q3_K_M + imatrix calibrated on training text, on the held-out text itself and on
random characters (~10 min under load). Every layer is calibrated on the F32 model's inputs.
--minilm: GPTQ (INT4, groups of 128) on every MiniLM encoder matrix from 256 lines of Twelfth Night,
timed per matrix (Hessian + GPTQ; q, k and v share one input and one Hessian), and the total.
--write: quantlab/assets/calibration_table.json (calibration.reports.write_table): the --methods and
--mixes rows plus MiniLM's (RTN/GPTQ/GPTQ act-order/AWQ at INT4/INT3 g128, Q4_K/Q3_K/Q2_K +- imatrix),
with the command and versions; notebook 09 renders it, tests/test_calibration_table.py recomputes rows.
--imatrix-layers: each blk.* matrix's output error on held-out inputs, Q3_K and Q2_K, without and with
the training-text imatrix (each layer alone; ~30 s).
"""

import argparse
import os
import sys
import time
from pathlib import Path

# One BLAS thread: on a machine shared with other jobs OpenBLAS's threads spin against each other
# (measured here: Cholesky of 1024 x 1024 in 2.7 s with 2 threads under load, 0.07 s with 1).
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import numpy as np  # noqa: E402

import quantlab.ggml as ggml  # noqa: E402
from quantlab.calibration import awq, gptq, imatrix, objective  # noqa: E402
from quantlab.calibration.base import round_to_nearest  # noqa: E402
from quantlab.calibration import lesson  # noqa: E402
from quantlab.lm import CharLM, evaluation, quality  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "training"))
from char_lm_data import load_split  # noqa: E402


def training_windows(model, n_windows, seed):
    """n_windows windows of context_length characters from the training text, as ids (n, length)."""
    train_text, _ = load_split()
    length = model.config.context_length
    starts = np.random.default_rng(seed).integers(0, len(train_text) - length, n_windows)
    return np.stack([model.encode(train_text[s : s + length], errors="replace") for s in starts])


def seconds(function):
    start = time.perf_counter()
    result = function()
    return time.perf_counter() - start, result


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--windows", type=int, default=64)
    parser.add_argument("--bits", type=int, default=4)
    parser.add_argument("--group-size", type=int, default=32)
    parser.add_argument("--act-order", action="store_true")
    parser.add_argument("--mixes", action="store_true")
    parser.add_argument("--methods", action="store_true")
    parser.add_argument("--imatrix-layers", action="store_true")
    parser.add_argument("--minilm", action="store_true")
    parser.add_argument("--write", action="store_true")
    args = parser.parse_args()
    if args.minilm:
        minilm_gptq(args.act_order)
        return
    if args.write:
        write_asset()
        return
    if args.imatrix_layers:
        imatrix_layers(args.windows)
        return
    if args.methods:
        methods_table(args.windows)
        return

    model = CharLM.load()
    ids = training_windows(model, args.windows, seed=0)
    inputs, other = {}, {}
    forward_seconds, _ = seconds(lambda: model.logits(ids, inputs_of=inputs))
    model.logits(training_windows(model, args.windows, seed=1), inputs_of=other)
    print(
        f"calibration: {ids.size:,} training-text tokens ({args.windows} windows of {ids.shape[1]}); "
        f"forward pass with capture {forward_seconds:.2f} s"
    )
    print(f"GPTQ INT{args.bits}, groups of {args.group_size}, act_order={args.act_order}")
    print(f"BLAS threads: OPENBLAS_NUM_THREADS={os.environ['OPENBLAS_NUM_THREADS']}")
    print(
        f"{'tensor':24} {'shape':>11} {'H s':>6} {'GPTQ s':>7} {'GPTQ/RTN calib':>15} {'other windows':>14}"
        f" {'AWQ s':>6} {'alpha':>5} {'AWQ/RTN other':>14}"
    )
    total, awq_total = forward_seconds, 0.0
    weights = model.weights
    for name, x in inputs.items():
        weight = weights[name]
        h_seconds, hessian = seconds(lambda: gptq.Hessian.from_inputs(x))
        g_seconds, result = seconds(
            lambda: gptq.gptq(weight, hessian, bits=args.bits, group_size=args.group_size, act_order=args.act_order)
        )
        total += h_seconds + g_seconds
        rtn = round_to_nearest(weight, args.bits, group_size=args.group_size)
        ratios = [
            objective.output_error(weight, result.weight, z).total / objective.output_error(weight, rtn, z).total
            for z in (x, other[name])
        ]
        a_seconds, scaled = seconds(lambda: awq.awq(weight, x, bits=args.bits, group_size=args.group_size))
        awq_total += a_seconds
        awq_ratio = (
            objective.output_error(weight, scaled.weight, other[name]).total
            / objective.output_error(weight, rtn, other[name]).total
        )
        print(
            f"{name:24} {str(weight.shape):>11} {h_seconds:6.2f} {g_seconds:7.2f} {ratios[0]:15.3f} {ratios[1]:14.3f}"
            f" {a_seconds:6.2f} {scaled.alpha:5.2f} {awq_ratio:14.3f}"
        )
    print(f"total (forward + Hessians + GPTQ): {total:.2f} s   (target <= 10 s); AWQ's searches: {awq_total:.2f} s")

    print("\nGGUF quantization of the same tensors (all rows of 256 or 1024), best of 3:")
    print(f"{'type':6} {'plain s':>8} {'imatrix s':>10} {'ratio':>6}")
    importance = {name: imatrix.collect(x.reshape(-1, x.shape[-1])) for name, x in inputs.items()}
    for type_name in ("Q4_K", "Q3_K", "Q2_K", "Q4_0"):
        plain = min(seconds(lambda: [ggml.quantize(weights[n], type_name) for n in inputs])[0] for _ in range(3))
        weighted = min(
            seconds(lambda: [ggml.quantize(weights[n], type_name, imatrix=importance[n]) for n in inputs])[0]
            for _ in range(3)
        )
        print(f"{type_name:6} {plain:8.3f} {weighted:10.3f} {weighted / plain:6.2f}")
    if args.mixes:
        mixes_with_and_without(model, imatrix.for_char_lm(model, ids))


def minilm_gptq(act_order):
    """GPTQ INT4 g128 on every MiniLM encoder matrix: seconds per matrix and in total, and the row it gives."""
    from quantlab.calibration import minilm as calibration_minilm
    from quantlab.models import minilm
    from quantlab.models.packaged import load_minilm

    weights = load_minilm()
    capture_seconds, inputs = seconds(calibration_minilm.calibration_inputs)
    names = minilm.encoder_matrices(weights)
    n_tokens = len(inputs[names[0]])
    print(
        f"MiniLM: {len(names)} encoder matrices; calibration: {calibration_minilm.CALIBRATION_LINES} lines of "
        f"Twelfth Night, {n_tokens:,} tokens (capture {capture_seconds:.2f} s, not counted)"
    )
    print(f"BLAS threads: OPENBLAS_NUM_THREADS={os.environ['OPENBLAS_NUM_THREADS']}; act_order={act_order}")
    print(f"{'tensor':48} {'shape':>12} {'H s':>6} {'GPTQ s':>7}")
    hessians, total = {}, 0.0
    for name in names:
        x = inputs[name]
        h_seconds = 0.0
        if id(x) not in hessians:  # q, k and v read the same input: one Hessian
            h_seconds, hessians[id(x)] = seconds(lambda: gptq.Hessian.from_inputs(x))
        g_seconds, _ = seconds(
            lambda: gptq.gptq(weights[name], hessians[id(x)], bits=4, group_size=128, act_order=act_order)
        )
        total += h_seconds + g_seconds
        print(f"{name:48} {str(weights[name].shape):>12} {h_seconds:6.2f} {g_seconds:7.2f}", flush=True)
    print(f"GPTQ on all {len(names)} MiniLM matrices (Hessians + GPTQ): {total:.2f} s   (target <= 60 s on 2 cores)")
    method = "GPTQ act-order" if act_order else "GPTQ"
    row = calibration_minilm.score(method, 4, 128, inputs, weights)
    print(f"embedding cosine to FP32 on the 40 sentences: mean {row.mean_cosine:.5f}, min {row.min_cosine:.5f}")


def write_asset():
    """Measure notebook 09's whole table (character model and MiniLM) and write the JSON asset."""
    from quantlab.calibration import reports

    start = time.perf_counter()

    def progress(i, n, what):
        print(f"[{time.perf_counter() - start:7.1f} s] {i}/{n} {what}", flush=True)

    reports.write_table(progress=progress)
    table = reports.load_table()
    print(reports.header_text(table))
    print(reports.model_text(table.methods + table.flattery + table.mixes, table.reference_perplexity))
    print(reports.minilm_text(table.minilm))
    print(f"wrote {reports.TABLE_PATH}")


def mixes_with_and_without(model, importance):
    """Perplexity and KL to F32 on the whole held-out text, per mix, without and with the imatrix."""
    plain, weighted = quality.QualityMeter(model), quality.QualityMeter(model, imatrix=importance)
    print(f"\nwhole held-out text; F32 perplexity {plain.reference.perplexity:.4f} per character")
    for mix in ("Q4_K_M", "Q3_K_M", "Q2_K"):
        for meter in (plain, weighted):
            q = meter.measure(mix)
            print(
                f"{q.label:18} {q.bits_per_weight:6.3f} bpw  perplexity {q.perplexity:8.4f} "
                f"({100 * q.relative_increase:+7.2f} %)  KL {q.kl_divergence:.5f}"
            )


def imatrix_layers(n_windows):
    """Per blk.* matrix: relative output error on held-out inputs of Q3_K and Q2_K, without / with the imatrix."""
    model = CharLM.load()
    calibration = lesson.layer_inputs(model, training_windows(model, n_windows, seed=0))
    held_out = lesson.layer_inputs(model, lesson.windows(model, "held-out", n_windows, seed=1))
    print(f"{'tensor':26} {'Q3_K':>9} {'+ imatrix':>9} {'ratio':>6} {'Q2_K':>9} {'+ imatrix':>9} {'ratio':>6}")
    for name in (n for n in calibration if n.startswith("blk.")):
        weight = model.weights[name].astype(np.float64)
        score = objective.LayerObjective(weight, held_out[name])
        cells = []
        for type_name in ("Q3_K", "Q2_K"):
            plain, weighted = (
                score(lesson.quantize_layer(type_name + extra, weight, calibration[name])[0]).relative
                for extra in ("", " + imatrix")
            )
            cells.append(f"{plain:9.2e} {weighted:9.2e} {weighted / plain:6.2f}")
        print(f"{name:26} " + " ".join(cells))


def methods_table(n_windows):
    """Notebook 09's table: each method on every blk.* matrix, scored on the whole held-out text."""
    model = CharLM.load()
    meter = quality.QualityMeter(model)
    reference = meter.reference
    held_out_ids = np.stack(
        [
            model.encode(meter.text[s : s + 128], errors="replace")
            for s in range(0, len(meter.text) - 128, len(meter.text) // n_windows)
        ][:n_windows]
    )
    calibration = {
        "training": lesson.layer_inputs(model, training_windows(model, n_windows, seed=0)),
        "held-out": lesson.layer_inputs(model, held_out_ids),
        "random": lesson.layer_inputs(model, lesson.windows(model, "random", n_windows, seed=0)),
    }
    names = [name for name in calibration["training"] if name.startswith("blk.")]
    n_blk = sum(model.weights[n].size for n in names)
    print(
        f"F32 perplexity {reference.perplexity:.4f} per character on {reference.n_predictions:,} held-out characters;"
        f" calibration: {n_windows} windows of 128 characters; blk.* matrices only ({n_blk:,} weights), "
        f"embedding and output head in F32"
    )
    print(
        f"{'method':24} {'calibrated on':>13} {'bpw (blk)':>9} {'perplexity':>10} {'change':>8} {'KL':>8} {'seconds':>8}"
    )

    def row(method, bits, text="training"):
        replaced, total = {}, 0.0
        for name in names:
            replaced[name], seconds = lesson.quantize_layer(
                method, model.weights[name], calibration[text][name], bits, 32
            )
            total += seconds
        bpw = sum(lesson.method_bits(method, model.weights[n], bits, 32) * model.weights[n].size for n in names) / n_blk
        result = evaluation.evaluate(
            model.with_weights({n: w.astype(np.float32) for n, w in replaced.items()}),
            meter.text,
            reference_logits=reference.logits,
        )
        label = method if bits is None else f"INT{bits} g32 {method}"
        print(
            f"{label:24} {text:>13} {bpw:9.3f} {result.perplexity:10.4f} "
            f"{100 * (result.perplexity / reference.perplexity - 1):+7.2f}% {result.kl_divergence:8.5f} {total:8.2f}",
            flush=True,
        )

    for bits in (4, 3):
        for method in lesson.METHODS:
            row(method, bits)
    for type_name in lesson.GGUF_TYPES:
        for extra in ("", " + imatrix"):
            row(type_name + extra, None)
    print("\nflattery: calibrated on the held-out text itself, and on random characters")
    for text in ("held-out", "random"):
        row("GPTQ", 3, text)
        row("Q3_K + imatrix", None, text)
        row("Q2_K + imatrix", None, text)


if __name__ == "__main__":
    main()

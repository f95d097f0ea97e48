"""What the newer GGML types cost in quality: the character model's perplexity and KL, MiniLM's fidelity.

    python benchmarks/new_formats_quality.py [--write]      (~10 min on one core)

Character model (quantlab.lm.CharLM): every matrix of the transformer blocks (blk.*) is stored in
one type; the token embedding and the output head stay F32 (the training-text imatrix has no entry
for them, as llama.cpp's imatrix tool gives none for the embedding). The importance matrix comes
from 64 windows of the TRAINING text (seed 0, quantlab.calibration.imatrix.for_char_lm), used where
the type reads one: with and without it where both are allowed, with it where llama.cpp requires
one, once where the type ignores it. Scored on the whole held-out text (65,536 characters).

MiniLM (all-MiniLM-L6-v2): the 6 FFN down-projections (rows of 1536 = 6 x 256, the only encoder
matrices whose rows are whole 256-blocks) in the type, everything else FP32; mean and min cosine to
the FP32 embeddings of quantlab.models.minilm.SENTENCES. No imatrix (none is collected for MiniLM),
so the types llama.cpp refuses without one are not measured there.

--write stores the table as quantlab/assets/new_formats_quality.json (tests/test_new_formats_quality.py
checks it; notebook 13 shows it).
"""

import argparse
import json
import os
import sys
import time
from pathlib import Path

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import numpy as np  # noqa: E402

from quantlab import ggml  # noqa: E402
from quantlab.calibration import imatrix  # noqa: E402
from quantlab.ggml.formats_tour import NEW_TYPES, imatrix_use  # noqa: E402
from quantlab.lm import CharLM, quality  # noqa: E402
from quantlab.lm.evaluation import evaluate  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "training"))
from char_lm_data import load_split  # noqa: E402

ASSET = Path(__file__).resolve().parent.parent / "quantlab" / "assets" / "new_formats_quality.json"
REFERENCE_TYPES = ("Q8_0", "Q4_K", "Q3_K", "Q2_K")  # the older types, for comparison


def training_windows(model, n_windows, seed):
    """n_windows windows of context_length characters from the training text, as ids (n, length)."""
    train_text, _ = load_split()
    length = model.config.context_length
    starts = np.random.default_rng(seed).integers(0, len(train_text) - length, n_windows)
    return np.stack([model.encode(train_text[s : s + length], errors="replace") for s in starts])


def char_lm_rows(types, on_row=lambda rows: None):
    model = CharLM.load()
    importance = imatrix.for_char_lm(model, training_windows(model, 64, seed=0))
    reference = evaluate(model)
    plain, weighted = quality.TensorCache(model), quality.TensorCache(model, importance)
    shapes = model.tensor_shapes()
    blocks = [name for name, shape in shapes.items() if name.startswith("blk.") and len(shape) == 2]
    n_block_weights = sum(int(np.prod(shapes[name])) for name in blocks)
    rows = []
    for type_name in types:
        use = imatrix_use(type_name)
        variants = {"ignored": [False], "optional": [False, True], "required": [True]}[use]
        for with_imatrix in variants:
            start = time.perf_counter()
            cache = weighted if with_imatrix else plain
            quantized, _, _ = cache.apply({name: type_name for name in blocks})
            result = evaluate(quantized, reference_logits=reference.logits)
            rows.append(
                {
                    "type": type_name,
                    "imatrix": with_imatrix,
                    "bits_per_weight": ggml.format_info(type_name).bits_per_weight,
                    "perplexity": round(float(result.perplexity), 4),
                    "kl_divergence": round(float(result.kl_divergence), 5),
                    "f32_perplexity": round(float(reference.perplexity), 4),
                }
            )
            print(
                f"{type_name:8} {'imatrix' if with_imatrix else '       '} {rows[-1]['bits_per_weight']:7.4f} bpw  "
                f"perplexity {rows[-1]['perplexity']:8.4f} (F32 {rows[-1]['f32_perplexity']:.4f})  "
                f"KL {rows[-1]['kl_divergence']:.5f}   {time.perf_counter() - start:5.1f} s",
                flush=True,
            )
            on_row(rows)
    return rows, n_block_weights


def minilm_rows(types):
    from quantlab.models import minilm

    weights = minilm.load_minilm()
    down = [
        name
        for name in minilm.encoder_matrices(weights)
        if name.endswith("output.dense.weight") and weights[name].shape[1] == 1536
    ]
    rows = []
    for type_name in types:
        if imatrix_use(type_name) == "required":
            continue
        fidelity = minilm.embedding_fidelity({name: type_name for name in down}, weights=weights)
        rows.append(
            {
                "type": type_name,
                "mean_cosine": round(fidelity.mean_cosine, 6),
                "min_cosine": round(fidelity.min_cosine, 6),
                "matrices": len(down),
            }
        )
        print(
            f"MiniLM FFN down x{len(down)} {type_name:8} mean cosine {fidelity.mean_cosine:.6f}  "
            f"min {fidelity.min_cosine:.6f}",
            flush=True,
        )
    return rows


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--write", action="store_true")
    parser.add_argument("--types", nargs="*", default=[*NEW_TYPES, *REFERENCE_TYPES])
    parser.add_argument(
        "--only",
        choices=("char_lm", "minilm"),
        help="measure one model; --write then merges its rows into the committed table",
    )
    args = parser.parse_args()
    minilm = minilm_rows(args.types) if args.only != "char_lm" else None
    if args.only != "minilm":  # with --write, the table is rewritten after each row (a long run can stop)
        char_lm = char_lm_rows(args.types, lambda rows: write(args, minilm, rows))[0]
    else:
        char_lm = None
    write(args, minilm, char_lm)


def merged(old_rows, new_rows):
    """The committed rows with the newly measured ones put in (same type and imatrix: replaced), in type order."""
    rows = {(row["type"], row["imatrix"]): row for row in [*old_rows, *(new_rows or [])]}
    order = [*NEW_TYPES, *REFERENCE_TYPES]
    return sorted(rows.values(), key=lambda row: (order.index(row["type"]), row["imatrix"]))


def write(args, minilm, char_lm):
    """Store the rows measured (None: keep the committed ones), if --write."""
    if args.write:  # read now: the other model's rows may have been written meanwhile (--only)
        old = json.loads(ASSET.read_text()) if ASSET.exists() else {"char_lm": {"rows": []}, "minilm": {"rows": []}}
        table = {
            "command": "python benchmarks/new_formats_quality.py --write",
            "char_lm": {
                "quantized": "every blk.* matrix; token_embd and output F32",
                "imatrix": "64 training-text windows, seed 0, calibration.imatrix.for_char_lm",
                "text": "the whole held-out text",
                "rows": merged(old["char_lm"]["rows"], char_lm),
            },
            "minilm": {
                "quantized": "the 6 FFN down-projections; everything else FP32; no imatrix",
                "rows": old["minilm"]["rows"] if minilm is None else minilm,
            },
        }
        ASSET.write_text(json.dumps(table, indent=1) + "\n")
        print(f"wrote {ASSET}")


if __name__ == "__main__":
    main()

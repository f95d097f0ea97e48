"""What the newer GGML types cost in quality: the character model's perplexity and KL, MiniLM's fidelity.

    python benchmarks/new_formats_quality.py [--write]      (~30 min on one core; --only char_lm|minilm, --types ...)

Character model (quantlab.lm.CharLM): every matrix of the transformer blocks (blk.*) is stored in
one type; the token embedding and the output head stay F32 (the training-text imatrix has no entry
for them, as llama.cpp's imatrix tool gives none for the embedding). The importance matrix comes
from 64 windows of the TRAINING text (seed 0, quantlab.calibration.imatrix.for_char_lm), used where
the type reads one: with and without it where both are allowed, with it where llama.cpp requires
one, once where the type ignores it. Scored on the whole held-out text (65,536 characters).

MiniLM (all-MiniLM-L6-v2): the 6 FFN down-projections (rows of 1536 = 6 x 256, the only encoder
matrices whose rows are whole 256-blocks) in the type, everything else FP32; mean and min cosine to
the FP32 embeddings of quantlab.models.minilm.SENTENCES. The importance matrix is
quantlab.runtime.minilm_file.minilm_imatrix(): the inputs of each FFN down-projection over 40 lines
of Twelfth Night, never the scored sentences. Used where llama.cpp requires one, and also (a second
row) for MINILM_IMATRIX_TYPES.

--write merges the rows measured into quantlab/assets/new_formats_quality.json, row by row and under a
lock, so runs of a few --types each can share the work (tests/test_new_formats_quality.py and
tests/test_type_quality.py check it; notebooks 08 and 13 show it). The committed table: char_lm rows
measured 2026-12-06 in five parallel --types runs; MiniLM rows without an imatrix kept from the first
run, the others added with --new-minilm-rows-only.
"""

import argparse
import fcntl
import tempfile
import json
import os
import sys
import time
from pathlib import Path

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import numpy as np  # noqa: E402

from quantlab.calibration import imatrix  # noqa: E402
from quantlab.lm import CharLM, quality, type_quality  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "training"))
from char_lm_data import load_split  # noqa: E402

ASSET = Path(__file__).resolve().parent.parent / "quantlab" / "assets" / "new_formats_quality.json"
# MiniLM is measured with its importance matrix where llama.cpp requires one, and also for these
MINILM_IMATRIX_TYPES = ("IQ3_S", "IQ3_XXS", "IQ2_S", "IQ2_XS", "IQ2_XXS", "IQ1_M", "IQ1_S", "Q3_K", "Q2_K")


def training_windows(model, n_windows, seed):
    """n_windows windows of context_length characters from the training text, as ids (n, length)."""
    train_text, _ = load_split()
    length = model.config.context_length
    starts = np.random.default_rng(seed).integers(0, len(train_text) - length, n_windows)
    return np.stack([model.encode(train_text[s : s + length], errors="replace") for s in starts])


def char_lm_rows(types, on_row=lambda rows: None):
    model = CharLM.load()
    importance = imatrix.for_char_lm(model, training_windows(model, 64, seed=0))
    meter = type_quality.TypeMeter(model, imatrix=importance)
    rows = []
    for type_name in types:
        for with_imatrix in type_quality.imatrix_variants(type_name):
            start = time.perf_counter()
            row = meter.measure(type_name, with_imatrix)
            rows.append(
                row.record() | {"bits_per_weight": row.bits_per_weight, "f32_perplexity": row.reference_perplexity}
            )
            print(
                f"{type_name:8} {'imatrix' if with_imatrix else '       '} {row.bits_per_weight:7.4f} bpw  "
                f"perplexity {row.perplexity:8.4f} (F32 {row.reference_perplexity:.4f})  "
                f"KL {row.kl_divergence:.5f}   {time.perf_counter() - start:5.1f} s",
                flush=True,
            )
            on_row(rows)
    return rows


def minilm_rows(types, imatrix_types, on_row=lambda rows: None, skip=()):
    from quantlab.models import minilm
    from quantlab.runtime import minilm_file

    weights = minilm.load_minilm()
    down = [
        name
        for name in minilm.encoder_matrices(weights)
        if name.endswith("output.dense.weight") and weights[name].shape[1] == 1536
    ]
    gguf_names = minilm_file.gguf_names(weights)
    collected = minilm_file.minilm_imatrix(weights=weights)  # Twelfth Night lines, never the scored sentences
    importance = {name: collected[gguf_names[name]] for name in down}
    rows = []
    for type_name in types:
        variants = type_quality.imatrix_variants(type_name)
        for with_imatrix in variants:
            if (with_imatrix and type_name not in imatrix_types) or (type_name, with_imatrix) in skip:
                continue
            start = time.perf_counter()
            fidelity = minilm.embedding_fidelity(
                {name: type_name for name in down}, weights=weights, imatrix=importance if with_imatrix else None
            )
            rows.append(
                {
                    "type": type_name,
                    "imatrix": with_imatrix,
                    "mean_cosine": round(fidelity.mean_cosine, 6),
                    "min_cosine": round(fidelity.min_cosine, 6),
                    "matrices": len(down),
                }
            )
            print(
                f"MiniLM FFN down x{len(down)} {type_name:8} {'imatrix' if with_imatrix else '       '} "
                f"mean cosine {fidelity.mean_cosine:.6f}  min {fidelity.min_cosine:.6f}   "
                f"{time.perf_counter() - start:5.1f} s",
                flush=True,
            )
            on_row(rows)
    return rows


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--write", action="store_true")
    parser.add_argument("--types", nargs="*", default=list(type_quality.TYPES))
    parser.add_argument(
        "--minilm-imatrix-types",
        nargs="*",
        default=list(MINILM_IMATRIX_TYPES),
        help="types MiniLM is also (or, where required, only) measured with an importance matrix",
    )
    parser.add_argument(
        "--only",
        choices=("char_lm", "minilm"),
        help="measure one model; --write then merges its rows into the committed table",
    )
    parser.add_argument(
        "--new-minilm-rows-only",
        action="store_true",
        help="measure only the MiniLM rows the committed table lacks (the others stay as committed)",
    )
    args = parser.parse_args()
    if args.only != "char_lm":  # with --write, the table is rewritten after each row (a long run can stop)
        committed = json.loads(ASSET.read_text())["minilm"]["rows"] if args.new_minilm_rows_only else []
        skip = {(row["type"], row.get("imatrix", False)) for row in committed}
        minilm_rows(args.types, args.minilm_imatrix_types, lambda rows: write(args, rows, None), skip)
    if args.only != "minilm":
        char_lm_rows(args.types, lambda rows: write(args, None, rows))


def merged(old_rows, new_rows):
    """The committed rows with the newly measured ones put in (same type and imatrix: replaced), in type order."""
    rows = {
        (row["type"], row.get("imatrix", False)): {"imatrix": False} | row for row in [*old_rows, *(new_rows or [])]
    }
    return sorted(rows.values(), key=lambda row: (type_quality.TYPES.index(row["type"]), row.get("imatrix", False)))


def write(args, minilm, char_lm):
    """Merge the rows measured into the committed table, if --write."""
    if not args.write:
        return
    with open(Path(tempfile.gettempdir()) / "new_formats_quality.lock", "w") as lock:  # parallel runs merge in turn
        fcntl.flock(lock, fcntl.LOCK_EX)
        old = json.loads(ASSET.read_text()) if ASSET.exists() else {"char_lm": {"rows": []}, "minilm": {"rows": []}}
        table = {
            "command": "python benchmarks/new_formats_quality.py --write",
            "char_lm": {
                "quantized": "every blk.* matrix in the type; token_embd, output and norms F32 (lm.type_quality)",
                "imatrix": "64 training-text windows, seed 0, calibration.imatrix.for_char_lm",
                "text": "the whole held-out text",
                "versions": quality.versions() if char_lm else old["char_lm"].get("versions"),
                "rows": merged(old["char_lm"]["rows"], char_lm),
            },
            "minilm": {
                "quantized": "the 6 FFN down-projections in the type; everything else FP32",
                "imatrix": "runtime.minilm_file.minilm_imatrix(): 40 lines of Twelfth Night, not the scored sentences",
                "rows": merged(old["minilm"]["rows"], minilm),
            },
        }
        ASSET.write_text(json.dumps(table, indent=1) + "\n")


if __name__ == "__main__":
    main()

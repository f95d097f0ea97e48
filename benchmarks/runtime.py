"""quantlab's own GGUF files in a real llama.cpp: write times, sizes, fidelity, Gemma rewrites and texts.

    python benchmarks/runtime.py [--part minilm|gemma|all] [--n-predict 32]
    OPENBLAS_NUM_THREADS=1 python benchmarks/runtime.py --write     notebook 11's explorer table (minutes)

--write: quantlab/assets/minilm_runtime_table.json (quantlab.runtime.table.write_table): every distinct
plan notebook 11's three dropdowns produce, written, run in llama.cpp and in numpy, with the command,
the versions (xllamacpp, numpy, quantlab's commit) and the settings; prints the time per plan.

MiniLM: each choice is written with quantlab.runtime.minilm_file (target: <= 5 s), loaded by
llama.cpp (xllamacpp, one thread, flash attention off so attention stays F32), and its 40 sentence
embeddings compared by cosine (min / mean over sentences):
  numpy~llama   quantlab's numpy MiniLM on the file's own decoded weights vs llama.cpp
  llama~fp32    llama.cpp on the file vs numpy FP32 (the cost of quantization as llama.cpp runs it)
  numpy~fp32    numpy on the file's weights vs numpy FP32
  emul~llama    numpy with ggml-cpu's activation rounding (Q8_0/Q8_K) and fp16-table GELU vs llama.cpp
Gemma 3 270M: the packaged Q4_K_M file rewritten into other mixes from its decoded weights
(re-quantization of an already-quantized model; target <= 60 s and <= 1.5 GB), then fixed prompts
completed greedily by llama.cpp with each file, each continuation shown with the words
(characters) it shares with the original file's before it departs. "m:" a mix, "t:" one type for
every tensor llama.cpp would quantize (the embedding too).
Peak RSS: the process's ru_maxrss after each phase (it includes llama.cpp's own memory).
"""

import argparse
import os
import resource
import tempfile
import time
from pathlib import Path

from quantlab.models import minilm, open_gemma
from quantlab.runtime import fidelity, generation, minilm_file, rewrite

MINILM_CHOICES = [
    ("types", "F32"),
    ("types", "F16"),
    ("types", "Q8_0"),
    ("types", "Q5_0"),
    ("types", "Q4_0"),
    ("types", "IQ4_NL"),
    ("mix", "Q6_K"),
    ("mix", "Q5_K_M"),
    ("mix", "Q4_K_M"),
    ("mix", "Q3_K_M"),
    ("mix", "Q2_K"),
]
# Every llama.cpp mix keeps Gemma's tied 262,144 x 640 embedding in Q8_0 (rows of 640 are not whole
# 256-blocks: Q6_K falls back to Q8_0), so a mix rewrite copies it; types= re-quantizes it by rows.
GEMMA_CHOICES = [
    ("mix", "Q8_0"),
    ("mix", "Q6_K"),
    ("mix", "Q5_K_M"),
    ("mix", "Q4_K_S"),
    ("mix", "Q4_0"),
    ("mix", "Q3_K_M"),
    ("mix", "Q2_K"),
    ("types", "Q4_0"),
    ("types", "IQ4_NL"),
]


def peak_rss_mb():
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def minilm_part(folder):
    sentences = list(minilm.SENTENCES)
    fp32 = minilm.embed(sentences)
    print(f"MiniLM (all-MiniLM-L6-v2), {len(sentences)} sentences; cosine min / mean\n")
    print(
        f"{'choice':14} {'write s':>7} {'MB':>6} {'numpy~llama':>19} {'llama~fp32':>19} {'numpy~fp32':>19} "
        f"{'emul~llama':>19}  types"
    )
    last = None
    for kind, name in MINILM_CHOICES:
        path = folder / f"minilm-{kind}-{name}.gguf"
        start = time.perf_counter()
        info = minilm_file.write_minilm(path, **{kind: name})
        seconds = time.perf_counter() - start
        result = fidelity.compare_minilm(path, sentences, fp32=fp32)
        pairs = [getattr(result, f"cosine_{c}") for c in ("numpy_llama", "llama_fp32", "numpy_fp32", "emulated_llama")]
        cells = " ".join(f"{c.min():9.6f} {c.mean():9.6f}" for c in pairs)
        counts = sorted(info.type_counts.items(), key=lambda item: -item[1])
        used = ", ".join(f"{t} x{n}" for t, n in counts if t != "F32")
        print(f"{kind[0]}:{name:12} {seconds:7.2f} {info.n_bytes / 1e6:6.1f} {cells}  {used or 'all F32'}", flush=True)
        last = path
    sensitivity = fidelity.ulp_sensitivity(last, sentences)
    print(
        f"\nOne-ulp nudge of every quantized weight of {last.name} (1 - cosine, mean over sentences): "
        f"numpy {sensitivity['plain'].mean():.1e}, numpy with ggml-cpu's activation rounding "
        f"{sensitivity['ggml'].mean():.1e}"
    )
    print(f"peak RSS after MiniLM: {peak_rss_mb():.0f} MB\n")


def gemma_part(folder, n_predict):
    source = open_gemma()
    print(
        f"Gemma 3 270M: rewriting {source.path.name} ({source.path.stat().st_size / 1e6:.1f} MB, Q4_K_M) "
        f"from its decoded weights: re-quantization of an already-quantized model\n"
    )
    print(f"{'choice':10} {'seconds':>8} {'MB':>7} {'copied':>7} {'requantized':>12}  token_embd")
    files = {"Q4_K_M (original)": source.path}
    for kind, name in GEMMA_CHOICES:
        start = time.perf_counter()
        info = rewrite.rewrite_gguf(source, folder / f"gemma-{kind}-{name}.gguf", **{kind: name})
        seconds = time.perf_counter() - start
        label = f"{kind[0]}:{name}"
        print(
            f"{label:10} {seconds:8.1f} {info.n_bytes / 1e6:7.1f} {info.n_copied:7d} {info.n_requantized:12d}  "
            f"{info.types['token_embd.weight']}",
            flush=True,
        )
        files[label] = info.path
    print(f"peak RSS after the rewrites (before llama.cpp runs): {peak_rss_mb():.0f} MB\n")
    texts = {}
    for label, path in files.items():
        start = time.perf_counter()
        texts[label] = generation.complete_prompts(path, generation.PROMPTS, n_predict)
        seconds = time.perf_counter() - start
        print(f"completed {len(generation.PROMPTS)} prompts with {label} in {seconds:.1f} s", flush=True)
    original = texts["Q4_K_M (original)"]
    print("\nEach continuation: the words (characters) it shares with the original file's before departing")
    for prompt in generation.PROMPTS:
        print(f"\n{prompt!r}")
        for label, by_prompt in texts.items():
            text = by_prompt[prompt]
            parted = generation.departure(original[prompt], text)
            same = "all      " if parted is None else f"{parted.shared_words:3d} ({parted.shared_chars:3d})"
            print(f"  {label:18} {same} | {text!r}")
    print(f"\npeak RSS at the end: {peak_rss_mb():.0f} MB")


def write_asset():
    """Every distinct plan of notebook 11's explorer, run in llama.cpp and numpy, written as the JSON asset."""
    from quantlab.runtime import runs, table

    start = time.perf_counter()
    runner = runs.minilm_runner()
    print(f"FP32 embeddings of {len(runner.sentences)} sentences: {time.perf_counter() - start:.1f} s", flush=True)
    started = []

    def progress(i, n, what):
        now = time.perf_counter()
        if not started:
            started.append(now)
        print(f"[{now - start:7.1f} s] plan {i + 1}/{n}: {what}", flush=True)

    record = table.write_table(progress=progress)
    seconds = time.perf_counter() - started[0]
    n_plans, n_choices = len(record["plans"]), len(record["choices"])
    print(
        f"{n_choices} choices, {n_plans} distinct plans: {seconds:.0f} s to measure them, {seconds / n_plans:.2f} s per "
        f"plan (write, load in llama.cpp, embed in llama.cpp and numpy); peak RSS {peak_rss_mb():.0f} MB; load average "
        f"{os.getloadavg()[0]:.1f}"
    )
    print(f"wrote {table.TABLE_PATH} ({table.TABLE_PATH.stat().st_size / 1e3:.0f} kB)")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--part", choices=("minilm", "gemma", "all"), default="all")
    parser.add_argument("--n-predict", type=int, default=32)
    parser.add_argument("--write", action="store_true", help="measure and write notebook 11's explorer table")
    args = parser.parse_args()
    if args.write:
        write_asset()
        return
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        if args.part in ("gemma", "all"):
            gemma_part(folder, args.n_predict)
        if args.part in ("minilm", "all"):
            minilm_part(folder)


if __name__ == "__main__":
    main()

"""The quality table of notebook 08, measured from scratch: time per row, and whether the committed cache agrees.

    python benchmarks/quality_table.py            # measure, print, compare with quantlab/assets/quality_table.json
    python benchmarks/quality_table.py --write    # measure and (re)write that file

Each row: the CharLM under one llama.cpp mix (recipes.choose_types -> quantlab.ggml quantize ->
dequantize), scored on the whole held-out text (65,536 characters) against the F32 model; then the
same on the explorer's 4,096-character slice. The whole table takes minutes on 2 cores, which is why
the notebook loads the committed file.
"""

import argparse
import resource
import sys
import time

from quantlab.lm import quality


def progress(start):
    def report(i, n, mix):
        print(f"  [{i}/{n}] {time.perf_counter() - start:6.1f} s  {mix}", file=sys.stderr, flush=True)

    return report


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--write", action="store_true", help=f"rewrite {quality.TABLE_PATH}")
    args = parser.parse_args()
    start = time.perf_counter()
    if args.write:
        record = quality.write_table(progress=progress(start))
        rows = [quality.Quality(**row) for row in record["full_text"]]
        short = [quality.Quality(**row) for row in record["explorer_slice"]]
    else:
        model = quality.CharLM.load()
        rows = quality.measure_table(meter=quality.QualityMeter(model), progress=progress(start))
        short = quality.measure_table(meter=quality.QualityMeter(model, quality.explorer_text()))
    seconds = time.perf_counter() - start
    print("Whole held-out text (65,536 characters):")
    print(quality.format_table(rows))
    print("\nExplorer slice (characters %d-%d):" % quality.EXPLORER_SLICE)
    print(quality.format_table(short))
    print(
        f"\n{len(rows) + len(short)} rows in {seconds:.1f} s; peak resident memory "
        f"{resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MB"
    )
    if not args.write:
        table = quality.load_table()
        exact = quality.same_environment(table.versions)
        found = [
            f"{row.label}: {difference}"
            for got, cached in zip(rows + short, table.full_text + table.explorer_slice)
            for row in [got]
            for difference in quality.row_differences(got, cached, exact)
        ]
        agrees = (
            "agrees exactly"
            if exact
            else f"agrees (another numpy/BLAS/CPU: scores within {quality.SCORE_TOLERANCE:.0e} nats)"
        )
        print(
            "the committed table",
            agrees if not found else f"DIFFERS: run {quality.REFRESH_COMMAND}\n" + "\n".join(found),
        )


if __name__ == "__main__":
    main()

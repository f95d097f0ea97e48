"""How far the quality table's floats move when only the float32 summation order changes.

    python benchmarks/quality_spread.py           # explorer slice, every mix of the table (about a minute)
    python benchmarks/quality_spread.py --full    # also Q4_K_M and Q2_K on the whole held-out text (many minutes)

The same rows are measured with 1 and 2 BLAS threads (each in a fresh process: OpenBLAS reads its
thread count at start) and with two batch sizes (other matrix shapes, so other BLAS blockings),
then compared with the committed table. Bytes (sha256) must be equal; the printed spread of
perplexity, mean NLL and KL, in nats, is what quality.SCORE_TOLERANCE has to cover. Run it under
another numpy to see a version's spread (make test-lowest installs the lowest one in .venv-lowest).
"""

import argparse
import json
import math
import os
import subprocess
import sys

FLOATS = ("mean_nll", "kl_divergence")


def child(full, batch_sizes):
    """Print {key: {field: value}} for every (text, mix, batch size) measured in this process."""
    from unittest import mock

    from quantlab.lm import evaluation, quality

    model = quality.CharLM.load()
    texts = {"slice": quality.explorer_text()} | ({"full": None} if full else {})
    out = {}
    for text_name, text in texts.items():
        mixes = quality.TABLE_MIXES if text_name == "slice" else ("Q4_K_M", "Q2_K")
        for batch_size in batch_sizes:
            plain = evaluation.evaluate
            with mock.patch.object(quality, "evaluate", lambda *a, **k: plain(*a, **k, batch_size=batch_size)):
                meter = quality.QualityMeter(model, text)
                for mix in mixes:
                    row = meter.measure(mix)
                    out[f"{text_name} {mix} batch={batch_size}"] = {
                        "sha256": row.sha256,
                        "mean_nll": row.mean_nll,
                        "kl_divergence": row.kl_divergence,
                        "reference_mean_nll": math.log(row.reference_perplexity),
                    }
    print(json.dumps(out))


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--full", action="store_true", help="also two rows on the whole held-out text")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    batch_sizes = (64, 5)
    if args.child:
        return child(args.full, batch_sizes)
    import numpy as np

    from quantlab.lm import quality

    table = quality.load_table()
    runs = {}
    for threads in ("1", "2"):
        env = dict(os.environ, OPENBLAS_NUM_THREADS=threads, OMP_NUM_THREADS=threads)
        command = [sys.executable, __file__, "--child"] + (["--full"] if args.full else [])
        result = json.loads(subprocess.run(command, env=env, capture_output=True, text=True, check=True).stdout)
        runs.update({f"{key} threads={threads}": value for key, value in result.items()})
    print(
        f"numpy {np.__version__}; {quality.environment()['blas']}; table written with numpy "
        f"{table.versions['numpy']}, {table.versions['blas']}"
    )
    spread = {"mean_nll": 0.0, "kl_divergence": 0.0, "reference_mean_nll": 0.0, "kl relative": 0.0}
    for key, got in sorted(runs.items()):
        text_name, mix = key.split()[:2]
        cached = table.row(mix, text=text_name)
        assert got["sha256"] == cached.sha256, f"{key}: other bytes than the table's"
        expected = {
            "mean_nll": cached.mean_nll,
            "kl_divergence": cached.kl_divergence,
            "reference_mean_nll": math.log(cached.reference_perplexity),
        }
        for name, value in expected.items():
            spread[name] = max(spread[name], abs(got[name] - value))
        if cached.kl_divergence:
            spread["kl relative"] = max(spread["kl relative"], abs(got["kl_divergence"] / cached.kl_divergence - 1))
    print(f"{len(runs)} rows (threads 1 and 2, batch sizes {batch_sizes}); bytes equal to the table's in every row")
    print("largest difference from the committed table, nats (KL also relative):")
    for name, value in spread.items():
        print(f"  {name:<20} {value:.3e}")
    print(f"quality.SCORE_TOLERANCE = {getattr(quality, 'SCORE_TOLERANCE', None)} nats")


if __name__ == "__main__":
    main()

"""Time and peak memory of the real-weight paths: each step in a fresh Python process.

    python benchmarks/models_memory.py [--with-gguf-py]

Prints wall time and the process's peak resident memory (ru_maxrss: Python and numpy included,
about 40 MB on their own; pages of the memory-mapped GGUF file that were read count too). Issue
5's target: default notebook paths stay well under 1.5 GB. --with-gguf-py also times gguf-py's
GGUFReader on the Gemma file, for comparison with quantlab's own header parser.
"""

import argparse
import subprocess
import sys
import textwrap

STEPS = {
    "import quantlab.models, mixes": "import quantlab.models, quantlab.mixes",
    "MiniLM: load all tensors": "from quantlab import models; models.load_minilm()",
    "MiniLM: outlier table (37 matrices)": """
        from quantlab import models
        from quantlab.models import outlier_channels
        outlier_channels.outlier_table(models.minilm_linear_weights())""",
    "Gemma: path (assembled, sha256 checked)": "from quantlab import models; models.gemma_path()",
    "Gemma: open (metadata + 236 tensor entries)": "from quantlab import models; models.open_gemma()",
    "Gemma: 1,024 embedding rows by token id": """
        import numpy as np
        from quantlab import models
        models.open_gemma().take_rows('token_embd.weight', np.arange(0, 262144, 256))""",
    "Gemma: whole embedding, 16,384 rows at a time": """
        from quantlab import models
        g = models.open_gemma()
        total = sum(float(rows.sum()) for _, rows in g.iter_rows('token_embd.weight', 16384))""",
    "Gemma: every other tensor decoded whole": """
        from quantlab import models
        g = models.open_gemma()
        for name in g.tensors:
            if name != 'token_embd.weight':
                g.tensor(name)""",
    "Gemma: types of all 236 tensors, 16 mixes": """
        from quantlab import models
        from quantlab.mixes import recipes
        g = models.open_gemma()
        for mix in recipes.MIXES:
            recipes.choose_types(g.gguf_shapes(), mix, **g.hparams())""",
    "Llama-2-7B: size table, 16 mixes": """
        from quantlab.mixes import sizes
        sizes.size_table(sizes.ARCHITECTURES['Llama-2-7B'])""",
}
GGUF_PY = {
    "gguf-py: GGUFReader on the Gemma file": """
        from gguf import GGUFReader
        from quantlab import models
        GGUFReader(str(models.gemma_path()))"""
}

MEASURE = """
import resource, time
start = time.perf_counter()
{code}
seconds = time.perf_counter() - start
print(seconds, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)
"""


def measure(code):
    """(seconds for the step, peak resident MB of the process) in a fresh interpreter."""
    script = MEASURE.format(code=textwrap.dedent(code).strip())
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True)
    seconds, peak = result.stdout.split()[-2:]
    return float(seconds), float(peak)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--with-gguf-py", action="store_true", help="also time gguf-py's GGUFReader")
    args = parser.parse_args()
    measure(STEPS["Gemma: path (assembled, sha256 checked)"])  # assemble once, outside the figures
    steps = STEPS | (GGUF_PY if args.with_gguf_py else {})
    print(f"{'step':48s} {'seconds':>8s} {'peak MB':>8s}")
    for name, code in steps.items():
        seconds, peak = measure(code)
        print(f"{name:48s} {seconds:8.2f} {peak:8.0f}")


if __name__ == "__main__":
    main()

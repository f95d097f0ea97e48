"""Run time and peak kernel memory of every notebook, each in a fresh kernel (target: < 1.5 GB).

Appends one cell to an in-memory copy of each notebook that reads the kernel's peak resident set
size (getrusage's ru_maxrss), so the figure is the kernel's own high-water mark.
    python benchmarks/notebooks.py [notebook ...]
"""

import sys
import time
from pathlib import Path

import nbformat
from nbclient import NotebookClient

PEAK = "import resource; print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)"


def measure(path):
    notebook = nbformat.read(path, as_version=4)
    notebook.cells.append(nbformat.v4.new_code_cell(PEAK))
    start = time.perf_counter()
    NotebookClient(
        notebook, timeout=600, kernel_name="python3", resources={"metadata": {"path": str(Path(path).parent)}}
    ).execute()
    seconds = time.perf_counter() - start
    peak_kib = int(notebook.cells[-1].outputs[0]["text"].strip())
    return seconds, peak_kib / 1024


if __name__ == "__main__":
    root = Path(__file__).resolve().parent.parent
    paths = sys.argv[1:] or sorted(str(p) for p in root.glob("notebooks/[0-9][0-9]_*.ipynb"))
    print(f"{'notebook':<36}{'run time s':>11}{'peak MiB':>10}")
    for path in paths:
        seconds, mib = measure(path)
        print(f"{Path(path).name:<36}{seconds:>11.1f}{mib:>10.0f}")

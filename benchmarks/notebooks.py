"""Run time, kernel CPU time and peak kernel memory of every notebook, each in a fresh kernel (target: < 1.5 GB).

Appends one cell to an in-memory copy of each notebook that reads the kernel's peak resident set
size (/proc's VmHWM, Linux), so the figure is the kernel's own high-water mark, and the CPU time the
kernel used (user + system, all threads). On a shared machine the wall time grows with the load; the
CPU time does not, and on an idle machine the wall time is about the CPU time or less (BLAS uses 2 cores).
    python benchmarks/notebooks.py [notebook ...]
"""

import sys
import time
from pathlib import Path

import nbformat
from nbclient import NotebookClient

PEAK = (  # VmHWM: the kernel's own peak (ru_maxrss would carry its parent's peak across exec, on Linux)
    "import pathlib, resource; r = resource.getrusage(resource.RUSAGE_SELF)\n"
    "status = pathlib.Path('/proc/self/status').read_text().splitlines()\n"
    "print(next(line.split()[1] for line in status if line.startswith('VmHWM:')), r.ru_utime + r.ru_stime)"
)


def measure(path):
    notebook = nbformat.read(path, as_version=4)
    notebook.cells.append(nbformat.v4.new_code_cell(PEAK))
    start = time.perf_counter()
    NotebookClient(
        notebook, timeout=600, kernel_name="python3", resources={"metadata": {"path": str(Path(path).parent)}}
    ).execute()
    seconds = time.perf_counter() - start
    peak_kib, cpu_seconds = notebook.cells[-1].outputs[0]["text"].split()
    return seconds, float(cpu_seconds), int(peak_kib) / 1024


if __name__ == "__main__":
    root = Path(__file__).resolve().parent.parent
    paths = sys.argv[1:] or sorted(str(p) for p in root.glob("notebooks/[0-9][0-9]_*.ipynb"))
    print(f"{'notebook':<36}{'wall s':>8}{'kernel CPU s':>14}{'peak MiB':>10}")
    for path in paths:
        seconds, cpu_seconds, mib = measure(path)
        print(f"{Path(path).name:<36}{seconds:>8.1f}{cpu_seconds:>14.1f}{mib:>10.0f}")

"""Execute every course notebook top to bottom in a fresh kernel and store its outputs for readers.

Committed notebooks carry the outputs of one clean run, so GitHub and nbviewer show the numbers and
figures, and nbval compares the cells tagged `nbval-check-output` against them. Widget views are
replaced by their static fallback (PNG + text) and widget state is dropped: a saved notebook never
points at widget models that no longer exist.

    python tools/refresh_notebooks.py [notebook ...]     (default: notebooks/*.ipynb)
"""

import sys
import time
from pathlib import Path

import nbformat
from nbclient import NotebookClient

WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"


def static_outputs(notebook):
    """Drop widget views (keeping each output's PNG/text fallback) and the saved widget state."""
    notebook.metadata.pop("widgets", None)
    for cell in notebook.cells:
        for output in cell.get("outputs", []):
            output.get("data", {}).pop(WIDGET_VIEW, None)
        cell.get("metadata", {}).pop("execution", None)
    return notebook


def refresh(path, timeout=300):
    notebook = nbformat.read(path, as_version=4)
    for cell in notebook.cells:  # start from nothing: no stale output can survive
        if cell.cell_type == "code":
            cell.outputs, cell.execution_count = [], None
    start = time.perf_counter()
    NotebookClient(
        notebook, timeout=timeout, kernel_name="python3", resources={"metadata": {"path": str(Path(path).parent)}}
    ).execute()
    nbformat.write(static_outputs(notebook), path)
    return time.perf_counter() - start


if __name__ == "__main__":
    paths = sys.argv[1:] or sorted(str(p) for p in Path(__file__).resolve().parent.parent.glob("notebooks/*.ipynb"))
    for path in paths:
        print(f"{Path(path).name}: executed in {refresh(path):.1f} s")

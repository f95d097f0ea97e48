"""House rules for the committed notebooks (nbval, collected from notebooks/, runs them).

Policy: each notebook is committed with the outputs of one top-to-bottom run in a fresh kernel
(tools/refresh_notebooks.py), with widget views replaced by their static PNG and no widget state.
"""

import json
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOKS = sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))
NBVAL_TAGS = {"nbval-check-output", "nbval-ignore-output", "nbval-skip", "nbval-raise-exception"}


def test_there_are_notebooks():
    assert len(NOTEBOOKS) >= 5


@pytest.fixture(params=NOTEBOOKS, ids=lambda p: p.name)
def notebook(request):
    return request.param, json.loads(request.param.read_text())


def _code_cells(nb):
    return [c for c in nb["cells"] if c["cell_type"] == "code"]


def test_outputs_come_from_one_clean_run(notebook):
    path, nb = notebook
    counts = [c["execution_count"] for c in _code_cells(nb)]
    assert counts == list(range(1, len(counts) + 1)), f"{path.name}: re-run tools/refresh_notebooks.py ({counts})"


def test_no_widget_state_views_or_errors(notebook):
    path, nb = notebook
    assert "widgets" not in nb.get("metadata", {}), f"{path.name} stores widget state"
    for cell in _code_cells(nb):
        for output in cell["outputs"]:
            assert output["output_type"] != "error", f"{path.name} stores an error: {output.get('ename')}"
            assert "application/vnd.jupyter.widget-view+json" not in output.get("data", {}), (
                f"{path.name} stores a widget view"
            )


def test_each_notebook_teaches_the_same_way(notebook):
    path, nb = notebook
    markdown = "\n".join("".join(c["source"]) for c in nb["cells"] if c["cell_type"] == "markdown")
    code = "\n".join("".join(c["source"]) for c in _code_cells(nb))
    assert "After this notebook you can" in markdown, f"{path.name}: learning objectives missing"
    assert re.search(r"^## Exercise", markdown, re.M), f"{path.name}: exercise missing"
    assert re.search(r"^## Summary", markdown, re.M), f"{path.name}: summary missing"
    assert re.search(r"\w*Explorer\(", code), f"{path.name}: no live explorer"
    assert re.search(r"\bcheck_\w+\(", code), f"{path.name}: the exercise has no self-check"
    longest = max(len("".join(c["source"]).splitlines()) for c in _code_cells(nb))
    assert longest <= 6, f"{path.name}: a code cell has {longest} lines; move the work into quantlab (a text helper)"


def test_test_markers_live_in_cell_tags(notebook):
    """nbval reads cell tags; a learner reads the code, which carries no test markers."""
    path, nb = notebook
    for cell in _code_cells(nb):
        assert "NBVAL" not in "".join(cell["source"]).upper(), f"{path.name}: a test marker in the code; use a cell tag"
        for tag in cell["metadata"].get("tags", []):
            assert tag in NBVAL_TAGS, f"{path.name}: unknown cell tag {tag!r}"


def test_every_explorer_is_called_through_quantlab_widgets(notebook):
    path, nb = notebook
    code = "\n".join("".join(c["source"]) for c in _code_cells(nb))
    bare = re.findall(r"(?<![.\w])(\w*(?:Explorer|Calculator))\(", code)
    assert not bare, f"{path.name}: call explorers as widgets.X(...), as their call() prints them: {bare}"


def test_readme_lists_every_notebook():
    readme = (ROOT / "README.md").read_text()
    for path in NOTEBOOKS:
        assert path.name in readme, f"README's table of notebooks misses {path.name}"


MENTION = re.compile(r"\bnotebooks?\s+(\d{2}(?:\s*(?:,|and|or|/|to)\s*\d{2})*)", re.I)
NEXT = re.compile(r"\*\*(\d{2}) ·")


def mentioned_numbers(text):
    """Every notebook number a text points to: "notebook 07", "notebooks 05 and 06", "Next: **04 · groups**"."""
    numbers = {n for group in MENTION.findall(text) for n in re.findall(r"\d{2}", group)}
    return numbers | set(NEXT.findall(text))


def test_mentioned_numbers_are_found():
    text = 'see notebook 07, notebooks 05 and 06, Notebooks 01/02 and "Next: **04 · groups**"; 2 notebooks 3'
    assert mentioned_numbers(text) == {"07", "05", "06", "01", "02", "04"}


def test_every_notebook_mentioned_exists(notebook):
    """A learner who follows "notebook NN" must find it: no promise of a notebook that is not there yet."""
    path, nb = notebook
    existing = {p.name[:2] for p in NOTEBOOKS}
    text = "\n".join("".join(c["source"]) for c in nb["cells"])
    missing = sorted(mentioned_numbers(text) - existing)
    assert not missing, f"{path.name} points to notebook(s) {missing}, which do not exist; say 'a later notebook'"

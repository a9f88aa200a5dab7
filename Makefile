# Entry points: `make demo` (set up, run the small ILV budding scenario headless, print and draw the
# budding summary), `make lint` (ruff, mypy), `make test`, `make test-fast` (no slow MD, no browser)
# and `make validate` (long validation runs; results in tests/validation.md).
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: setup demo lint test test-fast validate bench gpu-wheels gpu-check clean

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

# The GPU check (tests/gpu_check.py): every GPU figure in one report under $(OUT) (default runs/gpu-check).
# `make gpu-wheels` (on a machine with network) puts OpenMM's CUDA wheels and every dependency for
# Python $(GPU_PYTHON) into $(WHEELS)/; on the GPU machine `make gpu-check` then installs from that
# folder only (a fresh $(GPU_VENV), no registry), builds the native kernel and runs the check.
# Rehearsal without a GPU: `make gpu-check PLATFORM=OpenCL QUICK=1` (uses .venv when $(WHEELS)/ is absent).
PLATFORM ?= CUDA
QUICK ?=
WHEELS := .whl
GPU_VENV := .gpu-venv
GPU_PYTHON ?= 3.12
GPU_PACKAGES := openmm==8.6.1 openmm-cuda-13==8.6.1 mdtraj numpy scipy pyyaml pydantic tqdm matplotlib tables \
	'dask[distributed]' pandas pyarrow pytest setuptools

gpu-wheels:
	$(PYTHON) -m pip download --only-binary=:all: --python-version $(GPU_PYTHON) --implementation cp \
		--platform manylinux_2_34_x86_64 --platform manylinux_2_28_x86_64 --platform manylinux_2_17_x86_64 \
		--platform manylinux2014_x86_64 --platform any -d $(WHEELS) $(GPU_PACKAGES)
	@du -sh $(WHEELS)

gpu-check:
	@if [ -d $(WHEELS) ]; then \
		$(PYTHON) -m venv $(GPU_VENV) && \
		$(GPU_VENV)/bin/pip install -q --no-index --find-links $(WHEELS) $(GPU_PACKAGES) && \
		$(GPU_VENV)/bin/pip install -q --no-index --find-links $(WHEELS) --no-build-isolation --no-deps -e . && \
		$(GPU_VENV)/bin/python -m exomembrane.engine.native && \
		$(GPU_VENV)/bin/python tests/gpu_check.py --platform $(PLATFORM) $(if $(QUICK),--quick); \
	else \
		$(MAKE) setup && $(BIN)/python tests/gpu_check.py --platform $(PLATFORM) $(if $(QUICK),--quick); \
	fi

clean:
	rm -rf $(VENV) $(GPU_VENV) runs .pytest_cache

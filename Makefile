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
	$(BIN)/exomembrane run systems/ilv_ceramide_demo.yaml --out runs/demo --overwrite
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
# `make gpu-wheels` (on a machine with network) puts OpenMM's CUDA wheels and the other packages the
# GPU image lacks, for Python $(GPU_PYTHON), into $(WHEELS)/ (~45 MB: carry it); on the GPU machine
# `make gpu-check` installs them from that folder only (into $(GPU_SITE), no registry), builds the
# native CUDA kernel and runs the check with the image's python3.
# Rehearsal without a GPU: `make gpu-check PLATFORM=OpenCL QUICK=1` (uses .venv when $(WHEELS)/ is absent).
PLATFORM ?= CUDA
QUICK ?=
WHEELS := .whl
GPU_PYTHON ?= 3.12
# The packages the check needs that the GPU machines' image lacks (it has numpy, scipy, matplotlib,
# pyyaml, pytest, tqdm, ...), pinned, as wheels without their dependencies (OpenMM's CUDA plugin uses
# the image's CUDA runtime).
GPU_WHEELS := openmm==8.6.1 openmm-cuda-13==8.6.1 mdtraj==1.11.1.post2 pydantic==2.14.4 pydantic-core==2.50.5 \
	annotated-types==0.8.0 typing-inspection==0.4.5 tables==3.11.1 numexpr==2.14.2 blosc2==4.15.0 ndindex==1.10.1 \
	h2==4.3.0 hpack==4.1.0 hyperframe==6.1.0
GPU_SITE := .gpu-site

gpu-wheels:
	$(PYTHON) -m pip download --no-deps --only-binary=:all: --python-version $(GPU_PYTHON) --implementation cp \
		--platform manylinux_2_34_x86_64 --platform manylinux_2_28_x86_64 --platform manylinux_2_27_x86_64 \
		--platform manylinux_2_17_x86_64 --platform manylinux2014_x86_64 --platform any -d $(WHEELS) $(GPU_WHEELS)
	@du -sh $(WHEELS)

gpu-check:
	@if [ -d $(WHEELS) ]; then \
		python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target $(GPU_SITE) \
			$(WHEELS)/*.whl && \
		PYTHONPATH=$(CURDIR)/$(GPU_SITE):$(CURDIR) python3 -m exomembrane.engine.native && \
		PYTHONPATH=$(CURDIR)/$(GPU_SITE):$(CURDIR) python3 tests/gpu_check.py --platform $(PLATFORM) $(if $(QUICK),--quick); \
	else \
		$(MAKE) setup && $(BIN)/python tests/gpu_check.py --platform $(PLATFORM) $(if $(QUICK),--quick); \
	fi

clean:
	rm -rf $(VENV) $(GPU_SITE) runs .pytest_cache

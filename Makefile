# crossnoise — set-up and the project's commands.  Every target creates .venv if it is missing.
# torch==2.13.0 is installed BEFORE the project: with no torch present, a bare `torch` requirement
# pulls a multi-GB CUDA build.  Set TORCH_INDEX (e.g. https://download.pytorch.org/whl/cpu) to take
# the CPU wheel from another index on machines that have no local copy of it.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
TORCH_VERSION := 2.13.0
TORCH_INDEX ?=
PIP := $(BIN)/python -m pip --disable-pip-version-check
PYTEST_WORKERS ?= 2

.PHONY: demo test test-slow bench layers install clean chromium

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(PIP) install -q --upgrade pip "setuptools>=64" wheel

$(VENV)/.torch-$(TORCH_VERSION): | $(BIN)/python
	$(PIP) install -q torch==$(TORCH_VERSION) $(if $(TORCH_INDEX),--index-url $(TORCH_INDEX))
	touch $@

$(VENV)/.installed: pyproject.toml $(VENV)/.torch-$(TORCH_VERSION)
	$(PIP) install -q -e .
	touch $@

$(VENV)/.installed-test: pyproject.toml $(VENV)/.installed
	$(PIP) install -q -e ".[test]"
	touch $@

$(VENV)/.installed-bench: pyproject.toml $(VENV)/.installed-test
	$(PIP) install -q -e ".[bench]"
	# BackPACK's own requirements would replace torch with a CUDA build: install it alone.
	$(PIP) install -q --no-deps backpack-for-pytorch==1.7.1
	touch $@

install: $(VENV)/.installed

demo: $(VENV)/.installed
	$(BIN)/crossnoise report

layers: $(VENV)/.installed-test
	$(BIN)/python tools/lint_layers.py

# Debian's headless chromium for the report-rendering test: installed when missing and we are root
# (CI runs `make test` as root on a fresh Debian machine); elsewhere the test skips and says why.
chromium:
	@if [ ! -x /usr/bin/chromium ] && [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	  echo "installing chromium (apt-get) for the report-rendering test"; \
	  export DEBIAN_FRONTEND=noninteractive; \
	  apt-get install -y -q --no-install-recommends chromium >/dev/null 2>&1 || \
	  { apt-get update -q >/dev/null 2>&1 && apt-get install -y -q --no-install-recommends chromium >/dev/null; } || \
	  echo "chromium could not be installed; the rendering test will skip"; \
	fi

test: $(VENV)/.installed-test layers chromium
	$(BIN)/python -m pytest -m "not slow" -n $(PYTEST_WORKERS) -q

test-slow: $(VENV)/.installed-test chromium
	$(BIN)/python -m pytest -m slow -q

bench: $(VENV)/.installed-bench
	@set -e; for f in benchmarks/*.py; do echo "== $$f"; OPENBLAS_NUM_THREADS=1 $(BIN)/python $$f; done

clean:
	rm -rf $(VENV) build *.egg-info .pytest_cache

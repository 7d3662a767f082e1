# Two entry points for a fresh machine: `make demo` and `make test`.
# Both build their own virtual environment from pyproject.toml.
PYTHON ?= python3
VENV   ?= .venv
BIN     = $(VENV)/bin
STAMP   = $(VENV)/.installed

.PHONY: demo lint test test-slow bench clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[test]'
	touch $(STAMP)

demo: $(STAMP)
	@echo "== paper Example 1, an optimal network split in two neurons (exit 0) =="
	$(BIN)/cvxrelu verify fixtures/example1_optimal.h5
	@echo "== the same network perturbed: suboptimal (exit 1), better network written =="
	$(BIN)/cvxrelu verify fixtures/example1_perturbed.h5 --witness $(VENV)/better.h5 || test $$? -eq 1
	@echo "== the better network, checked in turn =="
	$(BIN)/cvxrelu verify $(VENV)/better.h5

# ruff (pyflakes, import order, pycodestyle errors) and the layers contract of
# docs/architecture.md: an import cycle or an upward import fails here.
lint: $(STAMP)
	$(BIN)/ruff check cvxrelu tests fixtures scripts bench
	$(BIN)/lint-imports

test: lint
	$(BIN)/python -m pytest -q

test-slow: $(STAMP)
	$(BIN)/python -m pytest -q -m slow

clean:
	rm -rf $(VENV) build *.egg-info

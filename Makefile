# The README's two commands: `make book` (build the website) and `make test` (run every test).
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed-stamp
PYTHON ?= python3

.PHONY: book test export check-export lint wheel lab clean

# Create the virtual environment and install requirements.txt, that is the package in editable mode
# with its `book` extra (again when requirements.txt or pyproject.toml changes).
$(STAMP): requirements.txt pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --no-input -r requirements.txt
	touch $(STAMP)

## make export: regenerate nnscratch/ from the notebooks' `#| export` cells
export: $(STAMP)
	$(PY) tools/nbexport.py

## make check-export: fail if nnscratch/ differs from what the notebooks export
check-export: $(STAMP)
	$(PY) tools/nbexport.py --check

## make book: re-export the package, execute every chapter and build the website into _build/html
## (the first build fetches the pinned widget JavaScript from npm: see tools/offline_assets.py)
book: export
	$(VENV)/bin/jupyter-book build . -W --keep-going

## make test: unit tests, export check, clean-notebook check, nbval on every chapter, website build.
## (It does not re-export: the export check must see what is committed.)
test: $(STAMP)
	$(PY) -m pytest

## make lint: ruff, configured in pyproject.toml (make test runs it too: tests/test_lint.py)
lint: $(STAMP)
	$(PY) -m ruff check --no-cache .

## make wheel: build dist/nnscratch-VERSION-py3-none-any.whl (runtime dependencies: numpy, tqdm)
wheel: $(STAMP)
	$(PY) -m pip wheel . --no-deps -w dist

## make lab: open the book in JupyterLab
lab: $(STAMP)
	$(VENV)/bin/jupyter lab book/

clean:
	rm -rf _build .pytest_cache build dist

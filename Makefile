# The course's two commands: `make lab` (set up, open JupyterLab) and `make test` (set up, run every test).
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
ROOT   := $(if $(filter 0,$(shell id -u)),--allow-root,)
NBVAL  := --nbval --nbval-current-env --nbval-sanitize-with tests/sanitize.cfg
# Notebooks are stored as they execute headless; the tests run them the same way.
export PYTHONHASHSEED := 0
export MPLBACKEND := module://matplotlib_inline.backend_inline

.PHONY: lab test unit notebooks execute browser-setup clean

$(STAMP): requirements.txt pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -r requirements.txt
	$(BIN)/python -m pip install --quiet --no-deps -e .
	touch $(STAMP)

lab: $(STAMP)  ## set up, then open the course in JupyterLab (add ARGS=--no-browser on a headless machine)
	$(BIN)/jupyter lab $(ROOT) --notebook-dir=notebooks $(ARGS)

test: $(STAMP) browser-setup  ## set up, then the unit tests, the browser tests and nbval over every notebook
	$(BIN)/python -m pytest tests notebooks $(NBVAL) -p no:cacheprovider $(ARGS)

unit: $(STAMP)  ## only the unit tests of helpers
	$(BIN)/python -m pytest tests -m "not browser" -p no:cacheprovider $(ARGS)

notebooks: $(STAMP)  ## only nbval over the notebooks
	$(BIN)/python -m pytest notebooks $(NBVAL) -p no:cacheprovider $(ARGS)

execute: $(STAMP)  ## re-execute every notebook in place (run after changing helpers/)
	cd notebooks && for nb in $(or $(NB),[0-9][0-9]_*.ipynb); do \
	  echo "executing $$nb"; \
	  ../$(BIN)/jupyter nbconvert --to notebook --execute --inplace --ExecutePreprocessor.timeout=600 "$$nb" || exit 1; \
	done

browser-setup:  ## Debian's Chromium for the browser tests (installed as root when missing)
	@command -v chromium >/dev/null || { [ "$$(id -u)" = 0 ] && (apt-get update -qq && apt-get install -y -qq chromium >/dev/null) || echo "chromium missing and not root: browser tests will skip"; }

clean:
	rm -rf $(VENV) build test-output

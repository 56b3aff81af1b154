# The course's two commands: `make lab` (set up, open JupyterLab) and `make test` (set up, run every test).
PYTHON ?= $(shell command -v python3.11 || command -v python3.12 || command -v python3)
VENV   := .venv
BIN    := $(VENV)/bin
COURSE := $(VENV)/.installed-course
STAMP  := $(VENV)/.installed
ROOT   := $(if $(filter 0,$(shell id -u)),--allow-root,)
# TORCH=cpu: torch from PyTorch's CPU-only index (a 190 MB wheel) instead of PyPI's Linux build, which brings the
# CUDA libraries (2.7 GB to download in all) whether or not the machine has an NVIDIA GPU; TORCH=cu126 etc. likewise.
TORCH  ?=
# The learner's own notebooks, outside the tracked files and outside what `make clean` deletes.
WORK   ?= my-work
# What opens JupyterLab (the tests put `true` here): no news pop-up (tools/jupyter/labconfig), notebook 01 first.
JUPYTER_LAB ?= $(BIN)/jupyter lab
LAB = JUPYTER_CONFIG_PATH=$(CURDIR)/tools/jupyter$${JUPYTER_CONFIG_PATH:+:$$JUPYTER_CONFIG_PATH} $(JUPYTER_LAB) $(ROOT) \
      --LabApp.default_url=/lab/tree/01_introduction.ipynb
NBVAL  := --nbval --nbval-current-env --nbval-sanitize-with tests/sanitize.cfg
# Notebooks are stored as they execute headless; the tests run them the same way.
export PYTHONHASHSEED := 0
# The same numbers on every x86 machine: torch and oneDNN otherwise pick AVX-512 kernels where the CPU has them,
# and their float sums differ (the LSTM of notebook 01 at length 20: 16.8% with AVX2 kernels, 20.5% with AVX-512).
export ATEN_CPU_CAPABILITY ?= avx2
export ONEDNN_MAX_CPU_ISA ?= AVX2
export MPLBACKEND := module://matplotlib_inline.backend_inline
# Executing a notebook to test or store it refuses a figure with text under 10 pt at the size shown
# (helpers/view/audit.py); a student's own runs are not audited.
test notebooks execute: export COURSE_FIGURE_AUDIT := 1

.PHONY: student lab author test unit slow lint notebooks execute bench bench-hub hub hub-setup app html browser-setup venv-check \
        clean gpu-check colab

# The course alone (requirements.txt): what lab, student, html, app, execute and bench need.
$(COURSE): requirements.txt pyproject.toml | venv-check
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(if $(TORCH),$(BIN)/python -m pip install --quiet "$$(grep -m 1 '^torch==' requirements.txt)" \
	  --index-url https://download.pytorch.org/whl/$(TORCH))
	$(BIN)/python -m pip install --quiet -r requirements.txt
	touch $(COURSE)

# The test tools on top (requirements-test.txt: pytest, nbval, Playwright, papermill, JupyterHub, nbgrader).
$(STAMP): $(COURSE) requirements-test.txt
	$(BIN)/python -m pip install --quiet -r requirements-test.txt
	touch $(STAMP)

venv-check:  ## refuse a .venv made by another, too old Python or a broken one, naming the fix (before any install)
	@sh tools/check_venv.sh $(VENV) "$(PYTHON)"

lab: $(COURSE)  ## set up, then open your own copy of the course, my-work/notebooks/, in JupyterLab (ARGS=--no-browser)
	$(BIN)/python tools/student_notebooks.py --as-stored $(WORK)/notebooks
	$(LAB) --notebook-dir=$(WORK)/notebooks $(ARGS)

student: $(COURSE)  ## your copy of the notebooks with their exercises empty, my-work/exercises/, opened in JupyterLab
	$(BIN)/python tools/student_notebooks.py $(WORK)/exercises
	$(LAB) --notebook-dir=$(WORK)/exercises $(ARGS)

author: $(COURSE)  ## for the course's authors: JupyterLab on the tracked notebooks/ themselves (what you save is committed)
	$(LAB) --notebook-dir=notebooks $(ARGS)

test: $(STAMP) browser-setup hub-setup  ## set up, then the unit tests, the browser tests and nbval over every notebook
	$(BIN)/python -m pytest tests notebooks $(NBVAL) -p no:cacheprovider $(ARGS)

unit: $(STAMP)  ## the fast tests: no browser, hub, GPU, lint or slow ones (pyproject.toml's markers say what they are)
	$(BIN)/python -m pytest tests -m "not browser and not slow and not hub and not gpu and not lint" -p no:cacheprovider $(ARGS)

slow: $(STAMP) hub-setup  ## the slow tests unit leaves out: a fresh venv, the class hub, nbgrader, papermill, notebooks run
	PATH=$(CURDIR)/build/hub/node_modules/.bin:$$PATH $(BIN)/python -m pytest tests -m "(slow or hub) and not browser" \
	  -p no:cacheprovider $(ARGS)

lint: $(STAMP)  ## ruff over the repository (pyproject.toml's [tool.ruff])
	$(BIN)/python -m pytest tests -m lint -p no:cacheprovider $(ARGS)

# Where `make gpu-check` writes (README.md, "GPU check"); BUDGET: its time box in minutes.
GPU_CHECK_OUT ?= test-output/gpu-check
BUDGET ?= 8
gpu-check: $(STAMP)  ## with CUDA: the device tests, the recorder and every notebook (DEVICE=cuda) into one folder; else tiny, on the CPU
	$(BIN)/python tools/gpu_check.py --out $(GPU_CHECK_OUT) --budget-minutes $(BUDGET) $(ARGS)

colab: $(COURSE)  ## rewrite the Binder link, the Colab badges and every notebook's Colab cell (ARGS="--repo owner/name")
	$(BIN)/python tools/colab.py $(ARGS)

notebooks: $(STAMP)  ## only nbval over the notebooks
	$(BIN)/python -m pytest notebooks $(NBVAL) -p no:cacheprovider $(ARGS)

execute: $(COURSE)  ## re-execute every notebook in place, then store it compactly: widget state dropped afterwards
# (nbclient 0.11 fails on Output widgets when told not to store their state)
	cd notebooks && for nb in $(or $(NB),[0-9][0-9]_*.ipynb); do \
	  echo "executing $$nb"; \
	  ../$(BIN)/jupyter nbconvert --to notebook --execute --inplace --ExecutePreprocessor.timeout=600 "$$nb" || exit 1; \
	  ../$(BIN)/python ../tools/compact_notebooks.py "$$nb" || exit 1; \
	done

bench: $(COURSE)  ## measured, not asserted: torch threads per kind of work, then every panel's run, quiet and loaded
	$(BIN)/python tools/bench_threads.py
	$(BIN)/python tools/bench_panels.py $(NB)

VENDOR := build/vendor/node_modules
EXPORT ?= build
LIB    := ../lib
OFFLINE := --HTMLExporter.require_js_url=$(LIB)/require.js --HTMLExporter.jquery_url=$(LIB)/jquery.min.js \
           --HTMLExporter.mathjax_url='$(LIB)/mathjax/MathJax.js?config=TeX-AMS_CHTML-full,Safe'
# tools/templates/offline_slides: nothing fetched at load (the white theme's fonts ship with reveal.js; mermaid only
# for a diagram), and a slide taller than the canvas scrolls instead of being cut off.
SLIDES := --template=offline_slides --TemplateExporter.extra_template_basedirs=$(CURDIR)/tools/templates \
          --SlidesExporter.reveal_theme=white --SlidesExporter.reveal_url_prefix=$(LIB)/reveal.js
html: $(COURSE)  ## every notebook (or NB=04), stored outputs, to build/html (handouts) and build/slides (offline slides)
	mkdir -p $(EXPORT)/html $(EXPORT)/slides $(EXPORT)/lib
	test -d $(VENDOR)/mathjax || npm install --silent --no-audit --no-fund --prefix build/vendor \
	  reveal.js@4.6.0 requirejs@2.3.7 jquery@3.7.1 mathjax@2.7.9
	rm -rf $(EXPORT)/lib/* && mkdir -p $(EXPORT)/lib/reveal.js
	cp -r $(VENDOR)/reveal.js/dist $(VENDOR)/reveal.js/plugin $(EXPORT)/lib/reveal.js/
	cp -r $(VENDOR)/requirejs/require.js $(VENDOR)/jquery/dist/jquery.min.js $(VENDOR)/mathjax $(EXPORT)/lib/
	$(BIN)/jupyter nbconvert --log-level=ERROR --to html --output-dir $(EXPORT)/html $(OFFLINE) \
	  notebooks/$(or $(NB),[0-9][0-9])_*.ipynb
	$(BIN)/jupyter nbconvert --log-level=ERROR --to slides --output-dir $(EXPORT)/slides $(OFFLINE) $(SLIDES) \
	  notebooks/$(or $(NB),[0-9][0-9])_*.ipynb
	@echo "handouts: $(EXPORT)/html/*.html   slides (offline, arrow keys): $(EXPORT)/slides/*.slides.html"

APP = $(firstword $(wildcard notebooks/$(or $(NB),04)*.ipynb))
app: $(COURSE)  ## one notebook as a standalone app, code hidden (Voilà): make app NB=04 -> http://127.0.0.1:8866
	@test -n "$(APP)" || { echo "no notebook matches NB=$(NB) (e.g. make app NB=04)"; exit 1; }
	$(BIN)/voila --no-browser --Voila.ip=127.0.0.1 --port=8866 $(APP) $(ARGS)

PROXY := build/hub/node_modules/.bin/configurable-http-proxy
hub-setup:  ## JupyterHub's proxy (configurable-http-proxy, from npm) for the class hub and its test
	@test -x $(PROXY) || npm install --silent --no-audit --no-fund --prefix build/hub configurable-http-proxy@5.3.0 \
	  || echo "npm missing or offline: the JupyterHub test will skip"

hub: $(STAMP) hub-setup  ## a trial class hub (local mode, deploy/README.md): http://127.0.0.1:8000, any name, this machine only
	PATH=$(CURDIR)/build/hub/node_modules/.bin:$$PATH COURSE_HUB_MODE=local $(BIN)/jupyterhub -f deploy/jupyterhub_config.py

bench-hub: $(STAMP) hub-setup  ## measured, not asserted: the amnesia panel's CPU seconds per re-run, then its re-run and share with the class board by 1, 2, 4, 8 students at once
	$(BIN)/python tools/bench_amnesia_cpu.py
	PATH=$(CURDIR)/build/hub/node_modules/.bin:$$PATH $(BIN)/python tools/bench_hub.py $(ARGS)

browser-setup:  ## Debian's Chromium and a Tamil font for the browser tests (installed as root when missing)
	@if ! command -v chromium >/dev/null || ! fc-list 2>/dev/null | grep -qi tamil; then \
	  if [ "$$(id -u)" = 0 ]; then apt-get update -qq && apt-get install -y -qq chromium fonts-lohit-taml >/dev/null; \
	  else echo "chromium or a Tamil font missing and not root: browser tests may skip"; fi; \
	fi

clean:  ## delete .venv, build/ and test-output/; your notebooks in my-work/ are kept
	rm -rf $(VENV) build test-output

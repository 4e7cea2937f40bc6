# Two commands: `make run` (studio on http://127.0.0.1:7860) and `make test` (whole suite).
# Both create .venv when missing and install everything (torch pinned first: a CPU wheel).
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed
TORCH  := torch==2.13.0

.PHONY: run test wheel-test setup browser speech bench clean

$(STAMP): pyproject.toml constraints.txt
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet $(TORCH)
	$(PY) -m pip install --quiet -c constraints.txt -e ".[test]"
	touch $(STAMP)

setup: $(STAMP)

# Debian's Chromium for the browser tests (Playwright drives it by path; it never downloads one).
browser:
	@command -v chromium >/dev/null 2>&1 || { \
	  if [ "$$(id -u)" = 0 ]; then apt-get update -qq && apt-get install -y -qq chromium >/dev/null; \
	  else echo "install Debian's chromium (sudo apt-get install chromium) for the browser tests"; fi; }

# Debian's espeak-ng: tests and benchmarks synthesize English words with it (talking visemes).
speech:
	@command -v espeak-ng >/dev/null 2>&1 || { \
	  if [ "$$(id -u)" = 0 ]; then apt-get update -qq && apt-get install -y -qq espeak-ng >/dev/null; \
	  else echo "install Debian's espeak-ng (sudo apt-get install espeak-ng) for the viseme tests"; fi; }

run: setup
	$(PY) app.py

test: setup browser speech
	$(PY) -m pytest -q

# Build the wheel, install it into a fresh venv in a temp dir and run it from outside the
# repository: pipelines listed, every first example rendered, the studio answering HTTP.
wheel-test: setup
	$(PY) tests/wheel_smoke.py

# the AnyV2V demos need a checkout of TIGER-AI-Lab/AnyV2V: make bench ANYV2V=PATH
bench: setup speech
	@for b in benchmarks/*.py; do \
	  if [ $$b = benchmarks/editing_demos.py ]; then \
	    if [ -z "$(ANYV2V)" ]; then echo "== $$b: skipped, needs ANYV2V=PATH"; continue; fi; \
	    echo "== $$b"; $(PY) $$b --anyv2v "$(ANYV2V)" || exit 1; continue; \
	  fi; \
	  echo "== $$b"; $(PY) $$b || exit 1; done

clean:
	rm -rf $(VENV) out dist .pytest_cache

# The two commands of the README, and a few helpers. Each target installs what it needs into
# .venv (created with the machine's python3 >= 3.11) before running.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
# The browser client (docs/browser.md): Pyodide from the npm registry, fetched once into build/
# (never into git); playwright drives the distribution's Chromium in the browser tests.
PYODIDE_VERSION := 314.0.8
PYODIDE := build/pyodide
BROWSER_STAMP := $(VENV)/.browser-installed

.PHONY: run test install lint typecheck imports pytest docs bench bench-full clean web \
	web-assets browser-deps mutation

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e '.[dev,fast,aiortc,docs,cluster]'
	touch $(STAMP)

install: $(STAMP)

## The main job: alice calls bob over real WebRTC on loopback (media, data channel, a file).
run: $(STAMP)
	$(BIN)/rtcstate demo

## The browser client: the page on http://127.0.0.1:8765/ and a Python agent "bot" to call.
web: $(STAMP) web-assets
	$(BIN)/rtcstate serve --web & relay=$$!; trap 'kill $$relay' EXIT INT TERM; sleep 1; \
	$(BIN)/rtcstate agent --name bot

web-assets: $(PYODIDE)/pyodide.mjs

$(PYODIDE)/pyodide.mjs:
	mkdir -p $(PYODIDE)
	cd build && npm pack --silent pyodide@$(PYODIDE_VERSION) >/dev/null
	tar xzf build/pyodide-$(PYODIDE_VERSION).tgz -C $(PYODIDE) --strip-components=1
	rm -f build/pyodide-$(PYODIDE_VERSION).tgz

$(BROWSER_STAMP): pyproject.toml | $(STAMP)
	$(BIN)/python -m pip install --quiet -e '.[browser]'
	touch $(BROWSER_STAMP)

# What the browser tests need besides Chromium (.ci/run installs that); without them the
# browser tests are skipped with the install command (a failure under CI=true).
browser-deps: $(STAMP)
	$(MAKE) $(BROWSER_STAMP) web-assets || echo "warning: browser test dependencies not installed" >&2

## The whole test suite: lint, types, the sans-I/O import contract, generated docs, pytest.
test: $(STAMP) browser-deps lint typecheck imports pytest

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: $(STAMP)
	$(BIN)/mypy

imports: $(STAMP)
	$(BIN)/lint-imports

# pytest exits 5 when it collected no test: that is a failure here, like any non-zero code.
# Two workers (pytest-xdist): most of the suite's wall time is spent waiting (sockets, timers,
# subprocesses), and every test is safe in parallel (ports chosen by the OS, one redis-server and
# one Chromium per worker, files under tmp_path); the real-media tests stay together on one
# worker (tests/conftest.py, MEDIA). PYTEST_WORKERS=0 runs the suite in one process.
PYTEST_WORKERS ?= 2
pytest: $(STAMP)
	$(BIN)/python -m pytest -n $(PYTEST_WORKERS) --dist loadgroup; code=$$?; \
	if [ $$code -eq 5 ]; then echo "pytest collected no tests: failing" >&2; exit 1; fi; \
	exit $$code

## Regenerate the generated pages, then build the documentation site into site/ (strict).
docs: $(STAMP)
	$(BIN)/rtcstate docs
	NO_MKDOCS_2_WARNING=1 $(BIN)/mkdocs build --strict

bench: $(STAMP)
	$(BIN)/python bench/run.py --quick

bench-full: $(STAMP)
	$(BIN)/python bench/run.py

clean:
	rm -rf $(VENV) build site *.egg-info .mypy_cache .ruff_cache .hypothesis

## Mutation testing (mutmut 3.8.1, not in CI): each module against its own tests, one process,
## niced (the machine is shared); scores and survivors in docs/testing.md. MODULES="retry hub.core"
## runs some of them (keys of tools/mutation.py).
MODULES ?=
mutation: $(STAMP)
	$(BIN)/python -m pip install --quiet 'mutmut==3.8.1'
	nice -n 19 $(BIN)/python tools/mutation.py $(MODULES)

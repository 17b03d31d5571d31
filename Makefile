# The two commands of the README, and a few helpers. Each target installs what it needs into
# .venv (created with the machine's python3 >= 3.11) before running.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: run test install lint typecheck imports pytest docs bench bench-full clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e '.[dev,fast,aiortc,docs]'
	touch $(STAMP)

install: $(STAMP)

## The main job: alice calls bob over real WebRTC on loopback (media, data channel, a file).
run: $(STAMP)
	$(BIN)/rtcstate demo

## The whole test suite: lint, types, the sans-I/O import contract, generated docs, pytest.
test: $(STAMP) lint typecheck imports pytest

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: $(STAMP)
	$(BIN)/mypy

imports: $(STAMP)
	$(BIN)/lint-imports

# pytest exits 5 when it collected no test: that is a failure here, like any non-zero code.
pytest: $(STAMP)
	$(BIN)/python -m pytest; code=$$?; \
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

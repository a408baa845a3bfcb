# DataFair — every target does its own set-up from a fresh clone.
PYTHON ?= python3.11
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: install demo test lint format bench clean

$(STAMP): requirements.lock pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet --require-hashes -r requirements.lock
	$(BIN)/python -m pip install --quiet --no-deps -e .
	touch $(STAMP)

install: $(STAMP)

## The main job on embedded defaults: SQLite, filesystem broker, a real worker process.
demo: $(STAMP)
	$(BIN)/python manage.py migrate --noinput
	$(BIN)/python manage.py demo

## ruff (lint + format check) and the whole pytest suite, in one process. TEST_PROCESSES=N
## runs it over N (pytest-xdist: a module's tests in one process, the modules that start
## processes one after another, tests/conftest.py); on 2 cores it did not pay: the suite is
## CPU-bound (885 and 901 s over two processes, 827 s in one).
TEST_PROCESSES ?=
XDIST = $(if $(TEST_PROCESSES),-n $(TEST_PROCESSES) --dist loadfile --no-loadscope-reorder)
test: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/python -m pytest $(XDIST) $(PYTEST_ARGS)

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: $(STAMP)
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

bench: $(STAMP)
	$(BIN)/python -m benchmarks

clean:
	rm -rf $(VENV) var .pytest_cache

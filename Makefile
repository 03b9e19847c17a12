# gqlgov: `make run` serves the demo on the embedded default; `make test` runs the whole suite.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
HOST ?= 127.0.0.1
PORT ?= 8000

.PHONY: run test lint install install-test system-packages demo-data clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

$(VENV)/.installed-demo: pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet -e '.[demo]'
	touch $@

$(VENV)/.installed-test: pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet -e '.[demo,test]'
	touch $@

install: $(VENV)/.installed-demo
install-test: $(VENV)/.installed-test

run: install
	DEBUG=true $(BIN)/python manage.py rundemo --addr $(HOST):$(PORT)

system-packages:
	sh .ci/system-packages

lint: install-test
	$(BIN)/ruff check .
	$(BIN)/mypy

test: system-packages install-test lint
	$(BIN)/python -m tests.run

clean:
	rm -rf $(VENV) var .pytest_cache .mypy_cache .ruff_cache

# gqlgov: `make run` serves the demo on the embedded default; `make test` runs the whole suite.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
HOST ?= 127.0.0.1
PORT ?= 8000

.PHONY: run test lint install install-test static system-packages clean lock audit bench verifier-zip

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

$(VENV)/.installed-demo: pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet -e '.[demo]'
	touch $@

$(VENV)/.installed-test: pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet -e '.[demo,test]'
	touch $@

install: $(VENV)/.installed-demo static
install-test: $(VENV)/.installed-test static

# The console's browser code (GraphQL editor, ...) from the npm registry: static-vendor.json lists it,
# package-lock.json pins it; built into gqlgov/console/static/gqlgov/vendor/ (not committed).
static:
	$(PYTHON) tools/vendor_static.py

run: install
	DEBUG=true $(BIN)/python manage.py rundemo --addr $(HOST):$(PORT)

system-packages:
	sh .ci/system-packages

lint: install-test
	$(BIN)/ruff check .
	$(BIN)/mypy

test: system-packages install-test lint
	$(BIN)/python -m tests.run

# Pinned, hashed dependency set for reproducible deployments: `pip install --require-hashes -r requirements.lock`.
lock: install-test
	$(BIN)/pip-compile --quiet --generate-hashes --allow-unsafe --strip-extras --no-emit-index-url \
		--no-emit-find-links --extra demo --extra test -o requirements.lock pyproject.toml

# Known-vulnerability scan of the locked set (needs the PyPI/OSV advisory services).
audit: install-test
	$(BIN)/pip-audit --strict -r requirements.lock --disable-pip --no-deps

# All performance figures in one run (tools/bench, docs/benchmarks.md); see `python manage.py bench --help`.
bench: install-test
	mkdir -p var
	$(BIN)/python manage.py bench --json --peers -o var/bench.json

clean:
	rm -rf $(VENV) var .pytest_cache .mypy_cache .ruff_cache node_modules gqlgov/console/static/gqlgov/vendor

# The gqlgov-verify Lambda zip that authorizer-mode exports deploy (GQLGOV_AUTHORIZER_ZIP, default var/).
verifier-zip: install
	$(BIN)/python manage.py build_verifier_package

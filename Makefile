# make install | demo | test | lab | bench | lock | test-latest   (each creates .venv when missing)
# Installs come from requirements.lock (exact versions with hashes, Python 3.11, Linux x86_64),
# so a fresh clone installs exactly what was tested. `make lock` refreshes it after a change to
# pyproject.toml; `make test-latest` runs the suite against the newest allowed versions in a
# separate environment (.venv-latest), to see drift before it reaches the lock.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp
LATEST := .venv-latest
LOCK_ARGS := --extra spark --extra dev --generate-hashes --python-version 3.11 \
	--python-platform x86_64-manylinux_2_28

.PHONY: install demo test lab bench lock test-latest clean

install: $(STAMP)

$(STAMP): pyproject.toml requirements.lock
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --no-deps --require-hashes -r requirements.lock
	$(BIN)/python -m pip install -q --no-deps -e .
	@touch $(STAMP)

test: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/lint-imports
	$(BIN)/python -m pytest -q -rs

demo: install
	$(BIN)/workbench demo

lab: install
	$(BIN)/jupyter lab notebooks/

bench: install
	$(BIN)/python -m pip install -q -e '.[bench]'
	$(BIN)/python -m bench.run

lock: install
	$(BIN)/uv pip compile pyproject.toml $(LOCK_ARGS) -o requirements.lock

test-latest:
	@test -x $(LATEST)/bin/python || $(PYTHON) -m venv $(LATEST)
	$(LATEST)/bin/python -m pip install -q --upgrade --upgrade-strategy eager -e '.[spark,dev]'
	$(LATEST)/bin/python -m pip freeze --exclude-editable > $(LATEST)/versions.txt
	$(LATEST)/bin/python -m pytest -q -rs -p no:cacheprovider

clean:
	rm -rf data/sim results reports/*.html reports/notebooks .pytest_cache

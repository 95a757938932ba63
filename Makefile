# The two commands of the README: `make run` and `make test`. Everything goes into a local venv.
PYTHON ?= python3.11
VENV ?= .venv
BIN := $(VENV)/bin
PIP := $(BIN)/python -m pip
CONSTRAINTS := airflow_config/constraints.txt
PORT ?= 8080

.PHONY: run test install install-test bench clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(PIP) install --quiet --upgrade pip

# Editable install: what `make run` serves is the checkout you edit.
install: $(BIN)/python
	$(PIP) install --quiet -c $(CONSTRAINTS) -e '.[postgres,ml]'

# A regular (non-editable) install, so the tests also prove the packaging (migrations, package data).
install-test: $(BIN)/python
	$(PIP) install --quiet -c $(CONSTRAINTS) '.[test,ml]'
	$(PIP) install --quiet --no-deps --force-reinstall .

# RUN_DEPS lets the test of `make run` reuse the venv it already has.
RUN_DEPS ?= install
MLOPS_HOME ?= .airflow
run: $(RUN_DEPS)
	$(BIN)/python airflow_config/stack.py run --port $(PORT) --home $(MLOPS_HOME)

# A basetemp of its own: pytest prunes old temp dirs, which must never hit another checkout's running tests.
test: install-test
	cd tests && ../$(BIN)/python -m pytest --basetemp=../.pytest-tmp $(PYTEST_ARGS)

bench: install-test
	$(BIN)/python bench/bench_versions.py

clean:
	rm -rf $(VENV) .airflow build *.egg-info

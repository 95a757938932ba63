# The two commands of the README: `make run` and `make test`. Everything goes into a local venv.
PYTHON ?= python3.11
VENV ?= .venv
BIN := $(VENV)/bin
PIP := $(BIN)/python -m pip
CONSTRAINTS := airflow_config/constraints.txt
PORT ?= 8080

.PHONY: run test lint install install-test chromium container-engine promtool compose mlflow-server ui bench clean

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

# The browser tests drive Debian's Chromium through Playwright (never a browser Playwright downloads).
APT := $(shell [ "$$(id -u)" = 0 ] && echo apt-get || echo sudo -n apt-get)
chromium:
	@command -v chromium >/dev/null || { echo "installing Debian's chromium for the browser tests"; \
	  $(APT) install -y -qq chromium >/dev/null 2>&1 || { $(APT) update -qq && $(APT) install -y -qq chromium >/dev/null; }; } \
	  || echo "could not install chromium: the browser tests will fail in CI and be skipped elsewhere"

# Docker tasks are tested against podman serving the Docker API (no Docker engine or registry here); the tests
# start and stop it themselves (tests/e2e/container_engine.py).
container-engine:
	@{ command -v podman && command -v runc && command -v busybox; } >/dev/null || { \
	  echo "installing podman, runc and busybox-static for the docker task tests"; \
	  $(APT) install -y -qq podman runc busybox-static >/dev/null 2>&1 || { $(APT) update -qq && \
	  $(APT) install -y -qq podman runc busybox-static >/dev/null; }; } \
	  || echo "could not install podman: the docker task tests will fail in CI and be skipped elsewhere"

# The metrics test checks the endpoint's output with promtool (Debian's prometheus package).
promtool:
	@command -v promtool >/dev/null || { echo "installing Debian's prometheus (promtool) for the metrics test"; \
	  $(APT) install -y -qq --no-install-recommends prometheus >/dev/null 2>&1 || { $(APT) update -qq && \
	  $(APT) install -y -qq --no-install-recommends prometheus >/dev/null; }; } \
	  || echo "could not install promtool: the metrics format test will fail in CI and be skipped elsewhere"

# The compose file is validated with `docker-compose config` (Debian's docker-compose; no Docker engine needed).
compose:
	@{ command -v docker-compose || docker compose version; } >/dev/null 2>&1 || { \
	  echo "installing Debian's docker-compose to validate docker-compose.yml"; \
	  $(APT) install -y -qq docker-compose >/dev/null 2>&1 || { $(APT) update -qq && \
	  $(APT) install -y -qq docker-compose >/dev/null; }; } \
	  || echo "could not install docker-compose: the compose file test will fail in CI and be skipped elsewhere"

# The MLflow tracking tests run a real `mlflow server` from a venv of its own: mlflow's pins fight Airflow's
# constraints, and the plugin only speaks MLflow's REST API (tests/e2e/mlflow_server.py starts and stops it).
# Made again when the pinned requirement changes. [auth]: one test runs MLflow's basic-auth app. (3.18.0 was
# not installable when pinned: its mlflow-tracing 3.18.0 was missing from the index.)
MLFLOW_VENV := .venv-mlflow
MLFLOW_REQUIREMENT := mlflow[auth]==3.17.2
mlflow-server:
	@{ [ -x $(MLFLOW_VENV)/bin/mlflow ] && [ "$$(cat $(MLFLOW_VENV)/installed.txt 2>/dev/null)" = '$(MLFLOW_REQUIREMENT)' ]; } \
	  || { echo "installing $(MLFLOW_REQUIREMENT) into $(MLFLOW_VENV) for the tracking tests"; \
	  rm -rf $(MLFLOW_VENV) && $(PYTHON) -m venv $(MLFLOW_VENV) && \
	  $(MLFLOW_VENV)/bin/pip install --quiet --disable-pip-version-check '$(MLFLOW_REQUIREMENT)' && \
	  echo '$(MLFLOW_REQUIREMENT)' > $(MLFLOW_VENV)/installed.txt; } \
	  || { rm -rf $(MLFLOW_VENV); echo "could not install mlflow: the tracking tests will fail in CI and be skipped elsewhere"; }

# Lint and type checks first (configuration in .ci/); mypy checks the packages as installed, since their
# folders (plugin/, dag_factory/) are not their import names.
lint: install-test
	$(BIN)/python -m ruff check --config .ci/ruff.toml .
	$(BIN)/python -m mypy --config-file .ci/mypy.ini -p airflow_mlops -p airflow_mlops_dag_factory

# A basetemp of its own: pytest prunes old temp dirs, which must never hit another checkout's running tests.
test: lint chromium container-engine promtool compose mlflow-server
	cd tests && ../$(BIN)/python -m pytest --basetemp=../.pytest-tmp --durations=30 $(PYTEST_ARGS)

# Rebuild the pages' script from plugin/ui_src (needs Node.js + npm); the result is committed.
ui:
	cd plugin/ui_src && npm ci --no-audit --no-fund && npm run build

bench: install-test
	$(PIP) install --quiet -c $(CONSTRAINTS) '.[bench]'
	$(BIN)/python bench/bench_versions.py
	$(BIN)/python bench/bench_live.py
	$(BIN)/python bench/bench_dag_generation.py
	$(BIN)/python bench/bench_api.py

clean:
	rm -rf $(VENV) .airflow build *.egg-info

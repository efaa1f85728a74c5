# Aegis Sync — everything a person or CI types. `make run` and `make test` do all set-up themselves.
SHELL := /bin/bash
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
PYTEST_ARGS ?=

.PHONY: bench-pii deadcode docs help install lint system-deps python-deps jars k8s-tools k8s-check run stop test test-all test-unit test-stop faults clean

help:  ## list the targets
	@grep -E '^[a-z-]+:.*##' $(MAKEFILE_LIST) | sed -E 's/:.*## /\t/'

install: system-deps python-deps jars models k8s-tools  ## install everything missing (Debian packages, .venv, server jars, model, manifest schemas)

system-deps:  ## Debian packages for the native stack (PostgreSQL, Redis, JDK 17, Maven, Prometheus), when missing
	@missing=""; \
	ls /usr/lib/postgresql/*/bin/postgres >/dev/null 2>&1 || missing="$$missing postgresql"; \
	command -v redis-server >/dev/null || missing="$$missing redis-server"; \
	command -v javac >/dev/null || missing="$$missing openjdk-17-jdk-headless"; \
	command -v mvn >/dev/null || missing="$$missing maven"; \
	if [ -n "$$missing" ]; then \
	  echo "installing Debian packages:$$missing"; \
	  if [ "$$(id -u)" = 0 ]; then SUDO=""; else SUDO="sudo"; fi; \
	  $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq $$missing >/dev/null; \
	fi
	@# CPU-only torch for the embeddings (PyPI's x86_64 torch pulls GBs of CUDA); OpenBLAS, not reference BLAS;
	@# Prometheus and promtool (the local stack's monitoring, alert-rule tests) without the node exporter
	@missing=""; \
	test -d /usr/lib/python3/dist-packages/torch || missing="$$missing python3-torch"; \
	ls /usr/lib/x86_64-linux-gnu/openblas-pthread/libblas.so.3 >/dev/null 2>&1 || missing="$$missing libopenblas0-pthread"; \
	command -v promtool >/dev/null || missing="$$missing prometheus"; \
	if [ -n "$$missing" ]; then \
	  echo "installing Debian packages:$$missing"; \
	  if [ "$$(id -u)" = 0 ]; then SUDO=""; else SUDO="sudo"; fi; \
	  $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq --no-install-recommends $$missing >/dev/null; \
	fi

$(BIN)/.installed: pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python scripts/link_debian_torch.py
	$(BIN)/pip install -q -e '.[dev]'
	@touch $@

python-deps: $(BIN)/.installed  ## the project and its Python dependencies in .venv

jars: python-deps  ## Kafka, Kafka Connect and Debezium jars from Maven Central (cached)
	$(BIN)/aegis stack install

models: python-deps  ## the Milvus sink's embedding model, exported once for an ONNX backend (EMBEDDING_BACKEND)
	$(BIN)/aegis sinks prepare-model --if-needed

k8s-tools:  ## the Kubernetes API's OpenAPI spec, KEDA's and Strimzi's CRDs and kustomize, for the manifest checks (cached in .cache/k8s)
	deploy/k8s/tools/fetch.sh

k8s-check: python-deps k8s-tools  ## render every deploy/k8s overlay and validate it against the API and CRD schemas (offline)
	$(BIN)/python deploy/k8s/tools/validate.py

run: install  ## the main job on the local stack (Ctrl-C stops it; `make stop` stops the servers)
	$(BIN)/aegis run

stop:  ## stop every server the stack started
	$(BIN)/aegis stack down

# The integration suites run by `make test` (and CI), verified together on one stack: all of them
# (the reconciler suite works in a database of its own). `make test-all` runs tests/integration as a
# whole, so a new suite runs there before it is listed here; the fault suite is `make faults`.
CI_INTEGRATION ?= tests/integration/aegis tests/integration/collectors tests/integration/connectors \
	tests/integration/cdc_sinks tests/integration/avro tests/integration/reconciler tests/integration/privacy \
	tests/integration/monitoring

# The tests' own stack (tests/stack-test.env: state directory .stack-test, ports 1xxxx), never the one
# `make run` uses; another file separates parallel runs: `make test AEGIS_TEST_ENV_FILE=other.env`.
AEGIS_TEST_ENV_FILE ?= tests/stack-test.env
TEST_ENV := AEGIS_TEST_ENV_FILE=$(AEGIS_TEST_ENV_FILE)

test: install  ## unit tests, then the CI integration suites against the test stack (started and stopped here)
	$(BIN)/pytest tests/unit -q $(PYTEST_ARGS)
	$(TEST_ENV) $(BIN)/pytest $(CI_INTEGRATION) -m "integration and not slow" -v --durations=25 $(PYTEST_ARGS)

test-all: install  ## unit tests, then every integration test except the slow ones
	$(BIN)/pytest tests/unit -q $(PYTEST_ARGS)
	$(TEST_ENV) $(BIN)/pytest tests/integration -m "integration and not slow" -v --durations=25 $(PYTEST_ARGS)

test-stop:  ## stop the test stack (left running by AEGIS_TEST_KEEP_STACK=1)
	AEGIS_ENV_FILE=$(AEGIS_TEST_ENV_FILE) $(BIN)/aegis stack down

lint: python-deps  ## ruff and mypy over the packages, scripts/ and deploy/ (configured in pyproject.toml); no servers
	$(BIN)/ruff check
	$(BIN)/mypy

# Not part of `make lint`: vulture cannot see uses from tests/, bench/, the Makefile or a "module:function" string.
deadcode: python-deps  ## candidates for removal (vulture); grep tests/, bench/, docs/ and the Makefile before deleting one
	-$(BIN)/vulture

test-unit: python-deps k8s-tools  ## unit tests only (no servers)
	$(BIN)/pytest tests/unit -q $(PYTEST_ARGS)

# Not part of `make test`: ~20 minutes on 2 cores (every sink killed, every server stopped or restarted in turn); docs/faults.md.
faults: install  ## fault-injection suite: each fault under load, checked for zero drift; results into bench/RESULTS.md
	$(TEST_ENV) $(BIN)/pytest tests/faults -m faults -v -s -p no:cacheprovider --durations=0 $(PYTEST_ARGS)

bench-pii: python-deps  ## masking policy vs ko-pii detect_all vs Presidio on the PII corpus (bench/RESULTS.md)
	$(BIN)/pip install -q -e '.[dev,pii-compare]'
	$(BIN)/python -m bench.privacy.pii_bench --json bench/privacy/results-pii-bench.json

clean:  ## stop the stack and the test stack and delete their state (data, logs, jars)
	-$(BIN)/aegis stack down
	-AEGIS_ENV_FILE=$(AEGIS_TEST_ENV_FILE) $(BIN)/aegis stack down
	rm -rf .stack .stack-test

docs: python-deps  ## regenerate the README's configuration table and CLI reference, the collectors' shape tables and the Strimzi connector
	$(BIN)/python -m console.readme README.md
	$(BIN)/python deploy/k8s/tools/render_connector.py
	$(BIN)/python -m collectors.samples.shapes docs/collectors.md

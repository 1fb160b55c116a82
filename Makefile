# Every target installs what it needs: a fresh clone runs `make demo` or `make test` as is.
SHELL := /bin/bash
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-stamp

.PHONY: venv lint test unit demo bench bench-quick bench-venv kafka-start kafka-stop clean

$(STAMP): pyproject.toml
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[dev]'
	@touch $(STAMP)

venv: $(STAMP)

lint: venv
	$(VENV)/bin/ruff check stream_notifier tests bench dev examples
	$(VENV)/bin/mypy --strict stream_notifier

# The whole suite, unit and integration, against a real broker (started here if none runs).
test: venv
	dev/with-kafka.sh $(VENV)/bin/pytest tests $(PYTEST_ARGS)

unit: venv
	$(VENV)/bin/pytest tests -m 'not integration' $(PYTEST_ARGS)

demo: venv
	dev/with-kafka.sh $(PY) -m stream_notifier.demo

BENCH_STAMP := $(VENV)/.bench-stamp
QUIX_VENV := .local/bench/quix-venv
QUIX_STAMP := $(QUIX_VENV)/.installed-stamp

$(BENCH_STAMP): $(STAMP) pyproject.toml
	$(PY) -m pip install --quiet -e '.[dev,bench]'
	@touch $(BENCH_STAMP)

# Quix Streams pins an older confluent-kafka than ours: it gets a virtualenv of its own, so
# that installing it never downgrades the client the tests and the service run on.
$(QUIX_STAMP): pyproject.toml
	@test -x $(QUIX_VENV)/bin/python || $(PYTHON) -m venv $(QUIX_VENV)
	$(QUIX_VENV)/bin/python -m pip install --quiet --upgrade pip
	$(QUIX_VENV)/bin/python -m pip install --quiet -e '.[bench-quix]'
	@touch $(QUIX_STAMP)

bench-venv: $(BENCH_STAMP) $(QUIX_STAMP)

# Benchmarks are never part of `make test`; results go to bench/results/latest.*.
bench: bench-venv
	dev/with-kafka.sh $(PY) -m bench.run

bench-quick: bench-venv
	dev/with-kafka.sh $(PY) -m bench.run --quick

kafka-start:
	dev/kafka.sh start

kafka-stop:
	dev/kafka.sh stop

# The Helm chart: lint, render, kubeconform, the service's parser on the rendered config.
# Builds helm and kubeconform into .local/tools with go install; not part of test or lint.
.PHONY: helm-check
helm-check: venv
	dev/helm-check.sh

clean:
	rm -rf $(VENV) .local build *.egg-info

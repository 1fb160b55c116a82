# Every target installs what it needs: a fresh clone runs `make demo` or `make test` as is.
SHELL := /bin/bash
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-stamp

.PHONY: venv lint test unit demo bench bench-quick kafka-start kafka-stop clean

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

bench: venv
	dev/with-kafka.sh $(PY) -m bench.run

bench-quick: venv
	dev/with-kafka.sh $(PY) -m bench.run --quick

kafka-start:
	dev/kafka.sh start

kafka-stop:
	dev/kafka.sh stop

clean:
	rm -rf $(VENV) .local build *.egg-info

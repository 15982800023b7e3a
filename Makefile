# The README names these targets; .ci/run calls `make test`.
SHELL := /bin/bash
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-$(shell cat pyproject.toml | sha1sum | cut -c1-12)

NATIVE := build/native
# The compiled overlay first on the path; PYTHONSAFEPATH keeps `python -m` (here and in the
# worker processes a bench starts) from putting the checkout's pure sources in front of it.
NATIVE_ENV := PYTHONSAFEPATH=1 PYTHONPATH=$(CURDIR)/$(NATIVE):$(CURDIR)

.PHONY: install test unit lint native demo demo-gateway bench kafka-start kafka-stop topics worker clean

install: $(STAMP)  ## create .venv and install the package with its dev tools

$(STAMP): pyproject.toml deploy/tools.sh
	bash deploy/tools.sh
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[dev]'
	rm -f $(VENV)/.installed-* && touch $@

lint: install  ## ruff (lint + format) and mypy
	$(PY) -m ruff check stream_sla tests grafana bench
	$(PY) -m ruff format --check stream_sla tests grafana bench
	$(PY) -m mypy stream_sla

test: install lint native  ## everything: lint, unit (pure and compiled), Faust agent and real-broker integration tests
	$(NATIVE_ENV) STREAM_SLA_EXPECT_NATIVE=1 $(PY) -m pytest -q -p no:cacheprovider --import-mode=append tests/unit
	STREAM_SLA_REQUIRE_INTEGRATION=1 $(PY) -m pytest

unit: install  ## only the tests that need no broker
	$(PY) -m pytest tests/unit tests/stream

demo: install  ## local Kafka + worker + synthetic CRM; Ctrl-C stops everything
	bash deploy/local/demo.sh

demo-gateway: install  ## the same demo through `stream-sla gateway`: signed HubSpot webhooks in
	STREAM_SLA_DEMO_VIA=hubspot bash deploy/local/demo.sh

native: $(NATIVE)/SOURCE_COMMIT  ## the SLA core compiled by mypyc into build/native (deploy/native.sh)

$(NATIVE)/SOURCE_COMMIT: $(STAMP) deploy/native.sh $(shell find stream_sla topics -type f -not -path '*/__pycache__/*')
	PYTHON=$(PY) bash deploy/native.sh $(NATIVE)

bench: install native  ## speed and memory against baselines measured in the same run (not part of test); the compiled core
	$(NATIVE_ENV) $(PY) -m bench.run

kafka-start:
	bash deploy/local/kafka.sh start

kafka-stop:
	bash deploy/local/kafka.sh stop

clean:
	rm -rf $(VENV) var build .pytest_cache .mypy_cache .ruff_cache .hypothesis

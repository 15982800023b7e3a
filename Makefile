# The README names these targets; .ci/run calls `make test`.
SHELL := /bin/bash
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-$(shell cat pyproject.toml | sha1sum | cut -c1-12)

.PHONY: install test unit lint demo demo-gateway bench kafka-start kafka-stop topics worker clean

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

test: install lint  ## everything: lint, unit, Faust agent and real-broker integration tests
	STREAM_SLA_REQUIRE_INTEGRATION=1 $(PY) -m pytest

unit: install  ## only the tests that need no broker
	$(PY) -m pytest tests/unit tests/stream

demo: install  ## local Kafka + worker + synthetic CRM; Ctrl-C stops everything
	bash deploy/local/demo.sh

demo-gateway: install  ## the same demo through `stream-sla gateway`: signed HubSpot webhooks in
	STREAM_SLA_DEMO_VIA=hubspot bash deploy/local/demo.sh

bench: install  ## speed and memory against baselines measured in the same run (not part of test)
	$(PY) -m bench.run

kafka-start:
	bash deploy/local/kafka.sh start

kafka-stop:
	bash deploy/local/kafka.sh stop

clean:
	rm -rf $(VENV) var .pytest_cache .mypy_cache .ruff_cache .hypothesis

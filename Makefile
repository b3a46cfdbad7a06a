# Two commands for a newcomer:  `make run` (the whole pipeline for a day, on the embedded local
# stack) and `make test`. Everything else is a step of those, or a tool for daily work.
SHELL := bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help

PYTHON ?= python3
VENV := .venv
BIN := $(CURDIR)/$(VENV)/bin
LOCAL := $(CURDIR)/.local
# the day to process; default: yesterday (UTC)
DS ?= $(shell $(PYTHON) -c 'import datetime as d; print(d.datetime.now(d.UTC).date() - d.timedelta(days=1))')
ROWS ?= 20000
PYTEST_ARGS ?=

export PATH := $(BIN):$(PATH)
export PYTHONPATH := $(CURDIR)
export AIRFLOW_HOME ?= $(LOCAL)/airflow
export AIRFLOW__CORE__DAGS_FOLDER := $(CURDIR)/dags
export AIRFLOW__CORE__LOAD_EXAMPLES := False
export AIRFLOW__COSMOS__ENABLE_TELEMETRY := False
export AIRFLOW__COSMOS__CACHE_DIR := $(LOCAL)/cosmos_cache
export DBT_SEND_ANONYMOUS_USAGE_STATS := false
export DBT_PROJECT_DIR := $(CURDIR)/dbt_project
# Airflow connections for the DAG, pointing at the local stack (local-only login; override the
# WAREHOUSE_* / SHOP_* variables or these connections for any other environment)
LOCAL_PG_PORT ?= 55432
export AIRFLOW_CONN_WAREHOUSE_DB ?= postgresql://$(or $(WAREHOUSE_USER),pipeline):$(or $(WAREHOUSE_PASSWORD),local-only-password)@$(or $(WAREHOUSE_HOST),127.0.0.1):$(or $(WAREHOUSE_PORT),$(LOCAL_PG_PORT))/$(or $(WAREHOUSE_DBNAME),warehouse)
export AIRFLOW_CONN_SHOP_DB ?= postgresql://$(or $(SHOP_USER),pipeline):$(or $(SHOP_PASSWORD),local-only-password)@$(or $(SHOP_HOST),127.0.0.1):$(or $(SHOP_PORT),$(LOCAL_PG_PORT))/$(or $(SHOP_DBNAME),shop)
DBT := $(BIN)/dbt --no-use-colors
DBT_ARGS := --project-dir dbt_project --profiles-dir dbt_project

.PHONY: help run test setup venv manifest airflow-db up down sample load dbt-build docs summary lint format lock clean

help:  ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-12s %s\n", $$1, $$2}'

run: setup up sample  ## set up from nothing and run the whole DAG for day DS on the local stack
	@mkdir -p $(LOCAL)/logs
	@echo "== airflow dags test etl_pipeline $(DS)  (full log: .local/logs/dags-test-$(DS).log)"
	@airflow dags test etl_pipeline $(DS) -c '{"full_extract": true}' > $(LOCAL)/logs/dags-test-$(DS).log 2>&1 \
	  || { tail -n 60 $(LOCAL)/logs/dags-test-$(DS).log; echo "the DAG run failed: see .local/logs/dags-test-$(DS).log"; exit 1; }
	@grep -o 'end task task_id=[^ ]*' $(LOCAL)/logs/dags-test-$(DS).log | sed 's/end task task_id=/  done: /'
	@grep -o 'DagRun Finished.*state=[a-z]*' $(LOCAL)/logs/dags-test-$(DS).log | grep -o 'state=[a-z]*' | sed 's/^/  DAG run /'
	@python -m loaders summary --ds $(DS)

test: setup  ## set up from nothing and run the test suite (lint included)
	ruff check .
	ruff format --check .
	python -m pytest $(PYTEST_ARGS)

setup: venv manifest airflow-db  ## the Python environment, dbt manifest and Airflow metadata DB

venv: $(VENV)/.installed
$(VENV)/.installed: requirements.txt
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info[:2] == (3, 11) else "Python 3.11 is required (found " + sys.version.split()[0] + "); set PYTHON=/path/to/python3.11")'
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check uv
	$(BIN)/python -m uv pip install --quiet --python $(BIN)/python -r requirements.txt
	touch $@

manifest: dbt_project/target/manifest.json  ## the dbt manifest Cosmos renders the DAG from
dbt_project/target/manifest.json: $(VENV)/.installed $(shell find dbt_project -name '*.sql' -o -name '*.yml' -o -name '*.md' | grep -v -e /target/ -e /logs/)
	cd dbt_project && $(DBT) --quiet parse --profiles-dir .
	touch $@

airflow-db: $(AIRFLOW_HOME)/.migrated
$(AIRFLOW_HOME)/.migrated: $(VENV)/.installed
	mkdir -p $(AIRFLOW_HOME)
	airflow db migrate > $(AIRFLOW_HOME)/migrate.log 2>&1 || { tail -n 20 $(AIRFLOW_HOME)/migrate.log; exit 1; }
	touch $@

up: venv  ## start the embedded PostgreSQL (127.0.0.1:55432; reused when running)
	python -m loaders up

down:  ## stop the embedded PostgreSQL
	@if [ -x $(BIN)/python ]; then python -m loaders down; else echo "nothing to stop"; fi

sample: venv up  ## generate the shop database and day DS's interactions CSV (ROWS rows)
	python -m loaders generate --ds $(DS) --rows $(ROWS)

load: venv up  ## ingest day DS's interactions CSV into the lake and raw (no dbt)
	python -m loaders interactions --ds $(DS)

dbt-build: setup up  ## dbt build on the local warehouse (all days)
	$(DBT) build $(DBT_ARGS)

docs-generate: setup up
	@$(DBT) --quiet docs generate $(DBT_ARGS) --target-path target --static > /dev/null \
	  && echo "== dbt docs written to dbt_project/target/ (static_index.html: open it in a browser)"

summary: venv  ## rows per layer for day DS
	python -m loaders summary --ds $(DS)

lint:  ## ruff lint + format check
	ruff check . && ruff format --check .

format:  ## apply ruff fixes and formatting
	ruff check --fix . && ruff format .

lock:  ## re-pin requirements.txt from requirements.in
	$(BIN)/python -m uv pip compile requirements.in --python-version 3.11 --no-header -o requirements.txt

clean: down  ## stop the stack and delete all local state (.local/, dbt target/)
	rm -rf $(LOCAL) dbt_project/target dbt_project/logs

bench: setup up  ## benchmarks: loaders vs psql \copy and pandas; DAG parse time; dbt stage via Airflow vs dbt
	python bench/loaders_bench.py --rows $(if $(filter 20000,$(ROWS)),1000000,$(ROWS))
	@if [ -f bench/dag_parse.py ]; then python bench/dag_parse.py; fi
	python bench/dbt_stage.py --rows $(if $(filter 20000,$(ROWS)),1000000,$(ROWS))

bench-dbt: setup up  ## the dbt stage of one day through Airflow vs one plain dbt build
	python bench/dbt_stage.py --rows $(if $(filter 20000,$(ROWS)),1000000,$(ROWS))


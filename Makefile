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
# Airflow's other settings: scripts/airflow_env.py (the one place for them)
export AIRFLOW_HOME ?= $(LOCAL)/airflow
export DBT_SEND_ANONYMOUS_USAGE_STATS := false
# Airflow connections for the DAG, pointing at the local stack (local-only login; override the
# WAREHOUSE_* / SHOP_* variables or these connections for any other environment)
LOCAL_PG_PORT ?= 55432
export AIRFLOW_CONN_WAREHOUSE_DB ?= postgresql://$(or $(WAREHOUSE_USER),pipeline):$(or $(WAREHOUSE_PASSWORD),local-only-password)@$(or $(WAREHOUSE_HOST),127.0.0.1):$(or $(WAREHOUSE_PORT),$(LOCAL_PG_PORT))/$(or $(WAREHOUSE_DBNAME),warehouse)
export AIRFLOW_CONN_SHOP_DB ?= postgresql://$(or $(SHOP_USER),pipeline):$(or $(SHOP_PASSWORD),local-only-password)@$(or $(SHOP_HOST),127.0.0.1):$(or $(SHOP_PORT),$(LOCAL_PG_PORT))/$(or $(SHOP_DBNAME),shop)
DBT := $(BIN)/dbt --no-use-colors
DBT_ARGS := --project-dir dbt_project --profiles-dir dbt_project

.PHONY: help run test setup venv manifest airflow-db up down sample load dbt-build docs summary lint typecheck secrets format lock clean bench bench-dbt bench-history soak

help:  ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-12s %s\n", $$1, $$2}'

run: setup up sample  ## set up from nothing and run the whole DAG for day DS on the local stack
	@python -m scripts.run_day --ds $(DS) --conf '{"full_extract": true}'
	@python -m loaders summary --ds $(DS)

test: setup typecheck  ## set up from nothing and run the test suite (lint and type check included)
	ruff check .
	ruff format --check .
	python -m pytest $(PYTEST_ARGS)

setup: venv manifest airflow-db  ## the Python environment, dbt manifest and Airflow metadata DB

venv: $(VENV)/.installed
$(VENV)/.installed: requirements.txt
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info[:2] == (3, 11) else "Python 3.11 is required (found " + sys.version.split()[0] + "); set PYTHON=/path/to/python3.11")'
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip --version > /dev/null 2>&1 || $(BIN)/python -m ensurepip --default-pip > /dev/null
	$(BIN)/python -m pip install --quiet --disable-pip-version-check uv
	@# compiled once here: a Python that may not write bytecode (PYTHONDONTWRITEBYTECODE) would
	@# otherwise compile Airflow and dbt from source in every process (import airflow.sdk: 3.3 s vs 1.6 s)
	$(BIN)/python -m uv pip install --quiet --compile-bytecode --python $(BIN)/python -r requirements.txt
	touch $@

manifest: dbt_project/target/manifest.json  ## the dbt manifest Cosmos renders the DAG from
dbt_project/target/manifest.json: $(VENV)/.installed $(shell find dbt_project -name '*.sql' -o -name '*.yml' -o -name '*.md' | grep -v -e /target/ -e /logs/)
	cd dbt_project && $(DBT) --quiet parse --profiles-dir .
	touch $@

airflow-db: $(AIRFLOW_HOME)/.migrated
$(AIRFLOW_HOME)/.migrated: $(VENV)/.installed
	mkdir -p $(AIRFLOW_HOME)
	@# Airflow's default metadata DB, SQLite in AIRFLOW_HOME, as scripts/airflow_env.py's
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

secrets: venv  ## secret scan: fail on any secret not reviewed in .secrets.baseline (detect-secrets)
	python -m pytest tests/test_secrets.py -q -p no:cacheprovider

lint:  ## ruff lint + format check
	ruff check . && ruff format --check .

typecheck: venv  ## mypy over loaders/, orchestration/, airflow_plugins/, dags/, scripts/, bench/ (pyproject.toml)
	mypy

format:  ## apply ruff fixes and formatting
	ruff check --fix . && ruff format .

lock:  ## re-pin requirements.txt from requirements.in
	$(BIN)/python -m uv pip compile requirements.in --python-version 3.11 --no-header -o requirements.txt

clean: down  ## stop the stack and delete all local state (.local/, dbt target/)
	rm -rf $(LOCAL) dbt_project/target dbt_project/logs

bench: setup up  ## benchmarks: loaders vs psql \copy and pandas; DAG parse time; dbt stage via Airflow vs dbt
	python bench/loaders_bench.py --rows $(if $(filter 20000,$(ROWS)),1000000,$(ROWS))
	python bench/dag_parse.py
	python bench/dbt_stage.py --rows $(if $(filter 20000,$(ROWS)),1000000,$(ROWS))

RUNS ?= 20
soak: setup up sample  ## RUNS consecutive DAG runs for day DS (as make run), each with a deadline: no hang, no failure
	python -m scripts.soak --ds $(DS) --runs $(RUNS)

DAYS ?= 5
bench-history: setup up  ## daily cost against history: DAYS days of ROWS interactions (default 5 x 100000), per day and last/first
	python bench/history.py --days $(DAYS) --rows $(if $(filter 20000,$(ROWS)),100000,$(ROWS))

bench-dbt: setup up  ## the dbt stage of one day through Airflow vs one plain dbt build
	python bench/dbt_stage.py --rows $(if $(filter 20000,$(ROWS)),1000000,$(ROWS))

# --- Airflow UI and docs ---
AIRFLOW_PORT ?= 8080
DOCS_PORT ?= 8081
CHROMIUM ?= /usr/bin/chromium
ARGS ?=
CONF ?=
AIRFLOW_LOCAL := python -m scripts.airflow_local_cli

.PHONY: airflow airflow-stop airflow-status airflow-unpause airflow-trigger airflow-cli docs browser-deps redis-deps bench-dag

airflow: setup up  ## start Airflow 3 (api-server, scheduler, dag-processor, triggerer) on 127.0.0.1:AIRFLOW_PORT
	$(AIRFLOW_LOCAL) --port $(AIRFLOW_PORT) start

airflow-stop:  ## stop every Airflow process `make airflow` started
	@if [ -x $(BIN)/python ]; then $(AIRFLOW_LOCAL) stop; else echo "nothing to stop"; fi

airflow-status: venv  ## which Airflow components run, and their health
	$(AIRFLOW_LOCAL) status

airflow-unpause: venv  ## unpause etl_pipeline in the running Airflow
	$(AIRFLOW_LOCAL) unpause

airflow-trigger: venv  ## run etl_pipeline for day DS (params CONF='{...}') in the running Airflow; wait for it
	$(AIRFLOW_LOCAL) trigger --ds $(DS) $(if $(CONF),--conf '$(CONF)')

airflow-cli: venv  ## an airflow command against the running Airflow: make airflow-cli ARGS='dags list'
	$(AIRFLOW_LOCAL) cli $(ARGS)

docs: docs-generate  ## generate the dbt docs and serve them on http://127.0.0.1:DOCS_PORT (Ctrl-C stops)
	python -m scripts.serve_docs --port $(DOCS_PORT) --dir dbt_project/target

browser-deps:  ## install Debian's chromium for the browser tests (once; needs root or sudo)
	@if [ -x $(CHROMIUM) ]; then echo "== $$($(CHROMIUM) --version 2>/dev/null) at $(CHROMIUM)"; exit 0; fi; \
	  SUDO=; if [ "$$(id -u)" != 0 ]; then command -v sudo >/dev/null || { echo "error: installing chromium needs root (apt-get install chromium)"; exit 1; }; SUDO=sudo; fi; \
	  echo "== apt-get install chromium"; \
	  $$SUDO apt-get -o DPkg::Lock::Timeout=600 update -qq; \
	  DEBIAN_FRONTEND=noninteractive $$SUDO apt-get -o DPkg::Lock::Timeout=600 install -y -qq --no-install-recommends chromium fonts-liberation > /dev/null; \
	  echo "== $$($(CHROMIUM) --version 2>/dev/null) at $(CHROMIUM)"

REDIS_SERVER ?= /usr/bin/redis-server
redis-deps:  ## install Debian's redis-server for the Celery test (once; needs root or sudo)
	@if [ -x $(REDIS_SERVER) ]; then echo "== $$($(REDIS_SERVER) --version) at $(REDIS_SERVER)"; exit 0; fi; \
	  SUDO=; if [ "$$(id -u)" != 0 ]; then command -v sudo >/dev/null || { echo "error: installing redis-server needs root (apt-get install redis-server)"; exit 1; }; SUDO=sudo; fi; \
	  echo "== apt-get install redis-server"; \
	  $$SUDO apt-get -o DPkg::Lock::Timeout=600 update -qq; \
	  DEBIAN_FRONTEND=noninteractive $$SUDO apt-get -o DPkg::Lock::Timeout=600 install -y -qq --no-install-recommends redis-server > /dev/null; \
	  echo "== $$($(REDIS_SERVER) --version) at $(REDIS_SERVER)"

bench-dag: setup  ## DAG parse time of dags/etl_pipeline.py (median of fresh processes; target <= 0.2 s)
	python bench/dag_parse.py

# --- dbt (analytics engineering) ---
SQLFLUFF := cd dbt_project && $(BIN)/sqlfluff
SQL_PATHS := models analyses tests snapshots

.PHONY: roles lint-sql fix-sql redshift-sql test-dbt

roles: venv up  ## create the warehouse roles and schema privileges (idempotent; dbt run-operation)
	$(DBT) run-operation create_access_roles $(DBT_ARGS)

lint-sql: venv up  ## sqlfluff on the dbt SQL (dbt templater, against the local warehouse)
	$(SQLFLUFF) lint $(SQL_PATHS) --processes 2

fix-sql: venv up  ## let sqlfluff fix what it can in the dbt SQL
	$(SQLFLUFF) fix $(SQL_PATHS) --processes 2

redshift-sql: venv  ## compile every dbt node for Redshift with no cluster and parse it as Redshift SQL
	python -m pytest tests/test_dbt_redshift.py -q $(PYTEST_ARGS)

test-dbt: venv  ## the dbt suites only: models, reports against Python, access by role, Redshift SQL
	python -m pytest -m dbt $(PYTEST_ARGS)

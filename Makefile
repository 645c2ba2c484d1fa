# One entry point for people, cron and CI. Every target depends on `setup`.
SHELL := /bin/bash
.DEFAULT_GOAL := help

VENV      := .venv
PY        := $(VENV)/bin/python
BATISYNC  := $(VENV)/bin/batisync
STAMP     := $(VENV)/.installed
DBT_DIR   := dbt_project
DBT       := $(VENV)/bin/dbt
DBT_FLAGS := --project-dir $(DBT_DIR) --profiles-dir $(DBT_DIR)

export DBT_SEND_ANONYMOUS_USAGE_STATS := False
export DBT_PROFILES_DIR := $(CURDIR)/$(DBT_DIR)
export PYTHONDONTWRITEBYTECODE := 1

.PHONY: help setup test lint format demo dagster sync dossiers doctor debug-heures reconcile pg-start pg-stop docs bench reliability evidence clean

help:  ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-14s %s\n", $$1, $$2}'

setup: $(STAMP)  ## create .venv and install the project (instant when nothing changed)

$(STAMP): pyproject.toml constraints.txt scripts/ensure_system_deps.sh
	@scripts/ensure_system_deps.sh
	@test -x $(PY) || python3 -m venv $(VENV)
	@$(PY) -m pip install -q --upgrade pip
	@$(PY) -m pip install -q -c constraints.txt -e '.[dev,dagster]'
	@touch $@

test: setup  ## run every test (pytest, dbt unit and data tests) on a throwaway PostgreSQL
	$(PY) -m pytest $(PYTEST_ARGS)

lint: setup  ## ruff
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

format: setup  ## apply ruff's fixes and formatting
	$(VENV)/bin/ruff check --fix .
	$(VENV)/bin/ruff format .

demo: setup  ## the whole sync on the embedded local stack, twice, with changes between
	@$(PY) -m devstack.demo $(if $(VERBOSE),--verbose)

dagster: setup  ## `dagster dev` on demo dossiers (fake APIs, Batigest stand-ins): http://127.0.0.1:3000
	@$(PY) -m devstack.dagster_demo $(if $(PORT),--port $(PORT))

# Every target below is a thin call of the `batisync` console script.
# `@`: stdout carries only the summary (JSON=1 must parse). GNU make turns any failing
# recipe into its own exit status 2; cron and CI that need 1 vs 75 call
# `.venv/bin/batisync sync` directly (docs/OPERATIONS.md "6. Running it from cron").
# DOSSIER=NAME: one dossier of DOSSIERS_DIR; ALL=1 (JOBS=N): every dossier (docs/DOSSIERS.md)
DOSSIER_ARG = $(if $(DOSSIER),--dossier $(DOSSIER))

sync: setup  ## one production run: load, transform, export (JSON=1 VERBOSE=1 DRY_RUN=1 FULL_REFRESH=1 DOSSIER=NAME ALL=1 JOBS=N)
	@$(BATISYNC) sync $(DOSSIER_ARG) $(if $(ALL),--all $(if $(JOBS),--jobs $(JOBS))) \
		$(if $(JSON),--json) $(if $(VERBOSE),--verbose) $(if $(DRY_RUN),--dry-run) \
		$(if $(FULL_REFRESH),--full-refresh)

dossiers: setup  ## every dossier: targets, last run, state, rejections waiting (JSON=1)
	@$(BATISYNC) dossiers $(if $(JSON),--json)

doctor: setup  ## check every setting and connection
	@$(BATISYNC) doctor $(DOSSIER_ARG) $(if $(VERBOSE),--verbose)

debug-heures: setup  ## the recette tool: DAYS=7 ID=<id_heure> UPDATE_CODES=1 APPLY=1 VERBOSE=1
	@$(BATISYNC) debug-heures $(DOSSIER_ARG) $(if $(DAYS),--days $(DAYS)) $(if $(ID),--id-heure $(ID)) \
		$(if $(UPDATE_CODES),--update-codes) $(if $(APPLY),--apply) $(if $(VERBOSE),--verbose)

reconcile: setup  ## compare SuiviMO with the map (REPAIR=1 rewrites drifted rows)
	@$(BATISYNC) reconcile $(DOSSIER_ARG) $(if $(REPAIR),--repair) $(if $(JSON),--json)

pg-start: setup  ## start the project's own PostgreSQL (in .pg/) and print its settings
	$(PY) -m devstack.pg start

pg-stop: setup  ## stop it
	$(PY) -m devstack.pg stop

docs: setup  ## build dbt's docs site (dbt_project/target/index.html) from the staging PG*
	@$(BATISYNC) dbt docs generate

reliability: setup  ## the fault matrix (crashes, API faults, restarts, hostile corpus, lock, secrets) as a table
	@BATISYNC_RELIABILITY=1 $(PY) -m pytest tests/orchestrate/test_hostile.py -q -p no:cacheprovider
	@BATISYNC_INCREMENTAL_ROUNDS=25 $(PY) -m pytest tests/orchestrate/test_incremental_property.py -q -p no:cacheprovider
	@$(PY) -m devstack.reliability --markdown bench/reliability.md; status=$$?; \
	  $(PY) -m benchmarks.evidence reliability; exit $$status

bench: setup  ## speed and memory: bench/report.md, pasted into docs/EVIDENCE.md (BENCH_SYNC_SIZES=2000: a smoke run, not pasted)
	$(PY) -m pytest benchmarks -s --benchmark-only $(PYTEST_ARGS)
	@$(PY) -m benchmarks.evidence bench

evidence: setup  ## paste bench/report.md and bench/reliability.md into docs/EVIDENCE.md again
	@$(PY) -m benchmarks.evidence

clean:  ## remove the virtualenv and build output (not .pg/)
	rm -rf $(VENV) $(DBT_DIR)/target $(DBT_DIR)/logs .pytest_cache .ruff_cache *.egg-info

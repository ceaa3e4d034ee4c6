# The two commands: `make run` (set up, then web + worker + beat) and `make test`
# (set up, then lint and the whole suite). Both work on a fresh machine and are idempotent.
SHELL := /bin/bash
.DEFAULT_GOAL := help
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
export PATH := $(CURDIR)/$(BIN):$(PATH)
export PIP_DISABLE_PIP_VERSION_CHECK := 1

.PHONY: help run test setup services migrate seed lint pytest chromium messages bench

help:
	@echo "make run   - set up everything and start web (http://127.0.0.1:8000/), worker and beat"
	@echo "make test  - set up everything, then ruff, migration check and the whole pytest suite"
	@echo "make bench - load the crm_bench database (500,000 customers) and measure the API through gunicorn"

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

# Stamps: reinstall only when the pinned lists change.
$(VENV)/.runtime: requirements.txt | $(BIN)/python
	$(BIN)/pip install --quiet -r requirements.txt
	touch $@

$(VENV)/.dev: requirements.txt requirements-dev.txt | $(BIN)/python
	$(BIN)/pip install --quiet -r requirements-dev.txt
	touch $@ $(VENV)/.runtime

services: $(VENV)/.runtime
	$(BIN)/python scripts/ensure_services.py

migrate: services
	$(BIN)/python manage.py migrate --noinput
	$(BIN)/python manage.py collectstatic --noinput --verbosity 0

seed: migrate
	$(BIN)/python manage.py seed_demo

setup: seed

run: setup
	@mkdir -p var
	$(BIN)/honcho start -f Procfile

# Debian's chromium for the browser journeys (Playwright drives it; its own download is unavailable here).
chromium:
	@command -v chromium >/dev/null || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; }

lint: $(VENV)/.dev
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/python manage.py makemigrations --check --dry-run
	DJANGO_SETTINGS_MODULE=crm.settings_test $(BIN)/python manage.py makemigrations --check --dry-run

# pytest exits 5 when it collected nothing: that is a failure here, never a pass.
pytest: $(VENV)/.dev chromium
	$(BIN)/pytest; rc=$$?; if [ $$rc -eq 5 ]; then echo "pytest collected no tests" >&2; exit 1; fi; exit $$rc

test: $(VENV)/.dev setup lint pytest

# The benchmark (README "Benchmark"): its own database crm_bench, reused between runs.
# BENCH_SCALE=0.1 for a quick run; BENCH_ARGS="--rebuild", "--only customers.search.*", ...
bench: $(VENV)/.runtime
	$(BIN)/python -m bench $(if $(BENCH_SCALE),--scale $(BENCH_SCALE)) $(BENCH_ARGS)

# Regenerate the compiled translations after editing locale/*/LC_MESSAGES/django.po (needs gettext).
messages:
	$(BIN)/python manage.py makemessages -l en --ignore=.venv --ignore=static --ignore=staticfiles
	$(BIN)/python manage.py compilemessages --ignore=.venv

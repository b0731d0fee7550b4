# LeadCRM: `make run` starts the app with demo data, `make test` runs every test.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
PY     := $(BIN)/python
HOST   ?= 127.0.0.1
PORT   ?= 8000
CHROMIUM ?= /usr/bin/chromium
export DJANGO_SETTINGS_MODULE := leadcrm.settings

.PHONY: run test lint format migrate demo worker chromium bench clean

$(BIN)/activate:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip

$(VENV)/.requirements: $(BIN)/activate requirements.txt
	$(BIN)/pip install -q -r requirements.txt
	touch $@

$(VENV)/.requirements-dev: $(VENV)/.requirements requirements-dev.txt
	$(BIN)/pip install -q -r requirements-dev.txt
	touch $@

migrate: $(VENV)/.requirements
	mkdir -p var
	$(PY) manage.py migrate --noinput

demo: migrate
	$(PY) manage.py seed_demo

# Web server and task worker together; Ctrl-C stops both.
run: demo
	@echo "LeadCRM at http://$(HOST):$(PORT)/ (Ctrl-C stops the server and the worker)"
	@trap 'kill $$worker 2>/dev/null; wait $$worker 2>/dev/null' EXIT INT TERM; \
	$(PY) manage.py db_worker & worker=$$!; \
	$(PY) manage.py runserver $(HOST):$(PORT)

worker: migrate
	$(PY) manage.py db_worker

# Browser tests drive Debian's Chromium (Playwright cannot download browsers here).
chromium:
	@if [ ! -x "$(CHROMIUM)" ]; then \
	  if [ "$$(id -u)" = 0 ]; then \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium; \
	  else \
	    echo "Browser tests need Chromium: run  sudo apt-get install -y chromium"; exit 1; \
	  fi; \
	fi

# With DATABASE_URL=postgres://… the suite runs on PostgreSQL, else on SQLite.
test: $(VENV)/.requirements-dev chromium
	$(BIN)/pytest $(PYTEST_ARGS)

# Benchmarks on PostgreSQL (DATABASE_URL), BENCH_LEADS leads (default 1,000,000, generated once).
bench: $(VENV)/.requirements
	@test -n "$$DATABASE_URL" || (echo "make bench needs DATABASE_URL=postgres://…"; exit 1)
	$(PY) bench/run.py

lint: $(VENV)/.requirements-dev
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: $(VENV)/.requirements-dev
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

clean:
	rm -rf $(VENV) var staticfiles .pytest_cache .ruff_cache

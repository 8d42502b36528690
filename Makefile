# The two commands a new user needs: `make demo` and `make test`. Both build .venv first.
SHELL := /bin/bash
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
HOST ?= 127.0.0.1
PORT ?= 8000
PYTEST_ARGS ?=

.PHONY: venv demo test bench migrate messages check clean

$(STAMP): pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "Python 3.11 or newer is needed; set PYTHON=/path/to/python3.11")'
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

venv: $(STAMP)

migrate: venv
	DEBUG=1 $(PY) manage.py migrate --noinput

# Embedded SQLite unless DATABASE_URL says otherwise; the django-q2 cluster and the local fake
# carrier (e-waybills, intercepts; docs/carriers.md) run beside the web server and stop with it (Ctrl-C).
demo: migrate
	DEBUG=1 $(PY) manage.py seed_demo --base-url http://$(HOST):$(PORT)
	@export DEBUG=1; \
	$(PY) manage.py qcluster & QPID=$$!; \
	$(PY) manage.py run_fake_carrier --port 8765 & CPID=$$!; \
	trap 'kill $$QPID $$CPID 2>/dev/null; wait $$QPID $$CPID 2>/dev/null' EXIT INT TERM; \
	echo "Order hub: http://$(HOST):$(PORT)/  (admin: /admin/, API docs: /api/docs/)"; \
	$(PY) manage.py runserver $(HOST):$(PORT)

# SQLite unless DATABASE_URL points at PostgreSQL; PostgreSQL-only tests are then skipped with the reason.
test: venv
	$(PY) manage.py makemigrations --check --dry-run > /dev/null || (echo "models and migrations disagree: run makemigrations" && exit 1)
	$(PY) -m pytest $(PYTEST_ARGS)

bench: venv
	@for b in bench/[a-z]*.py; do echo "== $$b"; $(PY) $$b || exit 1; done

# Regenerate translation catalogues after marking new strings (needs GNU gettext); .mo files are committed.
messages: venv
	DEBUG=1 $(PY) manage.py makemessages -l zh_Hans -l en --ignore=.venv --ignore=bench --ignore=tests
	DEBUG=1 $(PY) manage.py compilemessages --ignore=.venv

check: venv
	DEBUG=1 $(PY) manage.py check

clean:
	rm -rf $(VENV) var/*.sqlite3* .pytest_cache

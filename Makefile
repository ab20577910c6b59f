# Everything a newcomer needs: `make run` (development server) and `make test` (whole suite).
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
HOST ?= 127.0.0.1
PORT ?= 8000

.PHONY: help install install-dev migrate run serve test test-postgres test-package redis-server \
	lint format postman soak chaos bench bench-tools profile docs clean

help:
	@echo "make run    - create .venv, install, migrate, serve on http://$(HOST):$(PORT)/"
	@echo "make test   - install test tools and run the whole test suite"
	@echo "make serve  - collectstatic, migrate, then gunicorn (production-style) on $(HOST):$(PORT)"
	@echo "make test-postgres - the whole suite again on a throwaway PostgreSQL server"
	@echo "make test-package - the wheel in a fresh startproject project; auth0_jwt on Django 4.2 + 5.2"
	@echo "make soak   - gunicorn under concurrent clients while the JWKS flips healthy/failing"
	@echo "make chaos  - two gunicorn instances under load while the IdP, PostgreSQL, Redis and a worker fail"
	@echo "make bench  - token verification and HTTP side by side with the peers (simplejwt, Auth0's quickstart, bare DRF)"
	@echo "make profile - py-spy on the workers of the bench rows in PROFILE_ROWS while wrk loads them"
	@echo "make lint   - ruff check and format check, mypy --strict over the auth0_jwt package"
	@echo "make docs   - build the documentation site into site/ (warnings, broken links and anchors fail)"
	@echo "make postman - run the Postman collection with newman against a throwaway server"

$(PY):
	$(PYTHON) -m venv $(VENV)

$(VENV)/.installed: requirements.txt | $(PY)
	$(PY) -m pip install --disable-pip-version-check --quiet -r requirements.txt
	@touch $@

$(VENV)/.installed-dev: requirements.txt requirements-dev.txt | $(PY)
	$(PY) -m pip install --disable-pip-version-check --quiet -r requirements-dev.txt
	@touch $@ $(VENV)/.installed

install: $(VENV)/.installed

install-dev: $(VENV)/.installed-dev

migrate: install
	$(PY) manage.py migrate --noinput

# With no .env file, `make run` and `make serve` first copy .env.example (development mode:
# DJANGO_DEBUG=1 and the local development issuer), so that manage.py commands such as mint_token
# see the same settings as the server. An existing .env is used as it is.
.env:
	cp .env.example .env
	@echo "Created .env from .env.example: development mode, local development issuer."

run: install .env
	$(PY) manage.py migrate --noinput
	$(PY) manage.py runserver $(HOST):$(PORT)


# Production-style on this machine: static files collected (hashed, compressed), then gunicorn with
# gunicorn.conf.py on http://$(HOST):$(PORT)/. Settings come from .env (created as for `make run`);
# with the production variables (docs/deploying.md) it refuses to start until they are all set.
# `$(PY) gunicorn.conf.py` first checks the gunicorn settings, one line per bad value: gunicorn
# itself reads WEB_CONCURRENCY from the shell before its config file, and a traceback is all it says.
serve: install .env
	@$(PY) gunicorn.conf.py
	$(PY) manage.py collectstatic --noinput --verbosity 0
	$(PY) manage.py migrate --noinput
	GUNICORN_BIND=$${GUNICORN_BIND:-$(HOST):$(PORT)} $(VENV)/bin/gunicorn -c gunicorn.conf.py

# The whole suite on a throwaway PostgreSQL server on 127.0.0.1 (Debian's postgresql package is
# installed when missing, which needs root); CI runs it after `make test`.
test-postgres: install-dev redis-server
	bash scripts/test-postgres.sh

# The DPoP replay store tests start Debian's redis-server on a free loopback port (conftest.py);
# it is installed here when missing (which needs root).
redis-server:
	@command -v redis-server >/dev/null 2>&1 || { echo "redis-server not found: installing Debian's redis-server"; \
		apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q redis-server; }

test: install-dev redis-server
	$(PY) -m pytest

# The auth0_jwt package (drf-auth0-jwt) as a project that installs it sees it: the wheel built and
# installed into a fresh virtualenv with a `django-admin startproject` project, served by runserver
# (package_tests/); then nox runs the package's own tests on Django 4.2 LTS and 5.2 LTS
# (noxfile.py). Both install from PyPI into throwaway environments; CI runs it after `make test`.
test-package: install-dev redis-server
	$(PY) -m pytest package_tests
	$(VENV)/bin/nox


# Not part of `make test`: gunicorn on 127.0.0.1 driven by concurrent clients for SOAK_SECONDS
# (default 30) while a local JWKS server flips between healthy and failing; exits 1 on any 5xx,
# any non-2xx to a valid token, any bad token accepted, or too many JWKS fetches.
soak: install
	$(PY) scripts/soak.py


# Not part of `make test`: two gunicorn instances (2 workers each) sharing a throwaway PostgreSQL
# and Redis on 127.0.0.1, under CHAOS_SECONDS (default 60) of mixed load while the IdP answers
# 500 (with a reload), Redis restarts without persistence, the DPoP table is restored empty,
# PostgreSQL restarts and a worker is killed (docs/reliability.md); exits 1 if a check fails.
# Debian's redis-server and postgresql are installed when missing (root).
chaos: install redis-server
	@ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || { echo "PostgreSQL not found: installing Debian's postgresql"; \
		apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q postgresql; }
	$(PY) scripts/chaos.py


# Not part of `make test`: per-token cost (cryptography, PyJWT, python-jose, this project with and
# without its token cache) and gunicorn under wrk, all on 127.0.0.1, printed as a table
# (docs/performance.md); the adapters' rows need the dev set (Django Ninja, uvicorn). python-jose,
# simplejwt, Authlib and their dependencies go to $(BENCH_PACKAGES), not into the service's
# environment; Debian's wrk (and redis-server, for the DPoP rows) is installed when missing (root).
BENCH_PACKAGES := $(VENV)/bench-packages

$(BENCH_PACKAGES)/.installed: requirements-bench.txt | $(PY)
	$(PY) -m pip install --disable-pip-version-check --quiet --no-deps --upgrade \
		--target $(BENCH_PACKAGES) -r requirements-bench.txt
	@touch $@

bench-tools: install-dev redis-server $(BENCH_PACKAGES)/.installed
	@command -v wrk >/dev/null 2>&1 || { echo "wrk not found: installing Debian's wrk"; \
		apt-get update -q && apt-get install -y -q wrk; }
	@ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || { echo "PostgreSQL not found: installing Debian's postgresql"; \
		apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q postgresql; }

bench: bench-tools
	BENCH_PACKAGES=$(BENCH_PACKAGES) $(PY) bench/run.py

# Not part of `make test`: py-spy (from requirements-bench.txt) on the workers of each of
# PROFILE_ROWS (bench/run.py's row names) while wrk loads it, grouped by package and middleware.
PROFILE_ROWS ?= public private private_token drf_hello quickstart_private
profile: bench-tools
	BENCH_PACKAGES=$(BENCH_PACKAGES) PY_SPY=$(BENCH_PACKAGES)/bin/py-spy $(PY) bench/profile.py $(PROFILE_ROWS)

# mypy reads its settings from pyproject.toml ([tool.mypy]: the auth0_jwt package, not its tests).
lint: install-dev
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy

format: install-dev
	$(VENV)/bin/ruff format .
	$(VENV)/bin/ruff check --fix .

# The documentation site (mkdocs.yml, docs/): MkDocs Material from requirements-docs.txt in a venv of
# its own, apart from the service's; `--strict` makes every warning (a broken link or anchor, a page
# missing from the navigation, a missing snippet file) an error.
DOCS_VENV ?= .venv-docs

$(DOCS_VENV)/.installed: requirements-docs.txt
	$(PYTHON) -m venv $(DOCS_VENV)
	$(DOCS_VENV)/bin/python -m pip install --disable-pip-version-check --quiet -r requirements-docs.txt
	@touch $@

docs: $(DOCS_VENV)/.installed
	NO_MKDOCS_2_WARNING=1 $(DOCS_VENV)/bin/mkdocs build --strict

# newman (pinned in postman/package-lock.json) in postman/node_modules; Debian's Node.js and npm
# are installed first where npm is missing.
postman/node_modules/.installed: postman/package.json postman/package-lock.json
	@command -v npm >/dev/null 2>&1 || { echo "npm not found: installing Debian's nodejs and npm"; \
		apt-get update -q && apt-get install -y -q nodejs npm; }
	npm ci --prefix postman --no-audit --no-fund --loglevel=error
	@touch $@

postman: install postman/node_modules/.installed
	bash postman/run.sh

clean:
	rm -rf $(VENV) $(DOCS_VENV) site .pytest_cache .ruff_cache .hypothesis staticfiles

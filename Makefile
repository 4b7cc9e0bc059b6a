# Two commands do all set-up: `make run` and `make test`. Both are idempotent: .venv is reinstalled only
# when a lock changes, var/ is kept between runs. `make run` installs only the runtime lock (what
# production installs); `make test`, the checks and `make bench` add the development lock. Both locks pin
# every package with its hashes (pip --require-hashes); `make lock` recompiles them from the .in files.
PYTHON ?= python3.11
LOCK_COMPILER ?= pip-compile
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
DEV_STAMP := $(VENV)/.installed-dev
PIP_INSTALL := $(BIN)/python -m pip install --quiet --disable-pip-version-check --require-hashes --no-deps
LOCK := $(LOCK_COMPILER) --quiet --generate-hashes --no-emit-index-url --no-emit-find-links --strip-extras

.PHONY: run test check lint typecheck imports migrations-check catalogues catalogue-check messages oidc-provider bench clean lock

$(STAMP): requirements.lock
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(PIP_INSTALL) -r requirements.lock
	@touch $(STAMP)

$(DEV_STAMP): $(STAMP) requirements-dev.lock
	$(PIP_INSTALL) -r requirements.lock -r requirements-dev.lock
	@touch $(DEV_STAMP)

var:
	@mkdir -p var

run: $(STAMP) var catalogues
	$(BIN)/python manage.py migrate --noinput
	$(BIN)/python manage.py pulse_demo --once
	$(BIN)/python manage.py pulse_demo_history
	$(BIN)/honcho -f Procfile.dev start

lint: $(DEV_STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: $(DEV_STAMP)
	$(BIN)/mypy .

migrations-check: $(DEV_STAMP)
	$(BIN)/python manage.py makemigrations --check --dry-run

imports: $(DEV_STAMP)
	$(BIN)/lint-imports

# The translation catalogues (locale/<language>/LC_MESSAGES/django.po) compiled to the .mo files Django
# reads, which are not committed; only a changed .po is compiled again. Needs GNU gettext, installed from
# the distribution's packages when missing (docs/languages.md).
catalogues: $(STAMP)
	@command -v msgfmt >/dev/null || (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq gettext)
	$(BIN)/python manage.py compilemessages --verbosity 0 --ignore .venv --ignore var --ignore node_modules

# Every marked string has a translation in every configured language: makemessages on a scratch copy, then
# a failure naming each empty or fuzzy entry.
catalogue-check: catalogues
	$(BIN)/python manage.py pulse_catalogues --check

# Add the strings marked since the last run to every catalogue, for translating.
messages: catalogues
	$(BIN)/python manage.py pulse_catalogues --update

check: lint typecheck imports migrations-check catalogue-check

test: $(DEV_STAMP) catalogues oidc-provider check
	$(BIN)/pytest $(PYTEST_ARGS)

# The OpenID provider the single sign-on browser tests run against (tests/oidc/: the certified
# oidc-provider on Node.js 20 or later), installed from its lock file; only a changed lock installs again.
# Node.js and npm come from the distribution's packages when missing.
OIDC_STAMP := tests/oidc/node_modules/.installed
oidc-provider: $(OIDC_STAMP)

$(OIDC_STAMP): tests/oidc/package-lock.json
	@command -v npm >/dev/null || (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq nodejs npm)
	npm ci --prefix tests/oidc --no-audit --no-fund --loglevel=error
	@touch $@

# A benchmark by name (`make bench NAME=submit`); installs what the load driver needs first (wrk, from the
# distribution's packages) so a fresh machine runs every benchmark without steps by hand.
bench: $(DEV_STAMP) var
	@command -v wrk >/dev/null || (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq wrk)
	$(BIN)/python manage.py pulse_bench $(NAME)

# Recompile both locks after editing requirements.in or requirements-dev.in (pip-tools; LOCK_COMPILER names
# it when it is not on PATH). The runtime lock first: the development lock is constrained to it.
lock:
	$(LOCK) --output-file requirements.lock requirements.in
	$(LOCK) --output-file requirements-dev.lock requirements-dev.in

clean:
	rm -rf $(VENV) var staticfiles tests/oidc/node_modules

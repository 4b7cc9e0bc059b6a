# Two commands do all set-up: `make run` and `make test`. Both are idempotent: .venv is rebuilt only when
# requirements.lock changes, var/ is kept between runs.
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run test check lint typecheck imports migrations-check bench clean

$(STAMP): requirements.lock
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check --no-deps -r requirements.lock
	@touch $(STAMP)

var:
	@mkdir -p var

run: $(STAMP) var
	$(BIN)/python manage.py migrate --noinput
	$(BIN)/python manage.py pulse_demo --once
	$(BIN)/python manage.py pulse_demo_history
	$(BIN)/honcho -f Procfile.dev start

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: $(STAMP)
	$(BIN)/mypy .

migrations-check: $(STAMP)
	$(BIN)/python manage.py makemigrations --check --dry-run

imports: $(STAMP)
	$(BIN)/lint-imports

check: lint typecheck imports migrations-check

test: $(STAMP) check
	$(BIN)/pytest $(PYTEST_ARGS)

# A benchmark by name (`make bench NAME=submit`); installs what the load driver needs first (wrk, from the
# distribution's packages) so a fresh machine runs every benchmark without steps by hand.
bench: $(STAMP) var
	@command -v wrk >/dev/null || (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq wrk)
	$(BIN)/python manage.py pulse_bench $(NAME)

clean:
	rm -rf $(VENV) var staticfiles

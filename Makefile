# Love Supermarket (爱心超市). `make demo` and `make test` do all the set-up on a fresh Debian/Ubuntu machine.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
DEMO_HOME ?= $(CURDIR)/.demo-home
DEMO_HOUSEHOLDS ?= 200
PYTEST_WORKERS ?= 2

.PHONY: install system-packages demo test lint unit unit-tests integration-tests e2e-tests clean messages

install: system-packages $(STAMP)

system-packages:
	@bash scripts/install-system-packages.sh

$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	@touch $(STAMP)

demo: install
	$(BIN)/lovemart --home $(DEMO_HOME) demo --households $(DEMO_HOUSEHOLDS)

lint: install
	$(BIN)/ruff check .
	$(BIN)/mypy
	$(BIN)/lint-imports

unit: install
	$(BIN)/python -m pytest -n $(PYTEST_WORKERS)

# One kind of test at a time (tests/unit, tests/integration, tests/e2e); `make test` runs them all.
unit-tests integration-tests e2e-tests: install
	$(BIN)/python -m pytest -n $(PYTEST_WORKERS) tests/$(@:-tests=)

test: lint unit

# The gettext catalogues (docs/messages.md): gather every message key from the sources, add new keys to both
# catalogues (an empty text, which tests/unit/test_messages.py refuses until it is written), compile the .mo files.
MESSAGE_DIRS := lovemart lovemart_tools ledger hardware ui pos kiosk sync $(wildcard console)
POT := $(or $(TMPDIR),/tmp)/lovemart-messages.pot

messages: $(STAMP)
	$(BIN)/pybabel --quiet extract -F babel.cfg --no-location --sort-output --omit-header -o $(POT) $(MESSAGE_DIRS)
	$(BIN)/pybabel --quiet update -i $(POT) -d locale -D lovemart --no-fuzzy-matching --ignore-obsolete --width 120
	@sed -i '/^"POT-Creation-Date: /d' locale/*/LC_MESSAGES/lovemart.po  # a date that changed on every run
	$(BIN)/pybabel --quiet compile -d locale -D lovemart --statistics
	@rm -f $(POT)

clean:
	rm -rf $(VENV) $(DEMO_HOME) .pytest_cache .mypy_cache .ruff_cache .hypothesis

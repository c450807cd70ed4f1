# Two commands for a newcomer: `make run` and `make test`. Everything else is a step of them.
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed-$(shell cat pyproject.toml constraints.txt | cksum | cut -d' ' -f1)

.PHONY: load run test venv browser lint unit integration e2e faults schemas topics infra-up infra-down \
        infra-status bench lock clean

run: venv ## Start infrastructure, the four services and the demo (CLOCK_CONTROL=1: movable clocks); Ctrl-C stops it all
	$(PY) deploy/local/run.py

test: venv lint browser ## Lint, then every test against real Kafka and FerretDB
	$(PY) -m pytest

# Debian's chromium for the console's browser tests (Playwright drives it; its own browser
# download is not used). Installing needs root and apt; where it cannot, the tests say they
# were skipped and why, and everything else still runs.
browser:
	@command -v chromium >/dev/null 2>&1 || command -v chromium-browser >/dev/null 2>&1 || \
	{ [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1 && \
	  { apt-get install -y --no-install-recommends chromium || \
	    { apt-get update && apt-get install -y --no-install-recommends chromium; }; }; } || \
	echo "chromium could not be installed: the console's browser tests will be skipped"

venv: $(STAMP)
$(STAMP): pyproject.toml constraints.txt
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check -c constraints.txt -e '.[dev]'
	@rm -f $(VENV)/.installed-* && touch $@

lint: venv
	$(VENV)/bin/ruff check .

unit: venv
	$(PY) -m pytest tests/unit

integration: venv
	$(PY) -m pytest tests/integration

e2e: venv
	$(PY) -m pytest tests/e2e

faults: venv
	$(PY) -m pytest tests/faults

load: venv ## The operations CLI importing 10,000 claimants (the last tests of make test)
	$(PY) -m pytest tests/load

schemas: venv ## Regenerate schemas/jsonschema after changing an event model
	$(PY) -m schemas.export

topics: venv ## Create every topic of the contract and its .dlq twin
	$(PY) -m runtime.topic_admin

infra-up: venv
	$(PY) deploy/local/infra.py up
infra-down:
	$(PYTHON) deploy/local/infra.py down
infra-status:
	$(PYTHON) deploy/local/infra.py status

bench: venv ## Benchmarks print figures; they are not tests
	$(PY) bench/run_all.py

lock: ## Refresh constraints.txt from a fresh resolve of pyproject.toml
	rm -rf .venv-lock && $(PYTHON) -m venv .venv-lock
	.venv-lock/bin/pip install --quiet -e '.[dev]'
	.venv-lock/bin/pip freeze --exclude-editable | grep -v '^-e' > constraints.txt
	rm -rf .venv-lock

clean: infra-down
	rm -rf .local $(VENV) .pytest_cache .ruff_cache

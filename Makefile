# Two commands for a newcomer: `make run` and `make test`. Everything else is a step of them.
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed-$(shell cat pyproject.toml constraints.txt | cksum | cut -d' ' -f1)

.PHONY: run test venv lint unit integration e2e faults schemas topics infra-up infra-down \
        infra-status bench lock clean

run: venv ## Start infrastructure, the four services and the demo (CLOCK_CONTROL=1: movable clocks); Ctrl-C stops it all
	$(PY) deploy/local/run.py

test: venv lint ## Lint, then every test against real Kafka and FerretDB
	$(PY) -m pytest

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

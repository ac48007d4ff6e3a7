# The front door. `make` alone lists the targets.
SHELL := /bin/bash
.DEFAULT_GOAL := help

PYTHON_BOOT ?= python3.11
VENV        := .venv
PY          := $(VENV)/bin/python
UV_VERSION  := 0.13.9
STAMP       := $(VENV)/.installed
N           ?= 100
SOURCE      ?= auto

export PYTHONPATH := $(CURDIR)

.PHONY: help
help: ## List the targets
	@awk 'BEGIN {FS = ":.*## "} /^[a-zA-Z_-]+:.*## / {printf "  \033[36m%-16s\033[0m %s\n", $$1, $$2}' $(MAKEFILE_LIST)

# ---------------------------------------------------------------- setup
# Debian packages the tests use: docker-compose parses docker-compose.yml
# (no engine needed), maven resolves the stack's jars.
SYSDEPS := $(VENV)/.sysdeps
$(SYSDEPS):
	@mkdir -p $(VENV)
	@missing=""; command -v docker-compose >/dev/null || missing="$$missing docker-compose"; \
	 command -v mvn >/dev/null || missing="$$missing maven"; \
	 if [ -n "$$missing" ]; then \
	   if [ "$$(id -u)" = 0 ]; then \
	     echo "installing Debian packages:$$missing"; \
	     apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $$missing >/dev/null; \
	   else echo "please install:$$missing (e.g. sudo apt-get install$$missing)"; exit 1; fi; \
	 fi
	@touch $@

.PHONY: sysdeps
sysdeps: $(SYSDEPS) ## Install the Debian packages the project uses (maven, docker-compose), if missing

$(STAMP): requirements.lock pyproject.toml
	@test -x $(PY) || $(PYTHON_BOOT) -m venv $(VENV)
	@$(PY) -m pip install -q --disable-pip-version-check uv==$(UV_VERSION)
	$(VENV)/bin/uv pip sync -q --python $(PY) requirements.lock
	$(VENV)/bin/uv pip install -q --python $(PY) --no-deps -e .
	@touch $@

.PHONY: install
install: $(STAMP) ## Create .venv and install the locked dependencies

.PHONY: lock
lock: ## Re-resolve requirements.lock from pyproject.toml (needs network to PyPI)
	$(VENV)/bin/uv pip compile pyproject.toml --extra dev --python-version 3.11 -c constraints.txt -o requirements.lock

.PHONY: env
env: $(STAMP) ## Print the settings as shell exports (secrets hidden)
	@$(PY) -m config

# ---------------------------------------------------------------- native stack
.PHONY: fetch
fetch: $(STAMP) $(SYSDEPS) ## Download the stack's artifacts (Maven, JDK) into the caches
	$(PY) -m stack fetch

.PHONY: up
up: $(STAMP) $(SYSDEPS) ## Start Kafka, Schema Registry, Cassandra, Airflow (and the local randomuser API)
	$(PY) -m stack up

.PHONY: down
down: $(STAMP) ## Stop every process the stack started (the streaming job too)
	$(PY) -m stack down

.PHONY: status
status: $(STAMP) ## Show each service (address, pid, memory, health) and the pipeline
	$(PY) -m stack status

# ---------------------------------------------------------------- schemas (the contract)
.PHONY: schemas-check
schemas-check: $(STAMP) ## Offline gate: lint, compatibility vs git history, Cassandra safety, cql/ drift (BASE=origin/main on a PR)
	$(PY) -m schematool check $(if $(BASE),--base $(BASE))

.PHONY: cql
cql: $(STAMP) ## Regenerate cql/ from schemas/
	$(PY) -m schematool generate

.PHONY: schemas
schemas: $(STAMP) ## Register every schema and migrate its Cassandra table (stack up); a no-op when in sync
	$(PY) -m schematool apply

.PHONY: schemas-diff
schemas-diff: $(STAMP) ## Drift report between git, the registry and Cassandra
	$(PY) -m schematool diff

# ---------------------------------------------------------------- pipeline
.PHONY: demo-evolve
demo-evolve: $(STAMP) $(SYSDEPS) ## Evolve the schema to v2 (an optional field) while the stream runs; v1 and v2 rows side by side
	$(PY) -m stack evolve --count 20 --source $(SOURCE)

.PHONY: demo
demo: $(STAMP) $(SYSDEPS) ## THE MAIN COMMAND: stack up, schemas, stream, a real DAG run, a reconciled summary (N=100 SOURCE=auto|live|local)
	$(PY) -m stack demo --count $(N) --source $(SOURCE)

.PHONY: preflight
preflight: $(STAMP) ## Check the registry subject and topics the producer needs
	$(PY) -m producers preflight

.PHONY: produce
produce: $(STAMP) ## Fetch N users and produce them to Kafka now, without Airflow (N=100)
	$(PY) -m producers produce --count $(N)

.PHONY: stream
stream: $(STAMP) ## Run the streaming job in the foreground (ARGS=--available-now to drain and stop)
	$(PY) -m stack spark streaming run $(ARGS)

.PHONY: stream-up
stream-up: $(STAMP) ## Start the streaming job in the background, supervised (part of the stack)
	$(PY) -m stack up stream

.PHONY: stream-down
stream-down: $(STAMP) ## Stop the background streaming job
	$(PY) -m stack down stream

.PHONY: replay-dead-letters
replay-dead-letters: $(STAMP) ## Re-process dead letters after a fix (STAGE=decode SINCE=12h)
	$(PY) -m stack spark streaming replay-dead-letters $(if $(STAGE),--stage $(STAGE)) $(if $(SINCE),--since $(SINCE))

# ---------------------------------------------------------------- benchmarks
.PHONY: bench
bench: $(STAMP) $(SYSDEPS) ## All benchmarks beside their limits (~16 min, stack up), writes docs/performance.md
	$(PY) -m bench all

.PHONY: bench-produce
bench-produce: $(STAMP) ## Producer stages vs Kafka's ProducerPerformance
	$(PY) -m bench produce

.PHONY: bench-stream
bench-stream: $(STAMP) ## Spark read / decode / sink vs ConsumerPerformance and a Python UDF
	$(PY) -m bench stream

.PHONY: bench-durability
bench-durability: $(STAMP) ## The connector's write rate under each Cassandra commitlog_sync mode (restarts Cassandra)
	$(PY) -m bench durability

.PHONY: bench-tools
bench-tools: ## Optional: build latte, the independent Cassandra load tool (~10 min, crates.io)
	cargo install latte-cli --root .stack/bench-tools

# ---------------------------------------------------------------- reliability
.PHONY: chaos
chaos: $(STAMP) $(SYSDEPS) ## Fault injection on the real stack (kill -9, SIGSTOP, ...), reconciled; writes docs/reliability.md (SCENARIO=<name> runs one)
	$(PY) -m chaos $(if $(SCENARIO),--scenario $(SCENARIO),--report)

# ---------------------------------------------------------------- quality
.PHONY: lint
lint: $(STAMP) ## ruff, mypy and the layer check (lint-imports: [tool.importlinter] in pyproject.toml)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/mypy contract config schematool producers streaming stack dags ops bench chaos
	$(VENV)/bin/lint-imports --no-cache

.PHONY: test-unit
test-unit: $(STAMP) ## Unit tests only (no services)
	$(PY) -m pytest -m "not integration and not e2e"

.PHONY: test
test: $(STAMP) $(SYSDEPS) lint ## Every test: the lint gate, unit, then integration and e2e on the real stack (started if needed)
	$(PY) -m pytest tests/unit tests/integration tests/e2e

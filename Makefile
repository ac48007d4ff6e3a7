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
SUBJECT     ?= users_created-value

export PYTHONPATH := $(CURDIR)
# PROFILE=secure on any target: every hop authenticated and encrypted (docs/best-practices.md,
# "Security"); the stack refuses a command whose profile is not its own.
ifdef PROFILE
export STACK_PROFILE := $(PROFILE)
endif
# TOPOLOGY=cluster on any target: 3 Kafka brokers, Spark standalone with 2 workers, 3
# Cassandra nodes on this machine (docs/best-practices.md, "Scaling out").
ifdef TOPOLOGY
export STACK_TOPOLOGY := $(TOPOLOGY)
endif

.PHONY: help
help: ## List the targets
	@awk 'BEGIN {FS = ":.*## "} /^[a-zA-Z_-]+:.*## / {printf "  \033[36m%-16s\033[0m %s\n", $$1, $$2}' $(MAKEFILE_LIST)

# ---------------------------------------------------------------- setup
# Before anything else: the machine's needs (Linux, a JDK 17, Maven, memory, disk), each
# missing one with the exact command to run; as root on Debian/Ubuntu the missing Debian
# packages are installed. No Docker is needed for any of it.
# The checks run with the venv's Python, or any python3 before .venv exists.
BOOT_PY = $(firstword $(wildcard $(PY)) $(shell command -v $(PYTHON_BOOT) python3 2>/dev/null))

.PHONY: prereqs
prereqs: ## Check (as root: install) what the native stack needs: Linux, JDK 17, Maven, Python 3.11 or uv, RAM, disk
	@if [ ! -x $(PY) ] && ! command -v $(PYTHON_BOOT) >/dev/null && ! command -v uv >/dev/null; then \
	   echo "error: .venv needs Python 3.11: neither $(PYTHON_BOOT) nor uv is on PATH. Either"; \
	   echo "  pipx install uv        (or: pip install --user uv, or the installer at https://docs.astral.sh/uv/)"; \
	   echo "  apt-get install python3.11 python3.11-venv   (where the distribution has 3.11)"; \
	   exit 1; fi
	@if [ -z "$(BOOT_PY)" ]; then echo "prerequisites: no python3 yet; checked by make up once .venv exists"; \
	 else $(BOOT_PY) -m stack.prereqs --install $(PREREQS_ARGS); fi

# .venv: with python3.11 when there is one, else uv provisions a 3.11 interpreter.
$(STAMP): requirements.lock pyproject.toml
	@if [ ! -x $(PY) ]; then \
	   if command -v $(PYTHON_BOOT) >/dev/null; then \
	     $(PYTHON_BOOT) -m venv $(VENV) || { rm -rf $(VENV); \
	       echo "error: $(PYTHON_BOOT) -m venv failed; on Debian/Ubuntu: apt-get install python3.11-venv"; exit 1; }; \
	   elif command -v uv >/dev/null; then uv venv --seed --python 3.11 $(VENV); \
	   else echo "error: neither $(PYTHON_BOOT) nor uv is on PATH: pipx install uv (then make again)"; exit 1; fi; \
	 fi
	@$(PY) -m pip install -q --disable-pip-version-check uv==$(UV_VERSION)
	$(VENV)/bin/uv pip sync -q --python $(PY) requirements.lock
	$(VENV)/bin/uv pip install -q --python $(PY) --no-deps -e .
	@touch $@

.PHONY: install
install: $(STAMP) ## Create .venv and install the locked dependencies

# uv resolves; it is the pinned one from .venv, or a throwaway one when there is no venv yet.
UV_RUN = $(if $(wildcard $(VENV)/bin/uv),$(VENV)/bin/uv,$(BOOT_PY) -m pip install -q --target $(CURDIR)/.stack/uv-boot uv==$(UV_VERSION) && $(CURDIR)/.stack/uv-boot/bin/uv)

.PHONY: lock
lock: ## Re-resolve requirements.lock from pyproject.toml (needs network to PyPI; no venv needed)
	$(UV_RUN) pip compile pyproject.toml --extra dev --python-version 3.11 -c constraints.txt -o requirements.lock

.PHONY: env
env: $(STAMP) ## Print the settings as shell exports (secrets hidden)
	@$(PY) -m config

# ---------------------------------------------------------------- native stack
.PHONY: fetch
fetch: prereqs $(STAMP) ## Download the stack's artifacts (Maven, JDK) into the caches
	$(PY) -m stack fetch

ifneq ($(MODE),compose)  # MODE=compose: see the docker compose section
.PHONY: up
up: prereqs $(STAMP) ## Start Kafka, Schema Registry, Cassandra, Airflow (and the local randomuser API, the console)
	$(PY) -m stack up

.PHONY: down
down: $(STAMP) ## Stop every process the stack started (the streaming job too)
	$(PY) -m stack down
endif

.PHONY: clean
clean: ## Stop the stack, then delete this checkout's state (.stack: data, logs, checkpoints); asks unless FORCE=1; never ~/.m2 or global caches
	@$(if $(BOOT_PY),$(BOOT_PY) -m stack.clean $(if $(filter 1,$(FORCE)),--force),echo "no python3: nothing of this checkout can be running; rm -rf .stack removes its state")

.PHONY: status
status: $(STAMP) ## Show each service (address, pid, memory, health) and the pipeline
	$(PY) -m userstream status

.PHONY: cqlsh
cqlsh: $(STAMP) ## Cassandra's shell on the settings' Cassandra (ARGS='-e "SELECT ..."'; docs/troubleshooting.md has queries)
	@$(PY) -m stack.cqlsh $(ARGS)

# ---------------------------------------------------------------- schemas (the contract)
.PHONY: schemas
schemas: $(STAMP) ## Register every schema and migrate its Cassandra table (stack up); a no-op when in sync; pushes the settings to Airflow
	$(PY) -m schematool apply
	$(PY) -m config.airflow_push push

.PHONY: schemas-check
schemas-check: $(STAMP) ## Offline gate: lint, compatibility vs git history, Cassandra safety, cql/ drift (BASE=origin/main on a PR)
	$(PY) -m schematool check $(if $(BASE),--base $(BASE))

.PHONY: cql
cql: $(STAMP) ## Regenerate cql/ from schemas/
	$(PY) -m schematool generate

.PHONY: schemas-diff
schemas-diff: $(STAMP) ## Drift report between git, the registry and Cassandra
	$(PY) -m schematool diff

# ---------------------------------------------------------------- pipeline
ifneq ($(MODE),compose)  # MODE=compose: see the docker compose section
.PHONY: demo
demo: prereqs $(STAMP) ## THE MAIN COMMAND: stack up, schemas, stream, a real DAG run, a reconciled summary (N=100 SOURCE=auto|live|local; MODE=compose: docs/docker.md)
	$(PY) -m userstream demo --count $(N) --source $(SOURCE)
endif

.PHONY: demo-evolve
demo-evolve: prereqs $(STAMP) ## Evolve a scratch copy of a contract (SUBJECT=users_created-value|users_profile-value) through its prepared versions while its stream runs; every version's rows side by side (schemas/ and the registry untouched)
	$(PY) -m userstream evolve --count 20 --source $(SOURCE) --subject $(SUBJECT)

.PHONY: preflight
preflight: $(STAMP) ## Check the registry subject and topics the producer needs
	STACK_ROLE=producer $(PY) -m producers preflight

.PHONY: produce
produce: $(STAMP) ## Fetch N users and produce them to Kafka now, without Airflow (N=100)
	STACK_ROLE=producer $(PY) -m producers produce --count $(N)

.PHONY: stream
stream: $(STAMP) ## Run the streaming job in the foreground (ARGS=--available-now to drain and stop)
	STACK_ROLE=stream $(PY) -m stack spark streaming run $(ARGS)

.PHONY: stream-up
stream-up: $(STAMP) ## Start the streaming job in the background, supervised (part of the stack)
	$(PY) -m stack up stream

.PHONY: stream-down
stream-down: $(STAMP) ## Stop the background streaming job
	$(PY) -m stack down stream

.PHONY: replay-dead-letters
replay-dead-letters: $(STAMP) ## Re-process dead letters after a fix (STAGE=decode SINCE=12h ERROR_CLASS=...)
	STACK_ROLE=stream $(PY) -m stack spark streaming replay-dead-letters $(if $(STAGE),--stage $(STAGE)) $(if $(SINCE),--since $(SINCE)) $(if $(ERROR_CLASS),--error-class $(ERROR_CLASS))

.PHONY: forget
forget: $(STAMP) ## Erase one user (ID=<user id>): their rows and dead letters in Cassandra; says what Kafka keeps until retention
	@if [ -z "$(ID)" ]; then echo "error: make forget ID=<the user's id>"; exit 2; fi
	$(PY) -m ops.forget '$(ID)'

# ---------------------------------------------------------------- console
.PHONY: console
console: $(STAMP) ## Print the console's URL and whether it answers (`make up` starts it: subjects, diffs, candidate checks, drift; docs/console.md)
	$(PY) -m console url

.PHONY: console-screenshots
console-screenshots: $(STAMP) ## Regenerate docs/console/*.png in headless Chromium (stack up)
	$(PY) -m console.screenshots

# ---------------------------------------------------------------- docker compose mode
# MODE=compose: the same targets on docker-compose.yml's containers (docs/docker.md); the
# demo runs on the host against them, with docker/host.env's settings (every service
# external: probed, never started). Needs Docker with the compose plugin (for --wait).
COMPOSE ?= docker compose
ifeq ($(MODE),compose)
.PHONY: compose-cli up down demo
compose-cli:
	@$(COMPOSE) version >/dev/null 2>&1 || { echo "error: MODE=compose needs '$(COMPOSE)' (Docker with the compose plugin, v2: up --wait)"; exit 1; }

up: compose-cli
	$(COMPOSE) up -d --build --wait

down: compose-cli
	$(COMPOSE) down

demo: compose-cli $(STAMP)
	$(COMPOSE) up -d --build --wait
	set -a; . docker/host.env; set +a; $(PY) -m userstream demo --count $(N) --source $(SOURCE)
endif

# ---------------------------------------------------------------- benchmarks
.PHONY: bench
bench: prereqs $(STAMP) ## All benchmarks beside their limits (~16 min, stack up), writes docs/performance.md (keeps bench-secure's and bench-cluster's sections: run those apart)
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

.PHONY: bench-secure
bench-secure: $(STAMP) ## The cost of TLS/SASL: plain vs a secure stack of its own (ports 4xxxx), interleaved (~10 min, stack up)
	$(PY) -m bench security

.PHONY: bench-cluster
bench-cluster: $(STAMP) ## Scaling: end to end with 1 vs 2 Spark workers, 3 vs 6 partitions, interleaved (~25 min, make up TOPOLOGY=cluster); its own section of docs/performance.md
	STACK_TOPOLOGY=cluster $(PY) -m bench cluster

.PHONY: bench-tools
bench-tools: $(STAMP) ## Build latte, the independent Cassandra load tool, once (~15 min, crates.io; make bench does it when missing)
	$(PY) -m bench tools

# ---------------------------------------------------------------- reliability
.PHONY: chaos
chaos: prereqs $(STAMP) ## Fault injection on the real stack (kill -9, SIGSTOP, ...), reconciled; writes docs/reliability.md (SCENARIO=<name> runs one)
	$(PY) -m chaos $(if $(SCENARIO),--scenario $(SCENARIO),--report)

.PHONY: failover
failover: prereqs $(STAMP) ## The cluster topology's failovers (kill -9 a leader broker, a Cassandra node, a Spark worker), reconciled (make up TOPOLOGY=cluster)
	STACK_TOPOLOGY=cluster $(PY) -m chaos $(if $(SCENARIO),--scenario $(SCENARIO))

# ---------------------------------------------------------------- quality
.PHONY: lint
lint: $(STAMP) ## ruff, mypy and the layer check (lint-imports: [tool.importlinter] in pyproject.toml)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/mypy contract config schematool producers streaming stack dags ops console bench chaos userstream
	$(VENV)/bin/lint-imports --no-cache

.PHONY: test-unit
test-unit: $(STAMP) ## Unit tests only (no services)
	$(PY) -m pytest -m "not integration and not e2e"

.PHONY: test-e2e
# On the clustered stack the pipeline's e2e tests run unchanged; the secure profile's test
# starts a single stack of its own and the fast chaos subset injects single-node faults
# (the cluster's own are `make failover`), so those two are left out there.
test-e2e: $(STAMP) ## The end-to-end tier alone (TOPOLOGY=cluster: against the clustered stack)
	$(PY) -m pytest tests/e2e $(if $(filter cluster,$(STACK_TOPOLOGY)),--ignore=tests/e2e/test_secure_profile.py --ignore=tests/e2e/test_chaos.py)

.PHONY: test
# The console's tests drive a real Chromium: make test checks (as root: installs) it too.
test: PREREQS_ARGS = --browser
test: prereqs $(STAMP) lint ## Every test: the lint gate, unit, then integration and e2e on the real stack (started if needed)
	$(PY) -m pytest tests/unit tests/integration tests/e2e

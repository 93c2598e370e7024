# One command for each habit: make run, make test, make lint, make bench, make up/down/status.
SHELL := /bin/bash
.DEFAULT_GOAL := help

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
PACKAGES := libs/events libs/compliance libs/devstack libs/platform services/case-service services/contact-service services/payment-service services/audit-service demo
PYPROJECTS := $(addsuffix /pyproject.toml,$(PACKAGES))

.PHONY: tools system-packages kustomize help venv up down status run test test-cluster fuzz test-unit lint bench contracts contracts-generate deploy-check token clean

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-18s %s\n", $$1, $$2}'

$(STAMP): $(PYPROJECTS) requirements-dev.txt constraints.txt
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -c constraints.txt -r requirements-dev.txt $(addprefix -e ,$(PACKAGES))
	@touch $(STAMP)

venv: $(STAMP) ## create the virtual environment and install every lib and service (editable)

up: venv ## start the local stack (Kafka + PostgreSQL) unless KAFKA_BOOTSTRAP_SERVERS / DATABASE_URL are set
	$(BIN)/dcp-stack up

down: venv ## stop everything the local stack started
	$(BIN)/dcp-stack down

status: venv ## show the local stack and services
	$(BIN)/dcp-stack status

run: venv system-packages ## stack up, services up on a manual clock, then the demo collection operation (DEMO_ARGS="--accounts 500")
	$(BIN)/dcp-stack run
	$(BIN)/dcp-demo $(DEMO_ARGS)

# kcat is the Kafka client of the integration test.
TOOLS := kcat
# The letter channel renders PDFs with WeasyPrint (Pango; HarfBuzz subsets the fonts it embeds) and needs a
# CJK font for the Chinese letters; the console's browser tests drive Debian's chromium (with Playwright).
SYSTEM_PACKAGES := libpango-1.0-0 libpangoft2-1.0-0 libharfbuzz-subset0 fonts-dejavu-core fonts-wqy-microhei chromium
# kustomize renders the overlays for deploy-check and tests/test_deploy.py: built once from its Go module
# into .cache/bin (deploy/build-kustomize.sh; Debian's golang when go is missing and we are root), then
# found there. v5.8.3 needs Go 1.27.
KUSTOMIZE_VERSION := v5.8.2

tools: kustomize system-packages ## system tools the tests use: kcat, Pango and fonts from Debian's packages, kustomize built into .cache/bin

system-packages: ## Debian's packages the tests and the letter channel need (installed when we are root)
	@missing=""; for t in $(TOOLS); do command -v $$t >/dev/null 2>&1 || missing="$$missing $$t"; done; \
	for p in $(SYSTEM_PACKAGES); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then \
	  if [ "$$(id -u)" = 0 ]; then { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing >/dev/null; } \
	    || echo "could not install$$missing; the tests that need them will say so"; \
	  else echo "missing:$$missing (sudo apt-get install$$missing); the tests that need them will say so"; fi; \
	fi

kustomize: ## build the pinned kustomize into .cache/bin (once: skipped when that version is there)
	@bash deploy/build-kustomize.sh $(KUSTOMIZE_VERSION) .cache/bin \
	  || echo "could not build kustomize $(KUSTOMIZE_VERSION); deploy-check and tests/test_deploy.py will say so"

test: venv tools ## set up, start the stack, run every test suite, stop what was started; exits with pytest's status
	$(BIN)/dcp-stack test -- $(PYTEST_ARGS)

# The fault tests on a three-broker cluster (replication factor 3, min.insync.replicas 2) with replicas of
# the services, beside the single-broker stack: own data directory and ports, started and stopped here.
CLUSTER_ENV := DCP_KAFKA_BROKERS=3 DCP_DATA_DIR=$(CURDIR)/.local/cluster DCP_KAFKA_PORT=29092 \
  DCP_KAFKA_CONTROLLER_PORT=29093 DCP_PG_PORT=25432
CLUSTER_TESTS := tests/test_devstack.py tests/e2e/test_cluster_faults.py tests/e2e/test_outage_recovery.py

test-cluster: venv tools ## start a 3-broker Kafka cluster, run the fault tests against it (brokers and replicas killed under load), stop it
	$(CLUSTER_ENV) $(BIN)/dcp-stack test -- $(CLUSTER_TESTS) $(PYTEST_ARGS)

fuzz: venv tools ## schemathesis on the four services, 100 examples per operation, a fresh seed (FUZZ_SEED=... replays one)
	FUZZ_EXAMPLES=$${FUZZ_EXAMPLES:-100} $(BIN)/dcp-stack test -- tests/e2e/test_api_robustness.py -s $(PYTEST_ARGS)

test-unit: venv kustomize ## the tests that need no stack
	$(BIN)/pytest -m "not integration" $(PYTEST_ARGS)

lint: venv ## ruff and mypy
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy libs/*/src services/*/src demo/src

contracts-generate: venv ## regenerate JSON Schemas and the AsyncAPI document from the event models
	$(BIN)/python -m dcp_events.contracts generate

contracts: venv ## validate the AsyncAPI document with the official AsyncAPI CLI (npm)
	$(BIN)/python -m dcp_events.contracts check
	@mkdir -p .cache/npm
	npx --yes --prefix .cache/npm @asyncapi/cli@6 validate contracts/asyncapi.yaml

deploy-check: venv kustomize ## render every Kustomize overlay and validate images, manifests, ports and settings offline
	$(BIN)/python -m deploy.check

bench: venv ## benchmarks: print figures and ratios
	$(BIN)/dcp-stack bench

token: venv ## mint a development token: make token ROLE=auditor [SUBJECT=alice]
	@$(BIN)/dcp-token --role $(ROLE) $(if $(SUBJECT),--subject $(SUBJECT),)

clean: down ## remove the venv, caches and local data
	rm -rf $(VENV) .cache .local

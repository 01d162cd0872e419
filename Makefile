# usdx.incident — the incident-response runbook as an Ansible collection.
# `make demo` and `make test` do all their set-up themselves (see README.md).

SHELL := /bin/bash
.SHELLFLAGS := -euo pipefail -c
.DEFAULT_GOAL := help

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
COLLECTION_LINK := build/collections/ansible_collections/usdx/incident
export ANSIBLE_CONFIG := $(CURDIR)/ansible.cfg
export PATH := $(CURDIR)/$(BIN):$(PATH)
# Where usdx-incident keeps the incident folders of the sandbox (gitignored), as the sandbox inventory does.
export USDX_INCIDENTS_DIR := $(CURDIR)/build/incidents

.PHONY: help
help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-16s %s\n", $$1, $$2}'

$(BIN)/ansible-playbook: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[test]'
	touch $@

.PHONY: venv
venv: $(BIN)/ansible-playbook ## Python virtualenv with ansible, molecule, pytest

$(COLLECTION_LINK):
	mkdir -p $(dir $@)
	ln -sfn ../../../.. $@

.PHONY: collection-link
collection-link: $(COLLECTION_LINK) ## make usdx.incident.* resolve to this checkout

.PHONY: engine
engine: ## install and start the Docker engine and the Compose plugin if missing
	scripts/ensure-docker.sh

.PHONY: setup
setup: venv collection-link engine ## everything the demo and the tests need

.PHONY: demo
demo: sandbox-up ## break the sandbox for real twice, triage it, remediate it, triage again
	@echo; echo "=== 1/8 Break it: the indexer process dies (runbook scenario 'API Unavailable')"
	sandbox/sandbox.sh fault api-down
	@echo; echo "=== 2/8 Triage, read-only: what is broken, severity, likely scenario, users affected, data at risk"
	$(BIN)/ansible-playbook playbooks/triage.yml
	@echo; echo "=== 3/8 Remediate with usdx.incident.api_unavailable: diagnose, plan, fix, verify"
	$(BIN)/ansible-playbook playbooks/api_unavailable.yml
	@echo; echo "=== 4/8 Triage again"
	$(BIN)/ansible-playbook playbooks/triage.yml
	@echo; echo "=== 5/8 Break it again: a leaking pool holds every connection of the application role"
	sandbox/sandbox.sh fault db-connections
	@echo; echo "=== 6/8 Triage: the database is the cause, the API's 503 its effect"
	$(BIN)/ansible-playbook playbooks/triage.yml
	@echo; echo "=== 7/8 Remediate with usdx.incident.db_connections_exhausted (idle past 5 s here; the runbook's 5 minutes in production)"
	$(BIN)/ansible-playbook playbooks/db_connections_exhausted.yml -e db_connections_exhausted_idle_threshold=5
	@echo; echo "=== 8/8 Triage again"
	$(BIN)/ansible-playbook playbooks/triage.yml
	sandbox/sandbox.sh fault clear
	@echo; echo "Findings documents: build/findings/. Stop the sandbox with: make sandbox-down"

.PHONY: sandbox-up
sandbox-up: setup ## build and start the sandbox stack
	sandbox/sandbox.sh up

.PHONY: sandbox-down
sandbox-down: ## stop the sandbox and remove its data
	sandbox/sandbox.sh down

.PHONY: fault
fault: ## inject a fault into the sandbox: make fault F=api-down
	sandbox/sandbox.sh fault "$(F)"

.PHONY: lint
lint: venv collection-link ## ansible-lint (profile production) and the changelog fragments
	$(BIN)/ansible-lint
	$(BIN)/antsibull-changelog lint

.PHONY: sanity
sanity: venv ## ansible-test sanity on a copy laid out as ansible_collections/usdx/incident
	scripts/sanity.sh

.PHONY: unit
unit: venv collection-link ## unit tests (no Docker needed)
	$(BIN)/pytest tests/unit

.PHONY: integration
integration: sandbox-up ## integration tests against the live sandbox and its faults
	$(BIN)/pytest -m sandbox tests/integration

# Molecule and pytest share one sandbox: the same lock as tests/integration/conftest.py
# keeps one from clearing the other's fault.
.PHONY: molecule
molecule: sandbox-up ## molecule scenarios against the sandbox
	flock sandbox/.state/integration.lock $(BIN)/molecule test --all

.PHONY: build
build: venv ## build the collection tarball into build/
	$(BIN)/ansible-galaxy collection build --force --output-path build/

.PHONY: test
test: lint sanity unit build integration molecule ## the whole suite (what CI runs)

.PHONY: bench
bench: sandbox-up ## triage vs the runbook's commands; each role vs its unavoidable part (medians)
	$(BIN)/python bench/triage_bench.py --runs 7
	$(BIN)/python bench/api_unavailable_bench.py --runs 7
	$(BIN)/python bench/remediation_bench.py --runs 3

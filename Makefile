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
# The oldest and the newest supported ansible-core (tests/matrix/versions.yml), read on first use and then kept.
# Recipes only: matrix.sh needs the venv, which `make setup` is still to build when make reads this file.
MATRIX_OLDEST_CORE = $(eval MATRIX_OLDEST_CORE := $$(or $$(shell scripts/matrix.sh oldest),$$(error scripts/matrix.sh oldest printed nothing)))$(MATRIX_OLDEST_CORE)
MATRIX_NEWEST_CORE = $(eval MATRIX_NEWEST_CORE := $$(or $$(shell scripts/matrix.sh newest),$$(error scripts/matrix.sh newest printed nothing)))$(MATRIX_NEWEST_CORE)

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
demo: sandbox-up ## real incidents handled end to end by usdx-incident: P0 chain with its messages and post-mortem, dry run, rollback, P1
	@echo; echo "=== 1/9 The notifiers work before they are needed: a test message through each (the sandbox's sink stands in for Slack, PagerDuty, the status page, a webhook)"
	$(BIN)/usdx-incident notify --test
	@echo; echo "=== 2/9 Break it: the indexer process dies (runbook scenario 'API Unavailable')"
	sandbox/sandbox.sh fault api-down
	@echo; echo "=== 3/9 Triage, read-only (exit 1: a stack has a severity)"
	$(BIN)/usdx-incident triage || [ $$? -eq 1 ]
	@echo; echo "=== 4/9 Dry run of the P0 chain: every step in check mode, what it would do, nothing changed, nothing sent"
	$(BIN)/usdx-incident respond --severity P0 --approve contain --check
	@echo; echo "=== 5/9 The P0 chain for real: alert and page, assess, contain (maintenance page), diagnose, fix, verify (smoke test), communicate, post-mortem"
	$(BIN)/usdx-incident respond --severity P0 --approve contain
	@echo; echo "=== 6/9 What people got from it (channel, pager, status page), and the post-mortem written from the run's timeline"
	sandbox/sandbox.sh notifications
	@latest="$$(ls -dv build/incidents/INC-* | tail -n 1)"; echo; sed -n '1,12p' "$$latest/postmortem.md"; \
	  echo "..."; echo "Post-mortem: $$latest/postmortem.md and $$latest/postmortem.html (the timeline chart); every event: $$latest/timeline.jsonl"
	@echo; echo "=== 7/9 A bad release: v1.5.0 breaks the marketplace while /health stays 200; P0 with the rollback approved"
	sandbox/sandbox.sh fault bad-deploy
	$(BIN)/usdx-incident respond --severity P0 --approve rollback
	@echo; echo "=== 8/9 A leaking pool holds every connection of the application role: P1 (idle past 5 s here; the runbook's 5 minutes in production)"
	sandbox/sandbox.sh fault db-connections
	$(BIN)/usdx-incident respond --severity P1 -e db_connections_exhausted_idle_threshold=5
	@echo; echo "=== 9/9 The incidents"
	$(BIN)/usdx-incident list
	sandbox/sandbox.sh fault clear
	@echo; echo "Incident folders: build/incidents/ (usdx-incident show INC-ID). Stop the sandbox with: make sandbox-down"

.PHONY: demo-fleet
demo-fleet: setup ## four sandbox stacks side by side: two broken, one triage and one response across them, one lock per stack
	@echo; echo "=== 1/5 Four stacks side by side (projects usdx-wexel-1..4, ports + 10*N; the default stack is not touched)"
	sandbox/sandbox.sh fleet up 4
	@echo; echo "=== 2/5 Break two of them: stack2's indexer dies (API Unavailable), stack4's disk fills (Out of Disk Space)"
	USDX_SANDBOX_STACK=2 sandbox/sandbox.sh fault api-down
	USDX_SANDBOX_STACK=4 sandbox/sandbox.sh fault disk-full
	@echo; echo "=== 3/5 One read-only triage of the fleet, the stacks side by side (forks = 8); exit 1: a stack has a severity"
	$(BIN)/usdx-incident triage -i inventories/sandbox-fleet --limit stack1,stack2,stack3,stack4 || [ $$? -eq 1 ]
	@echo; echo "=== 4/5 Respond to each stack at the severity it was assessed at; the healthy ones are left alone"
	$(BIN)/usdx-incident respond --severity auto --approve contain -i inventories/sandbox-fleet --limit stack1,stack2,stack3,stack4
	@echo; echo "=== 5/5 Every stack healthy again; the fleet goes down (a failed step above leaves it up: sandbox/sandbox.sh fleet down)"
	sandbox/sandbox.sh fleet status
	sandbox/sandbox.sh fleet down

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

# On the oldest supported ansible-core (tests/matrix/versions.yml): its venv (.venv-matrix/integration-X) holds that
# release, its bundle's collections and the usdx-incident command, and its bin goes first in PATH for the tools the
# tests start (ansible-playbook, ansible-runner, usdx-incident). The newest release runs the tests marked `newest`.
# USDX_SANDBOX_STACK=N runs them on fleet stack N instead of the default stack (tests/integration/sandbox_stack.py).
INTEGRATION_OLDEST = .venv-matrix/integration-$(MATRIX_OLDEST_CORE)
INTEGRATION_NEWEST = .venv-matrix/integration-$(MATRIX_NEWEST_CORE)
ON_OLDEST = PATH="$(CURDIR)/$(INTEGRATION_OLDEST)/bin:$$PATH" $(INTEGRATION_OLDEST)/bin/pytest
ON_NEWEST = PATH="$(CURDIR)/$(INTEGRATION_NEWEST)/bin:$$PATH" $(INTEGRATION_NEWEST)/bin/pytest

.PHONY: integration integration-newest integration-venv integration-fleet
integration: sandbox-up ee-image integration-venv ## integration tests on the oldest supported ansible-core, one session: the live sandbox and its faults, real HTTP/SMTP receivers, a browser
	$(ON_OLDEST) --durations=15 -m "not fleet" tests/integration

# Each role, notifier, chain and job kind once end to end: the whole suite twice does not fit the suite's 45 minutes.
integration-newest: sandbox-up integration-venv ## the integration tests marked `newest`, on the newest supported ansible-core
	$(ON_NEWEST) --durations=10 -m "newest and not fleet" tests/integration

integration-venv: venv
	scripts/matrix-venv.sh --integration $(MATRIX_OLDEST_CORE) $(MATRIX_NEWEST_CORE)

integration-fleet: sandbox-up integration-venv ## the fleet tests on the oldest supported ansible-core: stacks 1-3 side by side, each broken its own way, one triage and one response
	$(ON_OLDEST) -m fleet tests/integration/test_fleet.py

# What make test runs after the checks: the tests of integration, integration-newest, integration-fleet and
# molecule-newest, in two lanes side by side on two sandbox stacks. The default stack's lane has every file that
# injects disk-full (its fix prunes the engine's stopped containers of no compose project, other stacks' fault
# garbage included), the fleet test (stacks 1-3) and the molecule scenarios; the other lane has the rest on fleet stack
# $(LANE_STACK), brought up by its session and down at its end. Which other files join the default stack's lane evens
# the two out: both lanes also compete for the 2 cores (README "Tests" has the figures).
LANE_STACK := 8
ON_DEFAULT_STACK := $(addprefix tests/integration/,test_cli.py test_disk_full_role.py test_disk_lag_modules.py \
  test_triage.py test_triage_info.py test_judgement.py test_fail_closed.py test_smoke_test_info.py \
  test_api_unavailable_role.py test_db_connections_role.py test_release_sandbox.py)

.PHONY: lanes lane-default-stack lane-other-stack
lanes: sandbox-up ee-image integration-venv ## integration, integration-newest, integration-fleet and molecule-newest in two lanes on two stacks side by side
	$(MAKE) -j2 --output-sync=line lane-default-stack lane-other-stack

# Each run also writes JUnit XML into build/test-results: the time of every test, from which the lanes are evened.
lane-default-stack:
	$(ON_OLDEST) --durations=10 --junitxml=build/test-results/default-stack-oldest.xml -m "not fleet" $(ON_DEFAULT_STACK)
	$(ON_OLDEST) --junitxml=build/test-results/fleet-oldest.xml -m fleet tests/integration/test_fleet.py
	$(ON_NEWEST) --durations=5 --junitxml=build/test-results/default-stack-newest.xml -m "newest and not fleet" \
	  $(ON_DEFAULT_STACK)
	$(MAKE) molecule-newest

lane-other-stack: export USDX_SANDBOX_STACK := $(LANE_STACK)
lane-other-stack:
	$(ON_OLDEST) --durations=10 --junitxml=build/test-results/other-stack-oldest.xml -m "not fleet" \
	  $(addprefix --ignore=,$(ON_DEFAULT_STACK)) tests/integration
	$(ON_NEWEST) --durations=5 --junitxml=build/test-results/other-stack-newest.xml -m "newest and not fleet" \
	  $(addprefix --ignore=,$(ON_DEFAULT_STACK)) tests/integration
	sandbox/sandbox.sh down

# Molecule and pytest share one sandbox: the same lock as tests/integration/conftest.py
# keeps one from clearing the other's fault.
.PHONY: molecule
molecule: sandbox-up ## molecule scenarios against the sandbox
	flock sandbox/.state/integration.lock $(BIN)/molecule test --all

# The ansible-core matrix (tests/matrix/versions.yml, README "Supported versions"): a venv per release beside the
# dev one (.venv-matrix/core-X), and on each the sanity and unit tests that depend on the release.
MATRIX_CORES = $(shell scripts/matrix.sh others)
MATRIX_NEWEST = .venv-matrix/core-$(MATRIX_NEWEST_CORE)

.PHONY: matrix
matrix: venv collection-link ## sanity and unit tests on every other ansible-core of tests/matrix/versions.yml (venvs in .venv-matrix)
	scripts/matrix-venv.sh $(MATRIX_CORES)
	scripts/matrix-test.sh $(MATRIX_CORES)

# ansible-core 2.16 still runs modules on Python 3.7 and 3.8 (tests/config.yml claims 3.7): compile and import there.
.PHONY: matrix-all
matrix-all: matrix ## make matrix, plus the modules' compile and import tests on Python 3.7 and 3.8 (ansible-core 2.16)
	scripts/matrix-venv.sh 2.16
	for python in 3.7 3.8; do \
	  bin="$$(ls -d $${PYENV_ROOT:-$$HOME/.pyenv}/versions/$$python.*/bin | sort -V | tail -n 1)"; \
	  PATH="$$bin:$(CURDIR)/.venv-matrix/core-2.16/bin:$$PATH" SANITY_VENV=.venv-matrix/core-2.16 SANITY_PYTHON=$$python \
	    SANITY_ROOT=/tmp/usdx-incident-matrix/py$$python timeout 1200 scripts/sanity.sh --test compile --test import; \
	done

# The molecule scenarios with the newest and the oldest release's ansible (their venvs have molecule), under the
# sandbox's lock. The venv's bin goes first in PATH: molecule runs the ansible-playbook it finds there. The modules
# still run on the dev venv's Python (ansible_python_interpreter in molecule/*/molecule.yml), a target Python every
# release supports.
.PHONY: molecule-newest molecule-oldest
molecule-newest: sandbox-up ## molecule scenarios against the sandbox on the newest ansible-core of the matrix
	scripts/matrix-venv.sh $(MATRIX_NEWEST_CORE)
	PATH="$(CURDIR)/$(MATRIX_NEWEST)/bin:$$PATH" flock sandbox/.state/integration.lock $(MATRIX_NEWEST)/bin/molecule test --all

molecule-oldest: sandbox-up integration-venv ## molecule scenarios against the sandbox on the oldest supported ansible-core
	PATH="$(CURDIR)/$(INTEGRATION_OLDEST)/bin:$$PATH" flock sandbox/.state/integration.lock $(INTEGRATION_OLDEST)/bin/molecule test --all

.PHONY: build
build: venv ## build the collection tarball into build/
	$(BIN)/ansible-galaxy collection build --force --output-path build/

# Galaxy's checks build the tarball as `build` does and install it where only they look (tests/galaxy).
.PHONY: galaxy
galaxy: venv ## galaxy-importer and antsibull-docs lint-collection-docs on the tarball, as on upload to Galaxy
	$(BIN)/pytest tests/galaxy/test_galaxy_importer.py

.PHONY: docs
docs: venv ## the docs site of the tarball (antsibull-docs, Sphinx) into build/docs/html
	$(BIN)/pytest tests/galaxy/test_docsite.py

# The execution environment (docs/execution-environment.md): ansible-builder's build context of
# execution-environment.yml (not built: no registry here), and the image holding its content built from Debian
# packages, which tests/integration/test_ee_isolated.py runs jobs in.
.PHONY: ee-context
ee-context: build ## ansible-builder create: the execution environment's build context in build/ee/context
	$(BIN)/ansible-builder create -f execution-environment.yml --context build/ee/context --output-filename Containerfile

.PHONY: ee-image
ee-image: venv engine ## the image with the execution environment's content, from Debian packages (rebuilt when it changed)
	$(BIN)/python tests/ee/build_image.py

.PHONY: ee
ee: ee-context ee-image ## the execution environment: build context and the Debian-built image

.PHONY: test
test: ## the whole suite (what CI runs): the checks, the matrix and molecule on the oldest side by side, then integration on the oldest and the newest, the fleet and molecule on the newest in two lanes on two stacks
	$(MAKE) checks
	$(MAKE) lanes

# Two lanes on the 2 cores: lint, sanity, unit and Galaxy's checks in one; the sandbox, the EE image, the other
# releases' tests (make matrix) and molecule on the oldest release in the other. Each lane runs its targets one after
# the other (-j1): build, galaxy and the EE image each build the tarball. Output is grouped per lane.
.PHONY: checks lane-checks lane-matrix
checks: venv collection-link engine ## lint, sanity, unit, Galaxy's checks and docs beside the sandbox and make matrix
	$(MAKE) -j2 --output-sync=recurse lane-checks lane-matrix

lane-checks:
	$(MAKE) -j1 lint sanity unit build galaxy docs

lane-matrix:
	$(MAKE) -j1 sandbox-up ee-image matrix molecule-oldest

.PHONY: bench
bench: sandbox-up ## triage vs the runbook's commands; roles and P0 chains vs their unavoidable part; runner overhead; fleet triage (medians)
	$(BIN)/python bench/triage_bench.py --runs 7
	$(BIN)/python bench/api_unavailable_bench.py --runs 7
	$(BIN)/python bench/remediation_bench.py --runs 3
	$(BIN)/python bench/runner_overhead_bench.py --runs 7
	$(BIN)/python bench/chain_bench.py --runs 3
	$(BIN)/python bench/fleet_triage_bench.py --runs 3 --up

# Kopa: `make run` serves the portal, `make test` runs every test. Both install what is
# missing first (Python packages into .venv, npm packages into node_modules), idempotently.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMPS := .stamps
export SOLCX_BINARY_PATH := $(CURDIR)/.solcx
export PATH := $(CURDIR)/node_modules/.bin:$(CURDIR)/$(BIN):$(PATH)
export PIP_DISABLE_PIP_VERSION_CHECK := 1

CONTRACTS := $(wildcard contracts/*.sol)
MO_FILES := $(patsubst %.po,%.mo,$(wildcard translations/*/LC_MESSAGES/messages.po))

.PHONY: install run test test-contracts test-app test-slow lint lint-only build clean chromium coverage bench i18n-extract i18n-update slither

install: $(STAMPS)/python $(STAMPS)/npm $(SOLCX_BINARY_PATH)/solc-v0.8.30 build/contracts/KopaCredits.json $(MO_FILES)

$(STAMPS)/python: requirements.txt
	@echo "==> Python packages into $(VENV) (pinned in requirements.txt)"
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --progress-bar on -r requirements.txt
	@mkdir -p $(STAMPS) && touch $@

$(STAMPS)/npm: package.json package-lock.json
	@echo "==> npm packages into node_modules (solc wasm, OpenZeppelin, anvil, cast, socket.io client)"
	@# npm ci refuses this lock (npm 11 wants the other platforms' optional anvil/cast
	@# packages listed); npm install follows the lock just the same and leaves it unchanged.
	npm install --no-audit --no-fund
	@mkdir -p $(STAMPS) && touch $@

# A native-solc look-alike for py-solc-x and brownie, backed by npm's solc (wasm).
$(SOLCX_BINARY_PATH)/solc-v0.8.30: scripts/solc/solc.js $(STAMPS)/npm
	@echo "==> solc 0.8.30 shim in $(SOLCX_BINARY_PATH)"
	@mkdir -p $(SOLCX_BINARY_PATH)
	@printf '#!/bin/sh\nexec node "%s" "$$@"\n' "$(CURDIR)/scripts/solc/solc.js" > $@
	@chmod +x $@
	@$@ --version | tail -1

build/contracts/KopaCredits.json: $(CONTRACTS) brownie-config.yaml $(STAMPS)/python $(SOLCX_BINARY_PATH)/solc-v0.8.30
	@echo "==> compiling contracts (brownie, offline)"
	@# brownie's staleness check ignores viaIR: a changed config recompiles everything
	$(BIN)/brownie compile $(if $(filter brownie-config.yaml,$?),--all)
	@touch $@

build: build/contracts/KopaCredits.json

# Browser tests drive Debian's chromium (never a downloaded browser build).
chromium:
	@command -v chromium >/dev/null || { \
	  echo "==> Debian chromium for the browser tests (apt)"; \
	  SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
	  $$SUDO apt-get update && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y chromium; }

run: install
	$(BIN)/flask --app web kopa run

# PostgreSQL tests run against KOPA_TEST_POSTGRES_URL; when it is unset and a server answers
# on 127.0.0.1:5432 (trust auth, database `test`), that one is used, otherwise they are skipped.
PG_CANDIDATE := postgresql://$(shell id -un)@127.0.0.1:5432/test
PYTEST := url="$${KOPA_TEST_POSTGRES_URL:-$$($(BIN)/python scripts/postgres_probe.py $(PG_CANDIDATE))}"; \
	if [ -n "$$url" ]; then echo "==> PostgreSQL tests against $$url"; \
	else echo "==> no PostgreSQL answers: PostgreSQL tests are skipped"; fi; \
	KOPA_TEST_POSTGRES_URL="$$url" $(BIN)/python -m pytest -p no:pytest-brownie

test: install chromium
	@echo "==> contract tests (brownie test, its own anvil)"
	$(BIN)/python scripts/contract_tests.py
	@$(MAKE) --no-print-directory lint-only
	@echo "==> app tests (pytest: real anvil, SQLite, PostgreSQL, chromium; slow suites: make test-slow)"
	@$(PYTEST) -m "not slow"

test-contracts: install
	$(BIN)/python scripts/contract_tests.py

test-app: install chromium
	@$(PYTEST) -m "not slow"

# A tool whose pins clash with brownie's, in a venv of its own: $(call tool_venv,VENV,REQUIREMENTS)
# (the target is the tool's executable, touched last so that a failed install is retried).
define tool_venv
	@echo "==> $(notdir $@) into $(1) (pinned in $(2))"
	@test -x $(1)/bin/python || $(PYTHON) -m venv $(1)
	$(1)/bin/python -m pip install --progress-bar on -r $(2)
	@touch $@
endef

# Schemathesis in its own venv (.venv-fuzz, pinned in requirements-fuzz.txt): it needs a newer
# hypothesis and pytest than brownie pins in .venv. tests/reliability/test_fuzz.py runs its CLI.
FUZZ_VENV := .venv-fuzz
$(FUZZ_VENV)/bin/st: requirements-fuzz.txt
	$(call tool_venv,$(FUZZ_VENV),requirements-fuzz.txt)

# The reliability suites (docs/reliability.md): faults, killed workers, the production
# topology, the OpenAPI fuzzing (schemathesis from .venv-fuzz). Under 10 minutes; each test's
# time is listed at the end.
test-slow: install chromium $(FUZZ_VENV)/bin/st
	@$(PYTEST) -m slow -v --durations=0

# Every benchmark of #8, one after the other (about 15 minutes on 2 quiet cores; run it on a
# quiet machine). Each prints `name value unit` lines with its ratio to the reference measured
# in the same run; docs/benchmarks.md records them. The leaderboard's query part needs
# PostgreSQL (KOPA_TEST_POSTGRES_URL, or a server on 127.0.0.1:5432) and is skipped without.
BENCH := $(BIN)/python scripts/bench
bench: install
	@echo "==> gas (scripts/bench/gas.py)"
	$(BENCH)/gas.py
	@echo "==> relay (scripts/bench/relay_throughput.py: 5,000 approvals)"
	$(BENCH)/relay_throughput.py
	@echo "==> HTTP (scripts/bench/http_bench.py: one worker and two)"
	$(BENCH)/http_bench.py
	@echo "==> leaderboards (scripts/bench/leaderboard.py: 500 clients, 60 s)"
	@url="$${KOPA_TEST_POSTGRES_URL:-$$($(BIN)/python scripts/postgres_probe.py $(PG_CANDIDATE))}"; \
	if [ -n "$$url" ]; then set -x; $(BENCH)/leaderboard.py --clients 500 --duration 60 --pg-url "$$url"; \
	else echo "no PostgreSQL answers: the board query part is skipped"; set -x; \
	  $(BENCH)/leaderboard.py --clients 500 --duration 60 --skip-query; fi
	@echo "==> audit (scripts/bench/audit.py: 100k-row chain and Merkle root, 10k holders)"
	$(BENCH)/audit.py

# Statement and branch coverage of contracts/*.sol (brownie --coverage on a private anvil, in
# a scratch copy built without the optimizer; ~2 min, so not part of `make test`); prints the
# figures and fails below 100%.
coverage: install
	$(BIN)/python scripts/contract_coverage.py

# Message catalogues (Latvian, Spanish): .mo compiled from each .po when it changed (not
# committed); i18n-extract writes the message ids of code and templates to
# translations/messages.pot, i18n-update merges them into the .po files to translate.
translations/%/LC_MESSAGES/messages.mo: translations/%/LC_MESSAGES/messages.po | $(STAMPS)/python
	$(BIN)/pybabel -q compile -l $* -i $< -o $@

i18n-extract: $(STAMPS)/python
	$(BIN)/python scripts/i18n.py extract

i18n-update: $(STAMPS)/python
	$(BIN)/python scripts/i18n.py update

# Slither in its own venv (.venv-slither, pinned in requirements-slither.txt: its web3 and
# eth-* pins differ from brownie's), over a fresh brownie build of the contracts; fails on a
# medium or high finding in contracts/ (the rest is explained in docs/reliability.md).
SLITHER_VENV := .venv-slither
$(SLITHER_VENV)/bin/slither: requirements-slither.txt
	$(call tool_venv,$(SLITHER_VENV),requirements-slither.txt)

slither: install $(SLITHER_VENV)/bin/slither
	$(BIN)/python scripts/slither_check.py

# ruff, then the house's import contracts (pyproject.toml [tool.importlinter]: layers, the
# kernel that knows no one, no Flask in the domain, web3 only in rewards.chain).
lint: install
	@$(MAKE) --no-print-directory lint-only

lint-only:
	@echo "==> lint (ruff)"
	$(BIN)/ruff check .
	@echo "==> import contracts (lint-imports)"
	$(BIN)/lint-imports --no-cache

clean:
	rm -rf build $(STAMPS) .pytest_cache

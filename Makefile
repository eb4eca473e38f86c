# The platform's commands. `make run` brings everything up with demo data; `make test` runs every test.
SHELL := /bin/bash
.DEFAULT_GOAL := help
export PATH := $(HOME)/.local/bin:$(PATH)
UV := uv
PYTEST_ARGS ?=

.PHONY: help tools install infra web web-openapi browser migrate audit-verify run test test-cluster test-unit lint format contracts rules bench-tools bench-gateway bench-plates bench-plates-cluster bench-plates-ab bench-opening bench-exams bench-relay bench-redis-tls fault-tools proof-faults proof-broker-cluster proof-attack clean

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-14s %s\n", $$1, $$2}'

tools: ## uv when missing (nginx and the servers come with `make infra`)
	@command -v $(UV) >/dev/null || python3 -m pip install --quiet --disable-pip-version-check uv

install: tools ## every package of the workspace into .venv, from uv.lock
	$(UV) sync --all-packages --frozen

infra: tools ## find, start or install PostgreSQL, RabbitMQ and Redis; create each service's database and role
	python3 scripts/bootstrap_infra.py --env all

web: ## build the citizen app, the clerk console and the API reference when missing or stale (web/dist)
	python3 scripts/build_web.py

web-openapi: install ## regenerate web/packages/api/openapi.json, the merged API document the apps' types come from
	$(UV) run python -m gateway_service.openapi_snapshot --out web/packages/api/openapi.json

browser: tools ## as `make infra`, and Chromium with CJK fonts from Debian's packages for the browser tests
	python3 scripts/bootstrap_infra.py --env all --browser

migrate: install infra ## bring every service's dev database to its newest revision
	TMS_ENV=dev $(UV) run python -m servicekit.migrate

audit-verify: install ## AU-01: walk every service's audit chain, name altered or removed entries (JSON on the last line)
	TMS_ENV=$${TMS_ENV:-dev} $(UV) run python -m servicekit.audit verify --all

run: install infra web ## run the whole platform with demo data: gateway on http://localhost:8000
	$(UV) run python scripts/run_platform.py

test: install browser web ## unit, integration (real servers), contract and browser tests
	$(UV) run pytest -q $(PYTEST_ARGS)

test-cluster: install ## plate-pool's tests with the hot state on one Redis and on a local 3-master Redis Cluster, all of them (ADR 0097)
	TMS_TEST_HOT_CLUSTER=all $(UV) run pytest -q services/plate-pool/tests $(PYTEST_ARGS)

test-unit: install ## the tests that need no server
	$(UV) run pytest -q -m "not integration and not fault" $(PYTEST_ARGS)

lint: install ## ruff and mypy (strict on servicekit)
	$(UV) run ruff check .
	$(UV) run ruff format --check .
	$(UV) run mypy libs/servicekit/src gateway/src services/*/src scripts
	$(UV) run python scripts/rules_index.py --check
	$(UV) run python -m gateway_service.openapi_snapshot --out web/packages/api/openapi.json --check

format: install ## apply ruff's fixes and formatting
	$(UV) run ruff check --fix .
	$(UV) run ruff format .

contracts: install ## regenerate each service's contracts/asyncapi.yaml and the catalogue in docs/events/
	$(UV) run python -m servicekit.asyncapi

rules: install ## regenerate docs/rules-index.md: where each rule of docs/rules.md is decided and which tests name it
	$(UV) run python scripts/rules_index.py

bench-tools: tools ## the servers, as `make infra`, and the benchmarks' load generator (wrk)
	python3 scripts/bootstrap_infra.py --env all --bench

bench-gateway: install bench-tools ## gateway against direct throughput (JSON on the last line)
	$(UV) run python bench/gateway.py

bench-plates: install bench-tools ## plate-pool hot path (JSON on the last line)
	$(UV) run python bench/plates.py

bench-plates-cluster: install bench-tools ## the same with plate-pool's hot state on a local 3-master Redis Cluster (ADR 0097)
	$(UV) run python bench/plates.py --cluster

bench-plates-ab: install bench-tools ## plate hot path, BASE=<commit> against HEAD side by side (JSON on the last line)
	$(UV) run python bench/plates_ab.py $(BASE) HEAD --rounds $(or $(ROUNDS),4)

bench-opening: install bench-tools ## opening day: thousands arrive within a minute at a pool smaller than the crowd, whole flow through the gateway, Locust (JSON on the last line)
	$(UV) run --group bench python bench/opening.py

bench-exams: install bench-tools ## DL-11: 1,000 concurrent exam requests for 100 seats, the cut-off, the order checked (JSON on the last line)
	$(UV) run python bench/exams.py

bench-relay: install bench-tools ## outbox relay with publisher confirms, 1 and 2 replicas; BASE=<commit> runs that relay side by side (JSON on the last line)
	$(UV) run python bench/relay.py $(if $(BASE),--base $(BASE))

bench-redis-tls: install ## the revocation check over TLS, redis-py against the pipelined connection, side by side (JSON on the last line)
	$(UV) run python bench/redis_tls.py

fault-tools: tools ## the servers, as `make infra`, and what the fault proofs' network cut needs (nftables, socat)
	python3 scripts/bootstrap_infra.py --env all --faults

proof-faults: install fault-tools ## the platform under faults (broker, database, Redis, kills, cuts, poison): figures as JSON on the last line
	$(UV) run python scripts/proof_report.py faults --reset
	$(UV) run pytest -q --proof tests/proof/faults $(PYTEST_ARGS); status=$$?; \
	  $(UV) run python scripts/proof_report.py faults; exit $$status

proof-broker-cluster: install fault-tools ## three private RabbitMQ nodes, the node leading the queues SIGKILLed under 5,000 events (ADR 0098): JSON on the last line
	$(UV) run python scripts/proof_report.py cluster --reset
	$(UV) run pytest -q --proof libs/servicekit/tests/test_messaging_cluster.py $(PYTEST_ARGS); status=$$?; \
	  $(UV) run python scripts/proof_report.py cluster --part node-loss; exit $$status

proof-attack: install browser web ## the platform under attack through the gateway (fuzzing, authorization, tokens, input, brute force, logs): JSON on the last line
	$(UV) run python scripts/proof_report.py attack --reset
	$(UV) run pytest -q --proof tests/proof/attack $(PYTEST_ARGS); status=$$?; \
	  $(UV) run python scripts/proof_report.py attack; exit $$status

clean: ## remove generated runtime files (var/)
	rm -rf var/

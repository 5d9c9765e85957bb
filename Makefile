# The front door. Targets stay thin; the logic lives in scripts/ and Python.
PYTHON := .venv/bin/python
export PYTHON

.PHONY: run test install constraints lint kafka-up kafka-down kafka-status provision up down status bench

run: install ## start Kafka, provision topics, run the main job
	bash scripts/run.sh

test: install ## ruff, mypy and every test tier against a real broker
	bash scripts/test.sh

install: ## create .venv and install the project with pinned dependencies
	bash scripts/bootstrap.sh

constraints: install ## rewrite constraints.txt from the resolved venv (after changing a pin)
	bash scripts/constraints.sh

lint: install
	bash scripts/lint.sh

kafka-up: install
	deploy/kafka/kafka.sh up

kafka-down:
	deploy/kafka/kafka.sh down

kafka-status:
	deploy/kafka/kafka.sh status

provision: install
	$(PYTHON) -m services.cli.main provision

up: install ## the whole stack in the background; returns once every service is ready
	$(PYTHON) -m services.cli.main stack up

down: ## stop every service and the local broker
	$(PYTHON) -m services.cli.main stack down --kafka

status:
	$(PYTHON) -m services.cli.main stack status

bench: install ## end-to-end benchmark against bare Kafka relays (see docs/benchmarks.md)
	$(PYTHON) -m bench.run

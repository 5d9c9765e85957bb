# The front door. Targets stay thin; the logic lives in scripts/ and Python.
PYTHON := .venv/bin/python
export PYTHON

.PHONY: run test install lint kafka-up kafka-down kafka-status provision

run: install ## start Kafka, provision topics, run the main job
	bash scripts/run.sh

test: install ## ruff, mypy and every test tier against a real broker
	bash scripts/test.sh

install: ## create .venv and install the project with pinned dependencies
	bash scripts/bootstrap.sh

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

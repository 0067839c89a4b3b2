# Elastic Vision: `make up` runs the service locally, `make test` runs the tests.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: install up test lint fmt bench synth bootstrap deploy destroy clean

install: $(STAMP)

# (Re)create the virtualenv whenever the dependency list changes.
$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $@

up: install
	$(BIN)/evision up

test: install
	$(BIN)/pytest

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy .

fmt: install
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

# How close the whole pipeline comes to the bare model (a few minutes; not part of `make test`).
bench: install
	$(BIN)/evision bench

clean:
	rm -rf $(VENV) cdk.out node_modules .pytest_cache .mypy_cache .ruff_cache

# The CDK app (app.py, infra/): a pinned CDK CLI from package-lock.json, no telemetry, no version check.
CDK_ENV := CDK_DISABLE_CLI_TELEMETRY=true CDK_DISABLE_VERSION_CHECK=true JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION=20
CDK := $(CDK_ENV) npx --no-install cdk

node_modules/.package-lock.json: package.json package-lock.json
	npm ci --no-audit --no-fund

# Extra CDK CLI arguments, e.g. `make deploy CDK_ARGS="-c stage=prod -c maxCapacity=10"`.
CDK_ARGS ?=

synth: install node_modules/.package-lock.json
	$(CDK) synth --quiet $(CDK_ARGS)

# The deploying commands need AWS credentials; `bootstrap` once per account and region.
bootstrap: install node_modules/.package-lock.json
	$(CDK) bootstrap $(CDK_ARGS)

deploy: install node_modules/.package-lock.json
	$(CDK) deploy --require-approval broadening $(CDK_ARGS)

destroy: install node_modules/.package-lock.json
	$(CDK) destroy $(CDK_ARGS)

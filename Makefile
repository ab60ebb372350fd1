PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: install run test test-pure browser lint bench clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

$(STAMP): $(BIN)/python pyproject.toml setup.py
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev,plot,browser,cluster]'
	touch $(STAMP)

# a mypyc build (setup.py) whose compiled sources changed since is rebuilt here (bot.compiled() says "stale")
install: $(STAMP)
	@$(BIN)/python -W ignore -c "import bot, sys; sys.exit(bot.compiled() == 'stale')" \
		|| $(BIN)/python -m pip install --quiet -e '.[dev,plot,browser,cluster]'

# `make run` quotes BTC/USDT and SOL/USDT against the in-process simulated exchange with config/sim.toml
# until Ctrl-C; another config with CONFIG (`make run CONFIG=config/sim-imbalance.toml`), flags with ARGS
# (`make run ARGS="--duration 30"`).
CONFIG ?= config/sim.toml
run: install
	$(BIN)/mmbot run --config $(CONFIG) $(ARGS)

test: install
	$(BIN)/python -m pytest -q

# the same suite on the pure-Python modules (what runs where the install found no C compiler, e.g. docker)
test-pure: install
	MMBOT_PURE=1 $(BIN)/python -m pytest -q

# the console's browser tests alone (headless Chromium from the system: Debian's `chromium`; skipped without it
# unless CI is set); they save a screenshot of the live page to artifacts/console.png
browser: install
	$(BIN)/python -m pytest -q tests/browser

lint: install
	$(BIN)/ruff check .

# `make bench` runs every benchmark (a few minutes on 2 cores), prints the table and writes bench/results.json
# (or $BENCH_OUT). BENCH_QUICK=1 makes it a smoke run; pick benchmarks with ARGS="compute reaction".
bench: install
	$(BIN)/python -m pip install --quiet -e '.[bench]'
	$(BIN)/python -m bench $(ARGS)

clean:
	rm -rf $(VENV) build *.egg-info .pytest_cache .ruff_cache .mypy_cache bot/_compiled.txt
	find bot -name '*.so' -delete

# The two commands a user needs are `make demo` and `make test`; both create .venv on demand.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp
DATA_DIR ?= demo-data
PORT ?= 8000

.PHONY: demo test bench lint typecheck clean

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e '.[dev,bench]'
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/qserv-access demo --data-dir $(DATA_DIR) --port $(PORT)

test: $(STAMP)
	bash scripts/install-system-deps.sh
	$(BIN)/python -m pytest tests notebooks --nbval-lax -q

bench: $(STAMP)
	$(BIN)/python -m bench.run_all

lint: $(STAMP)
	$(BIN)/ruff check engine tap_service qserv_access tests bench
	$(BIN)/lint-imports

typecheck: $(STAMP)
	$(BIN)/mypy engine tap_service qserv_access

clean:
	rm -rf $(VENV) $(DATA_DIR) bench/work

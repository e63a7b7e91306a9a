# The two commands a user needs are `make demo` and `make test`; both create .venv on demand.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp
NB_STAMP := $(VENV)/.notebook-stamp
LAB_PORT ?= 8888
DATA_DIR ?= demo-data
PORT ?= 8000

.PHONY: demo test lab notebook bench lint typecheck clean

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e '.[dev,bench]'
	# only its CRD files are used (tests/deploy); its kubernetes client pins python-dateutil>=3,
	# which botocore (moto, the S3 tests) refuses, so its dependencies are left out.
	$(BIN)/python -m pip install -q --no-deps 'dask-kubernetes==2026.3.0'
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/qserv-access demo --data-dir $(DATA_DIR) --port $(PORT)

# JupyterLab and the widgets come with the [notebook] extra (the package is not on PyPI:
# it is installed from this checkout).
$(NB_STAMP): $(STAMP)
	$(BIN)/python -m pip install -q -e '.[notebook,dev,bench]'
	touch $(NB_STAMP)

lab: $(NB_STAMP)
	$(BIN)/jupyter lab --ip 127.0.0.1 --port $(LAB_PORT) --notebook-dir notebooks \
	    $(if $(filter 0,$(shell id -u)),--allow-root)

notebook: lab

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

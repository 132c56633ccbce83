# Two entry points for a newcomer: `make demo` and `make test`.
# Each creates the virtual environment and installs what it needs.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test bench experiments clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[server,sdk,dev]'
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/sentinel demo

test: $(STAMP)
	$(BIN)/python -m pytest -q

experiments: $(STAMP)
	$(BIN)/sentinel experiments run

bench: $(STAMP)
	$(BIN)/python bench/overhead.py

clean:
	rm -rf $(VENV) .pytest_cache

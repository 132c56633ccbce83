# Two entry points for a newcomer: `make demo` and `make test`.
# Each creates the virtual environment and installs exactly what requirements.lock
# pins (hashes checked), then the project itself without touching its dependencies.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
LOCK := requirements.lock
EXTRAS := --extra server --extra sdk --extra dev

.PHONY: demo test check bench experiments lock check-latest clean

$(STAMP): $(LOCK) pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --require-hashes --no-deps -r $(LOCK)
	$(BIN)/pip install --quiet --no-deps --no-build-isolation --config-settings editable_mode=compat -e .
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/sentinel demo

test: $(STAMP)
	$(BIN)/python -m pytest -q

# The style gate: lint and strict types (configured in pyproject.toml). CI runs it before the tests.
check: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/mypy

experiments: $(STAMP)
	$(BIN)/sentinel experiments run

bench: $(STAMP)
	$(BIN)/python bench/overhead.py

# Refresh the locks from pyproject.toml's ranges (the newest versions they allow,
# for every platform and Python >= 3.11), including the build backend that the
# editable install uses without build isolation. requirements-server.lock is the
# image's subset (no SDK, no test tools), pinned to the same versions.
# tests/compat/langchain-mcp1.lock is the client side of the mcp 1.x compatibility test
# (langchain-mcp-adapters), a venv of its own: tests/e2e/test_langchain_mcp_adapters.py.
lock: $(STAMP)
	$(BIN)/uv pip compile pyproject.toml build-requirements.in $(EXTRAS) \
	  --generate-hashes --universal --python-version 3.11 --quiet -o $(LOCK)
	$(BIN)/uv pip compile pyproject.toml build-requirements.in --extra server -c $(LOCK) \
	  --generate-hashes --universal --python-version 3.11 --quiet -o requirements-server.lock
	$(BIN)/uv pip compile tests/compat/langchain-mcp1.in \
	  --generate-hashes --universal --python-version 3.11 --quiet -o tests/compat/langchain-mcp1.lock

# Drift check, not part of `make test`: the newest releases the ranges allow, in a
# throwaway virtualenv, against the whole suite.
check-latest:
	rm -rf .venv-latest
	$(PYTHON) -m venv .venv-latest
	.venv-latest/bin/pip install --quiet --upgrade pip
	.venv-latest/bin/pip install --quiet --upgrade --upgrade-strategy eager -e '.[server,sdk,dev]'
	.venv-latest/bin/pip list --format=freeze > .venv-latest/versions.txt
	.venv-latest/bin/python -m pytest -q -p no:cacheprovider
	rm -rf .venv-latest

clean:
	rm -rf $(VENV) .venv-latest .venv-compat .pytest_cache

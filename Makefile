# Set-up on a fresh machine is `make demo` or `make test`: each creates .venv when it is missing.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
PYTEST_WORKERS ?= 2

.PHONY: demo test bench bench-quick lint clean

$(VENV)/bin/activate:
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip

$(VENV)/.installed: $(VENV)/bin/activate pyproject.toml
	$(PY) -m pip install --quiet -e .
	touch $@

$(VENV)/.installed-test: $(VENV)/bin/activate pyproject.toml
	$(PY) -m pip install --quiet -e '.[test]'
	touch $@ $(VENV)/.installed

demo: $(VENV)/.installed
	$(PY) -m matkeras.demo

test: $(VENV)/.installed-test
	$(PY) -m ruff check .
	$(PY) -m pytest -n $(PYTEST_WORKERS) --durations=15

bench: $(VENV)/.installed-test
	$(PY) -m benchmarks.run

bench-quick: $(VENV)/.installed-test
	$(PY) -m benchmarks.run --quick

lint: $(VENV)/.installed-test
	$(PY) -m ruff check .

clean:
	rm -rf $(VENV) build *.egg-info .pytest_cache .ruff_cache

# Set-up on a fresh machine is `make demo` or `make test`: each creates .venv when it is missing.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
PYTEST_WORKERS ?= 2

.PHONY: demo test bench bench-quick lint clean octave

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

# GNU Octave runs converters/matlab/matkeras_export.m in the tests (Debian package "octave").
octave:
	@command -v octave >/dev/null 2>&1 || { \
	  if [ "$$(id -u)" = 0 ]; then \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
	      --no-install-recommends octave >/dev/null; \
	  else \
	    echo "The tests need GNU Octave: install the 'octave' package (sudo apt-get install octave)." >&2; \
	    exit 1; \
	  fi; }

test: $(VENV)/.installed-test octave
	$(PY) -m ruff check .
	$(PY) -m pytest -n $(PYTEST_WORKERS) --durations=15

bench: $(VENV)/.installed-test
	$(PY) -m benchmarks.run
	$(PY) -m benchmarks.datastore
	$(PY) -m benchmarks.tflite
	$(PY) -m benchmarks.attention

bench-quick: $(VENV)/.installed-test
	$(PY) -m benchmarks.run --quick

lint: $(VENV)/.installed-test
	$(PY) -m ruff check .

clean:
	rm -rf $(VENV) build *.egg-info .pytest_cache .ruff_cache

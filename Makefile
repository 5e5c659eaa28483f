# Set-up on a fresh machine is `make demo` or `make test`: each creates .venv when it is missing.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
PYTEST_WORKERS ?= 2
# The sdist and wheel `make test` builds, checks (tests/test_packaging.py) and installs.
DIST := build/dist

.PHONY: demo test test-installed dist bench bench-quick bench-rule lint clean octave

$(VENV)/bin/activate:
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip

# Bytecode: pip compiles each installed module in turn (56 of the 100 s a new .venv with the
# test extras took here); compileall on every core does the same in 33 s (68 s in all). The
# environment here sets PYTHONDONTWRITEBYTECODE, so modules left uncompiled would be compiled
# again by every process that imports them. compileall's exit status is ignored: a dependency
# may ship a file this Python cannot compile (torch: a Python 3.12-only test helper), which
# pip skips too.
COMPILE = $(PY) -m compileall -qq -j 0 "$$($(PY) -c 'import sysconfig; print(sysconfig.get_path("purelib"))')" || true

$(VENV)/.installed: $(VENV)/bin/activate pyproject.toml
	$(PY) -m pip install --quiet --no-compile -e .
	$(COMPILE)
	touch $@

$(VENV)/.installed-test: $(VENV)/bin/activate pyproject.toml
	$(PY) -m pip install --quiet --no-compile -e '.[test]'
	$(COMPILE)
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

# ruff; the sdist and wheel; the whole suite (its packaging test reads that wheel) and, beside
# it, the wheel installed in a fresh venv outside the tree and used as a user would
# (test-installed: mostly pip's downloads and unpacking, about a minute; its output is shown
# when the suite ends, and kept in build/installed.log). Either failing fails `make test`.
test: $(VENV)/.installed-test octave
	$(PY) -m ruff check .
	$(MAKE) dist
	@$(PY) tests/installed/run.py $(DIST) > build/installed.log 2>&1 & installed=$$!; \
	MATKERAS_DIST=$(DIST) $(PY) -m pytest -n $(PYTEST_WORKERS) --durations=15; suite=$$?; \
	wait $$installed; check=$$?; cat build/installed.log; \
	if [ $$check -ne 0 ]; then echo "make test: the installed-package check failed" \
	  "(exit code $$check; build/installed.log)" >&2; fi; \
	if [ $$suite -ne 0 ]; then exit $$suite; fi; exit $$check

dist: $(VENV)/.installed-test
	rm -rf $(DIST) matkeras.egg-info && mkdir -p build  # no stale SOURCES.txt in the sdist
	$(PY) -m build --outdir $(DIST) . > build/dist.log 2>&1 || { cat build/dist.log; exit 1; }

test-installed: $(VENV)/.installed-test
	@test -f $(DIST)/matkeras-*.whl || $(MAKE) dist
	$(PY) tests/installed/run.py $(DIST)

bench: $(VENV)/.installed-test
	$(PY) -m benchmarks.run
	$(PY) -m benchmarks.datastore
	$(PY) -m benchmarks.tflite
	$(PY) -m benchmarks.attention
	$(PY) -m benchmarks.distribute
	$(PY) -m benchmarks.unroll

bench-quick: $(VENV)/.installed-test
	$(PY) -m benchmarks.run --quick

# Re-measures the recurrent ops' speed rule (matkeras/ops/_speed.py): every choice at each shape.
bench-rule: $(VENV)/.installed-test
	$(PY) -m benchmarks.rule
	$(PY) -m benchmarks.rule --training --shapes 32,200,12,128 32,1000,123,320 27,26,12,100

lint: $(VENV)/.installed-test
	$(PY) -m ruff check .

clean:
	rm -rf $(VENV) build *.egg-info .pytest_cache .ruff_cache

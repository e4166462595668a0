# The Python module (bindings/python + python/): included by the Makefile.
#
#   make bootstrap-python   .venv/ with maturin, pytest, hypothesis, mypy, rich
#   make build-python       the native module, release build, into .venv (editable)
#   make wheel-python       the abi3 wheel for the venv's Python (cp311-abi3) into
#                           build/wheels (make dist: the release wheels)
#   make test-python        pytest (API, engine, golden vault, CLI in subprocesses,
#                           README quick start), mypy --strict, stubtest
#   make test-python-oldest the cp39-abi3 wheel in .venv39 (Python 3.9), pytest;
#                           last in `make test`: its build changes pyo3's features
#                           in target/, so the next build-python builds again
#   make demo-python        the CLI end to end on a generated tree (make demo)
#   make bench-python       the 256 MiB comparison with a pure-Python composition

VENV := $(CURDIR)/.venv
VPY := $(VENV)/bin/python
PY_BUILD := build/python

.PHONY: bootstrap-python build-python wheel-python test-python test-python-oldest demo-python bench-python

bootstrap-python: bootstrap
	@scripts/bootstrap-python

build-python: bootstrap-python
	cd python && VIRTUAL_ENV=$(VENV) PATH=$(VENV)/bin:$$PATH $(VENV)/bin/maturin develop --release --quiet

wheel-python: bootstrap-python
	cd python && $(VENV)/bin/maturin build --release --quiet --out $(CURDIR)/build/wheels

test-python: build-python
	@# Four workers (pytest-xdist): most of the suite waits on subprocesses and
	@# sleeps, so even two cores run it in ~40% of the time; tests add their
	@# summary lines (conformance counts) through conftest's `summary`.
	cd python && $(VPY) -m pytest -q -n 4 -p no:cacheprovider tests
	@# MYPYPATH: benchmarks/peers.py imports tests/metadata/treecompare.py.
	cd python && MYPYPATH=$(CURDIR)/tests/metadata $(VPY) -m mypy --strict --cache-dir $(CURDIR)/$(PY_BUILD)/mypy cloudbackup tests examples benchmarks
	cd python && $(VPY) -m mypy.stubtest --mypy-config-file pyproject.toml cloudbackup._native

test-python-oldest: bootstrap-python
	@scripts/test-python-oldest

demo-python: build-python
	$(VPY) python/examples/demo.py $(PY_BUILD)/demo

bench-python: build-python
	@scripts/bootstrap-python --bench
	$(VPY) python/benchmarks/compare.py

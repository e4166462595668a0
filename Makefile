# The two commands of the README: `make demo` and `make test`.
# Both run the bootstrap first, so they work on a bare machine.

SHELL := /bin/bash
export PATH := $(HOME)/.cargo/bin:$(PATH)
CARGO ?= cargo

.PHONY: demo demo-api test bootstrap fmt-check clippy test-rust test-c header install-c

# The main job: the Python CLI backs a generated tree up and restores it.
demo: demo-python

# The v2 restore walked through its life with the API layer.
demo-api: bootstrap
	$(CARGO) run --quiet -p cloudbackup-core --example restore_walkthrough

# test-python-oldest last: its cp39 build shares target/ and would make every
# later build-python build the module again (~2 minutes each).
test: bootstrap fmt-check clippy test-rust test-c test-python test-metadata test-swift test-system test-stress test-web test-interop test-python-oldest

bootstrap:
	@scripts/bootstrap

fmt-check:
	$(CARGO) fmt --all -- --check

clippy:
	$(CARGO) clippy --workspace --all-targets -- -D warnings

# --nocapture so the conformance and sample tests' summary lines show.
# Benchmarks are built by clippy but not run here (`cargo bench` runs them).
test-rust:
	$(CARGO) test --workspace --lib --bins --tests --examples -- --nocapture
	$(CARGO) test --workspace --doc

# The C library (bindings/c): one release build of libcloudbackup.{a,so}
# (C_BUILD_CMD); the committed include/cloudbackup.h must match what
# cbindgen generates from the sources (bindings/c/header; `make header`
# refreshes the committed copy). Then the Check tests (CTest)
# against both libraries, plainly and under valgrind, and once more built
# with -fsanitize=address,undefined, and the null sweep generated from the
# header (bindings/c/tests/gen_null_sweep.py); the README's C quick start; the
# example agent's round trip on a temp dir.
C_BUILD := build/c
C_LIBDIR := $(CURDIR)/target/release
C_PREFIX := $(CURDIR)/$(C_BUILD)/prefix
C_VERSION := $(shell sed -n 's/^version = "\(.*\)"/\1/p' Cargo.toml | head -n1)
# The C library is built together with the Python module's crate: with
# their dependencies' features unified, the core and its dependencies are
# the units maturin's build of the module (test-python) needs, built once
# (docs/PERFORMANCE.md, "CI: one release build for C and Python").
C_BUILD_CMD := $(CARGO) build --release -p cloudbackup-c -p cloudbackup-python --features cloudbackup-python/extension-module
# Run only when a source changed (a file target, not on every use): maturin
# builds pyo3 with its own PYO3_CONFIG_FILE, so each switch between this
# build and `maturin develop` would build pyo3 and the module again.
C_SOURCES := $(shell find core/src bindings/c/src bindings/python/src -name '*.rs' 2>/dev/null) \
  core/Cargo.toml bindings/c/Cargo.toml bindings/python/Cargo.toml bindings/python/build.rs Cargo.toml Cargo.lock
C_LIB := $(C_LIBDIR)/libcloudbackup.so

$(C_LIB): $(C_SOURCES) | bootstrap
	$(C_BUILD_CMD)
	@touch $@ $(C_LIBDIR)/libcloudbackup.a

test-c: bootstrap $(C_LIB)
	@if git rev-parse --is-inside-work-tree >/dev/null 2>&1; then \
	  git ls-files --error-unmatch include/cloudbackup.h >/dev/null || \
	    { echo "include/cloudbackup.h is not committed"; exit 1; }; fi
	@# The drift check is the header tool's unit test, with the whole workspace
	@# selected as test-rust selects it: the same features, so its build is
	@# test-rust's (`-p` alone would compile cbindgen and serde once more).
	$(CARGO) test --quiet --workspace --bin cloudbackup-c-header -- --exact tests::committed_header_is_current
	@echo "header drift check: include/cloudbackup.h matches the header cbindgen generates"
	bindings/c/configure-package $(C_PREFIX) $(CURDIR) $(C_LIBDIR) $(CURDIR)/include $(C_VERSION)
	cmake -S bindings/c/tests -B $(C_BUILD)/tests -Dcloudbackup_DIR=$(C_PREFIX)/cmake/cloudbackup >/dev/null
	cmake --build $(C_BUILD)/tests -j2
	@echo "ctest: static and shared, plainly and under valgrind, and static under ASan+UBSan; the null sweep of every function (log: $(C_BUILD)/ctest.log)"
	@ctest --test-dir $(C_BUILD)/tests -j2 -V > $(C_BUILD)/ctest.log 2>&1 \
	  || { cat $(C_BUILD)/ctest.log; echo "C tests failed"; exit 1; }
	@grep -E '^[0-9]+: ([0-9]+ passed, [0-9]+ failed|tamper matrix|null sweep|==[0-9]+== (ERROR SUMMARY|All heap blocks|   (definitely|indirectly) lost))|tests passed' $(C_BUILD)/ctest.log
	@# The README's C quick start, compiled as written (static library).
	awk '/<!-- c-quickstart -->/{f=1;next} f&&/^```c/{g=1;next} g&&/^```/{exit} g' README.md > $(C_BUILD)/quickstart.c
	$(CC) -Wall -Wextra -Werror -o $(C_BUILD)/quickstart $(C_BUILD)/quickstart.c -Iinclude target/release/libcloudbackup.a -lpthread -ldl -lm
	$(C_BUILD)/quickstart
	@# The example agent, built through pkg-config against the shared library.
	$(CC) -std=c11 -Wall -Wextra -Werror -O2 -o $(C_BUILD)/agent bindings/c/examples/agent.c \
	  $$(PKG_CONFIG_PATH=$(C_PREFIX)/pkgconfig pkg-config --cflags --libs libcloudbackup) $$(pkg-config --cflags --libs libcurl) -Wl,-rpath,$(C_LIBDIR)
	bindings/c/examples/run-agent.sh $(C_BUILD)/agent

# Writes the committed include/cloudbackup.h with cbindgen (bindings/c/header),
# after a change to the C exports or their doc comments; `make test-c` (and
# `cargo test`) fail until it is done.
header:
	$(CARGO) run --quiet -p cloudbackup-c-header -- include/cloudbackup.h
	@echo "include/cloudbackup.h regenerated; commit it"

# Installs the C library: make install-c PREFIX=/usr/local (DESTDIR honoured).
# Built alone, not with C_BUILD_CMD, so that no Python is needed (pyo3's
# build script looks for one); after `make test` that is a build of its own.
PREFIX ?= /usr/local
install-c:
	$(CARGO) build --release -p cloudbackup-c
	install -d $(DESTDIR)$(PREFIX)/lib $(DESTDIR)$(PREFIX)/include
	install -m 0644 target/release/libcloudbackup.a $(DESTDIR)$(PREFIX)/lib/
	install -m 0755 target/release/libcloudbackup.so $(DESTDIR)$(PREFIX)/lib/
	install -m 0644 include/cloudbackup.h $(DESTDIR)$(PREFIX)/include/
	bindings/c/configure-package $(DESTDIR)$(PREFIX)/lib $(PREFIX) $(PREFIX)/lib $(PREFIX)/include $(C_VERSION)

# The Python module's targets (bootstrap-python, build-python, test-python,
# demo-python, bench-python); included last so `demo` stays the default goal.
include mk/python.mk

# Metadata fidelity of backup + restore (test-metadata; METADATA_REQUIRED=1
# makes the cloudbackup comparison mandatory).
include mk/metadata.mk

# Vaults on OpenStack Swift (test-swift, against a real all-in-one) and the
# peer benchmark against restic and borg (bench-peers).
include mk/swift.mk

# The WebAssembly binding and the npm package: bootstrap-web, build-web,
# test-web, demo-web, bench-web.
include mk/web.mk

# The concurrency stress test (test-stress): backups, gc and SIGKILLs on a
# local and a Swift vault at once.
include mk/stress.mk

# Across the bindings: test-interop (the tamper matrix runs in each
# binding's own test stage).
include mk/interop.mk

# The whole loop, headless: demo-system and test-system (emulator, agent,
# vault on the Swift all-in-one, byte-exact restore, a stop, a crash).
include mk/system.mk

# Fuzzing: make fuzz (FUZZ_SECONDS per target, default 600). Not in `test`.
include mk/fuzz.mk

# Releases: make dist (wheels, sdist, npm tarball, C library for Linux and
# Windows into dist/) and make test-dist (each installed and used). Not in `test`.
include mk/dist.mk

# The two commands of the README: `make demo` and `make test`.
# Both run the bootstrap first, so they work on a bare machine.

SHELL := /bin/bash
export PATH := $(HOME)/.cargo/bin:$(PATH)
CARGO ?= cargo

.PHONY: demo test bootstrap fmt-check clippy test-rust

demo: bootstrap
	$(CARGO) run --quiet -p cloudbackup-core --example restore_walkthrough

test: bootstrap fmt-check clippy test-rust

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

# Fuzzing (nightly Rust, cargo-fuzz): every target of core/fuzz/ for
# FUZZ_SECONDS each, one after another (FUZZ_TARGETS to pick some). Not
# part of `make test`, which runs only the committed regression inputs
# (core/tests/fuzz_regressions.rs). See docs/FUZZING.md.
FUZZ_SECONDS ?= 600
FUZZ_TARGETS ?=

.PHONY: fuzz

fuzz: bootstrap
	scripts/fuzz $(FUZZ_SECONDS) $(FUZZ_TARGETS)

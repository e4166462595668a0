# The concurrency stress test of issue 13 (tests/stress/run.py): included by
# the Makefile; `make test` runs it with the small default size.
#
#   make test-stress   three backup loops, a gc loop and random SIGKILLs on
#                      one vault for STRESS_SECONDS, first on a local
#                      directory (one backup loop run by the C example
#                      agent), then on the Swift all-in-one
#                      (scripts/swift-aio, stopped again whatever happens);
#                      afterwards every snapshot must restore byte-exactly
#
# STRESS_SECONDS (default 60) is the time each vault is stressed; the test
# also requires at least 20 backups and 10 kills per vault, and 10 gc runs
# on the local vault, 5 on Swift: a gc there lists and deletes over HTTP,
# and a third of the attempts are killed, so 10 finished ones took 134 s of
# a 60 s run (stop 41's fresh clone); 5 keep every race and end near 60 s.

.PHONY: test-stress test-stress-local test-stress-swift

STRESS_SECONDS ?= 60
STRESS_BUILD := build/stress

test-stress: test-stress-local test-stress-swift

test-stress-local: build-python build-interop-agent
	$(VPY) -m mypy --strict --cache-dir $(CURDIR)/$(PY_BUILD)/mypy tests/stress/run.py
	@rm -rf $(STRESS_BUILD)/local
	$(VPY) tests/stress/run.py --label local --seconds $(STRESS_SECONDS) \
	  --vault $(STRESS_BUILD)/local/vault --work $(STRESS_BUILD)/local/work --agent $(C_BUILD)/agent
	@rm -rf $(STRESS_BUILD)/local

test-stress-swift: build-python
	@scripts/swift-aio start
	@rm -rf $(STRESS_BUILD)/swift
	@eval "$$(scripts/swift-aio env)"; \
	  $(VPY) tests/stress/run.py --label swift --seconds $(STRESS_SECONDS) \
	    --vault swift://stress-$$$$/vault --work $(STRESS_BUILD)/swift/work --min-gc 5; \
	  status=$$?; $(CURDIR)/scripts/swift-aio stop; rm -rf $(STRESS_BUILD)/swift; exit $$status

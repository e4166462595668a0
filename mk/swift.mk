# Vaults on OpenStack Swift, and the peer benchmark: included by the Makefile.
#
#   make test-swift    start a real Swift all-in-one (scripts/swift-aio),
#                      run python/tests/test_swift.py against it, and stop it
#                      again whatever the outcome
#   make bench-peers   cloudbackup vs restic vs borg on one ~1 GiB corpus
#                      (python/benchmarks/peers.py; minutes; not in make test)

.PHONY: test-swift bench-peers

test-swift: build-python
	@scripts/swift-aio start
	@eval "$$(scripts/swift-aio env)"; \
	  (cd python && CLOUDBACKUP_SWIFT_REQUIRED=1 $(VPY) -m pytest -q -s -p no:cacheprovider tests/test_swift.py); \
	  status=$$?; $(CURDIR)/scripts/swift-aio stop; exit $$status

# Options pass through: make bench-peers BENCH_ARGS="--size-mib 256"
BENCH_ARGS ?=
bench-peers: build-python
	@scripts/bootstrap-python --peers
	$(VPY) python/benchmarks/peers.py $(BENCH_ARGS)

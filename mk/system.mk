# The whole loop, headless (tests/system/run.py): included by the Makefile.
#
#   make demo-system   the service emulator and the reference agent as
#                      subprocesses, a user (cloudbackup.Client) backing up,
#                      restoring byte-exactly, stopping a restore and killing
#                      the agent mid-restore; the vault in a local directory
#                      (or on Swift when ST_AUTH is set)
#   make test-system   the same with the vault on the Swift all-in-one
#                      (scripts/swift-aio, stopped again whatever the outcome);
#                      when Swift cannot start, a local directory, and the
#                      output says FALLBACK

.PHONY: demo-system test-system

demo-system: build-python
	@$(VPY) tests/system/run.py

test-system: build-python
	@if scripts/swift-aio start; then \
	  eval "$$(scripts/swift-aio env)"; $(VPY) tests/system/run.py; status=$$?; \
	  $(CURDIR)/scripts/swift-aio stop; exit $$status; \
	else \
	  echo "system: the Swift all-in-one did not start: FALLBACK to a local vault"; \
	  $(VPY) tests/system/run.py; \
	fi

# The interop and tamper matrices across the bindings (tests/interop/):
# included by the Makefile; `make test` runs test-interop last.
#
#   make test-interop   the 3x3 backup/restore matrix (C agent, Python CLI,
#                       node over the wasm package), the listings and
#                       counters, and the same API fixtures through each
#                       binding's probe, diffed
#
# The tamper matrix (tests/data/tamper) runs inside each binding's own stage:
# core/tests/tamper_matrix.rs (test-rust), bindings/c/tests/test_tamper.inc
# (test-c), python/tests/test_tamper.py (test-python), web/test/tamper.test.mjs
# (test-web).

.PHONY: test-interop build-interop-agent

INTEROP_BUILD := build/interop

# The example agent as test-c builds it (without test-c's test runs).
build-interop-agent: bootstrap $(C_LIB)
	bindings/c/configure-package $(C_PREFIX) $(CURDIR) $(C_LIBDIR) $(CURDIR)/include $(C_VERSION)
	$(CC) -std=c11 -Wall -Wextra -Werror -O2 -o $(C_BUILD)/agent bindings/c/examples/agent.c \
	  $$(PKG_CONFIG_PATH=$(C_PREFIX)/pkgconfig pkg-config --cflags --libs libcloudbackup) $$(pkg-config --cflags --libs libcurl) -Wl,-rpath,$(C_LIBDIR)

test-interop: build-interop-agent build-python $(WEB_DIST)
	@mkdir -p $(INTEROP_BUILD)
	$(CC) -std=c11 -D_GNU_SOURCE -Wall -Wextra -Werror -O2 -o $(INTEROP_BUILD)/api_probe tests/interop/api_probe.c \
	  -Iinclude target/release/libcloudbackup.a -lpthread -ldl -lm
	$(VPY) -m mypy --strict --cache-dir $(CURDIR)/$(PY_BUILD)/mypy tests/interop/run.py tests/interop/api_probe.py
	$(VPY) tests/interop/run.py --agent $(C_BUILD)/agent --c-probe $(INTEROP_BUILD)/api_probe --work $(INTEROP_BUILD)

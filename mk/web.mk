# The WebAssembly binding and the npm package @cloudbackup/core (web/).
# Included by the top Makefile. The .wasm is built once per change of its
# sources (a file target), not on every make invocation.
#
#   make bootstrap-web   installs what is missing (scripts/bootstrap-web)
#   make build-web       builds web/dist/ (scripts/build-web)
#   make test-web        node:test suite (client included), tsc, README examples, npm pack smoke test, browser test,
#                        bundlers (Vite, esbuild, Vite's dev server in Chromium; CommonJS as Jest requires it)
#   make demo-web        the console live: starts `cloudbackup serve` (temp db, free port), seeds it, plays
#                        its agent, starts `cloudbackup agent` if the CLI has it, and serves the console
#                        on 127.0.0.1 (DEMO_PORT=8130) in front of it; prints its URL
#   make demo-web-static the console over the static samples (no Python)
#   make test-web-live   the live console in Chromium against the emulator (web/test/browser-live.mjs)
#   make bench-web       prints the size, restore and patch-validation figures

.PHONY: bootstrap-web build-web test-web test-web-node test-web-tsc test-web-readme test-web-pack test-web-browser test-web-live test-web-bundlers demo-web demo-web-static bench-web

WEB_DIST := web/dist/cloudbackup_wasm_bg.wasm
WEB_SOURCES := $(shell find core/src bindings/wasm/src -name '*.rs' 2>/dev/null) \
  core/Cargo.toml bindings/wasm/Cargo.toml Cargo.toml Cargo.lock scripts/build-web \
  web/scripts/post-build.mjs web/scripts/patch-glue.mjs
DEMO_PORT ?= 8130

# After the main bootstrap: wasm-bindgen-cli is built with its Rust toolchain.
bootstrap-web: bootstrap
	@scripts/bootstrap-web

$(WEB_DIST): $(WEB_SOURCES) | bootstrap-web
	scripts/build-web

build-web: $(WEB_DIST)

test-web: test-web-node test-web-tsc test-web-readme test-web-pack test-web-browser test-web-live test-web-bundlers

# Two test files at once: node's default is one per core less one, so one
# on a 2-core CI machine (70 s there against 42 s). The flag is node >= 20.10's.
test-web-node: $(WEB_DIST)
	cd web && node --test $$(node -e 'const [a, b] = process.versions.node.split(".").map(Number); \
	  if (a > 20 || (a === 20 && b >= 10)) console.log("--test-concurrency=2")') test/*.test.mjs

test-web-tsc: $(WEB_DIST)
	@# No `any` in the public declarations (comments aside).
	@if sed -E 's://.*$$::; s:/\*.*\*/::g; /^ *\*/d' web/*.d.ts web/dist/cloudbackup_wasm.d.ts | grep -nwE 'any'; then \
	  echo "test-web-tsc: the public .d.ts uses any"; exit 1; fi
	cd web && node_modules/.bin/tsc -p tsconfig.json
	@echo "tsc: web/*.d.ts, dist/*.d.ts, tests, demo and bench type-check (no any in the public .d.ts)"

# The README's example (section "The npm package"), run as written; its
# client example (it needs the real service) type-checked as written.
test-web-readme: $(WEB_DIST)
	awk '/<!-- npm-example -->/{f=1;next} f&&/^```js/{g=1;next} g&&/^```/{exit} g' README.md \
	  | sed 's#@cloudbackup/core#./node.js#' > web/readme-example.tmp.mjs
	cd web && node readme-example.tmp.mjs; rc=$$?; rm -f readme-example.tmp.mjs; exit $$rc
	awk '/<!-- npm-client-example -->/{f=1;next} f&&/^```ts/{g=1;next} g&&/^```/{exit} g' README.md \
	  | sed 's#@cloudbackup/core#./node.js#' > web/readme-client.tmp.mts
	cd web && node_modules/.bin/tsc --noEmit --strict --module nodenext --moduleResolution nodenext --target es2022 \
	  --lib es2022,dom --types node readme-client.tmp.mts; rc=$$?; rm -f readme-client.tmp.mts; \
	  [ $$rc = 0 ] && echo "README client example: type-checks (tsc --strict)"; exit $$rc

# npm pack, then install the tarball into a scratch project and use it there.
test-web-pack: $(WEB_DIST)
	scripts/web-pack-smoke

test-web-browser: $(WEB_DIST)
	cd web && timeout 180 node test/browser.mjs

# The packed tarball in a scratch project: a page built with Vite (and on its
# dev server) and one bundled by esbuild (@cloudbackup/core/inline), each run
# in Chromium, and require() from CommonJS as Jest does (web/test/bundlers/).
test-web-bundlers: $(WEB_DIST)
	cd web && timeout 180 node test/bundlers/run.mjs

# The live console: the emulator and the Python module from this tree's .venv.
test-web-live: $(WEB_DIST) build-python
	cd web && CLOUDBACKUP_PYTHON=$(VPY) timeout 120 node test/browser-live.mjs

demo-web: $(WEB_DIST) build-python
	node web/demo/serve.mjs $(DEMO_PORT) --python $(VPY)

demo-web-static: $(WEB_DIST)
	node web/demo/serve.mjs $(DEMO_PORT)

bench-web: $(WEB_DIST)
	cargo build --quiet --release -p cloudbackup-wasm --example restore_bench
	cd web && node bench/bench.mjs

# Release artifacts (issue 21), included by the top Makefile. Not part of
# `make test`: a cold `make dist` rebuilds the core four times (glibc 2.17,
# musl and Windows targets, the wasm package) and `make test-dist` once more
# from the sdist, far more than CI's 30 minutes allow beside the suite.
#
#   make bootstrap-dist   ziglang and auditwheel into .venv, cargo-zigbuild into
#                         .tools, mingw-w64 and wine from apt (scripts/bootstrap-dist)
#   make dist             dist/: the manylinux2014 and musllinux_1_2 abi3 wheels,
#                         the sdist, the npm tarball, the C library for Linux
#                         (glibc >= 2.17) and for Windows (x86_64, mingw-w64),
#                         SHA256SUMS; one version, Cargo.toml's (scripts/dist)
#   make dist-ARTIFACT    one of them: dist-wheel, dist-musl, dist-sdist, dist-npm,
#                         dist-c, dist-windows
#   make test-dist        make dist, then each artifact installed and used as a
#                         user would (scripts/dist-test)

.PHONY: bootstrap-dist dist test-dist dist-wheel dist-musl dist-sdist dist-npm dist-c dist-windows

bootstrap-dist: bootstrap-python
	@scripts/bootstrap-dist

dist: bootstrap-dist $(WEB_DIST)
	scripts/dist

dist-wheel dist-musl dist-sdist dist-c dist-windows: bootstrap-dist
	scripts/dist $(patsubst dist-%,%,$@)

dist-npm: $(WEB_DIST)
	scripts/dist npm

# Builds what is missing or stale first (no two steps of scripts/dist share a
# build directory, so a second run compiles nothing).
test-dist: dist
	scripts/dist-test

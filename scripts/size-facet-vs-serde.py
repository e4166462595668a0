#!/usr/bin/env python3
"""What a model type costs in the WebAssembly package, read with serde's
derive against facet's reflection (docs/PERFORMANCE.md, "A model layer
without per-type code: facet measured").

Generates two throwaway crates in a temporary directory with the same 40
synthetic model structs (6-12 fields each: strings, integers, booleans,
options, lists and nested structs; camelCase names, unknown fields
refused, absent options and lists defaulted), each read from JSON text by
one exported function: one crate with serde's derive and serde_json, one
with facet's derive and facet-json. Each is built as scripts/build-web
builds the package (Debian's rustc-web, -Z build-std with
optimize_for_size, opt-level "s", fat LTO, wasm-opt -O1), once reading all
40 types and once reading only one leaf type, and the gzip -9 size of each
module is printed: the second gives the library's floor, the difference
the cost per type.

Needs the web toolchain (scripts/bootstrap-web) and crates.io.
Usage: python3 scripts/size-facet-vs-serde.py
"""

from __future__ import annotations

import gzip
import os
import random
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
N = 40
DEPS = {
    "serde": 'serde = { version = "1", features = ["derive"] }\nserde_json = "1"',
    # facet-json 0.44.7 is built on facet 0.45 (the newest releases that are
    # not release candidates on 2026-12-07).
    "facet": 'facet = "0.45"\nfacet-json = "0.44.7"',
}
READ = {"serde": "serde_json::from_str", "facet": "facet_json::from_str"}


def model_types() -> list[tuple[str, list[tuple[str, str]]]]:
    """The 40 structs, each as (name, [(field, type)]); a struct only nests
    later ones, so the last is a leaf."""
    rng = random.Random(1)
    names = [f"T{i}" for i in range(N)]
    kinds = ["String", "Option<String>", "u64", "Option<u64>", "bool", "Vec<String>",
             "nested", "optnested", "vecnested"]
    out = []
    for i, name in enumerate(names):
        fields = []
        for j in range(rng.randint(6, 12)):
            kind = rng.choice(kinds)
            if kind.endswith("nested"):
                if i == N - 1:
                    kind = "String"
                else:
                    inner = names[rng.randint(i + 1, N - 1)]
                    kind = {"nested": inner, "optnested": f"Option<{inner}>",
                            "vecnested": f"Vec<{inner}>"}[kind]
            label = rng.choice(["id", "name", "state", "time", "count"])
            fields.append((f"field_{j}_{label}", kind))
        out.append((name, fields))
    return out


def source(lib: str, read: list[int]) -> str:
    """The crate's lib.rs: the structs and `parse(which, ptr, len)`, which
    reads the types numbered in `read`."""
    attr = "serde" if lib == "serde" else "facet"
    derive = "Deserialize" if lib == "serde" else "Facet"
    lines = [f"use {'serde::Deserialize' if lib == 'serde' else 'facet::Facet'};"]
    for name, fields in model_types():
        lines += [f"#[derive({derive})]",
                  f'#[{attr}(rename_all = "camelCase", deny_unknown_fields)]',
                  f"pub struct {name} {{"]
        for field, kind in fields:
            if kind.startswith(("Option", "Vec")):
                lines.append(f"    #[{attr}(default)]")
            lines.append(f"    pub {field}: {kind},")
        lines.append("}")
    lines += ["#[no_mangle]",
              "pub extern \"C\" fn parse(which: u32, ptr: *const u8, len: usize) -> u32 {",
              "    // SAFETY: the caller passes UTF-8 bytes it owns (a measurement, never run).",
              "    let s = unsafe { core::str::from_utf8_unchecked(core::slice::from_raw_parts(ptr, len)) };",
              "    match which {"]
    for i in read:
        lines.append(f"        {i} => match {READ[lib]}::<T{i}>(s) {{ "
                     "Ok(v) => { std::hint::black_box(&v); 1 } "
                     "Err(e) => e.to_string().len() as u32 },")
    lines += ["        _ => 0,", "    }", "}"]
    return "\n".join(lines) + "\n"


def build(work: Path, lib: str, read: list[int]) -> int:
    """gzip -9 bytes of the module reading `read`, built as the package is."""
    crate = work / lib
    (crate / "src").mkdir(parents=True, exist_ok=True)
    (crate / "Cargo.toml").write_text(
        f'[package]\nname = "exp_{lib}"\nversion = "0.1.0"\nedition = "2021"\n'
        '[lib]\ncrate-type = ["cdylib"]\n'
        f"[dependencies]\n{DEPS[lib]}\n"
        '[profile.release]\nopt-level = "s"\nlto = true\ncodegen-units = 1\npanic = "abort"\n'
        "[workspace]\n")
    (crate / "src/lib.rs").write_text(source(lib, read))
    env = dict(os.environ, PATH="/usr/bin:" + os.environ["PATH"], RUSTC="/usr/bin/rustc",
               RUSTC_BOOTSTRAP="1")
    subprocess.run(["/usr/bin/cargo", "build", "--release", "--target", "wasm32-unknown-unknown",
                    "-Z", "build-std=std,panic_abort",
                    "-Z", "build-std-features=optimize_for_size"],
                   cwd=crate, env=env, check=True, capture_output=True)
    raw = crate / f"target/wasm32-unknown-unknown/release/exp_{lib}.wasm"
    opt = work / f"{lib}.wasm"
    subprocess.run([str(ROOT / "web/node_modules/.bin/wasm-opt"), "-O1", "--strip-debug",
                    "--strip-producers", str(raw), "-o", str(opt)]
                   + [f"--enable-{f}" for f in ("bulk-memory", "sign-ext",
                                               "nontrapping-float-to-int", "mutable-globals",
                                               "reference-types", "multivalue")],
                   check=True)
    return len(gzip.compress(opt.read_bytes(), 9))


def main() -> int:
    with tempfile.TemporaryDirectory(prefix="facet-vs-serde-") as tmp:
        work = Path(tmp)
        for lib in ("serde", "facet"):
            one = build(work, lib, [N - 1])
            every = build(work, lib, list(range(N)))
            per_type = (every - one) / (N - 1)
            print(f"{lib}: one type {one} bytes gzip, {N} types {every}, "
                  f"{per_type:.0f} bytes per further type")
    return 0


if __name__ == "__main__":
    sys.exit(main())

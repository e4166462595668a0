#!/usr/bin/env python3
"""What a model type costs in the WebAssembly package, by the way the models
are read (docs/PERFORMANCE.md, "A model layer without per-type code:
measured").

Generates four throwaway crates in a temporary directory with the same 40
synthetic model structs (6-12 fields each: strings, integers, booleans,
options, lists and nested structs; camelCase names, unknown fields
refused, absent options and lists defaulted), each read from JSON text by
one exported function:
- serde: serde's derive and serde_json (what the core does now);
- facet: facet's derive and facet-json (one reader for every shape);
- table: a field table per type and a function moving the read fields
  into the struct, read by one small reader over a serde_json::Value
  (scripts/size-model-layers-table.rs);
- offsets: a field table with each field's offset, read by one reader
  that writes the fields in place (scripts/size-model-layers-offsets.rs).
The last two are lower bounds of a layer of our own: no enums, renames,
flattening, custom readers, writing, nor serde's exact messages.
Each is built as scripts/build-web builds the package's modules (Debian's
rustc-web, -Z build-std with optimize_for_size, simd128, fat LTO, one codegen
unit, wasm-opt -O1; opt-level "z" as the API module is built, or the level
given: "s" for the whole package's), without wasm-bindgen (no JS is bound),
once reading all 40 types and once reading only one leaf type, and the
gzip -9 size of each module is printed: the second gives the layer's floor,
the difference the cost per type.

Needs the web toolchain (scripts/bootstrap-web) and crates.io.
Usage: python3 scripts/size-model-layers.py [OPT_LEVEL]
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
# The versions the measurement was made with: serde's are the core's (Cargo.lock);
# facet-json 0.44.7 is built on facet 0.45.0 (the newest releases that are not
# release candidates on 2026-12-07).
SERDE_JSON = 'serde_json = "=1.0.154"'
DEPS = {
    "serde": 'serde = { version = "=1.0.229", features = ["derive"] }\n' + SERDE_JSON,
    "facet": 'facet = "=0.45.0"\nfacet-json = "=0.44.7"',
    "table": SERDE_JSON,
    "offsets": SERDE_JSON,
}


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


def derived_structs(lib: str) -> list[str]:
    """The structs with serde's or facet's derive and attributes."""
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
    return lines


def camel(name: str) -> str:
    """`field_0_id` as serde's camelCase writes it."""
    head, *rest = name.split("_")
    return head + "".join(part.title() for part in rest)


def table_kind(kind: str) -> tuple[str, str]:
    """A field type's `Kind` in the table and the `Slot` method that takes it."""
    simple = {"String": ("Str", "take_str()"), "Option<String>": ("OptStr", "take_opt_str()"),
              "u64": ("U64", "take_u64()"), "Option<u64>": ("OptU64", "take_opt_u64()"),
              "bool": ("Bool", "take_bool()"), "Vec<String>": ("VecStr", "take_vec_str()")}
    if kind in simple:
        return f"Kind::{simple[kind][0]}", simple[kind][1]
    if kind.startswith("Option<"):
        inner = kind[7:-1]
        return f"Kind::OptStruct(&{inner}::SHAPE)", f"take_opt_struct::<{inner}>()"
    if kind.startswith("Vec<"):
        inner = kind[4:-1]
        return f"Kind::VecStruct(&{inner}::SHAPE)", f"take_vec_struct::<{inner}>()"
    return f"Kind::Struct(&{kind}::SHAPE)", f"take_struct::<{kind}>()"


def table_structs() -> list[str]:
    """The structs with what a table-making derive would write for each: its
    shape (field names, whether required, kinds) and the function that
    moves the read fields into it."""
    lines = ["mod model_table;", "use model_table::*;"]
    for name, fields in model_types():
        lines.append(f"pub struct {name} {{")
        lines += [f"    pub {field}: {kind}," for field, kind in fields]
        lines += ["}", f"impl {name} {{",
                  f'    pub const SHAPE: Shape = Shape {{ name: "{name}", deny_unknown: true, '
                  f"build: |s| Box::new({name} {{"]
        lines += [f"        {field}: s[{i}].{table_kind(kind)[1]},"
                  for i, (field, kind) in enumerate(fields)]
        lines.append("    }), fields: &[")
        for field, kind in fields:
            required = "false" if kind.startswith(("Option", "Vec")) else "true"
            lines.append(f'        Field {{ name: "{camel(field)}", required: {required}, '
                         f"kind: {table_kind(kind)[0]} }},")
        lines += ["    ] };", "}"]
    return lines


def offset_kind(kind: str) -> str:
    """A field type's `Kind` in the offsets layer's table."""
    kind_of, _ = table_kind(kind)
    return kind_of


def offset_structs() -> list[str]:
    """The structs with what an offset-table derive would write for each:
    its shape (layout, field names, offsets and kinds, and the few
    functions only the type's own code can be)."""
    lines = ["mod model_table;", "use model_table::*;", "use std::alloc::Layout;",
             "use std::mem::offset_of;"]
    for name, fields in model_types():
        lines.append(f"pub struct {name} {{")
        lines += [f"    pub {field}: {kind}," for field, kind in fields]
        typed = ", ".join(f"{what}: {what}_t::<{name}>"
                          for what in ("drop", "some", "none", "vec", "drop_opt", "drop_vec"))
        lines += ["}", f"impl {name} {{",
                  f'    pub const SHAPE: Shape = Shape {{ name: "{name}", '
                  f"layout: Layout::new::<{name}>(), {typed}, fields: &["]
        lines += [f'        Field {{ name: "{camel(field)}", offset: offset_of!({name}, {field}), '
                  f"kind: {offset_kind(kind)} }},"
                  for field, kind in fields]
        lines += ["    ] };", "}"]
    return lines


def source(lib: str, read: list[int]) -> str:
    """The crate's lib.rs: the structs and `parse(which, ptr, len)`, which
    reads the types numbered in `read`."""
    lines = {"table": table_structs, "offsets": offset_structs}.get(
        lib, lambda: derived_structs(lib))()
    lines += ["#[no_mangle]",
              "pub extern \"C\" fn parse(which: u32, ptr: *const u8, len: usize) -> u32 {",
              "    // SAFETY: the caller passes UTF-8 bytes it owns (a measurement, never run).",
              "    let s = unsafe { core::str::from_utf8_unchecked(core::slice::from_raw_parts(ptr, len)) };",
              "    match which {"]
    for i in read:
        read_call = {"serde": f"serde_json::from_str::<T{i}>(s)",
                     "facet": f"facet_json::from_str::<T{i}>(s)",
                     "table": f"from_str::<T{i}>(s, &T{i}::SHAPE)",
                     # SAFETY (in the generated code): the shape is T's own.
                     "offsets": f"unsafe {{ from_str::<T{i}>(s, &T{i}::SHAPE) }}"}[lib]
        lines.append(f"        {i} => match {read_call} {{ "
                     "Ok(v) => { std::hint::black_box(&v); 1 } "
                     "Err(e) => e.to_string().len() as u32 },")
    lines += ["        _ => 0,", "    }", "}"]
    return "\n".join(lines) + "\n"


def build(work: Path, lib: str, read: list[int], opt_level: str) -> int:
    """gzip -9 bytes of the module reading `read`, built as the package is."""
    crate = work / lib
    (crate / "src").mkdir(parents=True, exist_ok=True)
    (crate / "Cargo.toml").write_text(
        f'[package]\nname = "exp_{lib}"\nversion = "0.1.0"\nedition = "2021"\n'
        '[lib]\ncrate-type = ["cdylib"]\n'
        f"[dependencies]\n{DEPS[lib]}\n"
        '[profile.release]\n'
        f'opt-level = "{opt_level}"\nlto = true\ncodegen-units = 1\npanic = "abort"\n'
        "[workspace]\n")
    (crate / "src/lib.rs").write_text(source(lib, read))
    if lib in ("table", "offsets"):
        for name, source_file in (("model_table", lib), ("common", "common")):
            (crate / f"src/{name}.rs").write_text(
                (ROOT / f"scripts/size-model-layers-{source_file}.rs").read_text())
    env = dict(os.environ, PATH="/usr/bin:" + os.environ["PATH"], RUSTC="/usr/bin/rustc",
               RUSTC_BOOTSTRAP="1",
               CARGO_TARGET_WASM32_UNKNOWN_UNKNOWN_RUSTFLAGS="-C target-feature=+simd128")
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
                                               "reference-types", "multivalue", "simd")],
                   check=True)
    return len(gzip.compress(opt.read_bytes(), 9))


def main() -> int:
    opt_level = sys.argv[1] if len(sys.argv) > 1 else "z"
    if opt_level not in ("0", "1", "2", "3", "s", "z"):
        print(f"size-model-layers: OPT_LEVEL must be 0-3, s or z, not {opt_level!r}",
              file=sys.stderr)
        return 2
    print(f"opt-level {opt_level}")
    with tempfile.TemporaryDirectory(prefix="size-model-layers-") as tmp:
        work = Path(tmp)
        serde_per_type = 0.0
        for lib in ("serde", "facet", "table", "offsets"):  # serde first: the others' measure
            one = build(work, lib, [N - 1], opt_level)
            every = build(work, lib, list(range(N)), opt_level)
            per_type = (every - one) / (N - 1)
            serde_per_type = serde_per_type or per_type
            print(f"{lib}: one type {one} bytes gzip, {N} types {every}, "
                  f"{per_type:.0f} bytes per further type "
                  f"({100 * per_type / serde_per_type:.0f}% of serde's)")
    return 0


if __name__ == "__main__":
    sys.exit(main())

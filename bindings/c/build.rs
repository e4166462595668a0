//! Writes `include/cloudbackup.h` (at the repository root) from this crate's
//! exports with cbindgen, pinned in Cargo.toml. The header is committed;
//! `make test` rebuilds it and fails if it differs from the committed copy.
//! It is rewritten only when its content changes, so builds that change
//! nothing leave the file (and its timestamp) alone.

use std::path::PathBuf;

fn main() {
    let crate_dir = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let header = crate_dir.join("../../include/cloudbackup.h");
    println!("cargo:rerun-if-changed=src");
    println!("cargo:rerun-if-changed=cbindgen.toml");
    println!("cargo:rerun-if-changed=build.rs");
    let config = match cbindgen::Config::from_file(crate_dir.join("cbindgen.toml")) {
        Ok(config) => config,
        Err(e) => {
            println!("cargo:warning=cbindgen.toml: {e}");
            std::process::exit(1);
        }
    };
    match cbindgen::Builder::new()
        .with_crate(&crate_dir)
        .with_config(config)
        .generate()
    {
        Ok(bindings) => {
            // `write_to_file` only writes when the content differs.
            bindings.write_to_file(&header);
        }
        Err(e) => {
            println!("cargo:warning=cbindgen could not generate the header: {e}");
            std::process::exit(1);
        }
    }
}

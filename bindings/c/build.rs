//! Generates the C header from this crate's exports with cbindgen (pinned in
//! Cargo.toml) into `$OUT_DIR/cloudbackup.h`: a build never writes into the
//! source tree. The committed `include/cloudbackup.h` (what consumers and
//! the tarball use) is a copy: `make header` refreshes it, and `make test-c`
//! fails when it differs from the generated one. Both find the generated
//! header through cargo's `build-script-executed` message (`out_dir`).
//!
//! The header also carries the package version as macros (`CB_VERSION_*`),
//! so a program can compare what it was compiled against with what
//! `cb_version()` says at run time.

use std::path::PathBuf;

fn main() {
    let crate_dir = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let Some(out_dir) = std::env::var_os("OUT_DIR").map(PathBuf::from) else {
        println!("cargo:warning=OUT_DIR is not set (not run by cargo?)");
        std::process::exit(1);
    };
    println!("cargo:rerun-if-changed=src");
    println!("cargo:rerun-if-changed=cbindgen.toml");
    println!("cargo:rerun-if-changed=build.rs");
    let mut config = match cbindgen::Config::from_file(crate_dir.join("cbindgen.toml")) {
        Ok(config) => config,
        Err(e) => {
            println!("cargo:warning=cbindgen.toml: {e}");
            std::process::exit(1);
        }
    };
    config.after_includes = Some(version_macros());
    match cbindgen::Builder::new()
        .with_crate(&crate_dir)
        .with_config(config)
        .generate()
    {
        Ok(bindings) => {
            bindings.write_to_file(out_dir.join("cloudbackup.h"));
        }
        Err(e) => {
            println!("cargo:warning=cbindgen could not generate the header: {e}");
            std::process::exit(1);
        }
    }
}

/// The `CB_VERSION_*` macros, from the version cargo builds (the
/// workspace's): the one place it is written is Cargo.toml.
fn version_macros() -> String {
    format!(
        "\n/* The version of this header; cb_version() gives the library's. */\n\
         #define CB_VERSION_MAJOR {}\n\
         #define CB_VERSION_MINOR {}\n\
         #define CB_VERSION_PATCH {}\n\
         #define CB_VERSION_STRING \"{}\"",
        env!("CARGO_PKG_VERSION_MAJOR"),
        env!("CARGO_PKG_VERSION_MINOR"),
        env!("CARGO_PKG_VERSION_PATCH"),
        env!("CARGO_PKG_VERSION"),
    )
}

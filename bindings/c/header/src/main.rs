//! Generates the C header of libcloudbackup from `bindings/c/src` with
//! cbindgen (pinned in Cargo.toml) and `bindings/c/cbindgen.toml`:
//!
//! ```text
//! cloudbackup-c-header OUT.h      writes the header to OUT.h
//! cloudbackup-c-header --check H  exits 1 when H differs from it
//! ```
//!
//! `make header` writes the committed `include/cloudbackup.h` with it, and
//! `make test-c` checks the committed copy (the drift check). The header
//! also carries the package version as macros (`CB_VERSION_*`), so a
//! program can compare what it was compiled against with what
//! `cb_version()` says at run time.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let result = match args.as_slice() {
        [flag, path] if flag == "--check" => check(Path::new(path)),
        [path] if !path.starts_with('-') => write(Path::new(path)),
        _ => Err("usage: cloudbackup-c-header OUT.h | --check HEADER.h".to_string()),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("cloudbackup-c-header: {e}");
            ExitCode::FAILURE
        }
    }
}

/// The C binding's crate directory (this crate's parent).
fn c_crate_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// The header text cbindgen generates for the C binding.
fn generate() -> Result<Vec<u8>, String> {
    let crate_dir = c_crate_dir();
    let mut config = cbindgen::Config::from_file(crate_dir.join("cbindgen.toml"))
        .map_err(|e| format!("bindings/c/cbindgen.toml: {e}"))?;
    config.after_includes = Some(version_macros());
    let bindings = cbindgen::Builder::new()
        .with_crate(&crate_dir)
        .with_config(config)
        .generate()
        .map_err(|e| format!("cbindgen could not generate the header: {e}"))?;
    let mut out = Vec::new();
    bindings.write(&mut out);
    Ok(out)
}

/// Writes the header to `path` through a temporary file beside it, so a
/// failed run never leaves a half-written header behind.
fn write(path: &Path) -> Result<(), String> {
    let text = generate()?;
    let mut tmp = path.as_os_str().to_owned();
    tmp.push(".tmp");
    let tmp = PathBuf::from(tmp);
    std::fs::write(&tmp, &text).map_err(|e| format!("{}: {e}", tmp.display()))?;
    std::fs::rename(&tmp, path).map_err(|e| format!("{}: {e}", path.display()))
}

/// Compares `path` with the generated header: an error naming the first
/// differing line when they differ.
fn check(path: &Path) -> Result<(), String> {
    let want = generate()?;
    let have = std::fs::read(path).map_err(|e| format!("{}: {e}", path.display()))?;
    if have == want {
        return Ok(());
    }
    let lines = |text: &[u8]| text.split(|&b| b == b'\n').count();
    // Equal up to where the shorter ends: the first line past it differs.
    let line = have
        .split(|&b| b == b'\n')
        .zip(want.split(|&b| b == b'\n'))
        .position(|(a, b)| a != b)
        .unwrap_or_else(|| lines(&have).min(lines(&want)))
        + 1;
    Err(format!(
        "{} differs from the header cbindgen generates (first at line {line}): run 'make header' and commit it",
        path.display()
    ))
}

/// The `CB_VERSION_*` macros, from the version cargo builds (the
/// workspace's, which the C library shares): the one place it is written
/// is Cargo.toml.
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

#[cfg(test)]
mod tests {
    use super::*;

    /// The committed header is what cbindgen generates now (`cargo test`
    /// catches the drift `make test-c` checks).
    #[test]
    fn committed_header_is_current() {
        let committed = c_crate_dir().join("../../include/cloudbackup.h");
        if let Err(e) = check(&committed) {
            panic!("{e}");
        }
    }

    #[test]
    fn a_changed_header_names_its_first_differing_line() {
        let dir = std::env::temp_dir().join(format!("cb-header-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("cloudbackup.h");
        write(&path).unwrap();
        check(&path).unwrap();
        let mut text = std::fs::read_to_string(&path).unwrap();
        text = text.replacen("CB_VERSION_MAJOR", "CB_VERSION_MAJ0R", 1);
        std::fs::write(&path, &text).unwrap();
        let line = text
            .lines()
            .position(|l| l.contains("CB_VERSION_MAJ0R"))
            .unwrap()
            + 1;
        let e = check(&path).unwrap_err();
        assert!(e.contains(&format!("first at line {line}")), "{e}");
        std::fs::remove_dir_all(&dir).unwrap();
    }
}

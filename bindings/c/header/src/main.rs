//! Generates the C header of libcloudbackup from `bindings/c/src` with
//! cbindgen (pinned in Cargo.toml) and `bindings/c/cbindgen.toml`:
//!
//! ```text
//! cloudbackup-c-header OUT.h      writes the header to OUT.h
//! cloudbackup-c-header --check H  exits 1 when H differs from it
//! ```
//!
//! Exit status 2: a usage error, or cbindgen or the file system failed.
//! `make header` writes the committed `include/cloudbackup.h` with it, and
//! its unit test `committed_header_is_current` checks the committed copy
//! (`cargo test`, and the drift check of `make test-c`). The header
//! also carries the package version as macros (`CB_VERSION_*`), so a
//! program can compare what it was compiled against with what
//! `cb_version()` says at run time.

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

/// Why a run failed: the header differs (exit 1), or anything else (exit 2).
enum Failure {
    Differs(String),
    Other(String),
}

impl From<String> for Failure {
    fn from(e: String) -> Self {
        Failure::Other(e)
    }
}

fn main() -> ExitCode {
    let args: Vec<OsString> = std::env::args_os().skip(1).collect();
    let result = match args.as_slice() {
        [flag, path] if flag == "--check" => check(Path::new(path)),
        [path] if !path.to_string_lossy().starts_with('-') => {
            write(Path::new(path)).map_err(Failure::from)
        }
        _ => Err(Failure::Other(
            "usage: cloudbackup-c-header OUT.h | --check HEADER.h".to_string(),
        )),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(Failure::Differs(e)) => {
            eprintln!("cloudbackup-c-header: {e}");
            ExitCode::from(1)
        }
        Err(Failure::Other(e)) => {
            eprintln!("cloudbackup-c-header: {e}");
            ExitCode::from(2)
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

/// Writes the header to `path` through a temporary file beside it (named
/// after this process), so a failed run never leaves a half-written header
/// behind; an unchanged header is left as it is (its time too).
fn write(path: &Path) -> Result<(), String> {
    let text = generate()?;
    if std::fs::read(path).is_ok_and(|old| old == text) {
        return Ok(());
    }
    let mut tmp = path.as_os_str().to_owned();
    tmp.push(format!(".{}.tmp", std::process::id()));
    let tmp = PathBuf::from(tmp);
    let written = std::fs::write(&tmp, &text)
        .map_err(|e| format!("{}: {e}", tmp.display()))
        .and_then(|()| std::fs::rename(&tmp, path).map_err(|e| format!("{}: {e}", path.display())));
    if written.is_err() {
        // Best effort: the error that matters is the one returned.
        let _ = std::fs::remove_file(&tmp);
    }
    written
}

/// Compares `path` with the generated header: [`Failure::Differs`] naming
/// the first differing line when they differ.
fn check(path: &Path) -> Result<(), Failure> {
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
    Err(Failure::Differs(format!(
        "{} differs from the header cbindgen generates (first at line {line}): run 'make header' and commit it",
        path.display()
    )))
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
        match check(&committed) {
            Ok(()) => {}
            Err(Failure::Differs(e) | Failure::Other(e)) => panic!("{e}"),
        }
    }

    /// The message of a check that must find a difference.
    fn differs(path: &Path) -> String {
        match check(path) {
            Err(Failure::Differs(e)) => e,
            Ok(()) => panic!("{} reported equal", path.display()),
            Err(Failure::Other(e)) => panic!("{e}"),
        }
    }

    #[test]
    fn a_changed_header_names_its_first_differing_line() {
        let dir = std::env::temp_dir().join(format!("cb-header-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("cloudbackup.h");
        write(&path).unwrap();
        assert!(check(&path).is_ok());
        let good = std::fs::read_to_string(&path).unwrap();
        let changed = good.replacen("CB_VERSION_MAJOR", "CB_VERSION_MAJ0R", 1);
        std::fs::write(&path, &changed).unwrap();
        let line = changed
            .lines()
            .position(|l| l.contains("CB_VERSION_MAJ0R"))
            .unwrap()
            + 1;
        let e = differs(&path);
        assert!(e.contains(&format!("first at line {line}")), "{e}");
        // Cut short: the first line past the shorter one is named.
        let cut: String = good.lines().take(10).map(|l| format!("{l}\n")).collect();
        std::fs::write(&path, &cut).unwrap();
        let e = differs(&path);
        assert!(e.contains("first at line 11"), "{e}");
        // A write puts it back, leaving no temporary behind.
        write(&path).unwrap();
        assert!(check(&path).is_ok());
        let names: Vec<_> = std::fs::read_dir(&dir)
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names, [std::ffi::OsString::from("cloudbackup.h")]);
        std::fs::remove_dir_all(&dir).unwrap();
    }
}

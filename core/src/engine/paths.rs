//! Snapshot paths: what a backup may record and a restore may write, and
//! the temporary names a restore writes files under. Every host joins a
//! snapshot path to its target only through [`relative_path`], and a
//! restore plans no entry below a symlink (`engine::placement`), so none
//! can be led outside the target by a crafted snapshot.

use super::crypto::hash;
use super::rawpath::RawPath;
use crate::wire::encode_hex;
use crate::{Error, Result};

/// Checks a snapshot path: absolute (`/`-rooted), `/`-separated, with no
/// empty, `.` or `..` component and no NUL byte; any other bytes, and any
/// length (the operating system decides what it allows).
/// [`Error::InvalidValue`] naming the path (quoted form) otherwise.
pub fn check_snapshot_path(path: &[u8]) -> Result<()> {
    let bad = |why: &str| Error::InvalidValue {
        field: "path".into(),
        reason: format!("{} {why}", RawPath::from(path).quoted()),
    };
    let Some(rest) = path.strip_prefix(b"/") else {
        return Err(bad("is not absolute (snapshot paths start with /)"));
    };
    if path.contains(&0) {
        return Err(bad("contains a NUL byte"));
    }
    for part in rest.split(|&b| b == b'/') {
        match part {
            b"" => return Err(bad("has an empty component (// or a trailing /)")),
            b"." | b".." => return Err(bad("has a . or .. component")),
            _ => {}
        }
    }
    Ok(())
}

/// The snapshot path without its leading `/`, to join to a restore target;
/// refuses what [`check_snapshot_path`] refuses.
pub fn relative_path(path: &[u8]) -> Result<&[u8]> {
    check_snapshot_path(path)?;
    Ok(&path[1..])
}

/// The name a restore writes file `final_name` (one path component) under
/// before renaming it into place: `.cb-<16 hex of its hash>-<tag>.partial`,
/// beside it. Its length does not depend on the final name's, so it stays
/// within NAME_MAX (255 bytes) for any name the filesystem allows; `tag`
/// (e.g. the process id) keeps concurrent restores apart.
pub fn partial_name(final_name: &[u8], tag: u32) -> String {
    let digest = hash(final_name);
    format!(".cb-{}-{tag}.partial", encode_hex(&digest[..8]))
}

/// The tag of a restore temporary: `Some(tag)` when `name` (one path
/// component) has the form [`partial_name`] gives (`.cb-<16 hex>-<tag>.partial`),
/// `None` for any other name. What a killed restore left is decided by
/// [`partial_owner`], built on it.
pub fn partial_tag(name: &[u8]) -> Option<u32> {
    let rest = name.strip_prefix(b".cb-")?.strip_suffix(b".partial")?;
    let (digest, tag) = (rest.get(..16)?, rest.get(16..)?);
    let tag = tag.strip_prefix(b"-")?;
    if !digest
        .iter()
        .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(b))
        || tag.is_empty()
        || !tag.iter().all(u8::is_ascii_digit)
    {
        return None;
    }
    std::str::from_utf8(tag).ok()?.parse().ok()
}

/// Process ids above this are no process's (`pid_t` is a signed 32-bit
/// number on every Unix we run on).
const MAX_PID: u32 = i32::MAX as u32;

/// Whose restore temporary `name` (one path component) is, as a restore
/// run by process `own_pid` decides what a killed restore left in a folder
/// before it writes its own files there:
/// - `None`: not a restore temporary ([`partial_tag`]); keep it;
/// - `Some(0)`: no running restore can own it (its tag is 0, `own_pid`, or
///   past any process id); remove it;
/// - `Some(pid)`: remove it once process `pid` of this host is gone.
///
/// One rule for every host, so that the C agent, the Python tool and a node
/// host clear the same names.
pub fn partial_owner(name: &[u8], own_pid: u32) -> Option<u32> {
    let tag = partial_tag(name)?;
    Some(if tag == own_pid || tag > MAX_PID {
        0
    } else {
        tag
    })
}

/// Where a backup whose root is no directory (a file, a FIFO, a device)
/// finds it: the directory to open and the name in it, from the root with
/// its symlinks resolved (`realpath`: a symlink root is followed, as a
/// directory root's is), e.g. `/var/backups/db.sql`. The snapshot then
/// holds the one entry `/<name>`, as a directory root's children are
/// `/<child>`, so a restore into `DEST` writes `DEST/<name>` (restic keeps
/// the one file too). The entry's own device is the root device, so a
/// one-file-system selection never leaves the named file out. One rule,
/// so that every host names the entry alike. [`Error::InvalidArgument`] naming `root` when its last
/// component names no file: empty, `.`, `..`, or a trailing `/` (which
/// only a directory takes), or a NUL byte.
pub fn split_file_root(root: &[u8]) -> Result<(Vec<u8>, Vec<u8>)> {
    let refuse = |why: &str| {
        Error::argument(
            "root",
            format!("{} {why}", RawPath::from(root.to_vec()).quoted()),
        )
    };
    if root.contains(&0) {
        return Err(refuse("holds a NUL byte"));
    }
    let (dir, name) = match root.iter().rposition(|&b| b == b'/') {
        Some(i) => (&root[..i], &root[i + 1..]),
        None => (b".".as_slice(), root),
    };
    if name.is_empty() || name == b"." || name == b".." {
        return Err(refuse("names no file (only a directory is named so)"));
    }
    // `/name`: the directory is the filesystem root.
    let dir = if dir.is_empty() { b"/".as_slice() } else { dir };
    Ok((dir.to_vec(), name.to_vec()))
}

/// Whether `name` (one path component) is a restore temporary (see
/// [`partial_tag`]).
pub fn is_partial_name(name: &[u8]) -> bool {
    partial_tag(name).is_some()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escaping_paths_are_refused() {
        for ok in ["/a", "/a/b c/d", "/ü/..x/x..", "/.hidden"] {
            assert!(check_snapshot_path(ok.as_bytes()).is_ok(), "{ok}");
        }
        for bad in [
            "", "/", "a", "../a", "/a/../b", "/..", "/a/./b", "//a", "/a/", "/a\0b",
        ] {
            let e = check_snapshot_path(bad.as_bytes()).unwrap_err();
            assert_eq!(e.code(), crate::ErrorCode::InvalidValue, "{bad}");
        }
        assert_eq!(relative_path(b"/a/b").unwrap(), b"a/b");
        assert!(
            check_snapshot_path(b"/caf\xe9/\xff").is_ok(),
            "any bytes but NUL"
        );
        let e = check_snapshot_path(b"/a/\xff/..").unwrap_err();
        assert!(e.to_string().contains(r#""/a/\xff/..""#), "{e}");
    }

    #[test]
    fn a_file_root_is_its_directory_and_its_name() {
        let split = |root: &[u8]| split_file_root(root).unwrap();
        assert_eq!(split(b"db.sql"), (b".".to_vec(), b"db.sql".to_vec()));
        assert_eq!(split(b"/db.sql"), (b"/".to_vec(), b"db.sql".to_vec()));
        assert_eq!(
            split(b"/var//backups/\xff.gz"),
            (b"/var//backups".to_vec(), b"\xff.gz".to_vec())
        );
        assert_eq!(split(b"../x"), (b"..".to_vec(), b"x".to_vec()));
        assert_eq!(split(b".hidden"), (b".".to_vec(), b".hidden".to_vec()));
        for bad in [
            b"".as_slice(),
            b"/",
            b"a/",
            b".",
            b"..",
            b"a/..",
            b"/a/.",
            b"a\0b",
        ] {
            let e = split_file_root(bad).unwrap_err();
            assert_eq!(e.code(), crate::ErrorCode::InvalidArgument, "{bad:?}");
            assert!(e.to_string().contains("`root`"), "{e}");
        }
        let e = split_file_root(b"/x/\xff/").unwrap_err();
        assert!(e.to_string().contains(r#""/x/\xff/" names no file"#), "{e}");
    }

    #[test]
    fn partial_names_fit_name_max_whatever_the_name() {
        let long = "x".repeat(255);
        let n = partial_name(long.as_bytes(), u32::MAX);
        assert!(n.len() < 64, "{n}");
        assert_ne!(partial_name(b"a", 1), partial_name(b"b", 1));
        assert_ne!(partial_name(b"a", 1), partial_name(b"a", 2));
        assert!(n.starts_with(".cb-") && n.ends_with(".partial"));
    }

    #[test]
    fn partial_names_are_recognised_with_their_tag() {
        for (name, tag) in [
            (b"a".as_slice(), 0),
            (b"\xff long".as_slice(), 77),
            (b"x".as_slice(), u32::MAX),
        ] {
            let n = partial_name(name, tag);
            assert_eq!(partial_tag(n.as_bytes()), Some(tag), "{n}");
            assert!(is_partial_name(n.as_bytes()));
        }
        for other in [
            "a.partial",
            ".cb-0123456789abcdef-.partial",
            ".cb-0123456789abcde-1.partial",
            ".cb-0123456789abcdeg-1.partial",
            ".cb-0123456789ABCDEF-1.partial",
            ".cb-0123456789abcdef-1x.partial",
            ".cb-0123456789abcdef-99999999999.partial",
            ".cb-0123456789abcdef-1.partial.x",
            "x.cb-0123456789abcdef-1.partial",
        ] {
            assert!(!is_partial_name(other.as_bytes()), "{other}");
        }
    }

    #[test]
    fn partial_owners_are_live_processes_only() {
        let name = |tag| partial_name(b"f", tag);
        assert_eq!(partial_owner(name(77).as_bytes(), 42), Some(77));
        for dead in [0, 42, i32::MAX as u32 + 1, u32::MAX] {
            assert_eq!(partial_owner(name(dead).as_bytes(), 42), Some(0), "{dead}");
        }
        assert_eq!(
            partial_owner(name(i32::MAX as u32).as_bytes(), 42),
            Some(i32::MAX as u32)
        );
        assert_eq!(partial_owner(b"f", 42), None);
        assert_eq!(partial_owner(b".cb-0123456789abcdef-.partial", 42), None);
    }
}

//! Writes the golden vault of the current format version under
//! `tests/golden/v<version>/`: the vault's objects as a host would store them,
//! its password, and the tree it holds (`expected/`), which
//! `core/tests/golden.rs` restores byte-exactly. Everything is deterministic
//! except the random salts and nonces.
//!
//! Version 2 adds what snapshot format 2 records: byte names (not UTF-8, 255
//! bytes long), nanosecond times, owners, hard links, extended attributes,
//! a FIFO, a device node, a symlink with a non-UTF-8 target and a per-file
//! error; `ENTRIES.json` holds the snapshot's entries (without chunk lists)
//! and errors as this version wrote them, which `golden.rs` compares.
//!
//! Run once per format version: `cargo run -p cloudbackup-core --example golden_vault`.
//! Never regenerate an existing version's vault: it exists to prove old vaults stay readable.

mod common;

use std::fs;
use std::path::{Path, PathBuf};

use cloudbackup_core::engine::keys::MasterKey;
use std::os::unix::ffi::OsStrExt;

use cloudbackup_core::engine::{
    BackupOptions, BackupSession, ChunkerParams, EntryKind, FileMeta, Index, KdfParams, RawPath,
    SnapshotInfo, Vault, VaultSettings, Xattr, SNAPSHOT_VERSION,
};

/// The golden vault's password.
const PASSWORD: &str = "golden vault password v2";

/// The modification time of everything, and its nanoseconds.
const MTIME: i64 = 1_763_900_000;
const NANOS: u32 = 123_456_789;

/// The tree: (path, content). Text, binary, a duplicate, an empty file, a
/// zero run, a name that is not UTF-8, a 255-byte name and two names of
/// one file (hard links, the last two).
fn tree() -> Vec<(Vec<u8>, Vec<u8>)> {
    let text: Vec<u8> = (0..1500)
        .flat_map(|i| {
            format!("line {i}: the quick brown fox jumps over the lazy dog\n").into_bytes()
        })
        .collect();
    let mut x: u32 = 0x1234_5678;
    let binary: Vec<u8> = (0..80_000)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 17;
            x ^= x << 5;
            (x >> 24) as u8
        })
        .collect();
    let long = format!("/data/{}", "n".repeat(255)).into_bytes();
    vec![
        (b"/data/notes.txt".to_vec(), text.clone()),
        (b"/data/copy-of-notes.txt".to_vec(), text),
        (b"/data/random.bin".to_vec(), binary),
        (b"/data/empty".to_vec(), Vec::new()),
        (b"/data/zeros".to_vec(), vec![0u8; 50_000]),
        (b"/data/caf\xe9".to_vec(), b"latin-1 name\n".to_vec()),
        (long, b"a 255-byte name\n".to_vec()),
        (b"/data/hard-a".to_vec(), b"one file, two names\n".to_vec()),
        (b"/data/hard-b".to_vec(), b"one file, two names\n".to_vec()),
    ]
}

/// Metadata every entry of the tree gets: owners, nanoseconds, and for the
/// hard links their shared inode.
fn meta(path: &[u8], kind: EntryKind, mode: u32) -> FileMeta {
    let linked = path.starts_with(b"/data/hard-");
    FileMeta {
        path: RawPath::from(path),
        kind,
        mode,
        mtime: MTIME,
        mtime_nanos: NANOS,
        ctime: MTIME,
        ctime_nanos: NANOS,
        uid: Some(1000),
        gid: Some(100),
        inode: if linked { 42 } else { 0 },
        device: if linked { 7 } else { 0 },
        links: if linked { 2 } else { 1 },
        xattrs: if path == b"/data/notes.txt" {
            vec![Xattr {
                name: RawPath::from("user.comment"),
                value: b"\x00\x01 binary value".to_vec(),
            }]
        } else {
            Vec::new()
        },
        ..FileMeta::default()
    }
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join(format!("../tests/golden/v{SNAPSHOT_VERSION}"));
    if root.exists() {
        return Err(format!(
            "{} exists: golden vaults are never regenerated",
            root.display()
        )
        .into());
    }
    let settings = VaultSettings {
        chunker: ChunkerParams {
            min_size: 1024,
            avg_size: 4096,
            max_size: 16384,
        },
        zstd_level: 3,
        bundle_size: 64 * 1024,
    };
    let vault = Vault::create_with(
        MasterKey::from_bytes(*b"golden master key, v2, not real!"),
        *b"golden-vault-v2!",
        PASSWORD.as_bytes(),
        settings,
        KdfParams::insecure_for_tests(),
    )?;
    let index = Index::new();
    let mut session =
        BackupSession::new(&vault, std::sync::Arc::new(index), BackupOptions::default())?;
    session.add_entry(meta(b"/data", EntryKind::Dir, 0o2755))?;
    for (path, content) in tree() {
        session.start_file(FileMeta {
            size: content.len() as u64,
            ..meta(&path, EntryKind::File, 0o644)
        })?;
        for piece in content.chunks(10_000) {
            session.write(piece)?;
        }
        session.finish_file()?;
    }
    for (path, target) in [
        (&b"/data/latest"[..], &b"notes.txt"[..]),
        (b"/data/odd-link", b"caf\xe9"),
    ] {
        session.add_entry(FileMeta {
            target: Some(RawPath::from(target)),
            ..meta(path, EntryKind::Symlink, 0o777)
        })?;
    }
    session.add_entry(meta(b"/data/pipe", EntryKind::Fifo, 0o600))?;
    session.add_entry(FileMeta {
        rdev: 0x0501,
        ..meta(b"/data/tty", EntryKind::CharDevice, 0o620)
    })?;
    session.file_error(&b"/data/unreadable"[..], "Permission denied (os error 13)");
    let out = session.finish(SnapshotInfo {
        time: 1_763_900_000,
        time_nanos: 5,
        hostname: Some("golden".into()),
        backup_configuration_id: Some("7c8ee069-568f-4d5a-932f-fb2af86b5fd5".into()),
        paths: vec![RawPath::from("/data")],
        tags: Vec::new(),
    })?;

    common::write_vault(&root, &vault, &out, &out.snapshot, PASSWORD)?;
    for (path, content) in tree() {
        let p = root
            .join("expected")
            .join(std::ffi::OsStr::from_bytes(&path[1..]));
        if let Some(parent) = p.parent() {
            fs::create_dir_all(parent)?;
        }
        fs::write(p, &content)?;
    }
    let mut entries = out.tree.entries.clone();
    for e in &mut entries {
        e.chunks.clear();
    }
    let listed = serde_json::json!({"entries": entries, "errors": out.tree.errors});
    fs::write(
        root.join("ENTRIES.json"),
        serde_json::to_vec_pretty(&listed)?,
    )?;
    println!("wrote {} ({} bundles)", root.display(), out.bundles.len());
    print_counters(&root, &out.counters)?;
    Ok(())
}

fn print_counters(
    root: &Path,
    c: &cloudbackup_core::engine::BackupCounters,
) -> std::io::Result<()> {
    let text = format!(
        "files_searched={} files_backed_up={} bytes_searched={} bytes_backed_up={} bytes_in_db={} files_with_errors={}\n",
        c.files_searched, c.files_backed_up, c.bytes_searched, c.bytes_backed_up, c.bytes_in_db, c.files_with_errors
    );
    print!("{text}");
    fs::write(root.join("COUNTERS"), text)
}

//! Writes the golden vault of the current format version under
//! `tests/golden/v<version>/`: the vault's objects as a host would store them,
//! its password, and the tree it holds (`expected/`), which
//! `core/tests/golden.rs` restores byte-exactly. Everything is deterministic
//! except the random salts and nonces.
//!
//! Run once per format version: `cargo run -p cloudbackup-core --example golden_vault`.
//! Never regenerate an existing version's vault: it exists to prove old vaults stay readable.

use std::fs;
use std::path::{Path, PathBuf};

use cloudbackup_core::engine::keys::MasterKey;
use cloudbackup_core::engine::{
    BackupOptions, BackupSession, ChunkerParams, FileMeta, Index, KdfParams, SnapshotInfo, Vault,
    VaultSettings, FORMAT_VERSION,
};

/// The golden vault's password.
const PASSWORD: &str = "golden vault password v1";

/// The tree: (path, content). Text, binary, a duplicate, an empty file and a zero run.
fn tree() -> Vec<(&'static str, Vec<u8>)> {
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
    vec![
        ("/data/notes.txt", text.clone()),
        ("/data/copy-of-notes.txt", text),
        ("/data/random.bin", binary),
        ("/data/empty", Vec::new()),
        ("/data/zeros", vec![0u8; 50_000]),
    ]
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join(format!("../tests/golden/v{FORMAT_VERSION}"));
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
        MasterKey::from_bytes(*b"golden master key, v1, not real!"),
        *b"golden-vault-v1!",
        PASSWORD.as_bytes(),
        settings,
        KdfParams::insecure_for_tests(),
    )?;
    let index = Index::new();
    let mut session =
        BackupSession::new(&vault, std::sync::Arc::new(index), BackupOptions::default())?;
    session.add_entry(FileMeta::dir("/data", 0o755, 1_763_900_000))?;
    for (path, content) in tree() {
        session.start_file(FileMeta::file(path, 0o644, 1_763_900_000))?;
        for piece in content.chunks(10_000) {
            session.write(piece)?;
        }
        session.finish_file()?;
    }
    session.add_entry(FileMeta::symlink(
        "/data/latest",
        "notes.txt",
        1_763_900_000,
    ))?;
    let out = session.finish(SnapshotInfo {
        time: 1_763_900_000,
        time_nanos: 0,
        hostname: Some("golden".into()),
        backup_configuration_id: Some("7c8ee069-568f-4d5a-932f-fb2af86b5fd5".into()),
    })?;

    let write = |rel: &str, bytes: &[u8]| -> std::io::Result<()> {
        let p = root.join(rel);
        if let Some(parent) = p.parent() {
            fs::create_dir_all(parent)?;
        }
        fs::write(p, bytes)
    };
    write("vault/config", &vault.config_bytes()?)?;
    for b in &out.bundles {
        write(&format!("vault/bundles/{}", b.id), &b.bytes)?;
    }
    write(&format!("vault/index/{}", out.index.id), &out.index.bytes)?;
    write(
        &format!("vault/snapshots/{}", out.snapshot.id),
        &out.snapshot.bytes,
    )?;
    write("PASSWORD", PASSWORD.as_bytes())?;
    for (path, content) in tree() {
        write(&format!("expected{path}"), &content)?;
    }
    println!("wrote {} ({} bundles)", root.display(), out.bundles.len());
    print_counters(&root, &out.counters)?;
    Ok(())
}

fn print_counters(
    root: &Path,
    c: &cloudbackup_core::engine::BackupCounters,
) -> std::io::Result<()> {
    let text = format!(
        "files_searched={} files_backed_up={} bytes_searched={} bytes_backed_up={} bytes_in_db={}\n",
        c.files_searched, c.files_backed_up, c.bytes_searched, c.bytes_backed_up, c.bytes_in_db
    );
    print!("{text}");
    fs::write(root.join("COUNTERS"), text)
}

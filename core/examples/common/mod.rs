//! What the committed-vault examples share (not an example itself).

use std::fs;
use std::path::Path;

use cloudbackup_core::engine::{BackupOutcome, SealedObject, Vault};

/// Writes a vault's objects as a host stores them under `root/vault/`
/// (`config`, `bundles/<id>`, `index/<id>`, `snapshots/<id>`), with
/// `snapshot` as its one snapshot, and `password` to `root/PASSWORD`.
pub fn write_vault(
    root: &Path,
    vault: &Vault,
    out: &BackupOutcome,
    snapshot: &SealedObject,
    password: &str,
) -> Result<(), Box<dyn std::error::Error>> {
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
    write(&format!("vault/snapshots/{}", snapshot.id), &snapshot.bytes)?;
    write("PASSWORD", password.as_bytes())?;
    Ok(())
}

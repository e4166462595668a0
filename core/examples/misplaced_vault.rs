//! Writes `tests/crafted/misplaced/`: a vault whose one snapshot breaks the
//! placement rule (`engine::placement`), as a buggy host or an older build
//! could have written it. Every host's restore of it must write nothing
//! outside its target and restore the rest: `/a` is a symlink to
//! `../outside` (the target's sibling), and `/a/x` a file "inside" it, which
//! a host joining paths to its target would write through the link; `/f/under`
//! lies below the file `/f`; `/twice` is a folder, then a file; `/a/secret`,
//! `/h` and `/w/h2` are three names of one file (a hard link made to the
//! first would go through `/a`; `/w` is a folder the snapshot leaves out); `/x/y` comes before `/x`, a symlink to `../outside` (a
//! host making the link over the folder it made for `/x/y` would have put
//! `y` outside).
//!
//! The backup session refuses such entries, so the snapshot is made of
//! well-placed entries renamed afterwards, then sealed as a host would store
//! it. Run once: `cargo run -p cloudbackup-core --example misplaced_vault`
//! (it refuses to overwrite the committed vault).

mod common;

use std::path::PathBuf;
use std::sync::Arc;

use cloudbackup_core::engine::keys::MasterKey;
use cloudbackup_core::engine::{
    BackupOptions, BackupSession, FileMeta, Index, KdfParams, RawPath, SnapshotInfo, Vault,
    VaultSettings,
};

/// The vault's password.
const PASSWORD: &str = "misplaced entries";

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../tests/crafted/misplaced");
    if root.exists() {
        return Err(format!("{} exists: it is never regenerated", root.display()).into());
    }
    let vault = Vault::create_with(
        MasterKey::from_bytes(*b"misplaced master key, not real!!"),
        *b"misplaced-vault!",
        PASSWORD.as_bytes(),
        VaultSettings::default(),
        KdfParams::insecure_for_tests(),
    )?;
    let mut session = BackupSession::new(&vault, Arc::new(Index::new()), BackupOptions::default())?;
    session.add_entry(FileMeta::symlink("/a", "../outside", 1_763_900_000))?;
    session.add_entry(FileMeta::dir("/twice", 0o755, 1_763_900_000))?;
    // (placed name, name in the snapshot, content)
    let files = [
        ("/ok", "/ok", &b"restored\n"[..]),
        ("/f", "/f", b"a file\n"),
        ("/planted", "/a/x", b"planted through the link\n"),
        ("/under", "/f/under", b"below a file\n"),
        ("/second", "/twice", b"a file over the folder\n"),
        ("/secret", "/a/secret", b"one file, three names\n"),
        ("/h", "/h", b"one file, three names\n"),
        ("/h2", "/w/h2", b"one file, three names\n"),
        ("/x-y", "/x/y", b"placed before its folder\n"),
    ];
    for (placed, _, content) in files {
        let linked = ["/secret", "/h", "/h2"].contains(&placed);
        session.start_file(FileMeta {
            inode: if linked { 9 } else { 0 },
            device: if linked { 7 } else { 0 },
            links: if linked { 3 } else { 1 },
            ..FileMeta::file(placed, 0o644, 1_763_900_000)
        })?;
        session.write(content)?;
        session.finish_file()?;
    }
    session.add_entry(FileMeta::symlink("/x-link", "../outside", 1_763_900_000))?;
    let out = session.finish(SnapshotInfo {
        hostname: Some("crafted".into()),
        paths: vec![RawPath::from("/")],
        ..SnapshotInfo::at(1_763_900_000)
    })?;
    let mut tree = out.tree.clone();
    for entry in &mut tree.entries {
        if entry.path.as_bytes() == b"/x-link" {
            entry.path = RawPath::from("/x");
        }
        if let Some((_, name, _)) = files
            .iter()
            .find(|(p, _, _)| entry.path.as_bytes() == p.as_bytes())
        {
            entry.path = RawPath::from(*name);
        }
    }
    let snapshot = tree.seal(vault.keys(), vault.id())?;
    common::write_vault(&root, &vault, &out, &snapshot, PASSWORD)?;
    println!("wrote {}", root.display());
    Ok(())
}

//! `engine::browse::Dump`: a file's content blob by blob in file order, as
//! `cloudbackup dump` writes it to a pipe; and what it refuses.

use std::collections::HashMap;

use cloudbackup_core::engine::browse::Dump;
use cloudbackup_core::engine::{
    BackupOptions, BackupSession, FileMeta, Id, Index, Snapshot, SnapshotInfo, Vault,
};
use cloudbackup_core::ErrorCode;

mod common;
use common::{index_and_bundles, random_bytes, tiny_vault};

/// A file of noise, text and zeros (many tiny chunks, some repeated), a
/// folder and a symlink.
fn stored(content: &[u8]) -> (Vault, Snapshot, Index, HashMap<Id, Vec<u8>>) {
    let vault = tiny_vault(9, 4);
    let mut s = BackupSession::new(
        &vault,
        std::sync::Arc::new(Index::new()),
        BackupOptions::default(),
    )
    .unwrap();
    s.add_entry(FileMeta::dir("/d", 0o755, 1)).unwrap();
    s.add_entry(FileMeta::symlink("/d/link", "../f", 1))
        .unwrap();
    s.start_file(FileMeta::file("/f", 0o644, 1)).unwrap();
    s.write(content).unwrap();
    s.finish_file().unwrap();
    let out = s.finish(SnapshotInfo::at(1)).unwrap();
    let (index, bundles) = index_and_bundles(&out);
    (vault, out.tree, index, bundles)
}

fn read(bundles: &HashMap<Id, Vec<u8>>, bundle: &str, offset: u64, length: u64) -> Vec<u8> {
    let id = Id::parse_named("bundle", bundle).unwrap();
    bundles[&id][offset as usize..(offset + length) as usize].to_vec()
}

#[test]
fn a_dump_is_the_file_in_order() {
    let mut content = random_bytes(1, 50_000);
    content.extend(b"dump to a pipe\n".repeat(3000));
    content.extend(vec![0; 40_000]);
    content.extend(random_bytes(1, 50_000)); // repeats the first part
    let (vault, snapshot, index, bundles) = stored(&content);
    let dump = Dump::new(&vault, &index, &snapshot, b"/f").unwrap();
    assert_eq!(dump.size(), content.len() as u64);
    let fetches = dump.fetches();
    assert!(fetches.len() > 10, "tiny chunks: {}", fetches.len());
    let mut out = Vec::new();
    for (i, f) in fetches.iter().enumerate() {
        out.extend(
            dump.open(i, &read(&bundles, &f.bundle, f.offset, f.length))
                .unwrap(),
        );
    }
    assert!(out == content, "the dump differs from the file");
}

#[test]
fn a_dump_refuses_what_is_not_a_whole_readable_file() {
    let content = random_bytes(2, 30_000);
    let (vault, snapshot, index, bundles) = stored(&content);
    let code = |path: &[u8], index: &Index| Dump::new(&vault, index, &snapshot, path).unwrap_err();

    let e = code(b"/d", &index);
    assert_eq!(e.code(), ErrorCode::InvalidValue);
    assert!(e.to_string().contains("a dir, not a file"), "{e}");
    let e = code(b"/d/link", &index);
    assert!(e.to_string().contains("a symlink to ../f"), "{e}");
    assert_eq!(code(b"/nothing", &index).code(), ErrorCode::NotFound);
    let e = code(b"/f", &Index::new());
    assert_eq!(e.code(), ErrorCode::NotFound);
    assert!(e.to_string().contains("no index lists it"), "{e}");

    // A range that is not that blob: corrupt, not wrong bytes on the pipe.
    let dump = Dump::new(&vault, &index, &snapshot, b"/f").unwrap();
    let f = &dump.fetches()[0];
    let mut sealed = read(&bundles, &f.bundle, f.offset, f.length);
    sealed[20] ^= 1;
    assert_eq!(
        dump.open(0, &sealed).unwrap_err().code(),
        ErrorCode::Corrupt
    );
    assert_eq!(
        dump.open(dump.fetches().len(), &sealed).unwrap_err().code(),
        ErrorCode::InvalidArgument
    );
}

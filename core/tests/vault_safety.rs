//! Vaults that cannot lose data (issue 13), through the public API as a
//! host drives it, over an in-memory store: a missing index, a corrupt
//! snapshot, a 255-byte file name, two backups in one second, and a
//! snapshot path that would escape the restore target.

use std::collections::BTreeMap;
use std::sync::Arc;

use cloudbackup_core::engine::format::ObjectKind;
use cloudbackup_core::engine::layout::{self, Listed};
use cloudbackup_core::engine::{
    paths, BackupOptions, BackupSession, FileMeta, Id, Index, IndexRebuild, KdfParams,
    RestoreOptions, RestoreRun, SnapshotInfo, Vault, VaultSettings, VaultState, Verifier,
};
use cloudbackup_core::ErrorCode;

/// A vault in memory: name -> bytes, all written at `mtime_ns` 0.
struct Store {
    vault: Vault,
    objects: BTreeMap<String, Vec<u8>>,
}

impl Store {
    fn new() -> Self {
        let vault = Vault::create(
            b"pw",
            VaultSettings::default(),
            KdfParams::insecure_for_tests(),
        )
        .unwrap();
        Store {
            vault,
            objects: BTreeMap::new(),
        }
    }

    fn state(&self) -> VaultState {
        let mut s = VaultState::new(&self.vault);
        for (name, bytes) in &self.objects {
            s.add_listed(Listed {
                name: name.clone(),
                size: bytes.len() as u64,
                mtime_ns: 0,
            });
        }
        for name in s.wanted() {
            let _ = s.add_object(&name, &self.objects[&name]);
        }
        s
    }

    /// Backs `files` up, storing bundles, then the index, then the snapshot.
    fn backup(&mut self, files: &[(&str, &[u8])], time: i64, time_nanos: u32) -> Id {
        let index = self.state().index().clone();
        let mut s =
            BackupSession::new(&self.vault, Arc::new(index), BackupOptions::default()).unwrap();
        for (path, data) in files {
            s.start_file(FileMeta::file(*path, 0o644, 1)).unwrap();
            s.write(data).unwrap();
            s.finish_file().unwrap();
        }
        let out = s
            .finish(SnapshotInfo {
                time,
                time_nanos,
                hostname: None,
                backup_configuration_id: None,
                paths: Vec::new(),
                tags: Vec::new(),
            })
            .unwrap();
        for b in out.bundles {
            self.objects
                .insert(layout::object_name(ObjectKind::Bundle, &b.id), b.bytes);
        }
        self.objects.insert(
            layout::object_name(ObjectKind::Index, &out.index.id),
            out.index.bytes,
        );
        self.objects.insert(
            layout::object_name(ObjectKind::Snapshot, &out.snapshot.id),
            out.snapshot.bytes,
        );
        out.snapshot.id
    }

    /// Restores `which`; returns the files written (path -> bytes) and the
    /// number of per-file errors.
    fn restore(&self, which: &str) -> (BTreeMap<String, Vec<u8>>, usize) {
        let state = self.state();
        let id = state.resolve(which).unwrap();
        let snap = state.snapshot(&id).unwrap();
        let mut run =
            RestoreRun::new(&self.vault, snap, state.index(), RestoreOptions::default()).unwrap();
        let mut files: BTreeMap<String, Vec<u8>> = BTreeMap::new();
        for f in run.session().unwrap().plan() {
            let name = layout::object_name(ObjectKind::Bundle, &f.bundle);
            let Some(bundle) = self.objects.get(&name) else {
                run.missing(&f.bundle).unwrap();
                continue;
            };
            for r in &f.ranges {
                let bytes = &bundle[r.offset as usize..(r.offset + r.length) as usize];
                for w in run.feed(&f.bundle, r.offset, bytes).unwrap() {
                    for place in &w.places {
                        let file = files.entry(place.path.to_string()).or_default();
                        let at = place.offset as usize;
                        file.resize(at.max(file.len()), 0);
                        file.splice(at.., w.data.iter().copied());
                    }
                }
            }
        }
        let report = run.finish().unwrap();
        let errors = report
            .errors
            .as_ref()
            .and_then(|e| e.list.as_ref())
            .map_or(0, Vec::len);
        (files, errors)
    }
}

#[test]
fn missing_index_gc_refuses_verify_reports_repair_rebuilds() {
    let mut st = Store::new();
    st.backup(&[("/a", b"first")], 1, 0);
    st.backup(&[("/b", b"second")], 2, 0);
    let lost = st
        .objects
        .keys()
        .find(|k| k.starts_with("index/"))
        .cloned()
        .unwrap();
    st.objects.remove(&lost);
    let state = st.state();
    let e = state.gc_plan(i64::MAX, 0).unwrap_err();
    assert_eq!(e.code(), ErrorCode::Corrupt);
    assert!(e.to_string().contains("repair"), "{e}");
    assert!(!Verifier::for_state(&state).report().is_ok());
    let plan = state.repair_plan();
    let mut rebuild = IndexRebuild::new(&state);
    for b in &plan.bundles_to_read {
        rebuild
            .feed(b, &st.objects[&layout::object_name(ObjectKind::Bundle, b)])
            .unwrap();
    }
    let out = rebuild.finish().unwrap();
    assert!(out.report.snapshots_damaged.is_empty());
    let index = out.index.unwrap();
    st.objects.insert(
        layout::object_name(ObjectKind::Index, &index.id),
        index.bytes,
    );
    let state = st.state();
    let gc = state.gc_plan(i64::MAX, 0).unwrap();
    assert!(gc.delete.is_empty(), "every bundle is referenced again");
    assert_eq!(
        st.restore("latest"),
        ([("/b".to_string(), b"second".to_vec())].into(), 0)
    );
}

#[test]
fn a_corrupt_snapshot_is_skipped_by_latest_and_set_aside_by_repair() {
    let mut st = Store::new();
    st.backup(&[("/a", b"old")], 1, 0);
    let newest = st.backup(&[("/a", b"new")], 2, 0);
    let name = layout::object_name(ObjectKind::Snapshot, &newest);
    if let Some(b) = st.objects.get_mut(&name) {
        let at = b.len() - 2;
        b[at] ^= 0x10;
    }
    let state = st.state();
    assert_eq!(state.summaries().len(), 1);
    assert_eq!(state.unreadable_snapshots().len(), 1);
    assert_eq!(st.restore("latest").0["/a"], b"old".to_vec());
    assert!(state.gc_plan(1, 0).is_err(), "gc refuses");
    assert_eq!(state.repair_plan().set_aside, vec![name.clone()]);
    st.objects.remove(&name);
    assert!(st.state().gc_plan(1, 0).is_ok());
}

#[test]
fn two_backups_in_one_second_latest_is_the_later() {
    let mut st = Store::new();
    st.backup(&[("/f", b"earlier")], 100, 100);
    st.backup(&[("/f", b"later")], 100, 200);
    assert_eq!(st.restore("latest").0["/f"], b"later".to_vec());
}

#[test]
fn a_255_byte_name_backs_up_restores_and_its_partial_name_is_short() {
    let mut st = Store::new();
    let name = format!("/{}", "x".repeat(255));
    st.backup(&[(&name, b"long")], 1, 0);
    let (files, errors) = st.restore("latest");
    assert_eq!((files[&name].as_slice(), errors), (&b"long"[..], 0));
    let tmp = paths::partial_name(&name.as_bytes()[1..], u32::MAX);
    assert!(tmp.len() <= 64, "{tmp}");
}

#[test]
fn a_path_that_would_escape_is_refused_at_backup() {
    let st = Store::new();
    let mut s =
        BackupSession::new(&st.vault, Arc::new(Index::new()), BackupOptions::default()).unwrap();
    for bad in ["/../etc/passwd", "relative", "/a//b", "/a/./b"] {
        let e = s.start_file(FileMeta::file(bad, 0o644, 0)).unwrap_err();
        assert_eq!(e.code(), ErrorCode::InvalidValue, "{bad}");
    }
    assert_eq!(paths::relative_path(b"/a/b").unwrap(), b"a/b");
}

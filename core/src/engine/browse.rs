//! Browsing snapshots without restoring them: what `cloudbackup ls`, `find`
//! and `diff` show, computed here once so every host (CLI, agent, console)
//! lists the same thing.
//!
//! Paths are the snapshot's own bytes (non-UTF-8 names included); JSON
//! gives them in [`RawPath`]'s quoted form. A snapshot holds the entries the
//! backup saw, from its roots down: the folders above a root (`/home` for a
//! backup of `/home/ann`) are not entries, so [`list`] shows them as
//! folders without metadata (`synthetic`), as restic's tree does.

use std::collections::{BTreeMap, BTreeSet};

use serde::Serialize;

use super::blob::open_blob;
use super::crypto::Id;
use super::index::{Index, Location};
use super::rawpath::RawPath;
use super::select::Pattern;
use super::snapshot::{Entry, EntryKind, Snapshot};
use super::vault::Vault;
use crate::{Error, Result};

/// One entry as `ls` and `find` show it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Listed {
    /// Its path.
    pub path: RawPath,
    /// What it is.
    pub kind: EntryKind,
    /// Permission bits (0 for a synthetic folder).
    pub mode: u32,
    /// Size in bytes (files).
    pub size: u64,
    /// Modification time, seconds since the Unix epoch.
    pub mtime: i64,
    /// A symlink's target.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub target: Option<RawPath>,
    /// A folder above the backup's roots: not in the snapshot itself.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub synthetic: bool,
}

impl Listed {
    fn of(entry: &Entry) -> Self {
        Listed {
            path: entry.path.clone(),
            kind: entry.kind,
            mode: entry.mode,
            size: entry.size,
            mtime: entry.mtime,
            target: entry.target.clone(),
            synthetic: false,
        }
    }

    fn folder(path: Vec<u8>) -> Self {
        Listed {
            path: RawPath::from_bytes(path),
            kind: EntryKind::Dir,
            mode: 0,
            size: 0,
            mtime: 0,
            target: None,
            synthetic: true,
        }
    }
}

/// `dir` without trailing slashes; the root is the empty prefix.
fn folder_prefix(dir: &[u8]) -> Result<&[u8]> {
    if dir.first() != Some(&b'/') {
        return Err(Error::InvalidValue {
            field: "path".into(),
            reason: format!(
                "{} is not absolute (snapshot paths start with /)",
                RawPath::from_bytes(dir).quoted()
            ),
        });
    }
    let mut end = dir.len();
    while end > 0 && dir[end - 1] == b'/' {
        end -= 1;
    }
    Ok(&dir[..end])
}

/// What is in folder `dir` of `snapshot`, by path: its direct children, or
/// (`recursive`) everything below it. `dir` may also name a file, which is
/// then listed alone. [`Error::NotFound`] when nothing is at or below it.
pub fn list(snapshot: &Snapshot, dir: &[u8], recursive: bool) -> Result<Vec<Listed>> {
    let prefix = folder_prefix(dir)?;
    let mut found = false;
    let mut out: BTreeMap<Vec<u8>, Listed> = BTreeMap::new();
    for entry in &snapshot.entries {
        let path = entry.path.as_bytes();
        if path == prefix {
            found = true;
            if entry.kind != EntryKind::Dir {
                out.insert(path.to_vec(), Listed::of(entry));
            }
            continue;
        }
        let Some(rest) = path.strip_prefix(prefix).and_then(|r| r.strip_prefix(b"/")) else {
            continue;
        };
        found = true;
        if recursive {
            out.insert(path.to_vec(), Listed::of(entry));
            continue;
        }
        match rest.iter().position(|&b| b == b'/') {
            None => {
                out.insert(path.to_vec(), Listed::of(entry));
            }
            Some(slash) => {
                let child = path[..prefix.len() + 1 + slash].to_vec();
                out.entry(child.clone())
                    .or_insert_with(|| Listed::folder(child));
            }
        }
    }
    if !found {
        return Err(Error::NotFound {
            what: "path in the snapshot".into(),
            id: RawPath::from_bytes(dir).quoted().into_owned(),
        });
    }
    Ok(out.into_values().collect())
}

/// The entries of `snapshot` a pattern of `patterns` matches themselves
/// (not only through a folder above them), by path. Patterns have the
/// meaning they have for backup and restore ([`Pattern`]: `*.log` a name
/// at any depth, `/home/*/notes` from the root); an empty list is refused.
pub fn find(snapshot: &Snapshot, patterns: &[Pattern]) -> Result<Vec<Listed>> {
    if patterns.is_empty() {
        return Err(Error::argument("patterns", "give at least one pattern"));
    }
    let mut out: Vec<Listed> = snapshot
        .entries
        .iter()
        .filter(|entry| {
            let path = entry.path.to_string_lossy();
            let parent = match path.rfind('/') {
                Some(0) | None => "",
                Some(i) => &path[..i],
            };
            patterns
                .iter()
                .any(|p| p.matches(&path) && (parent.is_empty() || !p.matches(parent)))
        })
        .map(Listed::of)
        .collect();
    out.sort_by(|a, b| a.path.as_bytes().cmp(b.path.as_bytes()));
    Ok(out)
}

/// Parses `find`'s patterns; a bad one is [`Error::InvalidValue`] naming it.
pub fn patterns<S: AsRef<str>>(texts: &[S], ignore_case: bool) -> Result<Vec<Pattern>> {
    texts
        .iter()
        .map(|t| {
            Pattern::parse(t.as_ref(), ignore_case).map_err(|reason| Error::InvalidValue {
                field: format!("pattern {:?}", t.as_ref()),
                reason,
            })
        })
        .collect()
}

/// How an entry differs between two snapshots (restic's `diff` letters).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Change {
    /// Only in the second snapshot (`+`).
    Added,
    /// Only in the first (`-`).
    Removed,
    /// A file whose content differs (`M`).
    Modified,
    /// Another kind of entry under the same path (`T`).
    TypeChanged,
    /// Same content, other metadata: mode, times, owner, target,
    /// extended attributes (`U`).
    Metadata,
}

impl Change {
    /// restic's letter for it.
    pub fn letter(self) -> char {
        match self {
            Change::Added => '+',
            Change::Removed => '-',
            Change::Modified => 'M',
            Change::TypeChanged => 'T',
            Change::Metadata => 'U',
        }
    }
}

/// One path that differs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Changed {
    /// The path.
    pub path: RawPath,
    /// How.
    pub change: Change,
    /// Its kind in the second snapshot (the first for a removal).
    pub kind: EntryKind,
    /// Its size in the first snapshot (0 when added).
    pub size_before: u64,
    /// Its size in the second (0 when removed).
    pub size_after: u64,
}

/// Totals of a [`Diff`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct DiffTotals {
    /// Entries added, removed, modified (content), type-changed and with
    /// only their metadata changed.
    pub added: u64,
    /// See `added`.
    pub removed: u64,
    /// See `added`.
    pub modified: u64,
    /// See `added`.
    pub type_changed: u64,
    /// See `added`.
    pub metadata: u64,
    /// Bytes of the files added, plus growth of modified ones.
    pub bytes_added: u64,
    /// Bytes of the files removed, plus shrinkage of modified ones.
    pub bytes_removed: u64,
}

/// What changed from one snapshot to another, by path.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Diff {
    /// Every path that differs, sorted.
    pub changes: Vec<Changed>,
    /// Their totals.
    pub totals: DiffTotals,
}

/// Whether two entries of one path differ in content or in metadata.
fn compare(a: &Entry, b: &Entry) -> Option<Change> {
    if a.kind != b.kind {
        return Some(Change::TypeChanged);
    }
    if a.size != b.size || a.chunks != b.chunks {
        return Some(Change::Modified);
    }
    let same_meta = a.mode == b.mode
        && a.mtime_ns() == b.mtime_ns()
        && a.uid == b.uid
        && a.gid == b.gid
        && a.target == b.target
        && a.rdev == b.rdev
        && a.xattrs == b.xattrs;
    (!same_meta).then_some(Change::Metadata)
}

/// What changed from `before` to `after`.
pub fn diff(before: &Snapshot, after: &Snapshot) -> Diff {
    let by_path = |s: &'_ Snapshot| -> BTreeMap<Vec<u8>, usize> {
        s.entries
            .iter()
            .enumerate()
            .map(|(i, e)| (e.path.as_bytes().to_vec(), i))
            .collect()
    };
    let (a, b) = (by_path(before), by_path(after));
    let paths: BTreeSet<&Vec<u8>> = a.keys().chain(b.keys()).collect();
    let mut totals = DiffTotals::default();
    let mut changes = Vec::new();
    for path in paths {
        let old = a.get(path).map(|&i| &before.entries[i]);
        let new = b.get(path).map(|&i| &after.entries[i]);
        let (change, entry) = match (old, new) {
            (None, Some(n)) => (Change::Added, n),
            (Some(o), None) => (Change::Removed, o),
            (Some(o), Some(n)) => match compare(o, n) {
                Some(c) => (c, n),
                None => continue,
            },
            (None, None) => continue,
        };
        let size_before = old.map_or(0, |e| e.size);
        let size_after = new.map_or(0, |e| e.size);
        match change {
            Change::Added => totals.added += 1,
            Change::Removed => totals.removed += 1,
            Change::Modified => totals.modified += 1,
            Change::TypeChanged => totals.type_changed += 1,
            Change::Metadata => totals.metadata += 1,
        }
        totals.bytes_added += size_after.saturating_sub(size_before);
        totals.bytes_removed += size_before.saturating_sub(size_after);
        changes.push(Changed {
            path: entry.path.clone(),
            change,
            kind: entry.kind,
            size_before,
            size_after,
        });
    }
    Diff { changes, totals }
}

/// One blob of a file being dumped: the range of its bundle to read.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DumpFetch {
    /// The bundle's id (hex).
    pub bundle: String,
    /// Where the sealed blob starts in it.
    pub offset: u64,
    /// Its sealed length.
    pub length: u64,
}

/// One file's content, blob by blob in file order, for `cloudbackup dump`
/// (a restore, by contrast, reads each bundle once in bundle order and
/// writes at offsets, which a pipe cannot take). The host reads each
/// [`fetches`](Self::fetches) range and passes it to [`open`](Self::open),
/// which checks and decrypts it; the plaintexts in order are the file.
#[derive(Debug)]
pub struct Dump {
    vault: Vault,
    size: u64,
    chunks: Vec<(Id, Location)>,
}

impl Dump {
    /// The file at `path` of `snapshot`. Refused: a path that is not in it
    /// ([`Error::NotFound`]), a folder or any other non-file
    /// ([`Error::InvalidValue`]), and a chunk `index` does not have
    /// ([`Error::NotFound`] naming the blob: `cloudbackup repair` may find it).
    pub fn new(vault: &Vault, index: &Index, snapshot: &Snapshot, path: &[u8]) -> Result<Self> {
        let entry = snapshot
            .entries
            .iter()
            .find(|e| e.path.as_bytes() == path)
            .ok_or_else(|| Error::NotFound {
                what: "path in the snapshot".into(),
                id: RawPath::from_bytes(path).quoted().into_owned(),
            })?;
        if entry.kind != EntryKind::File {
            let what = match (&entry.kind, &entry.target) {
                (EntryKind::Symlink, Some(t)) => format!("a symlink to {}", t.quoted()),
                (kind, _) => format!("a {}, not a file", kind.as_str()),
            };
            return Err(Error::InvalidValue {
                field: "path".into(),
                reason: format!("{} is {what}", entry.path.quoted()),
            });
        }
        let chunks = entry
            .chunks
            .iter()
            .map(|id| {
                index
                    .get(id)
                    .map(|loc| (*id, *loc))
                    .ok_or_else(|| Error::NotFound {
                        what: "blob (no index lists it)".into(),
                        id: id.to_hex(),
                    })
            })
            .collect::<Result<Vec<_>>>()?;
        Ok(Dump {
            vault: vault.clone(),
            size: entry.size,
            chunks,
        })
    }

    /// The file's size.
    pub fn size(&self) -> u64 {
        self.size
    }

    /// The ranges to read, one per blob, in file order.
    pub fn fetches(&self) -> Vec<DumpFetch> {
        self.chunks
            .iter()
            .map(|(_, loc)| DumpFetch {
                bundle: loc.bundle.to_hex(),
                offset: u64::from(loc.offset),
                length: u64::from(loc.length),
            })
            .collect()
    }

    /// Blob `i`'s plaintext from its sealed bytes (the range of fetch `i`):
    /// [`Error::Corrupt`] when they are not that blob.
    pub fn open(&self, i: usize, sealed: &[u8]) -> Result<Vec<u8>> {
        let (id, loc) = self.chunks.get(i).ok_or_else(|| {
            Error::argument("i", format!("the file has {} blobs", self.chunks.len()))
        })?;
        open_blob(
            self.vault.keys(),
            self.vault.id(),
            loc.kind,
            id,
            loc.raw_len,
            sealed,
            &format!("bundle {}", loc.bundle.to_hex()),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::crypto::Id;
    use crate::engine::snapshot::BackupCounters;

    fn entry(path: &str, kind: EntryKind, size: u64, chunk: u8) -> Entry {
        Entry {
            path: RawPath::from(path),
            kind,
            mode: 0o644,
            size,
            chunks: if kind == EntryKind::File {
                vec![Id([chunk; 32])]
            } else {
                Vec::new()
            },
            ..Entry::default()
        }
    }

    fn snapshot(entries: Vec<Entry>) -> Snapshot {
        let mut s: Snapshot = serde_json::from_value(serde_json::json!({
            "version": crate::engine::SNAPSHOT_VERSION,
            "time": 0,
            "counters": BackupCounters::default(),
            "entries": [],
        }))
        .unwrap();
        s.entries = entries;
        s
    }

    fn paths(listed: &[Listed]) -> Vec<String> {
        listed
            .iter()
            .map(|l| format!("{}{}", l.path, if l.synthetic { " (folder)" } else { "" }))
            .collect()
    }

    fn tree() -> Snapshot {
        snapshot(vec![
            entry("/home/ann", EntryKind::Dir, 0, 0),
            entry("/home/ann/notes.txt", EntryKind::File, 5, 1),
            entry("/home/ann/logs", EntryKind::Dir, 0, 0),
            entry("/home/ann/logs/a.log", EntryKind::File, 7, 2),
            entry("/home/ann/logs/old/b.log", EntryKind::File, 9, 3),
            Entry {
                path: RawPath::from_bytes(b"/home/ann/caf\xe9".to_vec()),
                ..entry("", EntryKind::File, 1, 4)
            },
        ])
    }

    #[test]
    fn list_shows_children_or_everything_below_and_folders_above_the_roots() {
        let s = tree();
        assert_eq!(paths(&list(&s, b"/", false).unwrap()), ["/home (folder)"]);
        assert_eq!(
            paths(&list(&s, b"/home/ann/", false).unwrap()),
            [
                "\"/home/ann/caf\\xe9\"",
                "/home/ann/logs",
                "/home/ann/notes.txt"
            ]
        );
        assert_eq!(
            paths(&list(&s, b"/home/ann/logs", false).unwrap()),
            ["/home/ann/logs/a.log", "/home/ann/logs/old (folder)"]
        );
        assert_eq!(
            paths(&list(&s, b"/home/ann/logs", true).unwrap()),
            ["/home/ann/logs/a.log", "/home/ann/logs/old/b.log"]
        );
        assert_eq!(
            paths(&list(&s, b"/home/ann/notes.txt", false).unwrap()),
            ["/home/ann/notes.txt"]
        );
        let err = list(&s, b"/home/bob", false).unwrap_err();
        assert_eq!(err.code(), crate::ErrorCode::NotFound);
        assert!(err.to_string().contains("/home/bob"), "{err}");
        assert_eq!(
            list(&s, b"home", false).unwrap_err().code(),
            crate::ErrorCode::InvalidValue
        );
    }

    #[test]
    fn find_matches_entries_themselves_with_the_backup_pattern_meaning() {
        let s = tree();
        let p = |t: &str| Pattern::parse(t, false).unwrap();
        assert_eq!(
            paths(&find(&s, &[p("*.log")]).unwrap()),
            ["/home/ann/logs/a.log", "/home/ann/logs/old/b.log"]
        );
        // The folder matches; what is below it only through it.
        assert_eq!(paths(&find(&s, &[p("logs")]).unwrap()), ["/home/ann/logs"]);
        assert_eq!(
            paths(&find(&s, &[p("/home/*/notes.txt"), p("NOTES.TXT")]).unwrap()),
            ["/home/ann/notes.txt"]
        );
        assert_eq!(
            paths(&find(&s, &[Pattern::parse("NOTES.TXT", true).unwrap()]).unwrap()),
            ["/home/ann/notes.txt"]
        );
        assert_eq!(
            find(&s, &[]).unwrap_err().code(),
            crate::ErrorCode::InvalidArgument
        );
    }

    #[test]
    fn diff_gives_restic_letters_and_byte_totals() {
        let before = tree();
        let mut after = tree();
        after.entries.retain(|e| e.path != "/home/ann/logs/a.log");
        after
            .entries
            .push(entry("/home/ann/new.bin", EntryKind::File, 100, 9));
        for e in &mut after.entries {
            if e.path == "/home/ann/notes.txt" {
                e.size = 8;
                e.chunks = vec![Id([7; 32])];
            }
            if e.path == "/home/ann/logs" {
                e.mode = 0o700;
            }
            if e.path == "/home/ann/logs/old/b.log" {
                e.kind = EntryKind::Symlink;
                e.target = Some(RawPath::from("/elsewhere"));
            }
        }
        let d = diff(&before, &after);
        let shown: Vec<String> = d
            .changes
            .iter()
            .map(|c| format!("{} {}", c.change.letter(), c.path))
            .collect();
        assert_eq!(
            shown,
            [
                "U /home/ann/logs",
                "- /home/ann/logs/a.log",
                "T /home/ann/logs/old/b.log",
                "+ /home/ann/new.bin",
                "M /home/ann/notes.txt"
            ]
        );
        assert_eq!(
            d.totals,
            DiffTotals {
                added: 1,
                removed: 1,
                modified: 1,
                type_changed: 1,
                metadata: 1,
                bytes_added: 100 + 3,
                bytes_removed: 7,
            }
        );
        assert!(diff(&before, &before).changes.is_empty());
    }
}

//! Where a snapshot's entries sit in its tree: no path twice, and nothing
//! below an entry that is not a folder.
//!
//! A snapshot is a flat list of paths, so its shape is not a tree by
//! construction. An entry below a symlink (`/a` -> `/etc`, then `/a/passwd`)
//! would lead a host that joins paths to its target (as the C agent and the
//! node host do) through the link and out of the target, and a path given
//! twice makes two entries fight over one name. A backup refuses both as
//! the host adds them; a restore plans neither (snapshots written before the
//! rule, or by a buggy host, fail those entries alone).

use super::snapshot::{Entry, EntryKind};
use std::collections::HashMap;
use std::hash::BuildHasher;

/// The entries placed so far, by a hash of their path (a hash, so the map
/// holds no second copy of every path; a collision only skips a check).
#[derive(Default)]
pub(crate) struct Placement {
    by_hash: HashMap<u64, usize>,
    hasher: std::collections::hash_map::RandomState,
}

impl Placement {
    /// Checks `entries[index]` against the entries placed before it and
    /// places it; otherwise the reason it cannot be placed, to follow its
    /// path ("is given twice", "is below /l, which is a symlink, not a
    /// folder"), and it is not placed. `entries[index]` must come after
    /// every entry placed before.
    pub(crate) fn place(&mut self, entries: &[Entry], index: usize) -> Result<(), String> {
        let Some(entry) = entries.get(index) else {
            return Ok(());
        };
        let path = entry.path.as_bytes();
        let placed = |p: &[u8]| {
            self.by_hash
                .get(&self.hasher.hash_one(p))
                // Only entries before this one (a dropped entry's place
                // may be this one's now).
                .filter(|&&i| i < index)
                .and_then(|&i| entries.get(i))
                .filter(|e| e.path.as_bytes() == p)
        };
        if placed(path).is_some() {
            return Err("is given twice".into());
        }
        // The nearest ancestor in the snapshot decides (a folder may be
        // left out: the host creates it).
        let mut up = path;
        while let Some(cut) = up.iter().rposition(|&b| b == b'/') {
            up = &up[..cut];
            if up.is_empty() {
                break;
            }
            if let Some(ancestor) = placed(up) {
                if ancestor.kind != EntryKind::Dir {
                    return Err(format!(
                        "is below {}, which is a {}, not a folder",
                        ancestor.path.quoted(),
                        ancestor.kind.as_str()
                    ));
                }
                break;
            }
        }
        // Over a stale place (an entry a backup dropped) or a collision:
        // either way, at most a check is skipped later.
        self.by_hash.insert(self.hasher.hash_one(path), index);
        Ok(())
    }
}

/// For each entry of a whole snapshot, why it cannot be placed (see
/// [`Placement::place`]); `None` for every entry of a well-formed one.
pub(crate) fn misplaced(entries: &[Entry]) -> Vec<Option<String>> {
    let mut placement = Placement::default();
    (0..entries.len())
        .map(|i| placement.place(entries, i).err())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(path: &str, kind: EntryKind) -> Entry {
        Entry {
            path: path.into(),
            kind,
            ..Entry::default()
        }
    }

    #[test]
    fn a_tree_places_and_folders_may_be_left_out() {
        let entries = vec![
            entry("/a", EntryKind::Dir),
            entry("/a/f", EntryKind::File),
            entry("/a/b/c/g", EntryKind::File),
            entry("/a-b", EntryKind::Symlink),
            entry("/a/b/c", EntryKind::Dir),
            entry("/x/y", EntryKind::Fifo),
        ];
        assert!(misplaced(&entries).iter().all(Option::is_none));
    }

    #[test]
    fn below_a_non_folder_or_twice_is_refused() {
        let entries = vec![
            entry("/link", EntryKind::Symlink),
            entry("/link/passwd", EntryKind::File),
            entry("/f", EntryKind::File),
            entry("/f/deep/er", EntryKind::Dir),
            entry("/d", EntryKind::Dir),
            entry("/d", EntryKind::File),
            entry("/d/ok", EntryKind::File),
        ];
        let why = misplaced(&entries);
        assert_eq!(why[0], None);
        assert_eq!(
            why[1].as_deref(),
            Some("is below /link, which is a symlink, not a folder")
        );
        assert_eq!(why[2], None);
        assert_eq!(
            why[3].as_deref(),
            Some("is below /f, which is a file, not a folder")
        );
        assert_eq!(why[4], None);
        assert_eq!(why[5].as_deref(), Some("is given twice"));
        // The first /d (a folder) stays what /d is.
        assert_eq!(why[6], None);
    }

    #[test]
    fn a_refused_entry_is_not_placed() {
        // The second /s is refused, so /s/x is judged by the first (a folder).
        let entries = vec![
            entry("/s", EntryKind::Dir),
            entry("/s", EntryKind::Symlink),
            entry("/s/x", EntryKind::File),
        ];
        assert_eq!(misplaced(&entries)[2], None);
    }
}

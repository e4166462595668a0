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
use std::collections::hash_map::{DefaultHasher, RandomState};
use std::collections::HashMap;
use std::hash::{BuildHasher, Hasher};

/// What a path is, as far as the entries placed so far tell.
#[derive(Clone, Copy)]
enum Slot {
    /// Entry `i` has this path.
    Entry(usize),
    /// Entry `i` lies below this path, which no entry has (yet): a folder
    /// the host creates, or one a later entry names, which must be one.
    Above(usize),
}

/// The entries placed so far, by a hash of their path and of the paths
/// above them (a hash, so the map holds no second copy of every path; each
/// hit is checked against the entry's path, so a collision at most skips
/// a check).
#[derive(Default)]
pub(crate) struct Placement {
    by_hash: HashMap<u64, Slot>,
    hasher: RandomState,
}

/// Where `path` ends each of its ancestors (`/a` and `/a/b` of `/a/b/c`,
/// the root left out) and itself, with their hashes: computed in one pass,
/// so a path with many components costs its length, not its length times
/// its depth.
fn prefixes(hasher: &RandomState, path: &[u8]) -> Vec<(usize, u64)> {
    let mut state: DefaultHasher = hasher.build_hasher();
    let mut out = Vec::new();
    for (i, &b) in path.iter().enumerate() {
        if b == b'/' && i > 0 {
            out.push((i, state.clone().finish()));
        }
        state.write_u8(b);
    }
    out.push((path.len(), state.finish()));
    out
}

impl Placement {
    /// Checks `entries[index]` against the entries placed before it and
    /// places it; otherwise the reason it cannot be placed, to follow its
    /// path ("is given twice", "is below /l, which is a symlink, not a
    /// folder", "is a file, but /f/x is below it"), and it is not placed.
    /// `entries[index]` must come after every entry placed before.
    pub(crate) fn place(&mut self, entries: &[Entry], index: usize) -> Result<(), String> {
        let Some(entry) = entries.get(index) else {
            return Ok(());
        };
        let path = entry.path.as_bytes();
        let mut ends = prefixes(&self.hasher, path);
        // What the map says of `path[..end]`, checked against the entries.
        let look = |(end, hash): (usize, u64)| -> Option<Slot> {
            let p = &path[..end];
            match self.by_hash.get(&hash).copied()? {
                Slot::Entry(i) if i < index && entries.get(i)?.path.as_bytes() == p => {
                    Some(Slot::Entry(i))
                }
                // Only entries before this one: a dropped entry's index may
                // be this one's now.
                Slot::Above(i) if i < index => {
                    let below = entries.get(i)?.path.as_bytes();
                    (below.len() > end && below.starts_with(p) && below[end] == b'/')
                        .then_some(Slot::Above(i))
                }
                _ => None,
            }
        };
        let own = ends.pop().unwrap_or((path.len(), 0));
        match look(own) {
            Some(Slot::Entry(_)) => return Err("is given twice".into()),
            Some(Slot::Above(i)) if entry.kind != EntryKind::Dir => {
                let below = entries.get(i).map(|e| e.path.quoted()).unwrap_or_default();
                return Err(format!(
                    "is a {}, but {below} is below it",
                    entry.kind.as_str()
                ));
            }
            _ => {}
        }
        // The nearest ancestor the map knows decides (a folder may be left
        // out: the host creates it); the ones it does not know become
        // folders above this entry.
        let mut unknown = Vec::new();
        for &(end, hash) in ends.iter().rev() {
            match look((end, hash)) {
                Some(Slot::Entry(i)) => {
                    let ancestor = entries.get(i).filter(|a| a.kind != EntryKind::Dir);
                    if let Some(a) = ancestor {
                        return Err(format!(
                            "is below {}, which is a {}, not a folder",
                            a.path.quoted(),
                            a.kind.as_str()
                        ));
                    }
                    break;
                }
                Some(Slot::Above(_)) => break,
                None => unknown.push(hash),
            }
        }
        for hash in unknown {
            self.by_hash.insert(hash, Slot::Above(index));
        }
        // Over a stale slot (an entry a backup dropped), a folder named
        // after entries below it, or a collision: at most a check is
        // skipped later.
        self.by_hash.insert(own.1, Slot::Entry(index));
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

    #[test]
    fn a_non_folder_after_entries_below_it_is_refused() {
        // The other order: a host creating /x/y first, then the link /x,
        // would have put y outside once the link replaced the folder.
        let entries = vec![
            entry("/x/y", EntryKind::File),
            entry("/x", EntryKind::Symlink),
            entry("/p/q/r", EntryKind::File),
            entry("/p", EntryKind::Dir),
            entry("/p/q", EntryKind::File),
            entry("/p/q2", EntryKind::File),
        ];
        let why = misplaced(&entries);
        assert_eq!(why[0], None);
        assert_eq!(
            why[1].as_deref(),
            Some("is a symlink, but /x/y is below it")
        );
        assert_eq!(why[2], None);
        assert_eq!(why[3], None, "a folder named after what lies below it");
        assert_eq!(why[4].as_deref(), Some("is a file, but /p/q/r is below it"));
        assert_eq!(why[5], None);
    }

    #[test]
    fn prefixes_hash_each_ancestor_as_a_whole_path() {
        let hasher = RandomState::new();
        let all = prefixes(&hasher, b"/a/bc/d");
        let ends: Vec<usize> = all.iter().map(|&(e, _)| e).collect();
        assert_eq!(ends, [2, 5, 7]);
        for (end, hash) in all {
            assert_eq!(
                prefixes(&hasher, &b"/a/bc/d"[..end]).last().map(|p| p.1),
                Some(hash)
            );
        }
        // A very deep path costs its length: 200,000 components.
        let deep: Vec<u8> = b"/x".repeat(200_000);
        let entries = vec![Entry {
            path: deep.as_slice().into(),
            ..Entry::default()
        }];
        assert_eq!(misplaced(&entries), [None]);
    }
}

//! The backup engine: content-defined chunking, keyed BLAKE3 ids and dedup,
//! zstd, AES-256-GCM, password-wrapped keys, the vault format (bundles,
//! index, snapshots, config), and sans-IO backup, restore and verify
//! sessions. The byte layouts are in `docs/FORMAT.md`.

pub mod backup;
pub mod blob;
pub mod browse;
pub mod bundle;
pub mod chunker;
pub mod crypto;
pub mod format;
pub mod host_meta;
pub mod index;
pub mod keys;
pub mod layout;
pub mod lock;
#[cfg(test)]
pub(crate) mod noise;
pub mod object;
pub mod paths;
pub(crate) mod placement;
pub mod prune;
pub mod rawpath;
pub mod repair;
pub mod restore;

pub mod retention;
pub mod select;
pub mod snapshot;
pub mod state;
pub mod vault;
pub mod verify;

pub use backup::{BackupOptions, BackupOutcome, BackupRun, BackupSession, FileMeta, SnapshotInfo};
pub use bundle::SealedBundle;
pub use chunker::ChunkerParams;
pub use crypto::Id;
pub use format::FORMAT_VERSION;
pub use index::{Index, Location};
pub use keys::KdfParams;
pub use layout::{Listed, StoredName};
pub use lock::{Lock, LockDecision, LockTable};
pub use object::SealedObject;
pub use prune::{MaxUnused, PruneCommit, PruneOptions, PrunePlan, PruneReport, Pruner};
pub use rawpath::RawPath;
pub use repair::{IndexRebuild, RepairOutcome, RepairPlan, RepairReport};
pub use restore::{
    filter_globs, ByteRange, Create, CreateKind, Fetch, FoundFile, Place, RangeFeed,
    RestoreOptions, RestoreReport, RestoreRun, RestoreSession, SealedPart, Write,
};
pub use retention::{Decision, KeepPolicy, KeepWithin};
pub use select::{
    BackupFilter, BackupFilterOptions, Pattern, PatternList, Selector, TagFile, Visit,
};
pub use snapshot::{
    backup_error_report, BackupCounters, Entry, EntryKind, FileError, Snapshot, Xattr,
    BACKUP_FILE_ERROR_CODE, BACKUP_FILE_ERROR_TYPE, SNAPSHOT_VERSION,
};
pub use state::{GcPlan, SnapshotSummary, VaultState};
pub use vault::{KeySlotInfo, Vault, VaultInfo, VaultSettings};
pub use verify::{verify_plan, Verifier, VerifyReport};

/// The most threads a backup or restore session takes
/// ([`BackupOptions::threads`], [`RestoreOptions::threads`]). More would
/// only add memory (each thread holds chunks in flight), and a count given
/// by mistake (a size, -1 read as unsigned) is refused rather than started
/// as that many threads.
pub const MAX_THREADS: usize = 256;

/// Checks a session's `threads` option: 1 to [`MAX_THREADS`].
pub(crate) fn check_threads(threads: usize) -> crate::Result<()> {
    if (1..=MAX_THREADS).contains(&threads) {
        Ok(())
    } else {
        Err(crate::Error::argument(
            "threads",
            format!("must be from 1 to {MAX_THREADS}, not {threads}"),
        ))
    }
}

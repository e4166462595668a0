//! A restore as a host holds it across calls: running, then finished with
//! its report kept. Every binding wraps this one type (as it wraps
//! `BackupRun`), so the order rules (no feeding after `finish`, the report
//! and the attributes to apply only after it) are the same everywhere.

use super::{Create, RangeFeed, RestoreOptions, RestoreReport, RestoreSession, SealedPart, Write};
use crate::engine::crypto::Id;
use crate::engine::index::Index;
use crate::engine::rawpath::RawPath;
use crate::engine::snapshot::Snapshot;
use crate::engine::vault::Vault;
use crate::{Error, Result};

/// A [`RestoreSession`] with the bookkeeping a host needs around it.
pub struct RestoreRun {
    /// Kept after finishing, so host failures found later (renaming a file
    /// into place) still land in the report.
    session: RestoreSession,
    report: Option<RestoreReport>,
}

impl RestoreRun {
    /// Plans the restore of `snapshot` (see [`RestoreSession::new`]).
    pub fn new(
        vault: &Vault,
        snapshot: &Snapshot,
        index: &Index,
        options: RestoreOptions,
    ) -> Result<Self> {
        Ok(RestoreRun {
            session: RestoreSession::new(vault, snapshot, index, options)?,
            report: None,
        })
    }

    /// The running session; [`Error::InvalidState`] once finished.
    pub fn session(&self) -> Result<&RestoreSession> {
        match self.report {
            None => Ok(&self.session),
            Some(_) => Err(Error::finished("restore")),
        }
    }

    fn running(&mut self) -> Result<&mut RestoreSession> {
        match self.report {
            None => Ok(&mut self.session),
            Some(_) => Err(Error::finished("restore")),
        }
    }

    /// Feeds a fetched range (see [`RestoreSession::feed`]).
    pub fn feed(&mut self, bundle: &Id, offset: u64, bytes: &[u8]) -> Result<Vec<Write>> {
        self.running()?.feed(bundle, offset, bytes)
    }

    /// Starts feeding a range blob by blob (see
    /// [`RestoreSession::start_range`]).
    pub fn start_range(&mut self, bundle: &Id, offset: u64, len: usize) -> Result<RangeFeed> {
        self.running()?.start_range(bundle, offset, len)
    }

    /// The next write of `range` (see [`RestoreSession::next_write`]);
    /// `None` when it is done or the restore has finished.
    pub fn next_write(&mut self, range: &mut RangeFeed, bytes: &[u8]) -> Option<Write> {
        self.running().ok()?.next_write(range, bytes)
    }

    /// Every blob of a range as AES-256-GCM sees it, for a host that opens
    /// them itself (see [`RestoreSession::next_sealed`]): the same checks
    /// as [`feed`](Self::feed) first, then the parts in the range's order;
    /// blobs that fail before opening fail their files here.
    pub fn sealed_range(
        &mut self,
        bundle: &Id,
        offset: u64,
        bytes: &[u8],
    ) -> Result<Vec<SealedPart>> {
        let session = self.running()?;
        let mut range = session.start_range(bundle, offset, bytes.len())?;
        Ok(std::iter::from_fn(|| session.next_sealed(&mut range, bytes)).collect())
    }

    /// The writes of the parts of [`sealed_range`](Self::sealed_range),
    /// each opened by the host to its plaintext or `None` (see
    /// [`RestoreSession::open_sealed`]); `opened` gives one entry per part,
    /// in order.
    pub fn open_sealed(
        &mut self,
        parts: &[SealedPart],
        opened: Vec<Option<Vec<u8>>>,
    ) -> Result<Vec<Write>> {
        if opened.len() != parts.len() {
            return Err(Error::argument(
                "opened",
                format!(
                    "must have one entry per sealed blob ({}), got {}",
                    parts.len(),
                    opened.len()
                ),
            ));
        }
        let session = self.running()?;
        Ok(parts
            .iter()
            .zip(opened)
            .filter_map(|(part, opened)| session.open_sealed(part, opened))
            .collect())
    }

    /// The key that opens the vault's data blobs (see
    /// [`RestoreSession::blob_encryption_key`]).
    pub fn blob_encryption_key(&self) -> zeroize::Zeroizing<[u8; 32]> {
        self.session.blob_encryption_key()
    }

    /// Starts a range with its fetched bytes, its blobs opened on the
    /// session's workers if it has some (see
    /// [`RestoreSession::start_range_owned`]).
    pub fn start_range_owned<B>(&mut self, bundle: &Id, offset: u64, bytes: B) -> Result<RangeFeed>
    where
        B: AsRef<[u8]> + Send + Sync + 'static,
    {
        self.running()?.start_range_owned(bundle, offset, bytes)
    }

    /// The next write of a range started with its bytes (see
    /// [`RestoreSession::next_write_owned`]); `None` when it is done or
    /// the restore has finished.
    pub fn next_write_owned(&mut self, range: &mut RangeFeed) -> Option<Write> {
        self.running().ok()?.next_write_owned(range)
    }

    /// A bundle cannot be fetched (see [`RestoreSession::missing`]).
    pub fn missing(&mut self, bundle: &Id) -> Result<()> {
        self.running()?.missing(bundle)
    }

    /// The files complete since the last call (see
    /// [`RestoreSession::take_completed`]); empty once finished.
    pub fn take_completed(&mut self) -> Vec<RawPath> {
        self.session.take_completed()
    }

    /// The host could not create, write or move `path` into place (see
    /// [`RestoreSession::fail_path`]). Also after finishing: the report
    /// then counts the file as failed instead of restored.
    pub fn fail_path(&mut self, path: &RawPath, error: &str) -> Result<()> {
        self.session.fail_path(path, error)?;
        if self.report.is_some() {
            self.report = Some(self.session.report());
        }
        Ok(())
    }

    /// Ends the restore; the report stays readable with
    /// [`report`](Self::report). [`Error::InvalidState`] when called twice.
    pub fn finish(&mut self) -> Result<&RestoreReport> {
        if self.report.is_some() {
            return Err(Error::finished("restore"));
        }
        self.session.close();
        Ok(self.report.insert(self.session.report()))
    }

    /// The report, once finished ([`Error::InvalidState`] before).
    pub fn report(&self) -> Result<&RestoreReport> {
        self.report.as_ref().ok_or_else(|| Error::InvalidState {
            session: "restore".into(),
            reason: "has not finished: call finish first".into(),
        })
    }

    /// The modes and times to apply after the content, deepest first,
    /// failed entries left out (see [`RestoreReport::apply`]).
    pub fn apply(&self) -> Result<&[Create]> {
        Ok(&self.report()?.apply)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::backup::{BackupOptions, BackupSession, FileMeta, SnapshotInfo};
    use crate::engine::keys::KdfParams;
    use crate::engine::vault::VaultSettings;
    use crate::ErrorCode;
    use std::sync::Arc;

    #[test]
    fn the_report_and_attributes_come_after_finish_and_feeding_stops() {
        let vault = Vault::create(
            b"pw",
            VaultSettings::default(),
            KdfParams::insecure_for_tests(),
        )
        .unwrap();
        let mut s =
            BackupSession::new(&vault, Arc::new(Index::new()), BackupOptions::default()).unwrap();
        s.add_entry(FileMeta::dir("/d", 0o755, 5)).unwrap();
        s.start_file(FileMeta::file("/d/f", 0o600, 6)).unwrap();
        s.write(b"x").unwrap();
        s.finish_file().unwrap();
        let out = s.finish(SnapshotInfo::at(1)).unwrap();
        let mut index = Index::new();
        for b in &out.bundles {
            index.add_bundle(b);
        }
        let mut run =
            RestoreRun::new(&vault, &out.tree, &index, RestoreOptions::default()).unwrap();
        assert_eq!(run.report().unwrap_err().code(), ErrorCode::InvalidState);
        let plan = run.session().unwrap().plan();
        let b = &out.bundles[0];
        for r in &plan[0].ranges {
            let bytes = &b.bytes[r.offset as usize..(r.offset + r.length) as usize];
            assert_eq!(run.feed(&b.id, r.offset, bytes).unwrap().len(), 1);
        }
        assert_eq!(run.finish().unwrap().files_restored, 1);
        let paths: Vec<String> = run
            .apply()
            .unwrap()
            .iter()
            .map(|c| c.path.to_string())
            .collect();
        assert_eq!(paths, vec!["/d/f", "/d"], "deepest first");
        assert_eq!(run.finish().unwrap_err().code(), ErrorCode::InvalidState);
        assert_eq!(
            run.missing(&b.id).unwrap_err().code(),
            ErrorCode::InvalidState
        );
    }
}

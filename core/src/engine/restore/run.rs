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
    /// The ranges of [`sealed_range`](Self::sealed_range) whose blobs the
    /// host is opening, by token: taken back by
    /// [`open_sealed`](Self::open_sealed) or
    /// [`abandon_sealed`](Self::abandon_sealed), else failed by
    /// [`finish`](Self::finish), so no file is left neither restored nor
    /// failed.
    outstanding: std::collections::BTreeMap<u64, Vec<SealedPart>>,
    /// The token of the next such range.
    next_token: u64,
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
            outstanding: Default::default(),
            next_token: 0,
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
    /// as [`feed`](Self::feed) first, then a token and the parts in the
    /// range's order. Hand them back with [`open_sealed`](Self::open_sealed)
    /// (or [`abandon_sealed`](Self::abandon_sealed)); ranges still out at
    /// [`finish`](Self::finish) fail their files. For the same writes and
    /// report as feeding the ranges in turn, open them back in the order
    /// they were taken.
    pub fn sealed_range(
        &mut self,
        bundle: &Id,
        offset: u64,
        bytes: &[u8],
    ) -> Result<(u64, Vec<SealedPart>)> {
        let session = self.running()?;
        let mut range = session.start_range(bundle, offset, bytes.len())?;
        let parts: Vec<SealedPart> =
            std::iter::from_fn(|| session.next_sealed(&mut range, bytes)).collect();
        let token = self.next_token;
        self.next_token = self.next_token.wrapping_add(1);
        self.outstanding.insert(token, parts.clone());
        Ok((token, parts))
    }

    /// The writes of range `token` of [`sealed_range`](Self::sealed_range),
    /// each part opened by the host to its plaintext or `None` (see
    /// [`RestoreSession::open_sealed`]): one entry per part, in order.
    /// Refused without effect: an unknown or used token, or another number
    /// of entries ([`Error::InvalidArgument`]), or a finished restore.
    pub fn open_sealed(&mut self, token: u64, opened: Vec<Option<Vec<u8>>>) -> Result<Vec<Write>> {
        self.running()?;
        let parts = self
            .outstanding
            .get(&token)
            .ok_or_else(|| unknown_token(token))?;
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
        let parts = self.outstanding.remove(&token).unwrap_or_default();
        let session = self.running()?;
        Ok(parts
            .iter()
            .zip(opened)
            .filter_map(|(part, opened)| session.open_sealed(part, opened))
            .collect())
    }

    /// The host will not open range `token` (its own AES-GCM failed, not
    /// the blobs): each file using one of its blobs fails with
    /// [`Error::InvalidState`] saying `reason`.
    pub fn abandon_sealed(&mut self, token: u64, reason: &str) -> Result<()> {
        self.running()?;
        let parts = self
            .outstanding
            .remove(&token)
            .ok_or_else(|| unknown_token(token))?;
        let error = Error::InvalidState {
            session: "restore".into(),
            reason: format!("could not open a blob: {reason}"),
        };
        for part in &parts {
            self.session.abandon_sealed(part, &error);
        }
        Ok(())
    }

    /// The key that opens the vault's data blobs (see
    /// [`RestoreSession::blob_encryption_key`]), while the restore runs.
    pub fn blob_encryption_key(&mut self) -> Result<zeroize::Zeroizing<[u8; 32]>> {
        Ok(self.running()?.blob_encryption_key())
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
    /// then counts the file as failed instead of restored, while
    /// [`apply`](Self::apply) stays the list it was at `finish`, so a host
    /// walking it by position (a batch, an index) while failing entries
    /// misses none.
    pub fn fail_path(&mut self, path: &RawPath, error: &str) -> Result<()> {
        self.session.fail_path(path, error)?;
        if let Some(old) = self.report.as_mut() {
            let apply = std::mem::take(&mut old.apply);
            *old = RestoreReport {
                apply,
                ..self.session.report()
            };
        }
        Ok(())
    }

    /// Ends the restore; the report stays readable with
    /// [`report`](Self::report). [`Error::InvalidState`] when called twice.
    pub fn finish(&mut self) -> Result<&RestoreReport> {
        if self.report.is_some() {
            return Err(Error::finished("restore"));
        }
        let error = Error::InvalidState {
            session: "restore".into(),
            reason: "finished while the blob was being opened".into(),
        };
        for part in std::mem::take(&mut self.outstanding).values().flatten() {
            self.session.abandon_sealed(part, &error);
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
    /// entries failed by `finish` left out (see [`RestoreReport::apply`]);
    /// the same list however many `fail_path` calls come after.
    pub fn apply(&self) -> Result<&[Create]> {
        Ok(&self.report()?.apply)
    }
}

/// The error of a token [`RestoreRun::sealed_range`] did not give, or
/// that was handed back already.
fn unknown_token(token: u64) -> Error {
    Error::argument(
        "token",
        format!("{token} is not a range of sealed blobs still being opened"),
    )
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
        let (vault, out, index) = backed_up(Some("/d"), "/d/f", b"x");
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

    /// A vault with a backup of folder `dir` (if any) and `file` holding
    /// `data`, and its index.
    fn backed_up(
        dir: Option<&str>,
        file: &str,
        data: &[u8],
    ) -> (Vault, crate::engine::backup::BackupOutcome, Index) {
        let vault = Vault::create(
            b"pw",
            VaultSettings::default(),
            KdfParams::insecure_for_tests(),
        )
        .unwrap();
        let mut s =
            BackupSession::new(&vault, Arc::new(Index::new()), BackupOptions::default()).unwrap();
        if let Some(dir) = dir {
            s.add_entry(FileMeta::dir(dir, 0o755, 5)).unwrap();
        }
        s.start_file(FileMeta::file(file, 0o600, 6)).unwrap();
        s.write(data).unwrap();
        s.finish_file().unwrap();
        let out = s.finish(SnapshotInfo::at(1)).unwrap();
        let mut index = Index::new();
        for b in &out.bundles {
            index.add_bundle(b);
        }
        (vault, out, index)
    }

    #[test]
    fn sealed_ranges_are_opened_once_and_never_left_out_of_the_report() {
        use aes_gcm::{AeadInOut, Aes256Gcm, KeyInit};
        let (vault, out, index) = backed_up(None, "/f", b"some content");
        let b = &out.bundles[0];
        let fresh =
            || RestoreRun::new(&vault, &out.tree, &index, RestoreOptions::default()).unwrap();
        let range = |run: &RestoreRun| {
            let r = run.session().unwrap().plan()[0].ranges[0];
            (
                r.offset,
                &b.bytes[r.offset as usize..(r.offset + r.length) as usize],
            )
        };

        // Opened by "the host": the same write as feed gives.
        let mut run = fresh();
        let (offset, bytes) = range(&run);
        let (token, parts) = run.sealed_range(&b.id, offset, bytes).unwrap();
        assert_eq!(parts.len(), 1);
        let key = run.blob_encryption_key().unwrap();
        let cipher = Aes256Gcm::new((&*key).into());
        let body = &bytes[parts[0].body.clone()];
        let (text, tag) = body.split_at(body.len() - 16);
        let mut buf = text.to_vec();
        let tag: [u8; 16] = tag.try_into().unwrap();
        cipher
            .decrypt_inout_detached(
                &parts[0].nonce.into(),
                &parts[0].aad,
                buf.as_mut_slice().into(),
                &tag.into(),
            )
            .unwrap();
        // A wrong number of entries is refused and changes nothing.
        let err = run.open_sealed(token, vec![]).unwrap_err();
        assert_eq!(err.code(), ErrorCode::InvalidArgument);
        let writes = run.open_sealed(token, vec![Some(buf.clone())]).unwrap();
        assert_eq!(writes.len(), 1);
        assert_eq!(writes[0].data, b"some content");
        // A token is used once.
        let err = run.open_sealed(token, vec![Some(buf)]).unwrap_err();
        assert_eq!(err.code(), ErrorCode::InvalidArgument);
        assert_eq!(run.finish().unwrap().files_restored, 1);
        assert_eq!(
            run.blob_encryption_key().unwrap_err().code(),
            ErrorCode::InvalidState
        );

        // Still out at finish: the file fails, it is not left out.
        let mut run = fresh();
        let (offset, bytes) = range(&run);
        run.sealed_range(&b.id, offset, bytes).unwrap();
        let report = run.finish().unwrap();
        assert_eq!(report.files_restored, 0);
        let errors = report.errors.as_ref().expect("the file fails");
        assert_eq!(errors.list.iter().flatten().count(), 1);

        // Abandoned by the host: the same.
        let mut run = fresh();
        let (offset, bytes) = range(&run);
        let (token, _) = run.sealed_range(&b.id, offset, bytes).unwrap();
        run.abandon_sealed(token, "WebCrypto failed").unwrap();
        assert_eq!(
            run.abandon_sealed(token, "again").unwrap_err().code(),
            ErrorCode::InvalidArgument
        );
        let report = run.finish().unwrap();
        assert_eq!(report.files_restored, 0);
        assert!(report.errors.is_some());
    }
}

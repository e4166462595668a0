//! A backup as a host holds it across calls: running, then finished with
//! its outputs waiting to be taken, each once. Every binding wraps this one
//! type, so the order rules (no writes after `finish`, the index and the
//! snapshot only after it, each handed out once) are the same everywhere.

use std::collections::VecDeque;
use std::sync::Arc;

use super::{BackupOptions, BackupSession, SnapshotInfo};
use crate::engine::bundle::SealedBundle;
use crate::engine::index::Index;
use crate::engine::object::SealedObject;
use crate::engine::snapshot::BackupCounters;
use crate::engine::vault::Vault;
use crate::{Error, Result};

/// Where the run is in its life.
enum Stage {
    Running(Box<BackupSession>),
    /// Finished: the index delta and the snapshot until taken.
    Finished {
        index: Option<SealedObject>,
        snapshot: Option<SealedObject>,
    },
    /// `finish` failed: nothing more can come out.
    Failed,
}

/// A [`BackupSession`] with the bookkeeping a host needs around it.
///
/// Store what comes out in this order for crash safety: every bundle (from
/// [`take_bundle`](Self::take_bundle) / [`take_bundles`](Self::take_bundles),
/// before and after `finish`), then the index delta, then the snapshot.
pub struct BackupRun {
    stage: Stage,
    /// Sealed bundles not yet taken.
    bundles: VecDeque<SealedBundle>,
    /// The final counters, once finished.
    counters: BackupCounters,
}

impl BackupRun {
    /// Starts a backup into `vault`, deduplicating against `index`.
    pub fn new(vault: &Vault, index: Arc<Index>, options: BackupOptions) -> Result<Self> {
        Ok(BackupRun {
            stage: Stage::Running(Box::new(BackupSession::new(vault, index, options)?)),
            bundles: VecDeque::new(),
            counters: BackupCounters::default(),
        })
    }

    /// The running session, to push files into; [`Error::InvalidState`] once
    /// `finish` was called.
    pub fn session(&mut self) -> Result<&mut BackupSession> {
        match &mut self.stage {
            Stage::Running(session) => Ok(session),
            _ => Err(Error::finished("backup")),
        }
    }

    fn collect(&mut self) {
        if let Stage::Running(session) = &mut self.stage {
            self.bundles.extend(session.take_bundles());
        }
    }

    /// The next sealed bundle to store, if any (before and after `finish`).
    pub fn take_bundle(&mut self) -> Option<SealedBundle> {
        self.collect();
        self.bundles.pop_front()
    }

    /// Every sealed bundle not taken yet.
    pub fn take_bundles(&mut self) -> Vec<SealedBundle> {
        self.collect();
        self.bundles.drain(..).collect()
    }

    /// The counters so far; final once finished (zero if `finish` failed).
    pub fn counters(&self) -> BackupCounters {
        match &self.stage {
            Stage::Running(session) => session.counters(),
            _ => self.counters,
        }
    }

    /// Ends the backup: seals the last bundle, the index delta and the
    /// snapshot. A failure ends the run too (nothing more comes out of it;
    /// bundles already taken are unreferenced and harmless).
    pub fn finish(&mut self, info: SnapshotInfo) -> Result<()> {
        self.session()?;
        // Checked before the session is given up: a bad argument leaves the
        // backup running, so the host can call finish again.
        info.validate()?;
        self.collect();
        let Stage::Running(session) = std::mem::replace(&mut self.stage, Stage::Failed) else {
            return Err(Error::finished("backup"));
        };
        let outcome = session.finish(info)?;
        self.bundles.extend(outcome.bundles);
        self.counters = outcome.counters;
        self.stage = Stage::Finished {
            index: Some(outcome.index),
            snapshot: Some(outcome.snapshot),
        };
        Ok(())
    }

    fn finished_outputs(
        &mut self,
    ) -> Result<(&mut Option<SealedObject>, &mut Option<SealedObject>)> {
        match &mut self.stage {
            Stage::Finished { index, snapshot } => Ok((index, snapshot)),
            _ => Err(Error::InvalidState {
                session: "backup".into(),
                reason: "has not finished".into(),
            }),
        }
    }

    /// The index delta (store it as `index/<id>` after the bundles), once;
    /// `None` when already taken; [`Error::InvalidState`] before `finish`.
    pub fn take_index(&mut self) -> Result<Option<SealedObject>> {
        Ok(self.finished_outputs()?.0.take())
    }

    /// The snapshot (store it as `snapshots/<id>` last), once; `None` when
    /// already taken; [`Error::InvalidState`] before `finish`.
    pub fn take_snapshot(&mut self) -> Result<Option<SealedObject>> {
        Ok(self.finished_outputs()?.1.take())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::backup::FileMeta;
    use crate::engine::keys::KdfParams;
    use crate::engine::vault::VaultSettings;
    use crate::ErrorCode;

    fn run() -> BackupRun {
        let vault = Vault::create(
            b"pw",
            VaultSettings::default(),
            KdfParams::insecure_for_tests(),
        )
        .unwrap();
        BackupRun::new(&vault, Arc::new(Index::new()), BackupOptions::default()).unwrap()
    }

    fn info() -> SnapshotInfo {
        SnapshotInfo {
            time: 1,
            time_nanos: 0,
            hostname: None,
            backup_configuration_id: None,
            paths: Vec::new(),
            tags: Vec::new(),
        }
    }

    #[test]
    fn outputs_come_out_once_and_in_order() {
        let mut r = run();
        let s = r.session().unwrap();
        s.start_file(FileMeta::file("/a", 0o644, 0)).unwrap();
        s.write(b"hello").unwrap();
        s.finish_file().unwrap();
        assert_eq!(
            r.take_index().unwrap_err().code(),
            ErrorCode::InvalidState,
            "no index before finish"
        );
        r.finish(info()).unwrap();
        assert_eq!(r.counters().files_backed_up, 1);
        assert_eq!(r.take_bundles().len(), 1);
        assert!(r.take_bundle().is_none());
        assert!(r.take_index().unwrap().is_some());
        assert!(r.take_index().unwrap().is_none(), "once");
        assert!(r.take_snapshot().unwrap().is_some());
        assert!(r.take_snapshot().unwrap().is_none(), "once");
        let e = r.finish(info()).unwrap_err();
        assert_eq!(e.code(), ErrorCode::InvalidState);
        assert_eq!(e.to_string(), "the backup session has finished");
        assert_eq!(
            r.session().err().map(|e| e.code()),
            Some(ErrorCode::InvalidState)
        );
    }
}

//! Locks: who is using a vault, stored in the vault itself (`locks/<id>`)
//! through the host's storage, so that clients on any number of hosts,
//! over a local directory or Swift alike, see each other. The protocol
//! (docs/FORMAT.md, "Concurrency") in brief:
//!
//! - A backup (or restore, verify) holds a **shared** lock; gc, prune and
//!   repair hold an **exclusive** one. Any number of shared locks coexist.
//! - To lock, a client stores its lock object, then lists `locks/` and
//!   feeds every other lock to a [`LockTable`], whose [`LockTable::decide`]
//!   says: granted, wait (keep the lock and look again: an exclusive locker
//!   waiting for backups to end keeps new ones out, so gc is not starved),
//!   or back off (remove the lock; retry later or fail with
//!   [`Error::Locked`]). Storing before listing means that of two clients
//!   locking at once at least one sees the other.
//! - A holder rewrites its lock every [`LOCK_REFRESH_NS`]; a lock not
//!   rewritten for [`LOCK_STALE_NS`], or whose process is gone from the
//!   host that wrote it, is stale. A stale lock still blocks (its holder
//!   may only be paused): the error says so, and `unlock` removes it.
//! - A holder acts (a backup stores its index and snapshot, gc deletes)
//!   only while [`Lock::check_fresh`] passes: its lock was rewritten less
//!   than `LOCK_STALE_NS - LOCK_SAFETY_NS` ago. So a client whose lock
//!   another considers stale never commits or deletes anything.

use serde::{Deserialize, Serialize};

use super::crypto::{random_bytes, Id};
use super::format::ObjectKind;
use super::object::{object_name, open_object, seal_object, SealedObject};
use super::vault::Vault;
use crate::wire::encode_hex;
use crate::{Error, Result};

const SECOND_NS: i64 = 1_000_000_000;

/// The environment variable every host reads its lock wait from (a
/// command line's `--retry-lock` wins over it).
pub const RETRY_LOCK_ENV: &str = "CLOUDBACKUP_RETRY_LOCK";

/// How long (seconds) a host keeps trying for a busy vault's lock when
/// neither `--retry-lock` nor [`RETRY_LOCK_ENV`] says.
pub const DEFAULT_RETRY_LOCK: f64 = 60.0;

/// The longest span [`parse_seconds`] takes: what nanoseconds in an `i64`
/// hold (292 years), the core's times' range.
pub const MAX_SECONDS: f64 = 9_223_372_036.0;

/// A span of seconds given as text (a command line's `--retry-lock` or
/// `--grace`, an environment variable): a decimal number (`90`, `2.5`,
/// `1e3`) from 0 to [`MAX_SECONDS`]. [`Error::InvalidArgument`] naming
/// `name` otherwise (infinity and NaN included).
pub fn parse_seconds(name: &str, text: &str) -> Result<f64> {
    match text.parse::<f64>() {
        Ok(s) if (0.0..=MAX_SECONDS).contains(&s) => Ok(s),
        _ => Err(Error::argument(
            name,
            format!("{text:?} is not a number of seconds from 0 to {MAX_SECONDS}"),
        )),
    }
}

/// How long a host waits for a busy vault's lock: `text` (the value of
/// [`RETRY_LOCK_ENV`], or of an option named `name`) read by
/// [`parse_seconds`], [`DEFAULT_RETRY_LOCK`] when it is absent or empty.
pub fn retry_lock_seconds(name: &str, text: Option<&str>) -> Result<f64> {
    match text {
        None | Some("") => Ok(DEFAULT_RETRY_LOCK),
        Some(text) => parse_seconds(name, text),
    }
}

/// How often a holder rewrites its lock (5 minutes).
pub const LOCK_REFRESH_NS: i64 = 5 * 60 * SECOND_NS;

/// A lock not rewritten for this long (30 minutes) is stale.
pub const LOCK_STALE_NS: i64 = 30 * 60 * SECOND_NS;

/// A holder stops acting this long (5 minutes) before its lock could be
/// called stale, leaving room for clock skew and for the action itself.
pub const LOCK_SAFETY_NS: i64 = 5 * 60 * SECOND_NS;

/// A lock's contents (sealed like an index or snapshot: only holders of a
/// password can read or forge one).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Lock {
    /// Exclusive (gc, prune, repair) or shared (backup, restore, verify).
    pub exclusive: bool,
    /// What the holder is doing ("backup", "gc"...), for messages.
    pub operation: String,
    /// The host it runs on.
    pub hostname: String,
    /// Its process id on that host.
    pub pid: u32,
    /// When the lock was first taken, ns since the Unix epoch.
    pub created_ns: i64,
    /// When this version of it was written (the last refresh).
    pub time_ns: i64,
    /// Random, so that two locks never share an id.
    nonce: String,
}

impl Lock {
    /// A new lock for `operation`, taken now (`now_ns`, the host's clock).
    pub fn new(
        operation: &str,
        exclusive: bool,
        hostname: &str,
        pid: u32,
        now_ns: i64,
    ) -> Result<Self> {
        if operation.is_empty() {
            return Err(Error::argument("operation", "is empty"));
        }
        let mut nonce = [0u8; 16];
        random_bytes(&mut nonce)?;
        Ok(Lock {
            exclusive,
            operation: operation.to_string(),
            hostname: hostname.to_string(),
            pid,
            created_ns: now_ns,
            time_ns: now_ns,
            nonce: encode_hex(&nonce),
        })
    }

    /// The same lock, rewritten at `now_ns` (store it, then delete the old
    /// object: a refresh never leaves the holder without a lock).
    pub fn refreshed(&self, now_ns: i64) -> Lock {
        Lock {
            time_ns: now_ns.max(self.time_ns),
            ..self.clone()
        }
    }

    /// Whether it is time to refresh (more than [`LOCK_REFRESH_NS`] since
    /// the last write).
    pub fn needs_refresh(&self, now_ns: i64) -> bool {
        now_ns.saturating_sub(self.time_ns) >= LOCK_REFRESH_NS
    }

    /// Seals the lock as a `locks/<id>` object of `vault`.
    pub fn seal(&self, vault: &Vault) -> Result<SealedObject> {
        let json = serde_json::to_vec(self).map_err(|e| Error::json("lock", &e))?;
        seal_object(vault.keys(), vault.id(), ObjectKind::Lock, &json)
    }

    /// Opens the lock stored as `id`.
    pub fn open(vault: &Vault, id: &Id, bytes: &[u8]) -> Result<Self> {
        let plain = open_object(vault.keys(), vault.id(), ObjectKind::Lock, id, bytes)?;
        crate::error::from_json_slice(&object_name(ObjectKind::Lock, id), &plain)
    }

    /// Whether the lock is stale at `now_ns`: not rewritten for
    /// [`LOCK_STALE_NS`], or written on `local_host` by a process that
    /// `pid_alive` says is gone (None: unknown, or another host).
    pub fn is_stale(&self, now_ns: i64, local_host: &str, pid_alive: Option<bool>) -> bool {
        if now_ns.saturating_sub(self.time_ns) >= LOCK_STALE_NS {
            return true;
        }
        self.process_gone(local_host, pid_alive)
    }

    /// Whether it was written on `local_host` by a process that
    /// `pid_alive` says is gone: stale for certain, whatever its age.
    fn process_gone(&self, local_host: &str, pid_alive: Option<bool>) -> bool {
        self.hostname == local_host && pid_alive == Some(false)
    }

    /// [`Error::Locked`] unless the holder may still act at `now_ns`: its
    /// lock was rewritten less than `LOCK_STALE_NS - LOCK_SAFETY_NS` ago.
    /// A backup checks this before storing its index and snapshot, gc
    /// before deleting.
    pub fn check_fresh(&self, id: &Id, now_ns: i64) -> Result<()> {
        let age = now_ns.saturating_sub(self.time_ns);
        if age < LOCK_STALE_NS - LOCK_SAFETY_NS {
            return Ok(());
        }
        Err(Error::Locked {
            lock: id.to_hex(),
            holder: format!(
                "this process's own lock ({}) was last refreshed {}s ago, too long for it to act \
                 safely; nothing was committed",
                self.describe(),
                age / SECOND_NS
            ),
            stale: true,
        })
    }

    /// [`Error::Locked`] when the holder's lock object (stored as `id`) is
    /// no longer stored (`stored` false: someone ran `unlock --remove-all`,
    /// or storage lost it): others may have acted as if it were not there,
    /// so the holder must not commit. Checked with [`Lock::check_fresh`].
    pub fn check_stored(&self, id: &Id, stored: bool) -> Result<()> {
        if stored {
            return Ok(());
        }
        Err(Error::Locked {
            lock: id.to_hex(),
            holder: format!(
                "this process's own lock ({}) was removed while it worked; nothing was committed",
                self.describe()
            ),
            stale: false,
        })
    }

    /// "backup (shared) by pid 42 on web1 since 2026-12-04T12:00:00Z".
    pub fn describe(&self) -> String {
        format!(
            "{} ({}) by pid {} on {} since {}",
            self.operation,
            if self.exclusive {
                "exclusive"
            } else {
                "shared"
            },
            self.pid,
            self.hostname,
            rfc3339(self.created_ns)
        )
    }
}

/// `ns` since the epoch as an RFC 3339 UTC time (seconds precision).
fn rfc3339(ns: i64) -> String {
    crate::wire::Timestamp::from_unix_micros(ns.div_euclid(SECOND_NS) * 1_000_000)
        .to_string()
        .replace(".000000Z", "Z")
}

/// What [`LockTable::decide`] says.
#[derive(Debug, Clone, PartialEq)]
pub enum LockDecision {
    /// No conflict: go on.
    Granted,
    /// Keep the lock and list again shortly: an exclusive lock waits for
    /// the shared ones it saw to go (new shared lockers back off meanwhile).
    Wait(Error),
    /// Remove the lock; retry later, or fail with this [`Error::Locked`].
    BackOff(Error),
    /// Remove the lock and fail now with this [`Error::Locked`]: a lock in
    /// the way was written on this host by a process that is gone, so no
    /// wait can make it go; only `unlock` removes it. (A lock stale by age
    /// alone may belong to a paused process that comes back: that one
    /// backs off.) A host lists and decides once more before it fails: a
    /// holder that deleted its lock and exited between the listing and the
    /// check of its pid looks gone too, and the new listing no longer has it.
    GiveUp(Error),
}

/// Other clients' locks, as listed after storing one's own, and the rules
/// that decide between them.
#[derive(Debug)]
pub struct LockTable {
    now_ns: i64,
    hostname: String,
    locks: Vec<Other>,
}

#[derive(Debug)]
struct Other {
    id: Id,
    lock: std::result::Result<Lock, Error>,
    pid_alive: Option<bool>,
}

impl LockTable {
    /// A table as seen at `now_ns` by a process on `hostname`.
    pub fn new(now_ns: i64, hostname: &str) -> Self {
        LockTable {
            now_ns,
            hostname: hostname.to_string(),
            locks: Vec::new(),
        }
    }

    /// Adds a listed lock (not one's own); an unreadable one is kept as
    /// such (it blocks: nobody can tell what it protects) and its error
    /// returned.
    pub fn add(&mut self, vault: &Vault, id: &Id, bytes: &[u8]) -> Result<()> {
        let lock = Lock::open(vault, id, bytes);
        let err = lock.as_ref().err().cloned();
        self.locks.push(Other {
            id: *id,
            lock,
            pid_alive: None,
        });
        err.map_or(Ok(()), Err)
    }

    /// A listed lock the host could not read (gone meanwhile is not this:
    /// skip those).
    pub fn add_unreadable(&mut self, id: &Id, error: Error) {
        self.locks.push(Other {
            id: *id,
            lock: Err(error),
            pid_alive: None,
        });
    }

    /// The process ids of locks written on this host: the host says which
    /// are still running with [`LockTable::set_pid_alive`].
    pub fn local_pids(&self) -> Vec<u32> {
        let mut pids: Vec<u32> = self
            .locks
            .iter()
            .filter_map(|o| o.lock.as_ref().ok())
            .filter(|l| l.hostname == self.hostname)
            .map(|l| l.pid)
            .collect();
        pids.sort_unstable();
        pids.dedup();
        pids
    }

    /// Whether process `pid` of this host is running.
    pub fn set_pid_alive(&mut self, pid: u32, alive: bool) {
        for o in &mut self.locks {
            if matches!(&o.lock, Ok(l) if l.hostname == self.hostname && l.pid == pid) {
                o.pid_alive = Some(alive);
            }
        }
    }

    fn stale(&self, o: &Other) -> bool {
        match &o.lock {
            Ok(l) => l.is_stale(self.now_ns, &self.hostname, o.pid_alive),
            // Unreadable: stale only by its storage age, which the host
            // does not tell here; `unlock --remove-all` clears those.
            Err(_) => false,
        }
    }

    fn locked(&self, o: &Other) -> Error {
        Error::Locked {
            lock: o.id.to_hex(),
            holder: match &o.lock {
                Ok(l) => l.describe(),
                Err(e) => format!("an unreadable lock ({e})"),
            },
            stale: self.stale(o),
        }
    }

    /// Whether `mine` (stored as `my_id`) may go on, given the other locks.
    ///
    /// Shared: backs off from any exclusive or unreadable lock. Exclusive:
    /// backs off from an older exclusive lock (so of two, exactly one
    /// waits) or an unreadable one; waits while shared locks remain.
    /// Stale locks conflict like live ones (their error says they are
    /// stale, and how to remove them); one whose process is gone from this
    /// host makes the decision [`LockDecision::GiveUp`], since waiting for
    /// it would only delay the same error.
    pub fn decide(&self, my_id: &Id, mine: &Lock) -> LockDecision {
        let (mut wait, mut back_off) = (None, None);
        for o in self.locks.iter().filter(|o| o.id != *my_id) {
            let conflicts = match &o.lock {
                Err(_) => true,
                Ok(lock) => match (mine.exclusive, lock.exclusive) {
                    (false, true) => true,
                    (true, true) => (lock.created_ns, o.id) < (mine.created_ns, *my_id),
                    (true, false) if self.stale(o) => true,
                    (true, false) => {
                        wait.get_or_insert_with(|| self.locked(o));
                        false
                    }
                    (false, false) => false,
                },
            };
            if !conflicts {
                continue;
            }
            if self.holder_gone(o) {
                return LockDecision::GiveUp(self.locked(o));
            }
            back_off.get_or_insert_with(|| self.locked(o));
        }
        match (back_off, wait) {
            (Some(e), _) => LockDecision::BackOff(e),
            (None, Some(e)) => LockDecision::Wait(e),
            (None, None) => LockDecision::Granted,
        }
    }

    /// Whether `o` was written on this host by a process that is gone.
    fn holder_gone(&self, o: &Other) -> bool {
        matches!(&o.lock, Ok(l) if l.process_gone(&self.hostname, o.pid_alive))
    }

    /// The locks `unlock` removes: the stale ones, or with `all` every
    /// listed lock (unreadable ones included).
    pub fn removable(&self, all: bool) -> Vec<(Id, String)> {
        self.locks
            .iter()
            .filter(|o| all || self.stale(o))
            .map(|o| {
                let what = match &o.lock {
                    Ok(l) => l.describe(),
                    Err(e) => format!("unreadable lock ({e})"),
                };
                (o.id, what)
            })
            .collect()
    }

    /// Every listed lock described, with whether it is stale.
    pub fn describe(&self) -> Vec<(Id, String, bool)> {
        self.locks
            .iter()
            .map(|o| {
                let what = match &o.lock {
                    Ok(l) => l.describe(),
                    Err(e) => format!("unreadable lock ({e})"),
                };
                (o.id, what, self.stale(o))
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::keys::KdfParams;
    use crate::engine::vault::VaultSettings;
    use crate::ErrorCode;

    const T: i64 = 1_800_000_000 * SECOND_NS;

    fn vault() -> Vault {
        Vault::create(
            b"pw",
            VaultSettings::default(),
            KdfParams::insecure_for_tests(),
        )
        .unwrap()
    }

    fn table_with(v: &Vault, now: i64, locks: &[&Lock]) -> (LockTable, Vec<Id>) {
        let mut t = LockTable::new(now, "here");
        let mut ids = Vec::new();
        for l in locks {
            let o = l.seal(v).unwrap();
            t.add(v, &o.id, &o.bytes).unwrap();
            ids.push(o.id);
        }
        (t, ids)
    }

    #[test]
    fn locks_round_trip_and_are_authenticated() {
        let v = vault();
        let l = Lock::new("backup", false, "web1", 42, T).unwrap();
        let o = l.seal(&v).unwrap();
        assert_eq!(Lock::open(&v, &o.id, &o.bytes).unwrap(), l);
        let mut bad = o.bytes.clone();
        let last = bad.len() - 1;
        bad[last] ^= 1;
        assert_eq!(
            Lock::open(&v, &o.id, &bad).unwrap_err().code(),
            ErrorCode::Corrupt
        );
        assert_ne!(
            Lock::new("backup", false, "web1", 42, T)
                .unwrap()
                .seal(&v)
                .unwrap()
                .id,
            o.id,
            "two identical locks have different ids"
        );
        assert!(
            l.describe()
                .contains("backup (shared) by pid 42 on web1 since 2027-"),
            "{}",
            l.describe()
        );
    }

    #[test]
    fn shared_locks_coexist_and_back_off_from_exclusive_ones() {
        let v = vault();
        let a = Lock::new("backup", false, "h1", 1, T).unwrap();
        let b = Lock::new("backup", false, "h2", 2, T).unwrap();
        let (t, ids) = table_with(&v, T, &[&a, &b]);
        assert_eq!(t.decide(&ids[0], &a), LockDecision::Granted);
        let g = Lock::new("gc", true, "h3", 3, T + 1).unwrap();
        let (t, ids) = table_with(&v, T + 2, &[&a, &g]);
        match t.decide(&ids[0], &a) {
            LockDecision::BackOff(e) => {
                assert_eq!(e.code(), ErrorCode::Locked);
                assert!(
                    e.to_string().contains("gc (exclusive) by pid 3 on h3"),
                    "{e}"
                );
                assert!(e.to_string().contains("try again"), "{e}");
            }
            other => panic!("{other:?}"),
        }
        // The gc waits for the backup, keeping its lock.
        assert!(matches!(t.decide(&ids[1], &g), LockDecision::Wait(_)));
        let (t, ids) = table_with(&v, T + 2, &[&g]);
        assert_eq!(t.decide(&ids[0], &g), LockDecision::Granted);
    }

    #[test]
    fn of_two_exclusive_lockers_the_younger_backs_off() {
        let v = vault();
        let old = Lock::new("gc", true, "h1", 1, T).unwrap();
        let young = Lock::new("gc", true, "h2", 2, T + 5).unwrap();
        let (t, ids) = table_with(&v, T + 6, &[&old, &young]);
        assert_eq!(t.decide(&ids[0], &old), LockDecision::Granted);
        assert!(matches!(
            t.decide(&ids[1], &young),
            LockDecision::BackOff(_)
        ));
    }

    #[test]
    fn stale_locks_block_with_a_message_naming_unlock_and_are_removable() {
        let v = vault();
        let dead_here = Lock::new("backup", false, "here", 77, T).unwrap();
        let old_elsewhere = Lock::new("backup", false, "far", 78, T).unwrap();
        let live = Lock::new("backup", false, "far", 79, T + LOCK_STALE_NS).unwrap();
        let gc = Lock::new("gc", true, "here", 80, T + LOCK_STALE_NS).unwrap();
        let (mut t, ids) = table_with(
            &v,
            T + LOCK_STALE_NS,
            &[&dead_here, &old_elsewhere, &live, &gc],
        );
        assert_eq!(t.local_pids(), vec![77, 80]);
        t.set_pid_alive(77, false);
        t.set_pid_alive(80, true);
        // The dead process's lock can never go by itself: give up now.
        match t.decide(&ids[3], &gc) {
            LockDecision::GiveUp(e) => {
                assert!(e.to_string().contains("cloudbackup unlock"), "{e}");
                assert!(e.to_string().contains("pid 77"), "{e}");
            }
            other => panic!("{other:?}"),
        }
        // Stale by age alone (its holder may be paused): back off, retry.
        let (aged, aged_ids) = table_with(&v, T + LOCK_STALE_NS, &[&old_elsewhere, &live, &gc]);
        match aged.decide(&aged_ids[2], &gc) {
            LockDecision::BackOff(e) => {
                assert!(e.to_string().contains("cloudbackup unlock"), "{e}")
            }
            other => panic!("{other:?}"),
        }
        // A backup meeting a gc whose process is gone gives up too; one
        // whose process runs, or of another host, is waited out.
        let backup = Lock::new("backup", false, "here", 81, T + LOCK_STALE_NS).unwrap();
        let (mut b, b_ids) = table_with(&v, T + LOCK_STALE_NS, &[&gc, &backup]);
        b.set_pid_alive(80, false);
        assert!(matches!(
            b.decide(&b_ids[1], &backup),
            LockDecision::GiveUp(_)
        ));
        b.set_pid_alive(80, true);
        assert!(matches!(
            b.decide(&b_ids[1], &backup),
            LockDecision::BackOff(_)
        ));
        let removable: Vec<Id> = t.removable(false).into_iter().map(|(id, _)| id).collect();
        assert_eq!(
            removable,
            vec![ids[0], ids[1]],
            "the dead and the old, not the live"
        );
        assert_eq!(t.removable(true).len(), 4);
    }

    #[test]
    fn unreadable_locks_block_everyone() {
        let mine = Lock::new("backup", false, "h", 1, T).unwrap();
        let mut t = LockTable::new(T, "h");
        t.add_unreadable(&Id([1; 32]), Error::corrupt("lock 01010101", "bad"));
        assert!(matches!(
            t.decide(&Id([2; 32]), &mine),
            LockDecision::BackOff(_)
        ));
    }

    #[test]
    fn a_holder_acts_only_while_its_lock_is_fresh() {
        let l = Lock::new("backup", false, "h", 1, T).unwrap();
        let id = Id([5; 32]);
        assert!(l.check_fresh(&id, T + LOCK_REFRESH_NS).is_ok());
        let late = T + LOCK_STALE_NS - LOCK_SAFETY_NS;
        assert_eq!(
            l.check_fresh(&id, late).unwrap_err().code(),
            ErrorCode::Locked
        );
        assert!(!l.needs_refresh(T + 1));
        assert!(l.needs_refresh(T + LOCK_REFRESH_NS));
        let r = l.refreshed(late);
        assert!(r.check_fresh(&id, late + 1).is_ok());
        assert!(r.check_stored(&id, true).is_ok());
        let e = r.check_stored(&id, false).unwrap_err();
        assert!(e.to_string().contains("was removed"), "{e}");
        assert_eq!(r.created_ns, l.created_ns);
    }

    #[test]
    fn lock_waits_are_seconds_within_the_core_s_time_range() {
        let wait = |t| retry_lock_seconds(RETRY_LOCK_ENV, t);
        assert_eq!(wait(None).unwrap(), DEFAULT_RETRY_LOCK);
        assert_eq!(wait(Some("")).unwrap(), DEFAULT_RETRY_LOCK);
        assert_eq!(wait(Some("0")).unwrap(), 0.0);
        assert_eq!(wait(Some("2.5")).unwrap(), 2.5);
        assert_eq!(wait(Some("1e3")).unwrap(), 1000.0);
        assert_eq!(wait(Some("9223372036")).unwrap(), MAX_SECONDS);
        for bad in [
            "soon",
            "-1",
            "inf",
            "NaN",
            " 5",
            "5s",
            "9223372037",
            "1e300",
        ] {
            let e = wait(Some(bad)).unwrap_err();
            assert_eq!(e.code(), crate::ErrorCode::InvalidArgument, "{bad}");
            assert!(
                e.to_string()
                    .starts_with("invalid argument `CLOUDBACKUP_RETRY_LOCK`: "),
                "{e}"
            );
        }
        let e = parse_seconds("--grace", "soon").unwrap_err().to_string();
        assert_eq!(
            e,
            "invalid argument `--grace`: \"soon\" is not a number of seconds from 0 to 9223372036"
        );
    }
}

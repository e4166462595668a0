//! Locks: who is using a vault (`locks/<id>` objects) and the decisions
//! between them (`LockTable`). The host stores, lists, fetches and deletes
//! the objects and says which local processes are alive; the rules are the
//! core's (`engine::lock`).

use cloudbackup_core::engine::{self as core_engine, LockDecision};
use wasm_bindgen::prelude::*;

use crate::engine::{object_js, set, Vault};
use crate::{bool_arg, buffer_arg, id_arg, ns_arg, string_arg, u32_arg, Failure, JsResult};

#[wasm_bindgen(typescript_custom_section)]
const TS_LOCK: &'static str = r#"
import type { LockedError } from "../errors.js";
/**
 * What `LockTable.decide` says. `granted`: go on. `wait`: keep the lock,
 * list again shortly (an exclusive locker waiting for shared ones to end).
 * `back_off`: delete the lock; retry later, or fail with `error`.
 * `give_up`: delete the lock and fail now with `error`: a lock in the way
 * was written on this host by a process that is gone (`setPidAlive`), so no
 * wait can make it go (`unlock` removes it).
 */
export type LockDecision =
  | { decision: "granted" }
  | { decision: "wait"; error: LockedError }
  | { decision: "back_off"; error: LockedError }
  | { decision: "give_up"; error: LockedError };
/** A lock `unlock` may remove (`LockTable.removable`). */
export interface RemovableLock { id: string; holder: string; }
"#;

/// A lock of a vault: store `seal(vault)` as `locks/<id>`, rewrite it
/// (`refreshed`) when `needsRefresh`, check `checkFresh` before committing,
/// delete it when done.
#[wasm_bindgen]
pub struct Lock {
    inner: core_engine::Lock,
}

#[wasm_bindgen]
impl Lock {
    /// A new lock for `operation` ("backup", "restore", "gc"...): shared
    /// (backup, restore, verify) or exclusive (gc, prune, repair), taken by
    /// process `pid` on `hostname` at `nowNs`.
    #[wasm_bindgen(constructor)]
    pub fn new(
        #[wasm_bindgen(unchecked_param_type = "string")] operation: JsValue,
        #[wasm_bindgen(unchecked_param_type = "boolean")] exclusive: JsValue,
        #[wasm_bindgen(unchecked_param_type = "string")] hostname: JsValue,
        #[wasm_bindgen(unchecked_param_type = "number")] pid: JsValue,
        #[wasm_bindgen(js_name = "nowNs", unchecked_param_type = "Nanoseconds")] now_ns: JsValue,
    ) -> JsResult<Lock> {
        let operation = string_arg(&operation, "operation")?;
        let exclusive = bool_arg(&exclusive, "exclusive")?;
        let hostname = string_arg(&hostname, "hostname")?;
        let pid = u32_arg(&pid, "pid")?;
        let now_ns = ns_arg(&now_ns, "nowNs")?;
        Ok(Lock {
            inner: core_engine::Lock::new(&operation, exclusive, &hostname, pid, now_ns)?,
        })
    }

    /// Opens the lock stored as `locks/<id>`.
    pub fn open(
        vault: &Vault,
        #[wasm_bindgen(unchecked_param_type = "string")] id: JsValue,
        #[wasm_bindgen(unchecked_param_type = "Bytes")] bytes: JsValue,
    ) -> JsResult<Lock> {
        let id = id_arg(&id, "id")?;
        let bytes = buffer_arg(&bytes, "bytes")?;
        Ok(Lock {
            inner: core_engine::Lock::open(&vault.inner, &id, &bytes)?,
        })
    }

    /// The lock sealed for `vault`: store it as `locks/<id>`.
    #[wasm_bindgen(unchecked_return_type = "StoredObject")]
    pub fn seal(&self, vault: &Vault) -> JsResult<JsValue> {
        let o = self.inner.seal(&vault.inner)?;
        object_js(&o.id, &o.bytes)
    }

    /// The same lock rewritten at `nowNs`: store it (under its new id), then
    /// delete the old object.
    pub fn refreshed(
        &self,
        #[wasm_bindgen(js_name = "nowNs", unchecked_param_type = "Nanoseconds")] now_ns: JsValue,
    ) -> JsResult<Lock> {
        let now_ns = ns_arg(&now_ns, "nowNs")?;
        Ok(Lock {
            inner: self.inner.refreshed(now_ns),
        })
    }

    /// Whether it is time to refresh the lock.
    #[wasm_bindgen(js_name = "needsRefresh")]
    pub fn needs_refresh(
        &self,
        #[wasm_bindgen(js_name = "nowNs", unchecked_param_type = "Nanoseconds")] now_ns: JsValue,
    ) -> JsResult<bool> {
        Ok(self.inner.needs_refresh(ns_arg(&now_ns, "nowNs")?))
    }

    /// Throws `LockedError` unless the holder (this lock, stored as `id`)
    /// may still act at `nowNs`: call it before committing (a backup before
    /// storing its index and snapshot, gc before deleting).
    #[wasm_bindgen(js_name = "checkFresh")]
    pub fn check_fresh(
        &self,
        #[wasm_bindgen(unchecked_param_type = "string")] id: JsValue,
        #[wasm_bindgen(js_name = "nowNs", unchecked_param_type = "Nanoseconds")] now_ns: JsValue,
    ) -> JsResult<()> {
        let id = id_arg(&id, "id")?;
        let now_ns = ns_arg(&now_ns, "nowNs")?;
        Ok(self.inner.check_fresh(&id, now_ns)?)
    }

    /// "backup (shared) by pid 42 on web1 since 2026-12-04T12:00:00Z".
    pub fn describe(&self) -> String {
        self.inner.describe()
    }

    /// Whether the lock is exclusive.
    #[wasm_bindgen(getter)]
    pub fn exclusive(&self) -> bool {
        self.inner.exclusive
    }

    /// What the holder is doing.
    #[wasm_bindgen(getter)]
    pub fn operation(&self) -> String {
        self.inner.operation.clone()
    }

    /// The host the holder runs on.
    #[wasm_bindgen(getter)]
    pub fn hostname(&self) -> String {
        self.inner.hostname.clone()
    }

    /// The holder's process id.
    #[wasm_bindgen(getter)]
    pub fn pid(&self) -> u32 {
        self.inner.pid
    }

    /// When the lock was first taken (ns since the Unix epoch).
    #[wasm_bindgen(getter = createdNs)]
    pub fn created_ns(&self) -> i64 {
        self.inner.created_ns
    }

    /// When this version of it was written (the last refresh).
    #[wasm_bindgen(getter = timeNs)]
    pub fn time_ns(&self) -> i64 {
        self.inner.time_ns
    }
}

/// The other clients' locks, as listed after storing one's own, and the
/// rules that decide between them.
#[wasm_bindgen]
pub struct LockTable {
    inner: core_engine::LockTable,
}

#[wasm_bindgen]
impl LockTable {
    /// A table as seen at `nowNs` by a process on `hostname`.
    #[wasm_bindgen(constructor)]
    pub fn new(
        #[wasm_bindgen(js_name = "nowNs", unchecked_param_type = "Nanoseconds")] now_ns: JsValue,
        #[wasm_bindgen(unchecked_param_type = "string")] hostname: JsValue,
    ) -> JsResult<LockTable> {
        let now_ns = ns_arg(&now_ns, "nowNs")?;
        let hostname = string_arg(&hostname, "hostname")?;
        Ok(LockTable {
            inner: core_engine::LockTable::new(now_ns, &hostname),
        })
    }

    /// Adds a listed lock (not one's own; skip one that vanished before it
    /// could be fetched). An unreadable lock throws its error and is kept
    /// all the same (it blocks: nobody can tell what it protects).
    pub fn add(
        &mut self,
        vault: &Vault,
        #[wasm_bindgen(unchecked_param_type = "string")] id: JsValue,
        #[wasm_bindgen(unchecked_param_type = "Bytes")] bytes: JsValue,
    ) -> JsResult<()> {
        let id = id_arg(&id, "id")?;
        let bytes = buffer_arg(&bytes, "bytes")?;
        Ok(self.inner.add(&vault.inner, &id, &bytes)?)
    }

    /// The process ids of locks written on this host: say which still run
    /// with `setPidAlive` (node: `process.kill(pid, 0)` succeeds, or fails
    /// with EPERM).
    #[wasm_bindgen(js_name = "localPids", unchecked_return_type = "number[]")]
    pub fn local_pids(&self) -> JsValue {
        let out = js_sys::Array::new();
        for pid in self.inner.local_pids() {
            out.push(&JsValue::from(pid));
        }
        out.into()
    }

    /// Whether process `pid` of this host is running.
    #[wasm_bindgen(js_name = "setPidAlive")]
    pub fn set_pid_alive(
        &mut self,
        #[wasm_bindgen(unchecked_param_type = "number")] pid: JsValue,
        #[wasm_bindgen(unchecked_param_type = "boolean")] alive: JsValue,
    ) -> JsResult<()> {
        let pid = u32_arg(&pid, "pid")?;
        let alive = bool_arg(&alive, "alive")?;
        self.inner.set_pid_alive(pid, alive);
        Ok(())
    }

    /// Whether `lock` (one's own, stored as `myId`) may go on, given the
    /// other locks: shared locks back off from exclusive ones; an exclusive
    /// lock waits for shared ones and backs off from an older exclusive one.
    /// Stale locks conflict like live ones (the error says they are stale
    /// and that `cloudbackup unlock` removes them).
    #[wasm_bindgen(unchecked_return_type = "LockDecision")]
    pub fn decide(
        &self,
        #[wasm_bindgen(js_name = "myId", unchecked_param_type = "string")] my_id: JsValue,
        lock: &Lock,
    ) -> JsResult<JsValue> {
        let my_id = id_arg(&my_id, "myId")?;
        let o = js_sys::Object::new();
        let (decision, error) = match self.inner.decide(&my_id, &lock.inner) {
            LockDecision::Granted => ("granted", None),
            LockDecision::Wait(e) => ("wait", Some(e)),
            LockDecision::BackOff(e) => ("back_off", Some(e)),
            LockDecision::GiveUp(e) => ("give_up", Some(e)),
        };
        set(&o, "decision", &JsValue::from_str(decision))?;
        if let Some(e) = error {
            set(&o, "error", &JsValue::from(Failure::Core(e)))?;
        }
        Ok(o.into())
    }

    /// The locks `unlock` removes: the stale ones, or with `all` every
    /// listed lock (unreadable ones included).
    #[wasm_bindgen(unchecked_return_type = "RemovableLock[]")]
    pub fn removable(
        &self,
        #[wasm_bindgen(unchecked_param_type = "boolean")] all: JsValue,
    ) -> JsResult<JsValue> {
        let all = bool_arg(&all, "all")?;
        let out = js_sys::Array::new();
        for (id, holder) in self.inner.removable(all) {
            let o = js_sys::Object::new();
            set(&o, "id", &JsValue::from_str(&id.to_hex()))?;
            set(&o, "holder", &JsValue::from_str(&holder))?;
            out.push(&o);
        }
        Ok(out.into())
    }
}

/// How many seconds a host waits for a busy vault's lock: `text` (the value
/// of `CLOUDBACKUP_RETRY_LOCK`, or of an option called `name`) as a decimal
/// number of seconds from 0 to 9223372036, 60 when it is `undefined`,
/// `null` or empty; `InvalidArgumentError` naming `name` otherwise.
#[wasm_bindgen(js_name = "retryLockSeconds")]
pub fn retry_lock_seconds(
    #[wasm_bindgen(unchecked_param_type = "string")] name: JsValue,
    #[wasm_bindgen(unchecked_param_type = "string | null | undefined")] text: JsValue,
) -> JsResult<f64> {
    let name = string_arg(&name, "name")?;
    let text = if text.is_null_or_undefined() {
        None
    } else {
        Some(string_arg(&text, "text")?)
    };
    Ok(core_engine::lock::retry_lock_seconds(
        &name,
        text.as_deref(),
    )?)
}

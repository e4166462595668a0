//! What a host has read of a vault (`VaultState`: `latest`, id prefixes,
//! the gc plan, verify's problems), the storage layout's names, and the
//! snapshot path rules a restore joins paths and temporary names with.
//! Thin: the rules are the core's (`engine::state`, `engine::layout`,
//! `engine::paths`).

use std::sync::Arc;

use cloudbackup_core::engine::format::ObjectKind;
use cloudbackup_core::engine::{self as core_engine, layout, paths, Listed, RawPath, StoredName};
use cloudbackup_core::Error;
use serde_json::{json, Value};
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;

use crate::engine::{set, Index, Snapshot, Vault};
use crate::{
    argument, buffer_arg, id_arg, json_to_js, ns_arg, path_arg, size_arg, string_arg, to_js,
    u32_arg, wrong, JsResult,
};

#[wasm_bindgen(typescript_custom_section)]
const TS_STATE: &'static str = r#"
/** Nanoseconds (since the Unix epoch, or a duration) are `bigint`s: a JS number cannot hold today's time in nanoseconds exactly. Node: `(await stat(p, { bigint: true })).mtimeNs`, `BigInt(Date.now()) * 1000000n`. */
export type Nanoseconds = bigint;
/** The kinds of object stored as `<dir>/<id>`. */
export type ObjectType = "bundle" | "index" | "snapshot" | "lock";
/** What a listed name is (`parseName`). */
export type StoredName =
  | { kind: "config" }
  | { kind: "object"; type: ObjectType; id: string }
  /** A host's temporary object (`<dir>/<anything>.tmp`: a write in flight, or left by a killed process). */
  | { kind: "temporary"; type: ObjectType }
  /** An object `repair` set aside (`lost+found/<dir>/<id>`). */
  | { kind: "set_aside"; type: ObjectType; id: string }
  | { kind: "unknown" };
/** One object as the host's listing shows it. */
export interface Listed { name: string; size: number; mtime_ns: Nanoseconds; }
/** One readable snapshot in a listing (`VaultState.summaries()`, oldest first). */
export interface SnapshotSummary {
  id: string;
  /** Start time, Unix seconds. */
  time: number;
  /** Its sub-second part in nanoseconds. */
  time_nanos: number;
  hostname: string | null;
  backup_configuration_id: string | null;
  /** Number of entries (files, directories, symlinks). */
  entries: number;
  counters: BackupCounters;
  /** The paths the backup was given (its roots), quoted form. */
  paths: QuotedPath[];
  /** Its tags, sorted. */
  tags: string[];
}
/** Something wrong with a vault besides bundle contents: the object it concerns and the error's code and message. */
export interface Problem { object: string; code: string; message: string; }
/** An index delta or snapshot that could not be read, and why. */
export interface UnreadableObject { id: string; code: string; message: string; }
/** What gc deletes (`VaultState.gcPlan`), and what it saw. */
export interface GcPlan {
  /** Bundles an index references (kept). */
  referenced_bundles: number;
  /** Bundles no index references. */
  unreferenced_bundles: number;
  /** Unreferenced bundles and temporary objects younger than the grace period (kept: maybe a write in flight elsewhere). */
  kept_young: number;
  /** Temporary objects to delete. */
  temporary: number;
  /** The objects to delete (unreferenced old bundles, stale temporaries). */
  delete: Listed[];
  /** Their total size. */
  delete_bytes: number;
}
"#;

/// The object kind named `name` ("bundle", "index", "snapshot", "lock").
fn object_type(value: &JsValue, name: &str) -> JsResult<ObjectKind> {
    let text = string_arg(value, name)?;
    ObjectKind::STORED
        .into_iter()
        .find(|k| k.name() == text)
        .ok_or_else(|| {
            argument(
                name,
                format!("{text:?} is not one of bundle, index, snapshot, lock"),
            )
        })
}

/// A vault as a host read it: feed the listing (`addListed` for every
/// object name of the vault: the core classifies them), then fetch every
/// name of `wanted()` and hand its bytes to `addObject` (or `addUnreadable`
/// when the fetch fails). Then: `resolve("latest" | id | prefix)`,
/// `snapshot(id)`, `index()`, `summaries()`, `problems()`, `gcPlan(...)`.
#[wasm_bindgen]
pub struct VaultState {
    inner: core_engine::VaultState,
    /// The union index as an `Index` to hand out, made on first use after
    /// a change (an `Index` shares it, so handing it out copies nothing).
    index: Option<Arc<core_engine::Index>>,
}

impl VaultState {
    /// The core's state.
    pub(crate) fn core(&self) -> &core_engine::VaultState {
        &self.inner
    }
}

#[wasm_bindgen]
impl VaultState {
    /// An empty state of `vault` (nothing listed yet).
    #[wasm_bindgen(constructor)]
    pub fn new(vault: &Vault) -> VaultState {
        VaultState {
            inner: core_engine::VaultState::new(&vault.inner),
            index: None,
        }
    }

    /// Adds one listed object: its name relative to the vault
    /// (`bundles/<id>`...; names the core does not know, and the config,
    /// are ignored), its size in bytes and its mtime in nanoseconds (a
    /// `bigint`).
    #[wasm_bindgen(js_name = "addListed")]
    pub fn add_listed(
        &mut self,
        #[wasm_bindgen(unchecked_param_type = "string")] name: JsValue,
        #[wasm_bindgen(unchecked_param_type = "number")] size: JsValue,
        #[wasm_bindgen(js_name = "mtimeNs", unchecked_param_type = "Nanoseconds")]
        mtime_ns: JsValue,
    ) -> JsResult<()> {
        let listed = Listed {
            name: string_arg(&name, "name")?,
            size: size_arg(&size, "size")?,
            mtime_ns: ns_arg(&mtime_ns, "mtimeNs")?,
        };
        self.inner.add_listed(listed);
        Ok(())
    }

    /// The names of the objects to fetch and hand to `addObject`: every
    /// index delta and snapshot listed and not read yet.
    #[wasm_bindgen(unchecked_return_type = "string[]")]
    pub fn wanted(&self) -> JsResult<JsValue> {
        to_js("wanted", &self.inner.wanted())
    }

    /// Forgets the listing but keeps what was read: after listing the
    /// vault again (`addListed`), `wanted()` names only the objects new
    /// since (a backup's gc then reads only those). Objects removed
    /// meanwhile stay in what was read: a gc keeps more, never less.
    #[wasm_bindgen(js_name = "clearListing")]
    pub fn clear_listing(&mut self) {
        self.inner.clear_listing();
    }

    /// The id of the snapshot a backup of `paths` (its roots: `QuotedPath`
    /// strings or `Uint8Array` bytes) by `hostname` should take unchanged
    /// files from: the latest readable snapshot of the same host and the
    /// same set of roots, or `null`.
    #[wasm_bindgen(js_name = "parentFor", unchecked_return_type = "string | null")]
    pub fn parent_for(
        &self,
        #[wasm_bindgen(unchecked_param_type = "string | null | undefined")] hostname: JsValue,
        #[wasm_bindgen(unchecked_param_type = "Array<QuotedPath | Bytes>")] paths: JsValue,
    ) -> JsResult<JsValue> {
        let hostname = if hostname.is_null() || hostname.is_undefined() {
            None
        } else {
            Some(string_arg(&hostname, "hostname")?)
        };
        let list = paths
            .dyn_ref::<js_sys::Array>()
            .ok_or_else(|| wrong("paths", "an array of paths", &paths))?;
        let roots = list
            .iter()
            .enumerate()
            .map(|(i, p)| path_arg(&p, &format!("paths[{i}]")))
            .collect::<JsResult<Vec<RawPath>>>()?;
        // `null`, not `undefined`, when there is none (what the type says).
        Ok(self
            .inner
            .parent_for(hostname.as_deref(), &roots)
            .map_or(JsValue::NULL, |id| JsValue::from_str(&id.to_hex())))
    }

    /// The bytes of the index delta or snapshot stored as `name`. A damaged
    /// object throws its error (`CorruptError`...) and is recorded as
    /// unreadable all the same: catch, and go on with the next.
    #[wasm_bindgen(js_name = "addObject")]
    pub fn add_object(
        &mut self,
        #[wasm_bindgen(unchecked_param_type = "string")] name: JsValue,
        #[wasm_bindgen(unchecked_param_type = "Bytes")] bytes: JsValue,
    ) -> JsResult<()> {
        let name = string_arg(&name, "name")?;
        let bytes = buffer_arg(&bytes, "bytes")?;
        self.index = None;
        Ok(self.inner.add_object(&name, &bytes)?)
    }

    /// The object `name` was listed but could not be fetched (`reason`: the
    /// storage's words, e.g. "not found"): recorded as unreadable.
    #[wasm_bindgen(js_name = "addUnreadable")]
    pub fn add_unreadable(
        &mut self,
        #[wasm_bindgen(unchecked_param_type = "string")] name: JsValue,
        #[wasm_bindgen(unchecked_param_type = "string")] reason: JsValue,
    ) -> JsResult<()> {
        let name = string_arg(&name, "name")?;
        let reason = string_arg(&reason, "reason")?;
        Ok(self.inner.add_unreadable(&name, &reason)?)
    }

    /// The snapshot id `which` means: `"latest"` (the newest readable
    /// snapshot, by start time to the nanosecond, then id), a whole id, or
    /// a unique id prefix. `NotFoundError` (none), `InvalidArgumentError`
    /// (an ambiguous prefix), `InvalidValueError` (not hex), or the error
    /// that made the chosen snapshot unreadable.
    pub fn resolve(
        &self,
        #[wasm_bindgen(unchecked_param_type = "string")] which: JsValue,
    ) -> JsResult<String> {
        let which = string_arg(&which, "which")?;
        Ok(self.inner.resolve(&which)?.to_hex())
    }

    /// The readable snapshot `id` (a whole id: see `resolve`).
    pub fn snapshot(
        &self,
        #[wasm_bindgen(unchecked_param_type = "string")] id: JsValue,
    ) -> JsResult<Snapshot> {
        let id = id_arg(&id, "id")?;
        Ok(Snapshot {
            inner: self.inner.snapshot(&id)?.clone(),
        })
    }

    /// The union of every readable index delta.
    pub fn index(&mut self) -> Index {
        let inner = self
            .index
            .get_or_insert_with(|| Arc::new(self.inner.index().clone()));
        Index {
            inner: Arc::clone(inner),
        }
    }

    /// Every readable snapshot, oldest first, as listings show them.
    #[wasm_bindgen(unchecked_return_type = "SnapshotSummary[]")]
    pub fn summaries(&self) -> JsResult<JsValue> {
        to_js("snapshot summaries", &self.inner.summaries())
    }

    /// Everything wrong besides bundle contents: unreadable snapshots and
    /// index deltas, snapshots using blobs no index lists, indexed bundles
    /// missing from storage.
    #[wasm_bindgen(unchecked_return_type = "Problem[]")]
    pub fn problems(&self) -> JsResult<JsValue> {
        let out: Vec<Value> = self
            .inner
            .problems()
            .iter()
            .map(|(object, e)| cloudbackup_core::engine::verify::problem_json(object, e))
            .collect();
        json_to_js(&Value::Array(out))
    }

    /// The snapshots that could not be read, with why (listing and
    /// restoring skip them: warn about them).
    #[wasm_bindgen(
        js_name = "unreadableSnapshots",
        unchecked_return_type = "UnreadableObject[]"
    )]
    pub fn unreadable_snapshots(&self) -> JsResult<JsValue> {
        unreadable_js(self.inner.unreadable_snapshots())
    }

    /// The index deltas that could not be read, with why.
    #[wasm_bindgen(
        js_name = "unreadableIndexes",
        unchecked_return_type = "UnreadableObject[]"
    )]
    pub fn unreadable_indexes(&self) -> JsResult<JsValue> {
        unreadable_js(self.inner.unreadable_indexes())
    }

    /// What gc may delete at `nowNs`: unreferenced bundles and temporary
    /// objects at least `graceNs` old. Refuses (`CorruptError`, deleting
    /// nothing) when an index delta or snapshot could not be read or a
    /// snapshot uses blobs no index lists.
    #[wasm_bindgen(js_name = "gcPlan", unchecked_return_type = "GcPlan")]
    pub fn gc_plan(
        &self,
        #[wasm_bindgen(js_name = "nowNs", unchecked_param_type = "Nanoseconds")] now_ns: JsValue,
        #[wasm_bindgen(js_name = "graceNs", unchecked_param_type = "Nanoseconds")]
        grace_ns: JsValue,
    ) -> JsResult<JsValue> {
        let now_ns = ns_arg(&now_ns, "nowNs")?;
        let grace_ns = ns_arg(&grace_ns, "graceNs")?;
        let plan = self.inner.gc_plan(now_ns, grace_ns)?;
        let out = to_js("gc plan", &plan)?;
        // The mtimes as bigints (JSON numbers would round them).
        let delete = js_sys::Reflect::get(&out, &JsValue::from_str("delete"))
            .map(|v| js_sys::Array::from(&v))
            .map_err(|_| argument("gc plan", "has no delete list"))?;
        for (i, listed) in plan.delete.iter().enumerate() {
            let o: js_sys::Object = delete.get(i as u32).into();
            set(&o, "mtime_ns", &JsValue::from(listed.mtime_ns))?;
        }
        Ok(out)
    }
}

fn unreadable_js(list: Vec<(core_engine::Id, &Error)>) -> JsResult<JsValue> {
    let out: Vec<Value> = list
        .into_iter()
        .map(|(id, e)| json!({"id": id.to_hex(), "code": e.code().as_str(), "message": e.to_string()}))
        .collect();
    json_to_js(&Value::Array(out))
}

/// The name object `id` of kind `type` is stored under, e.g.
/// `"bundles/<id>"`, relative to the vault.
#[wasm_bindgen(js_name = "objectName")]
pub fn object_name(
    #[wasm_bindgen(js_name = "type", unchecked_param_type = "ObjectType")] kind: JsValue,
    #[wasm_bindgen(unchecked_param_type = "string")] id: JsValue,
) -> JsResult<String> {
    let kind = object_type(&kind, "type")?;
    let id = id_arg(&id, "id")?;
    Ok(layout::object_name(kind, &id))
}

/// The directory objects of kind `type` are stored in (`"bundles"`...).
#[wasm_bindgen(js_name = "objectDir")]
pub fn object_dir(
    #[wasm_bindgen(js_name = "type", unchecked_param_type = "ObjectType")] kind: JsValue,
) -> JsResult<String> {
    let kind = object_type(&kind, "type")?;
    kind.dir()
        .map(str::to_string)
        .ok_or_else(|| argument("type", "has no directory"))
}

/// What a listed name (relative to the vault, `/`-separated) is.
#[wasm_bindgen(js_name = "parseName", unchecked_return_type = "StoredName")]
pub fn parse_name(
    #[wasm_bindgen(unchecked_param_type = "string")] name: JsValue,
) -> JsResult<JsValue> {
    let name = string_arg(&name, "name")?;
    let value = match layout::parse_name(&name) {
        StoredName::Config => json!({"kind": "config"}),
        StoredName::Object { kind, id } => {
            json!({"kind": "object", "type": kind.name(), "id": id.to_hex()})
        }
        StoredName::Temporary { kind } => json!({"kind": "temporary", "type": kind.name()}),
        StoredName::SetAside { kind, id } => {
            json!({"kind": "set_aside", "type": kind.name(), "id": id.to_hex()})
        }
        StoredName::Unknown => json!({"kind": "unknown"}),
    };
    json_to_js(&value)
}

/// The temporary name a restore writes file `finalName` (one path
/// component) under, beside it, before renaming it into place: short
/// enough for NAME_MAX whatever the final name; `tag` (a whole number from
/// 0 to 2^32-1, e.g. the process id) keeps concurrent restores apart.
#[wasm_bindgen(js_name = "partialName")]
pub fn partial_name(
    #[wasm_bindgen(
        js_name = "finalName",
        unchecked_param_type = "QuotedPath | Bytes"
    )]
    final_name: JsValue,
    #[wasm_bindgen(unchecked_param_type = "number")] tag: JsValue,
) -> JsResult<String> {
    let final_name = path_arg(&final_name, "finalName")?;
    let tag = u32_arg(&tag, "tag")?;
    Ok(paths::partial_name(final_name.as_bytes(), tag))
}

/// The tag of a restore temporary (`partialName`'s form) named `name` (one
/// path component), or `undefined` for any other name. To decide what a
/// killed restore left, a host uses `partialOwner`, which holds the rule.
#[wasm_bindgen(js_name = "partialTag")]
pub fn partial_tag(
    #[wasm_bindgen(unchecked_param_type = "QuotedPath | Bytes")] name: JsValue,
) -> JsResult<Option<u32>> {
    let name = path_arg(&name, "name")?;
    Ok(paths::partial_tag(name.as_bytes()))
}

/// Whose restore temporary `name` (one path component) is, for a restore
/// run by process `ownPid` clearing a folder of what a killed restore left
/// before it writes there (see `RestoreSession.leftoverDirs`): `undefined`
/// for a name that is no temporary (keep it), 0 when no running restore can
/// own it (remove it), or the process id to remove it after, once that
/// process is gone.
#[wasm_bindgen(js_name = "partialOwner")]
pub fn partial_owner(
    #[wasm_bindgen(unchecked_param_type = "QuotedPath | Bytes")] name: JsValue,
    #[wasm_bindgen(js_name = "ownPid", unchecked_param_type = "number")] own_pid: JsValue,
) -> JsResult<Option<u32>> {
    let name = path_arg(&name, "name")?;
    let own_pid = u32_arg(&own_pid, "ownPid")?;
    Ok(paths::partial_owner(name.as_bytes(), own_pid))
}

/// Where a backup whose root is no directory (a file, a FIFO, a device;
/// give `root` with its symlinks resolved, `fs.realpathSync.native`) finds
/// it: `{ dir, name }` as bytes (open `dir`, then `name` in it); the
/// snapshot holds the one entry `/<name>`, as a directory root's children
/// are `/<child>`, and the entry's own device is the root device. `InvalidArgumentError` for a
/// root whose last component names no file (empty, `.`, `..`, a trailing
/// `/`).
#[wasm_bindgen(
    js_name = "splitFileRoot",
    unchecked_return_type = "{ dir: Uint8Array; name: Uint8Array }"
)]
pub fn split_file_root(
    #[wasm_bindgen(unchecked_param_type = "QuotedPath | Bytes")] root: JsValue,
) -> JsResult<JsValue> {
    let root = path_arg(&root, "root")?;
    let (dir, name) = paths::split_file_root(root.as_bytes())?;
    let out = js_sys::Object::new();
    set(&out, "dir", &js_sys::Uint8Array::from(&dir[..]).into())?;
    set(&out, "name", &js_sys::Uint8Array::from(&name[..]).into())?;
    Ok(out.into())
}

/// A snapshot path without its leading `/`, to join to a restore target:
/// `InvalidValueError` for a path that is not absolute or has an empty,
/// `.` or `..` component (it could lead outside the target).
#[wasm_bindgen(js_name = "relativeSnapshotPath")]
pub fn relative_snapshot_path(
    #[wasm_bindgen(unchecked_param_type = "QuotedPath | Bytes")] path: JsValue,
) -> JsResult<String> {
    let path = path_arg(&path, "path")?;
    let relative = paths::relative_path(path.as_bytes())?;
    Ok(RawPath::from(relative).quoted().into_owned())
}

/// The bytes of a path given in its quoted text form (`QuotedPath`):
/// `InvalidValueError` for a malformed quoted form.
#[wasm_bindgen(js_name = "pathBytes")]
pub fn path_bytes(
    #[wasm_bindgen(unchecked_param_type = "QuotedPath")] path: JsValue,
) -> JsResult<js_sys::Uint8Array> {
    let text = string_arg(&path, "path")?;
    Ok(js_sys::Uint8Array::from(
        RawPath::parse_quoted(&text)?.as_bytes(),
    ))
}

/// The quoted text form (`QuotedPath`) of a path's bytes.
#[wasm_bindgen(js_name = "quotePath")]
pub fn quote_path(
    #[wasm_bindgen(unchecked_param_type = "Bytes")] bytes: JsValue,
) -> JsResult<String> {
    let bytes = buffer_arg(&bytes, "bytes")?;
    Ok(RawPath::from_bytes(bytes).quoted().into_owned())
}

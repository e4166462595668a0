//! Backup selection for a host's walker (`BackupFilter`) and exclude
//! files (`readPatternFile`): the core's `select` (restic's pattern
//! language, docs/PATTERNS.md).

use cloudbackup_core::engine::select::{read_pattern_file as core_read, Visit};
use cloudbackup_core::engine::{BackupFilter as CoreFilter, BackupFilterOptions};
use wasm_bindgen::prelude::*;

use crate::{
    bool_arg, buffer_arg, json_arg, path_arg, size_arg, string_arg, text_or_bytes_arg, u32_arg,
    JsResult,
};

#[wasm_bindgen(typescript_custom_section)]
const TS_SELECT: &'static str = r#"
/** A backup's selection (docs/PATTERNS.md); every member optional. */
export interface BackupFilterOptions {
  /** Exclusion patterns, matched against snapshot paths (`/` is the source root). */
  exclude?: string[];
  /** Exclusion patterns that ignore case. */
  iexclude?: string[];
  /** A v2 backup configuration's exclusions. */
  exclusions?: PathFilter[];
  /** `NAME[:HEADER]`: a folder holding file NAME (starting with HEADER) keeps only it. */
  exclude_if_present?: string[];
  /** Folders on another device than the source root are kept empty. */
  one_file_system?: boolean;
}
/** What the walker does with an entry: leave it out (a folder is not entered), back it up, or back a folder up empty. */
export type Visit = "skip" | "keep" | "keep_empty";
/** Environment variables for `readPatternFile` (e.g. `process.env`). */
export type PatternEnv = Record<string, string | undefined>;
/** An `exclude_if_present` rule's file: read `headerLen` leading bytes (0: its existence is enough). */
export interface TagFile { name: string; headerLen: number; }
"#;

/// A backup's selection, asked by the host's walker per entry.
#[wasm_bindgen]
pub struct BackupFilter {
    inner: CoreFilter,
}

#[wasm_bindgen]
impl BackupFilter {
    /// The filter of `options` (none: keep everything). A bad pattern
    /// throws `InvalidArgumentError` naming its list and index.
    #[wasm_bindgen(constructor)]
    pub fn new(
        #[wasm_bindgen(unchecked_param_type = "BackupFilterOptions | null")] options: Option<
            JsValue,
        >,
    ) -> JsResult<BackupFilter> {
        let options: BackupFilterOptions = match options {
            Some(o) => json_arg(&o, "options")?.unwrap_or_default(),
            None => BackupFilterOptions::default(),
        };
        Ok(BackupFilter {
            inner: options.build()?,
        })
    }

    /// What to do with the entry `path` (its folder was entered) on
    /// `device`, the source root being on `rootDevice`.
    #[wasm_bindgen(unchecked_return_type = "Visit")]
    pub fn visit(
        &self,
        #[wasm_bindgen(unchecked_param_type = "QuotedPath | Bytes")] path: JsValue,
        #[wasm_bindgen(js_name = "isDir", unchecked_param_type = "boolean")] is_dir: JsValue,
        #[wasm_bindgen(unchecked_param_type = "number")] device: JsValue,
        #[wasm_bindgen(js_name = "rootDevice", unchecked_param_type = "number")]
        root_device: JsValue,
    ) -> JsResult<String> {
        let path = path_arg(&path, "path")?;
        let is_dir = bool_arg(&is_dir, "isDir")?;
        let device = size_arg(&device, "device")?;
        let root_device = size_arg(&root_device, "rootDevice")?;
        let visit = self
            .inner
            .visit(&path.to_string_lossy(), is_dir, device, root_device);
        Ok(match visit {
            Visit::Skip => "skip",
            Visit::Keep => "keep",
            Visit::KeepEmpty => "keep_empty",
        }
        .to_string())
    }

    /// The `exclude_if_present` files to look for in each folder entered.
    #[wasm_bindgen(js_name = "tagFiles", unchecked_return_type = "TagFile[]")]
    pub fn tag_files(&self) -> JsValue {
        let out = js_sys::Array::new();
        for t in self.inner.tag_files() {
            let o = js_sys::Object::new();
            let _ = js_sys::Reflect::set(&o, &"name".into(), &t.name.as_str().into());
            let _ = js_sys::Reflect::set(&o, &"headerLen".into(), &(t.header_len() as f64).into());
            out.push(&o);
        }
        out.into()
    }

    /// Whether rule `index`'s file starting with `head` tags its folder.
    #[wasm_bindgen(js_name = "tagConfirms")]
    pub fn tag_confirms(
        &self,
        #[wasm_bindgen(unchecked_param_type = "number")] index: JsValue,
        #[wasm_bindgen(unchecked_param_type = "Bytes")] head: JsValue,
    ) -> JsResult<bool> {
        let index = u32_arg(&index, "index")? as usize;
        let head = buffer_arg(&head, "head")?;
        Ok(self
            .inner
            .tag_files()
            .get(index)
            .is_some_and(|t| t.confirms(&head)))
    }

    /// Whether the child `name` of a folder holding the confirmed tag
    /// files `confirmed` (their names) is left out.
    #[wasm_bindgen(js_name = "excludedByTags")]
    pub fn excluded_by_tags(
        &self,
        #[wasm_bindgen(unchecked_param_type = "string[]")] confirmed: JsValue,
        #[wasm_bindgen(unchecked_param_type = "string | Bytes")] name: JsValue,
    ) -> JsResult<bool> {
        let confirmed: Vec<String> = json_arg(&confirmed, "confirmed")?.unwrap_or_default();
        let name = text_or_bytes_arg(&name, "name")?;
        Ok(self
            .inner
            .excluded_by_tags(&confirmed, &String::from_utf8_lossy(&name)))
    }
}

/// The patterns of an exclude file's text, as restic reads them (lines
/// trimmed, blank lines and `#` comments skipped); `$VAR`/`${VAR}` from
/// `env` (e.g. `process.env`; unset: empty), `$$` for `$`.
#[wasm_bindgen(js_name = "readPatternFile", unchecked_return_type = "string[]")]
pub fn read_pattern_file(
    #[wasm_bindgen(unchecked_param_type = "string")] text: JsValue,
    #[wasm_bindgen(unchecked_param_type = "PatternEnv | null")] env: Option<JsValue>,
) -> JsResult<JsValue> {
    let text = string_arg(&text, "text")?;
    let lookup = |name: &str| {
        env.as_ref()
            .and_then(|e| js_sys::Reflect::get(e, &name.into()).ok())
            .and_then(|v| v.as_string())
    };
    let patterns = core_read(&text, lookup);
    crate::to_js("patterns", &patterns)
}

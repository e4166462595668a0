//! An offset-driven model reader, for scripts/size-model-layers.py only (a
//! measurement of what such a layer costs per type in the WebAssembly
//! package; never built into the project): each model type has a static
//! `Shape` (its layout, its fields' JSON names, offsets and kinds, and
//! functions for the few things only the type's own code can do: drop it,
//! wrap it in an `Option`, collect a `Vec`); one reader writes each field in
//! place. A lower bound of a real layer: no enums, renames, flattening,
//! custom readers, writing, or serde's exact messages.
use serde_json::Value;
use std::alloc::{alloc, dealloc, Layout};

// The kinds of fields, and the type errors' wording, shared with the other
// prototype (scripts/size-model-layers.py writes it next to this file).
include!("common.rs");

pub struct Field {
    pub name: &'static str,
    pub offset: usize,
    pub kind: Kind,
}

pub struct Shape {
    pub name: &'static str,
    pub layout: Layout,
    pub fields: &'static [Field],
    /// Drops a whole value in place.
    pub drop: unsafe fn(*mut u8),
    /// Writes `Some(value moved from src)` / `None` at dst (an `Option<T>`).
    pub some: unsafe fn(*mut u8, *mut u8),
    pub none: unsafe fn(*mut u8),
    /// Writes a `Vec<T>` at dst from values at the given places (moved).
    pub vec: unsafe fn(*mut u8, &[*mut u8]),
    /// Drop an `Option<T>` / a `Vec<T>` in place.
    pub drop_opt: unsafe fn(*mut u8),
    pub drop_vec: unsafe fn(*mut u8),
}

pub unsafe fn drop_t<T>(p: *mut u8) {
    std::ptr::drop_in_place(p.cast::<T>())
}
pub unsafe fn some_t<T>(d: *mut u8, s: *mut u8) {
    d.cast::<Option<T>>().write(Some(s.cast::<T>().read()))
}
pub unsafe fn none_t<T>(d: *mut u8) {
    d.cast::<Option<T>>().write(None)
}
pub unsafe fn drop_opt_t<T>(p: *mut u8) {
    std::ptr::drop_in_place(p.cast::<Option<T>>())
}
pub unsafe fn drop_vec_t<T>(p: *mut u8) {
    std::ptr::drop_in_place(p.cast::<Vec<T>>())
}
pub unsafe fn vec_t<T>(d: *mut u8, items: &[*mut u8]) {
    d.cast::<Vec<T>>()
        .write(items.iter().map(|p| p.cast::<T>().read()).collect())
}

/// A `T` from JSON text, or the error with the path to it.
///
/// # Safety
/// `shape` must be `T`'s own (its layout, offsets and functions): the
/// reader writes and reads `T`'s fields through it.
pub unsafe fn from_str<T>(text: &str, shape: &'static Shape) -> Result<Box<T>, String> {
    let value: Value = serde_json::from_str(text).map_err(|e| e.to_string())?;
    let mut path = Vec::new();
    let p = read_struct(shape, &value, &mut path).map_err(|e| {
        if path.is_empty() {
            e
        } else {
            format!("at `{}`: {e}", path.join("."))
        }
    })?;
    // SAFETY: read_struct returns a T allocated with T's layout.
    Ok(unsafe { Box::from_raw(p.cast::<T>()) })
}

fn missing(name: &str) -> String {
    format!("missing field `{name}`")
}

/// A value of `shape` in a fresh allocation, every field written.
fn read_struct(
    shape: &'static Shape,
    v: &Value,
    path: &mut Vec<String>,
) -> Result<*mut u8, String> {
    let Value::Object(map) = v else {
        return Err(invalid(v, &format!("struct {}", shape.name)));
    };
    for key in map.keys() {
        if !shape.fields.iter().any(|f| f.name == key) {
            let names: Vec<String> = shape
                .fields
                .iter()
                .map(|f| format!("`{}`", f.name))
                .collect();
            return Err(format!(
                "unknown field `{key}`, expected one of {}",
                names.join(", ")
            ));
        }
    }
    // SAFETY: the layout is T's (never zero-sized here).
    let base = unsafe { alloc(shape.layout) };
    if base.is_null() {
        std::alloc::handle_alloc_error(shape.layout);
    }
    for (i, field) in shape.fields.iter().enumerate() {
        path.push(field.name.into());
        // SAFETY: the offset is the field's, of the kind's type.
        let done = unsafe {
            write_field(
                &field.kind,
                map.get(field.name),
                base.add(field.offset),
                path,
            )
        };
        if let Err(e) = done {
            for written in &shape.fields[..i] {
                // SAFETY: written above.
                unsafe { drop_field(&written.kind, base.add(written.offset)) };
            }
            // SAFETY: allocated above with this layout.
            unsafe { dealloc(base, shape.layout) };
            if e.is_empty() {
                path.pop();
                return Err(missing(field.name));
            }
            return Err(e);
        }
        path.pop();
    }
    Ok(base)
}

unsafe fn drop_field(kind: &Kind, p: *mut u8) {
    match kind {
        Kind::Str => std::ptr::drop_in_place(p.cast::<String>()),
        Kind::OptStr => std::ptr::drop_in_place(p.cast::<Option<String>>()),
        Kind::VecStr => std::ptr::drop_in_place(p.cast::<Vec<String>>()),
        Kind::U64 | Kind::OptU64 | Kind::Bool => {}
        Kind::Struct(s) => (s.drop)(p),
        Kind::OptStruct(s) => (s.drop_opt)(p),
        Kind::VecStruct(s) => (s.drop_vec)(p),
    }
}

/// Writes the field at `p` from `v` (absent: `None`); `Err("")` for a
/// missing required field.
unsafe fn write_field(
    kind: &Kind,
    v: Option<&Value>,
    p: *mut u8,
    path: &mut Vec<String>,
) -> Result<(), String> {
    let v = match v {
        Some(Value::Null) if matches!(kind, Kind::OptStr | Kind::OptU64 | Kind::OptStruct(_)) => {
            None
        }
        other => other,
    };
    match (kind, v) {
        (Kind::Str, Some(v)) => p.cast::<String>().write(string(v)?),
        (Kind::OptStr, v) => p.cast::<Option<String>>().write(match v {
            Some(v) => Some(string(v)?),
            None => None,
        }),
        (Kind::U64, Some(v)) => p
            .cast::<u64>()
            .write(v.as_u64().ok_or_else(|| invalid(v, "u64"))?),
        (Kind::OptU64, v) => p.cast::<Option<u64>>().write(match v {
            Some(v) => Some(v.as_u64().ok_or_else(|| invalid(v, "u64"))?),
            None => None,
        }),
        (Kind::Bool, Some(v)) => p
            .cast::<bool>()
            .write(v.as_bool().ok_or_else(|| invalid(v, "a boolean"))?),
        (Kind::VecStr, v) => {
            let mut out = Vec::new();
            for (i, item) in items(v)?.iter().enumerate() {
                path.push(i.to_string());
                out.push(string(item)?);
                path.pop();
            }
            p.cast::<Vec<String>>().write(out)
        }
        (Kind::Struct(s), Some(v)) => {
            let q = read_struct(s, v, path)?;
            std::ptr::copy_nonoverlapping(q, p, s.layout.size());
            dealloc(q, s.layout);
        }
        (Kind::OptStruct(s), v) => match v {
            Some(v) => {
                let q = read_struct(s, v, path)?;
                (s.some)(p, q);
                dealloc(q, s.layout);
            }
            None => (s.none)(p),
        },
        (Kind::VecStruct(s), v) => {
            let mut read = Vec::new();
            for (i, item) in items(v)?.iter().enumerate() {
                path.push(i.to_string());
                match read_struct(s, item, path) {
                    Ok(q) => {
                        path.pop();
                        read.push(q);
                    }
                    Err(e) => {
                        for q in read {
                            (s.drop)(q);
                            dealloc(q, s.layout);
                        }
                        return Err(e);
                    }
                }
            }
            (s.vec)(p, &read);
            for q in read {
                dealloc(q, s.layout);
            }
        }
        (_, None) => return Err(String::new()),
    }
    Ok(())
}

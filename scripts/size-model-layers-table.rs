//! A table-driven model reader, for scripts/size-model-layers.py only (a
//! measurement of what such a layer costs per type in the WebAssembly
//! package; never built into the project): each model type has a static
//! `Shape` (its fields' JSON names, whether each is required, and kinds) and
//! a `build` function moving the read fields into the struct; one reader
//! reads every shape from a `serde_json::Value`. A lower bound of a real
//! layer: no enums, renames, flattening, custom readers, writing, or
//! serde's exact messages.
use serde_json::Value;
use std::any::Any;

// The kinds of fields, and the type errors' wording, shared with the other
// prototype (scripts/size-model-layers.py writes it next to this file).
include!("common.rs");

pub struct Field {
    pub name: &'static str,
    pub required: bool,
    pub kind: Kind,
}

pub struct Shape {
    pub name: &'static str,
    pub deny_unknown: bool,
    pub fields: &'static [Field],
    pub build: fn(&mut [Slot]) -> Box<dyn Any>,
}

pub enum Slot {
    Absent,
    Null,
    Str(String),
    U64(u64),
    Bool(bool),
    Strs(Vec<String>),
    Obj(Box<dyn Any>),
    Objs(Vec<Box<dyn Any>>),
}

impl Slot {
    fn take(&mut self) -> Slot {
        std::mem::replace(self, Slot::Absent)
    }
    pub fn take_str(&mut self) -> String {
        match self.take() {
            Slot::Str(s) => s,
            _ => String::new(),
        }
    }
    pub fn take_opt_str(&mut self) -> Option<String> {
        match self.take() {
            Slot::Str(s) => Some(s),
            _ => None,
        }
    }
    pub fn take_u64(&mut self) -> u64 {
        match self.take() {
            Slot::U64(n) => n,
            _ => 0,
        }
    }
    pub fn take_opt_u64(&mut self) -> Option<u64> {
        match self.take() {
            Slot::U64(n) => Some(n),
            _ => None,
        }
    }
    pub fn take_bool(&mut self) -> bool {
        matches!(self.take(), Slot::Bool(true))
    }
    pub fn take_vec_str(&mut self) -> Vec<String> {
        match self.take() {
            Slot::Strs(v) => v,
            _ => Vec::new(),
        }
    }
    fn take_box(&mut self) -> Option<Box<dyn Any>> {
        match self.take() {
            Slot::Obj(b) => Some(b),
            _ => None,
        }
    }
    pub fn take_struct<T: 'static>(&mut self) -> T {
        unbox(self.take_box()).unwrap_or_else(|| unreachable_slot())
    }
    pub fn take_opt_struct<T: 'static>(&mut self) -> Option<T> {
        unbox(self.take_box())
    }
    pub fn take_vec_struct<T: 'static>(&mut self) -> Vec<T> {
        match self.take() {
            Slot::Objs(v) => v.into_iter().filter_map(|b| unbox(Some(b))).collect(),
            _ => Vec::new(),
        }
    }
}

fn unbox<T: 'static>(b: Option<Box<dyn Any>>) -> Option<T> {
    b.and_then(|b| b.downcast::<T>().ok()).map(|b| *b)
}

#[cold]
fn unreachable_slot() -> ! {
    panic!("a required slot was filled by the reader")
}

/// A type's value from JSON text, or the error (close to serde's wording, with the path).
pub fn from_str<T: 'static>(text: &str, shape: &'static Shape) -> Result<T, String> {
    let value: Value = serde_json::from_str(text).map_err(|e| e.to_string())?;
    let mut path = Vec::new();
    let b = read_struct(shape, &value, &mut path).map_err(|e| {
        if path.is_empty() {
            e
        } else {
            format!("at `{}`: {e}", path.join("."))
        }
    })?;
    unbox(Some(b)).ok_or_else(|| "internal".into())
}

fn read_struct(
    shape: &'static Shape,
    v: &Value,
    path: &mut Vec<String>,
) -> Result<Box<dyn Any>, String> {
    let Value::Object(map) = v else {
        return Err(invalid(v, &format!("struct {}", shape.name)));
    };
    let mut slots: Vec<Slot> = shape.fields.iter().map(|_| Slot::Absent).collect();
    for (key, value) in map {
        match shape.fields.iter().position(|f| f.name == key) {
            Some(i) => {
                path.push(key.clone());
                slots[i] = read_kind(&shape.fields[i].kind, value, path)?;
                path.pop();
            }
            None if shape.deny_unknown => {
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
            None => {}
        }
    }
    for (field, slot) in shape.fields.iter().zip(&slots) {
        if field.required && matches!(slot, Slot::Absent) {
            return Err(format!("missing field `{}`", field.name));
        }
    }
    Ok((shape.build)(&mut slots))
}

fn read_kind(kind: &Kind, v: &Value, path: &mut Vec<String>) -> Result<Slot, String> {
    let optional = matches!(kind, Kind::OptStr | Kind::OptU64 | Kind::OptStruct(_));
    if optional && v.is_null() {
        return Ok(Slot::Null);
    }
    Ok(match kind {
        Kind::Str | Kind::OptStr => Slot::Str(string(v)?),
        Kind::U64 | Kind::OptU64 => Slot::U64(v.as_u64().ok_or_else(|| invalid(v, "u64"))?),
        Kind::Bool => Slot::Bool(v.as_bool().ok_or_else(|| invalid(v, "a boolean"))?),
        Kind::VecStr => {
            let items = items(Some(v))?;
            let mut out = Vec::with_capacity(items.len());
            for (i, item) in items.iter().enumerate() {
                path.push(i.to_string());
                out.push(string(item)?);
                path.pop();
            }
            Slot::Strs(out)
        }
        Kind::Struct(shape) | Kind::OptStruct(shape) => Slot::Obj(read_struct(shape, v, path)?),
        Kind::VecStruct(shape) => {
            let items = items(Some(v))?;
            let mut out = Vec::with_capacity(items.len());
            for (i, item) in items.iter().enumerate() {
                path.push(i.to_string());
                out.push(read_struct(shape, item, path)?);
                path.pop();
            }
            Slot::Objs(out)
        }
    })
}

// What scripts/size-model-layers-table.rs and -offsets.rs share (each
// `include!`s it as common.rs, in a module that defines `Shape`): the kinds
// of fields the prototypes read, and the type errors' wording (close to
// serde's).

/// A field's type, as the reader sees it.
pub enum Kind {
    Str,
    OptStr,
    U64,
    OptU64,
    Bool,
    VecStr,
    Struct(&'static Shape),
    OptStruct(&'static Shape),
    VecStruct(&'static Shape),
}

/// How serde names a JSON value in a type error.
fn unexpected(v: &Value) -> String {
    match v {
        Value::Null => "null".into(),
        Value::Bool(b) => format!("boolean `{b}`"),
        Value::Number(n) if n.is_f64() => format!("floating point `{n}`"),
        Value::Number(n) => format!("integer `{n}`"),
        Value::String(s) => format!("string {s:?}"),
        Value::Array(_) => "sequence".into(),
        Value::Object(_) => "map".into(),
    }
}

/// A type error in close to serde's wording.
fn invalid(v: &Value, expected: &str) -> String {
    format!("invalid type: {}, expected {expected}", unexpected(v))
}

// What scripts/size-model-layers-table.rs and -offsets.rs share (each
// `include!`s it as common.rs, in a module that defines `Shape`): the kinds
// of fields the prototypes read, the type errors' wording (close to
// serde's), and the reading of lists and strings.

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

/// The items of a list field (an absent one has none).
fn items(v: Option<&Value>) -> Result<&[Value], String> {
    match v {
        None => Ok(&[]),
        Some(v) => v
            .as_array()
            .map(Vec::as_slice)
            .ok_or_else(|| invalid(v, "a sequence")),
    }
}

/// A string field's value.
fn string(v: &Value) -> Result<String, String> {
    v.as_str()
        .map(str::to_owned)
        .ok_or_else(|| invalid(v, "a string"))
}

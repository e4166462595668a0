//! Wire types shared by the v1 and v2 models: the service's JSON quirks,
//! each accepted on input and written back in the form it arrived in, so a
//! parsed body re-serialises to the same JSON value.
//!
//! | quirk | type |
//! |---|---|
//! | `"\/Date(1357151359000)\/"` (v1 dates) | [`MsDate`] |
//! | `"2014-10-20T13:11:58.985151Z"` (v2 times, any precision, `Z` or offset) | [`Timestamp`] |
//! | `"35.3 MB"` sizes | [`HumanSize`] |
//! | numbers sent as strings (`"id": "5152883998"`) | [`LooseInt`] |
//! | booleans sent as strings (`"true"`) | [`LooseBool`] |
//! | hex with embedded spaces (`"a526 1939..."`) | [`HexString`] |
//! | a bare JSON number meaning hex digits (`"ExponentHex": 10001` = 0x10001) | [`HexNumber`] |
//! | a name of an open set the service may grow (an event name the docs do not list) | [`Open`] |
//!
//! Value sets are Rust enums declared with [`wire_enum!`](crate::wire_enum)
//! (wire names) or [`wire_enum_with_ids!`](crate::wire_enum_with_ids) (names and
//! v1 numeric ids); [`ById`] carries such an enum by its id, as a number or a
//! numeric string (or by name, as some clients send it), and writes it back
//! in the same form. Sets that decide what
//! a client may do (states, actions, frequencies) are closed: an unknown value
//! is an error. Sets that only name things the service may add to (event
//! names, activity types, host flavors, data centers) are [`Open`]: an
//! unknown name is kept as sent and written back unchanged.

use std::fmt;

use serde::de::{self, Deserializer, Visitor};
use serde::{Deserialize, Serialize, Serializer};

// ---------------------------------------------------------------------------
// Enumerations
// ---------------------------------------------------------------------------

/// A closed set of values with fixed wire names.
pub trait WireName: Sized + Copy + 'static {
    /// The Rust type's name, used in error messages.
    const TYPE_NAME: &'static str;
    /// Every value, in declaration order.
    const ALL: &'static [Self];
    /// The exact name this value has on the wire.
    fn wire_name(self) -> &'static str;
    /// Looks a value up by wire name: exact match first, then ASCII
    /// case-insensitive (the service is not consistent about case).
    fn from_wire_name(name: &str) -> Option<Self> {
        Self::ALL
            .iter()
            .copied()
            .find(|v| v.wire_name() == name)
            .or_else(|| {
                Self::ALL
                    .iter()
                    .copied()
                    .find(|v| v.wire_name().eq_ignore_ascii_case(name))
            })
    }
    /// The list of accepted names, for error messages.
    fn expected_names() -> String {
        Self::ALL
            .iter()
            .map(|v| v.wire_name())
            .collect::<Vec<_>>()
            .join(", ")
    }
}

/// A closed set of values that v1 also identifies by number.
pub trait WireId: WireName {
    /// The numeric id v1 uses for this value.
    fn wire_id(self) -> i64;
    /// Looks a value up by its numeric id.
    fn from_wire_id(id: i64) -> Option<Self> {
        Self::ALL.iter().copied().find(|v| v.wire_id() == id)
    }
}

/// Declares an enum whose values travel as fixed strings, with `Serialize`,
/// `Deserialize` (unknown names are an error listing the accepted ones),
/// `Display`, `FromStr` and [`WireName`].
#[macro_export]
macro_rules! wire_enum {
    (
        $(#[$meta:meta])*
        $vis:vis enum $name:ident {
            $( $(#[$vmeta:meta])* $variant:ident = $wire:literal ),+ $(,)?
        }
    ) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        $vis enum $name { $( $(#[$vmeta])* $variant ),+ }

        impl $crate::model::wire::WireName for $name {
            const TYPE_NAME: &'static str = stringify!($name);
            const ALL: &'static [Self] = &[ $( Self::$variant ),+ ];
            fn wire_name(self) -> &'static str {
                match self { $( Self::$variant => $wire ),+ }
            }
        }

        impl $name {
            /// The exact name this value has on the wire.
            pub fn as_str(self) -> &'static str {
                $crate::model::wire::WireName::wire_name(self)
            }
        }

        impl ::std::fmt::Display for $name {
            fn fmt(&self, f: &mut ::std::fmt::Formatter<'_>) -> ::std::fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl ::std::str::FromStr for $name {
            type Err = $crate::Error;
            fn from_str(s: &str) -> ::std::result::Result<Self, Self::Err> {
                $crate::model::wire::parse_wire_name(s)
            }
        }

        impl ::serde::Serialize for $name {
            fn serialize<S: ::serde::Serializer>(&self, s: S) -> ::std::result::Result<S::Ok, S::Error> {
                s.serialize_str(self.as_str())
            }
        }

        impl<'de> ::serde::Deserialize<'de> for $name {
            fn deserialize<D: ::serde::Deserializer<'de>>(d: D) -> ::std::result::Result<Self, D::Error> {
                $crate::model::wire::deserialize_wire_name(d)
            }
        }
    };
}

/// Like [`wire_enum!`](crate::wire_enum), but each value also has the numeric
/// id v1 uses (`Variant = "Name" => 3`), exposed through [`WireId`]. The
/// enum serialises by name; wrap it in [`ById`] where the wire carries the id.
#[macro_export]
macro_rules! wire_enum_with_ids {
    (
        $(#[$meta:meta])*
        $vis:vis enum $name:ident {
            $( $(#[$vmeta:meta])* $variant:ident = $wire:literal => $id:literal ),+ $(,)?
        }
    ) => {
        $crate::wire_enum! {
            $(#[$meta])*
            $vis enum $name { $( $(#[$vmeta])* $variant = $wire ),+ }
        }

        impl $crate::model::wire::WireId for $name {
            fn wire_id(self) -> i64 {
                match self { $( Self::$variant => $id ),+ }
            }
        }

        impl $name {
            /// The numeric id v1 uses for this value.
            pub fn id(self) -> i64 {
                $crate::model::wire::WireId::wire_id(self)
            }
        }
    };
}

/// Parses a wire name into `T`, or an error naming the type and the accepted names.
pub fn parse_wire_name<T: WireName>(s: &str) -> crate::Result<T> {
    T::from_wire_name(s).ok_or_else(|| crate::Error::InvalidValue {
        field: T::TYPE_NAME.to_string(),
        reason: format!(
            "unknown value {s:?}; expected one of: {}",
            T::expected_names()
        ),
    })
}

/// Serde helper behind [`wire_enum!`](crate::wire_enum)'s `Deserialize`.
pub fn deserialize_wire_name<'de, D: Deserializer<'de>, T: WireName>(d: D) -> Result<T, D::Error> {
    let s = <std::borrow::Cow<'de, str>>::deserialize(d)?;
    T::from_wire_name(&s).ok_or_else(|| {
        de::Error::custom(format!(
            "unknown {} {:?}; expected one of: {}",
            T::TYPE_NAME,
            s,
            T::expected_names()
        ))
    })
}

/// An enum carried on the wire by its v1 numeric id (e.g. `"RestoreStateId": 3`).
/// Accepts the id as a number or a numeric string (`"Filter": "1"`), and the
/// value's name as clients also send it (`"FileItemType": "Folder"` in a
/// restore's inclusions), and remembers which, so a parsed body is written
/// back in the form it came in; [`ById::new`] (and `From`) write a number.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ById<T> {
    /// The value.
    pub value: T,
    /// Whether the id travelled as a string.
    pub quoted: bool,
    /// Whether the value travelled by its name instead of its id.
    pub named: bool,
}

impl<T> ById<T> {
    /// A value written as a plain JSON number, as the reference's tables
    /// describe the ids.
    pub fn new(value: T) -> Self {
        ById {
            value,
            quoted: false,
            named: false,
        }
    }
}

impl<T> From<T> for ById<T> {
    fn from(value: T) -> Self {
        ById::new(value)
    }
}

impl<T: WireId> Serialize for ById<T> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        if self.named {
            return s.serialize_str(self.value.wire_name());
        }
        LooseInt {
            value: self.value.wire_id(),
            quoted: self.quoted,
        }
        .serialize(s)
    }
}

impl<'de, T: WireId> Deserialize<'de> for ById<T> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V<T>(std::marker::PhantomData<T>);
        impl<T: WireId> V<T> {
            fn by_id<E: de::Error>(n: i64, quoted: bool) -> Result<ById<T>, E> {
                T::from_wire_id(n)
                    .map(|value| ById {
                        value,
                        quoted,
                        named: false,
                    })
                    .ok_or_else(|| {
                        let ids: Vec<String> =
                            T::ALL.iter().map(|v| v.wire_id().to_string()).collect();
                        E::custom(format!(
                            "unknown {} id {n}; expected one of: {}",
                            T::TYPE_NAME,
                            ids.join(", ")
                        ))
                    })
            }
        }
        impl<T: WireId> Visitor<'_> for V<T> {
            type Value = ById<T>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(
                    f,
                    "a {} id (a number or a numeric string) or name",
                    T::TYPE_NAME
                )
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<ById<T>, E> {
                Self::by_id(v, false)
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<ById<T>, E> {
                let n = i64::try_from(v)
                    .map_err(|_| E::custom(format!("integer {v} is out of range")))?;
                Self::by_id(n, false)
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<ById<T>, E> {
                if let Ok(n) = v.trim().parse::<i64>() {
                    return Self::by_id(n, true);
                }
                T::from_wire_name(v)
                    .map(|value| ById {
                        value,
                        quoted: false,
                        named: true,
                    })
                    .ok_or_else(|| {
                        E::custom(format!(
                            "unknown {} {v:?}; expected an id or one of: {}",
                            T::TYPE_NAME,
                            T::expected_names()
                        ))
                    })
            }
        }
        d.deserialize_any(V(std::marker::PhantomData))
    }
}

/// A value of an open set: one of the names this build knows, or a name it
/// does not know yet (the service added an event name, a data center, a host
/// flavor...), kept exactly as sent and written back unchanged, so one new
/// value never fails a whole page.
///
/// Known names are matched as [`WireName::from_wire_name`] does (exact, then
/// ignoring ASCII case) and written back in their canonical spelling.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Open<T> {
    /// A name this build knows.
    Known(T),
    /// Any other name, as it was sent.
    Unknown(String),
}

impl<T: WireName> Open<T> {
    /// Reads `name`: known when [`WireName::from_wire_name`] finds it.
    pub fn from_name(name: &str) -> Self {
        T::from_wire_name(name)
            .map(Open::Known)
            .unwrap_or_else(|| Open::Unknown(name.to_string()))
    }

    /// The known value, if it is one.
    pub fn known(&self) -> Option<T> {
        match self {
            Open::Known(v) => Some(*v),
            Open::Unknown(_) => None,
        }
    }

    /// The name as it travels.
    pub fn as_str(&self) -> &str {
        match self {
            Open::Known(v) => v.wire_name(),
            Open::Unknown(s) => s,
        }
    }
}

impl<T> From<T> for Open<T> {
    fn from(value: T) -> Self {
        Open::Known(value)
    }
}

impl<T: WireName + PartialEq> PartialEq<T> for Open<T> {
    fn eq(&self, other: &T) -> bool {
        matches!(self, Open::Known(v) if v == other)
    }
}

impl<T: WireName> fmt::Display for Open<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl<T: WireName> Serialize for Open<T> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

impl<'de, T: WireName> Deserialize<'de> for Open<T> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = <std::borrow::Cow<'de, str>>::deserialize(d)?;
        Ok(Open::from_name(&s))
    }
}

// ---------------------------------------------------------------------------
// Numbers and booleans that may arrive as strings
// ---------------------------------------------------------------------------

/// An integer the service sometimes sends as a JSON string (`"5152883998"`).
/// Remembers which form it came in so it is written back the same way.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct LooseInt {
    /// The number.
    pub value: i64,
    /// Whether it travelled as a string.
    pub quoted: bool,
}

impl LooseInt {
    /// A number that will be written as a plain JSON number.
    pub fn new(value: i64) -> Self {
        LooseInt {
            value,
            quoted: false,
        }
    }
}

impl From<i64> for LooseInt {
    fn from(value: i64) -> Self {
        LooseInt::new(value)
    }
}

impl PartialEq<i64> for LooseInt {
    /// Compares the number, whichever form it travelled in.
    fn eq(&self, other: &i64) -> bool {
        self.value == *other
    }
}

impl fmt::Display for LooseInt {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.value)
    }
}

impl Serialize for LooseInt {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        if self.quoted {
            s.collect_str(&self.value)
        } else {
            s.serialize_i64(self.value)
        }
    }
}

impl<'de> Deserialize<'de> for LooseInt {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = LooseInt;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("an integer or a string holding an integer")
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<LooseInt, E> {
                Ok(LooseInt::new(v))
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<LooseInt, E> {
                i64::try_from(v)
                    .map(LooseInt::new)
                    .map_err(|_| E::custom(format!("integer {v} is out of range")))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<LooseInt, E> {
                v.trim()
                    .parse::<i64>()
                    .map(|value| LooseInt {
                        value,
                        quoted: true,
                    })
                    .map_err(|_| E::custom(format!("{v:?} is not an integer")))
            }
        }
        d.deserialize_any(V)
    }
}

/// A boolean the service sometimes sends as a string (`"true"`, `"False"`).
/// Remembers the form (and spelling) it came in.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default)]
pub struct LooseBool {
    /// The boolean.
    pub value: bool,
    /// The exact string it travelled as, if it was a string.
    pub text: Option<String>,
}

impl LooseBool {
    /// A boolean that will be written as a plain JSON boolean.
    pub fn new(value: bool) -> Self {
        LooseBool { value, text: None }
    }
}

impl PartialEq<bool> for LooseBool {
    /// Compares the boolean, whichever form it travelled in.
    fn eq(&self, other: &bool) -> bool {
        self.value == *other
    }
}

impl From<bool> for LooseBool {
    fn from(value: bool) -> Self {
        LooseBool::new(value)
    }
}

impl Serialize for LooseBool {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match &self.text {
            Some(t) => s.serialize_str(t),
            None => s.serialize_bool(self.value),
        }
    }
}

impl<'de> Deserialize<'de> for LooseBool {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = LooseBool;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a boolean or the string \"true\"/\"false\"")
            }
            fn visit_bool<E: de::Error>(self, v: bool) -> Result<LooseBool, E> {
                Ok(LooseBool::new(v))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<LooseBool, E> {
                let value = if v.eq_ignore_ascii_case("true") {
                    true
                } else if v.eq_ignore_ascii_case("false") {
                    false
                } else {
                    return Err(E::custom(format!("{v:?} is not a boolean")));
                };
                Ok(LooseBool {
                    value,
                    text: Some(v.to_string()),
                })
            }
        }
        d.deserialize_any(V)
    }
}

// ---------------------------------------------------------------------------
// Hex
// ---------------------------------------------------------------------------

/// Hex text that may contain embedded whitespace (the samples wrap long
/// moduli with spaces). The original text is kept for a faithful round trip;
/// [`HexString::to_bytes`] decodes it ignoring whitespace.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default)]
pub struct HexString(String);

impl HexString {
    /// Validates `text` (hex digits and whitespace only) and keeps it as is.
    pub fn parse(text: &str) -> crate::Result<Self> {
        validate_hex(text).map_err(|reason| crate::Error::InvalidValue {
            field: "hex string".into(),
            reason,
        })?;
        Ok(HexString(text.to_string()))
    }

    /// Hex-encodes `bytes` (lower case, no spaces).
    pub fn from_bytes(bytes: &[u8]) -> Self {
        HexString(encode_hex(bytes))
    }

    /// The text as it travels.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The hex digits alone, whitespace removed.
    pub fn digits(&self) -> String {
        self.0.chars().filter(|c| !c.is_whitespace()).collect()
    }

    /// Decodes the digits; an odd count gets a leading zero (big-endian numbers).
    pub fn to_bytes(&self) -> Vec<u8> {
        decode_hex_digits(&self.digits())
    }
}

impl Serialize for HexString {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.0)
    }
}

impl<'de> Deserialize<'de> for HexString {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        validate_hex(&s).map_err(de::Error::custom)?;
        Ok(HexString(s))
    }
}

/// Hex digits that may travel as a JSON string or as a bare JSON number whose
/// decimal digits are really hex digits (`"ExponentHex": 10001` means 0x10001).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct HexNumber {
    /// The hex digits (whitespace removed).
    digits: String,
    /// Whether it travelled as a string (otherwise a bare number).
    quoted: bool,
}

impl HexNumber {
    /// A value written as a JSON string of lower-case hex digits.
    pub fn from_bytes(bytes: &[u8]) -> Self {
        HexNumber {
            digits: encode_hex(bytes),
            quoted: true,
        }
    }

    /// Parses hex digits (whitespace ignored).
    pub fn parse(text: &str) -> crate::Result<Self> {
        validate_hex(text).map_err(|reason| crate::Error::InvalidValue {
            field: "hex number".into(),
            reason,
        })?;
        Ok(HexNumber {
            digits: text.chars().filter(|c| !c.is_whitespace()).collect(),
            quoted: true,
        })
    }

    /// The hex digits.
    pub fn digits(&self) -> &str {
        &self.digits
    }

    /// The big-endian bytes of the number.
    pub fn to_bytes(&self) -> Vec<u8> {
        decode_hex_digits(&self.digits)
    }
}

impl Serialize for HexNumber {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        if self.quoted {
            return s.serialize_str(&self.digits);
        }
        // Only decimal-looking digits were ever accepted unquoted.
        match self.digits.parse::<u64>() {
            Ok(n) => s.serialize_u64(n),
            Err(_) => s.serialize_str(&self.digits),
        }
    }
}

impl<'de> Deserialize<'de> for HexNumber {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = HexNumber;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("hex digits as a string or a bare number")
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<HexNumber, E> {
                Ok(HexNumber {
                    digits: v.to_string(),
                    quoted: false,
                })
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<HexNumber, E> {
                u64::try_from(v)
                    .map_err(|_| E::custom(format!("{v} is not a hex number")))
                    .and_then(|v| self.visit_u64(v))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<HexNumber, E> {
                validate_hex(v).map_err(E::custom)?;
                Ok(HexNumber {
                    digits: v.chars().filter(|c| !c.is_whitespace()).collect(),
                    quoted: true,
                })
            }
        }
        d.deserialize_any(V)
    }
}

fn validate_hex(text: &str) -> Result<(), String> {
    if let Some(bad) = text
        .chars()
        .find(|c| !c.is_ascii_hexdigit() && !c.is_whitespace())
    {
        return Err(format!("{bad:?} is not a hex digit"));
    }
    if !text.chars().any(|c| c.is_ascii_hexdigit()) {
        return Err("no hex digits".into());
    }
    Ok(())
}

/// Lower-case hex encoding of `bytes`.
pub fn encode_hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        s.push(DIGITS[usize::from(b >> 4)] as char);
        s.push(DIGITS[usize::from(b & 0xf)] as char);
    }
    s
}

/// Decodes already-validated hex digits; an odd count gets a leading zero.
fn decode_hex_digits(digits: &str) -> Vec<u8> {
    let nibble = |c: u8| (c as char).to_digit(16).unwrap_or(0) as u8;
    let bytes = digits.as_bytes();
    let mut out = Vec::with_capacity(bytes.len().div_ceil(2));
    let mut rest = bytes;
    if bytes.len() % 2 == 1 {
        out.push(nibble(bytes[0]));
        rest = &bytes[1..];
    }
    for pair in rest.chunks_exact(2) {
        out.push((nibble(pair[0]) << 4) | nibble(pair[1]));
    }
    out
}

// ---------------------------------------------------------------------------
// Sizes
// ---------------------------------------------------------------------------

wire_enum! {
    /// Unit of a [`HumanSize`]. Read ignoring case; `byte` and `bytes` also
    /// mean [`SizeUnit::Bytes`] (the service writes `"318 bytes"`).
    pub enum SizeUnit {
        /// Bytes.
        Bytes = "B",
        /// 1024 bytes.
        Kilobytes = "KB",
        /// 1024² bytes.
        Megabytes = "MB",
        /// 1024³ bytes.
        Gigabytes = "GB",
        /// 1024⁴ bytes.
        Terabytes = "TB",
        /// 1024⁵ bytes.
        Petabytes = "PB",
        /// 1024⁶ bytes.
        Exabytes = "EB",
    }
}

impl SizeUnit {
    /// Bytes in one of this unit (binary multiples, as the Windows agents print them).
    pub fn multiplier(self) -> u64 {
        match self {
            SizeUnit::Bytes => 1,
            SizeUnit::Kilobytes => 1 << 10,
            SizeUnit::Megabytes => 1 << 20,
            SizeUnit::Gigabytes => 1 << 30,
            SizeUnit::Terabytes => 1 << 40,
            SizeUnit::Petabytes => 1 << 50,
            SizeUnit::Exabytes => 1 << 60,
        }
    }

    /// Reads a unit as sizes spell it: a unit name in any case, or the
    /// words `byte` / `bytes`.
    pub fn parse(text: &str) -> crate::Result<Self> {
        if text.eq_ignore_ascii_case("byte") || text.eq_ignore_ascii_case("bytes") {
            return Ok(SizeUnit::Bytes);
        }
        parse_wire_name::<SizeUnit>(text).map_err(|_| crate::Error::InvalidValue {
            field: "size unit".into(),
            reason: format!(
                "unknown unit {text:?}; expected one of: {}, bytes",
                SizeUnit::expected_names()
            ),
        })
    }
}

/// A size as v1 prints it, `"35.3 MB"`, `"318 bytes"`. The decimal text and
/// the unit's spelling are kept exactly.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct HumanSize {
    amount: String,
    unit: SizeUnit,
    /// The unit as written (`"MB"`, `"bytes"`, `"Mb"`).
    unit_text: String,
}

impl HumanSize {
    /// Parses `"<decimal> <unit>"`.
    pub fn parse(text: &str) -> crate::Result<Self> {
        let bad = |reason: String| crate::Error::InvalidValue {
            field: "size".into(),
            reason: format!("{text:?}: {reason}"),
        };
        let mut parts = text.split_whitespace();
        let (Some(amount), Some(unit), None) = (parts.next(), parts.next(), parts.next()) else {
            return Err(bad("expected \"<number> <unit>\", e.g. \"18 MB\"".into()));
        };
        let valid_number = amount
            .parse::<f64>()
            .is_ok_and(|v| v.is_finite() && v >= 0.0)
            && amount.chars().all(|c| c.is_ascii_digit() || c == '.');
        if !valid_number {
            return Err(bad(format!("{amount:?} is not a non-negative decimal")));
        }
        let unit_text = unit.to_string();
        let unit = SizeUnit::parse(unit).map_err(|e| bad(e.to_string()))?;
        Ok(HumanSize {
            amount: amount.to_string(),
            unit,
            unit_text,
        })
    }

    /// A size of `amount` `unit`s, written with the unit's canonical name.
    pub fn new(amount: u64, unit: SizeUnit) -> Self {
        HumanSize {
            amount: amount.to_string(),
            unit,
            unit_text: unit.as_str().to_string(),
        }
    }

    /// The decimal amount as written.
    pub fn amount(&self) -> &str {
        &self.amount
    }

    /// The unit.
    pub fn unit(&self) -> SizeUnit {
        self.unit
    }

    /// The size in bytes, rounded to the nearest byte (saturating at `u64::MAX`).
    pub fn bytes(&self) -> u64 {
        let amount: f64 = self.amount.parse().unwrap_or(0.0);
        // `as` saturates for floats out of range.
        (amount * self.unit.multiplier() as f64).round() as u64
    }
}

impl fmt::Display for HumanSize {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.amount, self.unit_text)
    }
}

impl Serialize for HumanSize {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for HumanSize {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = <std::borrow::Cow<'de, str>>::deserialize(d)?;
        HumanSize::parse(&s).map_err(de::Error::custom)
    }
}

// ---------------------------------------------------------------------------
// Times
// ---------------------------------------------------------------------------

/// A v1 date, `"\/Date(1357151359000)\/"` (milliseconds since the Unix
/// epoch, optionally followed by a `+hhmm`/`-hhmm` offset as .NET writes it).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct MsDate {
    /// Milliseconds since 1970-01-01T00:00:00Z.
    pub millis: i64,
    /// The offset suffix in minutes, if one was written.
    pub offset_minutes: Option<i16>,
}

impl MsDate {
    /// A date with no offset suffix.
    pub fn from_millis(millis: i64) -> Self {
        MsDate {
            millis,
            offset_minutes: None,
        }
    }

    /// Parses `/Date(ms)/` or `/Date(ms+hhmm)/` (the JSON `\/` escape is
    /// already gone by the time serde hands us the string).
    pub fn parse(text: &str) -> crate::Result<Self> {
        let bad = || crate::Error::InvalidValue {
            field: "date".into(),
            reason: format!("{text:?} is not of the form \"/Date(<milliseconds>)/\""),
        };
        let inner = text
            .strip_prefix("/Date(")
            .and_then(|t| t.strip_suffix(")/"))
            .ok_or_else(bad)?;
        // An offset sign after the first character (the first may be a minus).
        let split = inner
            .char_indices()
            .skip(1)
            .find(|&(_, c)| c == '+' || c == '-')
            .map(|(i, _)| i);
        let (ms, offset) = match split {
            Some(i) => (&inner[..i], Some(&inner[i..])),
            None => (inner, None),
        };
        let millis = ms.parse::<i64>().map_err(|_| bad())?;
        let offset_minutes = match offset {
            None => None,
            Some(o) => {
                let sign: i16 = if o.starts_with('-') { -1 } else { 1 };
                let digits = &o[1..];
                if digits.len() != 4 || !digits.bytes().all(|b| b.is_ascii_digit()) {
                    return Err(bad());
                }
                let h: i16 = digits[..2].parse().map_err(|_| bad())?;
                let m: i16 = digits[2..].parse().map_err(|_| bad())?;
                Some(sign * (h * 60 + m))
            }
        };
        Ok(MsDate {
            millis,
            offset_minutes,
        })
    }
}

impl fmt::Display for MsDate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "/Date({}", self.millis)?;
        if let Some(off) = self.offset_minutes {
            let sign = if off < 0 { '-' } else { '+' };
            let off = off.unsigned_abs();
            write!(f, "{sign}{:02}{:02}", off / 60, off % 60)?;
        }
        f.write_str(")/")
    }
}

impl Serialize for MsDate {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for MsDate {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = <std::borrow::Cow<'de, str>>::deserialize(d)?;
        MsDate::parse(&s).map_err(de::Error::custom)
    }
}

/// An ISO-8601 / RFC 3339 instant as v2 writes it
/// (`2014-10-20T13:11:58.985151Z`, `...+00:00`, with 0-9 fraction digits).
/// The instant is held in UTC; the precision and offset it was written with
/// are kept so it serialises back unchanged.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Timestamp {
    unix_seconds: i64,
    nanos: u32,
    frac_digits: u8,
    /// `None` means written with `Z`.
    offset_minutes: Option<i16>,
}

impl Timestamp {
    /// The instant `micros` microseconds after the epoch, written with six
    /// fraction digits and `Z`, as the service writes its own times.
    pub fn from_unix_micros(micros: i64) -> Self {
        Timestamp {
            unix_seconds: micros.div_euclid(1_000_000),
            nanos: (micros.rem_euclid(1_000_000) * 1000) as u32,
            frac_digits: 6,
            offset_minutes: None,
        }
    }

    /// Microseconds since the epoch (sub-microsecond digits truncated).
    pub fn unix_micros(&self) -> i64 {
        self.unix_seconds * 1_000_000 + i64::from(self.nanos / 1000)
    }

    /// Parses `YYYY-MM-DDTHH:MM:SS[.fraction](Z|±HH:MM)`.
    pub fn parse(text: &str) -> crate::Result<Self> {
        parse_rfc3339(text).ok_or_else(|| crate::Error::InvalidValue {
            field: "timestamp".into(),
            reason: format!(
                "{text:?} is not an ISO-8601 time like \"2014-10-20T13:11:58.985151Z\""
            ),
        })
    }
}

impl PartialOrd for Timestamp {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Timestamp {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        (self.unix_seconds, self.nanos).cmp(&(other.unix_seconds, other.nanos))
    }
}

fn parse_rfc3339(text: &str) -> Option<Timestamp> {
    let b = text.as_bytes();
    let num = |r: std::ops::Range<usize>| -> Option<i64> {
        let s = text.get(r)?;
        if s.bytes().all(|c| c.is_ascii_digit()) {
            s.parse().ok()
        } else {
            None
        }
    };
    if b.len() < 20 || b[4] != b'-' || b[7] != b'-' || !matches!(b[10], b'T' | b't' | b' ') {
        return None;
    }
    if b[13] != b':' || b[16] != b':' {
        return None;
    }
    let (year, month, day) = (num(0..4)?, num(5..7)?, num(8..10)?);
    let (hour, minute, second) = (num(11..13)?, num(14..16)?, num(17..19)?);
    if !(1..=12).contains(&month)
        || day < 1
        || day > days_in_month(year, month)
        || hour > 23
        || minute > 59
        || second > 60
    {
        return None;
    }
    let mut i = 19;
    let mut nanos: u32 = 0;
    let mut frac_digits: u8 = 0;
    if b.get(i) == Some(&b'.') {
        i += 1;
        let start = i;
        while i < b.len() && b[i].is_ascii_digit() {
            i += 1;
        }
        let digits = &text[start..i];
        if digits.is_empty() || digits.len() > 9 {
            return None;
        }
        frac_digits = digits.len() as u8;
        let padded = format!("{digits:0<9}");
        nanos = padded.parse().ok()?;
    }
    let offset_minutes = match b.get(i) {
        Some(b'Z') | Some(b'z') if i + 1 == b.len() => None,
        Some(&sign @ (b'+' | b'-')) if i + 6 == b.len() && b[i + 3] == b':' => {
            let h = num(i + 1..i + 3)?;
            let m = num(i + 4..i + 6)?;
            if h > 23 || m > 59 {
                return None;
            }
            let off = (h * 60 + m) as i16;
            Some(if sign == b'-' { -off } else { off })
        }
        _ => return None,
    };
    let local = days_from_civil(year, month, day) * 86_400 + hour * 3600 + minute * 60 + second;
    let unix_seconds = local - i64::from(offset_minutes.unwrap_or(0)) * 60;
    Some(Timestamp {
        unix_seconds,
        nanos,
        frac_digits,
        offset_minutes,
    })
}

fn is_leap(y: i64) -> bool {
    (y % 4 == 0 && y % 100 != 0) || y % 400 == 0
}

fn days_in_month(y: i64, m: i64) -> i64 {
    match m {
        2 if is_leap(y) => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's
/// algorithm). A day outside its month counts on linearly (day 0 is the
/// month's previous day), as retention's calendar arithmetic relies on.
pub(crate) fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// The proleptic Gregorian `(year, month, day)` of a day counted from
/// 1970-01-01 (the inverse of [`days_from_civil`]).
pub(crate) fn civil_from_days(z: i64) -> (i64, i64, i64) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    (if m <= 2 { y + 1 } else { y }, m, d)
}

impl fmt::Display for Timestamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let local = self.unix_seconds + i64::from(self.offset_minutes.unwrap_or(0)) * 60;
        let (y, mo, d) = civil_from_days(local.div_euclid(86_400));
        let secs = local.rem_euclid(86_400);
        write!(
            f,
            "{y:04}-{mo:02}-{d:02}T{:02}:{:02}:{:02}",
            secs / 3600,
            secs / 60 % 60,
            secs % 60
        )?;
        if self.frac_digits > 0 {
            let frac = format!("{:09}", self.nanos);
            write!(f, ".{}", &frac[..usize::from(self.frac_digits)])?;
        }
        match self.offset_minutes {
            None => f.write_str("Z"),
            Some(off) => {
                let sign = if off < 0 { '-' } else { '+' };
                let off = off.unsigned_abs();
                write!(f, "{sign}{:02}:{:02}", off / 60, off % 60)
            }
        }
    }
}

impl Serialize for Timestamp {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Timestamp {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = <std::borrow::Cow<'de, str>>::deserialize(d)?;
        Timestamp::parse(&s).map_err(de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn round_trip<T: Serialize + for<'de> Deserialize<'de>>(v: serde_json::Value) {
        let t: T = serde_json::from_value(v.clone()).expect("parses");
        assert_eq!(serde_json::to_value(&t).expect("serialises"), v);
    }

    #[test]
    fn timestamps_round_trip_in_every_precision_and_offset() {
        for s in [
            "2014-10-20T13:11:58.985151Z",
            "2014-10-20T13:11:58Z",
            "2014-10-20T13:11:58.985Z",
            "2015-03-23T19:58:33.135553+00:00",
            "2000-02-29T23:59:59.1-05:30",
        ] {
            round_trip::<Timestamp>(json!(s));
        }
        let a = Timestamp::parse("2014-10-20T13:11:58.985151Z").unwrap();
        let b = Timestamp::parse("2014-10-20T15:11:58.985151+02:00").unwrap();
        assert_eq!(a.cmp(&b), std::cmp::Ordering::Equal);
        assert_eq!(a.unix_micros(), 1_413_810_718_985_151);
        assert_eq!(Timestamp::from_unix_micros(a.unix_micros()), a);
    }

    #[test]
    fn bad_timestamps_are_rejected_with_the_text() {
        for s in [
            "2014-13-01T00:00:00Z",
            "2014-02-30T00:00:00Z",
            "yesterday",
            "2014-10-20T13:11:58",
        ] {
            let e = Timestamp::parse(s).unwrap_err().to_string();
            assert!(e.contains(s), "{e}");
        }
    }

    #[test]
    fn ms_dates_parse_with_and_without_offset() {
        let d: MsDate = serde_json::from_str(r#""\/Date(1357151359000)\/""#).unwrap();
        assert_eq!(d.millis, 1_357_151_359_000);
        assert_eq!(
            serde_json::to_value(d).unwrap(),
            json!("/Date(1357151359000)/")
        );
        round_trip::<MsDate>(json!("/Date(-62135596800000)/"));
        round_trip::<MsDate>(json!("/Date(1357151359000-0500)/"));
        assert_eq!(
            MsDate::parse("/Date(5+0130)/").unwrap().offset_minutes,
            Some(90)
        );
        assert!(MsDate::parse("Date(5)").is_err());
        assert!(MsDate::parse("/Date(abc)/").is_err());
    }

    #[test]
    fn human_sizes_keep_their_text_and_convert_to_bytes() {
        round_trip::<HumanSize>(json!("35.3 MB"));
        let s = HumanSize::parse("18 MB").unwrap();
        assert_eq!(s.bytes(), 18 * 1024 * 1024);
        assert_eq!(
            HumanSize::parse("3.7 GB").unwrap().unit(),
            SizeUnit::Gigabytes
        );
        assert!(HumanSize::parse("18MB").is_err());
        assert!(HumanSize::parse("-1 MB").is_err());
        assert!(HumanSize::parse("1 XB")
            .unwrap_err()
            .to_string()
            .contains("XB"));
        // Unit words and spellings are kept as sent.
        round_trip::<HumanSize>(json!("318 bytes"));
        round_trip::<HumanSize>(json!("3.0 Mb"));
        assert_eq!(HumanSize::parse("318 bytes").unwrap().bytes(), 318);
        assert_eq!(HumanSize::parse("1 byte").unwrap().unit(), SizeUnit::Bytes);
        assert_eq!(HumanSize::parse("2 pb").unwrap().bytes(), 2 << 50);
        assert_eq!(HumanSize::new(5, SizeUnit::Kilobytes).to_string(), "5 KB");
    }

    #[test]
    fn open_sets_keep_unknown_names() {
        let known: Open<Colour> = serde_json::from_value(json!("blue")).unwrap();
        assert_eq!(known, Open::Known(Colour::Blue));
        assert!(known == Colour::Blue);
        assert_eq!(serde_json::to_value(&known).unwrap(), json!("Blue"));
        let unknown: Open<Colour> = serde_json::from_value(json!("Green")).unwrap();
        assert_eq!(unknown, Open::Unknown("Green".into()));
        assert_eq!(unknown.known(), None);
        round_trip::<Open<Colour>>(json!("Green"));
        round_trip::<Open<Colour>>(json!("Red"));
        assert!(serde_json::from_value::<Open<Colour>>(json!(7)).is_err());
    }

    #[test]
    fn loose_numbers_and_booleans_keep_their_form() {
        round_trip::<LooseInt>(json!("5152883998"));
        round_trip::<LooseInt>(json!(42));
        round_trip::<LooseBool>(json!("True"));
        round_trip::<LooseBool>(json!(false));
        assert!(serde_json::from_value::<LooseInt>(json!("12a")).is_err());
        assert!(serde_json::from_value::<LooseBool>(json!("yes")).is_err());
    }

    #[test]
    fn hex_accepts_spaces_and_bare_numbers() {
        let h: HexString = serde_json::from_value(json!("a5 26\n19")).unwrap();
        assert_eq!(h.to_bytes(), vec![0xa5, 0x26, 0x19]);
        round_trip::<HexString>(json!("a5 26 19"));
        let e: HexNumber = serde_json::from_value(json!(10001)).unwrap();
        assert_eq!(e.to_bytes(), vec![0x01, 0x00, 0x01]);
        round_trip::<HexNumber>(json!(10001));
        round_trip::<HexNumber>(json!("010001"));
        assert!(serde_json::from_value::<HexString>(json!("xyz")).is_err());
        assert!(serde_json::from_value::<HexNumber>(json!(-3)).is_err());
    }

    wire_enum_with_ids! {
        /// Test enum.
        enum Colour { Red = "Red" => 1, Blue = "Blue" => 7 }
    }

    #[test]
    fn wire_enums_by_name_and_id() {
        round_trip::<Colour>(json!("Red"));
        round_trip::<ById<Colour>>(json!(7));
        assert_eq!(
            serde_json::from_value::<Colour>(json!("blue")).unwrap(),
            Colour::Blue
        );
        assert_eq!(
            serde_json::from_value::<ById<Colour>>(json!("1"))
                .unwrap()
                .value,
            Colour::Red
        );
        let e = serde_json::from_value::<Colour>(json!("Green"))
            .unwrap_err()
            .to_string();
        assert!(e.contains("Green") && e.contains("Red, Blue"), "{e}");
        assert!(serde_json::from_value::<ById<Colour>>(json!(3)).is_err());
        assert_eq!("Blue".parse::<Colour>().unwrap().id(), 7);
    }

    #[test]
    fn ids_by_number_or_string_keep_their_form() {
        round_trip::<ById<Colour>>(json!("1"));
        round_trip::<ById<Colour>>(json!(1));
        let quoted: ById<Colour> = serde_json::from_value(json!("1")).unwrap();
        assert_eq!(
            quoted,
            ById {
                value: Colour::Red,
                quoted: true,
                named: false
            }
        );
        let bare: ById<Colour> = serde_json::from_value(json!(1)).unwrap();
        assert_eq!(bare, ById::new(Colour::Red));
        assert_eq!(ById::from(Colour::Blue), ById::new(Colour::Blue));
        assert_eq!(
            serde_json::to_value(ById::new(Colour::Blue)).unwrap(),
            json!(7)
        );
        let e = serde_json::from_value::<ById<Colour>>(json!("3")).unwrap_err();
        assert!(e.to_string().contains("Colour id 3"), "{e}");
        // By name, as clients also send it: kept as a name.
        let named: ById<Colour> = serde_json::from_value(json!("Blue")).unwrap();
        assert_eq!((named.value, named.named), (Colour::Blue, true));
        round_trip::<ById<Colour>>(json!("Blue"));
        let e = serde_json::from_value::<ById<Colour>>(json!("Green")).unwrap_err();
        assert!(
            e.to_string().contains("Green") && e.to_string().contains("Red, Blue"),
            "{e}"
        );
    }
}
